"""The shipped sample corpus (data/sample) and its converter (tools/build_sample.py)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from eventroles.data.problems import CorpusFormatError, ReadReport
from eventroles.data.readers.jsonl import read_jsonl_file
from eventroles.data.roles import ROLES

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
SPLITS = ("train", "dev", "test")


def _load_converter():
    spec = importlib.util.spec_from_file_location("build_sample", ROOT / "tools" / "build_sample.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("build_sample", module)
    spec.loader.exec_module(module)
    return module


bs = _load_converter()


@pytest.fixture(scope="module")
def corpus():
    docs = {}
    for split in SPLITS:
        report = ReadReport()
        docs[split] = read_jsonl_file(SAMPLE / f"{split}.jsonl", report, corpus="sample")
        assert not report, f"{split}.jsonl needed repairs: {report.as_dict()}"
    return docs


# ---------------------------------------------------------------- the shipped files


def test_every_split_reads_back_without_repairs(corpus):
    for split in SPLITS:
        assert corpus[split], f"{split}.jsonl is empty"


def test_every_role_occurs_in_train(corpus):
    seen = {span.role for doc in corpus["train"] for span in doc.spans}
    assert seen == set(ROLES)


def test_negatives_exist_and_are_marked(corpus):
    all_docs = [doc for split in SPLITS for doc in corpus[split]]
    negatives = [doc for doc in all_docs if not doc.spans]
    assert negatives
    assert any(not doc.spans for doc in corpus["train"])
    for doc in all_docs:
        assert (doc.meta["type"] == "none") == (not doc.spans), doc.id


def test_splits_are_disjoint_and_follow_the_hash_rule(corpus):
    ids = {split: {doc.id for doc in corpus[split]} for split in SPLITS}
    assert not ids["train"] & ids["dev"]
    assert not ids["train"] & ids["test"]
    assert not ids["dev"] & ids["test"]
    for split in SPLITS:
        for doc_id in ids[split]:
            assert bs.split_of(doc_id) == split, doc_id


def test_span_text_equals_the_text_at_its_offsets(corpus):
    for split in SPLITS:
        for line in (SAMPLE / f"{split}.jsonl").read_text(encoding="utf-8").splitlines():
            obj = json.loads(line)
            for span in obj["spans"]:
                assert span["text"] == obj["text"][span["start"] : span["end"]], (obj["id"], span)
                assert span["text"] == span["text"].strip()


def test_every_document_has_the_header_fields_and_all_roles(corpus):
    for split in SPLITS:
        for doc in corpus[split]:
            assert set(doc.roles) == set(ROLES)
            assert {"region", "year", "style", "type"} <= set(doc.meta), doc.id
            assert doc.meta["style"] in bs.STYLES
            assert "[" not in doc.text and "]" not in doc.text, doc.id


def test_shipped_files_are_up_to_date_with_the_sources(capsys):
    assert bs.main(["--check"]) == 0, capsys.readouterr().err


# ---------------------------------------------------------------- the markup parser


def spans_of(text, spans):
    return [(s.role, text[s.start : s.end]) for s in spans]


def test_markup_is_removed_and_offsets_point_into_the_plain_text():
    text, spans, _ = bs.parse_markup("[attacker: Rebels] burned [target: the mill] on [time: Monday].")
    assert text == "Rebels burned the mill on Monday."
    assert spans_of(text, spans) == [("attacker", "Rebels"), ("target", "the mill"), ("time", "Monday")]


def test_nested_spans_of_different_roles():
    text, spans, _ = bs.parse_markup(
        "Shells hit [target: a checkpoint east of [location: the town's airport]] at dawn."
    )
    assert text == "Shells hit a checkpoint east of the town's airport at dawn."
    assert spans_of(text, spans) == [
        ("target", "a checkpoint east of the town's airport"),
        ("location", "the town's airport"),
    ]
    text, spans, _ = bs.parse_markup("They shelled [target: [location: Valle Rojo]].")
    assert spans_of(text, spans) == [("location", "Valle Rojo"), ("target", "Valle Rojo")]


def test_a_span_may_keep_an_initial_or_balanced_brackets():
    text, spans, _ = bs.parse_markup("Police blamed [attacker: Ahmed K.] and [attacker: the Front (FLN)] for it.")
    assert spans_of(text, spans) == [("attacker", "Ahmed K."), ("attacker", "the Front (FLN)")]
    text, spans, _ = bs.parse_markup("It went off at [time: 6 p.m.] on the dot.")
    assert spans_of(text, spans) == [("time", "6 p.m.")]
    with pytest.raises(CorpusFormatError, match="ends with punctuation '.'"):
        bs.parse_markup("It went off at [time: six.] Then it burned.")


@pytest.mark.parametrize(
    "markup, message, line",
    [
        ("Gunmen shot [target: a guard.", "never closed", 1),
        ("Gunmen shot a guard].", "without a matching", 1),
        ("Gunmen shot [victim: a guard].", "unknown role 'victim'", 1),
        ("Gunmen shot [target: ].", "empty target span", 1),
        ("Gunmen shot [target:  a guard].", "whitespace", 1),
        ("Gunmen shot [target: a guard ].", "whitespace", 1),
        ("Gunmen shot [target: a guard,] then fled.", "ends with punctuation ','", 1),
        ("Gunmen shot [target: \"a guard].", "starts with punctuation", 1),
        ("Gunmen shot two gu[target: ards].", "starts inside a word", 1),
        ("Gunmen shot [target: two gu]ards.", "ends inside a word", 1),
        ("Gunmen shot\n[target:a guard].", "one space after", 2),
        ("Gunmen shot [a guard].", "does not open", 1),
        ("A\n\nB [target: the [target: mill]].", "same-role spans", 3),
        ("One [time: day\n\nlater] it burned.", "paragraph break", 1),
    ],
)
def test_markup_errors_name_the_line_and_article(markup, message, line):
    with pytest.raises(CorpusFormatError) as caught:
        bs.parse_markup(markup, path="x.txt", doc_id="x-001")
    error = caught.value
    assert message in str(error)
    assert error.line == line
    assert error.doc_id == "x-001"
    assert str(error).startswith(f"x.txt, line {line}, document 'x-001': ")


def test_a_pronoun_span_is_a_warning():
    warnings = []
    text, spans, _ = bs.parse_markup("Gunmen shot [target: him].", path="x.txt", doc_id="x-001", warnings=warnings)
    assert spans_of(text, spans) == [("target", "him")]
    assert warnings == ["x.txt, line 1, document 'x-001': target span 'him' is a pronoun; annotate only non-pronoun mentions"]


# ---------------------------------------------------------------- source files

GOOD = """\
=== t-001 | region: Peru | year: 1984 | style: wire | type: bombing
[attacker: Rebels] blew up [target: a pylon] near [location: Huancayo] on [time: Sunday].

