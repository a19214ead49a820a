#!/usr/bin/env python3
"""Check the built sample corpus against the annotation guidelines (``docs/annotation.md``).

``tools/build_sample.py`` already refuses broken markup (brackets, offsets, whitespace and
punctuation at span edges, overlapping spans of one role, negatives with spans...). This tool
looks for what the converter cannot see, over the built files read with the project reader:

hard rules (exit code 1 when any fails)
  pronoun              a span that is only a pronoun ("they", "him", "it")
  preposition          a time or location span that starts with a preposition ("on Sunday", "in Gao")
  weapon-determiner    a weapon span that starts with an article, number, quantity or possessive
  negative-with-spans  a negative article (meta type "none") with spans

warnings (things to look at)
  relative-pronoun     an attacker/target span that starts or ends with a relative pronoun, or holds a relative clause
  pronoun-phrase       an attacker/target span built on a personal pronoun ("four of them")
  coordination         an attacker/target span joining two noun phrases that each have a determiner or number
  appositive           an attacker/target span with a comma inside (an appositive or a list)
  nested-place         a location inside a target after a preposition ("the station in [Kalu]")
  sentence-boundary    a span that contains a sentence boundary
  missed-mention       an attacker/target string of 2+ words annotated in one place and not elsewhere in the article
  missing-role         an attack article without an attacker or without a target

Usage::

    python tools/check_annotations.py                    # data/sample/{train,dev,test}.jsonl
    python tools/check_annotations.py --batch amer       # only articles whose id starts with amer-
    python tools/check_annotations.py --examples 0       # every example
    python tools/check_annotations.py FILE.jsonl --json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

from eventroles.data.document import Document, Span
from eventroles.data.problems import CorpusError, ReadReport
from eventroles.data.readers.jsonl import read_jsonl_file

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILES = tuple(ROOT / "data" / "sample" / f"{split}.jsonl" for split in ("train", "dev", "test"))
NEGATIVE_TYPE = "none"

# name: (hard, description)
RULES: dict[str, tuple[bool, str]] = {
    "pronoun": (True, "span that is only a pronoun"),
    "preposition": (True, "time/location span starting with a preposition"),
    "weapon-determiner": (True, "weapon span starting with an article, number, quantity or possessive"),
    "negative-with-spans": (True, "negative article (type: none) with spans"),
    "relative-pronoun": (False, "attacker/target span starting or ending with a relative pronoun, or holding a relative clause"),
    "pronoun-phrase": (False, "attacker/target span built on a personal pronoun"),
    "coordination": (False, "attacker/target span joining noun phrases that each have a determiner or number"),
    "appositive": (False, "attacker/target span with a comma inside"),
    "nested-place": (False, "location inside a target after a preposition"),
    "sentence-boundary": (False, "span containing a sentence boundary"),
    "missed-mention": (False, "attacker/target string of 2+ words annotated once and left unannotated elsewhere"),
    "missing-role": (False, "attack article without an attacker or without a target"),
}
HARD = frozenset(name for name, (hard, _) in RULES.items() if hard)

PRONOUNS = frozenset(
    "i me my we us our ours you your yours he him his she her hers it its they them their theirs "
    "myself ourselves yourself yourselves himself herself itself themselves "
    "this that these those who whom whose which what someone somebody anyone anybody everyone everybody".split()
)
PERSONAL = frozenset("i me we us you he him she it they them".split())
RELATIVE_START = frozenset("who whom whose which".split())  # "that" starts many noun phrases ("that convoy")
RELATIVE_END = frozenset("who whom whose which that where when".split())
LOCATION_PREPOSITIONS = frozenset(
    "in at on near inside outside into onto from to toward towards across along alongside through throughout "
    "within by off over under beneath between among amid amidst beside behind around upon via".split()
)
# Words that only introduce a time stay outside; words that shift or approximate it
# ("before dawn", "after midnight", "around 5 a.m.", "within hours") are part of the span.
TIME_PREPOSITIONS = frozenset("on in at during by over throughout from since until till between".split())
NUMBER_WORDS = frozenset(
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred hundreds "
    "thousand thousands dozen dozens half".split()
)
DETERMINERS = frozenset(
    "a an the this that these those his her its their our my your some several many few numerous "
    "about around approximately nearly almost more at least up".split()
)
WEAPON_STARTS = DETERMINERS | NUMBER_WORDS
NUMBER_RE = re.compile(r"^\d+(?:[.,]\d+)*$")
WORD_RE = re.compile(r"\w+(?:[-'’.]\w+)*")
COORDINATION_RE = re.compile(
    r"\b(?:and|or)\s+(?:a|an|the|his|her|its|their|our|my|your|\d[\d,.]*|"
    + "|".join(sorted(NUMBER_WORDS - {"hundreds", "thousands", "dozens", "half"}))
    + r")\b",
    re.IGNORECASE,
)
ABBREVIATIONS = frozenset(
    "mr mrs ms dr st gen lt col sgt capt maj gov sen rep jr sr no mt ft co corp inc ltd prof rev ing "
    "vs etc jan feb mar apr aug sept sep oct nov dec a.m p.m u.s u.k u.n e.g i.e".split()
)
# The next sentence's first character is looked at, not consumed: "D. P. Wickramasinghe" must
# leave "P" to be the word before the next full stop.
BOUNDARY_RE = re.compile(r"(?P<word>[\w.]*)[.!?][\"”’)]*\s+(?=[\"“‘(]*[A-Z0-9])")


@dataclass
class Finding:
    rule: str
    doc_id: str
    role: str | None
    start: int
    end: int
    span_text: str
    message: str
    context: str

    @property
    def hard(self) -> bool:
        return self.rule in HARD


def _words(text: str) -> list[str]:
    return WORD_RE.findall(text)


def _context(text: str, start: int, end: int, width: int = 40) -> str:
    left = text[max(0, start - width) : start]
    right = text[end : end + width]
    snippet = f"{'…' if start > width else ''}{left}«{text[start:end]}»{right}{'…' if end + width < len(text) else ''}"
    return " ".join(snippet.split())


def _sentence_initial(text: str, start: int) -> bool:
    before = text[:start].rstrip(" \"“‘(")
    return not before or before.endswith(("\n", ".", "!", "?", ":", "—", "-"))


def _personal_pronoun(words: list[str]) -> bool:
    """A personal pronoun among ``words`` that is not part of a name ("Umkhonto we Sizwe")."""
    clean = [w.strip("\"“”‘’(),.;:") for w in words]
    for i, word in enumerate(clean):
        if word not in PERSONAL:
            continue
        before = clean[i - 1] if i > 0 else ""
        after = clean[i + 1] if i + 1 < len(clean) else ""
        if before[:1].isupper() and after[:1].isupper():
            continue
        return True
    return False


def _first_word(span_text: str) -> str:
    return span_text.split()[0].strip("\"“‘(")


# --------------------------------------------------------------------------------------------
# Rules


def check_document(doc: Document) -> list[Finding]:
    """Every finding in one document, in text order within each rule."""
    findings: list[Finding] = []
    text = doc.text

    def add(
        rule: str,
        span: Span | None,
        message: str,
        start: int | None = None,
        end: int | None = None,
        role: str | None = None,
    ) -> None:
        s = span.start if span is not None else (start or 0)
        e = span.end if span is not None else (end if end is not None else min(len(text), 60))
        role = span.role if span is not None else role
        findings.append(Finding(rule, doc.id, role, s, e, text[s:e], message, _context(text, s, e)))

    spans = sorted(doc.spans)
    if doc.meta.get("type") == NEGATIVE_TYPE:
        if spans:
            add("negative-with-spans", spans[0], f"type: {NEGATIVE_TYPE} but {len(spans)} span(s); negatives carry none")
        return findings

    for span in spans:
        st = text[span.start : span.end]
        words = st.split()
        lower_words = [w.lower().strip("\"“”‘’(),.;:") for w in words]
        first = lower_words[0]

        if st.lower() in PRONOUNS:
            add("pronoun", span, "only a pronoun; annotate only non-pronoun mentions")

        if span.role in ("time", "location"):
            preps = TIME_PREPOSITIONS if span.role == "time" else LOCATION_PREPOSITIONS
            word = _first_word(st)
            if len(words) > 1 and word.lower() in preps and (word.islower() or _sentence_initial(text, span.start)):
                add("preposition", span, f"starts with the preposition {word!r}; leave it outside the span")

        if span.role == "weapon" and len(words) > 1:
            word = _first_word(st).lower()
            if word in WEAPON_STARTS or NUMBER_RE.match(word):
                add("weapon-determiner", span, f"starts with {word!r}; articles, numbers and possessives stay outside")

        if span.role in ("attacker", "target") and len(words) > 1:
            if first in RELATIVE_START:
                add("relative-pronoun", span, f"starts with the relative pronoun {first!r}")
            elif lower_words[-1] in RELATIVE_END:
                add("relative-pronoun", span, f"ends with {lower_words[-1]!r}; leave the relative clause outside")
            else:
                inner = [w for w in lower_words[1:] if w in RELATIVE_START]
                if inner:
                    add("relative-pronoun", span, f"holds a relative clause ({inner[0]!r} ...); end the span before it")
            if _personal_pronoun(words):
                add("pronoun-phrase", span, "built on a personal pronoun; such phrases are not annotated")
            for match in COORDINATION_RE.finditer(st):
                before = st[: match.start()].split()
                after = match.group(0).split()[-1].lower()
                # "three or four young men", "10 or 12 gunmen": one noun phrase with a range
                if before and (before[-1].lower() in NUMBER_WORDS or NUMBER_RE.match(before[-1])) and (
                    after in NUMBER_WORDS or NUMBER_RE.match(after)
                ):
                    continue
                add("coordination", span, f"joins two noun phrases at {match.group(0)!r}; give each its own span")
                break
            if ", " in st:
                add("appositive", span, "a comma inside: an appositive or a list gets spans of its own")

        if "\n" in st:
            add("sentence-boundary", span, "contains a line break")
        else:
            for match in BOUNDARY_RE.finditer(st):
                word = match.group("word").lower().rstrip(".")
                if word in ABBREVIATIONS or re.fullmatch(r"[a-z]", word) or re.fullmatch(r"(?:[a-z]\.)+[a-z]?", word):
                    continue
                add("sentence-boundary", span, "contains a sentence boundary")
                break

    # A location nested in a target after a preposition: the target should end before it.
    for target in (s for s in spans if s.role == "target"):
        for loc in (s for s in spans if s.role == "location"):
            if target.start < loc.start and loc.end <= target.end:
                before = text[target.start : loc.start].split()
                if before and before[-1].lower() in LOCATION_PREPOSITIONS:
                    add("nested-place", target, f"location {text[loc.start:loc.end]!r} inside the target after "
                        f"{before[-1]!r}; end the target before the preposition")

    # Identical strings annotated in one place and not in another.
    for role in ("attacker", "target"):
        role_spans = [s for s in spans if s.role == role]
        seen: set[str] = set()
        for span in role_spans:
            st = text[span.start : span.end]
            key = st.lower()
            if len(_words(st)) < 2 or key in seen:
                continue
            seen.add(key)
            pattern = re.compile(r"(?<!\w)" + re.escape(st) + r"(?!\w)", re.IGNORECASE)
            for match in pattern.finditer(text):
                a, b = match.span()
                if any(s.start < b and a < s.end for s in role_spans):
                    continue
                add("missed-mention", None, f"{st!r} is {'an' if role == 'attacker' else 'a'} {role} elsewhere in the article but not here", a, b, role)

    if spans:
        roles = {s.role for s in spans}
        for role in ("attacker", "target"):
            if role not in roles:
                add("missing-role", None, f"attack article (type: {doc.meta.get('type')}) without {'an' if role == 'attacker' else 'a'} {role} span", 0,
                    min(len(text), 60))
    return findings


def check_documents(docs: Iterable[Document]) -> list[Finding]:
    findings: list[Finding] = []
    for doc in docs:
        findings.extend(check_document(doc))
    return findings


# --------------------------------------------------------------------------------------------
# Report


def report(findings: list[Finding], n_docs: int, examples: int = 5) -> str:
    counts = Counter(f.rule for f in findings)
    lines = [f"{n_docs} articles checked", "", f"{'rule':<21}{'kind':<9}{'count':>6}  what"]
    for rule, (hard, description) in RULES.items():
        lines.append(f"{rule:<21}{'hard' if hard else 'warning':<9}{counts[rule]:>6}  {description}")
    hard_total = sum(counts[r] for r in HARD)
    lines.append("")
    lines.append(f"hard-rule failures: {hard_total}; warnings: {sum(counts.values()) - hard_total}")
    for rule in RULES:
        found = [f for f in findings if f.rule == rule]
        if not found:
            continue
        shown = found if examples <= 0 else found[:examples]
        lines.append("")
        lines.append(f"== {rule} ({'hard' if rule in HARD else 'warning'}): {len(found)}")
        for f in shown:
            role = f" [{f.role}]" if f.role else ""
            lines.append(f"  {f.doc_id}{role} {f.message}")
            lines.append(f"      {f.context}")
        if len(shown) < len(found):
            lines.append(f"  ... and {len(found) - len(shown)} more (--examples 0 shows all)")
    return "\n".join(lines)


def load(paths: Iterable[Path], batches: list[str] | None = None) -> list[Document]:
    docs: list[Document] = []
    for path in paths:
        docs.extend(read_jsonl_file(Path(path), ReadReport(), corpus="sample"))
    if batches:
        docs = [d for d in docs if d.id.rsplit("-", 1)[0] in batches]
    return sorted(docs, key=lambda d: d.id)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help="jsonl files (default: data/sample/{train,dev,test}.jsonl)")
    parser.add_argument("--batch", action="append", help="only articles of this batch (repeatable)")
    parser.add_argument("--examples", type=int, default=5, help="examples shown per rule (0: all)")
    parser.add_argument("--json", action="store_true", help="print counts and every finding as JSON")
    args = parser.parse_args(argv)
    try:
        docs = load(args.files or DEFAULT_FILES, args.batch)
    except CorpusError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    findings = check_documents(docs)
    if args.json:
        counts = Counter(f.rule for f in findings)
        print(
            json.dumps(
                {
                    "articles": len(docs),
                    "counts": {rule: counts[rule] for rule in RULES},
                    "hard_failures": sum(counts[r] for r in HARD),
                    "findings": [asdict(f) for f in findings],
                },
                ensure_ascii=False,
                indent=1,
            )
        )
    else:
        print(report(findings, len(docs), args.examples))
    return 1 if any(f.hard for f in findings) else 0


if __name__ == "__main__":
    sys.exit(main())
