"""Span scores for event roles: seqeval (entity level, strict IOB2) and exact / overlap matching.

Why words: labels are built from character spans on the backbone-independent words of
``eventroles.data.words``, and every span (gold or predicted) is snapped to whole words first,
so a tagger's subword artefacts never change a score.

Why one BIO sequence per (document, role): spans of different roles may overlap (an attacker
inside a location phrase), and one sequence cannot hold both. Each role gets its own sequence
of ``B-role``/``I-role``/``O`` tags and all of them go to seqeval together, so the per-role,
micro and macro numbers come out as if every role had been tagged separately. Within one role,
overlapping spans (rare: two native labels mapped to the same role) cannot both be written;
the longer one is kept and the drop is counted (``bio_overlaps_dropped``). Exact and overlap
matching work on the span sets directly and need no such repair.

Conventions: only roles that the gold document annotates (``doc.roles``) are scored; a
precision, recall or F1 whose denominator is zero is 0.0; macro averages run over the roles
that have at least one gold or predicted span (as seqeval's macro average does). Overlap
matching: a predicted span may pair with a gold span of the same role when they share at least
one word after snapping (for spans on word boundaries, as the tagger's are, the same as sharing a
character; two spans that split one word, "Reb" and "els", both snap to "Rebels" and match); pairs are one-to-one, chosen by a
maximum bipartite matching (augmenting paths), so the number of matched pairs is the largest
possible, independent of span order. Exact matching compares snapped offsets; duplicates (the
same offsets and role, whatever the native label) count once.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from typing import Any, Iterable, Mapping, Sequence

from eventroles.data.document import Document, Span
from eventroles.data.roles import ROLES
from eventroles.data.words import Words

WordSpan = tuple[int, int]  # word indices [first, last)


class ScoringError(ValueError):
    """Gold and predictions cannot be compared (e.g. a predicted text differs from the gold)."""


# --------------------------------------------------------------------------- small helpers


def prf(correct: float, predicted: float, gold: float) -> dict[str, Any]:
    """Precision, recall and F1 from counts (0.0 where a denominator is zero)."""
    precision = correct / predicted if predicted else 0.0
    recall = correct / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "support": gold,
        "predicted": predicted,
        "correct": correct,
    }


def score_block(counts: Mapping[str, tuple[float, float, float]]) -> dict[str, dict[str, Any]]:
    """Rows ``role -> prf`` from ``role -> (correct, predicted, gold)``, plus micro and macro."""
    block = {role: prf(*c) for role, c in counts.items()}
    totals = [sum(c[i] for c in counts.values()) for i in range(3)]
    block["micro"] = prf(*totals)
    block["macro"] = macro_average(block[r] for r in counts)
    return block


def macro_average(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Unweighted mean of P/R/F1 over rows with any gold or predicted span; counts summed."""
    rows = list(rows)
    active = [r for r in rows if r["support"] or r["predicted"]]
    out: dict[str, Any] = {
        key: float(sum(r[key] for r in active) / len(active)) if active else 0.0
        for key in ("precision", "recall", "f1")
    }
    for key in ("support", "predicted", "correct"):
        out[key] = sum(r[key] for r in rows)
    return out


def max_matching(edges: Sequence[Sequence[int]], n_right: int) -> list[tuple[int, int]]:
    """Maximum bipartite matching; ``edges[i]`` lists the right nodes left node ``i`` may take.

    Kuhn's augmenting-path algorithm: O(V·E), plenty for the few spans of one document and role.
    Returns the matched ``(left, right)`` pairs.
    """
    owner: list[int | None] = [None] * n_right

    def augment(left: int, seen: set[int]) -> bool:
        for right in edges[left]:
            if right in seen:
                continue
            seen.add(right)
            if owner[right] is None or augment(owner[right], seen):  # type: ignore[arg-type]
                owner[right] = left
                return True
        return False

    for left in range(len(edges)):
        augment(left, set())
    return [(left, right) for right, left in enumerate(owner) if left is not None]


