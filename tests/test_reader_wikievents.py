"""WikiEvents reader: role mapping, argument vs coreferent mentions, offset repairs."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from eventroles.data.problems import CorpusFormatError, CorpusNotFoundError, ReadReport
from eventroles.data.readers import wikievents
from eventroles.data.words import snap_to_words

SHARED = Path(os.environ.get("EVENTROLES_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"real corpora not found at {SHARED} (set EVENTROLES_SHARED_DATA)")

TEXT = (
    "Gunmen from the Red Cell attacked a checkpoint in Northtown with a truck bomb and rifles . "
    "They killed two guards and injured a driver . The mayor met reporters in Southtown . "
    "A man robbed a shop in Northtown . Police said the Red Cell planned it ."
)


def _m(mention: str, nth: int = 0) -> list:
    start = -1
    for _ in range(nth + 1):
        start = TEXT.index(mention, start + 1)
    return [mention, start]


TEMPLATES = [
    {
        "incident_type": "Conflict.Attack",
        "Attacker": [[_m("Gunmen"), _m("They")]],
        "Target": [[_m("checkpoint")]],
        "Place": [[_m("Northtown"), _m("Northtown", 1)]],
        "ExplosiveDevice": [[_m("truck bomb")]],
        "Instrument": [[["rifles", 3]]],  # wrong offset: repaired to the only occurrence
        "Human_Trig": [[_m("attacked")]],
    },
    {"incident_type": "Life.Die", "Killer": [[_m("They")]], "Victim": [[_m("two guards")]], "Place": [[_m("Northtown")]]},
    {"incident_type": "Life.Injure", "Injurer": [[_m("They")]], "Victim": [[["drive", TEXT.index("driver")]]]},
    {"incident_type": "GenericCrime.GenericCrime", "Perpetrator": [[_m("A man")]], "Victim": [[["tanks", 0]]]},
    {"incident_type": "Contact.Contact", "Participant": [[_m("The mayor")]], "Place": [[_m("Southtown")]]},
]


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    data = {"doc1": {"docid": "doc1", "doctext": TEXT, "templates": TEMPLATES}}
    for split in wikievents.SPLITS:
        (tmp_path / f"{split}.json").write_text(json.dumps(data, indent=1), encoding="utf-8")
    return tmp_path


def _by_label(doc) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for span in doc.spans:
        out.setdefault(span.label, []).append(f"{span.role}:{doc.span_text(span)}")
    return out


def test_mapping_and_first_mentions(folder: Path) -> None:
    report = ReadReport()
    [doc] = wikievents.read(folder, "train", report)
    assert doc.roles == frozenset({"attacker", "target", "location", "weapon"})
    assert _by_label(doc) == {
        "Attacker": ["attacker:Gunmen"],
        "Target": ["target:checkpoint"],
        "Place": ["location:Northtown"],  # shared by the attack and the death: one span
        "ExplosiveDevice": ["weapon:truck bomb"],
        "Instrument": ["weapon:rifles"],
        "Killer": ["attacker:They"],
        "Victim": ["target:two guards", "target:driver"],  # "drive" cut short: widened
        "Injurer": ["attacker:They"],
        "Perpetrator": ["attacker:A man"],
    }
    assert report.counts["mention_offset_repaired"] == 1
    assert report.counts["mention_not_found"] == 1  # "tanks"
    assert report.counts["span_snapped_to_words"] == 1
    assert report.facts["unmapped_role:Participant"] == 1
    assert report.facts["role_outside_attack_events:Place"] == 1  # Southtown: where a meeting was
    assert doc.meta["entities"]["location"] == [["Northtown", "Northtown"]]
    assert ["driver"] in doc.meta["entities"]["target"]
    assert doc.meta["entities"]["attacker"][0] == ["Gunmen", "They"]


def test_the_other_mentions_of_each_argument_are_kept_apart(folder: Path) -> None:
    # Not spans (the corpus's scoring counts them as O), but recorded, so that training may treat
    # them as "O or the role" (coreferent_mentions: unknown) instead of as certain negatives.
    [doc] = wikievents.read(folder, "train", ReadReport())
    coreferent = [(TEXT[start:end], role) for start, end, role in doc.meta["coreferent_mentions"]]
    assert sorted(coreferent) == [("Northtown", "location"), ("They", "attacker")]
    [(start, _, _)] = [m for m in doc.meta["coreferent_mentions"] if m[2] == "location"]
    assert start == _m("Northtown", 1)[1]  # the second "Northtown", not the argument mention
    [doc] = wikievents.read(folder, "train", ReadReport(), mentions="all")
    assert doc.meta["coreferent_mentions"] == []  # every mention is already a span


def test_all_mentions_and_all_events(folder: Path) -> None:
    [doc] = wikievents.read(folder, "dev", ReadReport(), mentions="all")
    assert _by_label(doc)["Attacker"] == ["attacker:Gunmen", "attacker:They"]
    places = [s for s in doc.spans if s.label == "Place"]
    assert [doc.span_text(s) for s in places] == ["Northtown", "Northtown"]
    [doc] = wikievents.read(folder, "dev", ReadReport(), events="all")
    assert "location:Southtown" in _by_label(doc)["Place"]
    with pytest.raises(ValueError):
        wikievents.read(folder, "dev", ReadReport(), mentions="some")


def test_bad_json_names_file_and_line(folder: Path) -> None:
    (folder / "test.json").write_text('{\n "doc1": {\n  "doctext": "x",,\n }\n}\n', encoding="utf-8")
    with pytest.raises(CorpusFormatError) as error:
        wikievents.read(folder, "test", ReadReport())
    assert "test.json" in str(error.value) and error.value.line == 3


def test_bad_field_is_named(folder: Path) -> None:
    bad = {"doc1": {"doctext": TEXT, "templates": [{"incident_type": "Conflict.Attack", "Attacker": [["Gunmen", 0]]}]}}
    (folder / "test.json").write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(CorpusFormatError) as error:
        wikievents.read(folder, "test", ReadReport())
    assert error.value.doc_id == "doc1" and error.value.field == "templates[0].Attacker[0][0]"


def test_unknown_split(folder: Path) -> None:
    with pytest.raises(CorpusNotFoundError, match="train, dev, test"):
        wikievents.read(folder, "validation", ReadReport())


# ------------------------------------------------------------------ real corpus


@pytest.fixture(scope="module")
def real():
    folder = SHARED / "wikievents"
    if not (folder / "test.json").is_file():
        pytest.skip(f"WikiEvents not found under {folder}")
    out = {}
    for split in wikievents.SPLITS:
        report = ReadReport()
        out[split] = (wikievents.read(folder, split, report), report)
    return out


@needs_shared
def test_real_counts_and_spans(real) -> None:
    assert {s: len(docs) for s, (docs, _) in real.items()} == {"train": 206, "dev": 20, "test": 20}
    for docs, report in real.values():
        assert report.counts["mention_not_found"] == 0
        for doc in docs:
            strings = {m for ents in doc.meta["entities"].values() for e in ents for m in e}
            for span in doc.spans:
                assert snap_to_words(doc.words, span.start, span.end) == (span.start, span.end)
                assert doc.span_text(span) in strings, (doc.id, span)
    per_role = Counter(s.role for s in (sp for d in real["train"][0] for sp in d.spans))
    for role, low in {"attacker": 300, "target": 700, "location": 300, "weapon": 200}.items():
        assert per_role[role] >= low, per_role


@needs_shared
def test_real_first_mentions_are_the_original_arguments(real) -> None:
    """Cross-check with the original test file: attack-event arguments are our spans."""
    original = SHARED / "wikievents" / "original" / "test.jsonl"
    if not original.is_file():
        pytest.skip(f"{original} not found")
    docs = {d.id: d for d in real["test"][0]}
    total = matched = 0
    for line in original.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        doc = docs[item["doc_id"]]
        starts, position = [], 0
        for token in item["tokens"]:
            starts.append(position)
            position += len(token) + 1
        mentions = {m["id"]: m for m in item["entity_mentions"]}
        spans = {(s.start, s.end, s.label) for s in doc.spans}
        for event in item["event_mentions"]:
            if not event["event_type"].startswith(wikievents.ATTACK_EVENTS):
                continue
            for argument in event["arguments"]:
                if argument["role"] not in wikievents.ROLE_MAP:
                    continue
                m = mentions[argument["entity_id"]]
                end_token = item["tokens"][m["end"] - 1]
                total += 1
                matched += (starts[m["start"]], starts[m["end"] - 1] + len(end_token), argument["role"]) in spans
    assert total > 300 and matched / total >= 0.97, (matched, total)
