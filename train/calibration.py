"""Dev-split scores for model selection, and the span threshold calibrated on them.

Why calibrate: a model's B/I scores shift with its training (a span-weighted loss makes it
over-predict by the weight; a sparse corpus makes it shy), and the document-level CEAF-REE
score rewards precision more than seqeval does. The span offset (subtracted from B and I scores
before decoding) is chosen on the dev splits after training, by the same metric that chose the
checkpoint, from one forward pass per dev split decoded at every offset of a grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from eventroles.data.document import Document
from eventroles.models.inference import Tagger

from .ceaf import ceaf_ree, has_gold_entities
from .metrics import score_corpus

METRICS = ("seqeval", "ceaf")
# Offsets tried: from "more spans" (-1) to "far fewer" (+4), in steps of a quarter.
OFFSET_GRID = tuple(float(x) for x in np.round(np.arange(-1.0, 4.0001, 0.25), 2))


class CalibrationError(ValueError):
    """A selection metric that the dev data cannot give (CEAF without gold entities)."""


def check_metric(metric: str, dev_sets: Sequence[tuple[str, Sequence[Document]]]) -> None:
    """Fail before training, not after it, when a dev split cannot give ``metric``."""
    if metric != "ceaf":
        return
    lacking = [label for label, docs in dev_sets if docs and not any(has_gold_entities(d) for d in docs)]
    if lacking:
        raise CalibrationError(f"training.selection_metric 'ceaf' needs dev documents with gold entities "
                               f"(MUC-4, WikiEvents, or spans with `entity` ids); {', '.join(lacking)} has none: "
                               "use 'seqeval'")


def dev_scores(
    gold: Sequence[Document], predicted: Sequence[Document], metric: str, roles: Sequence[str] | None = None
) -> dict[str, Any]:
    """``score_corpus``'s dict, with ``ceaf`` added where the gold documents carry entities, and
    ``selection``: the number that ``metric`` ranks models by. ``roles``: the roles the model tags
    (others the gold annotates are not scored, as `eventroles evaluate` does not score them)."""
    scores = score_corpus(gold, predicted, roles)
    ceaf = ceaf_ree(gold, predicted, roles=roles)
    if ceaf is not None:
        scores["ceaf"] = ceaf
    if metric == "ceaf":
        if ceaf is None:
            raise CalibrationError("selection metric 'ceaf' needs dev documents with gold entities")
        scores["selection"] = ceaf["scores"]["micro"]["f1"]
    else:
        scores["selection"] = scores["seqeval"]["micro"]["f1"]
    return scores


@dataclass
class Calibration:
    offset: float
    score: float
    table: list[dict[str, float]]  # one row per offset: offset, mean score, one column per corpus

    def as_dict(self) -> dict[str, Any]:
        return {"span_logit_offset": self.offset, "dev_score": self.score, "grid": self.table}


def calibrate_offset(
    tagger: Tagger, dev_sets: Sequence[tuple[str, Sequence[Document]]], metric: str,
    grid: Sequence[float] = OFFSET_GRID,
) -> Calibration:
    """The span offset that maximises the mean dev score over ``dev_sets`` (label, documents).

    Ties go to the offset nearest the tagger's own, so a flat curve changes nothing.
    """
    forwarded = []
    for label, docs in dev_sets:
        prepared = tagger.preprocess([doc.blank() for doc in docs])
        forwarded.append((label, docs, prepared, tagger.forward(prepared)))
    table = []
    for offset in grid:
        row: dict[str, float] = {"offset": offset}
        for label, docs, prepared, scores in forwarded:
            predicted = tagger.postprocess(prepared, scores, offset)
            row[label] = dev_scores(docs, predicted, metric, tagger.meta.tagset.roles)["selection"]
        row["score"] = float(np.mean([row[label] for label, *_ in forwarded]))
        table.append(row)
    best = max(table, key=lambda r: (round(r["score"], 6), -abs(r["offset"] - tagger.span_logit_offset)))
    return Calibration(best["offset"], best["score"], table)
