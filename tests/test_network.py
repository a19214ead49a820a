"""The tagging layer: shared outside score, per-tag triples, and the partial-label loss."""

from __future__ import annotations

import math

import pytest
import torch

from eventroles.data.tags import BEGIN, IGNORE, INSIDE, OUTSIDE
from eventroles.models.network import allowed_labels, flat_scores, per_tag_scores, tagging_loss


def test_per_tag_triples_share_the_outside_score_and_round_trip() -> None:
    flat = torch.randn(2, 5, 1 + 2 * 3)
    triples = per_tag_scores(flat, 3)
    assert triples.shape == (2, 5, 3, 3)
    for head in range(3):
        assert torch.equal(triples[..., head, 0], flat[..., 0])
        assert torch.equal(triples[..., head, 1], flat[..., 1 + 2 * head])
        assert torch.equal(triples[..., head, 2], flat[..., 2 + 2 * head])
    assert torch.equal(flat_scores(triples), flat)


def test_allowed_labels_follow_the_annotation() -> None:
    # heads: attacker (annotated), time (not annotated by this corpus)
    labels = torch.tensor([
        [OUTSIDE, IGNORE],  # unlabelled for time: O or a time span is right
        [BEGIN, IGNORE],  # inside an attacker span: only B-attacker
        [INSIDE, BEGIN],  # two overlapping spans: I-attacker or B-time
        [IGNORE, IGNORE],  # a continuation subword: not scored
        [OUTSIDE, OUTSIDE],  # both annotated and outside: only O
    ])
    allowed, scored, in_span = allowed_labels(labels)
    # flat order: O, B-attacker, I-attacker, B-time, I-time
    assert allowed.tolist() == [
        [True, False, False, True, True],
        [False, True, False, False, False],
        [False, False, True, True, False],
        [True, True, True, True, True],  # (not scored)
        [True, False, False, False, False],
    ]
    assert scored.tolist() == [True, True, True, False, True]
    assert in_span.tolist() == [False, True, True, False, False]


def test_loss_is_the_recipe_cross_entropy_when_everything_is_annotated() -> None:
    torch.manual_seed(0)
    triples = per_tag_scores(torch.randn(1, 6, 5), 2)
    labels = torch.tensor([[[OUTSIDE, OUTSIDE], [BEGIN, OUTSIDE], [INSIDE, OUTSIDE],
                            [OUTSIDE, BEGIN], [IGNORE, IGNORE], [OUTSIDE, OUTSIDE]]])
    flat_target = torch.tensor([0, 1, 2, 3, -100, 0])
    expected = torch.nn.functional.cross_entropy(flat_scores(triples)[0], flat_target, ignore_index=-100)
    assert tagging_loss(triples, labels).item() == pytest.approx(expected.item(), rel=1e-6)


def test_an_unannotated_role_is_never_taught_as_absent() -> None:
    """A corpus without time: a confident time span on an unlabelled word costs nothing more
    than a confident O would."""
    flat = torch.tensor([[[0.0, -5.0, -5.0, 8.0, -5.0]]])  # the model says B-time
    labels_no_time = torch.tensor([[[OUTSIDE, IGNORE]]])
    labels_with_time = torch.tensor([[[OUTSIDE, OUTSIDE]]])
    free = tagging_loss(per_tag_scores(flat, 2), labels_no_time).item()
    taught = tagging_loss(per_tag_scores(flat, 2), labels_with_time).item()
    assert free < 0.01 < 7.0 < taught
    assert free == pytest.approx(-math.log((math.exp(0.0) + math.exp(8.0) + math.exp(-5.0))
                                          / sum(math.exp(v) for v in flat[0, 0].tolist())), abs=1e-6)


def test_a_batch_with_no_labels_gives_zero_loss_with_a_gradient() -> None:
    triples = per_tag_scores(torch.randn(1, 3, 3, requires_grad=True), 1)
    loss = tagging_loss(triples, torch.full((1, 3, 1), IGNORE))
    loss.backward()
    assert loss.item() == 0.0
