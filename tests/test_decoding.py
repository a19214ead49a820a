"""From window probabilities back to character spans: central-window merge and span decoding."""

from __future__ import annotations

import numpy as np
import torch
import pytest

from eventroles.data.document import Document, Span
from eventroles.data.encoding import align, central_window, subword_labels, window_bounds, word_tags
from eventroles.data.roles import ROLES
from eventroles.data.tags import BEGIN, IGNORE, INSIDE, OUTSIDE, TagSet
from eventroles.models.decoding import decode_spans, merge_windows, word_probabilities
from eventroles.models.backbone import load_tokenizer

TAGS = TagSet.from_roles()


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("minilm")


def _one_hot(labels: np.ndarray, sure: float = 0.9) -> np.ndarray:
    """Probabilities ``[n, heads, 3]`` that put ``sure`` on each label (IGNORE read as O)."""
    tags = np.where(labels == IGNORE, OUTSIDE, labels)
    probs = np.full((*tags.shape, 3), (1 - sure) / 2, dtype=np.float32)
    np.put_along_axis(probs, tags[..., None], sure, axis=-1)
    return probs


def _doc(text: str, pieces: list[tuple[str, str]]) -> Document:
    return Document("d", text, sorted(Span(text.index(p), text.index(p) + len(p), r) for p, r in pieces))


def test_merge_takes_each_row_from_its_most_central_window() -> None:
    bounds = window_bounds(10, 4, 2)
    assert bounds == [(0, 4), (2, 6), (4, 8), (6, 10)]
    # Window k predicts the constant k everywhere, so the merged value tells which window won.
    window_probs = [np.full((end - start, 2, 3), index, dtype=np.float32) for index, (start, end) in enumerate(bounds)]
    merged = merge_windows(10, bounds, window_probs)
    assert merged.shape == (10, 2, 3)
    owners = merged[:, 0, 0].astype(int).tolist()
    assert owners == central_window(bounds, 10).tolist()
    assert owners == [0, 0, 0, 1, 1, 2, 2, 3, 3, 3]


def test_merge_of_a_single_window_is_the_identity() -> None:
    probs = np.random.default_rng(1).random((5, 3, 3)).astype(np.float32)
    assert np.array_equal(merge_windows(5, [(0, 5)], [probs]), probs)


def test_merge_of_a_document_without_subwords() -> None:
    assert merge_windows(0, [(0, 0)], [np.zeros((0, 4, 3))]).shape == (0, 4, 3)
    assert merge_windows(0, [], []).shape == (0, 0, 3)


def test_span_cut_by_a_window_edge_decodes_whole(tokenizer) -> None:
    text = "Yesterday the heavily armed Northern Liberation Front fighters attacked the old Kandahar airport."
    doc = _doc(text, [("the heavily armed Northern Liberation Front fighters", "attacker"),
                      ("the old Kandahar airport", "target"), ("Yesterday", "time")])
    (alignment,) = align(tokenizer, [doc])
    labels = subword_labels(alignment, word_tags(doc, TAGS))
    n = len(alignment)
    bounds = window_bounds(n, 5, 2)  # windows of five subwords: every span is cut somewhere
    assert len(bounds) > 3
    window_probs = []
    for start, end in bounds:
        window_labels = labels[start:end].copy()
        # A window that opens inside a span cannot see its beginning and would call it a B:
        # the merge must take those edge rows from a window where they sit more centrally.
        for head in range(window_labels.shape[1]):
            first = np.flatnonzero(window_labels[:, head] != IGNORE)
            if len(first) and window_labels[first[0], head] == INSIDE and start > 0:
                window_labels[first[0], head] = BEGIN
        window_probs.append(_one_hot(window_labels))
    merged = merge_windows(n, bounds, window_probs)
    spans, scores = decode_spans(doc, alignment, merged, TAGS)
    assert spans == doc.spans
    assert [doc.span_text(s) for s in spans] == ["Yesterday", "the heavily armed Northern Liberation Front fighters",
                                                 "the old Kandahar airport"]
    assert all(scores[(s.start, s.end, s.role)] == pytest.approx(0.9) for s in spans)


def test_decode_spans_scores_are_the_mean_of_chosen_probabilities(tokenizer) -> None:
    doc = Document("d", "Rebels attacked Kyiv")
    (alignment,) = align(tokenizer, [doc])
    probs = np.zeros((len(alignment), len(ROLES), 3), dtype=np.float32)
    probs[..., OUTSIDE] = 1.0
    location = ROLES.index("location")
    probs[alignment.first_subword[2], location] = [0.2, 0.7, 0.1]
    attacker = ROLES.index("attacker")
    probs[alignment.first_subword[0], attacker] = [0.1, 0.6, 0.3]
    probs[alignment.first_subword[1], attacker] = [0.3, 0.2, 0.5]  # "attacked" continues the span
    spans, scores = decode_spans(doc, alignment, probs, TAGS)
    assert spans == [Span(0, 15, "attacker"), Span(16, 20, "location")]
    assert scores[(0, 15, "attacker")] == pytest.approx((0.6 + 0.5) / 2)
    assert scores[(16, 20, "location")] == pytest.approx(0.7)


def test_decode_spans_orphan_inside_starts_a_span(tokenizer) -> None:
    doc = Document("d", "gunmen struck the market")
    (alignment,) = align(tokenizer, [doc])
    probs = np.zeros((len(alignment), len(ROLES), 3), dtype=np.float32)
    probs[..., OUTSIDE] = 1.0
    target = ROLES.index("target")
    for word in (2, 3):
        probs[alignment.first_subword[word], target] = [0.1, 0.1, 0.8]
    spans, scores = decode_spans(doc, alignment, probs, TAGS)
    assert spans == [Span(14, 24, "target")]
    # the valid reading is B I: the score is the mean probability of the tags chosen, B's 0.1
    # for "the" (not its argmax I's 0.8) and I's 0.8 for "market"
    assert scores[(14, 24, "target")] == pytest.approx((0.1 + 0.8) / 2)


