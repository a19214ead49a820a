"""From documents to model inputs and back: subwords with offsets, labels, windows, decoding.

The flow is one way: character spans -> word tags (per tag head, B/I/O) -> labels on each word's
first subword -> windows of ``max_length`` subwords overlapping by ``stride``. Predictions come
back the same road: each subword's scores are taken from the window where it sits most
centrally, each word takes its first subword's tag, and B/I runs of words become character
spans. Words (``data/words.py``) are backbone-independent, so spans always align to whole words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .document import Document, Span
from .problems import ReadReport
from .tags import BEGIN, IGNORE, INSIDE, OUTSIDE, TagSet
from .words import Words, separators_as_spaces

# Word-shape ids: a small cased signal next to an uncased backbone.
SHAPE_PAD, SHAPE_LOWER, SHAPE_TITLE, SHAPE_UPPER, SHAPE_DIGIT, SHAPE_OTHER = range(6)
NUM_SHAPES = 6

# Word tags for decoding, next to OUTSIDE/BEGIN/INSIDE: a word with no subword of its own, and one
# that lies inside a subword begun in an earlier word ("a\u200bb\u200bc" is one subword over 3 words).
NO_SUBWORD, GLUED = -1, -2


def word_shape(token: str) -> int:
    if not token:
        return SHAPE_OTHER
    if any(ch.isdigit() for ch in token):
        return SHAPE_DIGIT
    if not token[0].isalpha():
        return SHAPE_OTHER
    if token.isupper() and len(token) > 1:
        return SHAPE_UPPER
    if token[0].isupper():
        return SHAPE_TITLE
    return SHAPE_LOWER


@dataclass
class Alignment:
    """A document's subwords (no special tokens) and how they map onto its words."""

    input_ids: np.ndarray  # [n_subwords]
    word_of_subword: np.ndarray  # [n_subwords], -1 when the subword starts in no word
    first_subword: np.ndarray  # [n_words], -1 when no subword starts in the word
    shapes: np.ndarray  # [n_subwords] word-shape ids
    # [n_words] True for a word with no subword of its own inside a subword begun in an earlier
    # word: it shares that word's tag. None (from older callers) means no such word.
    glued: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.input_ids)


def align(tokenizer: Any, docs: Sequence[Document], batch_size: int = 256) -> list[Alignment]:
    """Tokenize whole documents once (no truncation) with the fast tokenizer's offsets."""
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("eventroles needs a fast (Rust) tokenizer: it maps subwords to character offsets")
    out: list[Alignment] = []
    for begin in range(0, len(docs), batch_size):
        chunk = docs[begin : begin + batch_size]
        encoded = tokenizer(
            [separators_as_spaces(doc.text, doc.words) for doc in chunk],
            add_special_tokens=False,
            return_offsets_mapping=True,
            return_attention_mask=False,
            return_token_type_ids=False,
            truncation=False,
            verbose=False,
        )
        for doc, ids, offsets in zip(chunk, encoded["input_ids"], encoded["offset_mapping"]):
            out.append(_align_one(doc, ids, offsets))
    return out


def _align_one(doc: Document, ids: list[int], offsets: list[tuple[int, int]]) -> Alignment:
    words: Words = doc.words
    ends = np.asarray(words.ends, dtype=np.int64)
    starts = np.asarray(words.starts, dtype=np.int64)
    sub_starts = np.asarray([s for s, _ in offsets], dtype=np.int64)
    sub_ends = np.asarray([e for _, e in offsets], dtype=np.int64)
    # The word a subword starts in: the first word whose end lies after the subword's start.
    word = np.searchsorted(ends, sub_starts, side="right")
    inside = (word < len(starts)) & (sub_ends > sub_starts)
    inside[inside] &= starts[word[inside]] <= sub_starts[inside]
    word_of_subword = np.where(inside, word, -1)
    first_subword = np.full(len(starts), -1, dtype=np.int64)
    valid = np.flatnonzero(word_of_subword >= 0)
    # Walk backwards so that the earliest subword of each word wins.
    first_subword[word_of_subword[valid[::-1]]] = valid[::-1]
    word_shapes = np.asarray(
        [word_shape(doc.text[s:e]) for s, e in zip(words.starts, words.ends)] or [0], dtype=np.int64
    )
    shapes = np.where(word_of_subword >= 0, word_shapes[np.maximum(word_of_subword, 0)], SHAPE_OTHER)
    # How far the subwords so far reach; a subword-less word that starts before that is glued.
    reach = np.maximum.accumulate(np.where(word_of_subword >= 0, sub_ends, 0)) if len(ids) else sub_ends
    before = np.searchsorted(sub_starts, starts, side="left")
    glued = (first_subword < 0) & (before > 0)
    glued[glued] &= reach[before[glued] - 1] > starts[glued]
    return Alignment(np.asarray(ids, dtype=np.int64), word_of_subword, first_subword, shapes, glued)


