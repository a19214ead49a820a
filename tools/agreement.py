#!/usr/bin/env python3
"""Agreement between a second annotation pass and the sample corpus's annotation.

By default the reference is the corpus as built now, that is after the fixes that this same
second pass prompted (docs/annotation.md: exact F1 89.8, a post-fix figure, not an independent
agreement); the pre-fix table (exact F1 82.9, overlap 91.8, 29.2% of spans differ) comes from
``--corpus`` pointing at a build of commit 2c01cc0.

The second pass (``data/sample/second_pass/sample30.txt``) is a re-annotation from scratch of a
deterministic random sample of articles, in the same inline markup as ``data/sample/src`` (the
same ``=== <id> | region: ... | type: ...`` header lines; articles of several batches may share
one file). This tool reads it, checks that each article's plain text is identical to the built
corpus (``data/sample/{train,dev,test}.jsonl``), and compares the spans with the original ones,
taking the original as the reference:

- exact match: same role, same start and end; precision, recall and F1 per role and overall;
- overlap match: same role and at least one shared character, matched one to one (largest
  overlap first; the project's scorer finds a maximum matching instead, which gives the same
  counts on this sample);
- spans that differ: of all distinct spans in either annotation (role, start, end), the share
  that only one annotation has.

Usage::

    python tools/agreement.py                        # the table
    python tools/agreement.py --diff                 # plus every differing span, per article
    python tools/agreement.py --json                 # machine-readable
    python tools/agreement.py --draw                 # the sample: 30 ids, seed 0
    python tools/agreement.py --draw --plain OUT.txt # the sample's articles without markup, to annotate
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

from eventroles.data.document import Document, Span
from eventroles.data.problems import CorpusFormatError
from eventroles.data.readers.jsonl import read_jsonl_file
from eventroles.data.roles import ROLES

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
DEFAULT_SECOND = SAMPLE / "second_pass" / "sample30.txt"
SPLITS = ("train", "dev", "test")
# The sample was drawn from these batches (the corpus's first 270 articles), so that batches
# added later do not change which articles it holds.
SAMPLE_BATCHES = ("afr", "amer", "asia", "euro", "mena", "misc")
SAMPLE_SIZE = 30
SAMPLE_SEED = 0


def _load_converter():
    spec = importlib.util.spec_from_file_location("build_sample", ROOT / "tools" / "build_sample.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("build_sample", module)
    spec.loader.exec_module(module)
    return module


bs = _load_converter()


# --------------------------------------------------------------------------------------------
# Reading


def load_corpus(folder: Path = SAMPLE) -> dict[str, Document]:
    docs: dict[str, Document] = {}
    for split in SPLITS:
        path = folder / f"{split}.jsonl"
        if path.exists():
            for doc in read_jsonl_file(path, corpus="sample"):
                docs[doc.id] = doc
    return docs


def draw_sample(
    ids: list[str], size: int = SAMPLE_SIZE, seed: int = SAMPLE_SEED, batches: tuple[str, ...] = SAMPLE_BATCHES
) -> list[str]:
    """The deterministic sample: ``random.Random(seed).sample`` of the sorted ids of ``batches``."""
    pool = sorted(i for i in ids if i.rsplit("-", 1)[0] in batches)
    return sorted(random.Random(seed).sample(pool, min(size, len(pool))))


def parse_second_pass(source: str, path: str = "<string>") -> list[bs.Article]:
    """Parse a file of marked-up articles whose ids may come from several batches."""
    articles: list[bs.Article] = []
    errors: list[CorpusFormatError] = []
    current: tuple[str, dict, int] | None = None
    numbered: list[tuple[int, str]] = []

    def finish() -> None:
        if current is None:
            return
        doc_id, meta, line = current
        try:
            articles.append(bs._parse_article(doc_id, meta, numbered, path=path, header_line=line))
        except CorpusFormatError as error:
            errors.append(error)

    for number, raw in enumerate(source.lstrip("\ufeff").split("\n"), start=1):
        raw = raw.rstrip("\r")
        if raw.startswith("==="):
            finish()
            current, numbered = None, []
            rest = raw[3:].strip()
            batch = rest.split("|")[0].strip().rsplit("-", 1)[0]
            try:
                doc_id, meta = bs._parse_header(rest, path=path, line=number, batch=batch)
            except CorpusFormatError as error:
                errors.append(error)
                continue
            current = (doc_id, meta, number)
        elif current is not None:
            numbered.append((number, raw))
    finish()
    if errors:
        raise bs.SampleSourceError(errors)
    return articles


# --------------------------------------------------------------------------------------------
# Scores


@dataclass
class Counts:
    gold: int = 0
    pred: int = 0
    exact: int = 0
    overlap: int = 0

    def add(self, other: "Counts") -> None:
        self.gold += other.gold
        self.pred += other.pred
        self.exact += other.exact
        self.overlap += other.overlap

    @staticmethod
    def _prf(matched: int, pred: int, gold: int) -> tuple[float, float, float]:
        p = matched / pred if pred else 0.0
        r = matched / gold if gold else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return p, r, f

    def exact_prf(self) -> tuple[float, float, float]:
        return self._prf(self.exact, self.pred, self.gold)

    def overlap_prf(self) -> tuple[float, float, float]:
        return self._prf(self.overlap, self.pred, self.gold)

    def differ(self) -> float:
        """Share of the distinct spans in either annotation that only one of them has."""
        union = self.gold + self.pred - self.exact
        return (self.gold + self.pred - 2 * self.exact) / union if union else 0.0


def _overlap_matches(gold: list[Span], pred: list[Span]) -> int:
    """One-to-one matches of spans sharing at least one character, largest overlap first."""
    pairs = []
    for i, g in enumerate(gold):
        for j, p in enumerate(pred):
            shared = min(g.end, p.end) - max(g.start, p.start)
            if shared > 0:
                pairs.append((-shared, i, j))
    used_g, used_p, matched = set(), set(), 0
    for _, i, j in sorted(pairs):
        if i in used_g or j in used_p:
            continue
        used_g.add(i)
        used_p.add(j)
        matched += 1
    return matched


def compare(gold: list[Span], pred: list[Span]) -> dict[str, Counts]:
    """Per-role counts for one document."""
    out: dict[str, Counts] = {}
    for role in ROLES:
        g = sorted({(s.start, s.end) for s in gold if s.role == role})
        p = sorted({(s.start, s.end) for s in pred if s.role == role})
        gs = [Span(a, b, role) for a, b in g]
        ps = [Span(a, b, role) for a, b in p]
        out[role] = Counts(len(g), len(p), len(set(g) & set(p)), _overlap_matches(gs, ps))
    return out


def first_difference(a: str, b: str) -> int:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def agreement(originals: dict[str, Document], second: list[bs.Article]) -> tuple[dict[str, Counts], list[str]]:
    """Counts per role (and ``"all"``) over the second-pass articles; problems found on the way."""
    totals = {role: Counts() for role in (*ROLES, "all")}
    problems: list[str] = []
    for article in second:
        doc = originals.get(article.id)
        if doc is None:
            problems.append(f"{article.id}: not in the built corpus")
            continue
        if doc.text != article.text:
            at = first_difference(doc.text, article.text)
            problems.append(
                f"{article.id}: the text differs from the corpus at character {at}: "
                f"{doc.text[max(0, at - 20):at + 20]!r} vs {article.text[max(0, at - 20):at + 20]!r}"
            )
            continue
        for role, counts in compare(doc.spans, article.spans).items():
            totals[role].add(counts)
            totals["all"].add(counts)
    return totals, problems


def differences(doc: Document, article: bs.Article) -> list[str]:
    """Readable lines for the spans only one annotation has."""
    gold = {(s.role, s.start, s.end) for s in doc.spans}
    pred = {(s.role, s.start, s.end) for s in article.spans}
    lines = []
    for tag, only in (("corpus only", gold - pred), ("second only", pred - gold)):
        for role, start, end in sorted(only, key=lambda x: (x[1], x[2], x[0])):
            lines.append(f"  {tag:<12} {role:<9}{doc.text[start:end]!r}")
    return lines


def table(totals: dict[str, Counts]) -> str:
    rows = [
        "| role | corpus | second pass | exact P | exact R | exact F1 | overlap F1 | spans that differ |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for role, c in totals.items():
        p, r, f = c.exact_prf()
        label = "**all**" if role == "all" else role
        rows.append(
            f"| {label} | {c.gold} | {c.pred} | {100 * p:.1f} | {100 * r:.1f} | {100 * f:.1f} | "
            f"{100 * c.overlap_prf()[2]:.1f} | {100 * c.differ():.1f}% |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("second", nargs="?", type=Path, default=DEFAULT_SECOND, help="the second-pass file")
    parser.add_argument("--corpus", type=Path, default=SAMPLE, help="folder of train/dev/test.jsonl")
    parser.add_argument("--diff", action="store_true", help="list the differing spans of each article")
    parser.add_argument("--json", action="store_true", help="print the counts and scores as JSON")
    parser.add_argument("--draw", action="store_true", help="print the sample's ids (seed 0) and stop")
    parser.add_argument("--plain", type=Path, help="with --draw: write the sample's articles without markup here")
    args = parser.parse_args(argv)
    originals = load_corpus(args.corpus)
    if args.draw:
        ids = draw_sample(list(originals))
        print(" ".join(ids))
        if args.plain:
            with args.plain.open("w", encoding="utf-8") as handle:
                for doc_id in ids:
                    m = originals[doc_id].meta
                    handle.write(
                        f"=== {doc_id} | region: {m['region']} | year: {m['year']} | style: {m['style']} "
                        f"| type: {m['type']}\n{originals[doc_id].text}\n\n"
                    )
        return 0
    try:
        second = parse_second_pass(args.second.read_text(encoding="utf-8"), str(args.second))
    except bs.SampleSourceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    totals, problems = agreement(originals, second)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if args.json:
        print(
            json.dumps(
                {
                    "articles": len(second) - len(problems),
                    "roles": {
                        role: {
                            "corpus": c.gold,
                            "second": c.pred,
                            "exact_match": c.exact,
                            "overlap_match": c.overlap,
                            "exact_f1": round(c.exact_prf()[2], 4),
                            "overlap_f1": round(c.overlap_prf()[2], 4),
                            "differ": round(c.differ(), 4),
                        }
                        for role, c in totals.items()
                    },
                },
                indent=2,
            )
        )
    else:
        print(f"{len(second) - len(problems)} articles compared (reference: the corpus annotation in {args.corpus})")
        print(table(totals))
        if args.diff:
            for article in second:
                doc = originals.get(article.id)
                if doc is None or doc.text != article.text:
                    continue
                lines = differences(doc, article)
                if lines:
                    print(f"\n{article.id}")
                    print("\n".join(lines))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
