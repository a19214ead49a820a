"""Errors and counted repairs found while reading corpora.

Two kinds of trouble: a fatal ``CorpusFormatError`` that names the file, line (or document) and
field at fault, and a ``ReadReport`` that counts every repair or drop a reader made, so nothing
is lost silently. ``eventroles data stats`` prints the report.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


class CorpusError(Exception):
    """Base class for user-facing data errors (caught by the CLI and printed without traceback)."""


class CorpusFormatError(CorpusError):
    """A file does not follow its format; says where and which field."""

    def __init__(
        self,
        path: str | Path,
        message: str,
        *,
        line: int | None = None,
        doc_id: str | None = None,
        field: str | None = None,
    ) -> None:
        self.path = str(path)
        self.line = line
        self.doc_id = doc_id
        self.field = field
        where = self.path
        if line is not None:
            where += f", line {line}"
        if doc_id is not None:
            where += f", document {doc_id!r}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {message}")


class CorpusNotFoundError(CorpusError):
    """A corpus, split or file that is not where it should be."""


MAX_EXAMPLES = 5


@dataclass
class ReadReport:
    """Counts of what a reader adjusted or dropped, with a few examples of each kind.

    ``kind`` strings are short snake_case names such as ``span_snapped_to_words`` or
    ``mention_not_found``; ``add`` records one occurrence.
    """

    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    # Free-form numbers a reader wants shown (e.g. ``silver_time_recovered``), not problems.
    facts: Counter[str] = field(default_factory=Counter)

    def add(self, kind: str, example: str = "", n: int = 1) -> None:
        self.counts[kind] += n
        if example:
            bucket = self.examples.setdefault(kind, [])
            if len(bucket) < MAX_EXAMPLES:
                bucket.append(example)

    def note(self, fact: str, n: int = 1) -> None:
        self.facts[fact] += n

    def merge(self, other: "ReadReport") -> None:
        self.counts.update(other.counts)
        self.facts.update(other.facts)
        for kind, items in other.examples.items():
            bucket = self.examples.setdefault(kind, [])
            bucket.extend(items[: MAX_EXAMPLES - len(bucket)])

    def as_dict(self) -> dict:
        return {
            "adjusted_or_dropped": dict(sorted(self.counts.items())),
            "examples": {k: v for k, v in sorted(self.examples.items())},
            "facts": dict(sorted(self.facts.items())),
        }

    def summary(self, exclude: tuple[str, ...] = ()) -> str:
        """The counts in one line ("span snapped to words: 3; ..."), ``exclude``'s kinds left out."""
        return "; ".join(f"{kind.replace('_', ' ')}: {n}" for kind, n in sorted(self.counts.items())
                         if n and kind not in exclude)

    def __bool__(self) -> bool:
        return bool(self.counts or self.facts)
