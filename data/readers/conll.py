"""Reader for CoNLL-style token-per-line files, and the ConfliBERT ``cameo_ner`` corpus.

Format: one ``token ... label`` line per token (whitespace separated; the token is the first
column, the label the last), a blank line between sentences, optional ``-DOCSTART-`` lines.
Labels are BIO (``B-X``/``I-X``), IOB1 (``I-X`` opens a span, ``B-X`` only splits two adjacent
spans of one type) or plain IO (``X``); ``O`` is outside. ``scheme="auto"`` picks ``bio`` when any
label has a ``B-``/``I-`` prefix, else ``io``. BIO and IOB1 decode to the same spans; in ``bio``
an ``I-X`` that does not continue an ``X`` span opens one and is counted (``i_without_b_repaired``).

Text: the corpus gives only tokens, so a sentence's text is its tokens joined by single spaces;
without ``-DOCSTART-`` each sentence is one document, with it each block is one document whose
sentences are joined by "\n". Document ids are ``<file stem>-<n>`` (n counts from 0 in the file).
Native types are mapped with ``label_map`` (the native type is the span label); a type not in the
map is counted in ``report.facts`` (``label_not_mapped:<X>``, once per span) and not kept.
Document roles are the values of ``label_map``.

``cameo_ner`` (``read_cameo``): ``<folder>/{train,test}.txt``, ``S`` (source actor) ->
attacker, ``T`` (target actor) -> target, ``R`` not mapped. There is no dev file: a sentence goes
to dev when ``stable_fraction(its text) < 0.10`` (SHA-1, see ``splits.stable_fraction``), so the
``train`` split is the rest of ``train.txt``, and identical sentences never straddle train/dev.
Source and target cover every kind of political interaction, not only attacks, so each document
is marked ``meta["weak"] = True``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..document import Document, Span, clean_spans
from ..problems import CorpusFormatError, CorpusNotFoundError, ReadReport
from ..splits import stable_fraction
from .jsonl import iter_lines

SCHEMES = ("auto", "bio", "iob1", "io")
DOCSTART = "-DOCSTART-"
CAMEO_LABELS = {"S": "attacker", "T": "target"}
CAMEO_SPLITS = ("train", "dev", "test")
CAMEO_DEV_FRACTION = 0.10


@dataclass
class _Token:
    text: str
    label: str
    line: int


@dataclass
class _Block:
    """The sentences of one document, as lists of tokens."""

    line: int
    sentences: list[list[_Token]] = field(default_factory=list)


def _parse_lines(path: Path) -> tuple[list[_Block], bool]:
    """Blocks of sentences; blank lines end sentences (``iter_lines`` skips them, so a gap in
    line numbers marks one). Returns the blocks and whether ``-DOCSTART-`` was seen."""
    blocks: list[_Block] = []
    current: list[_Token] = []
    previous = 0
    has_docstart = False

    def close_sentence() -> None:
        nonlocal current
        if current:
            if not blocks:
                blocks.append(_Block(current[0].line))
            blocks[-1].sentences.append(current)
            current = []

    for number, line in iter_lines(path):
        if number != previous + 1:
            close_sentence()
        previous = number
        columns = line.split()
        if columns[0] == DOCSTART:
            close_sentence()
            has_docstart = True
            blocks.append(_Block(number))
            continue
        if len(columns) < 2:
            raise CorpusFormatError(path, f"expected 'token label', got {line.strip()!r}", line=number, field="label")
        current.append(_Token(columns[0], columns[-1], number))
    close_sentence()
    return [b for b in blocks if b.sentences], has_docstart


def _split_label(label: str, scheme: str, path: Path, line: int) -> tuple[str, str]:
    """``(prefix, type)``: prefix ``B``, ``I`` or ``O``."""
    if label == "O":
        return "O", ""
    if scheme == "io":
        return "I", label
    prefix, dash, kind = label.partition("-")
    if dash and prefix in ("B", "I") and kind:
        return prefix, kind
    raise CorpusFormatError(path, f"label {label!r} is not O, B-X or I-X (scheme {scheme})", line=line, field="label")


def _detect(blocks: list[_Block]) -> str:
    for block in blocks:
        for sentence in block.sentences:
            for token in sentence:
                if token.label[:2] in ("B-", "I-"):
                    return "bio"
    return "io"


def _decode(tokens: list[_Token], scheme: str, path: Path, report: ReadReport) -> list[tuple[int, int, str]]:
    """Token ranges ``[first, last)`` with their native type."""
    runs: list[tuple[int, int, str]] = []
    open_kind, open_at = "", -1
    for index, token in enumerate(tokens):
        prefix, kind = _split_label(token.label, scheme, path, token.line)
        continues = prefix == "I" and kind == open_kind
        if open_kind and (prefix != "I" or not continues):
            runs.append((open_at, index, open_kind))
            open_kind = ""
        if prefix == "O" or continues:
            continue
        if prefix == "I" and scheme == "bio":
            report.add("i_without_b_repaired", f"{path.name}:{token.line}: {token.label}")
        open_kind, open_at = kind, index
    if open_kind:
        runs.append((open_at, len(tokens), open_kind))
    return runs


def _block_text(block: _Block) -> tuple[str, list[list[int]]]:
    """The block's text (tokens joined by spaces, sentences by "\n") and each token's start."""
    pieces: list[str] = []
    starts: list[list[int]] = []
    offset = 0
    for sentence in block.sentences:
        if pieces:
            pieces.append("\n")
            offset += 1
        sentence_starts = []
        for index, token in enumerate(sentence):
            if index:
                pieces.append(" ")
                offset += 1
            sentence_starts.append(offset)
            pieces.append(token.text)
            offset += len(token.text)
        starts.append(sentence_starts)
    return "".join(pieces), starts


def _block_document(
    block: _Block, doc_id: str, text: str, starts: list[list[int]], scheme: str,
    label_map: dict[str, str], corpus: str, path: Path, report: ReadReport,
) -> Document:
    spans: list[Span] = []
    for sentence, sentence_starts in zip(block.sentences, starts):
        for first, last, kind in _decode(sentence, scheme, path, report):
            if kind not in label_map:
                report.note(f"label_not_mapped:{kind}")
                continue
            end = sentence_starts[last - 1] + len(sentence[last - 1].text)
            spans.append(Span(sentence_starts[first], end, label_map[kind], kind))
    meta = {"file": path.name, "line": block.line}
    doc = Document(doc_id, text, spans, frozenset(label_map.values()), corpus, meta)
    return clean_spans(doc, report, where=f"{path.name}:{block.line}")


def read_conll_file(
    path: Path,
    report: ReadReport,
    label_map: dict[str, str],
    corpus: str = "",
    scheme: str = "auto",
    keep: Callable[[str], bool] | None = None,
) -> list[Document]:
    """All documents of one CoNLL/BIO file (see the module docstring); ``keep(text)``, when
    given, selects documents before their labels are decoded (so the report counts only them).
    Labels are still checked in every line, and ids are numbered over the whole file."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; schemes: {', '.join(SCHEMES)}")
    blocks, has_docstart = _parse_lines(path)
    if not has_docstart:  # one document per sentence
        blocks = [_Block(s[0].line, [s]) for b in blocks for s in b.sentences]
    if scheme == "auto":
        scheme = _detect(blocks)
    corpus = corpus or path.parent.name
    docs = []
    for n, block in enumerate(blocks):
        text, starts = _block_text(block)
        if keep is not None and not keep(text):
            for sentence in block.sentences:
                for token in sentence:
                    _split_label(token.label, scheme, path, token.line)
            continue
        docs.append(_block_document(block, f"{path.stem}-{n}", text, starts, scheme, label_map, corpus, path, report))
    return docs


def _is_cameo_dev(text: str) -> bool:
    return stable_fraction(text) < CAMEO_DEV_FRACTION


def read_cameo(folder: Path, split: str, report: ReadReport) -> list[Document]:
    """Registry entry point for ``cameo_ner``: train / dev (10% of train.txt by hash) / test."""
    if split not in CAMEO_SPLITS:
        raise CorpusNotFoundError(f"cameo_ner has no split {split!r}; splits: {', '.join(CAMEO_SPLITS)}")
    keep = {"train": lambda text: not _is_cameo_dev(text), "dev": _is_cameo_dev, "test": None}[split]
    path = folder / ("test.txt" if split == "test" else "train.txt")
    docs = read_conll_file(path, report, CAMEO_LABELS, corpus="cameo", scheme="bio", keep=keep)
    for doc in docs:
        doc.meta["weak"] = True
    return docs
