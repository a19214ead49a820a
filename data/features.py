"""Training features: documents -> labelled windows of subwords with special tokens added.

Every subword of a long document lands in at least one window (windows overlap by ``stride``),
so nothing is truncated; labels are ``IGNORE`` on special tokens, non-first subwords and heads
whose role the document's corpus does not annotate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .document import Document
from .encoding import align, subword_labels, window_bounds, word_tags
from .problems import ReadReport
from .tags import BEGIN, IGNORE, TagSet


@dataclass
class Window:
    input_ids: np.ndarray  # [length] with special tokens
    shapes: np.ndarray  # [length]
    labels: np.ndarray  # [length, heads]
    source: int  # index of the corpus the window came from
    doc: str
    variant: int = 0  # 1: a window of the document's name-substituted copy (data/substitution.py)

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def has_span(self) -> bool:
        """Whether any head has a span starting in this window (a B tag)."""
        return bool((self.labels == BEGIN).any())


def special_ids(tokenizer: Any) -> tuple[int, int, int]:
    cls_id = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    sep_id = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    if cls_id is None or sep_id is None:
        raise ValueError("the tokenizer has no CLS/SEP (or BOS/EOS) tokens to frame windows with")
    return cls_id, sep_id, tokenizer.pad_token_id or 0


def build_windows(
    docs: Sequence[Document],
    tokenizer: Any,
    tagset: TagSet,
    *,
    max_length: int,
    stride: int,
    source: int = 0,
    report: ReadReport | None = None,
    variant: int = 0,
) -> list[Window]:
    cls_id, sep_id, _ = special_ids(tokenizer)
    content = max_length - 2
    windows: list[Window] = []
    heads = len(tagset.tags)
    for doc, alignment in zip(docs, align(tokenizer, docs)):
        if len(alignment) == 0:
            if report is not None:
                report.add("document_without_subwords_skipped", doc.id)
            continue
        labels = subword_labels(alignment, word_tags(doc, tagset, report))
        for start, end in window_bounds(len(alignment), content, min(stride, content - 1)):
            n = end - start
            ids = np.empty(n + 2, dtype=np.int64)
            ids[0], ids[-1] = cls_id, sep_id
            ids[1:-1] = alignment.input_ids[start:end]
            shapes = np.zeros(n + 2, dtype=np.int64)
            shapes[1:-1] = alignment.shapes[start:end]
            window_labels = np.full((n + 2, heads), IGNORE, dtype=np.int64)
            window_labels[1:-1] = labels[start:end]
            windows.append(Window(ids, shapes, window_labels, source, doc.id, variant))
    return windows


def collate(windows: Sequence[Window], pad_id: int) -> dict[str, Any]:
    """Pad a batch to its longest window; returns torch tensors."""
    import torch

    width = max(len(w) for w in windows)
    heads = windows[0].labels.shape[1]
    ids = np.full((len(windows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(windows), width), dtype=np.int64)
    shapes = np.zeros((len(windows), width), dtype=np.int64)
    labels = np.full((len(windows), width, heads), IGNORE, dtype=np.int64)
    for row, window in enumerate(windows):
        n = len(window)
        ids[row, :n] = window.input_ids
        mask[row, :n] = 1
        shapes[row, :n] = window.shapes
        labels[row, :n] = window.labels
    return {
        "input_ids": torch.from_numpy(ids),
        "attention_mask": torch.from_numpy(mask),
        "shapes": torch.from_numpy(shapes),
        "labels": torch.from_numpy(labels),
    }
