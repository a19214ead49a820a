"""Which predicted mentions name one entity, within one document and tag.

Why: a span tagger marks every mention ("fmln", "farabundo marti national liberation front",
"the fmln"), but users count entities (who attacked, not how often the article says so), and
document-level scores (CEAF-REE, as MUC-4 results are published) score one predicted entity
against one gold entity. Grouping is by written rules, cheap and explainable:

- mentions equal after normalisation (lower case, no punctuation, typographic quotes included,
  no articles) are one entity;
- an acronym and its expansion: one single-word mention whose letters are the initials of the
  content words of another (for names of three or more words in any order, so Spanish acronyms
  of English expansions match: FMLN, "farabundo marti national liberation front");
- an expansion followed by its acronym in brackets in the text ("... front (fmln)");
- a one-word surname and the full name it ends (``name_suffix``, off by default: "army" and
  "the salvadoran army" would also merge).
Entity ids are small integers, unique within a document.
"""

from __future__ import annotations

import bisect
import re
import string
import unicodedata
from typing import Sequence

from eventroles.data.document import Document, Span

SpanKey = tuple[int, int, str]

_PUNCTUATION = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
# Words that acronyms skip, in the languages of the corpora's place and group names.
_FUNCTION_WORDS = frozenset("of and for in on to at by with de del la las los el y e da do dos das".split())


def normalize_mention(text: str) -> str:
    """Lower case, no ASCII punctuation, no articles, single spaces (GRIT's normalisation)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def grouping_key(text: str) -> str:
    """``normalize_mention`` that also drops non-ASCII punctuation, for grouping only: news text
    writes "Haram’s" and “FMLN” with typographic quotes, the scorer's normalisation (GRIT's, ASCII
    only) would keep them apart."""
    return normalize_mention("".join(ch for ch in text if ch.isascii() or not unicodedata.category(ch).startswith("P")))


def is_acronym_of(short: str, long: str) -> bool:
    """Whether normalised ``short`` (one word, 2-8 letters) abbreviates normalised ``long``."""
    if " " in short or not 2 <= len(short) <= 8 or not short.isalpha():
        return False
    words = [w for w in long.split() if w not in _FUNCTION_WORDS]
    if not 2 <= len(words) <= len(short) + 1 or len(short) > len(words) + 1:
        return False
    initials = "".join(w[0] for w in words)
    if short == initials:
        return True
    # Letters in another order (a Spanish acronym of an English expansion) only for names of
    # three or more words: "ac" is not "car accident".
    return len(words) >= 3 and set(short) == set(initials)


BRACKET_GAP = 8  # at most this many characters between an expansion and "(ACRONYM": " (" and spaces


def _bracketed_after(doc: Document, long: Span, short: Span) -> bool:
    """``long (short)`` in the text: an expansion and its acronym written side by side."""
    if not long.end < short.start <= long.end + BRACKET_GAP:
        return False
    between = doc.text[long.end : short.start]
    return between.strip() == "(" and doc.text[short.end : short.end + 2].strip().startswith(")")


def entity_ids(doc: Document, spans: Sequence[Span], *, name_suffix: bool = False) -> dict[SpanKey, int]:
    """``(start, end, role) -> entity id`` for every span; spans of one id name one entity.

    Spans are grouped within their role (PerpInd and PerpOrg "guerrillas" are one attacker);
    a scorer that keys by native label still separates them by label.
    """
    by_tag: dict[str, list[Span]] = {}
    for span in spans:
        by_tag.setdefault(span.role, []).append(span)
    ids: dict[SpanKey, int] = {}
    next_id = 0
    for tag_spans in by_tag.values():
        names = [grouping_key(doc.span_text(s)) for s in tag_spans]
        distinct = list(dict.fromkeys(names))
        parent = {name: name for name in distinct}

        def find(name: str) -> str:
            while parent[name] != name:
                parent[name] = parent[parent[name]]
                name = parent[name]
            return name

        def union(a: str, b: str) -> None:
            parent[find(a)] = find(b)

        for a in distinct:
            for b in distinct:
                if a == b or not a or not b:
                    continue
                if is_acronym_of(a, b) or (name_suffix and " " not in a and b.endswith(" " + a)):
                    union(a, b)
        by_start = sorted(range(len(tag_spans)), key=lambda k: tag_spans[k].start)
        starts = [tag_spans[k].start for k in by_start]
        for i, long in enumerate(tag_spans):  # only spans that start just after this one can be "(ACRONYM)"
            first = bisect.bisect_right(starts, long.end)
            last = bisect.bisect_right(starts, long.end + BRACKET_GAP)
            for j in by_start[first:last]:
                if i != j and names[i] and names[j] and _bracketed_after(doc, long, tag_spans[j]):
                    union(names[i], names[j])
        root_id: dict[str, int] = {}
        for index, (span, name) in enumerate(zip(tag_spans, names)):
            root = find(name) if name else f"\0{index}"  # "the", "--": nothing to match, one entity each
            if root not in root_id:
                root_id[root] = next_id
                next_id += 1
            ids[(span.start, span.end, span.role)] = root_id[root]
    return ids
