"""Out-of-sample check of a cap on predicted entities per document and tag.

    python tools/entity_cap_cv.py MODEL [MODEL ...] [--data muc4:dev] [--folds 5]

MUC-4's templates hold few fillers per role (in the training documents with an incident, a role
has at most one entity in 79-94% of them), while the tagger's errors on muc4:dev are mostly
precision. The cap keeps, per document and tag, the K entities (spans grouped as CEAF-REE
groups them) with the surest mention and drops the others. Cut dev into folds (by document,
fixed shuffle, the same folds as `tools/offset_cv.py`); on the other folds choose (a) the span
offset alone, (b) offset and one cap for every tag, (c) then one cap per tag by two rounds of
coordinate ascent; score the held-out fold; sum the counts of the held-out folds
(docs/benchmarks.md, item 25).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from functools import lru_cache
from typing import Sequence

from eventroles.data.document import Document
from eventroles.data.registry import load_corpus
from eventroles.models.inference import Tagger
from eventroles.train.calibration import OFFSET_GRID

from offset_cv import counts, document_folds, f1

CAPS: tuple[int | None, ...] = (1, 2, 3, 4, 6, None)  # None: no cap


def capped(doc: Document, caps: dict[str, int | None]) -> Document:
    """``doc`` keeping, per tag, the spans of its ``caps[tag]`` surest entities."""
    scores = doc.meta.get("span_scores", {})
    entity_of = doc.meta.get("span_entities", {})
    keys = [(span.start, span.end, span.role) for span in doc.spans]
    entities = [(span.label or span.role, entity_of.get(key, key)) for span, key in zip(doc.spans, keys)]
    best: dict[tuple[str, object], float] = {}
    for entity, key in zip(entities, keys):
        best[entity] = max(best.get(entity, 0.0), float(scores.get(key, 0.0)))
    kept_entities: set[tuple[str, object]] = set()
    for tag in {tag for tag, _ in best}:
        ranked = sorted((e for e in best if e[0] == tag), key=lambda e: -best[e])
        kept_entities.update(ranked[: caps.get(tag)])
    return replace(doc, spans=[span for span, entity in zip(doc.spans, entities) if entity in kept_entities])


def cross_validate(folder: str, docs: list[Document], folds: list[list[int]]) -> dict[str, float]:
    tagger = Tagger.load(folder, device="cpu")
    tags, roles = list(tagger.meta.tagset.tags), tagger.meta.tagset.roles
    prepared = tagger.preprocess([d.blank() for d in docs])
    scores = tagger.forward(prepared)

    @lru_cache(maxsize=None)
    def decode(offset: float) -> list[Document]:
        return tagger.postprocess(prepared, scores, offset)

    def score(offset: float, caps: tuple[int | None, ...], idx: Sequence[int]) -> tuple[int, int, int]:
        cap_of = dict(zip(tags, caps))
        pred = decode(offset)
        return counts([docs[i] for i in idx], [capped(pred[i], cap_of) for i in idx], "ceaf", roles)

    none = (None,) * len(tags)
    total = {"offset": (0, 0, 0), "offset_and_cap": (0, 0, 0), "cap_per_tag": (0, 0, 0)}
    for k, held_out in enumerate(folds):
        fit = [i for j, fold in enumerate(folds) if j != k for i in fold]
        near = lambda o: -abs(o - tagger.span_logit_offset)  # noqa: E731  ties: the trained offset
        offset = max(OFFSET_GRID, key=lambda o: (round(f1(score(o, none, fit)), 6), near(o)))
        joint_offset, joint_cap = max(
            ((o, c) for o in OFFSET_GRID for c in CAPS),
            key=lambda oc: (round(f1(score(oc[0], (oc[1],) * len(tags), fit)), 6), oc[1] is None, near(oc[0])),
        )
        per_tag = [joint_cap] * len(tags)
        best = f1(score(joint_offset, tuple(per_tag), fit))
        for _ in range(2):
            for t in range(len(tags)):
                for cap in CAPS:
                    trial = list(per_tag)
                    trial[t] = cap
                    value = f1(score(joint_offset, tuple(trial), fit))
                    if value > best + 1e-9:
                        best, per_tag = value, trial
        print(f"{folder} fold {k}: offset {offset:+.2f}; joint {joint_offset:+.2f} cap {joint_cap}; per tag {dict(zip(tags, per_tag))}", flush=True)
        chosen = {"offset": (offset, none), "offset_and_cap": (joint_offset, (joint_cap,) * len(tags)), "cap_per_tag": (joint_offset, tuple(per_tag))}
        for key, (o, c) in chosen.items():
            total[key] = tuple(a + b for a, b in zip(total[key], score(o, c, held_out)))
    every = list(range(len(docs)))
    in_sample = {f"all_dev_cap_{c}": round(f1(score(tagger.span_logit_offset, (c,) * len(tags), every)), 4) for c in CAPS}
    return {**{key: round(f1(c), 4) for key, c in total.items()}, **in_sample}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+")
    parser.add_argument("--data", default="muc4:dev")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    docs, _ = load_corpus(args.data)
    folds = document_folds(len(docs), args.folds)
    results = {folder: cross_validate(folder, docs, folds) for folder in args.models}
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