def pair_documents(
    gold: Sequence[Document], pred: Sequence[Document], stats: Counter[str]
) -> list[tuple[Document, Document | None]]:
    """Match predicted documents to gold ones by id, counting missing and unknown ones."""
    by_id: dict[str, Document] = {}
    for doc in pred:
        if doc.id in by_id:
            raise ScoringError(f"document {doc.id!r} appears twice in the predictions")
        by_id[doc.id] = doc
    gold_ids = {doc.id for doc in gold}
    stats["unknown_predictions"] += sum(1 for doc_id in by_id if doc_id not in gold_ids)
    pairs: list[tuple[Document, Document | None]] = []
    for doc in gold:
        guess = by_id.get(doc.id)
        if guess is None:
            stats["missing_predictions"] += 1
        elif guess.text != doc.text:
            raise ScoringError(text_mismatch(doc, guess))
        pairs.append((doc, guess))
    return pairs


def text_mismatch(gold: Document, pred: Document) -> str:
    """Why a predicted document cannot be scored against its gold one: where their texts part."""
    first = next(
        (i for i, (a, b) in enumerate(zip(gold.text, pred.text)) if a != b),
        min(len(gold.text), len(pred.text)),
    )
    return (
        f"the predicted text of document {gold.id!r} differs from the gold text "
        f"(predicted {len(pred.text)} characters, gold {len(gold.text)}; first difference at character {first}: "
        f"predicted {pred.text[first:first + 20]!r}, gold {gold.text[first:first + 20]!r}); "
        "predictions must keep the original text so that character offsets mean the same thing"
    )


def scored_roles(gold: Sequence[Document], roles: Sequence[str] | None) -> list[str]:
    """The roles the gold corpus annotates (in schema order), limited to ``roles`` if given."""
    if roles is not None:
        unknown = [r for r in roles if r not in ROLES]
        if unknown:
            raise ScoringError(f"unknown role(s) {', '.join(unknown)}; the roles are: {', '.join(ROLES)}")
    annotated = set().union(*(doc.roles for doc in gold)) if gold else set()
    wanted = set(roles) if roles is not None else set(ROLES)
    return [r for r in ROLES if r in annotated and r in wanted]


def word_spans(
    words: Words, spans: Iterable[Span], role: str, stats: Counter[str] | None = None, side: str = ""
) -> set[WordSpan]:
    """The spans of ``role`` as word-index ranges, snapped to whole words and de-duplicated."""
    out: set[WordSpan] = set()
    for span in spans:
        if span.role != role:
            continue
        covered = words.covering(span.start, span.end)
        if covered is None:
            if stats is not None:
                stats[f"{side}spans_without_words_dropped"] += 1
            continue
        if stats is not None:
            if (words.starts[covered[0]], words.ends[covered[1] - 1]) != (span.start, span.end):
                stats[f"{side}spans_snapped_to_words"] += 1
            if covered in out:
                stats[f"{side}duplicate_spans"] += 1
        out.add(covered)
    return out


def non_overlapping(spans: Iterable[WordSpan]) -> tuple[list[WordSpan], int]:
    """Keep the longest spans first (then the earliest) so that none overlap; count drops."""
    kept: list[WordSpan] = []
    dropped = 0
    for span in sorted(spans, key=lambda s: (s[0] - s[1], s[0])):
        if any(k[0] < span[1] and span[0] < k[1] for k in kept):
            dropped += 1
        else:
            kept.append(span)
    return sorted(kept), dropped


def bio_tags(n_words: int, spans: Iterable[WordSpan], role: str) -> list[str]:
    tags = ["O"] * n_words
    for first, last in spans:
        tags[first] = f"B-{role}"
        for i in range(first + 1, last):
            tags[i] = f"I-{role}"
    return tags


def _drop_shared_outside(true: list[str], pred: list[str]) -> tuple[list[str], list[str]]:
    """Drop the words tagged O in both sequences: seqeval's counts stay the same, it runs faster.

    Every word of an entity is non-O in its own sequence, so no entity loses a word; both
    sequences lose the same positions, so equal entities stay equal and unequal ones unequal;
    and with well-formed IOB2 tags no I- tag can end up right after a different entity.
    """
    keep = [i for i, (t, p) in enumerate(zip(true, pred)) if t != "O" or p != "O"]
    return [true[i] for i in keep], [pred[i] for i in keep]


