"""CoNLL/BIO reader and cameo_ner: schemes, repairs, errors, the hashed dev split; real data when present."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from eventroles.data.problems import CorpusFormatError, CorpusNotFoundError, ReadReport
from eventroles.data.readers import conll

SHARED = Path(os.environ.get("EVENTROLES_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"real corpora not found at {SHARED} (set EVENTROLES_SHARED_DATA)")

MAP = {"ATT": "attacker", "TGT": "target", "LOC": "location"}


def _file(tmp_path: Path, body: str, name: str = "x.txt") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def _spans(doc) -> list[tuple[str, str, str | None]]:
    return sorted((doc.span_text(s), s.role, s.label) for s in doc.spans)


def test_bio_sentences_mapping_and_repairs(tmp_path: Path) -> None:
    body = (
        "Armed B-ATT\nmen I-ATT\nhit B-TGT\nx O\n\t\n"  # whitespace-only line ends a sentence
        "Troops I-ATT\nshelled O\nthe B-TGT\ntown I-TGT\nin O\nHoms B-LOC\non O\nMay B-DATE\n4 I-DATE\n\n\n"
        "Nothing O\n"
    )
    report = ReadReport()
    docs = conll.read_conll_file(_file(tmp_path, body), report, MAP, corpus="toy")
    assert [d.text for d in docs] == ["Armed men hit x", "Troops shelled the town in Homs on May 4", "Nothing"]
    assert [d.id for d in docs] == ["x-0", "x-1", "x-2"]
    assert _spans(docs[0]) == [("Armed men", "attacker", "ATT"), ("hit", "target", "TGT")]
    assert _spans(docs[1]) == [("Homs", "location", "LOC"), ("Troops", "attacker", "ATT"), ("the town", "target", "TGT")]
    assert docs[2].spans == [] and docs[1].meta["line"] == 6
    assert all(d.roles == frozenset(MAP.values()) and d.corpus == "toy" for d in docs)
    assert report.counts["i_without_b_repaired"] == 1
    assert report.facts["label_not_mapped:DATE"] == 1


def test_iob1_io_and_auto(tmp_path: Path) -> None:
    iob1 = "Rebels I-ATT\nand O\nsoldiers I-ATT\nmilitia B-ATT\nfought O\n"
    report = ReadReport()
    (doc,) = conll.read_conll_file(_file(tmp_path, iob1), report, MAP, scheme="iob1")
    assert _spans(doc) == [("Rebels", "attacker", "ATT"), ("militia", "attacker", "ATT"), ("soldiers", "attacker", "ATT")]
    assert not report.counts
    io = "Rebels ATT\nhit O\nthe TGT\nbase TGT\nin O\nIdlib LOC\n"
    for scheme in ("io", "auto"):
        (doc,) = conll.read_conll_file(_file(tmp_path, io, "io.txt"), ReadReport(), MAP, scheme=scheme)
        assert _spans(doc) == [("Idlib", "location", "LOC"), ("Rebels", "attacker", "ATT"), ("the base", "target", "TGT")]


def test_docstart_blocks(tmp_path: Path) -> None:
    body = "-DOCSTART- -X- O\n\nA B-ATT\nb O\n\nC O\nD B-LOC\n\n-DOCSTART- -X- O\n\nE B-TGT\n"
    docs = conll.read_conll_file(_file(tmp_path, body), ReadReport(), MAP)
    assert [d.text for d in docs] == ["A b\nC D", "E"]
    assert _spans(docs[0]) == [("A", "attacker", "ATT"), ("D", "location", "LOC")]


@pytest.mark.parametrize(
    ("body", "line", "scheme"),
    [
        ("a O\nb\nc O\n", 2, "auto"),
        ("a O\nb B-\n", 2, "bio"),
        ("a B-ATT\nb ATT\n", 2, "auto"),
    ],
)
def test_malformed_line(tmp_path: Path, body: str, line: int, scheme: str) -> None:
    with pytest.raises(CorpusFormatError) as error:
        conll.read_conll_file(_file(tmp_path, body), ReadReport(), MAP, scheme=scheme)
    assert error.value.line == line and error.value.field == "label"
    assert "x.txt" in str(error.value)


def test_empty_file_and_unknown_scheme(tmp_path: Path) -> None:
    with pytest.raises(CorpusFormatError, match="empty"):
        conll.read_conll_file(_file(tmp_path, "\n\n"), ReadReport(), MAP)
    with pytest.raises(ValueError, match="bio"):
        conll.read_conll_file(_file(tmp_path, "a O\n"), ReadReport(), MAP, scheme="bilou")


def test_cameo_splits(tmp_path: Path) -> None:
    folder = tmp_path / "cameo_ner"
    folder.mkdir()
    train = "".join(f"Group{i} B-S\nmet O\nofficials B-T\nnear O\nCity B-R\n\n" for i in range(60))
    (folder / "train.txt").write_text(train, encoding="utf-8")
    (folder / "test.txt").write_text("Police B-S\narrested O\nprotesters B-T\n", encoding="utf-8")
    report = ReadReport()
    splits = {s: conll.read_cameo(folder, s, report) for s in conll.CAMEO_SPLITS}
    train_ids, dev_ids = {d.id for d in splits["train"]}, {d.id for d in splits["dev"]}
    assert not train_ids & dev_ids and len(train_ids | dev_ids) == 60 and dev_ids
    assert all(conll._is_cameo_dev(d.text) for d in splits["dev"])
    assert [d.id for d in conll.read_cameo(folder, "dev", ReadReport())] == [d.id for d in splits["dev"]]
    (test,) = splits["test"]
    assert _spans(test) == [("Police", "attacker", "S"), ("protesters", "target", "T")]
    assert all(d.meta["weak"] and d.roles == frozenset({"attacker", "target"}) for s in splits.values() for d in s)
    assert report.facts["label_not_mapped:R"] == 60
    with pytest.raises(CorpusNotFoundError, match="train, dev, test"):
        conll.read_cameo(folder, "validation", report)


@needs_shared
def test_real_cameo() -> None:
    folder = SHARED / "cameo_ner"
    report = ReadReport()
    splits = {s: conll.read_cameo(folder, s, report) for s in conll.CAMEO_SPLITS}
    assert {s: len(d) for s, d in splits.items()} == {"train": 1033, "dev": 120, "test": 451}
    ids = [d.id for docs in splits.values() for d in docs]
    assert len(ids) == len(set(ids))
    assert not {d.text for d in splits["train"]} & {d.text for d in splits["dev"]}
    for docs in splits.values():
        roles = Counter(s.role for d in docs for s in d.spans)
        assert roles["attacker"] > 0 and roles["target"] > 0
    assert report.counts["i_without_b_repaired"] == 3
    # span text equals the labelled tokens: rebuild one file's spans from the raw lines
    tokens, labels = [], []
    for line in (folder / "test.txt").read_text(encoding="utf-8").splitlines():
        if line.split():
            tokens.append(line.split()[0])
            labels.append(line.split()[-1])
    expected = Counter()
    for i, label in enumerate(labels):
        if label in ("B-S", "B-T"):
            j = i + 1
            while j < len(labels) and labels[j] == "I-" + label[2:]:
                j += 1
            expected[" ".join(tokens[i:j])] += 1
    got = Counter(d.span_text(s) for d in splits["test"] for s in d.spans)
    assert got == expected
