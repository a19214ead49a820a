"""GENEVA reader: token alignment, frame-dependent mapping, per-sentence roles; real data when present."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from eventroles.data.problems import CorpusFormatError, CorpusNotFoundError, ReadReport
from eventroles.data.readers import geneva

SHARED = Path(os.environ.get("EVENTROLES_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"real corpora not found at {SHARED} (set EVENTROLES_SHARED_DATA)")

SENTENCE = "Rebels attacked the $5m depot -- in Tarsk on Sunday ."
TOKENS = ["Rebels", "attacked", "the", "$", "5m", "depot", "-", "-", "in", "Tarsk", "on", "Sunday", "."]


def _mention(key: str, start: int, end: int) -> dict:
    return {"id": key, "start": start, "end": end, "text": " ".join(TOKENS[start:end])}


def _arg(key: str, role: str, text: str | None = None) -> dict:
    return {"entity_id": key, "role": role, "text": text if text is not None else key}


def _line(key: str, events: list[dict], sentence: str = SENTENCE, tokens: list[str] = TOKENS) -> dict:
    mentions = [_mention("Rebels", 0, 1), _mention("the $5m depot", 2, 6), _mention("in Tarsk", 8, 10),
                _mention("on Sunday", 10, 12)]
    return {"doc_id": "d", "wnd_id": key, "sentence": sentence, "tokens": tokens,
            "entity_mentions": mentions, "event_mentions": events}


def _write(folder: Path, name: str, rows: list[object]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def _spans(doc) -> list[tuple[str, str, str | None]]:
    return sorted((doc.span_text(s), s.role, s.label) for s in doc.spans)


def test_align_tokens() -> None:
    assert geneva.align_tokens("a -- $5", ["a", "-", "-", "$", "5"]) == [(0, 1), (2, 3), (3, 4), (5, 6), (6, 7)]
    assert geneva.align_tokens("a b", ["a", "c"]) is None
    assert geneva.align_tokens("a b c", ["a", "b"]) is None


def test_attack_frame_time_place_and_roles(tmp_path: Path) -> None:
    attack = {"event_type": "Attack", "arguments": [
        _arg("Rebels", "Assailant"), _arg("the $5m depot", "Victim", "the $5m depot"),
        _arg("in Tarsk", "Place"), _arg("on Sunday", "Time", " on Sunday")]}
    encounter = {"event_type": "Hostile_encounter", "arguments": [_arg("Rebels", "Side_1")]}
    other = {"event_type": "Statement", "arguments": [_arg("Rebels", "Speaker")]}
    rows = [_line("s1", [attack]), _line("s2", [encounter]), _line("s3", [other, {"event_type": "Arriving",
            "arguments": [_arg("on Sunday", "Time")]}])]
    folder = tmp_path / "geneva"
    _write(folder, "val.json", rows)
    report = ReadReport()
    s1, s2, s3 = geneva.read(folder, "dev", report)
    assert s1.text == SENTENCE and s1.meta["weak"] is True
    assert _spans(s1) == [("Rebels", "attacker", "Assailant"), ("Sunday", "time", "Time"),
                          ("Tarsk", "location", "Place"), ("the $5m depot", "target", "Victim")]
    assert s1.roles == frozenset({"attacker", "target", "weapon", "time", "location"})
    assert s2.spans == [] and s2.roles == frozenset()
    assert _spans(s3) == [("Sunday", "time", "Time")] and s3.roles == frozenset({"time", "location"})
    assert report.counts["leading_preposition_stripped"] == 3
    assert report.facts["role_not_mapped:Hostile_encounter.Side_1"] == 1
    assert report.facts["document_without_annotated_roles"] == 1


def test_argument_text_mismatch_repaired_or_dropped(tmp_path: Path) -> None:
    row = _line("s1", [{"event_type": "Killing", "arguments": [
        _arg("Rebels", "Killer", "the"),  # stored text elsewhere nearby: repaired to it
        _arg("the $5m depot", "Victim", "the bank")]}])  # nowhere: dropped
    folder = tmp_path / "geneva"
    _write(folder, "test.json", [row])
    report = ReadReport()
    (doc,) = geneva.read(folder, "test", report)
    assert _spans(doc) == [("the", "attacker", "Killer")]
    assert report.counts["argument_text_repaired"] == 1
    assert report.counts["argument_text_mismatch_dropped"] == 1


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (_line("s1", [], tokens=TOKENS[:-1] + ["!"]), "tokens"),
        (_line("s1", [{"event_type": "Attack", "arguments": [_arg("nobody", "Victim")]}]),
         "event_mentions[0].arguments[0].entity_id"),
        ({**_line("s1", []), "entity_mentions": [{"id": "x", "start": 5, "end": 99}]}, "entity_mentions[0]"),
        ({"doc_id": "d", "sentence": SENTENCE}, "wnd_id"),
    ],
)
def test_malformed_line_names_file_line_field(tmp_path: Path, row: dict, field: str) -> None:
    folder = tmp_path / "geneva"
    _write(folder, "train-s160.json", [_line("ok", []), row])
    with pytest.raises(CorpusFormatError) as error:
        geneva.read(folder, "train", ReadReport())
    assert error.value.line == 2 and error.value.field == field
    assert "train-s160.json" in str(error.value)


def test_train_drops_sentences_of_dev_and_test(tmp_path: Path) -> None:
    folder = tmp_path / "geneva"
    other = SENTENCE.replace("Rebels", "Bandits")
    _write(folder, "train-s160.json", [_line("a", []), _line("b", [], sentence=other, tokens=["Bandits"] + TOKENS[1:])])
    _write(folder, "val.json", [_line("c", [])])
    report = ReadReport()
    assert [d.id for d in geneva.read(folder, "train", report)] == ["b"]
    assert report.counts["train_sentence_in_dev_or_test_dropped"] == 1
    assert report.facts["overlap_check_skipped:test.json_missing"] == 1


def test_bad_json_and_unknown_split(tmp_path: Path) -> None:
    folder = tmp_path / "geneva"
    _write(folder, "val.json", ['{"wnd_id": '])
    with pytest.raises(CorpusFormatError) as error:
        geneva.read(folder, "dev", ReadReport())
    assert error.value.line == 1
    with pytest.raises(CorpusNotFoundError, match="train, dev, test"):
        geneva.read(folder, "val", ReadReport())


@needs_shared
def test_real_geneva() -> None:
    folder = SHARED / "geneva"
    counts = {}
    seen: set[str] = set()
    texts: dict[str, set[str]] = {}
    for split, name in geneva.SPLIT_FILES.items():
        report = ReadReport()
        docs = geneva.read(folder, split, report)
        counts[split] = len(docs)
        ids = {d.id for d in docs}
        assert not ids & seen
        seen |= ids
        texts[split] = {d.text for d in docs}
        roles = Counter(s.role for d in docs for s in d.spans)
        assert all(roles[r] > 0 for r in ("time", "location", "attacker", "target", "weapon")), roles
        stored = {}
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            obj = json.loads(line)
            stored[obj["wnd_id"]] = {a["text"].strip() for e in obj["event_mentions"] for a in e["arguments"]}
        for doc in docs:
            assert all(s.role in doc.roles for s in doc.spans)
            for span in doc.spans:  # equal to, or (preposition stripped) a suffix of, a stored argument
                assert any(t.endswith(doc.span_text(span)) for t in stored[doc.id]), doc.span_text(span)
    assert counts == {"train": 286, "dev": 783, "test": 933}  # train: 564 less 278 in dev/test
    assert not texts["train"] & (texts["dev"] | texts["test"])
