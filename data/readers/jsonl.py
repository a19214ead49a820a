"""The project's own JSON-lines format, read and written.

One document per line::

    {"id": "a1", "text": "...", "spans": [{"start": 0, "end": 6, "role": "attacker",
     "text": "Rebels", "label": "PerpOrg"}], "roles": ["attacker", "target"], "meta": {}}

``text`` and ``label`` on a span are optional; when ``text`` is given it must equal the
document text at the offsets (a mismatch means the offsets are wrong, so it is an error, not a
repair). ``roles`` (the roles this document's annotation covers) defaults to every role; an
optional ``score`` and ``entity`` (an id shared by the mentions of one entity) on spans are
kept in ``meta`` for prediction files.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator, TextIO

from ..document import Document, Span, clean_spans, unpaired_surrogate
from ..problems import CorpusFormatError, CorpusNotFoundError, ReadReport
from ..roles import ROLES
from ..words import snap_to_words


# The suffixes of a JSON-lines file, for every reader of one (corpus specs, predict's inputs).
JSONL_SUFFIXES = (".jsonl", ".ndjson")


def iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` for non-blank lines; clear errors for bad encodings."""
    if path.is_dir():
        raise CorpusNotFoundError(f"{path} is a folder; give a JSON-lines file")
    if not path.is_file():
        raise CorpusNotFoundError(f"{path}: no such file")
    with path.open("rb") as handle:
        any_line = False
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise CorpusFormatError(
                    path, f"not valid UTF-8 (byte {error.start} of the line)", line=number
                ) from None
            if number == 1:
                line = line.lstrip("\ufeff")
            if line.strip():
                any_line = True
                yield number, line
    if not any_line:
        raise CorpusFormatError(path, "the file is empty")


class _RepeatedKey(ValueError):
    pass


def _refuse_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook``: JSON keeps the last of two equal keys without a word."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _RepeatedKey(key)
        out[key] = value
    return out


def iter_json_lines(path: Path, *, refuse_repeated_keys: bool = False) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, value)`` for each JSON line; malformed JSON is an error naming the
    file, line and column (every JSON-lines corpus reader shares this). With
    ``refuse_repeated_keys`` (files users write), a key written twice in one object is an error,
    yielded as the line's value (a ``CorpusFormatError``) so that the reader collects it with the
    file's other problems."""
    first = True
    hook = _refuse_repeated_keys if refuse_repeated_keys else None
    for number, line in iter_lines(path):  # blank lines are skipped there
        try:
            yield number, json.loads(line.rstrip("\r\n"), object_pairs_hook=hook)  # so that the column is the line's own
        except json.JSONDecodeError as error:
            hint = ONE_PER_LINE if first and line.strip() in ("{", "[") else ""  # a pretty-printed file
            raise CorpusFormatError(path, f"malformed JSON: {error.msg} (column {error.colno}){hint}", line=number) from None
        except _RepeatedKey as error:  # yielded, not raised: the line is whole, the reader goes on
            yield number, CorpusFormatError(path, f"key {error.args[0]!r} is written twice in one object "
                                                  f"(JSON would keep only the last)", line=number)
        first = False


# How a JSON file that is not JSON lines converts (a pretty-printed file, or one array of documents).
ONE_PER_LINE = ("; each document must be one line (JSON lines): a JSON array converts with  jq -c '.[]' FILE,  "
                "a file of pretty-printed objects with  jq -c . FILE")


