"""From subword scores to character spans, free of the network (unit-tested with arrays).

Merge rule for long documents: each subword's scores come from the window where it sits most
centrally. Each word takes its first subword's scores; per head, the most probable valid B/I/O
sequence (no I after O: Viterbi where the argmax has an orphan I) is decoded into runs of
words, and a span's score is the mean probability of the tags chosen over its words.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from eventroles.data.document import Document, Span
from eventroles.data.encoding import Alignment, central_window, decode_word_tags, untagged_words
from eventroles.data.tags import BEGIN, INSIDE, OUTSIDE, TagSet


def merge_windows(
    n_subwords: int, bounds: Sequence[tuple[int, int]], window_probs: Sequence[np.ndarray]
) -> np.ndarray:
    """``[n_subwords, heads, 3]`` probabilities, each row from its most central window."""
    if n_subwords == 0:
        heads = window_probs[0].shape[1] if window_probs else 0
        return np.zeros((0, heads, 3), dtype=np.float32)
    owner = central_window(bounds, n_subwords)
    merged = np.empty((n_subwords, *window_probs[0].shape[1:]), dtype=np.float32)
    for index, (start, end) in enumerate(bounds):
        rows = np.flatnonzero(owner == index)
        if len(rows):
            merged[rows] = window_probs[index][rows - start]
    return merged


def span_probabilities(scores: np.ndarray, span_logit_offset: float = 0.0) -> np.ndarray:
    """Per-tag probabilities ``[..., heads, 3]`` (not this tag, B, I) from the network's scores.

    One softmax over every label (O, B-tag1, I-tag1, ...), as the model was trained; for each
    tag, "O" is then everything that is not that tag's B or I. Why not a softmax per tag
    against the shared O: two tags that both beat O would both be output, and dev F1 was
    1.3 (sample), 2.6 (WikiEvents) points lower that way (docs/benchmarks.md).
    ``span_logit_offset`` is subtracted from every B and I score first: a model trained with a
    span-weighted loss over-predicts spans by that weight, and a calibrated offset is a
    threshold that means the same on every corpus.
    """
    scores = scores.astype(np.float32, copy=False)
    outside = scores[..., 0, 0]
    spans = scores[..., 1:].reshape(*scores.shape[:-2], -1) - span_logit_offset  # B1, I1, B2, I2...
    flat = np.concatenate([outside[..., None], spans], axis=-1)
    flat -= flat.max(axis=-1, keepdims=True)
    np.exp(flat, out=flat)
    flat /= flat.sum(axis=-1, keepdims=True)
    begin, inside = flat[..., 1::2], flat[..., 2::2]
    return np.stack([np.clip(1.0 - begin - inside, 0.0, 1.0), begin, inside], axis=-1)


def word_probabilities(alignment: Alignment, subword_probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-word probabilities ``[n_words, heads, 3]`` and a mask of words that have a subword."""
    has = alignment.first_subword >= 0
    probs = np.zeros((len(alignment.first_subword), *subword_probs.shape[1:]), dtype=np.float32)
    probs[has] = subword_probs[alignment.first_subword[has]]
    return probs, has


_FORBIDDEN = -1e9
# Transition scores [from, to] of a valid B/I/O sequence: I never follows O (nor starts one).
_TRANSITIONS = np.zeros((3, 3))
_TRANSITIONS[OUTSIDE, INSIDE] = _FORBIDDEN


def constrained_tags(probs: np.ndarray) -> np.ndarray:
    """The most probable *valid* tag sequence per head: ``[n_words, heads, 3]`` -> ``[n_words, heads]``.

    Why: independent argmaxes leave orphan I tags ("air" O, "force installations" I), which
    decode into fragments. Where a head's argmax sequence is already valid it is also the best
    valid one, so Viterbi runs only for heads with an orphan I.
    """
    tags = probs.argmax(axis=-1)
    if len(tags) == 0:
        return tags
    previous = np.vstack([np.full((1, tags.shape[1]), OUTSIDE), tags[:-1]])
    broken = np.flatnonzero(((tags == INSIDE) & (previous == OUTSIDE)).any(axis=0))
    if len(broken) == 0:
        return tags
    logp = np.log(np.maximum(probs[:, broken].astype(np.float64), 1e-12))  # [n, h, 3]
    n, h = logp.shape[:2]
    score = logp[0].copy()
    score[:, INSIDE] += _FORBIDDEN
    back = np.zeros((n, h, 3), dtype=np.int8)
    for t in range(1, n):
        candidates = score[:, :, None] + _TRANSITIONS[None]  # [h, from, to]
        back[t] = candidates.argmax(axis=1)
        score = candidates.max(axis=1) + logp[t]
    path = np.empty((n, h), dtype=np.int64)
    path[-1] = score.argmax(axis=-1)
    rows = np.arange(h)
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, rows, path[t]]
    tags[:, broken] = path
    return tags


def decode_spans(
    doc: Document, alignment: Alignment, subword_probs: np.ndarray, tagset: TagSet
) -> tuple[list[Span], dict[tuple[int, int, str], float]]:
    """Spans and their scores for one document.

    Vectorised where it counts: span scores come from running sums over words (not one mean
    per span), heads with no B or I tag are not walked, and spans are sorted on plain tuples.
    """
    probs, has = word_probabilities(alignment, subword_probs)
    tags = np.full(probs.shape[:2], OUTSIDE, dtype=np.int64)
    tags[has] = constrained_tags(probs[has])
    # the probability of the tag each word was given (Viterbi may choose a non-argmax tag)
    chosen = np.take_along_axis(probs, tags[..., None], axis=-1)[..., 0]
    chosen = np.where(has[:, None], chosen, 0.0).astype(np.float64)
    tags = untagged_words(tags, alignment)
    sums = np.concatenate([np.zeros((1, chosen.shape[1])), np.cumsum(chosen, axis=0)])
    counts = np.concatenate([[0], np.cumsum(has)])
    words = doc.words
    best: dict[tuple[int, int, str], tuple[float, str | None]] = {}
    for head in np.flatnonzero(((tags == BEGIN) | (tags == INSIDE)).any(axis=0)):
        runs = decode_word_tags(tags[:, head])
        if not runs:
            continue
        first, last = np.asarray(runs).T
        n = counts[last] - counts[first]
        scores = np.where(n > 0, (sums[last, head] - sums[first, head]) / np.maximum(n, 1), 0.0)
        role = tagset.roles[head]
        label = tagset.tags[head] if tagset.by == "label" else None
        for a, b, score in zip(first.tolist(), last.tolist(), scores.tolist()):
            key = (words.starts[a], words.ends[b - 1], role)
            # Two native tags of one role on the same words: keep the surer one.
            if key not in best or score > best[key][0]:
                best[key] = (score, label)
    order = sorted(best, key=lambda key: (*key, best[key][1] or ""))
    return [Span(*key, best[key][1]) for key in order], {key: best[key][0] for key in order}
