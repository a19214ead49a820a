"""Tables, markdown, JSON, error files and mean ± std over runs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from eventroles.data.document import Document, Span
from eventroles.train.reporting import (
    Table,
    corpus_report,
    corpus_tables,
    format_value,
    mean_std,
    render_markdown,
    render_text,
    score_table,
    to_json,
    to_markdown,
    to_text,
    write_errors,
)

TEXT = "Rebels attacked the town of Kafr on Sunday."
ROLES = frozenset({"attacker", "target", "location", "time"})


def at(phrase: str, role: str, label: str | None = None) -> Span:
    start = TEXT.index(phrase)
    return Span(start, start + len(phrase), role, label)


GOLD = [
    Document(
        "d1", TEXT,
        [at("Rebels", "attacker", "PerpOrg"), at("the town of Kafr", "target", "Target"),
         at("Kafr", "location"), at("Sunday", "time")],
        ROLES, "muc4",
        {"entities": {"PerpOrg": [["rebels"]], "Target": [["the town of Kafr", "town"]]}},
    )
]
PERFECT = [Document("d1", TEXT, list(GOLD[0].spans))]
HALF = [Document("d1", TEXT, [at("Rebels", "attacker", "PerpOrg"), at("Sunday", "time")])]


def block(p: float, r: float, f: float, support: int = 2) -> dict:
    return {"precision": p, "recall": r, "f1": f, "support": support, "predicted": 2, "correct": 1}


def test_mean_std_uses_sample_std_and_keeps_non_numbers() -> None:
    runs = [
        {"f1": 0.5, "support": 10, "name": "x", "roles": ["attacker"], "flag": True},
        {"f1": 0.7, "support": 10, "name": "x", "roles": ["attacker"], "flag": True},
        {"f1": 0.6, "support": 10, "name": "y", "roles": ["attacker"], "flag": True},
    ]
    agg = mean_std(runs)
    assert agg["f1"]["mean"] == pytest.approx(0.6)
    assert agg["f1"]["std"] == pytest.approx(0.1)  # sample std: sqrt((0.01 + 0.01 + 0) / 2)
    assert agg["support"] == {"mean": 10.0, "std": 0.0}
    assert agg["roles"] == ["attacker"] and agg["flag"] is True
    assert agg["name"] == ["x", "x", "y"]
    assert mean_std([{"f1": 0.4}]) == {"f1": {"mean": 0.4, "std": 0.0}}


def test_mean_std_rejects_runs_with_different_keys() -> None:
    with pytest.raises(ValueError, match="the runs do not score the same things"):
        mean_std([{"a": {"f1": 1.0}}, {"a": {"recall": 1.0}}])
    with pytest.raises(ValueError):
        mean_std([])


def test_format_value() -> None:
    assert format_value(0.545) == "54.50"
    assert format_value({"mean": 0.5, "std": 0.0123}) == "50.00 ± 1.23"
    assert format_value(None) == "–"
    assert format_value(12, percent=False) == "12"
    assert format_value({"mean": 12.0, "std": 0.0}, percent=False) == "12"


def test_score_table_has_roles_then_micro_and_macro_and_a_group_per_system() -> None:
    blocks = {
        "sys1": {"attacker": block(0.5, 0.5, 0.5), "micro": block(0.5, 0.5, 0.5), "macro": block(0.5, 0.5, 0.5)},
        "sys2": {"attacker": block(1.0, 0.5, 2 / 3), "micro": block(1.0, 0.5, 2 / 3), "macro": block(1, 0.5, 2 / 3)},
    }
    table = score_table("t", blocks)
    assert [row[0] for row in table.rows] == ["attacker", "micro", "macro"]
    assert table.rows[0] == ["attacker", "50.00", "50.00", "50.00", "100.00", "50.00", "66.67", "2"]
    text = render_text([table])
    lines = text.splitlines()
    assert lines[0] == "t" and "sys1" in lines[1] and "sys2" in lines[1]
    assert len({len(line) for line in lines[2:] if "|" in line}) == 1  # aligned columns
    markdown = render_markdown([table])
    assert "| role | sys1 P | sys1 R | sys1 F1 | sys2 P | sys2 R | sys2 F1 | support |" in markdown
    assert "| **micro** | 50.00 |" in markdown


def test_corpus_report_and_renderings() -> None:
    report = {"corpora": {"muc4:test": corpus_report("muc4:test", GOLD, {"perfect": PERFECT, "half": HALF}, published="muc4")}}
    corpus = report["corpora"]["muc4:test"]
    assert corpus["systems"]["perfect"]["seqeval"]["micro"]["f1"] == 1.0
    assert corpus["systems"]["half"]["seqeval"]["micro"]["recall"] == 0.5
    assert corpus["systems"]["perfect"]["ceaf"]["scores"]["micro"]["recall"] == 1.0
    assert corpus["published"]["scores"]["micro"]["f1"] == 0.545
    titles = [t.title for t in corpus_tables(corpus)]
    assert titles == [
        "muc4:test: seqeval (entity level, strict IOB2)",
        "muc4:test: exact span match",
        "muc4:test: overlap span match (one-to-one)",
        "muc4:test: CEAF-REE strict (document-level role fillers)",
    ]
    text = to_text(report)
    assert "GRIT, published" in text and "54.50" in text
    assert "### muc4:test: seqeval" in to_markdown(report)
    assert json.loads(to_json(report)) == report


def test_published_result_hidden_when_not_comparable() -> None:
    unlabelled = [Document("d1", TEXT, [Span(s.start, s.end, s.role) for s in PERFECT[0].spans])]
    corpus = corpus_report("muc4:test", GOLD, {"roles-only": unlabelled}, published="muc4")
    ceaf_table = corpus_tables(corpus)[-1]
    assert ceaf_table.groups == ["roles-only"]
    assert any("not comparable" in note for note in ceaf_table.notes)


def test_seeds_collapse_into_one_mean_std_group() -> None:
    corpus = corpus_report("x", GOLD, {"s1": PERFECT, "s2": HALF}, seeds=True)
    assert corpus["runs"] == 2
    f1 = corpus["mean_std"]["seqeval"]["micro"]["f1"]
    assert f1["mean"] == pytest.approx((1.0 + 2 / 3) / 2)
    assert f1["std"] == pytest.approx(abs(1.0 - 2 / 3) / math.sqrt(2))
    tables = corpus_tables(corpus)
    assert tables[0].groups == ["mean ± std (2 runs)"]
    assert "±" in render_text(tables)


def test_nothing_scored_for_a_corpus_renders_a_line() -> None:
    corpus = corpus_report("x", GOLD, {})
    assert render_text(corpus_tables(corpus)).startswith("x: nothing scored")
    assert isinstance(corpus_tables(corpus)[0], Table)


def test_write_errors_json_lines(tmp_path: Path) -> None:
    rows = [{"id": "d1", "kind": "false_positive", "text": "Rebels"}, {"id": "d1", "kind": "false_negative", "text": "é"}]
    path = tmp_path / "out" / "errors.jsonl"
    assert write_errors(path, rows) == 2
    assert [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] == rows


def test_a_system_is_scored_on_the_roles_it_outputs_and_the_rest_is_said() -> None:
    # A model with attacker/target heads only (MUC-4's) on a corpus that also annotates
    # location and time: no zeros for roles it cannot output, and the note names them.
    pred = [Document("d1", TEXT, [at("Rebels", "attacker")], frozenset({"attacker", "target"}))]
    report = corpus_report("c", GOLD, {"narrow": pred})
    result = report["systems"]["narrow"]
    assert result["roles"] == ["attacker", "target"]
    assert result["roles_not_output"] == ["location", "time"]
    assert result["seqeval"]["micro"]["support"] == 2
    assert "not scored, the system does not output them: location, time" in to_text({"corpora": {"c": report}})
    empty = corpus_report("c", GOLD, {"nothing": []})["systems"]["nothing"]
    assert empty["roles"] == ["attacker", "target", "location", "time"] and empty["overlap"]["micro"]["recall"] == 0.0
