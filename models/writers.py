"""Writing labelled documents as they come: JSON lines, a CSV table of spans, CoNLL columns,
one HTML page or a text table.

Every writer streams: ``begin()``, then ``write(doc)`` per document, then ``end()``; nothing
is held back, so an archive of any size can pass through.

- ``jsonl``: one object per document, ``{"id", "text", "spans": [{"start", "end", "role",
  "text", "score", "entity"}], "roles", "source"}`` (plus ``label`` on spans of models trained on
  native labels; ``roles``: what the model outputs; ``source``: the file, and line, read; plus
  ``fields``, a JSON-lines input's other fields as they were): the format ``eventroles evaluate
  --predictions`` reads. ``text[start:end] == span["text"]`` always.
- ``csv``: one row per span (``id, source, start, end, role, label, text, score, entity,
  fields``), a document without spans as one row with empty span columns; ``fields`` is the
  input line's other fields as one JSON object (empty when it had none).
- ``conll``: one block per document: ``# id = ...``, ``# fields = {...}`` (only when the input
  line had other fields; one JSON object, its control characters written as JSON escapes, as in
  the ``# id`` line) and ``# columns = ...`` comment lines, then
  one line per word (``data/words.py`` words, never containing whitespace) with tab-separated
  columns ``word start end`` followed by one BIO column per tag head of the model (``B-attacker``,
  ``I-attacker`` or ``O``; for a model trained on native labels the heads are those labels);
  one column per head because spans of different roles may overlap. A blank line ends a block.
- ``html``: a self-contained page (inline CSS, no script): a legend, then each article (under its
  id and, when the input line had other fields, a list of them) with its spans highlighted, one
  colour per role. Overlapping spans are drawn by cutting the text at
  every span boundary and nesting one ``<mark>`` per covering span in each piece; every mark
  carries ``data-span`` (the span's index in the document) and a tooltip (role, label, score).
- ``text``: for a terminal: per document a ``== id: N spans`` line, a ``fields:`` line (one JSON
  object, only when the input line had other fields), then one line per span in text order.
"""

from __future__ import annotations

import csv
import html
import json
import re
from typing import Any, Sequence, TextIO

from eventroles.data.document import Document, Span
from eventroles.data.readers.jsonl import json_line
from eventroles.data.roles import ROLES

from .inference import span_dicts

FORMATS = ("jsonl", "csv", "conll", "html", "text")
SUFFIX_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".conll": "conll", ".html": "html", ".htm": "html",
                  ".txt": "text"}

# Background and border per role: four clearly different hues plus a fifth for weapon.
COLOURS = {
    "attacker": ("#ffc9c9", "#d62828"),
    "target": ("#ffe0a8", "#e07b00"),
    "location": ("#c8f0c8", "#2a9d3a"),
    "time": ("#c9dcff", "#2f5fd0"),
    "weapon": ("#e6ccff", "#8a3fd1"),
}
OTHER_COLOUR = ("#e0e0e0", "#707070")


# -- records ----------------------------------------------------------------------------------
def doc_record(doc: Document) -> dict[str, Any]:
    """The JSON-lines object of one labelled document: ``roles`` are those the model outputs (so
    that ``evaluate --predictions`` does not count a role it cannot output as missed), ``source``
    the file (and line) it was read from, when known, and ``fields`` the input line's other
    fields (a URL, a date), as they were, when it had any."""
    roles = [role for role in ROLES if role in doc.roles] + sorted(doc.roles - set(ROLES))  # the schema's order
    record: dict[str, Any] = {"id": doc.id, "text": doc.text, "spans": span_dicts(doc), "roles": roles}
    if doc.meta.get("source") is not None:
        record["source"] = str(doc.meta["source"])
    if doc.meta.get("fields"):
        record["fields"] = doc.meta["fields"]
    return record


def record_document(record: dict[str, Any]) -> Document:
    """Back from ``doc_record`` (used to merge the part files of a multi-process run)."""
    spans = [Span(s["start"], s["end"], s["role"], s.get("label")) for s in record["spans"]]
    scores = {(s["start"], s["end"], s["role"]): s.get("score", 0.0) for s in record["spans"]}
    entities = {(s["start"], s["end"], s["role"]): s["entity"] for s in record["spans"] if "entity" in s}
    meta: dict[str, Any] = {"span_scores": scores, "span_entities": entities}
    if "source" in record:
        meta["source"] = record["source"]
    if "fields" in record:
        meta["fields"] = record["fields"]
    return Document(record["id"], record["text"], spans, frozenset(record.get("roles", ROLES)), meta=meta)


# -- writers ----------------------------------------------------------------------------------
class Writer:
    """Base writer: subclasses override ``write`` and, where needed, ``begin`` and ``end``."""

    def __init__(
        self, handle: TextIO, columns: Sequence[str] = ROLES, roles: Sequence[str] = ROLES, title: str = ""
    ) -> None:
        self.handle = handle
        self.columns = tuple(columns)  # one per tag head of the model (conll)
        self.roles = tuple(dict.fromkeys(roles))  # the roles the model outputs (html legend)
        self.title = title
        self.count = 0

    def begin(self) -> None:
        pass

    def write(self, doc: Document) -> None:
        raise NotImplementedError

    def end(self) -> None:
        self.handle.flush()


