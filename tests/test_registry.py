"""The corpus registry: one way to get documents, with messages that say what to do next."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eventroles.data.problems import CorpusFormatError, CorpusNotFoundError
from eventroles.data.registry import CORPORA, corpus_folder, get_corpus, load_corpus, parse_spec
from eventroles.data.roles import ROLES


def _jsonl(path: Path) -> Path:
    lines = [
        {"id": "x1", "text": "Rebels shelled Kyiv.", "spans": [{"start": 0, "end": 6, "role": "attacker"},
                                                           {"start": 16, "end": 19, "role": "location"}]},  # "yiv"
        {"id": "x2", "text": "Nothing happened.", "spans": [], "roles": ["time"]},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def test_load_corpus_reads_a_jsonl_path(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "mine.jsonl")
    docs, report = load_corpus(str(path))
    assert [d.id for d in docs] == ["x1", "x2"]
    assert [docs[0].span_text(s) for s in docs[0].spans] == ["Rebels", "Kyiv"]
    assert docs[1].roles == frozenset({"time"})
    assert docs[0].corpus == "mine"
    assert report.counts == {"span_snapped_to_words": 1}  # the repair comes back with the documents


def test_load_corpus_jsonl_errors_are_corpus_errors(tmp_path: Path) -> None:
    with pytest.raises(CorpusNotFoundError, match="no such file"):
        load_corpus(str(tmp_path / "absent.jsonl"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json}\n", encoding="utf-8")
    with pytest.raises(CorpusFormatError, match="line 1"):
        load_corpus(str(bad))


def test_unknown_corpus_lists_the_known_ones() -> None:
    with pytest.raises(CorpusNotFoundError) as caught:
        load_corpus("muc5:test")
    message = str(caught.value)
    assert "unknown corpus 'muc5'" in message
    assert all(name in message for name in CORPORA)
    assert ".jsonl" in message  # and says a file path works too


def test_unknown_split_lists_the_splits() -> None:
    with pytest.raises(CorpusNotFoundError) as caught:
        load_corpus("muc4:validation")
    assert "no split 'validation'" in str(caught.value) and "train, dev, test" in str(caught.value)


def test_missing_corpus_folder_says_where_and_how(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(CorpusNotFoundError) as caught:
        load_corpus("wikievents:dev", root=tmp_path)
    message = str(caught.value)
    assert str(tmp_path / "wikievents") in message
    assert "EVENTROLES_DATA" in message and "eventroles data download wikievents" in message
    monkeypatch.setenv("EVENTROLES_DATA", str(tmp_path / "root"))
    with pytest.raises(CorpusNotFoundError, match=str(tmp_path / "root" / "muc4")):
        load_corpus("muc4")


def test_a_half_downloaded_corpus_is_refused_not_read_as_a_smaller_one(tmp_path: Path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from eventroles.cli.data import app as data_app
    from eventroles.data.download import load_manifest

    manifest = load_manifest("geneva")
    folder = tmp_path / "geneva"
    folder.mkdir()
    present = manifest.files[1]  # train-s160.json only: val and test "failed"
    (folder / present.path).write_bytes(b"x" * present.size)
    with pytest.raises(CorpusNotFoundError) as caught:  # GENEVA's train split then also held val/test sentences
        load_corpus("geneva:train", root=tmp_path)
    message = str(caught.value)
    assert "is incomplete: 2 of its files are missing or cut short" in message
    assert "eventroles data download geneva" in message
    monkeypatch.setenv("EVENTROLES_DATA", str(tmp_path))
    listed = CliRunner().invoke(data_app, ["list"])
    assert "incomplete: 2 files missing or cut short" in listed.output
    verified = CliRunner().invoke(data_app, ["verify", "cameo", "--root", str(tmp_path)])  # the registry name
    assert verified.exit_code == 1 and "cameo:" in verified.output and "missing" in verified.output


def test_root_folder_with_a_jsonl_corpus(tmp_path: Path, monkeypatch) -> None:
    # The bundled sample corpus is read by the jsonl reader from its own folder, whatever the root.
    monkeypatch.setenv("EVENTROLES_DATA", str(tmp_path))
    docs, _ = load_corpus("sample:dev")
    assert docs and all(d.corpus == "sample" for d in docs)
    assert all(d.text[s.start : s.end].strip() == d.text[s.start : s.end] for d in docs for s in d.spans)
    assert corpus_folder(get_corpus("sample"), tmp_path) == corpus_folder(get_corpus("sample"))


def test_parse_spec_default_split() -> None:
    assert parse_spec("muc4") == ("muc4", "test")
    assert parse_spec("muc4", default_split="dev") == ("muc4", "dev")
    assert parse_spec("casie:train") == ("casie", "train")


def test_registry_entries_are_consistent() -> None:
    for name, info in CORPORA.items():
        assert info.name == name
        assert set(info.roles) <= set(ROLES)
        assert info.splits and info.licence and info.description
        assert callable(info.load_reader())


def test_a_corpus_folder_reads_as_a_config_path_names_it(tmp_path: Path) -> None:
    folder = tmp_path / "my_articles"
    folder.mkdir()
    _jsonl(folder / "test.jsonl")
    _jsonl(folder / "dev.jsonl")
    assert [d.id for d in load_corpus(str(folder))[0]] == ["x1", "x2"]  # the test split by default
    assert [d.id for d in load_corpus(f"{folder}:dev")[0]] == ["x1", "x2"]
    with pytest.raises(CorpusNotFoundError, match=r"has no train.jsonl \(its .jsonl files: dev, test\); name a split as .*:dev"):
        load_corpus(f"{folder}:train")


def test_a_json_file_named_as_a_corpus_gets_the_conversion_hint(tmp_path: Path) -> None:
    path = tmp_path / "articles.json"
    path.write_text("[]")
    with pytest.raises(CorpusNotFoundError, match="jq -c"):
        load_corpus(str(path))