def parse_document(
    obj: Any,
    *,
    path: Path | str,
    line: int,
    report: ReadReport,
    corpus: str = "",
    role_map: dict[str, str] | None = None,
    require_spans: bool = True,
) -> Document:
    """Turn one decoded JSON object into a validated ``Document``."""

    def fail(message: str, field: str | None = None, doc_id: str | None = None) -> CorpusFormatError:
        return CorpusFormatError(path, message, line=line, doc_id=doc_id, field=field)

    if not isinstance(obj, dict):
        raise fail(f"expected a JSON object, got {type(obj).__name__}" + (ONE_PER_LINE if isinstance(obj, list) else ""))
    given_id = str(obj["id"]) if isinstance(obj.get("id"), (str, int)) else None
    _check_fields(obj, DOCUMENT_FIELDS, "", lambda m, f: fail(m, f, given_id), report, where=f"{path}, line {line}")
    text = obj.get("text")
    if not isinstance(text, str):
        raise fail("missing or not a string", field="text")
    surrogate = unpaired_surrogate(text)
    if surrogate is not None:
        raise fail(f"holds an unpaired surrogate escape at character {surrogate} (not valid Unicode)", field="text")
    doc_id = obj.get("id", f"{Path(path).stem}:{line}")
    if "id" not in obj:  # said, because predictions are matched to gold documents by id
        report.add("id_missing_file_stem_and_line_used", f"{path}, line {line}: {doc_id!r}")
    if not isinstance(doc_id, (str, int)):
        raise fail("must be a string", field="id")
    doc_id = str(doc_id)

    roles_value = obj.get("roles", list(ROLES))
    if not isinstance(roles_value, list) or not all(isinstance(r, str) for r in roles_value):
        raise fail("must be a list of role names", field="roles", doc_id=doc_id)
    roles = []
    for role in roles_value:
        role = (role_map or {}).get(role, role)
        if role not in ROLES:
            raise fail(f"unknown role {role!r} (roles: {', '.join(ROLES)})", "roles", doc_id)
        roles.append(role)

    spans_value = obj.get("spans")
    if spans_value is None:
        if require_spans:
            raise fail("missing", field="spans", doc_id=doc_id)
        spans_value = []
    if not isinstance(spans_value, list):
        raise fail("must be a list", field="spans", doc_id=doc_id)
    spans: list[Span] = []
    scores: list[float | None] = []
    entities: list[int | str | None] = []
    for index, item in enumerate(spans_value):
        field = f"spans[{index}]"
        if not isinstance(item, dict):
            raise fail("must be an object with start, end, role", field, doc_id)
        _check_fields(item, SPAN_FIELDS, f"{field}.", lambda m, f: fail(m, f, doc_id), report, where=f"{path}, line {line}")
        start, end, role = item.get("start"), item.get("end"), item.get("role")
        for key, value in (("start", start), ("end", end)):
            if value is None:
                raise fail("missing (a span needs start and end character offsets)", f"{field}.{key}", doc_id)
            if not isinstance(value, int) or isinstance(value, bool):
                raise fail(f"must be an integer character offset, not {value!r}", f"{field}.{key}", doc_id)
        if start >= end:
            raise fail(f"start {start} is not before end {end} (end is exclusive: text[start:end])", field, doc_id)
        if not 0 <= start < end <= len(text):
            raise fail(f"offsets [{start}, {end}) outside the text (length {len(text)})", field, doc_id)
        if not isinstance(role, str):
            raise fail("missing role", f"{field}.role", doc_id)
        mapped = (role_map or {}).get(role, role)
        if mapped not in ROLES:
            raise fail(f"unknown role {role!r} (roles: {', '.join(ROLES)})", f"{field}.role", doc_id)
        stored = item.get("text")
        if stored is not None and stored != text[start:end]:
            raise fail(
                f"stored text {stored!r} does not match the text at [{start}, {end}): "
                f"{text[start:end]!r}",
                f"{field}.text",
                doc_id,
            )
        label = item.get("label")
        if label is not None and not isinstance(label, str):
            raise fail("must be a string", f"{field}.label", doc_id)
        spans.append(Span(start, end, mapped, label))
        score = item.get("score")
        scores.append(float(score) if isinstance(score, (int, float)) else None)
        entity = item.get("entity")
        if entity is not None and (not isinstance(entity, (int, str)) or isinstance(entity, bool)):
            raise fail("must be an integer or a string (spans with one entity id name one entity)",
                       f"{field}.entity", doc_id)
        entities.append(entity)
        if mapped not in roles:
            raise fail(f"role {mapped!r} is not among the document's roles", f"{field}.role", doc_id)

    meta = obj.get("meta") or {}
    if not isinstance(meta, dict):
        raise fail("must be an object", field="meta", doc_id=doc_id)
    if isinstance(obj.get("source"), str) and "source" not in meta:  # predict's: where it read the article
        meta = {**meta, "source": obj["source"]}
    if isinstance(obj.get("fields"), dict) and "fields" not in meta:  # predict's: the input line's other fields
        meta = {**meta, "fields": obj["fields"]}
    doc = Document(doc_id, text, spans, frozenset(roles), corpus, meta)
    # Scores and entity ids are keyed by the offsets the spans will have once snapped to words.
    keys = [_snapped_key(doc, span) for span in spans]
    if any(s is not None for s in scores):
        meta = {**meta, "span_scores": {k: sc for k, sc in zip(keys, scores) if k is not None}}
    if any(e is not None for e in entities):
        meta = {**meta, "span_entities": {k: e for k, e in zip(keys, entities) if k is not None and e is not None}}
    doc.meta = meta
    return clean_spans(doc, report, where=f"{path}:{line}", drop_nested=False)


DOCUMENT_FIELDS = ("id", "text", "spans", "roles", "meta", "source", "fields")  # source, fields: what predict writes
SPAN_FIELDS = ("start", "end", "role", "text", "label", "score", "entity")
UNKNOWN_FIELD = "unknown_field_ignored"


def _check_fields(obj: dict, known: tuple[str, ...], prefix: str, fail: Any, report: ReadReport, *, where: str) -> None:
    """A field that is a known one misspelt ("Roles", "rolse", "lable"; "role" for a document's
    "roles") is an error when the known one is absent: read as absent it would change what the
    document means (every role annotated, no native label). Other unknown fields (another
    system's "labels", "entity_id", "idx") are ignored and counted."""
    for key in obj:
        if key in known:
            continue
        meant = _misspelt(key, known)
        if meant is not None and meant not in obj:
            raise fail(f"unknown field (did you mean {meant!r}?)", f"{prefix}{key}")
        report.add(UNKNOWN_FIELD, f"{where}: {prefix}{key}")


