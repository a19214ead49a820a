"""Label new articles: ``Tagger.load(folder)`` then ``tagger(text)``.

Split as preprocess (words, subwords, windows) -> forward (length-sorted batches under the
chosen precision) -> postprocess (window merge, decoding to character spans). Offsets in the
output always index the text given.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import torch

from eventroles.data.document import Document, unpaired_surrogate
from eventroles.data.encoding import Alignment, align, window_bounds

from .decoding import decode_spans, merge_windows, span_probabilities
from .entities import entity_ids
from .network import RoleTagger
from .precision import autocast, quantize_int8, resolve_device, resolve_precision
from .storage import ModelMeta, load_model

log = logging.getLogger(__name__)

CPU_MAX_TOKENS = 2048


@dataclass
class WindowBatchItem:
    doc: int
    window: int
    start: int
    end: int


@dataclass
class Prepared:
    docs: list[Document]
    alignments: list[Alignment]
    bounds: list[list[tuple[int, int]]]


class Tagger:
    """A trained model ready to label text on a device at a precision."""

    def __init__(
        self,
        model: RoleTagger,
        tokenizer: Any,
        meta: ModelMeta,
        *,
        device: str = "auto",
        precision: str = "auto",
        batch_size: int = 32,
        max_length: int | None = None,
        stride: int | None = None,
        max_tokens: int | str | None = "auto",
        span_logit_offset: float | None = None,
    ) -> None:
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        self.meta = meta
        self.tokenizer = tokenizer
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a whole number of windows, 1 or more, not {batch_size!r}")
        self.batch_size = batch_size
        # Subwords per forward pass on a CPU: 8 full windows keep the activations in cache (about
        # 15% faster than 32 full windows on one AVX2 core), and short windows still batch up to
        # ``batch_size``. "auto" is that on a CPU and no budget on a GPU; None is no budget.
        if max_tokens == "auto":
            max_tokens = CPU_MAX_TOKENS if self.device.type == "cpu" else None
        self.max_tokens: int | None = None if max_tokens is None else int(max_tokens)
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError(f"max_tokens must be 1 or more subwords per forward pass, or None for no budget, not {max_tokens!r}")
        # None: the model's own (calibrated on the dev splits after training, or log(span_weight)).
        self.span_logit_offset = meta.span_logit_offset if span_logit_offset is None else span_logit_offset
        self.max_length = max_length or meta.max_length
        self.stride = meta.stride if stride is None else stride
        positions = int(meta.backbone_config.get("max_position_embeddings") or self.max_length)
        if not 8 <= self.max_length <= positions:
            raise ValueError(f"max_length {self.max_length}: the backbone has {positions} positions; give 8 to {positions}")
        if self.stride < 0:
            raise ValueError(f"stride {self.stride}: the subwords two windows share cannot be negative; give 0 or more")
        if self.stride >= self.max_length - 2:
            raise ValueError(f"stride {self.stride} must be smaller than max_length - 2 ({self.max_length - 2}): "
                             "windows would advance one subword at a time")
        model = model.eval()
        if self.precision == "int8":
            model = quantize_int8(model)
        self.model = model.to(self.device)
        self.cls_id = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
        self.sep_id = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
        self.pad_id = tokenizer.pad_token_id or 0

    @classmethod
    def load(cls, folder: str | Path, device: str = "auto", precision: str = "auto", **options: Any) -> "Tagger":
        model, tokenizer, meta = load_model(Path(folder).expanduser())
        return cls(model, tokenizer, meta, device=device, precision=precision, **options)

    # -- public API ---------------------------------------------------------------------------
    def __call__(self, texts: str | Sequence[str]) -> Any:
        """Spans for one text (a list of dicts) or for a list of texts (a list of such lists)."""
        single = isinstance(texts, str)
        batch = [texts] if single else _text_list(texts)
        docs = [Document(str(i), text, roles=frozenset(self.meta.tagset.roles)) for i, text in enumerate(batch)]
        results = [span_dicts(doc) for doc in self.predict_documents(docs)]
        return results[0] if single else results

    def predict_documents(self, docs: Sequence[Document]) -> list[Document]:
        """Copies of ``docs`` whose spans are the predictions (scores in ``meta['span_scores']``)."""
        prepared = self.preprocess(list(docs))
        return self.postprocess(prepared, self.forward(prepared))

    def pipe(self, docs: Iterable[Document], chunk_size: int = 64) -> Iterator[Document]:
        """Stream predictions, holding only ``chunk_size`` documents in memory at a time."""
        chunk: list[Document] = []
        for doc in docs:
            chunk.append(doc)
            if len(chunk) >= chunk_size:
                yield from self.predict_documents(chunk)
                chunk = []
        if chunk:
            yield from self.predict_documents(chunk)

    # -- stages ------------------------------------------------------------------------------
    def preprocess(self, docs: Sequence[Document]) -> Prepared:
        for index, doc in enumerate(docs):
            if not isinstance(doc, Document):
                hint = ": call the tagger itself on strings" if isinstance(doc, str) else ""
                raise TypeError(f"documents must be eventroles.Document(id, text), but item {index} is a "
                                f"{type(doc).__name__}{hint}")
            surrogate = unpaired_surrogate(doc.text)
            if surrogate is not None:  # the tokenizer's own error names no document
                raise ValueError(f"document {doc.id!r}: its text holds an unpaired surrogate at character "
                                 f"{surrogate} (not valid Unicode text)")
        alignments = align(self.tokenizer, docs)
        bounds = [document_windows(len(a), self.max_length, self.stride) for a in alignments]
        return Prepared(list(docs), alignments, bounds)

    @torch.inference_mode()
    def forward(self, prepared: Prepared) -> list[list[np.ndarray]]:
        """The network's scores per document and window, ``[window_length, heads, 3]`` each."""
        items = [
            WindowBatchItem(d, w, s, e)
            for d, doc_bounds in enumerate(prepared.bounds)
            for w, (s, e) in enumerate(doc_bounds)
            if e > s
        ]
        items.sort(key=lambda item: item.end - item.start, reverse=True)
        out: list[list[np.ndarray]] = [[np.zeros((0,))] * len(b) for b in prepared.bounds]
        use_shapes = self.meta.word_shape
        for batch in self._batches(items):
            width = max(item.end - item.start for item in batch) + 2
            ids = np.full((len(batch), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            shapes = np.zeros((len(batch), width), dtype=np.int64)
            for row, item in enumerate(batch):
                alignment = prepared.alignments[item.doc]
                n = item.end - item.start
                ids[row, 0] = self.cls_id
                ids[row, 1 : n + 1] = alignment.input_ids[item.start : item.end]
                ids[row, n + 1] = self.sep_id
                mask[row, : n + 2] = 1
                if use_shapes:
                    shapes[row, 1 : n + 1] = alignment.shapes[item.start : item.end]
            with autocast(self.device, self.precision):
                logits = self.model(
                    torch.from_numpy(ids).to(self.device),
                    torch.from_numpy(mask).to(self.device),
                    torch.from_numpy(shapes).to(self.device) if use_shapes else None,
                )
            scores = logits.float().cpu().numpy()
            for row, item in enumerate(batch):
                out[item.doc][item.window] = scores[row, 1 : item.end - item.start + 1]
        return out

    def _batches(self, items: list[WindowBatchItem]) -> Iterator[list[WindowBatchItem]]:
        """Consecutive runs of the length-sorted windows: at most ``batch_size`` windows and, when
        ``max_tokens`` is set, at most that many subwords of padded batch (never less than one window)."""
        begin = 0
        while begin < len(items):
            rows = self.batch_size
            if self.max_tokens is not None:
                width = items[begin].end - items[begin].start + 2
                rows = max(1, min(rows, self.max_tokens // width))
            yield items[begin : begin + rows]
            begin += rows

    def postprocess(
        self, prepared: Prepared, window_scores: list[list[np.ndarray]], span_logit_offset: float | None = None
    ) -> list[Document]:
        """Spans from the forward pass's scores; ``span_logit_offset`` (default: the tagger's)
        lowers B and I scores before the softmax, so one forward pass can be decoded at many."""
        offset = self.span_logit_offset if span_logit_offset is None else span_logit_offset
        results = []
        for doc, alignment, bounds, doc_scores in zip(prepared.docs, prepared.alignments, prepared.bounds, window_scores):
            if len(alignment) == 0:
                spans, scores = [], {}
            else:
                merged = span_probabilities(merge_windows(len(alignment), bounds, doc_scores), offset)
                spans, scores = decode_spans(doc, alignment, merged, self.meta.tagset)
            meta = {**doc.meta, "span_scores": scores, "span_entities": entity_ids(doc, spans)}
            out = Document(doc.id, doc.text, spans, frozenset(self.meta.tagset.roles), doc.corpus, meta)
            results.append(out)
        return results


def _text_list(texts: Any) -> list[str]:
    """A list of texts from any iterable of str; a mapping, set or single non-text object is
    refused (a dict would tag its keys, a set in an order no one can match back to the inputs)."""
    if isinstance(texts, (bytes, bytearray)):
        raise TypeError("the tagger takes text (str), not bytes: decode it first, e.g. data.decode('utf-8')")
    if isinstance(texts, (dict, set, frozenset, Document)) or not isinstance(texts, Iterable):
        raise TypeError(f"the tagger takes a str or a list of str, not {type(texts).__name__}")
    batch = list(texts)
    for index, text in enumerate(batch):
        if not isinstance(text, str):
            raise TypeError(f"the tagger takes a str or a list of str, but item {index} is a {type(text).__name__}")
    return batch


def document_windows(n_subwords: int, max_length: int, stride: int) -> list[tuple[int, int]]:
    """Windows ``[start, end)`` over a document's subwords (``max_length`` counts [CLS] and [SEP]).

    Balanced: a document longer than one window gets the fewest windows that overlap by at least
    ``stride`` (as ``window_bounds`` would), but all of one length, as short as that allows and
    evenly spread, instead of full windows with the last one shifted back over its neighbour.
    Fewer subwords are computed twice (13% fewer window tokens on MUC-4 articles at 256/64) and
    attention spans are shorter; every subword still sits in a window with context both sides.
    """
    content = max_length - 2
    stride = min(stride, content - 1)
    if n_subwords <= content:
        return [(0, n_subwords)]
    count = len(window_bounds(n_subwords, content, stride))
    length = min(content, -(-(n_subwords + (count - 1) * stride) // count))
    while True:
        starts = [index * (n_subwords - length) // (count - 1) for index in range(count)]
        if length >= content or all(b - a <= length - stride for a, b in zip(starts, starts[1:])):
            return [(start, start + length) for start in starts]
        length += 1


def span_dicts(doc: Document) -> list[dict[str, Any]]:
    """A predicted document's spans as the tagger returns them for a string (JSON-ready dicts)."""
    scores = doc.meta.get("span_scores", {})
    entities = doc.meta.get("span_entities", {})
    out = []
    for span in doc.spans:
        key = (span.start, span.end, span.role)
        item: dict[str, Any] = {
            "start": span.start,
            "end": span.end,
            "role": span.role,
            "text": doc.span_text(span),
            "score": round(float(scores.get(key, 0.0)), 4),
        }
        if span.label:
            item["label"] = span.label
        if key in entities:
            item["entity"] = entities[key]
        out.append(item)
    return out
