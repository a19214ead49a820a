"""Reader for WikiEvents (Li, Ji & Han 2021) as templates: ``{train,dev,test}.json``.

Each file is one JSON object: docid -> ``doctext`` (the original tokens joined by single spaces)
and ``templates``, one per event: ``incident_type`` and native role -> entities -> ``[mention,
char offset]`` mentions. The first mention of an entity is the annotated argument mention, the
others are its coreferent mentions; ``*_Trig`` keys belong to another paper and are ignored.

Role mapping: Attacker, Killer, Injurer, Perpetrator -> attacker; Target, Victim -> target;
Place -> location; Instrument, ExplosiveDevice -> weapon (native role kept as ``label``). The
project's roles are those of an attack, so by default (``events="attack"``) only events of
attack types are mapped: Conflict.Attack, Life.Die, Life.Injure and GenericCrime. The same role
names elsewhere mean something else -- Place of an arrest, a meeting or an outbreak, Target of a
demonstration, Victim of a disease, Instrument of a broadcast -- and are counted
(``role_outside_attack_events:<role>``), as are role names with no project role
(``unmapped_role:<role>``). ``events="all"`` maps the role names in every event.
ArtifactExistence.DamageDestroyDisableDismantle is left out: it mixes bomb damage with police
dismantling a bomb, and its agents (Destroyer, Dismantler...) are not reliably attackers.

Which mentions: ``mentions="first"`` (default) makes a span of each argument mention only, as
the standard WikiEvents argument-extraction evaluation does; the entity's other mentions stay
unlabelled. ``mentions="all"`` also marks every coreferent mention (pronouns included): more
positives for training, but then scores are no longer comparable with published ones.
``doc.meta["entities"]`` always keeps every entity's mention strings (argument mention first)
by project role, ``{role: [[mentions of entity]...]}``, for CEAF-REE scoring. An offset that
does not match its mention is moved to the nearest whole-word occurrence
(``mention_offset_repaired``) or dropped (``mention_not_found``). Some mentions were cut short
by a character in the conversion ("thre" for "three"): ``clean_spans`` widens those spans to
whole words (``span_snapped_to_words``) and the entity strings are widened likewise. No time
role. With ``mentions="first"`` the other mentions of each argument entity are kept as
``doc.meta["coreferent_mentions"]`` (``[start, end, role]``): annotated as that role by nobody,
yet not outside it either; a config may train them as "O or the role"
(``coreferent_mentions: unknown``) instead of as O.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..document import Document, Span, clean_spans
from ..problems import CorpusFormatError, CorpusNotFoundError, ReadReport
from ..words import Words, snap_to_words
from .muc4 import find_all, parse_entities

SPLITS = ("train", "dev", "test")
ROLE_MAP = {
    "Attacker": "attacker", "Killer": "attacker", "Injurer": "attacker", "Perpetrator": "attacker",
    "Target": "target", "Victim": "target",
    "Place": "location",
    "Instrument": "weapon", "ExplosiveDevice": "weapon",
}
ATTACK_EVENTS = ("Conflict.Attack", "Life.Die", "Life.Injure", "GenericCrime")
ROLES = frozenset({"attacker", "target", "location", "weapon"})
MENTION_CHOICES = ("first", "all")
EVENT_CHOICES = ("attack", "all")


def read(
    folder: Path, split: str, report: ReadReport, mentions: str = "first", events: str = "attack"
) -> list[Document]:
    """Registry entry point: ``folder/<split>.json``."""
    if split not in SPLITS:
        raise CorpusNotFoundError(f"wikievents has no split {split!r}; the splits are: {', '.join(SPLITS)}")
    if mentions not in MENTION_CHOICES or events not in EVENT_CHOICES:
        raise ValueError(f"mentions must be one of {MENTION_CHOICES} and events one of {EVENT_CHOICES}")
    path = Path(folder) / f"{split}.json"
    data = _load(path)
    docs = []
    for doc_id, value in data.items():
        doc = _document(doc_id, value, path, report, mentions, events)
        docs.append(clean_spans(doc, report, where=f"{path.name} {doc_id}"))
    report.note(f"wikievents_{split}_documents", len(docs))
    return docs


def _load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CorpusNotFoundError(f"{path}: no such file")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as error:
        raise CorpusFormatError(path, f"not valid UTF-8 (byte {error.start})") from None
    except json.JSONDecodeError as error:
        message = f"malformed JSON: {error.msg} (column {error.colno})"
        raise CorpusFormatError(path, message, line=error.lineno) from None
    if not isinstance(data, dict):
        raise CorpusFormatError(path, f"expected one object docid -> document, got {type(data).__name__}")
    return data


def _document(
    doc_id: str, value: Any, path: Path, report: ReadReport, mentions: str, events: str
) -> Document:
    def fail(message: str, field: str | None) -> CorpusFormatError:
        return CorpusFormatError(path, message, doc_id=doc_id, field=field)

    if not isinstance(value, dict):
        raise fail("must be an object with doctext and templates", None)
    text, templates = value.get("doctext"), value.get("templates")
    if not isinstance(text, str):
        raise fail("missing or not a string", "doctext")
    if not isinstance(templates, list):
        raise fail("missing or not a list", "templates")
    spans: list[Span] = []
    arguments: list[tuple[str, list[tuple[str, int]], list]] = []  # (role, entity, located)
    coreferent: set[tuple[int, int, str]] = set()  # the argument entities' other mentions
    for index, template in enumerate(templates):
        if not isinstance(template, dict) or not isinstance(template.get("incident_type"), str):
            raise fail("must be an object with a string incident_type", f"templates[{index}]")
        in_scope = events == "all" or template["incident_type"].startswith(ATTACK_EVENTS)
        for name, fillers in template.items():
            if name == "incident_type" or name.endswith("_Trig"):
                continue
            field = f"templates[{index}].{name}"
            parsed = parse_entities(fillers, fail, field)
            if name not in ROLE_MAP or not in_scope:
                kind = "unmapped_role" if name not in ROLE_MAP else "role_outside_attack_events"
                if parsed:
                    report.note(f"{kind}:{name}", len(parsed))
                continue
            role = ROLE_MAP[name]
            for entity in parsed:
                located = [_locate(text, m, o, report, f"{path.name} {doc_id} {field}") for m, o in entity]
                arguments.append((role, entity, located))
                chosen = located if mentions == "all" else located[:1]
                spans.extend(Span(found[0], found[1], role, name) for found in chosen if found is not None)
                coreferent.update((f[0], f[1], role) for f in located[len(chosen):] if f is not None)
    unique = list(dict.fromkeys(spans))  # one argument of several events (Place of an attack and a death)
    report.note("arguments_shared_by_events", len(spans) - len(unique))
    doc = Document(doc_id, text, unique, ROLES, "wikievents")
    entities: dict[str, list[tuple[set, list[str]]]] = {role: [] for role in sorted(ROLES)}
    for role, entity, located in arguments:
        _merge_entity(entities[role], entity, _mention_strings(text, doc.words, entity, located))
    doc.meta["entities"] = {role: [strings for _, strings in found] for role, found in entities.items()}
    doc.meta["coreferent_mentions"] = [list(mention) for mention in sorted(coreferent)]
    return doc


def _mention_strings(text: str, words: Words, entity, located) -> list[str]:
    """Entity mention strings for CEAF-REE, widened to whole words: the conversion to this format
    cut some mentions short by a character ("thre" for "three", "$ 90" for "$ 900")."""
    out = []
    for (mention, _), found in zip(entity, located):
        bounds = snap_to_words(words, *found) if found is not None else None
        out.append(text[bounds[0]:bounds[1]] if bounds is not None else mention)
    return out


def _merge_entity(found: list[tuple[set, list[str]]], entity, strings: list[str]) -> None:
    """One entity per role however many events name it (its argument mention may differ)."""
    pairs = set(entity)
    for known, known_strings in found:
        if known & pairs:
            known_strings.extend(s for p, s in zip(entity, strings) if p not in known)
            known |= pairs
            return
    found.append((pairs, strings))


def _locate(text: str, mention: str, offset: int, report: ReadReport, where: str) -> tuple[int, int] | None:
    """The mention's span: at its offset, else the nearest whole-word occurrence (counted)."""
    if mention.strip() and 0 <= offset and text[offset:offset + len(mention)] == mention:
        return offset, offset + len(mention)
    found = find_all(text, mention) if mention.strip() else []
    if not found:
        report.add("mention_not_found", f"{where}: {mention!r} at {offset}")
        return None
    nearest = min(found, key=lambda span: abs(span[0] - offset))
    report.add("mention_offset_repaired", f"{where}: {mention!r} {offset} -> {nearest[0]}")
    return nearest
