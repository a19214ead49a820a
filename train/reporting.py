"""Evaluation results as data, tables (terminal and markdown), JSON and error files.

Why separate from the scorers: ``metrics`` and ``ceaf`` return plain dicts; this module puts
several systems side by side (one column group per system), aggregates seeds into
mean ± standard deviation, and renders. Nothing here prints; the CLI does.

Shapes: a *score block* is ``row -> {precision, recall, f1, support, predicted, correct}`` with
rows for each role (or native label) plus ``micro`` and ``macro``. A *corpus report* (from
``corpus_report``) holds ``systems: name -> score_corpus result (+ "ceaf")`` and, with seeds,
``mean_std``. A full report is ``{"corpora": {spec: corpus report}}``.

Standard deviations are *sample* standard deviations (n - 1 in the denominator, as for a few
random seeds drawn from all possible ones); a single run has std 0.0.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from eventroles.data.document import Document
from eventroles.data.readers.jsonl import json_line
from eventroles.data.roles import ROLES

from .ceaf import CEAF_COUNT_KEYS, PUBLISHED, ceaf_ree
from .metrics import ScoringError, score_corpus

BLOCKS = (
    ("seqeval", "seqeval (entity level, strict IOB2)"),
    ("exact", "exact span match"),
    ("overlap", "overlap span match (one-to-one)"),
)
SUMMARY_ROWS = ("micro", "macro")
NOTE_KEYS = (
    "missing_predictions",
    "unknown_predictions",
    "ignored_unannotated_role",
    "predicted_spans_snapped_to_words",
    "predicted_duplicate_spans",
    "predicted_spans_without_words_dropped",
    "gold_bio_overlaps_dropped",
    "predicted_bio_overlaps_dropped",
)


# --------------------------------------------------------------------------- building results


def corpus_report(
    name: str,
    gold: Sequence[Document],
    systems: Mapping[str, Sequence[Document]],
    *,
    ceaf: bool = True,
    seeds: bool = False,
    published: str | None = None,
) -> dict[str, Any]:
    """Score every system on one gold corpus; with ``seeds`` also their mean ± std.

    ``published`` names an entry of ``ceaf.PUBLISHED`` (e.g. ``"muc4"``) to show beside the
    CEAF-REE scores when they are comparable.
    """
    results: dict[str, Any] = {}
    annotated = set().union(*(doc.roles for doc in gold)) if gold else set()
    for system, docs in systems.items():
        # A system is scored on the roles it outputs (its documents' ``roles``): a MUC-4 model
        # without location/time heads is not given zeros for MUC-4's silver location/time layer.
        # The roles left out are listed, never dropped silently.
        scored_roles = output_roles(docs)
        result = score_corpus(gold, docs, scored_roles)
        result["roles_not_output"] = [r for r in ROLES if r in annotated and scored_roles is not None and r not in scored_roles]
        if ceaf:
            scored = ceaf_ree(gold, docs, roles=scored_roles)
            if scored is not None:
                result["ceaf"] = scored
        results[system] = result
    report: dict[str, Any] = {"corpus": name, "documents": len(gold), "systems": results}
    if seeds and results:
        report["mean_std"] = mean_std(list(results.values()))
        report["runs"] = len(results)
    if published in PUBLISHED and any("ceaf" in r for r in results.values()):
        report["published"] = PUBLISHED[published]
    return report


def output_roles(docs: Sequence[Document]) -> list[str] | None:
    """The roles a system outputs (its documents' ``roles``, schema order); None for no documents."""
    if not docs:
        return None
    outputs = set().union(*(doc.roles for doc in docs))
    return [r for r in ROLES if r in outputs]


def mean_std(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Aggregate runs with the same keys: each number becomes ``{"mean": m, "std": s}``.

    Sample standard deviation (n - 1); 0.0 for a single run. Non-numeric values (names, lists,
    flags) are kept when all runs agree, else listed per run. Differing keys are an error.
    """
    if not results:
        raise ValueError("mean_std needs at least one result")
    return _aggregate(results, "")


def _aggregate(values: list[Any], path: str) -> Any:
    first = values[0]
    if isinstance(first, Mapping):
        keys = list(first)
        for other in values[1:]:
            if not isinstance(other, Mapping) or set(other) != set(keys):
                differ = sorted(set(keys) ^ set(other)) if isinstance(other, Mapping) else []
                raise ScoringError(f"--seeds: the runs do not score the same things at {path or 'the top level'} "
                                   f"({', '.join(map(str, differ))} in some runs only): give runs of one system, with "
                                   "the same roles (and labels)")
        return {k: _aggregate([v[k] for v in values], f"{path}.{k}".lstrip(".")) for k in keys}
    if all(_is_number(v) for v in values):
        mean = sum(values) / len(values)
        var = sum((v - mean) ** 2 for v in values) / (len(values) - 1) if len(values) > 1 else 0.0
        return {"mean": float(mean), "std": math.sqrt(var)}
    return first if all(v == first for v in values) else list(values)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --------------------------------------------------------------------------- tables


@dataclass
class Table:
    """A comparison table: one row per role; one column group (P, R, F1) per system."""

    title: str
    groups: list[str]
    rows: list[list[str]] = field(default_factory=list)  # [row name, cells..., support]
    notes: list[str] = field(default_factory=list)


def format_value(value: Any, percent: bool = True) -> str:
    """0.5450 -> ``54.50``; ``{"mean", "std"}`` -> ``54.50 ± 1.20``; missing -> ``–``."""
    if value is None:
        return "–"
    scale = 100.0 if percent else 1.0
    if isinstance(value, Mapping) and "mean" in value:
        if not percent:
            return _count(value["mean"])
        return f"{value['mean'] * scale:.2f} ± {value['std'] * scale:.2f}"
    if not percent:
        return _count(value)
    return f"{float(value) * scale:.2f}"


def _count(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def score_table(title: str, blocks: Mapping[str, Mapping[str, Any]]) -> Table:
    """Rows = the first block's roles, then micro and macro; a (P, R, F1) group per system.

    The support column (gold count) is taken from the first system that has the row.
    """
    names = list(blocks)
    row_names: list[str] = []
    for block in blocks.values():
        row_names += [r for r in block if r not in SUMMARY_ROWS and r not in row_names]
    row_names += list(SUMMARY_ROWS)
    table = Table(title, names)
    for row in row_names:
        cells = [row]
        support = None
        for block in blocks.values():
            scores = block.get(row) or {}
            cells += [format_value(scores.get(m)) for m in ("precision", "recall", "f1")]
            if support is None and "support" in scores:
                support = scores["support"]
        cells.append(format_value(support, percent=False))
        table.rows.append(cells)
    return table


def corpus_tables(report: Mapping[str, Any]) -> list[Table]:
    """The tables of one corpus report: seqeval, exact, overlap and (when present) CEAF-REE."""
    name = report["corpus"]
    if not report["systems"]:
        return [Table(f"{name}: nothing scored (no model or prediction file covers this corpus)", [])]
    if "mean_std" in report:
        shown = {f"mean ± std ({report['runs']} runs)": report["mean_std"]}
    else:
        shown = dict(report["systems"])
    tables = []
    for key, title in BLOCKS:
        table = score_table(f"{name}: {title}", {s: r[key] for s, r in shown.items()})
        if key == "seqeval":
            table.notes = _notes(report["systems"]) + _read_notes(report)
        tables.append(table)
    ceaf = {s: r["ceaf"] for s, r in shown.items() if "ceaf" in r}
    if ceaf:
        blocks = {s: c["scores"] for s, c in ceaf.items()}
        published = report.get("published")
        comparable = all(_plain(c["comparable_with_published"]) for c in ceaf.values())
        if published and comparable:
            blocks[published["column"]] = published["scores"]
        table = score_table(f"{name}: CEAF-REE strict (document-level role fillers)", blocks)
        table.notes += _ceaf_notes({s: r for s, r in report["systems"].items() if "ceaf" in r})
        if published and comparable:
            table.notes.append(
                f"{published['column']}: {published['system']} on the {published['split']} split, "
                "CEAF-REE strict over the five native MUC-4 roles"
            )
        if published and not comparable:
            reasons = []
            for system, result in ceaf.items():
                if _plain(result["comparable_with_published"]):
                    continue
                space = result["key_space"] if isinstance(result["key_space"], str) else result["key_space"][0]
                reasons.append(f"{system}: " + (
                    "no native labels among its predictions, so it is scored on project roles" if space == "role" else
                    "not every native role is scored, or some predictions were not (labels outside the native set, or none)"))
            table.notes.append(f"not comparable with {published['system']} (" + "; ".join(reasons) + ")")
        tables.append(table)
    return tables


def _plain(value: Any) -> Any:
    return value if not isinstance(value, list) else all(value)


def _read_notes(report: Mapping[str, Any]) -> list[str]:
    """What the readers repaired or dropped in the gold corpus and in each prediction file."""
    notes = []
    sources = [(f"gold {report['corpus']}", report.get("gold_read_report"))]
    sources += list((report.get("prediction_read_reports") or {}).items())
    for who, read in sources:
        counts = (read or {}).get("adjusted_or_dropped") or {}
        if counts:
            listed = "; ".join(f"{kind.replace('_', ' ')}: {n}" for kind, n in counts.items())
            notes.append(f"{who}, as read: {listed} (examples in --json)")
    return notes


def _counts(result: Mapping[str, Any], keys: Sequence[str]) -> list[str]:
    """``"kind words: n"`` for each of ``keys`` with a non-zero count in ``result``."""
    return [f"{k.replace('_', ' ')}: {result[k]}" for k in keys if result.get(k)]


def _ceaf_notes(systems: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """CEAF-REE's non-zero counts (strings dropped or merged, documents missing), per system."""
    notes = []
    for system, result in systems.items():
        counts = _counts(result["ceaf"], CEAF_COUNT_KEYS)
        if counts:
            notes.append(f"{system}: " + "; ".join(counts))
    return notes


def _notes(systems: Mapping[str, Mapping[str, Any]]) -> list[str]:
    notes = []
    for system, result in systems.items():
        counts = _counts(result, NOTE_KEYS)
        if result.get("roles_not_output"):
            counts.append("not scored, the system does not output them: " + ", ".join(result["roles_not_output"]))
        if counts:
            notes.append(f"{system}: " + "; ".join(counts))
    return notes


def render_text(tables: Iterable[Table]) -> str:
    """Fixed-width tables for the terminal."""
    return "\n\n".join(_text_table(t) for t in tables) + "\n"


def _text_table(table: Table) -> str:
    if not table.groups:
        return "\n".join([table.title, *(f"  note: {n}" for n in table.notes)])
    metric_heads = ["P", "R", "F1"] * len(table.groups)
    header = ["", *metric_heads, "support"]
    widths = [max(len(r[i]) for r in [header, *table.rows]) for i in range(len(header))]
    widths = _widen_for_groups(widths, table.groups)
    group_width = [_group_width(widths, g) for g in range(len(table.groups))]

    def line(cells: list[str]) -> str:
        parts = [cells[0].ljust(widths[0])]
        for g in range(len(table.groups)):
            trio = cells[1 + 3 * g : 4 + 3 * g]
            parts.append("  ".join(c.rjust(w) for c, w in zip(trio, widths[1 + 3 * g : 4 + 3 * g])))
        parts.append(cells[-1].rjust(widths[-1]))
        return " | ".join(parts)

    groups = " | ".join([" " * widths[0], *(g.center(w) for g, w in zip(table.groups, group_width))])
    out = [table.title, groups.rstrip(), line(header)]
    out.append("-" * len(out[-1]))
    for row in table.rows:
        if row[0] == SUMMARY_ROWS[0]:
            out.append("-" * len(out[2]))
        out.append(line(row))
    out += [f"  note: {n}" for n in table.notes]
    return "\n".join(out)


def _group_width(widths: list[int], group: int) -> int:
    """Characters taken by a group's three columns joined by two spaces."""
    return sum(widths[1 + 3 * group : 4 + 3 * group]) + 4


def _widen_for_groups(widths: list[int], groups: list[str]) -> list[int]:
    """Widen the F1 column of a group whose name is longer than its three columns."""
    widths = list(widths)
    for g, name in enumerate(groups):
        missing = len(name) - _group_width(widths, g)
        if missing > 0:
            widths[3 + 3 * g] += missing
    return widths


def render_markdown(tables: Iterable[Table]) -> str:
    """GitHub-flavoured markdown tables, one ``###`` section each."""
    sections = []
    for table in tables:
        if not table.groups:
            sections.append("\n".join([f"### {table.title}", *(f"*{n}*  " for n in table.notes)]))
            continue
        single = len(table.groups) == 1
        heads = ["role"]
        for group in table.groups:
            heads += ["P", "R", "F1"] if single else [f"{group} {m}" for m in ("P", "R", "F1")]
        heads.append("support")
        title = f"### {table.title}" + (f" ({table.groups[0]})" if single else "")
        lines = [title, "", _md_row(heads), _md_row(["---"] + ["---:"] * (len(heads) - 1))]
        for row in table.rows:
            cells = list(row)
            if cells[0] in SUMMARY_ROWS:
                cells[0] = f"**{cells[0]}**"
            lines.append(_md_row(cells))
        if table.notes:
            lines += ["", *(f"*{n}*  " for n in table.notes)]
        sections.append("\n".join(lines))
    return "\n\n".join(sections) + "\n"


def _md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def to_text(report: Mapping[str, Any]) -> str:
    return render_text(t for c in report["corpora"].values() for t in corpus_tables(c))


def to_markdown(report: Mapping[str, Any]) -> str:
    return render_markdown(t for c in report["corpora"].values() for t in corpus_tables(c))


def to_json(report: Mapping[str, Any]) -> str:
    """Every number, as JSON (the report dict is already JSON-ready)."""
    return json.dumps(report, indent=2, ensure_ascii=False)


def write_errors(path: Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write error examples as JSON lines ('-': standard output, as --json takes it); returns how many."""
    if str(path) == "-":
        lines = [json_line(row) for row in rows]
        sys.stdout.write("".join(lines))
        return len(lines)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json_line(row))
            count += 1
    return count