def overlap_matches(gold: Iterable[WordSpan], pred: Iterable[WordSpan]) -> int:
    """How many predicted spans can be paired one-to-one with a gold span they share a word with."""
    gold_list, pred_list = sorted(gold), sorted(pred)
    edges = [
        [j for j, g in enumerate(gold_list) if p[0] < g[1] and g[0] < p[1]] for p in pred_list
    ]
    return len(max_matching(edges, len(gold_list)))


# --------------------------------------------------------------------------- corpus score


def _seqeval_block(
    y_true: list[list[str]], y_pred: list[list[str]], counts: Mapping[str, tuple[int, int, int]]
) -> dict[str, dict[str, Any]]:
    """seqeval's entity-level strict IOB2 report, reshaped to our rows (with counts added)."""
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    report: dict[str, Any] = {}
    if any(c[1] or c[2] for c in counts.values()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = classification_report(
                y_true, y_pred, mode="strict", scheme=IOB2, output_dict=True, zero_division=0
            )
    block: dict[str, dict[str, Any]] = {}
    for role, (correct, predicted, gold) in counts.items():
        row = report.get(role)
        block[role] = _seqeval_row(row, correct, predicted, gold)
    totals = [sum(c[i] for c in counts.values()) for i in range(3)]
    block["micro"] = _seqeval_row(report.get("micro avg"), *totals)
    macro = macro_average(block[r] for r in counts)
    if report.get("macro avg"):
        macro.update({k: float(report["macro avg"][m]) for k, m in _SEQEVAL_KEYS})
    block["macro"] = macro
    return block


_SEQEVAL_KEYS = (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score"))


def _seqeval_row(row: Mapping[str, Any] | None, correct: int, predicted: int, gold: int) -> dict[str, Any]:
    out = prf(correct, predicted, gold)
    if row is not None:
        out.update({k: float(row[m]) for k, m in _SEQEVAL_KEYS})
        out["support"] = int(row["support"])
    return out


def score_corpus(
    gold: Sequence[Document], pred: Sequence[Document], roles: Sequence[str] | None = None
) -> dict[str, Any]:
    """Score predicted documents against gold ones; a flat, JSON-ready dict.

    Keys: ``seqeval``, ``exact``, ``overlap`` (each ``role -> {precision, recall, f1, support,
    predicted, correct}`` plus ``micro`` and ``macro``), ``roles``, ``documents``, and counts of
    what was adjusted: ``missing_predictions``, ``unknown_predictions``,
    ``ignored_unannotated_role``, ``predicted_spans_snapped_to_words``, ... (always present,
    0 when nothing happened).
    """
    stats: Counter[str] = Counter()
    role_list = scored_roles(gold, roles)
    exact: dict[str, list[int]] = {r: [0, 0, 0] for r in role_list}
    overlap: dict[str, list[int]] = {r: [0, 0, 0] for r in role_list}
    bio: dict[str, list[int]] = {r: [0, 0, 0] for r in role_list}
    y_true: list[list[str]] = []
    y_pred: list[list[str]] = []

    for gold_doc, pred_doc in pair_documents(gold, pred, stats):
        words = gold_doc.words
        doc_roles = [r for r in role_list if r in gold_doc.roles]
        pred_spans = list(pred_doc.spans) if pred_doc is not None else []
        stats["ignored_unannotated_role"] += sum(1 for s in pred_spans if s.role not in gold_doc.roles)
        for role in doc_roles:
            g = word_spans(words, gold_doc.spans, role)
            p = word_spans(words, pred_spans, role, stats, side="predicted_")
            _add(exact[role], len(g & p), len(p), len(g))
            _add(overlap[role], overlap_matches(g, p), len(p), len(g))
            g_bio, g_dropped = non_overlapping(g)
            p_bio, p_dropped = non_overlapping(p)
            stats["gold_bio_overlaps_dropped"] += g_dropped
            stats["predicted_bio_overlaps_dropped"] += p_dropped
            _add(bio[role], len(set(g_bio) & set(p_bio)), len(p_bio), len(g_bio))
            if g_bio or p_bio:
                true_tags, pred_tags = _drop_shared_outside(
                    bio_tags(len(words), g_bio, role), bio_tags(len(words), p_bio, role)
                )
                y_true.append(true_tags)
                y_pred.append(pred_tags)

    result: dict[str, Any] = {
        "documents": len(gold),
        "roles": role_list,
        "seqeval": _seqeval_block(y_true, y_pred, {r: tuple(c) for r, c in bio.items()}),
        "exact": score_block({r: tuple(c) for r, c in exact.items()}),
        "overlap": score_block({r: tuple(c) for r, c in overlap.items()}),
    }
    for key in COUNT_KEYS:
        result[key] = stats[key]
    return result


COUNT_KEYS = (
    "missing_predictions",
    "unknown_predictions",
    "ignored_unannotated_role",
    "predicted_spans_snapped_to_words",
    "predicted_spans_without_words_dropped",
    "predicted_duplicate_spans",
    "gold_bio_overlaps_dropped",
    "predicted_bio_overlaps_dropped",
)


def _add(acc: list[int], correct: int, predicted: int, gold: int) -> None:
    acc[0] += correct
    acc[1] += predicted
    acc[2] += gold


# --------------------------------------------------------------------------- error listing

_SENTENCE_END = re.compile(r"[.!?\n]")
MAX_CONTEXT = 300


def context_sentence(text: str, start: int, end: int) -> str:
    """The sentence around ``text[start:end]``: cut at . ! ? and newlines outside the span.

    The span itself is always included whole; very long sentences are cut to ``MAX_CONTEXT``
    characters on each side (marked with ``…``).
    """
    left = max((m.end() for m in _SENTENCE_END.finditer(text, 0, start)), default=0)
    right_match = _SENTENCE_END.search(text, end)
    right = right_match.end() if right_match else len(text)
    if right_match and right_match.group() == "\n":
        right -= 1
    prefix = "…" if start - left > MAX_CONTEXT else ""
    suffix = "…" if right - end > MAX_CONTEXT else ""
    left = max(left, start - MAX_CONTEXT)
    right = min(right, end + MAX_CONTEXT)
    return prefix + " ".join(text[left:right].split()) + suffix


def error_examples(
    gold: Sequence[Document], pred: Sequence[Document], roles: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """False positives and false negatives under exact matching (after snapping to words).

    One dict per error: ``id``, ``kind`` (``false_positive`` / ``false_negative``), ``role``,
    ``label`` (native label when known), ``start``, ``end``, ``text``, ``sentence`` (context)
    and ``overlaps``: the texts of same-role spans on the other side that share a word with it
    (a near miss rather than a pure error). Ordered by document, role, offset.
    """
    out: list[dict[str, Any]] = []
    role_list = scored_roles(gold, roles)
    for gold_doc, pred_doc in pair_documents(gold, pred, Counter()):
        pred_spans = list(pred_doc.spans) if pred_doc is not None else []
        for role in (r for r in role_list if r in gold_doc.roles):
            g = _char_spans(gold_doc, gold_doc.spans, role)
            p = _char_spans(gold_doc, pred_spans, role)
            errors = [("false_negative", key, label, p) for key, label in g.items() if key not in p]
            errors += [("false_positive", key, label, g) for key, label in p.items() if key not in g]
            for kind, (start, end), label, other in sorted(errors, key=lambda e: (e[1], e[0])):
                out.append(
                    {
                        "id": gold_doc.id,
                        "kind": kind,
                        "role": role,
                        "label": label,
                        "start": start,
                        "end": end,
                        "text": gold_doc.text[start:end],
                        "sentence": context_sentence(gold_doc.text, start, end),
                        "overlaps": [gold_doc.text[s:e] for s, e in sorted(other) if s < end and start < e],
                    }
                )
    return out


def _char_spans(doc: Document, spans: Iterable[Span], role: str) -> dict[tuple[int, int], str | None]:
    """Snapped character spans of ``role`` -> the first native label seen for each."""
    words = doc.words
    out: dict[tuple[int, int], str | None] = {}
    for span in sorted(spans, key=lambda s: (s.start, s.end, s.label or "")):
        if span.role != role:
            continue
        covered = words.covering(span.start, span.end)
        if covered is None:
            continue
        key = (words.starts[covered[0]], words.ends[covered[1] - 1])
        if out.get(key) is None:
            out[key] = span.label
    return out
