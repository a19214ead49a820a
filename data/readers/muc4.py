"""Reader for MUC-4 as processed by GRIT (Du, Rush & Cardie 2021): ``{train,dev,test}.json``.

Each line holds ``docid``, ``doctext`` (lower-cased) and ``extracts``: native role -> entities ->
``[mention string, char offset]`` mentions. Native roles map onto project roles (PerpInd,
PerpOrg -> attacker; Target, Victim -> target; Weapon -> weapon) and stay on each span as its
``label``, so that GRIT's five-role CEAF-REE comparison stays possible; the entities' mention
strings are kept in ``doc.meta["entities"]`` (``{native label: [[mentions of entity]...]}``)
for that document-level scorer.

Why every occurrence: MUC-4 gives role fillers per document, not per mention, so, as taggers
trained on MUC-4 usually do, every whole-word occurrence of a filler's mention strings in the
text is a span (the given offset first; a mention absent from the text is counted and
skipped). An entity whose every occurrence ``clean_spans`` drops as nested in a longer span of
its label gets its first located mention back (``nested_entity_mention_kept``), so every gold
entity has a span. With ``silver=True`` (the default) location and time spans recovered from
the NIST answer keys are added; see ``muc4_keys`` for how and for which documents annotate
those roles.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

from ..document import Document, Span, clean_spans
from ..problems import CorpusFormatError, CorpusNotFoundError, ReadReport
from ..words import snap_to_words
from .jsonl import iter_json_lines
from .muc4_keys import KeyDoc, load_keys, silver_spans

SPLITS = ("train", "dev", "test")
ROLE_MAP = {
    "PerpInd": "attacker", "PerpOrg": "attacker", "Target": "target", "Victim": "target", "Weapon": "weapon",
}
BASE_ROLES = frozenset({"attacker", "target", "weapon"})
SILVER_ROLES = frozenset({"location", "time"})
KEYS_FILE = "muc34.tar.gz"


def read(folder: Path, split: str, report: ReadReport, silver: bool = True) -> list[Document]:
    """Registry entry point: ``folder/<split>.json``, with silver location/time by default."""
    if split not in SPLITS:
        raise CorpusNotFoundError(f"muc4 has no split {split!r}; the splits are: {', '.join(SPLITS)}")
    folder = Path(folder)
    path = folder / f"{split}.json"
    keys = _keys(folder, report) if silver else None
    docs: list[Document] = []
    seen: set[str] = set()
    for number, obj in iter_json_lines(path):
        doc, entities = _document(obj, path, number, report)
        if doc.id in seen:
            raise CorpusFormatError(path, f"duplicate document id {doc.id!r}", line=number, field="docid")
        seen.add(doc.id)
        if keys is not None:
            doc = _add_silver(doc, keys.get(doc.id), report)
        where = f"{path}:{number}"
        docs.append(keep_every_entity(clean_spans(doc, report, where=where), entities, report, where))
    report.note(f"muc4_{split}_documents", len(docs))
    return docs


def _keys(folder: Path, report: ReadReport) -> dict[str, KeyDoc] | None:
    path = folder / KEYS_FILE
    if not path.is_file():
        report.add("silver_keys_missing", f"{path}: no answer keys, so no location/time spans")
        return None
    return load_keys(path)


def _document(obj: Any, path: Path, line: int, report: ReadReport) -> tuple[Document, list[list[Span]]]:
    """The document with a span per occurrence, and each entity's spans (first mention first)."""
    def fail(message: str, field: str) -> CorpusFormatError:
        named = doc_id if isinstance(doc_id, str) else None
        return CorpusFormatError(path, message, line=line, doc_id=named, field=field)

    if not isinstance(obj, dict):
        raise CorpusFormatError(path, f"expected a JSON object, got {type(obj).__name__}", line=line)
    doc_id, text, extracts = obj.get("docid"), obj.get("doctext"), obj.get("extracts")
    if not isinstance(doc_id, str) or not doc_id:
        raise fail("missing or not a string", "docid")
    if not isinstance(text, str):
        raise fail("missing or not a string", "doctext")
    if not isinstance(extracts, dict):
        raise fail("missing or not an object (role -> entities)", "extracts")
    where = f"{path.name}:{line} {doc_id}"
    spans: list[Span] = []
    entities: dict[str, list[list[str]]] = {label: [] for label in ROLE_MAP}
    entity_spans: list[list[Span]] = []
    for label, value in extracts.items():
        if label not in ROLE_MAP:
            report.add("unmapped_role", f"{where}: {label}")
            continue
        for entity in parse_entities(value, fail, f"extracts.{label}"):
            entities[label].append([m for m, _ in entity])
            found = [_occurrences(text, mention, offset, label, report, where) for mention, offset in entity]
            spans.extend(span for occurrences in found for span in occurrences)
            entity_spans.append([span for occurrences in found for span in occurrences])
    unique = list(dict.fromkeys(spans))  # one span per place and label, however many mentions hit it
    report.note("occurrences_shared_by_mentions", len(spans) - len(unique))
    return Document(doc_id, text, unique, BASE_ROLES, "muc4", {"entities": entities}), entity_spans