class JsonlWriter(Writer):
    def write(self, doc: Document) -> None:
        self.handle.write(json_line(doc_record(doc)))
        self.count += 1


class CsvWriter(Writer):
    """One row per span, for a spreadsheet or pandas; a document without spans gets one row with
    the span columns empty, so that every labelled document is in the table."""

    COLUMNS = ("id", "source", "start", "end", "role", "label", "text", "score", "entity", "fields")

    def begin(self) -> None:
        self.rows = csv.writer(self.handle, lineterminator="\n")
        self.rows.writerow(self.COLUMNS)

    def write(self, doc: Document) -> None:
        source = doc.meta.get("source", "")
        fields = _fields_json(doc)
        spans = span_dicts(doc)
        for span in spans:
            self.rows.writerow([doc.id, source, span["start"], span["end"], span["role"], span.get("label", ""),
                                span["text"], span["score"], span.get("entity", ""), fields])
        if not spans:
            self.rows.writerow([doc.id, source, "", "", "", "", "", "", "", fields])
        self.count += 1


class ConllWriter(Writer):
    def write(self, doc: Document) -> None:
        words = doc.words
        tags = [["O"] * len(self.columns) for _ in range(len(words))]
        for span in doc.spans:
            column = self.column_of(span)
            covered = words.covering(span.start, span.end)
            if column is None or covered is None:
                continue
            first, last = covered
            if any(tags[w][column] != "O" for w in range(first, last)):
                continue  # one BIO column cannot hold two overlapping spans of one head
            name = self.columns[column]
            tags[first][column] = f"B-{name}"
            for w in range(first + 1, last):
                tags[w][column] = f"I-{name}"
        lines = [f"# id = {_one_line(doc.id)}"]
        fields = _fields_json(doc)
        if fields:
            lines.append(f"# fields = {_shown(fields)}")  # still JSON: a control's \uXXXX is its JSON escape
        lines.append("# columns = word start end " + " ".join(self.columns))
        for (start, end), row in zip(zip(words.starts, words.ends), tags):
            lines.append("\t".join([doc.text[start:end], str(start), str(end), *row]))
        self.handle.write("\n".join(lines) + "\n\n")
        self.count += 1

    def column_of(self, span: Span) -> int | None:
        for key in (span.label, span.role):
            if key in self.columns:
                return self.columns.index(key)
        return None


class HtmlWriter(Writer):
    def begin(self) -> None:
        title = html.escape(self.title or "eventroles predictions")
        roles = sorted(self.roles, key=lambda r: (ROLES.index(r) if r in ROLES else len(ROLES), r))
        legend = "".join(
            f'<span class="legend-item"><mark class="{_role_class(r)}">{html.escape(r)}</mark></span>' for r in roles
        )
        self.handle.write(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{title}</title>\n<style>\n{_css()}</style>\n</head>\n<body>\n"
            f"<h1>{title}</h1>\n<p class=\"legend\">Roles: {legend}</p>\n"
        )

    def write(self, doc: Document) -> None:
        self.count += 1
        body = render_text(doc)
        counts = ", ".join(f"{n} {role}" for role, n in _role_counts(doc.spans).items()) or "no spans"
        self.handle.write(
            f'<article id="doc-{self.count}">\n<h2>{html.escape(doc.id)}</h2>\n'
            f'<p class="meta">{html.escape(counts)}</p>\n{_fields_html(doc)}<div class="text">{body}</div>\n</article>\n'
        )

    def end(self) -> None:
        self.handle.write(f'<footer>{self.count} document{"" if self.count == 1 else "s"}</footer>\n</body>\n</html>\n')
        super().end()


class TextWriter(Writer):
    """For people reading a terminal: each document's spans as a table, in text order, under
    its id and (when the input line had other fields) those fields as one line of JSON; what a
    terminal would act on instead of showing (ESC, C1 controls, bidi overrides) is escaped."""

    def write(self, doc: Document) -> None:
        self.count += 1
        scores = doc.meta.get("span_scores", {})
        lines = [f"== {_one_line(doc.id)}: {len(doc.spans)} spans"]
        fields = _fields_json(doc)
        if fields:
            lines.append(f"   fields: {_shown(fields)}")
        width = max((len(s.role) for s in doc.spans), default=0)
        for span in sorted(doc.spans, key=lambda s: (s.start, s.end, s.role)):
            score = scores.get((span.start, span.end, span.role))
            score_text = f"{score:.2f}" if isinstance(score, (int, float)) else "    "
            lines.append(
                f"  {span.role:<{width}}  {score_text}  [{span.start}:{span.end}]  {_one_line(doc.span_text(span))}"
            )
        self.handle.write("\n".join(lines) + "\n")


