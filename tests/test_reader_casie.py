"""CASIE reader: attack-only mapping, offset repairs, skipped files, errors; real data when present."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from eventroles.data.problems import CorpusFormatError, CorpusNotFoundError, ReadReport
from eventroles.data.readers import casie
from eventroles.data.splits import stable_split

SHARED = Path(os.environ.get("EVENTROLES_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"real corpora not found at {SHARED} (set EVENTROLES_SHARED_DATA)")

TEXT = "Hackers hit Acme Bank in Ohio on Friday with phishing emails. Acme patched the flaw on Monday."


def _arg(role: str, value: str, shift: int = 0, text: str = TEXT) -> dict:
    start = text.index(value) + shift
    return {"startOffset": start, "endOffset": start + len(value), "text": value, "role": {"type": role}, "type": "X"}


def _event(kind: str, arguments: list[dict]) -> dict:
    return {"type": kind, "subtype": "S", "nugget": {}, "argument": arguments}


def _file(folder: Path, name: str, content: object, events: list[dict] | None) -> None:
    obj: dict = {"sourcefile": "x.txt", "info": {"title": "t"}, "content": content}
    if events is not None:
        obj["cyberevent"] = {"hopper": [{"events": events}]}
    (folder / name).write_text(json.dumps(obj), encoding="utf-8")


def _folder(tmp_path: Path) -> Path:
    annotation = tmp_path / "casie" / "annotation"
    annotation.mkdir(parents=True)
    return annotation


def _all(folder: Path) -> tuple[list, ReadReport]:
    report = ReadReport()
    return [d for split in casie.SPLITS for d in casie.read(folder, split, report)], report


def test_mapping_attack_events_only(tmp_path: Path) -> None:
    annotation = _folder(tmp_path)
    attack = _event("Attack", [
        _arg("Attacker", "Hackers"), _arg("Victim", "Acme Bank", shift=1), _arg("Place", "Ohio"),
        _arg("Time", "Friday"), _arg("Tool", "phishing emails"), _arg("Victim", "Acme Bank", shift=-1),
    ])
    attack["argument"].append({"startOffset": 0, "endOffset": 5, "text": "Zorro", "role": {"type": "Victim"}})
    patch = _event("Vulnerability-related", [_arg("Time", "Monday"), _arg("Releaser", "Acme")])
    _file(annotation, "1.json", TEXT, [attack, patch])
    docs, report = _all(annotation.parent)
    (doc,) = docs
    assert doc.id == "1" and doc.roles == frozenset({"attacker", "target", "location", "time"})
    got = sorted((doc.span_text(s), s.role, s.label) for s in doc.spans)
    assert got == [
        ("Acme Bank", "target", "Victim"), ("Friday", "time", "Time"),
        ("Hackers", "attacker", "Attacker"), ("Ohio", "location", "Place"),
    ]
    assert report.counts["offset_repaired"] == 2
    assert report.counts["duplicate_span_dropped"] == 1  # both repairs land on the same mention
    assert report.counts["offset_mismatch_dropped"] == 1
    assert report.facts["role_not_mapped:Attack.Tool"] == 1
    assert report.facts["role_not_mapped:Vulnerability-related.Time"] == 1


def test_bad_files_are_skipped_and_counted(tmp_path: Path) -> None:
    annotation = _folder(tmp_path)
    _file(annotation, "1.json", TEXT, [_event("Attack", [_arg("Attacker", "Hackers")])])
    _file(annotation, "2.json", "   ", [])
    _file(annotation, "3.json", TEXT, None)
    (annotation / "4.json").write_text("{not json", encoding="utf-8")
    docs, report = _all(annotation.parent)
    assert [d.id for d in docs] == ["1"]
    assert report.counts["document_without_content_skipped"] == 1
    assert report.counts["document_without_annotation_skipped"] == 1
    assert report.counts["file_not_json_skipped"] == 1


def test_malformed_argument_names_file_document_field(tmp_path: Path) -> None:
    annotation = _folder(tmp_path)
    bad = _arg("Attacker", "Hackers")
    bad["startOffset"] = "0"
    _file(annotation, "7.json", TEXT, [_event("Attack", [_arg("Victim", "Acme Bank"), bad])])
    with pytest.raises(CorpusFormatError) as error:
        casie.read(annotation.parent, stable_split("7.json"), ReadReport())
    assert error.value.doc_id == "7"
    assert error.value.field == "cyberevent.hopper[0].events[0].argument[1].startOffset"
    assert "7.json" in str(error.value)


def test_split_by_file_name(tmp_path: Path) -> None:
    annotation = _folder(tmp_path)
    for i in range(40):
        _file(annotation, f"{i}.json", TEXT, [_event("Attack", [_arg("Attacker", "Hackers")])])
    report = ReadReport()
    by_split = {s: [d.id for d in casie.read(annotation.parent, s, report)] for s in casie.SPLITS}
    assert sorted(sum(by_split.values(), []), key=int) == [str(i) for i in range(40)]
    assert all(stable_split(f"{i}.json") == s for s, ids in by_split.items() for i in ids)
    with pytest.raises(CorpusNotFoundError, match="train, dev, test"):
        casie.read(annotation.parent, "val", report)
    with pytest.raises(CorpusNotFoundError):
        casie.read(tmp_path, "train", report)


@needs_shared
def test_real_casie() -> None:
    folder = SHARED / "casie"
    report = ReadReport()
    splits = {s: casie.read(folder, s, report) for s in casie.SPLITS}
    assert {s: len(d) for s, d in splits.items()} == {"train": 688, "dev": 145, "test": 167}
    ids = [d.id for docs in splits.values() for d in docs]
    assert len(set(ids)) == 1000
    assert 0 < report.counts["offset_repaired"] < 400 and report.counts["offset_mismatch_dropped"] == 0
    mismatched = 0
    for docs in splits.values():
        assert all(n > 0 for n in Counter(s.role for d in docs for s in d.spans).values())
        assert len({s.role for d in docs for s in d.spans}) == 4
        for doc in docs[:60]:
            obj = json.loads((folder / "annotation" / f"{doc.id}.json").read_text(encoding="utf-8"))
            stored = {a["text"] for h in obj["cyberevent"]["hopper"] for e in h["events"] for a in e.get("argument", [])}
            mismatched += sum(doc.span_text(s) not in stored for s in doc.spans)
    assert mismatched <= report.counts["span_snapped_to_words"]
