"""The one representation of an annotated article used everywhere in eventroles.

A ``Document`` holds the original text and spans as character offsets into it: offsets are the
single source of truth; words, subwords and BIO tags are derived from them. ``roles`` is the set
of roles the document's corpus annotates, so "no time span here" can be told apart from "time
is not annotated in this corpus".
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable

from .problems import ReadReport
from .roles import ROLES
from .words import Words, snap_to_words, split_words


@dataclass(frozen=True)
class Span:
    """A role span ``text[start:end]``; ``label`` is the corpus-native label, when kept.

    Spans sort by ``sort_key`` = (start, end, role, label or ""), so that a span without a
    label sorts before a labelled one at the same place instead of raising TypeError (the
    dataclass ordering compared ``None`` with ``str``).
    """

    start: int
    end: int
    role: str
    label: str | None = None

    @property
    def sort_key(self) -> tuple[int, int, str, str]:
        return (self.start, self.end, self.role, self.label or "")

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Span):
            return NotImplemented
        return self.sort_key < other.sort_key

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Span):
            return NotImplemented
        return self.sort_key <= other.sort_key

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Span):
            return NotImplemented
        return self.sort_key > other.sort_key

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Span):
            return NotImplemented
        return self.sort_key >= other.sort_key

    def text_in(self, text: str) -> str:
        return text[self.start : self.end]


@dataclass
class Document:
    id: str
    text: str
    spans: list[Span] = field(default_factory=list)
    roles: frozenset[str] = frozenset(ROLES)
    corpus: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    # The words and the text they were split from: a copy made with dataclasses.replace(text=...),
    # or a text assigned later, must not reuse another text's word offsets.
    _words: tuple[str, Words] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Checked here, not where a writer or the tokenizer would fail on them far from the cause.
        if not isinstance(self.id, str):
            raise TypeError(f"Document id must be a str, not {type(self.id).__name__} ({self.id!r}): "
                            f"write Document(str(...), text)")
        if not isinstance(self.text, str):
            raise TypeError(f"document {self.id!r}: text must be a str, not {type(self.text).__name__}")

    @property
    def words(self) -> Words:
        cached = self._words
        if cached is None or (cached[0] is not self.text and cached[0] != self.text):
            cached = self._words = (self.text, split_words(self.text))
        return cached[1]

    def span_text(self, span: Span) -> str:
        return self.text[span.start : span.end]

    def with_spans(self, spans: Iterable[Span]) -> "Document":
        return replace(self, spans=sorted(spans), _words=self._words)

    def blank(self) -> "Document":
        """The text a model may see when it is scored: no gold spans, no gold metadata."""
        return Document(self.id, self.text, [], self.roles, self.corpus, {}, self._words)


def unpaired_surrogate(text: str) -> int | None:
    """Where ``text`` holds a lone surrogate (a JSON "\\ud800" escape makes one): it is not valid
    Unicode, and fails far from its source when encoded (tokenizer, writer); None if there is none."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return error.start
    return None


def clean_spans(doc: Document, report: ReadReport, where: str = "", *, drop_nested: bool = True) -> Document:
    """Repair what can be repaired safely, counting each repair in ``report``.

    - a span that covers part of a word is widened to whole words (``span_snapped_to_words``);
    - a span over whitespace only is dropped (``span_empty_dropped``);
    - an exact duplicate is dropped (``duplicate_span_dropped``);
    - of two overlapping spans of the same role and native label, the shorter is dropped, since
      one BIO sequence per label cannot hold both (``nested_same_role_dropped``), unless
      ``drop_nested`` is False: the project's own files (exports, predictions) are read as
      written, and the encoder and the scorer count what one BIO sequence cannot hold.
    Offsets outside the text (or ``start >= end``) are a reader bug or a format error that
    should be raised before this; here they raise ``ValueError`` naming the document and span.
    """
    label = where or doc.id
    words = doc.words
    snapped: list[Span] = []
    for span in doc.spans:
        if not 0 <= span.start < span.end <= len(doc.text):
            raise ValueError(
                f"{label}: span {span.role} [{span.start}, {span.end}) is outside the text "
                f"of document {doc.id!r} ({len(doc.text)} characters) or empty"
            )
        bounds = snap_to_words(words, span.start, span.end)
        if bounds is None:
            report.add("span_empty_dropped", f"{label}: {span.role} {doc.span_text(span)!r}")
            continue
        if bounds != (span.start, span.end):
            report.add(
                "span_snapped_to_words",
                f"{label}: {doc.span_text(span)!r} -> {doc.text[bounds[0]:bounds[1]]!r}",
            )
            span = replace(span, start=bounds[0], end=bounds[1])
        snapped.append(span)

    kept: list[Span] = []
    seen: set[tuple[int, int, str, str | None]] = set()
    # Longest first, so that the shorter of two overlapping same-role spans is the one dropped.
    for span in sorted(snapped, key=lambda s: (-(s.end - s.start), s.start, s.role, s.label or "")):
        key = (span.start, span.end, span.role, span.label)
        if key in seen:
            report.add("duplicate_span_dropped", f"{label}: {span.role} {doc.span_text(span)!r}")
            continue
        clash = next(
            (
                k
                for k in kept
                if drop_nested
                and (k.role, k.label) == (span.role, span.label)
                and k.start < span.end
                and span.start < k.end
            ),
            None,
        )
        if clash is not None:
            report.add(
                "nested_same_role_dropped",
                f"{label}: {span.role} {doc.span_text(span)!r} inside {doc.span_text(clash)!r}",
            )
            continue
        seen.add(key)
        kept.append(span)
    return doc.with_spans(kept)