def test_decode_spans_uses_only_first_subwords(tokenizer) -> None:
    doc = Document("d", "Kharkivska oblast")
    (alignment,) = align(tokenizer, [doc])
    probs = np.zeros((len(alignment), len(ROLES), 3), dtype=np.float32)
    probs[..., OUTSIDE] = 1.0
    location = ROLES.index("location")
    probs[alignment.first_subword[0], location] = [0, 1, 0]
    later = [i for i in range(len(alignment)) if alignment.word_of_subword[i] == 0 and i != alignment.first_subword[0]]
    assert later
    probs[later, location] = [0, 1, 0]  # B on non-first subwords must not split the word
    spans, _ = decode_spans(doc, alignment, probs, TAGS)
    assert spans == [Span(0, 10, "location")]


def test_decode_spans_native_tags_keep_the_surer_duplicate(tokenizer) -> None:
    native = TagSet.from_labels({"PerpInd": "attacker", "PerpOrg": "attacker", "Target": "target"})
    doc = Document("d", "Guerrillas attacked")
    (alignment,) = align(tokenizer, [doc])
    probs = np.zeros((len(alignment), 3, 3), dtype=np.float32)
    probs[..., OUTSIDE] = 1.0
    probs[alignment.first_subword[0], 0] = [0.3, 0.7, 0.0]
    probs[alignment.first_subword[0], 1] = [0.1, 0.9, 0.0]
    spans, scores = decode_spans(doc, alignment, probs, native)
    assert spans == [Span(0, 10, "attacker", "PerpOrg")]
    assert scores == {(0, 10, "attacker"): pytest.approx(0.9)}


def test_word_probabilities_mark_words_without_subwords(tokenizer) -> None:
    # BERT's normaliser deletes a NUL (for us a one-character word): one subword "abc" over five words
    doc = Document("d", "a\x00b\x00c hit")
    (alignment,) = align(tokenizer, [doc])
    probs, has = word_probabilities(alignment, np.ones((len(alignment), 1, 3), dtype=np.float32))
    assert has.tolist() == [True, False, False, False, False, True]
    assert probs[~has].sum() == 0


def test_decode_glued_words_follow_their_host(tokenizer) -> None:
    doc = Document("d", "Raiders a\x00b struck")
    (alignment,) = align(tokenizer, [doc])
    probs = np.zeros((len(alignment), len(ROLES), 3), dtype=np.float32)
    probs[..., OUTSIDE] = 1.0
    probs[alignment.first_subword[1], 0] = [0, 1, 0]
    spans, _ = decode_spans(doc, alignment, probs, TAGS)
    assert [doc.span_text(s) for s in spans] == ["a\x00b"]


def test_constrained_tags_never_leave_an_orphan_inside() -> None:
    from eventroles.data.tags import BEGIN, INSIDE, OUTSIDE
    from eventroles.models.decoding import constrained_tags

    def row(o: float, b: float, i: float) -> list[float]:
        return [o, b, i]

    # head 0: "air" slightly O, "force installations" I -> the best valid reading is B I I
    # head 1: a valid argmax sequence (B I O) is kept as it is
    probs = np.array([
        [row(0.5, 0.45, 0.05), row(0.1, 0.8, 0.1)],
        [row(0.2, 0.1, 0.7), row(0.1, 0.1, 0.8)],
        [row(0.2, 0.1, 0.7), row(0.9, 0.05, 0.05)],
        [row(0.9, 0.05, 0.05), row(0.9, 0.05, 0.05)],
    ])
    tags = constrained_tags(probs)
    assert tags[:, 0].tolist() == [BEGIN, INSIDE, INSIDE, OUTSIDE]
    assert tags[:, 1].tolist() == [BEGIN, INSIDE, OUTSIDE, OUTSIDE]
    # an I that is weak against O after O becomes O rather than a fragment
    weak = np.array([[row(0.9, 0.05, 0.05)], [row(0.4, 0.05, 0.55)], [row(0.9, 0.05, 0.05)]])
    assert constrained_tags(weak)[:, 0].tolist() == [OUTSIDE, OUTSIDE, OUTSIDE]
    assert constrained_tags(np.zeros((0, 2, 3))).shape == (0, 2)


def test_span_probabilities_are_one_softmax_over_all_labels() -> None:
    from eventroles.models.decoding import span_probabilities
    from eventroles.models.network import per_tag_scores

    flat = torch.tensor([[0.0, 2.0, -1.0, 1.5, -1.0], [0.0, -3.0, -3.0, -3.0, -3.0]])  # O, B1, I1, B2, I2
    probs = span_probabilities(per_tag_scores(flat, 2).numpy())
    expected = torch.softmax(flat, dim=-1).numpy()
    assert probs.shape == (2, 2, 3)
    assert np.allclose(probs[:, 0, 1], expected[:, 1]) and np.allclose(probs[:, 1, 1], expected[:, 3])
    assert np.allclose(probs.sum(axis=-1), 1.0, atol=1e-6)
    # both tags beat O on word 0, but only tag 0 beats "everything else": one span, not two
    assert probs[0].argmax(axis=-1).tolist() == [1, 0]
    # the offset lowers every B and I against O
    shifted = span_probabilities(per_tag_scores(flat, 2).numpy(), 3.0)
    assert shifted[0].argmax(axis=-1).tolist() == [0, 0]
