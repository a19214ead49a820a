"""Encoding: spans -> word tags -> subword labels -> windows, and word tags -> spans again.

The promise checked here: a gold span that is encoded and decoded comes back exactly, whatever
the text (accents, combining marks, CJK, emoji, zero-width spaces, CRLF, tabs, runs of spaces).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eventroles.data.document import Document, Span, clean_spans
from eventroles.data.encoding import (
    GLUED,
    NO_SUBWORD,
    SHAPE_DIGIT,
    SHAPE_LOWER,
    SHAPE_OTHER,
    SHAPE_TITLE,
    SHAPE_UPPER,
    UNKNOWN_FACT,
    align,
    central_window,
    decode_word_tags,
    head_runs,
    round_trip_share,
    spans_from_word_tags,
    subword_labels,
    untagged_words,
    window_bounds,
    word_shape,
    word_tags,
)
from eventroles.data.problems import ReadReport
from eventroles.data.roles import ROLES, UnknownRoleError
from eventroles.data.tags import BEGIN, IGNORE, INSIDE, OUTSIDE, TagSet
from eventroles.models.backbone import load_tokenizer
from eventroles.models.network import allowed_labels

O, B, I = OUTSIDE, BEGIN, INSIDE
ROLE_TAGS = TagSet.from_roles()


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("minilm")


def _doc(text: str, pieces: list[tuple[str, str]], roles=ROLES, doc_id: str = "d") -> Document:
    """A cleaned document with a span on the first occurrence of each ``(piece, role)``."""
    spans = [Span(text.index(piece), text.index(piece) + len(piece), role) for piece, role in pieces]
    report = ReadReport()
    doc = clean_spans(Document(doc_id, text, spans, frozenset(roles)), report)
    assert not report, report.counts  # the fixtures are already on whole words
    return doc


def _decoded(tokenizer, doc: Document, tagset: TagSet = ROLE_TAGS) -> list[Span]:
    """Encode the gold spans to subword labels, read them back as the model would predict them."""
    (alignment,) = align(tokenizer, [doc])
    labels = subword_labels(alignment, word_tags(doc, tagset))
    recovered = np.full((len(doc.words), len(tagset.tags)), OUTSIDE)
    has = alignment.first_subword >= 0
    recovered[has] = labels[alignment.first_subword[has]]
    recovered[recovered == IGNORE] = OUTSIDE
    return spans_from_word_tags(doc, untagged_words(recovered, alignment), tagset)


# -- tag sets -------------------------------------------------------------------------------------


def test_tagset_from_roles_and_labels() -> None:
    assert ROLE_TAGS.tags == ROLES and ROLE_TAGS.roles == ROLES
    native = TagSet.from_labels({"PerpInd": "attacker", "PerpOrg": "attacker", "Target": "target"})
    assert native.tag_of(Span(0, 1, "attacker", "PerpOrg")) == 1
    assert native.tag_of(Span(0, 1, "attacker", None)) is None  # no label: no head
    assert native.tag_of(Span(0, 1, "target", "PerpOrg")) is None  # label and role disagree
    assert ROLE_TAGS.tag_of(Span(0, 1, "time", "SilverTime")) == ROLES.index("time")
    assert TagSet.from_dict(native.to_dict()) == native


def test_tagset_rejects_bad_definitions() -> None:
    with pytest.raises(UnknownRoleError):
        TagSet(("x",), ("perpetrator",))
    with pytest.raises(ValueError):
        TagSet(("a", "b"), ("target",))
    with pytest.raises(ValueError):
        TagSet((), ())
    with pytest.raises(ValueError):
        TagSet(("target",), ("target",), by="word")


def test_tagset_annotated_follows_document_roles() -> None:
    doc = Document("d", "x", roles=frozenset({"attacker", "target", "location", "weapon"}))
    assert ROLE_TAGS.annotated(doc) == [True, True, True, False, True]


# -- alignment ------------------------------------------------------------------------------------


def test_align_needs_a_fast_tokenizer() -> None:
    class Slow:
        is_fast = False

    with pytest.raises(ValueError, match="fast"):
        align(Slow(), [Document("d", "text")])


def test_align_maps_words_to_their_first_subword(tokenizer) -> None:
    doc = Document("d", "Rebels bombed the Kharkivska substation")
    (alignment,) = align(tokenizer, [doc])
    tokens = tokenizer.convert_ids_to_tokens(alignment.input_ids.tolist())
    assert tokens[:3] == ["rebels", "bombed", "the"]
    # Every word's first subword starts where the word starts.
    assert len(alignment.first_subword) == len(doc.words) == 5
    assert (alignment.first_subword >= 0).all()
    assert list(alignment.word_of_subword[alignment.first_subword]) == list(range(5))
    # Subwords of "Kharkivska" all belong to word 3, and only the first is a word start.
    kharkiv = np.flatnonzero(alignment.word_of_subword == 3)
    assert len(kharkiv) > 1 and alignment.first_subword[3] == kharkiv[0]
    assert list(alignment.shapes[kharkiv]) == [SHAPE_TITLE] * len(kharkiv)


def test_align_batches_give_the_same_result(tokenizer) -> None:
    docs = [Document(str(i), f"Attack number {i} hit Kyiv.") for i in range(5)]
    one_by_one = [align(tokenizer, [doc])[0] for doc in docs]
    batched = align(tokenizer, docs, batch_size=2)
    assert len(batched) == 5
    for a, b in zip(one_by_one, batched):
        assert a.input_ids.tolist() == b.input_ids.tolist()
        assert a.first_subword.tolist() == b.first_subword.tolist()


@pytest.mark.parametrize(
    ("token", "shape"),
    [("rebels", SHAPE_LOWER), ("Kyiv", SHAPE_TITLE), ("FMLN", SHAPE_UPPER), ("A", SHAPE_TITLE),
     ("12th", SHAPE_DIGIT), ("1989", SHAPE_DIGIT), (",", SHAPE_OTHER), ("💣", SHAPE_OTHER), ("", SHAPE_OTHER),
     ("東京", SHAPE_LOWER)],
)
def test_word_shape(token: str, shape: int) -> None:
    assert word_shape(token) == shape


def test_zero_subword_document(tokenizer) -> None:
    for text in ("", "   \n\t", "\u200b\u200b"):
        doc = Document("empty", text)
        (alignment,) = align(tokenizer, [doc])
        assert len(alignment) == 0
        assert len(alignment.first_subword) == len(doc.words)
        assert (alignment.first_subword == -1).all()
        assert spans_from_word_tags(doc, word_tags(doc, ROLE_TAGS), ROLE_TAGS) == []


# -- word tags and labels -------------------------------------------------------------------------


def test_word_tags_bio_per_head() -> None:
    doc = _doc("Gunmen attacked the police station in Mosul .", [("Gunmen", "attacker"), ("the police station", "target"), ("Mosul", "location")])
    tags = word_tags(doc, ROLE_TAGS)
    assert tags.shape == (len(doc.words), len(ROLES))
    assert tags[:, ROLES.index("attacker")].tolist() == [B, O, O, O, O, O, O, O]
    assert tags[:, ROLES.index("target")].tolist() == [O, O, B, I, I, O, O, O]
    assert tags[:, ROLES.index("location")].tolist() == [O, O, O, O, O, O, B, O]
    assert (tags[:, ROLES.index("time")] == O).all()


def test_unannotated_role_gets_ignore_labels(tokenizer) -> None:
    # A WikiEvents-like document: no time annotation, so the time head must learn nothing from it.
    doc = _doc("Militants shelled Donetsk on Monday", [("Militants", "attacker"), ("Donetsk", "location")],
               roles=("attacker", "target", "location", "weapon"))
    tags = word_tags(doc, ROLE_TAGS)
    time = ROLES.index("time")
    assert (tags[:, time] == IGNORE).all()
    assert (tags[:, ROLES.index("target")] == O).all()  # annotated and absent: a real "O"
    (alignment,) = align(tokenizer, [doc])
    labels = subword_labels(alignment, tags)
    assert (labels[:, time] == IGNORE).all()
    assert set(labels[alignment.first_subword, ROLES.index("target")].tolist()) == {O}


def test_unknown_spans_allow_outside_or_their_role_and_leave_gold_spans_alone() -> None:
    # "They" is a gold attacker span and also listed unknown; "the gunmen" is only unknown.
    text = "They attacked a post ; later the gunmen fled"
    doc = _doc(text, [("They", "attacker"), ("a post", "target")])
    start = text.index("the gunmen")
    doc.meta["unknown_spans"] = [[0, 4, "attacker"], [start, start + len("the gunmen"), "attacker"]]
    report = ReadReport()
    tags = word_tags(doc, ROLE_TAGS, report)
    attacker = tags[:, ROLES.index("attacker")].tolist()
    assert attacker == [B, O, O, O, O, O, IGNORE, IGNORE, O]
    assert report.facts[UNKNOWN_FACT] == 1  # "They" is a gold span: nothing changed there
    assert (tags[:, ROLES.index("target")] != IGNORE).all()  # other roles stay certain there
    labels = torch.as_tensor(tags)
    allowed, scored, _ = allowed_labels(labels)
    right = allowed[7].nonzero().flatten().tolist()  # "gunmen": O, B-attacker or I-attacker
    head = ROLES.index("attacker")
    assert right == [0, 1 + 2 * head, 2 + 2 * head] and bool(scored[7])
    assert allowed[0].nonzero().flatten().tolist() == [1 + 2 * head]  # "They": only B-attacker


def test_overlapping_spans_of_different_roles_both_encode_and_decode(tokenizer) -> None:
    text = "A drone hit the Kyiv city hall"
    doc = _doc(text, [("the Kyiv city hall", "target"), ("Kyiv", "location"), ("drone", "weapon")])
    tags = word_tags(doc, ROLE_TAGS)
    assert tags[:, ROLES.index("target")].tolist() == [O, O, O, B, I, I, I]
    assert tags[:, ROLES.index("location")].tolist() == [O, O, O, O, B, O, O]
    assert _decoded(tokenizer, doc) == doc.spans
    assert round_trip_share(tokenizer, [doc], ROLE_TAGS) == (3, 3)


def test_overlap_within_one_head_is_skipped_and_counted() -> None:
    text = "Rebels of the North Front attacked"
    spans = [Span(0, 6, "attacker", "PerpInd"), Span(0, 25, "attacker", "PerpOrg")]
    doc = Document("d", text, spans)
    report = ReadReport()
    tags = word_tags(doc, ROLE_TAGS, report)
    assert tags[:, 0].tolist() == [B, I, I, I, I, O]  # the longer span, starting at the same word, wins
    assert report.counts == {"overlapping_span_in_one_tag_skipped": 1}
    # With native tags, each label has its own head and both survive.
    native = TagSet.from_labels({"PerpInd": "attacker", "PerpOrg": "attacker"})
    report = ReadReport()
    tags = word_tags(doc, native, report)
    assert tags[:, 0].tolist() == [B, O, O, O, O, O]
    assert tags[:, 1].tolist() == [B, I, I, I, I, O]
    assert not report
    assert spans_from_word_tags(doc, tags, native) == sorted(spans)


def test_span_of_a_role_without_head_is_ignored() -> None:
    doc = _doc("Rebels used a car bomb", [("car bomb", "weapon"), ("Rebels", "attacker")])
    core = TagSet.from_roles(("attacker", "target", "location", "time"))
    tags = word_tags(doc, core)
    assert tags.shape == (5, 4)
    assert tags[:, 0].tolist() == [B, O, O, O, O]
    assert spans_from_word_tags(doc, tags, core) == [Span(0, 6, "attacker")]


def test_subword_labels_only_on_first_subwords(tokenizer) -> None:
    doc = _doc("Rebels bombed the Kharkivska substation", [("the Kharkivska substation", "target")])
    (alignment,) = align(tokenizer, [doc])
    labels = subword_labels(alignment, word_tags(doc, ROLE_TAGS))
    target = labels[:, ROLES.index("target")]
    firsts = set(alignment.first_subword.tolist())
    for index, value in enumerate(target.tolist()):
        if index not in firsts:
            assert value == IGNORE
    assert target[alignment.first_subword].tolist() == [O, O, B, I, I]


# -- round trips ----------------------------------------------------------------------------------

UNICODE_CASES = [
    ("Le maire de Bogotá a condamné l'attaque", [("Bogotá", "location"), ("Le maire de Bogotá", "target")]),
    ("Explosión en Bogota\u0301 el lunes", [("Bogota\u0301", "location"), ("lunes", "time")]),  # NFD accent
    ("A bomb hit the e\u0301cole in Ouagadougou", [("e\u0301cole", "target"), ("Ouagadougou", "location")]),
    ("東京で爆発 killed 3 people", [("東京で爆発", "location"), ("3 people", "target")]),
    ("Militants fired 💣 rockets at Sderot", [("💣 rockets", "weapon"), ("Sderot", "location")]),
    ("The zero\u200bwidth group hit Gao", [("zero\u200bwidth group", "attacker"), ("Gao", "location")]),
    ("Raiders a\u200bb struck Timbuktu", [("a\u200bb", "attacker"), ("Timbuktu", "location")]),
    ("Raiders a\x00b struck Timbuktu", [("a\x00b", "attacker"), ("Timbuktu", "location")]),  # glued by the tokenizer
    ("Hackers at a©b struck", [("a©b", "attacker")]),
    ("Attack in दिल्ली today", [("दिल्ली", "location"), ("today", "time")]),
    ("Gunmen\r\n\tattacked  the   convoy\r\nnear\tHerat", [("Gunmen", "attacker"), ("the   convoy", "target"), ("Herat", "location")]),
    ("ǅemal's   forces hit   Banja   Luka", [("ǅemal's   forces", "attacker"), ("Banja   Luka", "location")]),
]


@pytest.mark.parametrize(("text", "pieces"), UNICODE_CASES, ids=[c[0][:18] for c in UNICODE_CASES])
def test_encode_then_decode_returns_gold_spans_exactly(tokenizer, text: str, pieces) -> None:
    doc = _doc(text, pieces)
    decoded = _decoded(tokenizer, doc)
    assert [(s.start, s.end, s.role) for s in decoded] == [(s.start, s.end, s.role) for s in doc.spans]
    assert [doc.span_text(s) for s in decoded] == [doc.span_text(s) for s in doc.spans]
    assert round_trip_share(tokenizer, [doc], ROLE_TAGS) == (len(pieces), len(pieces))


def test_one_subword_over_three_words_decodes_whole(tokenizer) -> None:
    # BERT's normaliser deletes a NUL (for us a one-character word): "a\x00b\x00c" is one subword
    # over our five words. (A zero-width space is a separator and reaches the tokenizer as a space.)
    doc = _doc("Raiders a\x00b\x00c struck", [("a\x00b\x00c", "attacker")])
    (alignment,) = align(tokenizer, [doc])
    assert len(doc.words) == 7 and len(alignment) == 3
    assert alignment.first_subword.tolist() == [0, 1, -1, -1, -1, -1, 2]
    assert alignment.glued.tolist() == [False, False, True, True, True, True, False]
    assert _decoded(tokenizer, doc) == doc.spans
    # The glued words follow their host word: outside a span they stay outside.
    other = _doc("Raiders a\x00b\x00c struck", [("Raiders", "attacker")])
    assert _decoded(tokenizer, other) == other.spans


def test_round_trip_share_counts_only_annotated_heads(tokenizer) -> None:
    doc = _doc("Rebels attacked Kyiv on Friday", [("Rebels", "attacker"), ("Kyiv", "location")], roles=("attacker", "location"))
    assert round_trip_share(tokenizer, [doc], ROLE_TAGS) == (2, 2)
    core = TagSet.from_roles(("attacker",))
    assert round_trip_share(tokenizer, [doc], core) == (1, 1)


def test_adjacent_spans_of_one_role_stay_apart(tokenizer) -> None:
    text = "Rebels Soldiers Police attacked"
    doc = Document("d", text, [Span(0, 6, "attacker"), Span(7, 15, "attacker"), Span(16, 22, "attacker")])
    assert _decoded(tokenizer, doc) == doc.spans


# -- decoding word tags ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "runs"),
    [
        ([O, B, I, O], [(1, 3)]),
        ([B, B, I], [(0, 1), (1, 3)]),
        ([I, I, O, I], [(0, 2), (3, 4)]),  # orphan I starts a span
        ([O, I], [(1, 2)]),
        ([B, I, I], [(0, 3)]),  # a span running to the end
        ([], []),
        ([O, O], []),
        ([B, NO_SUBWORD, I], [(0, 3)]),  # a word with no subword inside a span
        ([B, NO_SUBWORD, O], [(0, 1)]),  # ... and after one: not taken
        ([B, NO_SUBWORD, NO_SUBWORD], [(0, 1)]),  # trailing subword-less words are trimmed
        ([B, NO_SUBWORD, B], [(0, 1), (2, 3)]),
        ([NO_SUBWORD, I], [(1, 2)]),
        ([B, GLUED, GLUED, O], [(0, 3)]),  # glued words go with their host word
        ([O, GLUED, B, GLUED], [(2, 4)]),
        ([B, GLUED, NO_SUBWORD, I], [(0, 4)]),
    ],
)
def test_decode_word_tags(tags: list[int], runs: list[tuple[int, int]]) -> None:
    assert decode_word_tags(np.asarray(tags, dtype=np.int64)) == runs


def test_decode_never_yields_an_orphan_inside() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        tags = rng.choice([O, B, I, NO_SUBWORD, GLUED], size=rng.integers(0, 12))
        runs = decode_word_tags(tags)
        for first, last in runs:
            assert 0 <= first < last <= len(tags)
            assert tags[first] in (B, I)  # a run starts on a tagged word, never on a gap
            assert all(tag != B for tag in tags[first + 1 : last])
        # Every B or I word lies in exactly one run: no I is left outside a span.
        covered = [i for first, last in runs for i in range(first, last)]
        assert len(covered) == len(set(covered))
        assert {i for i, tag in enumerate(tags) if tag in (B, I)} <= set(covered)


def test_head_runs_give_character_offsets() -> None:
    doc = Document("d", "Rebels  attacked\tthe old\r\nbridge")
    tags = np.full((len(doc.words), 2), O)
    tags[0, 0] = B
    tags[2:5, 1] = [B, I, I]
    runs = head_runs(doc, tags)
    assert runs == [(0, 6, 0, 0, 1), (17, 32, 1, 2, 5)]
    assert doc.text[17:32] == "the old\r\nbridge"


# -- windows --------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 5, 7, 8, 9, 10, 23, 100])
@pytest.mark.parametrize(("content", "stride"), [(8, 0), (8, 3), (8, 7), (1, 0), (5, 2)])
def test_window_bounds_cover_everything(n: int, content: int, stride: int) -> None:
    bounds = window_bounds(n, content, stride)
    assert bounds[0][0] == 0
    assert bounds[-1][1] == n  # the last window ends at the document end
    assert all(0 < end - start <= content for start, end in bounds) or n == 0
    assert all(0 <= start and end <= n for start, end in bounds)
    covered = set()
    for start, end in bounds:
        covered.update(range(start, end))
    assert covered == set(range(n))  # every subword is in some window
    starts = [start for start, _ in bounds]
    assert starts == sorted(set(starts))  # strictly increasing, no repeated window
    if n > content:
        assert all(end - start == content for start, end in bounds)  # all windows are full
        for (s1, e1), (s2, _) in zip(bounds, bounds[1:]):
            assert e1 - s2 >= stride  # neighbours overlap by at least the stride


def test_window_bounds_examples() -> None:
    assert window_bounds(10, 4, 1) == [(0, 4), (3, 7), (6, 10)]
    assert window_bounds(11, 4, 1) == [(0, 4), (3, 7), (6, 10), (7, 11)]
    assert window_bounds(4, 4, 2) == [(0, 4)]
    assert window_bounds(0, 4, 2) == [(0, 0)]


def test_window_bounds_rejects_bad_settings() -> None:
    with pytest.raises(ValueError):
        window_bounds(10, 0, 0)
    with pytest.raises(ValueError):
        window_bounds(10, 4, 4)
    with pytest.raises(ValueError):
        window_bounds(10, 4, -1)


def test_central_window_picks_the_most_central_window() -> None:
    bounds = [(0, 4), (3, 7), (6, 10)]
    owner = central_window(bounds, 10)
    # Position 3 is the last of window 0 and the first of window 1 (margin 0 in both): the first
    # window wins the tie; positions 4 and 5 are only in window 1.
    assert owner.tolist() == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    wide = [(0, 8), (4, 12)]
    owner = central_window(wide, 12)
    # Position 5: margin min(5, 2)=2 in window 0, min(1, 6)=1 in window 1 -> window 0.
    # Position 6: margin 1 in window 0, 2 in window 1 -> window 1.
    assert owner.tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]


def test_central_window_every_subword_owned_by_a_window_that_holds_it() -> None:
    for n in (1, 9, 37):
        bounds = window_bounds(n, 6, 3)
        owner = central_window(bounds, n)
        for position, index in enumerate(owner.tolist()):
            start, end = bounds[index]
            assert start <= position < end
            margin = min(position - start, end - 1 - position)
            for other_start, other_end in bounds:
                if other_start <= position < other_end:
                    assert margin >= min(position - other_start, other_end - 1 - position)


def _decode_by_scanning(tags: np.ndarray) -> list[tuple[int, int]]:
    """The rule of ``decode_word_tags`` written the slow, obvious way (a scan ahead per word)."""
    runs, start = [], -1
    for index, tag in enumerate(int(t) for t in tags):
        if tag == GLUED:
            continue
        if tag == NO_SUBWORD:
            if start >= 0:
                if next((int(t) for t in tags[index + 1 :] if int(t) >= 0), OUTSIDE) == INSIDE:
                    continue
                runs.append((start, index))
                start = -1
            continue
        if tag == BEGIN or (tag == INSIDE and start < 0):
            if start >= 0:
                runs.append((start, index))
            start = index
        elif tag == OUTSIDE and start >= 0:
            runs.append((start, index))
            start = -1
    if start >= 0:
        end = len(tags)
        while end > start and int(tags[end - 1]) == NO_SUBWORD:
            end -= 1
        runs.append((start, end))
    return runs


def test_word_tag_decoding_agrees_with_the_plain_rule_on_random_tags() -> None:
    rng = np.random.default_rng(5)
    for _ in range(500):
        tags = rng.choice([OUTSIDE, BEGIN, INSIDE, NO_SUBWORD, GLUED], size=int(rng.integers(0, 25)))
        assert decode_word_tags(tags) == _decode_by_scanning(tags)
    long_gap = np.array([BEGIN] + [NO_SUBWORD] * 20_000 + [INSIDE])  # was quadratic: 14 s
    assert decode_word_tags(long_gap) == [(0, 20_002)]
