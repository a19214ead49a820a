"""Name substitution: training copies of documents whose names are replaced by other names of
the same role (issue 11's "entity and place substitution").

Why: a tagger trained on a few hundred articles learns names as well as contexts ("ISIS" is an
attacker, "Oklahoma City" a location) and users label articles about other groups and places.
A copy of an article in which a gold name is replaced, everywhere it is written, by a name that
another training article gives the same role keeps the context and changes the name, so the
role has to be read from the context.

Only names are replaced: spans whose words are capitalised and of which at least one word is
never written in lower case in the training texts ("Militants" at the start of a sentence is not
a name; "Kidal" is). Texts written in capitals (MUC-4) carry no such signal and are left alone.
An occurrence of the name that cuts into another span, or holds one, makes the name stay as it
is in that document, so every span of the copy still covers exactly the words it covered.
Offsets are mapped, never re-derived: the copy's spans index its own text exactly.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from dataclasses import dataclass, replace
from typing import Iterable, Sequence

import numpy as np

from .document import Document

# Lower-case words that may sit inside a name ("Gulf of Aden", "Islamic State of Iraq and the Levant").
CONNECTORS = frozenset("of the and de del la las los le al el bin ibn van von da do dos das du di".split())
_WORD = re.compile(r"\w+(?:['’]\w+)*")


@dataclass(frozen=True)
class SubstitutionCount:
    """What :func:`substituted_copies` did, for the training log."""

    documents: int  # documents with at least one name replaced
    names: int  # distinct names replaced
    mentions: int  # occurrences replaced (gold spans and the name's other mentions)


def in_capitals(text: str) -> bool:
    """Whether a text is written (mostly) in capitals, so capitalisation says nothing about names."""
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(c.islower() for c in letters) < len(letters) / 2


def lowercase_words(texts: Iterable[str]) -> frozenset[str]:
    """The words written at least once in lower case in ``texts``."""
    return frozenset(w for text in texts for w in _WORD.findall(text) if w.islower())


def is_name(text: str, lowercase: frozenset[str]) -> bool:
    """Whether a span's text reads as a name: every word but connectors capitalised, and one of
    them never seen in lower case (else it is a common word at the start of a sentence)."""
    words = _WORD.findall(text)
    content = [w for w in words if w.lower() not in CONNECTORS or not w.islower()]
    if not content or not all(w[0].isupper() or w[0].isdigit() for w in content):
        return False
    return any(w[0].isupper() and w.lower() not in lowercase for w in content)


def _gold_names(doc: Document, lowercase: frozenset[str]) -> list[tuple[str, str]]:
    """(text, role) of each gold span of ``doc`` that reads as a name, in span order; none in a
    text written in capitals."""
    if in_capitals(doc.text):
        return []
    found = ((doc.span_text(span), span.role) for span in sorted(doc.spans))
    return [(text, role) for text, role in found if text == text.strip() and is_name(text, lowercase)]


@dataclass(frozen=True)
class NamePool:
    """The names the training corpora's gold spans give each role (distinct, in a fixed order),
    and the words those texts write in lower case, which say what a name is."""

    lowercase: frozenset[str]
    names: dict[str, list[str]]

    @classmethod
    def of(cls, docs: Sequence[Document]) -> "NamePool":
        lowercase = lowercase_words(d.text for d in docs)
        pool: dict[str, set[str]] = {}
        for doc in docs:
            for text, role in _gold_names(doc, lowercase):
                pool.setdefault(role, set()).add(text)
        return cls(lowercase, {role: sorted(names) for role, names in sorted(pool.items())})


def _content_words(name: str) -> list[str]:
    return [w for w in _WORD.findall(name) if w.lower() not in CONNECTORS]


def _is_full_name(name: str, lowercase: frozenset[str]) -> bool:
    """A name of capitalised words only, two or more, whose last one is a name by itself
    ("Timothy McVeigh": yes; "Oklahoma City", "the Gulf of Aden", "The Janjaweed": no)."""
    words = _WORD.findall(name)
    return (len(words) > 1 and all(w[0].isupper() and w.lower() not in CONNECTORS for w in words)
            and is_name(words[-1], lowercase))


def _surname(name: str, lowercase: frozenset[str]) -> str:
    """What replaces the surname of a replaced full name: the replacement's own surname, or the
    whole replacement when it has none ("Boko", "Guccifer 2.0", "the Workers' Party")."""
    return _WORD.findall(name)[-1] if _is_full_name(name, lowercase) else name


_WORD_BEFORE = re.compile(r"[^\W\d_][\w'’-]*[ \t]+$")
_WORD_AFTER = re.compile(r"^[ \t]+([^\W\d_][\w'’-]*)")


def _touches_a_name(text: str, start: int, end: int, lowercase: frozenset[str]) -> bool:
    """Whether the word just before or after [start, end) is a name ("Abdul-Baki" of "Abdul-Baki
    Todashev"; "Later" starting a sentence is not one: it is written "later" elsewhere)."""
    before = _WORD_BEFORE.search(text[max(0, start - 60):start])
    after = _WORD_AFTER.match(text[end:end + 60])
    return any(is_name(word, lowercase) for word in (before.group().strip() if before else "",
                                                     after.group(1) if after else "") if word)


def _occurrences(text: str, name: str) -> list[tuple[int, int]]:
    pattern = re.compile(r"(?<!\w)" + re.escape(name) + r"(?!\w)")
    return [(m.start(), m.end()) for m in pattern.finditer(text)]


def _cuts_a_span(start: int, end: int, spans: Sequence[tuple[int, int]]) -> bool:
    """Whether [start, end) overlaps a span without lying inside it (it would change its words)."""
    return any(s < end and start < e and not (s <= start and end <= e) for s, e in spans)


def substitute_names(doc: Document, pool: dict[str, list[str]], lowercase: frozenset[str],
                     rng: np.random.Generator) -> tuple[Document, int, int] | None:
    """A copy of ``doc`` with each gold name replaced everywhere by another name of its role,
    with the number of names and occurrences replaced; None when no name could be replaced."""
    names: dict[str, str] = {}  # name -> role of its first span
    for text, role in _gold_names(doc, lowercase):
        names.setdefault(text, role)
    if not names:
        return None
    boundaries = [(s.start, s.end) for s in doc.spans]
    boundaries += [(int(s), int(e)) for s, e, _ in doc.meta.get("unknown_spans", ())]
    words = doc.words
    edges = (set(words.starts), set(words.ends))
    seen = {w.lower() for w in _WORD.findall(doc.text)}
    edits: list[tuple[int, int, str]] = []

    def replace_all(name: str, other: str, alone: bool = False) -> bool:
        """Replace every occurrence of ``name`` by ``other`` unless one would change a span's words;
        ``alone``: only where no capitalised word touches it (a surname, not "Abdul-Baki Todashev")."""
        found = [(s, e) for s, e in _occurrences(doc.text, name) if s in edges[0] and e in edges[1]]
        if alone:
            found = [(s, e) for s, e in found if not _touches_a_name(doc.text, s, e, lowercase)]
        if any(_cuts_a_span(s, e, boundaries) for s, e in found):
            return False
        found = [(s, e) for s, e in found if not any(s < e2 and s2 < e for s2, e2, _ in edits)]
        edits.extend((s, e, other) for s, e in found)
        return bool(found)

    replaced_names = 0
    drawn: set[str] = set()
    surnames: dict[str, str] = {}  # "McVeigh" of "Timothy McVeigh" -> the surname of its replacement
    for name in sorted(names, key=lambda n: (-len(n), n)):  # longest first: "Oklahoma City" before "Oklahoma"
        # not a name the article already uses (two entities would merge), nor one drawn for another name
        choices = [n for n in pool.get(names[name], ())
                   if n not in drawn and not any(w.lower() in seen for w in _content_words(n))]
        if not choices:
            continue
        other = choices[int(rng.integers(len(choices)))]
        if replace_all(name, other):
            drawn.add(other)
            replaced_names += 1
            if _is_full_name(name, lowercase) and _WORD.findall(name)[-1] not in names:
                surnames.setdefault(_WORD.findall(name)[-1], _surname(other, lowercase))
    for last, other_last in surnames.items():  # a later "McVeigh" alone follows its full name
        replace_all(last, other_last, alone=True)
    if not edits:
        return None
    edits.sort()
    pieces: list[str] = []
    done = 0
    for s, e, other in edits:
        pieces += [doc.text[done:s], other]
        done = e
    text = "".join(pieces + [doc.text[done:]])

    def moved(position: int) -> int:
        # Every span boundary lies outside the edits or on an edit's edge (_cuts_a_span).
        return position + sum(len(other) - (e - s) for s, e, other in edits if e <= position)

    spans = [replace(span, start=moved(span.start), end=moved(span.end)) for span in doc.spans]
    meta = {"substituted_from": doc.id}
    if "unknown_spans" in doc.meta:
        meta["unknown_spans"] = [[moved(int(s)), moved(int(e)), role] for s, e, role in doc.meta["unknown_spans"]]
    copy = Document(doc.id, text, sorted(spans), doc.roles, doc.corpus, meta)
    return copy, replaced_names, len(edits)


def substituted_copies(docs: Sequence[Document], pool: NamePool,
                       seed: int) -> tuple[list[Document], SubstitutionCount]:
    """One name-substituted copy of each document of ``docs`` that has a replaceable name, the
    names drawn from ``pool`` (built once from every training corpus). Deterministic in ``seed``
    and each document's id, so a resumed training builds the same copies. A document whose id
    another of ``docs`` shares gets no copy (a copy is known by its document's id)."""
    ids = Counter(doc.id for doc in docs)  # a copy is paired with its document by id
    copies: list[Document] = []
    names = mentions = 0
    for doc in docs:
        if ids[doc.id] > 1:
            continue
        rng = np.random.default_rng([seed, zlib.crc32(doc.id.encode("utf-8"))])
        result = substitute_names(doc, pool.names, pool.lowercase, rng)
        if result is not None:
            copies.append(result[0])
            names += result[1]
            mentions += result[2]
    return copies, SubstitutionCount(len(copies), names, mentions)
