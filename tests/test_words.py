"""Word segmentation: the backbone-independent unit that spans are snapped to and scored over."""

from __future__ import annotations

import unicodedata

import pytest

from eventroles.data.words import separators_as_spaces, snap_to_words, split_words


def _words(text: str) -> list[str]:
    words = split_words(text)
    return [text[s:e] for s, e in zip(words.starts, words.ends)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Rebels attacked Kyiv.", ["Rebels", "attacked", "Kyiv", "."]),
        ("U.S.-led raid", ["U", ".", "S", ".", "-", "led", "raid"]),
        ("a©b", ["a", "©", "b"]),
        ("bomb 💣 hit", ["bomb", "💣", "hit"]),
        ("東京で爆発", ["東京で爆発"]),
        ("car_bomb 2024", ["car_bomb", "2024"]),
        ("x\r\ny\tz   w", ["x", "y", "z", "w"]),
        ("café naïve", ["café", "naïve"]),
        ("", []),
        ("   \n\t ", []),
    ],
)
def test_split_words(text: str, expected: list[str]) -> None:
    assert _words(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Decomposed accents (NFD): the combining mark belongs to its letter's word.
        ("Bogota\u0301 fell", ["Bogota\u0301", "fell"]),
        ("e\u0301te\u0301", ["e\u0301te\u0301"]),
        # Devanagari vowel signs and virama are marks, not word breaks.
        ("नमस्ते दिल्ली", ["नमस्ते", "दिल्ली"]),
        # A mark after punctuation stays on that character.
        ("\"\u0301x", ["\"\u0301", "x"]),
    ],
)
def test_combining_marks_stay_in_their_word(text: str, expected: list[str]) -> None:
    assert _words(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Zero-width space, BOM, word joiner, soft hyphen: separators, never words of their own.
        ("car\u200bbomb", ["car", "bomb"]),
        ("\ufeffRebels attacked", ["Rebels", "attacked"]),
        ("a\u2060b \u2060 c", ["a", "b", "c"]),
        ("infor\u00admation \u00ad", ["infor", "mation"]),
        # Bidi marks around or after a name (as left by copy-paste from right-to-left pages).
        ("Mozambique\u200e, \u202aMaputo\u202c", ["Mozambique", ",", "Maputo"]),
        ("\u200f\u200e\u2066\u2069", []),
        # ZWNJ inside a Persian word and ZWJ in a Devanagari conjunct stay in the word ...
        ("می\u200cخواهم رفت", ["می\u200cخواهم", "رفت"]),
        ("क्\u200dष", ["क्\u200dष"]),
        # ... but not at a word's edge or between a word and punctuation.
        ("\u200cab\u200d c\u200d.", ["ab", "c", "."]),
        # A ZWJ emoji sequence is one symbol; a lone ZWJ is not a word.
        ("👨\u200d👩 \u200d", ["👨\u200d👩"]),
    ],
)
def test_format_characters_separate_words_except_joiners_inside_a_word(text: str, expected: list[str]) -> None:
    assert _words(text) == expected


def test_no_format_character_is_a_word_of_its_own() -> None:
    for code in range(0x110000):
        char = chr(code)
        if unicodedata.category(char) == "Cf":
            assert _words(f"a{char}b") in (["a", "b"], [f"a{char}b"]), hex(code)
            assert _words(f" {char} ") == [], hex(code)


def test_snapping_drops_a_trailing_bidi_mark() -> None:
    text = "in Mozambique\u200e today"
    assert snap_to_words(split_words(text), 3, 14) == (3, 13)


@pytest.mark.parametrize(
    "text",
    ["\ufeffA\u00a0b\u2028c\u200bd", "x\r\ny\tz   w", "e\u0301 👨\u200d👩 東京 a©b", "  lead and trail  "],
)
def test_words_cover_every_visible_character_in_order(text: str) -> None:
    words = split_words(text)
    pieces = [text[s:e] for s, e in zip(words.starts, words.ends)]
    assert all(piece and not any(ch.isspace() for ch in piece) for piece in pieces)
    assert list(words.starts) == sorted(words.starts)
    assert all(e <= s for e, s in zip(words.ends, words.starts[1:]))  # no overlap
    visible = "".join(ch for ch in text if not ch.isspace() and unicodedata.category(ch) != "Cf")
    assert "".join(ch for ch in "".join(pieces) if unicodedata.category(ch) != "Cf") == visible


def test_covering_returns_overlapping_words() -> None:
    words = split_words("the car bomb exploded")  # words at 0-3, 4-7, 8-12, 13-21
    assert words.covering(4, 12) == (1, 3)
    assert words.covering(5, 9) == (1, 3)  # partial words on both sides
    assert words.covering(3, 4) is None  # only the space
    assert words.covering(0, 21) == (0, 4)
    assert words.covering(21, 21) is None


def test_snap_to_words_widens_partial_spans() -> None:
    text = "the car bomb exploded"
    words = split_words(text)
    assert snap_to_words(words, 5, 10) == (4, 12)
    assert text[4:12] == "car bomb"
    assert snap_to_words(words, 4, 12) == (4, 12)
    assert snap_to_words(words, 3, 4) is None
    # Surrounding spaces are dropped, not kept.
    assert snap_to_words(words, 3, 8) == (4, 7)


def test_separators_a_tokenizer_would_delete_become_spaces_in_place() -> None:
    text = "Kolofata\x0bearly\x0con\u200bTuesday\ufeff, Tehran\u200ci and 👨\u200d👩\u200d👧 fled"
    out = separators_as_spaces(text, split_words(text))
    assert len(out) == len(text)  # offsets into it still index the original
    assert out.startswith("Kolofata early on Tuesday ,")
    assert "Tehran\u200ci" in out and "👨\u200d👩\u200d👧" in out  # joiners inside a word are kept
    hyphenated = "early on Tues\u00adday in Ko\u2060lo\ufefffata"  # joined within a word: one word to the reader
    assert separators_as_spaces(hyphenated, split_words(hyphenated)) == hyphenated
    plain = "Rebels shelled Kalu on Sunday.\r\n\tThe army denied it."
    assert separators_as_spaces(plain, split_words(plain)) is plain
