"""MUC-4 reader (GRIT's processed files) and its silver location/time layer from the NIST keys."""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections import Counter
from pathlib import Path

import pytest

from eventroles.data.problems import CorpusFormatError, CorpusNotFoundError, ReadReport
from eventroles.data.readers import muc4
from eventroles.data.readers.muc4_keys import KeyDoc, load_keys, location_levels, silver_spans
from eventroles.data.words import snap_to_words

SHARED = Path(os.environ.get("EVENTROLES_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"real corpora not found at {SHARED} (set EVENTROLES_SHARED_DATA)")

# ------------------------------------------------------------------ invented fixture corpus

TEXT1 = (
    "rebels of the popular front attacked a police post in villa nueva yesterday, killing two "
    "guards with rifles. the rebels fled. on 4 march the front said the attack was a warning. "
    "police reported today that the front also bombed frontier posts near villa nueva."
)
TEXT2 = "the minister of elbonia met bankers in puerto lindo today to discuss the coffee harvest."
TEXT3 = "a car bomb exploded near a bridge, the army said. the army blamed the rebels."
TEXT4 = "an army truck hit a mine; carlos, the driver, survived. the car was destroyed."


def _at(text: str, needle: str, nth: int = 0) -> int:
    start = -1
    for _ in range(nth + 1):
        start = text.index(needle, start + 1)
    return start


DOCS = [
    {
        "docid": "TST3-MUC4-0001",
        "doctext": TEXT1,
        "extracts": {
            "PerpInd": [[["rebels", 0]]],
            "PerpOrg": [[["popular front", _at(TEXT1, "popular front")], ["front", _at(TEXT1, "front", 1)]]],
            "Target": [[["police post", _at(TEXT1, "police post")]]],
            "Victim": [[["guard", _at(TEXT1, "guards")]]],  # GRIT's str.find offset, into a plural
            "Weapon": [[["rifles", 5]], [["grenades", 0]]],  # wrong offset; a mention not in the text
        },
    },
    {"docid": "TST3-MUC4-0002", "doctext": TEXT2, "extracts": {label: [] for label in muc4.ROLE_MAP}},
    {
        "docid": "TST3-MUC4-0003",
        "doctext": TEXT3,
        "extracts": {"Weapon": [[["car bomb", 2]]], "Target": [[["bridge", _at(TEXT3, "bridge")]]]},
    },
    {"docid": "TST3-MUC4-0004", "doctext": TEXT4, "extracts": {"Target": [[["car", _at(TEXT4, "car")]]]}},  # in "carlos"
]

RAW = """TST3-MUC4-0001

   PUERTO LINDO, 5 MAR 90 (RADIO TEST) -- [TEXT] REBELS OF THE POPULAR FRONT ATTACKED A POLICE
POST IN VILLA NUEVA YESTERDAY.

TST3-MUC4-0002

   PUERTO LINDO, 6 MAR 90 (RADIO TEST) -- [TEXT] THE MINISTER OF ELBONIA MET BANKERS.

TST3-MUC4-0003

   NO CITY (ELBONIA), NO DATE (RADIO TEST) -- [TEXT] A CAR BOMB EXPLODED NEAR A BRIDGE.
"""


def _template(doc_id: str, number: str, date: str, location: str) -> str:
    return (
        f"0.  MESSAGE: ID                    {doc_id} (TEST)\n"
        f"1.  MESSAGE: TEMPLATE              {number}\n"
        f"2.  INCIDENT: DATE                 {date}\n"
        f"3.  INCIDENT: LOCATION             {location}\n"
        "4.  INCIDENT: TYPE                 ATTACK\n"
        "9.  PERP: INDIVIDUAL ID            \"REBELS\" / \"FRONT\"\n"
        "                                   \"OTHERS\"\n\n"
    )


KEYS = (
    ";;; an invented key\n\n"
    + _template("TST3-MUC4-0001", "1", "04 MAR 90", "ELBONIA: VILLA NUEVA (TOWN)")
    + _template("TST3-MUC4-0002", "*", "*", "*")
    + _template("TST3-MUC4-0003", "1 (OPTIONAL)", "- 03 MAR 90", "ELBONIA: SAN ROQUE (CITY)")
)


def _add(tar: tarfile.TarFile, name: str, content: str) -> None:
    data = content.encode("latin-1")
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    lines = "\n".join(json.dumps(doc) for doc in DOCS) + "\n"
    for split in muc4.SPLITS:
        (tmp_path / f"{split}.json").write_text(lines, encoding="utf-8")
    with tarfile.open(tmp_path / "muc34.tar.gz", "w:gz") as tar:
        _add(tar, "muc34/TASK/CORPORA/tst3/key-tst3.v2", KEYS)
        _add(tar, "muc34/TASK/CORPORA/tst3/tst3-muc4", RAW)
        _add(tar, "muc34/TASK/CORPORA/tst3/._tst3-muc4", "apple double junk")
    return tmp_path


def _texts(doc, role: str, label: str | None = None) -> list[str]:
    return [doc.span_text(s) for s in doc.spans if s.role == role and (label is None or s.label == label)]


def test_mapping_occurrences_and_counts(folder: Path) -> None:
    report = ReadReport()
    docs = muc4.read(folder, "test", report, silver=False)
    assert [d.id for d in docs] == [d["docid"] for d in DOCS]
    doc = docs[0]
    assert doc.roles == frozenset({"attacker", "target", "weapon"}) and doc.corpus == "muc4"
    assert _texts(doc, "attacker", "PerpInd") == ["rebels", "rebels"]  # every occurrence
    # "front" inside "popular front" is nested (dropped), never inside "frontier"
    assert _texts(doc, "attacker", "PerpOrg") == ["popular front", "front", "front"]
    assert _texts(doc, "target", "Target") == ["police post"]
    assert _texts(doc, "target", "Victim") == ["guards"]  # plural offset widened to the word
    assert _texts(doc, "weapon", "Weapon") == ["rifles"]
    assert doc.meta["entities"]["PerpOrg"] == [["popular front", "front"]]
    assert doc.meta["entities"]["Weapon"] == [["rifles"], ["grenades"]]
    assert report.counts["mention_offset_mismatch"] == 1
    assert report.counts["mention_not_found"] == 1
    assert report.counts["nested_same_role_dropped"] == 1
    assert report.counts["mention_offset_inside_word"] == 1  # "car" in "carlos"
    assert _texts(docs[3], "target") == ["car"]
    assert report.facts["mention_offset_plural"] == 1


def test_silver_layer_and_roles_rule(folder: Path) -> None:
    report = ReadReport()
    docs = {d.id: d for d in muc4.read(folder, "dev", report)}
    incident = docs["TST3-MUC4-0001"]
    assert {"location", "time"} <= incident.roles
    assert _texts(incident, "location", "SilverLocation") == ["villa nueva", "villa nueva"]
    # "yesterday" (5 MAR - 1) next to "attacked", "4 march" written; "today" is the report's day
    assert _texts(incident, "time", "SilverTime") == ["yesterday", "4 march"]
    no_incident = docs["TST3-MUC4-0002"]
    assert {"location", "time"} <= no_incident.roles and not _texts(no_incident, "location")
    vague = docs["TST3-MUC4-0003"]  # "- 03 MAR 90" and a city the text does not name
    assert not ({"location", "time"} & vague.roles)
    assert not [s for s in vague.spans if s.label and s.label.startswith("Silver")]
    assert docs["TST3-MUC4-0004"].roles == frozenset({"attacker", "target", "weapon"})
    assert report.counts["silver_key_missing"] == 1
    assert report.counts["silver_time_vague"] == 1 and report.counts["silver_location_not_found"] == 1
    assert report.facts["silver_time_values"] == 2 and report.facts["silver_time_recovered"] == 1
    assert report.facts["silver_location_values"] == 2 and report.facts["silver_location_recovered"] == 1


def test_keys_parsed(folder: Path) -> None:
    keys = load_keys(folder / "muc34.tar.gz")
    assert set(keys) == {"TST3-MUC4-0001", "TST3-MUC4-0002", "TST3-MUC4-0003"}
    assert keys["TST3-MUC4-0001"].anchor == (1990, 3, 5)
    assert keys["TST3-MUC4-0003"].anchor is None
    assert not keys["TST3-MUC4-0002"].has_incident
    assert location_levels("(ELBONIA: SAN ROQUE (CITY) - VILLA NUEVA (TOWN)) / (ELBONIA)") == [
        [["ELBONIA"], ["SAN ROQUE", "VILLA NUEVA"]],
        [["ELBONIA"]],
    ]


def test_dates_written_and_relative() -> None:
    text = (
        "gunmen killed a judge last wednesday, 28 february 1990. a bomb exploded on 28 february 1989 "
        "too. the army said on monday that troops were attacked last night. the minister left today."
    )
    # dateline Saturday 3 MAR 90: last wednesday = 28 FEB; "on monday" is reporting, not the attack
    key = KeyDoc(("28 FEB 90",), ("ELBONIA",), (1990, 3, 3))
    report = ReadReport()
    silver = silver_spans(text, key, report, "doc")
    assert [text[s.start:s.end] for s in silver.spans if s.role == "time"] == ["last wednesday", "28 february 1990"]
    assert silver.unrecovered == {"location"}  # the country is not written
    key = KeyDoc(("02 MAR 90",), ("ELBONIA",), (1990, 3, 3))
    silver = silver_spans(text, key, report, "doc")
    assert [text[s.start:s.end] for s in silver.spans if s.role == "time"] == ["last night"]


def test_no_keys_file_means_no_silver(folder: Path) -> None:
    (folder / "muc34.tar.gz").unlink()
    report = ReadReport()
    docs = muc4.read(folder, "train", report)
    assert all(d.roles == frozenset({"attacker", "target", "weapon"}) for d in docs)
    assert report.counts["silver_keys_missing"] == 1


def test_bad_json_names_file_and_line(folder: Path) -> None:
    path = folder / "train.json"
    path.write_text(json.dumps(DOCS[0]) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(CorpusFormatError) as error:
        muc4.read(folder, "train", ReadReport())
    assert "train.json" in str(error.value) and error.value.line == 2


def test_bad_field_is_named(folder: Path) -> None:
    bad = dict(DOCS[0], extracts={"PerpInd": [[["rebels", "zero"]]]})
    (folder / "train.json").write_text(json.dumps(bad) + "\n", encoding="utf-8")
    with pytest.raises(CorpusFormatError) as error:
        muc4.read(folder, "train", ReadReport())
    assert error.value.field == "extracts.PerpInd[0][0]" and error.value.doc_id == "TST3-MUC4-0001"


def test_unknown_split(folder: Path) -> None:
    with pytest.raises(CorpusNotFoundError, match="train, dev, test"):
        muc4.read(folder, "validation", ReadReport())


# ------------------------------------------------------------------ real corpus


@pytest.fixture(scope="module")
def real():
    folder = SHARED / "muc4"
    if not (folder / "test.json").is_file():
        pytest.skip(f"MUC-4 not found under {folder}")
    out = {}
    for split in muc4.SPLITS:
        report = ReadReport()
        out[split] = (muc4.read(folder, split, report), report)
    return out


@needs_shared
def test_real_counts(real) -> None:
    # Reading speed is not asserted here: a timed test fails on a busy machine, not on slow code.
    assert {s: len(docs) for s, (docs, _) in real.items()} == {"train": 1300, "dev": 200, "test": 200}


@needs_shared
def test_real_spans_match_their_mentions(real) -> None:
    for docs, report in real.values():
        assert report.counts["mention_not_found"] == 0
        for doc in docs:
            mentions = {label: {m for e in ents for m in e} for label, ents in doc.meta["entities"].items()}
            for span in doc.spans:
                text = doc.span_text(span)
                assert snap_to_words(doc.words, span.start, span.end) == (span.start, span.end)
                assert span.role in doc.roles
                if span.label in mentions:  # the mention itself, or its plural (GRIT's offset)
                    assert {text, text[:-1], text[:-2]} & mentions[span.label], (doc.id, text)


@needs_shared
def test_real_roles_and_silver_are_plausible(real) -> None:
    docs, report = real["test"]
    per_label = Counter(s.label for d in docs for s in d.spans)
    for label, low in {"PerpInd": 150, "PerpOrg": 150, "Target": 150, "Victim": 60, "Weapon": 50}.items():
        assert per_label[label] >= low, (label, per_label)
    assert per_label["SilverLocation"] >= 100 and per_label["SilverTime"] >= 40
    for _, report in real.values():
        assert report.facts["silver_location_recovered"] > 0 and report.facts["silver_time_recovered"] > 0
        assert report.facts["silver_location_recovered"] <= report.facts["silver_location_values"]
    with_time = sum("time" in d.roles for d in docs)
    assert 50 <= with_time < len(docs)


def test_entity_nested_in_a_longer_same_label_span_keeps_a_span(tmp_path: Path) -> None:
    text = "gunmen of the front for liberation unity attacked a bus. the front fled."
    extracts = {
        "PerpInd": [
            [["gunmen of the front for liberation unity", 0]],
            [["liberation unity", _at(text, "liberation unity")], ["unity", _at(text, "unity")]],
        ],
        "PerpOrg": [[["front", _at(text, "front")]]],
    }
    line = json.dumps({"docid": "TST3-MUC4-0009", "doctext": text, "extracts": extracts})
    (tmp_path / "test.json").write_text(line + "\n", encoding="utf-8")
    report = ReadReport()
    (doc,) = muc4.read(tmp_path, "test", report, silver=False)
    # clean_spans drops both mentions of the second entity; its first mention is put back.
    assert _texts(doc, "attacker", "PerpInd") == ["gunmen of the front for liberation unity", "liberation unity"]
    assert _texts(doc, "attacker", "PerpOrg") == ["front", "front"]
    assert report.counts["nested_same_role_dropped"] == 2
    assert report.counts["nested_entity_mention_kept"] == 1
    assert "PerpInd 'liberation unity'" in report.examples["nested_entity_mention_kept"][0]
    assert doc.spans == sorted(doc.spans)


@needs_shared
def test_real_every_located_entity_has_a_span(real) -> None:
    for docs, report in real.values():
        for doc in docs:
            texts = {(s.label, doc.span_text(s)) for s in doc.spans}
            for label, entities in doc.meta["entities"].items():
                for entity in entities:
                    forms = {(label, m + ending) for m in entity for ending in ("", "s", "es")}
                    assert forms & texts, (doc.id, label, entity)