def word_tags(doc: Document, tagset: TagSet, report: ReadReport | None = None) -> np.ndarray:
    """B/I/O per word and tag head; ``IGNORE`` for heads the document's corpus does not annotate,
    and for the words of ``doc.meta["unknown_spans"]`` (``[start, end, role]``: mentions that may
    or may not be the role, such as an argument's unannotated coreferent mentions) in the role's
    heads, so that the loss takes "O or that role" as right there (``network.allowed_labels``)."""
    words = doc.words
    tags = np.full((len(words), len(tagset.tags)), OUTSIDE, dtype=np.int64)
    for head, annotated in enumerate(tagset.annotated(doc)):
        if not annotated:
            tags[:, head] = IGNORE
    if not len(words):
        return tags
    for span in sorted(doc.spans, key=lambda s: (s.start, -s.end)):
        head = tagset.tag_of(span)
        if head is None or tags[0, head] == IGNORE:
            continue
        covered = words.covering(span.start, span.end)
        if covered is None:
            continue
        first, last = covered
        if (tags[first:last, head] != OUTSIDE).any():
            if report is not None:
                report.add("overlapping_span_in_one_tag_skipped", f"{doc.id}: {doc.span_text(span)!r}")
            continue
        tags[first, head] = BEGIN
        tags[first + 1 : last, head] = INSIDE
    _mark_unknown(doc, tagset, tags, report)
    return tags


UNKNOWN_FACT = "mention_trained_as_outside_or_its_role"


def _mark_unknown(doc: Document, tagset: TagSet, tags: np.ndarray, report: ReadReport | None) -> None:
    """After the spans: a gold span's words keep their tags, only outside words become unknown
    (in every head of the role: with native labels, each of its labels). Counts the mentions
    that changed a word (one that is all gold span changes nothing)."""
    for start, end, role in doc.meta.get("unknown_spans", ()):
        covered = doc.words.covering(start, end)
        if covered is None:
            continue
        changed = False
        for head in (h for h, tag_role in enumerate(tagset.roles) if tag_role == role):
            block = tags[covered[0] : covered[1], head]
            changed |= bool((block == OUTSIDE).any())
            block[block == OUTSIDE] = IGNORE
        if changed and report is not None:
            report.note(UNKNOWN_FACT)


def subword_labels(alignment: Alignment, tags: np.ndarray) -> np.ndarray:
    """Word tags placed on each word's first subword; every other subword is ``IGNORE``."""
    labels = np.full((len(alignment), tags.shape[1]), IGNORE, dtype=np.int64)
    has = alignment.first_subword >= 0
    labels[alignment.first_subword[has]] = tags[has]
    return labels


def window_bounds(n_subwords: int, content_length: int, stride: int) -> list[tuple[int, int]]:
    """Windows ``[start, end)`` of at most ``content_length`` subwords, overlapping by ``stride``.

    The last window is shifted back to end at the document's end, so every window is full
    (for documents longer than one window) and nothing is ever truncated.
    """
    if content_length <= 0:
        raise ValueError("content_length must be positive")
    if not 0 <= stride < content_length:
        raise ValueError(f"stride must be in [0, {content_length}), got {stride}")
    if n_subwords <= content_length:
        return [(0, n_subwords)]
    step = content_length - stride
    bounds = []
    start = 0
    while True:
        end = start + content_length
        if end >= n_subwords:
            bounds.append((n_subwords - content_length, n_subwords))
            break
        bounds.append((start, end))
        start += step
    return bounds


