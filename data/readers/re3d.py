"""Reader for re3d (Dstl): entity annotations of defence and security documents.

Layout: ``<folder>/<source folder>/{documents,entities}.json``, JSON lines as written by
``mongoexport`` (``relations.json`` is not read). Entities carry character offsets ``begin``/
``end`` into their document's ``text`` and the annotated string as ``value``.

Mapping (the native type is kept as the span label): ``Location`` -> location, ``Temporal`` ->
time, ``Weapon`` -> weapon; every other type is counted in ``report.facts`` as
``entity_type_not_mapped:<Type>``. Document roles are {location, time, weapon}. These are
entity annotations, not event arguments: a location is any location mentioned, not only where an
attack happened, so each document is marked ``meta["weak"] = True``.

Attacker and target are left out on purpose. The only candidate is the ``FightingAgainst``
relation, and it is not an attack argument: its pairs mix long-running conflict ("the Coalition
-- strategy to defeat -> ISIL"), weapons as sources ("strikes -- engaged -> mortar") and true
attacks, 16 of its 207 pairs are stated both ways, and it is only annotated between entities the
experts had already tagged, so a document without the relation is no evidence of no attacker.

Offsets are checked against ``value``; a mismatch is repaired when ``value`` occurs within
``_text.NEAR`` (32) characters (nearest occurrence, ``offset_repaired``), otherwise the entity is dropped
(``offset_mismatch_dropped``). Entity ``confidence`` (crowd agreement) is not a filter: 0 is
given to many plainly right annotations (e.g. city names), so all are kept and low values are
only counted (``confidence_below_0.5_kept``). An entity whose offsets cut a word is dropped
(``partial_word_entity_dropped``) rather than widened: they are pre-annotation artefacts such as
"camp" matched inside "campaign", and widening would label "the campaign" a location.

Split: re3d has none. Each document goes by ``splits.stable_split(document _id)``: the first 8 bytes of
SHA-1 of the id as a fraction of 2**64; below 0.70 -> train, below 0.85 -> dev, else test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..document import Document, Span, clean_spans
from ..problems import CorpusFormatError, CorpusNotFoundError, ReadReport
from ..splits import stable_split
from ._text import find_near
from .jsonl import iter_json_lines

SPLITS = ("train", "dev", "test")
TYPE_TO_ROLE = {"Location": "location", "Temporal": "time", "Weapon": "weapon"}
ROLES = frozenset(TYPE_TO_ROLE.values())


def cuts_word(text: str, begin: int, end: int) -> bool:
    """True when ``[begin, end)`` starts or ends inside a run of letters or digits."""
    inside = lambda i: 0 < i < len(text) and text[i - 1].isalnum() and text[i].isalnum()  # noqa: E731
    return inside(begin) or inside(end)


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise CorpusNotFoundError(f"re3d has no split {split!r}; splits: {', '.join(SPLITS)}")


def _records(path: Path) -> list[tuple[int, dict[str, Any]]]:
    out = []
    for number, obj in iter_json_lines(path):
        if not isinstance(obj, dict):
            raise CorpusFormatError(path, "expected a JSON object", line=number)
        out.append((number, obj))
    return out


def _field(obj: dict[str, Any], name: str, kind: type | tuple[type, ...], path: Path, line: int) -> Any:
    value = obj.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise CorpusFormatError(path, f"missing or not {getattr(kind, '__name__', kind)}", line=line, field=name)
    return value


def _source_folders(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise CorpusNotFoundError(f"re3d folder not found: {folder}")
    sources = sorted(p for p in folder.iterdir() if (p / "documents.json").is_file())
    if not sources:
        raise CorpusNotFoundError(f"{folder}: no <source>/documents.json found (is this the re3d folder?)")
    return sources


def _entity_span(entity: dict[str, Any], text: str, path: Path, line: int, report: ReadReport) -> Span | None:
    begin = _field(entity, "begin", int, path, line)
    end = _field(entity, "end", int, path, line)
    value = _field(entity, "value", str, path, line)
    kind = entity["type"]
    where = f"{path.parent.name}/{path.name}:{line}"
    if begin >= end or text[begin:end] != value:
        found = find_near(text, value, begin)
        if found is None:
            report.add("offset_mismatch_dropped", f"{where}: {value!r} vs {text[begin:end]!r}")
            return None
        report.add("offset_repaired", f"{where}: {value!r} [{begin}, {end}) -> [{found}, {found + len(value)})")
        begin, end = found, found + len(value)
    if cuts_word(text, begin, end):
        report.add("partial_word_entity_dropped", f"{where}: {value!r} in {text[max(0, begin - 5):end + 5]!r}")
        return None
    confidence = entity.get("confidence")
    if isinstance(confidence, (int, float)) and confidence < 0.5:
        report.note("confidence_below_0.5_kept")
    return Span(begin, end, TYPE_TO_ROLE[kind], kind)


def _read_documents(source: Path, split: str) -> tuple[dict[str, Document], set[str]]:
    """The source folder's documents in ``split``, and the ids of all its documents."""
    path = source / "documents.json"
    docs: dict[str, Document] = {}
    all_ids: set[str] = set()
    for line, obj in _records(path):
        doc_id = _field(obj, "_id", str, path, line)
        text = _field(obj, "text", str, path, line)
        if doc_id in all_ids:
            raise CorpusFormatError(path, f"duplicate document id {doc_id!r}", line=line, field="_id")
        all_ids.add(doc_id)
        if stable_split(doc_id) == split:
            meta = {"source": source.name, "title": obj.get("title"), "url": obj.get("sourceUrl"), "weak": True}
            docs[doc_id] = Document(doc_id, text, [], ROLES, "re3d", meta)
    return docs, all_ids


def _read_source(source: Path, split: str, report: ReadReport) -> list[Document]:
    docs, all_ids = _read_documents(source, split)
    path = source / "entities.json"
    for line, entity in _records(path):
        doc_id = _field(entity, "documentId", str, path, line)
        kind = _field(entity, "type", str, path, line)
        if doc_id not in all_ids:
            report.add("entity_without_document_dropped", f"{source.name}/entities.json:{line}: {doc_id}")
            continue
        doc = docs.get(doc_id)
        if doc is None:  # a document of another split
            continue
        if kind not in TYPE_TO_ROLE:
            report.note(f"entity_type_not_mapped:{kind}")
            continue
        span = _entity_span(entity, doc.text, path, line, report)
        if span is not None:
            doc.spans.append(span)
    return [clean_spans(doc, report, where=f"re3d/{source.name}/{doc.id}") for doc in docs.values()]


def read(folder: Path, split: str, report: ReadReport) -> list[Document]:
    """Registry entry point: all source folders, the documents hashed into ``split``."""
    check_split(split)
    docs: list[Document] = []
    seen: set[str] = set()
    for source in _source_folders(folder):
        for doc in _read_source(source, split, report):
            if doc.id in seen:
                raise CorpusFormatError(
                    source / "documents.json", f"document id {doc.id!r} also in another source folder", field="_id"
                )
            seen.add(doc.id)
            docs.append(doc)
    return docs
