"""Span agreement and speed of bf16 inference variants against fp32 (docs/benchmarks.md).

    python tools/bf16_agreement.py MODEL ARTICLES.jsonl [--limit 100] [--variants bf16 bf16-headfp32 bf16-weights]

bf16: the default autocast path; bf16-headfp32: the role heads computed in fp32;
bf16-weights: the backbone's weights cast to bf16 (no per-call casts).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from eventroles.models.inference import Tagger


class FP32Head(torch.nn.Module):
    def __init__(self, head: torch.nn.Module) -> None:
        super().__init__()
        self.head = head

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", enabled=False):
            return self.head(hidden.float())


def span_sets(tagger: Tagger, texts: list[str]) -> list[frozenset]:
    return [frozenset((s["start"], s["end"], s["role"]) for s in doc) for doc in tagger(texts)]


def agreement(reference: list[frozenset], other: list[frozenset]) -> float:
    both = sum(len(a & b) for a, b in zip(reference, other))
    total = sum(len(a) + len(b) for a, b in zip(reference, other))
    return 1.0 if total == 0 else 2 * both / total


def timed(tagger: Tagger, texts: list[str]) -> tuple[list[frozenset], float]:
    tagger(texts[:8])  # warm-up
    start = time.perf_counter()
    spans = span_sets(tagger, texts)
    return spans, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("articles", type=Path, help="JSON lines with a text field")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--variants", nargs="+", default=["bf16", "bf16-headfp32", "bf16-weights"])
    args = parser.parse_args()
    texts = [json.loads(line)["text"] for line in args.articles.open(encoding="utf-8") if line.strip()][: args.limit]
    words = sum(len(text.split()) for text in texts)
    reference, seconds = timed(Tagger.load(args.model, device="cpu", precision="fp32"), texts)
    print(f"fp32           {words / seconds:8.0f} words/s")
    for variant in args.variants:
        tagger = Tagger.load(args.model, device="cpu", precision="bf16")
        if variant == "bf16-headfp32":
            tagger.model.heads = FP32Head(tagger.model.heads)
        elif variant == "bf16-weights":
            tagger.model.backbone.to(torch.bfloat16)
        spans, seconds = timed(tagger, texts)
        print(f"{variant:<14} {words / seconds:8.0f} words/s  agreement {agreement(reference, spans):.4f}")


if __name__ == "__main__":
    main()