def central_window(bounds: Sequence[tuple[int, int]], n_subwords: int) -> np.ndarray:
    """For each subword, the index of the window where it sits most centrally."""
    positions = np.arange(n_subwords)
    best = np.full(n_subwords, -1, dtype=np.int64)
    best_margin = np.full(n_subwords, -1, dtype=np.int64)
    for index, (start, end) in enumerate(bounds):
        inside = (positions >= start) & (positions < end)
        margin = np.minimum(positions - start, end - 1 - positions)
        better = inside & (margin > best_margin)
        best[better] = index
        best_margin[better] = margin[better]
    return best


def untagged_words(tags: np.ndarray, alignment: Alignment) -> np.ndarray:
    """A copy of word tags ``[n_words, heads]`` with ``NO_SUBWORD`` on words that have no subword
    and ``GLUED`` on those inside an earlier word's subword, ready for ``decode_word_tags``."""
    out = np.array(tags, dtype=np.int64, copy=True)
    out[alignment.first_subword < 0] = NO_SUBWORD
    if alignment.glued is not None:
        out[alignment.glued] = GLUED
    return out


def _following_tags(tags: np.ndarray) -> list[int]:
    """For each word, the tag of the next word that has one (OUTSIDE after the last): one pass
    from the end, so that a long run of words without subwords costs linear time, not quadratic."""
    out = [OUTSIDE] * len(tags)
    following = OUTSIDE
    for index in range(len(tags) - 1, -1, -1):
        out[index] = following
        if int(tags[index]) >= 0:
            following = int(tags[index])
    return out


def decode_word_tags(tags: np.ndarray) -> list[tuple[int, int]]:
    """Runs of words ``[first, last)`` from one head's word tags (O/B/I, ``NO_SUBWORD`` for a word
    that has no subword, ``GLUED`` for one inside an earlier word's subword). An I without a B
    starts a span (decoding never leaves an orphan I); a word with no subword continues a span
    only when the next tagged word does; a glued word goes with the word before it."""
    runs: list[tuple[int, int]] = []
    start = -1
    n = len(tags)
    following_tags = _following_tags(tags)
    for index in range(n):
        tag = int(tags[index])
        if tag == GLUED:
            continue
        if tag == NO_SUBWORD:
            if start >= 0:
                if following_tags[index] == INSIDE:
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
        end = n
        while end > start and int(tags[end - 1]) == NO_SUBWORD:
            end -= 1
        runs.append((start, end))
    return runs


def head_runs(doc: Document, tags: np.ndarray) -> list[tuple[int, int, int, int, int]]:
    """``(start_char, end_char, head, first_word, last_word)`` for each decoded run of words."""
    words = doc.words
    return [
        (words.starts[first], words.ends[last - 1], head, first, last)
        for head in range(tags.shape[1])
        for first, last in decode_word_tags(tags[:, head])
    ]


def spans_from_word_tags(doc: Document, tags: np.ndarray, tagset: TagSet) -> list[Span]:
    """Character spans from per-word tags ``[n_words, n_heads]``."""
    return sorted(
        Span(start, end, tagset.roles[head], tagset.tags[head] if tagset.by == "label" else None)
        for start, end, head, _, _ in head_runs(doc, tags)
    )


def round_trip_share(
    tokenizer: Any, docs: Sequence[Document], tagset: TagSet, report: ReadReport | None = None
) -> tuple[int, int]:
    """Encode gold spans to subword labels and decode them back: ``(exact, total)`` spans.

    Only spans whose head is annotated count; a span lost here is a span the model can never
    learn, so the stats command prints the share per corpus.
    """
    exact = total = 0
    for doc, alignment in zip(docs, align(tokenizer, docs)):
        tags = word_tags(doc, tagset, report)
        labels = subword_labels(alignment, tags)
        recovered = np.full_like(tags, OUTSIDE)
        has = alignment.first_subword >= 0
        recovered[has] = labels[alignment.first_subword[has]]
        recovered[recovered == IGNORE] = OUTSIDE
        recovered = untagged_words(recovered, alignment)
        decoded = {(start, end, head) for start, end, head, _, _ in head_runs(doc, recovered)}
        for span in doc.spans:
            head = tagset.tag_of(span)
            if head is None or not tagset.annotated(doc)[head]:
                continue
            total += 1
            exact += (span.start, span.end, head) in decoded
    return exact, total