@lru_cache(maxsize=1024)
def _misspelt(key: str, known: tuple[str, ...]) -> str | None:
    """The known field ``key`` misspells: the same but for case, or one letter added, dropped,
    changed or swapped (a plural or singular of a field is another field, except a document's
    "role"); ``id`` and ``source`` are left out (optional, and "idx", "_id", "Source" are other
    systems' own)."""
    lower = key.lower()
    if lower == "role" and "roles" in known:
        return "roles"
    for field in known:
        if field in ("id", "source"):
            continue
        if lower == field:
            return field
        plural_or_singular = lower in (field + "s", field.removesuffix("s"))
        if len(field) >= 4 and not plural_or_singular and _one_edit(lower, field):
            return field
    return None


def _one_edit(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ by exactly one inserted, deleted, changed or swapped letter."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1:] == short for i in range(len(long)))


def _snapped_key(doc: Document, span: Span) -> tuple[int, int, str] | None:
    bounds = snap_to_words(doc.words, span.start, span.end)
    return None if bounds is None else (bounds[0], bounds[1], span.role)


def read_jsonl_file(
    path: Path,
    report: ReadReport | None = None,
    *,
    corpus: str = "",
    role_map: dict[str, str] | None = None,
) -> list[Document]:
    """Every document of a project-format file. A document with a bad field does not stop the
    reading: all such problems of the file are reported together (the first, then up to
    ``MORE_PROBLEMS`` more with their lines), so an annotator fixes them in one round."""
    report = report if report is not None else ReadReport()
    docs: list[Document] = []
    seen: set[str] = set()
    problems: list[CorpusFormatError] = []
    for number, obj in iter_json_lines(path, refuse_repeated_keys=True):  # malformed JSON stops at once
        if isinstance(obj, CorpusFormatError):
            problems.append(obj)
            continue
        try:
            doc = parse_document(obj, path=path, line=number, report=report, corpus=corpus or path.stem, role_map=role_map)
            if doc.id in seen:
                raise CorpusFormatError(path, f"duplicate document id {doc.id!r}", line=number, field="id")
        except CorpusFormatError as problem:
            problems.append(problem)
            continue
        seen.add(doc.id)
        docs.append(doc)
    if problems:
        raise _together(problems)
    return docs


MORE_PROBLEMS = 20


def _together(problems: list[CorpusFormatError]) -> CorpusFormatError:
    """The first problem (its file, line, document and field), its message followed by the
    others of the file, one per line."""
    first = problems[0]
    if len(problems) > 1:
        listed = [str(p).removeprefix(p.path + ", ") for p in problems[1 : 1 + MORE_PROBLEMS]]
        rest = len(problems) - 1 - len(listed)
        first.args = (f"{first}\n{len(problems) - 1} more problem(s) in this file:\n  " + "\n  ".join(listed)
                      + (f"\n  ... and {rest} more" if rest else ""),)
    return first


def read(folder: Path, split: str, report: ReadReport) -> list[Document]:
    """Registry entry point: ``folder/split.jsonl``."""
    path = folder / f"{split}.jsonl"
    return read_jsonl_file(path, report, corpus=folder.name)


def document_to_json(doc: Document, scores: dict | None = None) -> dict[str, Any]:
    entities = doc.meta.get("span_entities") or {}
    spans = []
    for span in sorted(doc.spans):
        item: dict[str, Any] = {"start": span.start, "end": span.end, "role": span.role, "text": doc.span_text(span)}
        if span.label is not None:
            item["label"] = span.label
        if scores is not None and (span.start, span.end, span.role) in scores:
            item["score"] = round(float(scores[(span.start, span.end, span.role)]), 4)
        if (span.start, span.end, span.role) in entities:
            item["entity"] = entities[(span.start, span.end, span.role)]
        spans.append(item)
    out: dict[str, Any] = {"id": doc.id, "text": doc.text, "spans": spans, "roles": sorted(doc.roles)}
    meta = {k: v for k, v in doc.meta.items() if k not in ("span_scores", "span_entities")}
    if meta:
        out["meta"] = meta
    return out


def write_jsonl(docs: Iterable[Document], handle: TextIO) -> int:
    count = 0
    for doc in docs:
        handle.write(json_line(document_to_json(doc)))
        count += 1
    return count


# Line breaks to str.splitlines() (and to some JSON-lines readers) that JSON leaves unescaped.
_LINE_BREAKS = {"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"}


def json_line(record: Any) -> str:
    """One JSON-lines line, UTF-8 kept readable but with U+2028, U+2029 and NEL escaped: written
    raw they split the line for ``str.splitlines()``, and a reader that splits so fails."""
    line = json.dumps(record, ensure_ascii=False)
    for raw, escaped in _LINE_BREAKS.items():
        if raw in line:
            line = line.replace(raw, escaped)
    return line + "\n"
