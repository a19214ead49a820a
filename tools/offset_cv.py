"""Out-of-sample check of span-offset calibration: one offset for all tags, or one per tag?

    python tools/offset_cv.py MODEL [MODEL ...] [--data muc4:dev] [--folds 5] [--metric ceaf]

The dev split is cut into folds (by document, fixed shuffle); for each fold the offsets are
chosen on the other folds (the global offset on `train/calibration.py`'s grid, then per tag
by two rounds of coordinate ascent from it) and scored on the held-out fold; the counts of the
held-out folds are summed. Fitting per-tag offsets on the whole dev split and reading the dev
score back would flatter them (five parameters on 200 documents); this does not
(docs/benchmarks.md, item 16).
"""

from __future__ import annotations

import argparse
import json
import random
from functools import lru_cache
from typing import Sequence

import numpy as np

from eventroles.data.document import Document
from eventroles.data.registry import load_corpus
from eventroles.models.inference import Tagger
from eventroles.train.calibration import OFFSET_GRID
from eventroles.train.ceaf import ceaf_ree
from eventroles.train.metrics import score_corpus


def counts(gold: Sequence[Document], pred: Sequence[Document], metric: str, roles: Sequence[str]) -> tuple[int, int, int]:
    """Correct, predicted and gold counts of the micro score (CEAF-REE entities or seqeval spans)."""
    scores = ceaf_ree(gold, pred, roles=roles)["scores"] if metric == "ceaf" else score_corpus(gold, pred, roles)["seqeval"]
    micro = scores["micro"]
    return micro["correct"], micro["predicted"], micro["support"]


def f1(c: tuple[int, int, int]) -> float:
    correct, predicted, gold = c
    return 0.0 if correct == 0 else 2 * correct / (predicted + gold)


def document_folds(n_docs: int, n_folds: int) -> list[list[int]]:
    """Document indices cut into ``n_folds`` folds after a fixed shuffle (the same on every run)."""
    order = list(range(n_docs))
    random.Random(0).shuffle(order)
    return [sorted(order[k::n_folds]) for k in range(n_folds)]


def cross_validate(folder: str, docs: list[Document], folds: list[list[int]], metric: str) -> dict[str, float]:
    tagger = Tagger.load(folder, device="cpu")
    heads, roles = len(tagger.meta.tagset.tags), tagger.meta.tagset.roles
    prepared = tagger.preprocess([d.blank() for d in docs])
    scores = tagger.forward(prepared)

    @lru_cache(maxsize=None)
    def decode(per_tag: tuple[float, ...]) -> list[Document]:
        return tagger.postprocess(prepared, scores, np.repeat(np.asarray(per_tag, dtype=np.float32), 2))

    def score(per_tag: Sequence[float], idx: Sequence[int]) -> tuple[int, int, int]:
        pred = decode(tuple(per_tag))
        return counts([docs[i] for i in idx], [pred[i] for i in idx], metric, roles)

    total = {"global": (0, 0, 0), "per_tag": (0, 0, 0)}
    for k, held_out in enumerate(folds):
        fit = [i for j, fold in enumerate(folds) if j != k for i in fold]
        offset = max(OFFSET_GRID, key=lambda o: (round(f1(score([o] * heads, fit)), 6), -abs(o - tagger.span_logit_offset)))
        per_tag, best = [offset] * heads, f1(score([offset] * heads, fit))
        for _ in range(2):
            for head in range(heads):
                for trial_offset in OFFSET_GRID:
                    trial = list(per_tag)
                    trial[head] = trial_offset
                    value = f1(score(trial, fit))
                    if value > best + 1e-9:
                        best, per_tag = value, trial
        print(f"{folder} fold {k}: global {offset:+.2f}, per tag {per_tag}", flush=True)
        for key, chosen in (("global", [offset] * heads), ("per_tag", per_tag)):
            total[key] = tuple(a + b for a, b in zip(total[key], score(chosen, held_out)))
    return {key: f1(c) for key, c in total.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+")
    parser.add_argument("--data", default="muc4:dev")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--metric", choices=("ceaf", "seqeval"), default="ceaf")
    args = parser.parse_args()
    docs, _ = load_corpus(args.data)
    folds = document_folds(len(docs), args.folds)
    results = {folder: cross_validate(folder, docs, folds, args.metric) for folder in args.models}
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