The power company said repairs would take a week.

=== t-002 | region: Peru | year: 1985 | style: local | type: none
The harvest festival drew large crowds.
"""


def test_parse_source_reads_headers_paragraphs_and_meta():
    first, second = bs.parse_source(GOOD, "t.txt")
    assert first.id == "t-001"
    assert first.meta == {"region": "Peru", "year": 1984, "style": "wire", "type": "bombing"}
    assert first.text == (
        "Rebels blew up a pylon near Huancayo on Sunday.\n\nThe power company said repairs would take a week."
    )
    assert spans_of(first.text, first.spans)[0] == ("attacker", "Rebels")
    assert second.is_negative and not second.spans
    assert second.text == "The harvest festival drew large crowds."


def test_trailing_spaces_and_extra_blank_lines_are_normalised():
    source = "=== t-001 | region: Peru | year: 1984 | style: wire | type: none\n\nOne.   \n\n\n\nTwo.\n\n"
    (article,) = bs.parse_source(source, "t.txt")
    assert article.text == "One.\n\nTwo."


def errors_of(source, path="t.txt"):
    with pytest.raises(bs.SampleSourceError) as caught:
        bs.parse_source(source, path)
    return [str(error) for error in caught.value.errors]


def test_source_errors_name_file_line_and_article():
    source = GOOD + (
        "=== t-003 | region: Peru | year: 1986 | style: wire | type: raid\n"
        "Soldiers raided a farm.\n"
        "=== t-004 | region: Peru | year: 1986 | style: wire | type: none\n"
        "\n"
        "Later [attacker: soldiers] returned.\n"
        "=== t-001 | region: Peru | year: 1986 | style: wire | type: none\n"
        "Calm.\n"
        "=== t-005 | region: Peru | year: 1986 | style: wire | type: raid\n"
        "Soldiers raided\n"
        "[target: a farm.\n"
    )
    errors = errors_of(source)
    assert errors == [
        "t.txt, line 8, document 't-003': an attack article (type: raid) has no spans; "
        "annotate it or mark it type: none",
        "t.txt, line 10, document 't-004': a negative article (type: none) has 1 span(s); negatives carry no spans",
        "t.txt, line 13, document 't-001': duplicate article id (first used on line 1)",
        "t.txt, line 17, document 't-005': '[target: ' is never closed (unbalanced brackets)",
    ]


@pytest.mark.parametrize(
    "header, message",
    [
        ("=== t-001 | region: Peru | year: 1984 | style: wire", "lacks type"),
        ("=== t-001 | region: Peru | year: 84 | style: wire | type: raid", "year '84'"),
        ("=== t-001 | region: Peru | year: 1984 | style: blog | type: raid", "style 'blog'"),
        ("=== t-001 | region: Peru | year: 1984 | style: wire | type: raid | mood: grim", "unknown header field 'mood'"),
        ("=== other-001 | region: Peru | year: 1984 | style: wire | type: raid", "batch 't-'"),
        ("=== t1 | region: Peru | year: 1984 | style: wire | type: raid", "bad article id"),
    ],
)
def test_header_errors(header, message):
    (error,) = errors_of(header + "\n[attacker: Soldiers] raided it.\n")
    assert message in error
    assert error.startswith("t.txt, line 1")


def test_an_id_can_only_live_in_its_own_batch_file(tmp_path):
    # Ids carry their file's batch prefix, so the same id cannot appear in two files.
    src = tmp_path / "src"
    src.mkdir()
    (src / "t.txt").write_text(GOOD, encoding="utf-8")
    (src / "u.txt").write_text(GOOD.replace("t-00", "u-00"), encoding="utf-8")
    assert [a.id for a in bs.load_sources(src)] == ["t-001", "t-002", "u-001", "u-002"]
    (src / "u.txt").write_text(GOOD, encoding="utf-8")
    with pytest.raises(bs.SampleSourceError) as caught:
        bs.load_sources(src)
    messages = [str(e) for e in caught.value.errors]
    assert len(messages) == 2
    assert all("u.txt, line" in m and "does not start with this file's batch 'u-'" in m for m in messages)


def test_split_rule_is_deterministic_and_roughly_70_15_15():
    assert bs.split_of("amer-001") == bs.split_of("amer-001")
    tally = {split: 0 for split in SPLITS}
    for n in range(2000):
        tally[bs.split_of(f"x-{n:03d}")] += 1
    assert 0.66 < tally["train"] / 2000 < 0.74
    assert 0.12 < tally["dev"] / 2000 < 0.18


def test_build_writes_splits_that_read_back_cleanly(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    articles = "".join(
        f"=== t-{n:03d} | region: Peru | year: 1984 | style: wire | type: bombing\n"
        f"[attacker: Rebels] bombed [target: bridge number {n}] in [location: Ayacucho] on [time: Sunday]"
        f" with [weapon: dynamite].\n\n"
        for n in range(1, 21)
    )
    (src / "t.txt").write_text(articles, encoding="utf-8")
    (tmp_path / "README.md").write_text("# card\n<!-- counts:start -->\nold\n<!-- counts:end -->\nend\n", encoding="utf-8")
    assert bs.main(["--src", str(src), "--out", str(tmp_path)]) == 0
    card = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "old" not in card and card.endswith("<!-- counts:end -->\nend\n")
    assert "| **total** | 20 | 0 | 20 | 20 | 20 | 20 | 20 | 100 |" in card
    written = {split: (tmp_path / f"{split}.jsonl") for split in SPLITS}
    total = 0
    for split, path in written.items():
        if path.exists():
            report = ReadReport()
            docs = read_jsonl_file(path, report)
            assert not report
            assert all(bs.split_of(doc.id) == split for doc in docs)
            total += len(docs)
    assert total == 20
    assert bs.main(["--src", str(src), "--out", str(tmp_path), "--check"]) == 0
    assert "read back: no repairs" in capsys.readouterr().out
