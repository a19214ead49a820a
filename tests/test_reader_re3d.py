"""re3d reader: mapping, offset repairs, format errors, the hash split; real data when present."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from eventroles.data.problems import CorpusFormatError, CorpusNotFoundError, ReadReport
from eventroles.data.readers import re3d
from eventroles.data.splits import stable_fraction, stable_split

SHARED = Path(os.environ.get("EVENTROLES_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"real corpora not found at {SHARED} (set EVENTROLES_SHARED_DATA)")

TEXT = "Militants fired a rocket at Springfield on Monday. The campaign went on."


def _write(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _entity(doc: str, begin: int, end: int, kind: str, value: str, confidence: float = 1) -> dict:
    return {"_id": f"{doc}-{begin}-{kind}", "documentId": doc, "begin": begin, "end": end,
            "type": kind, "value": value, "confidence": confidence}


def _corpus(tmp_path: Path, entities: list[dict], docs: dict[str, str] | None = None) -> Path:
    source = tmp_path / "re3d" / "Source A"
    source.mkdir(parents=True)
    docs = docs or {"D1": TEXT}
    _write(source / "documents.json", [{"_id": i, "title": "t", "text": t, "sourceUrl": "u"} for i, t in docs.items()])
    _write(source / "entities.json", entities)
    return source.parent


def _read_all(folder: Path) -> tuple[dict[str, list], ReadReport]:
    report = ReadReport()
    return {split: re3d.read(folder, split, report) for split in re3d.SPLITS}, report


def test_mapping_repairs_and_drops(tmp_path: Path) -> None:
    start = TEXT.index("Springfield")
    entities = [
        _entity("D1", 0, 9, "Organisation", "Militants"),
        _entity("D1", 18, 24, "Weapon", "rocket", confidence=0),
        _entity("D1", start + 1, start + 12, "Location", "Springfield"),  # shifted by one: repaired
        _entity("D1", TEXT.index("Monday"), TEXT.index("Monday") + 6, "Temporal", "Monday"),
        _entity("D1", 10, 15, "Location", "Gotham"),  # not in the text: dropped
        _entity("D1", TEXT.index("campaign"), TEXT.index("campaign") + 4, "Location", "camp"),  # cuts a word
    ]
    splits, report = _read_all(_corpus(tmp_path, entities))
    (doc,) = [d for docs in splits.values() for d in docs]
    assert doc.roles == frozenset({"location", "time", "weapon"})
    assert doc.meta["weak"] is True
    got = sorted((doc.span_text(s), s.role, s.label) for s in doc.spans)
    assert got == [("Monday", "time", "Temporal"), ("Springfield", "location", "Location"), ("rocket", "weapon", "Weapon")]
    assert report.counts["offset_repaired"] == 1
    assert report.counts["offset_mismatch_dropped"] == 1
    assert report.counts["partial_word_entity_dropped"] == 1
    assert report.facts["entity_type_not_mapped:Organisation"] == 1
    assert report.facts["confidence_below_0.5_kept"] == 1


def test_split_is_deterministic_and_disjoint(tmp_path: Path) -> None:
    docs = {f"DOC{i:03d}": f"Text number {i} about Aleppo." for i in range(60)}
    entities = [_entity(i, t.index("Aleppo"), t.index("Aleppo") + 6, "Location", "Aleppo") for i, t in docs.items()]
    folder = _corpus(tmp_path, entities, docs)
    first, _ = _read_all(folder)
    second, _ = _read_all(folder)
    ids = {s: [d.id for d in first[s]] for s in first}
    assert ids == {s: [d.id for d in second[s]] for s in second}
    assert sorted(sum(ids.values(), [])) == sorted(docs)
    assert all(ids[s] for s in re3d.SPLITS)
    assert all(stable_split(i) == s for s in ids for i in ids[s])
    assert stable_split("abc") == "train"  # pins the hash rule (sha1, first 8 bytes)
    assert abs(stable_fraction("abc") - 0.66249) < 1e-5


def test_entity_of_unknown_document_is_counted(tmp_path: Path) -> None:
    _, report = _read_all(_corpus(tmp_path, [_entity("NOPE", 0, 9, "Location", "Militants")]))
    assert report.counts["entity_without_document_dropped"] == 3  # once per split read


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ('{"_id": "e", "documentId": "D1", "begin": "x", "end": 9, "type": "Location", "value": "Militants"}', "begin"),
        ('{"_id": "e", "documentId": "D1", "begin": 0, "end": 9, "value": "Militants"}', "type"),
        ('{"_id": "e", "documentId": "D1", ', None),
    ],
)
def test_malformed_entity_names_file_line_field(tmp_path: Path, line: str, field: str | None) -> None:
    folder = _corpus(tmp_path, [_entity("D1", 18, 24, "Weapon", "rocket")])
    entities = folder / "Source A" / "entities.json"
    entities.write_text(entities.read_text() + line + "\n", encoding="utf-8")
    split = stable_split("D1")
    with pytest.raises(CorpusFormatError) as error:
        re3d.read(folder, split, ReadReport())
    assert error.value.line == 2 and error.value.field == field
    assert "entities.json" in str(error.value)


def test_unknown_split_and_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(CorpusNotFoundError, match="train, dev, test"):
        re3d.read(tmp_path, "validation", ReadReport())
    with pytest.raises(CorpusNotFoundError):
        re3d.read(tmp_path / "absent", "train", ReadReport())


@needs_shared
def test_real_re3d() -> None:
    folder = SHARED / "re3d"
    splits, report = _read_all(folder)
    assert {s: len(d) for s, d in splits.items()} == {"train": 62, "dev": 20, "test": 16}
    ids = [d.id for docs in splits.values() for d in docs]
    assert len(ids) == len(set(ids)) == 98
    values: dict[tuple[str, str], set[str]] = {}
    for source in folder.iterdir():
        if (source / "entities.json").is_file():
            for line in source.joinpath("entities.json").read_text(encoding="utf-8").splitlines():
                if line.strip():
                    e = json.loads(line)
                    values.setdefault((e["documentId"], e["type"]), set()).add(e["value"].strip())
    for docs in splits.values():
        roles = Counter(s.role for d in docs for s in d.spans)
        assert all(roles[r] > 0 for r in ("location", "time", "weapon")), roles
        for doc in docs:
            for span in doc.spans:
                assert doc.span_text(span) in values[(doc.id, span.label)]
    assert report.counts["partial_word_entity_dropped"] > 0
