"""Reader for GENEVA: FrameNet-derived sentences with event arguments on tokens.

Layout: ``<folder>/{train-s160,val,test}.json`` (splits train, dev, test), JSON lines with
``wnd_id``, ``sentence``, ``tokens``, ``entity_mentions`` (token ``start``/``end``) and
``event_mentions[].arguments[]`` (``entity_id``, ``role``). One document per sentence.

Text: the original ``sentence``. Its tokens align to it exactly (each token is the next
non-space substring: "--" is two tokens "-", "$89" is "$", "89"), so character offsets come from
that alignment; a token that cannot be aligned is a ``CorpusFormatError``. An argument whose
stored ``text`` differs from the sentence at its token offsets is looked for nearby (stripped of
spaces) and repaired (``argument_text_repaired``) or dropped (``argument_text_mismatch_dropped``).

Overlap: upstream ``train-s160`` (from the low-resource split) and the time-and-place ``val``/
``test`` were cut separately, and 117 train sentences are also in val and 164 in test (mostly
the same ``wnd_id``). The train split drops every sentence whose text is in val or test
(``train_sentence_in_dev_or_test_dropped``), so evaluation never sees training sentences. val and
test, the evaluation sets, are kept as given (they share 10 repeated sentence texts, distinct
``wnd_id``; noted, not changed). Sentences of one source document do fall in several splits.

Mapping (the native role is the span label):
- ``Time`` -> time, ``Place`` -> location, in every frame (GENEVA is here for time and place);
- attacker/target/weapon only in attack-like frames: ``Attack`` (Assailant, Victim, Weapon),
  ``Killing`` (Killer, Victim, Instrument), ``Terrorism`` (Terrorist, Instrument). Not mapped:
  ``Hostile_encounter`` (Side_1/Side_2/Sides do not say who attacked whom), ``Defending``,
  ``Destroying``, ``Damaging``, ``Conquering``, ``Bodily_harm`` (not attacks as such, or
  accidents too), and every other role (counted as ``role_not_mapped:<Frame>.<Role>``).
FrameNet arguments are phrases, so a leading bare preposition (``STRIP_LEADING``: "in 1949",
"on Tuesday", "by the terrorists") is removed to match the project's spans ("on [Sunday]");
counted as ``leading_preposition_stripped``. Relational words ("after", "since", "near") stay.

Document roles, per sentence. Time and Place are non-core frame elements: they are annotated
only for the frames kept in GENEVA. Measured on val/test: sentences with no Time or Place
argument still hold 133 month, weekday or year words, none annotated, while in sentences with at
least one Time or Place argument 212 of 254 such words (83%) lie inside a Time argument. So
{time, location} are a sentence's roles only when it has at least one Time or Place argument;
{attacker, target, weapon} only when it has an attack-like frame (its core elements are
annotated). Other sentences are kept with no roles (nothing annotated; counted in
``report.facts`` as ``document_without_annotated_roles``). Each document is ``meta["weak"]``:
time and place belong to any kind of event, not only attacks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..document import Document, Span, clean_spans
from ..problems import CorpusFormatError, CorpusNotFoundError, ReadReport
from ._text import find_near
from .jsonl import iter_json_lines

SPLIT_FILES = {"train": "train-s160.json", "dev": "val.json", "test": "test.json"}
ANY_FRAME = {"Time": "time", "Place": "location"}
ATTACK_FRAMES: dict[str, dict[str, str]] = {
    "Attack": {"Assailant": "attacker", "Victim": "target", "Weapon": "weapon"},
    "Killing": {"Killer": "attacker", "Victim": "target", "Instrument": "weapon"},
    "Terrorism": {"Terrorist": "attacker", "Instrument": "weapon"},
}
STRIP_LEADING = frozenset({"in", "on", "at", "during", "of", "by", "with", "against", "upon", "into"})
TIME_PLACE = frozenset({"time", "location"})
ATTACK_ROLES = frozenset({"attacker", "target", "weapon"})


def align_tokens(sentence: str, tokens: list[str]) -> list[tuple[int, int]] | None:
    """Character offsets of each token in ``sentence``, in order, or None if they do not align."""
    offsets = []
    position = 0
    for token in tokens:
        while position < len(sentence) and sentence[position].isspace():
            position += 1
        if not token or not sentence.startswith(token, position):
            return None
        offsets.append((position, position + len(token)))
        position += len(token)
    return offsets if not sentence[position:].strip() else None


def map_role(frame: str, role: str) -> str | None:
    if role in ANY_FRAME:
        return ANY_FRAME[role]
    return ATTACK_FRAMES.get(frame, {}).get(role)


def _strip_preposition(text: str, start: int, end: int) -> int:
    head, _, rest = text[start:end].partition(" ")
    if head.lower() in STRIP_LEADING and rest.strip():
        return start + len(head) + 1
    return start


class _Sentence:
    """One JSON line being turned into a Document; ``fail`` builds located errors."""

    def __init__(self, obj: Any, path: Path, line: int) -> None:
        self.path, self.line = path, line
        if not isinstance(obj, dict):
            raise CorpusFormatError(path, "expected a JSON object", line=line)
        self.obj = obj
        self.id = self.get("wnd_id", str)
        self.text = self.get("sentence", str)
        tokens = self.get("tokens", list)
        offsets = align_tokens(self.text, tokens) if all(isinstance(t, str) for t in tokens) else None
        if offsets is None:
            raise self.fail("tokens do not align with the sentence", "tokens")
        self.offsets = offsets

    def fail(self, message: str, field: str) -> CorpusFormatError:
        return CorpusFormatError(self.path, message, line=self.line, doc_id=getattr(self, "id", None), field=field)

    def get(self, name: str, kind: type, obj: Any = None, field: str | None = None) -> Any:
        value = (self.obj if obj is None else obj).get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise self.fail(f"missing or not {kind.__name__}", field or name)
        return value

    def mentions(self) -> dict[str, tuple[int, int]]:
        out = {}
        for i, mention in enumerate(self.get("entity_mentions", list)):
            field = f"entity_mentions[{i}]"
            if not isinstance(mention, dict):
                raise self.fail("must be an object", field)
            start = self.get("start", int, mention, f"{field}.start")
            end = self.get("end", int, mention, f"{field}.end")
            if not 0 <= start < end <= len(self.offsets):
                raise self.fail(f"token range [{start}, {end}) outside the {len(self.offsets)} tokens", field)
            out[self.get("id", str, mention, f"{field}.id")] = (self.offsets[start][0], self.offsets[end - 1][1])
        return out


def _checked(sent: _Sentence, start: int, end: int, stored: Any, where: str, report: ReadReport) -> tuple[int, int] | None:
    """Offsets whose text is the stored argument text (stripped), repaired nearby or None."""
    if not isinstance(stored, str) or sent.text[start:end] == stored.strip():
        return start, end
    value = stored.strip()
    found = find_near(sent.text, value, start)
    if found is None:
        report.add("argument_text_mismatch_dropped", f"{where}: {stored!r} vs {sent.text[start:end]!r}")
        return None
    report.add("argument_text_repaired", f"{where}: {stored!r} [{start}, {end}) -> [{found}, {found + len(value)})")
    return found, found + len(value)


def parse_sentence(obj: Any, path: Path, line: int, report: ReadReport) -> Document:
    sent = _Sentence(obj, path, line)
    mentions = sent.mentions()
    spans: list[Span] = []
    roles: set[str] = set()
    for e, event in enumerate(sent.get("event_mentions", list)):
        field = f"event_mentions[{e}]"
        if not isinstance(event, dict):
            raise sent.fail("must be an object", field)
        frame = sent.get("event_type", str, event, f"{field}.event_type")
        if frame in ATTACK_FRAMES:
            roles |= ATTACK_ROLES
        for a, argument in enumerate(sent.get("arguments", list, event, f"{field}.arguments")):
            where = f"{field}.arguments[{a}]"
            if not isinstance(argument, dict):
                raise sent.fail("must be an object", where)
            native = sent.get("role", str, argument, f"{where}.role")
            entity = sent.get("entity_id", str, argument, f"{where}.entity_id")
            if entity not in mentions:
                raise sent.fail(f"entity {entity!r} is not among the entity_mentions", f"{where}.entity_id")
            role = map_role(frame, native)
            if role in TIME_PLACE:
                roles |= TIME_PLACE
            if role is None:
                report.note(f"role_not_mapped:{frame}.{native}")
                continue
            bounds = _checked(sent, *mentions[entity], argument.get("text"), f"{path.name}:{line} {where}", report)
            if bounds is None:
                continue
            start = _strip_preposition(sent.text, *bounds)
            if start != bounds[0]:
                report.add("leading_preposition_stripped", f"{sent.text[bounds[0]:bounds[1]]!r}")
            spans.append(Span(start, bounds[1], role, native))
    if not roles:
        report.note("document_without_annotated_roles")
    meta = {"doc_id": obj.get("doc_id"), "weak": True}
    doc = Document(sent.id, sent.text, spans, frozenset(roles), "geneva", meta)
    return clean_spans(doc, report, where=f"geneva/{path.name}:{line}")


def read_file(path: Path, report: ReadReport, exclude: frozenset[str] = frozenset()) -> list[Document]:
    """Every sentence of one file, less those whose text is in ``exclude`` (counted)."""
    docs: list[Document] = []
    seen: set[str] = set()
    for number, obj in iter_json_lines(path):
        if isinstance(obj, dict) and obj.get("sentence") in exclude:
            report.add("train_sentence_in_dev_or_test_dropped", f"{path.name}:{number} {obj.get('wnd_id')}")
            continue
        doc = parse_sentence(obj, path, number, report)
        if doc.id in seen:
            raise CorpusFormatError(path, f"duplicate wnd_id {doc.id!r}", line=number, field="wnd_id")
        seen.add(doc.id)
        docs.append(doc)
    return docs


def _sentences(path: Path) -> set[str]:
    out = set()
    for number, obj in iter_json_lines(path):
        if isinstance(obj, dict) and isinstance(obj.get("sentence"), str):
            out.add(obj["sentence"])
    return out


def _eval_sentences(folder: Path, report: ReadReport) -> frozenset[str]:
    """The sentence texts of val and test, which the train split must not contain."""
    held_out: set[str] = set()
    for split in ("dev", "test"):
        path = folder / SPLIT_FILES[split]
        if path.is_file():
            held_out |= _sentences(path)
        else:
            report.note(f"overlap_check_skipped:{path.name}_missing")
    return frozenset(held_out)


def read(folder: Path, split: str, report: ReadReport) -> list[Document]:
    """Registry entry point: train = ``train-s160.json`` (less its dev/test sentences),
    dev = ``val.json``, test = ``test.json``."""
    if split not in SPLIT_FILES:
        raise CorpusNotFoundError(f"geneva has no split {split!r}; splits: {', '.join(SPLIT_FILES)}")
    exclude = _eval_sentences(folder, report) if split == "train" else frozenset()
    return read_file(folder / SPLIT_FILES[split], report, exclude)