WRITERS: dict[str, type[Writer]] = {
    "jsonl": JsonlWriter, "csv": CsvWriter, "conll": ConllWriter, "html": HtmlWriter, "text": TextWriter,
}


def make_writer(
    fmt: str, handle: TextIO, columns: Sequence[str] = ROLES, roles: Sequence[str] = ROLES, title: str = ""
) -> Writer:
    if fmt not in WRITERS:
        raise ValueError(f"unknown output format {fmt!r} (formats: {', '.join(FORMATS)})")
    return WRITERS[fmt](handle, columns, roles, title)


# -- html helpers -----------------------------------------------------------------------------
def render_text(doc: Document) -> str:
    """The escaped text with one nested ``<mark>`` per span over each piece it covers."""
    text = doc.text
    spans = list(doc.spans)
    scores = doc.meta.get("span_scores", {})
    cuts = sorted({0, len(text), *(s.start for s in spans), *(s.end for s in spans)})
    starting: dict[int, list[int]] = {}
    for k, span in enumerate(spans):
        starting.setdefault(span.start, []).append(k)
    # Outer marks first: earlier start, then longer span, then index, so nesting is stable.
    rank = {k: r for r, k in enumerate(sorted(range(len(spans)), key=lambda k: (spans[k].start, -spans[k].end, k)))}
    active: list[int] = []
    parts: list[str] = []
    for a, b in zip(cuts, cuts[1:]):
        active = sorted([k for k in active if spans[k].end > a] + starting.get(a, []), key=rank.__getitem__)
        piece = html.escape(text[a:b])
        for k in reversed(active):
            piece = f'<mark class="{_role_class(spans[k].role)}" data-span="{k}" title="{_tooltip(spans[k], scores)}">{piece}</mark>'
        parts.append(piece)
    return "".join(parts)


def _tooltip(span: Span, scores: dict) -> str:
    tip = span.role + (f" ({span.label})" if span.label else "")
    score = scores.get((span.start, span.end, span.role))
    if score is not None:
        tip += f" {float(score):.2f}"
    return html.escape(tip)


def _role_class(role: str) -> str:
    return "role-" + re.sub(r"[^a-z0-9_-]", "_", role.lower())


def _role_counts(spans: Sequence[Span]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for span in spans:
        counts[span.role] = counts.get(span.role, 0) + 1
    return {r: counts[r] for r in sorted(counts, key=lambda r: (ROLES.index(r) if r in ROLES else 99, r))}


def _css() -> str:
    rules = [
        "body { font-family: system-ui, sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em; }",
        "article { border-top: 1px solid #ccc; padding: 0.5em 0 1em; }",
        "h2 { font-size: 1.05em; font-family: monospace; }",
        ".meta { color: #555; font-size: 0.9em; }",
        ".fields { color: #555; font-size: 0.9em; display: grid; grid-template-columns: max-content auto; gap: 0 1em; }",
        ".fields dd { margin: 0; overflow-wrap: anywhere; }",
        ".text { white-space: pre-wrap; line-height: 2.1; }",
        "mark { padding: 0.2em 0.1em; border-bottom: 2px solid; border-radius: 3px; }",
        "mark mark { padding: 0.05em 0; }",
        ".legend-item { margin-right: 0.8em; }",
        "footer { color: #555; border-top: 1px solid #ccc; padding-top: 0.5em; }",
    ]
    for role, (background, border) in COLOURS.items():
        rules.append(f"mark.{_role_class(role)} {{ background: {background}; border-color: {border}; }}")
    rules.append(f"mark {{ background: {OTHER_COLOUR[0]}; border-color: {OTHER_COLOUR[1]}; }}")
    return "\n".join(rules) + "\n"


def _fields_json(doc: Document) -> str:
    """The input line's other fields as one line of JSON (escaped as in JSON lines, so a line
    separator inside a value cannot break a CoNLL comment), or "" when it had none."""
    fields = doc.meta.get("fields")
    return json_line(fields).rstrip("\n") if fields else ""


def _fields_html(doc: Document) -> str:
    """The input line's other fields under an article's heading, one ``name: value`` each (a
    value that is not a string as JSON), escaped; no links, so no address in an input is followed."""
    fields = doc.meta.get("fields")
    if not fields:
        return ""
    items = "".join(
        f"<dt>{html.escape(str(name))}</dt><dd>{html.escape(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))}</dd>"
        for name, value in fields.items()
    )
    return f'<dl class="fields">{items}</dl>\n'


# Characters a terminal acts on instead of showing (C0 and C1 controls: ESC starts colour and
# cursor sequences, U+009B is a one-character CSI) and bidirectional overrides and isolates,
# which reorder what a reader sees. Article texts, ids and fields come from anywhere.
_UNSHOWABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _shown(value: str) -> str:
    """``value`` with every unshowable character written as its ``\\uXXXX`` escape."""
    return _UNSHOWABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", value)


def _one_line(value: str) -> str:
    """Runs of whitespace (line breaks and tabs included) as one space; other controls escaped."""
    return _shown(" ".join(value.split()))
