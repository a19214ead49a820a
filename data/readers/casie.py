"""Reader for CASIE: cyber-attack news with event arguments as character offsets.

Layout: ``<folder>/annotation/*.json``, one article per file: ``content`` (the text) and
``cyberevent.hopper[].events[]`` with ``type`` (``Attack`` or ``Vulnerability-related``),
``subtype`` and ``argument[]`` (``startOffset``/``endOffset`` into ``content``, ``text``,
``role.type``). ``source/*.txt`` is not read.

Mapping (the native role is kept as the span label), applied to ``Attack`` events only
(``Databreach``, ``Phishing``, ``Ransom``): ``Attacker`` -> attacker, ``Victim`` -> target,
``Place`` -> location, ``Time`` -> time. Why only attacks: the project's time and location are
those *of the attack*, and a ``Time`` of a ``Vulnerability-related`` event is when a flaw was
found or patched ("Microsoft released a fix on Tuesday"); those and all other roles are counted
in ``report.facts`` (``role_not_mapped:<Event type>.<Role>``). ``Tool`` is not mapped to weapon:
its fillers are "emails", "the messages", "phishing page", "ransomware", instruments of a cyber
attack but not weapons in the conflict-news sense, and would teach a tagger that an e-mail is a
weapon; ``Capabilities``, ``Attack-Pattern``, ``Damage-Amount`` and the rest have no project role.
Document roles are {attacker, target, location, time}.

Offsets: when ``content[start:end]`` is not the argument's ``text`` (32 files of the 1,000 are
shifted, mostly by -1 to -2 characters, one by -12), the nearest occurrence of ``text`` within
``NEAR`` characters is taken (``offset_repaired``), else the argument is dropped
(``offset_mismatch_dropped``). Files that are not JSON, have no usable ``content`` or no
``cyberevent`` are skipped and counted (``file_not_json_skipped``, ``document_without_content_skipped``,
``document_without_annotation_skipped``); a malformed argument is a ``CorpusFormatError``.

Split: CASIE has none. Each file goes by ``stable_split(file name)`` (SHA-1, see
``splits.stable_split``): below 0.70 -> train, below 0.85 -> dev, else test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from ..document import Document, Span, clean_spans
from ..problems import CorpusFormatError, CorpusNotFoundError, ReadReport
from ..splits import stable_split
from ._text import NEAR, find_near

SPLITS = ("train", "dev", "test")
ATTACK_EVENT = "Attack"
ROLE_MAP = {"Attacker": "attacker", "Victim": "target", "Place": "location", "Time": "time"}
ROLES = frozenset(ROLE_MAP.values())


def annotation_files(folder: Path) -> list[Path]:
    directory = folder / "annotation"
    if not directory.is_dir():
        raise CorpusNotFoundError(f"CASIE annotation folder not found: {directory}")
    files = sorted(directory.glob("*.json"), key=lambda p: (len(p.stem), p.name))
    if not files:
        raise CorpusNotFoundError(f"{directory}: no *.json annotation files")
    return files


def _load(path: Path, report: ReadReport) -> dict[str, Any] | None:
    try:
        obj = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        report.add("file_not_json_skipped", f"{path.name}: {error}")
        return None
    if not isinstance(obj, dict):
        report.add("file_not_json_skipped", f"{path.name}: not a JSON object")
        return None
    content = obj.get("content")
    if not isinstance(content, str) or not content.strip():
        report.add("document_without_content_skipped", path.name)
        return None
    if not isinstance(obj.get("cyberevent"), dict):
        report.add("document_without_annotation_skipped", path.name)
        return None
    return obj


def _as_list(value: Any, path: Path, doc_id: str, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise CorpusFormatError(path, "must be a list", doc_id=doc_id, field=field)
    return value


def iter_arguments(obj: dict[str, Any], path: Path, doc_id: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Yield ``(field path, event type, argument)`` for every argument of every event."""
    hoppers = _as_list(obj["cyberevent"].get("hopper"), path, doc_id, "cyberevent.hopper")
    for h, hopper in enumerate(hoppers):
        events_field = f"cyberevent.hopper[{h}].events"
        if not isinstance(hopper, dict):
            raise CorpusFormatError(path, "must be an object", doc_id=doc_id, field=f"cyberevent.hopper[{h}]")
        for e, event in enumerate(_as_list(hopper.get("events"), path, doc_id, events_field)):
            if not isinstance(event, dict):
                raise CorpusFormatError(path, "must be an object", doc_id=doc_id, field=f"{events_field}[{e}]")
            arguments_field = f"{events_field}[{e}].argument"
            for a, argument in enumerate(_as_list(event.get("argument"), path, doc_id, arguments_field)):
                yield f"{arguments_field}[{a}]", str(event.get("type")), argument


def _argument_span(
    argument: Any, field: str, event_type: str, text: str, path: Path, doc_id: str, report: ReadReport
) -> Span | None:
    def fail(message: str, sub: str) -> CorpusFormatError:
        return CorpusFormatError(path, message, doc_id=doc_id, field=f"{field}{sub}")

    if not isinstance(argument, dict):
        raise fail("must be an object", "")
    role = argument.get("role")
    native = role.get("type") if isinstance(role, dict) else None
    if not isinstance(native, str):
        raise fail("missing or not a string", ".role.type")
    if event_type != ATTACK_EVENT or native not in ROLE_MAP:
        report.note(f"role_not_mapped:{event_type}.{native}")
        return None
    start, end, value = argument.get("startOffset"), argument.get("endOffset"), argument.get("text")
    for name, item, kind in (("startOffset", start, int), ("endOffset", end, int), ("text", value, str)):
        if not isinstance(item, kind) or isinstance(item, bool):
            raise fail(f"missing or not {kind.__name__}", f".{name}")
    if start >= end or text[start:end] != value:
        found = find_near(text, value, start, NEAR)
        if found is None:
            report.add("offset_mismatch_dropped", f"{path.name} {field}: {value!r} vs {text[start:end]!r}")
            return None
        report.add("offset_repaired", f"{path.name} {field}: {value!r} [{start}, {end}) -> [{found}, {found + len(value)})")
        start, end = found, found + len(value)
    return Span(start, end, ROLE_MAP[native], native)


def read_file(path: Path, report: ReadReport) -> Document | None:
    """One annotation file as a ``Document`` (None when skipped, counted in ``report``)."""
    obj = _load(path, report)
    if obj is None:
        return None
    doc_id, text = path.stem, obj["content"]
    spans = []
    for field, event_type, argument in iter_arguments(obj, path, doc_id):
        span = _argument_span(argument, field, event_type, text, path, doc_id, report)
        if span is not None:
            spans.append(span)
    info = obj.get("info") if isinstance(obj.get("info"), dict) else {}
    meta = {"file": path.name, "title": info.get("title"), "date": info.get("date"), "domain": "cyber"}
    doc = Document(doc_id, text, spans, ROLES, "casie", meta)
    return clean_spans(doc, report, where=f"casie/{path.name}")


def read(folder: Path, split: str, report: ReadReport) -> list[Document]:
    """Registry entry point: the annotation files hashed into ``split``."""
    if split not in SPLITS:
        raise CorpusNotFoundError(f"casie has no split {split!r}; splits: {', '.join(SPLITS)}")
    docs = []
    for path in annotation_files(folder):
        if stable_split(path.name) != split:
            continue
        doc = read_file(path, report)
        if doc is not None:
            docs.append(doc)
    return docs