def keep_every_entity(doc: Document, entity_spans: list[list[Span]], report: ReadReport, where: str) -> Document:
    """Give back a span to each entity that ``clean_spans`` left without one.

    An entity whose every occurrence lies inside a longer span of the same label ("camilist
    unity" inside "... army's camilist unity") loses all its spans to ``clean_spans``; then the
    entity would be missing from the gold spans although it is in ``meta["entities"]``. Its
    first located mention is put back (``nested_entity_mention_kept``), snapped to whole words
    like every span. The BIO encoder cannot hold both in one tag and skips the inner one
    (``overlapping_span_in_one_tag_skipped``), but span and CEAF-REE scoring see every entity.
    """
    words = doc.words
    kept = {(span.start, span.end, span.label) for span in doc.spans}
    added: list[Span] = []
    for candidates in entity_spans:
        snapped = [(bounds, span) for span in candidates if (bounds := snap_to_words(words, span.start, span.end))]
        if not snapped or any((*bounds, span.label) in kept for bounds, span in snapped):
            continue
        (start, end), first = snapped[0]
        span = Span(start, end, first.role, first.label)
        kept.add((start, end, span.label))
        added.append(span)
        report.add("nested_entity_mention_kept", f"{where}: {span.label} {doc.span_text(span)!r}")
    return doc.with_spans([*doc.spans, *added]) if added else doc


def parse_entities(
    value: Any, fail: Callable[[str, str], Exception], field: str
) -> list[list[tuple[str, int]]]:
    """Validated ``entities -> [mention, offset]`` lists (shared with the WikiEvents reader)."""
    if not isinstance(value, list):
        raise fail("must be a list of entities", field)
    out = []
    for i, entity in enumerate(value):
        if not isinstance(entity, list):
            raise fail("must be a list of [mention, offset] pairs", f"{field}[{i}]")
        mentions = []
        for j, pair in enumerate(entity):
            ok = isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)
            if not ok or not isinstance(pair[1], int) or isinstance(pair[1], bool):
                raise fail("must be [mention string, integer offset]", f"{field}[{i}][{j}]")
            mentions.append((pair[0], pair[1]))
        if mentions:
            out.append(mentions)
    return out


def find_all(text: str, mention: str) -> list[tuple[int, int]]:
    """Whole-word occurrences of ``mention`` (no match inside another word)."""
    found = []
    start = text.find(mention)
    while start >= 0:
        end = start + len(mention)
        if not (_joins(text, start - 1, start) or _joins(text, end - 1, end)):
            found.append((start, end))
        start = text.find(mention, start + 1)
    return found


def _joins(text: str, left: int, right: int) -> bool:
    """Whether the characters at ``left`` and ``right`` belong to one word (both ``\\w``)."""
    if left < 0 or right >= len(text):
        return False
    return _is_word(text[left]) and _is_word(text[right])


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _occurrences(
    text: str, mention: str, offset: int, label: str, report: ReadReport, where: str
) -> list[Span]:
    if not mention.strip():
        report.add("mention_empty", f"{where}: {label} at {offset}")
        return []
    report.note("mentions")
    found = find_all(text, mention)
    given = (offset, offset + len(mention))
    if offset < 0 or text[given[0]:given[1]] != mention:
        if found:  # found elsewhere; a mention found nowhere is counted below
            report.add("mention_offset_mismatch", f"{where}: {label} {mention!r} not at {offset}")
    elif given not in found:
        # GRIT's offsets are the first ``str.find`` hit, sometimes inside a word: keep it only
        # for a plural ("bomb" in "bombs"; clean_spans widens and counts it), not "car" in "carlos".
        if _plural_at(text, *given):
            found.append(given)
            report.note("mention_offset_plural")
        else:
            report.add("mention_offset_inside_word", f"{where}: {label} {mention!r} at {offset}")
    if not found:
        report.add("mention_not_found", f"{where}: {label} {mention!r}")
        return []
    report.note("mention_occurrences", len(found))
    found.sort(key=lambda bounds: bounds != given)  # the annotated occurrence first, then text order
    return [Span(start, end, ROLE_MAP[label], label) for start, end in found]


def _plural_at(text: str, start: int, end: int) -> bool:
    """``text[start:end]`` begins a word whose rest is a plural ending (s, es)."""
    if start > 0 and _is_word(text[start - 1]):
        return False
    return re.match(r"e?s(?!\w)", text[end:]) is not None


def _add_silver(doc: Document, key: KeyDoc | None, report: ReadReport) -> Document:
    if key is None:
        report.add("silver_key_missing", doc.id)
        return doc
    roles = doc.roles | SILVER_ROLES
    meta = dict(doc.meta)
    if not key.has_incident:
        report.note("silver_documents_without_incident")
        return Document(doc.id, doc.text, doc.spans, roles, doc.corpus, meta)
    silver = silver_spans(doc.text, key, report, doc.id)
    meta["key"] = {"dates": list(dict.fromkeys(key.dates)), "locations": list(dict.fromkeys(key.locations))}
    for role in sorted(silver.unrecovered):
        report.note(f"silver_documents_without_{role}")
    spans = doc.spans + list(dict.fromkeys(silver.spans))
    return Document(doc.id, doc.text, spans, roles - silver.unrecovered, doc.corpus, meta)
