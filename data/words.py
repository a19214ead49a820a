"""Backbone-independent word segmentation with character offsets.

Why our own words: scores and BIO tags must not depend on a backbone's subword vocabulary, so
spans are snapped to, labelled on and scored over these words. A word is a run of letters,
digits or underscores, or a single other non-space character; combining marks (accents in
decomposed text, Indic vowel signs) stay in the word of the character they modify, so a word
never ends in the middle of a letter.

Invisible format characters (Unicode category Cf: zero-width space, BOM, soft hyphen, word
joiner, bidi marks...) separate words like spaces and never form a word of their own, so a
stray U+200E after a name cannot become a one-character "word" with a tag. The exception is a
zero-width joiner or non-joiner between two word characters (Persian, Indic conjuncts), which
stays inside its word; likewise a zero-width joiner between two symbols of an emoji sequence.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass


def _category_class(prefix: str) -> str:
    """Regex class body of the characters whose Unicode category starts with ``prefix``."""
    ranges: list[list[int]] = []
    # Marks (M) and format characters (Cf) only live in planes 0, 1 and 14.
    for code in (*range(0x20000), *range(0xE0000, 0xE1000)):
        if not unicodedata.category(chr(code)).startswith(prefix):
            continue
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)


_MARKS = _category_class("M")  # combining marks (Mn, Mc, Me): Python's \w has none
_FORMAT = _category_class("Cf")  # format characters: none is \w or \s
_JOINERS = "\u200c\u200d"  # ZWNJ, ZWJ: kept between two word characters
_WORD = rf"\w[\w{_MARKS}]*(?:[{_JOINERS}]+\w[\w{_MARKS}]*)*"
_SYMBOL = rf"[^\w\s{_FORMAT}][{_MARKS}]*"
WORD_RE = re.compile(rf"{_WORD}|{_SYMBOL}(?:\u200d{_SYMBOL})*", re.UNICODE)


@dataclass(frozen=True)
class Words:
    """The words of one text as parallel start/end offset lists."""

    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.starts)

    def covering(self, start: int, end: int) -> tuple[int, int] | None:
        """Indices ``[first, last)`` of the words that overlap ``[start, end)``, or None."""
        first = bisect.bisect_right(self.ends, start)
        last = bisect.bisect_left(self.starts, end)
        if first >= last:
            return None
        return first, last


def split_words(text: str) -> Words:
    starts: list[int] = []
    ends: list[int] = []
    for match in WORD_RE.finditer(text):
        starts.append(match.start())
        ends.append(match.end())
    return Words(tuple(starts), tuple(ends))


def snap_to_words(words: Words, start: int, end: int) -> tuple[int, int] | None:
    """Widen ``[start, end)`` to whole words; None when it covers no word (only spaces)."""
    covered = words.covering(start, end)
    if covered is None:
        return None
    first, last = covered
    return words.starts[first], words.ends[last - 1]


# Characters between words that a tokenizer may delete instead of splitting at: whitespace other
# than space, tab, newline and carriage return (vertical tab, form feed, U+001C-U+001F, NEL are
# control characters to BERT's normaliser) and every format character (zero-width space, BOM...).
_DELETABLE_SEPARATOR = re.compile(rf"[^\S \t\n\r]|[{_FORMAT}]")


# Format characters that join rather than separate when they stand between two letters: a soft
# hyphen ("Tues\u00adday", what HTML's &shy; leaves), a word joiner, a zero-width no-break space.
_IN_WORD_FORMAT = frozenset("\u00ad\u2060\ufeff")


def separators_as_spaces(text: str, words: Words) -> str:
    """``text`` with every separator character a tokenizer might delete, outside the words,
    replaced by a space: the same length, so offsets into it index ``text``.

    Why: Word exports a manual line break as a vertical tab, and BERT's normaliser deletes it, so
    "Kolofata\x0bearly" reached the backbone as one word "kolofataearly" and "early" could never
    start a span. Kept as they are (the tokenizer deletes them and sees one word, as before): a
    zero-width joiner inside a word (Persian, emoji sequences), and a soft hyphen, word joiner or
    zero-width no-break space between two letters or digits.
    """
    if not _DELETABLE_SEPARATOR.search(text):
        return text
    chars = list(text)
    for match in _DELETABLE_SEPARATOR.finditer(text):
        at = match.start()
        word = bisect.bisect_right(words.ends, at)
        if word < len(words) and words.starts[word] <= at:
            continue  # inside a word
        if text[at] in _IN_WORD_FORMAT and 0 < at < len(text) - 1 and text[at - 1].isalnum() and text[at + 1].isalnum():
            continue  # "Tues\u00adday" is one word to the reader
        chars[at] = " "
    return "".join(chars)
