"""corpus_stats on a small invented corpus: counts, the reader's repairs, and both round trips."""

from __future__ import annotations

import json

import pytest

from eventroles.data.document import Document, Span, clean_spans
from eventroles.data.problems import CorpusError, ReadReport
from eventroles.data.stats import corpus_stats, native_tagset
from eventroles.models.backbone import load_tokenizer

TEXT1 = "Rebels of the Red Front attacked a police post in Gao."
TEXT2 = "Nothing happened in Mopti today."
ROLES3 = frozenset({"attacker", "target", "weapon"})


def _span(text: str, piece: str, role: str, label: str | None = None) -> Span:
    start = text.index(piece)
    return Span(start, start + len(piece), role, label)


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("minilm")


def _labelled() -> tuple[list[Document], ReadReport]:
    report = ReadReport()
    spans = [
        _span(TEXT1, "Rebels of the Red Front", "attacker", "PerpInd"),
        _span(TEXT1, "Red Front", "attacker", "PerpOrg"),  # inside PerpInd: fine per label, not per role
        _span(TEXT1, "olice post", "target", "Target"),  # cut word: snapped, counted
    ]
    docs = [
        clean_spans(Document("d1", TEXT1, spans, ROLES3, "toy"), report),
        clean_spans(Document("d2", TEXT2, [], ROLES3, "toy"), report),
    ]
    return docs, report


def test_counts_and_repairs_without_tokenizer() -> None:
    docs, report = _labelled()
    stats = corpus_stats(docs, report)
    assert stats["documents"] == 2 and stats["documents_without_spans"] == 1
    assert stats["words"] == 12 + 6 and stats["characters"] == len(TEXT1) + len(TEXT2)
    assert stats["spans"] == {"attacker": 2, "target": 1, "weapon": 0}
    assert stats["native_labels"] == {"PerpInd": 1, "PerpOrg": 1, "Target": 1}
    assert stats["documents_annotating_role"] == {"attacker": 2, "target": 2, "weapon": 2}
    assert stats["adjusted_or_dropped"] == {"span_snapped_to_words": 1}
    assert "'olice post' -> 'police post'" in stats["examples"]["span_snapped_to_words"][0]
    assert "round_trip" not in stats and "round_trip_roles" not in stats


def test_native_labels_round_trip_with_their_own_heads(tokenizer) -> None:
    docs, report = _labelled()
    stats = corpus_stats(docs, report, tokenizer)
    native, roles = stats["round_trip"], stats["round_trip_roles"]
    assert native["by"] == "label" and native["tags"] == ["PerpInd", "PerpOrg", "Target"]
    assert (native["exact"], native["total"], native["share"]) == (3, 3, 1.0)
    assert native["encoding"] == {}
    # One head per role cannot hold "Red Front" inside "Rebels of the Red Front".
    assert roles["by"] == "role" and roles["tags"] == ["attacker", "target", "weapon"]
    assert (roles["exact"], roles["total"], roles["share"]) == (2, 3, 0.6667)
    assert roles["encoding"] == {"overlapping_span_in_one_tag_skipped": 1}


def test_unlabelled_corpus_uses_the_roles(tokenizer) -> None:
    doc = Document("d1", TEXT1, [_span(TEXT1, "Rebels", "attacker"), _span(TEXT1, "Gao", "location")], corpus="toy")
    stats = corpus_stats([doc], ReadReport(), tokenizer)
    assert stats["round_trip"] == stats["round_trip_roles"]
    assert stats["round_trip"]["by"] == "role" and stats["round_trip"]["share"] == 1.0
    assert stats["round_trip"]["tags"] == ["attacker", "target", "location", "time", "weapon"]


def test_unlabelled_spans_of_a_labelled_corpus_are_counted_not_measured(tokenizer) -> None:
    spans = [_span(TEXT1, "Rebels", "attacker", "PerpInd"), _span(TEXT1, "Gao", "location")]
    stats = corpus_stats([Document("d1", TEXT1, spans)], ReadReport(), tokenizer)
    assert stats["round_trip"]["total"] == 1 and stats["round_trip"]["spans_without_tag"] == 1
    assert stats["round_trip_roles"]["total"] == 2 and "spans_without_tag" not in stats["round_trip_roles"]


def test_native_tagset_is_sorted_and_rejects_a_label_with_two_roles() -> None:
    docs, _ = _labelled()
    tagset = native_tagset(docs[::-1])
    assert tagset is not None and tagset.by == "label"
    assert dict(zip(tagset.tags, tagset.roles)) == {"PerpInd": "attacker", "PerpOrg": "attacker", "Target": "target"}
    assert native_tagset([Document("d", TEXT2)]) is None
    clash = Document("d3", TEXT1, [_span(TEXT1, "Gao", "location", "Target")])
    expected = r"'Target' has two roles: 'target' \(document 'd1'\) and 'location' \(document 'd3'\)"
    with pytest.raises(CorpusError, match=expected):
        native_tagset([*docs, clash])


def test_empty_corpus() -> None:
    stats = corpus_stats([], ReadReport(), tokenizer=object())
    assert stats["documents"] == 0 and stats["spans"] == {} and "round_trip" not in stats


def test_span_shape_shows_boundary_conventions() -> None:
    text = "The rebels shelled a police post and the market in Gao on Sunday."
    spans = [
        _span(text, "The rebels", "attacker"),
        _span(text, "a police post", "target"),
        _span(text, "market", "target"),
        _span(text, "Gao", "location"),
    ]
    shape = corpus_stats([Document("d1", text, spans)], ReadReport())["span_shape"]
    assert list(shape) == ["attacker", "target", "location"]  # roles with spans, in role order
    assert shape["attacker"] == {"mean_words": 2.0, "one_word": 0.0, "starts_with_article": 1.0}
    assert shape["target"] == {"mean_words": 2.0, "one_word": 0.5, "starts_with_article": 0.5}
    assert shape["location"] == {"mean_words": 1.0, "one_word": 1.0, "starts_with_article": 0.0}


def test_data_stats_command_on_the_bundled_corpus() -> None:
    """What a user sees first: per split, documents, negatives, spans per role and their shape."""
    from typer.testing import CliRunner

    from eventroles.cli.data import app as data_app

    result = CliRunner().invoke(data_app, ["stats", "sample", "--split", "test", "--tokenizer", "none"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("sample:test: ") and " without spans" in lines[0]
    assert lines[1].startswith("  spans: attacker ")
    shape_lines = [line for line in lines if line.startswith("  ") and " spans: " in line and "start with a/an/the" in line]
    assert [line.split()[0] for line in shape_lines] == ["attacker", "target", "location", "time", "weapon"]


def test_data_stats_refuses_a_split_of_a_single_file(tmp_path) -> None:
    from typer.testing import CliRunner

    from eventroles.cli.data import app as data_app

    path = tmp_path / "mine.jsonl"
    path.write_text('{"id": "a", "text": "Rebels attacked.", "spans": []}\n', encoding="utf-8")
    result = CliRunner().invoke(data_app, ["stats", str(path), "--split", "dev", "--tokenizer", "none"])
    assert result.exit_code == 1 and "--split is for registered corpora" in result.output  # was ignored


def test_a_label_used_for_two_roles_is_measured_per_role_with_a_note(tokenizer) -> None:
    # an NER type ("PER") on an attacker and on a target: valid data, one head per label impossible
    text = "Gunmen shot Ali in Gao."
    doc = Document("d1", text, [_span(text, "Gunmen", "attacker", "PER"), _span(text, "Ali", "target", "PER")], ROLES3)
    stats = corpus_stats([doc], ReadReport(), tokenizer)  # was a CorpusError naming no file
    assert stats["round_trip"] == stats["round_trip_roles"] and stats["round_trip"]["total"] == 2
    assert "'PER' has two roles" in stats["round_trip_note"]


def test_data_stats_on_a_corpus_folder_of_the_user(tmp_path) -> None:
    from typer.testing import CliRunner

    from eventroles.cli.data import app as data_app

    for split in ("train", "dev"):
        (tmp_path / f"{split}.jsonl").write_text('{"id": "a", "text": "Rebels attacked.", "spans": []}\n', encoding="utf-8")
    result = CliRunner().invoke(data_app, ["stats", str(tmp_path), "--tokenizer", "none"])
    assert result.exit_code == 0, result.output  # was "unknown corpus"
    assert [line.split(":")[-2] for line in result.output.splitlines() if not line.startswith(" ")] == ["train", "dev"]


def test_data_stats_shows_roles_left_out_and_entity_ids(tmp_path) -> None:
    from typer.testing import CliRunner

    from eventroles.cli.data import app as data_app

    lines = [{"id": "a", "text": "Rebels attacked Gao.", "roles": ["attacker", "location"],
              "spans": [{"start": 0, "end": 6, "role": "attacker", "entity": 1}]},
             {"id": "b", "text": "Nothing happened.", "spans": []}]
    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    result = CliRunner().invoke(data_app, ["stats", str(path), "--tokenizer", "none"])
    assert result.exit_code == 0, result.output
    assert "documents annotating each role: attacker 2, target 1, location 2, time 1, weapon 1" in result.output
    assert "spans with entity ids: 1" in result.output


def test_a_span_with_several_native_labels_counts_once_and_unannotated_documents_are_not_negatives() -> None:
    text = "Two brothers attacked the post."
    labelled = Document("a", text, [Span(4, 12, "attacker", label) for label in ("Attacker", "Injurer", "Killer")])
    nothing_annotated = Document("b", "A trial opened.", [], roles=frozenset())
    negative = Document("c", "Talks resumed.", [])
    empty = Document("d", "  \n", [])  # an empty scrape is not a negative article
    stats = corpus_stats([labelled, nothing_annotated, negative, empty], ReadReport())
    assert stats["spans"]["attacker"] == 1  # WikiEvents' "brothers" counted three times
    assert stats["native_labels"] == {"Attacker": 1, "Injurer": 1, "Killer": 1}
    assert stats["documents_without_spans"] == 1 and stats["documents_annotating_no_role"] == 1  # GENEVA's roles: []
    assert stats["documents_with_empty_text"] == 1


def test_data_export_refuses_to_rewrite_the_file_it_reads(tmp_path) -> None:
    from typer.testing import CliRunner

    from eventroles.cli.data import app as data_app

    mine = tmp_path / "test.jsonl"
    original = '{"id": "x1", "text": "Rebels shelled Kalu.", "source": "https://example.org/a", "spans": []}\n'
    mine.write_text(original, encoding="utf-8")
    for spec in (str(mine), f"{tmp_path}:test"):
        result = CliRunner().invoke(data_app, ["export", spec, "-o", str(mine)])
        assert result.exit_code == 1 and "is a file this run reads (the corpus" in result.output
    assert mine.read_text(encoding="utf-8") == original  # "source" was dropped, the file rewritten


@pytest.mark.parametrize(("spec", "message"), [
    ("ann.csv", "only JSON-lines files (.jsonl, one document per line) are read (a CSV file"),
    ("mine/train.jsonl:dev", "is one file, without splits"),
    ("no/such/folder", "no such file or folder"),
])
def test_a_path_that_is_not_a_corpus_says_what_it_is(tmp_path, monkeypatch, spec: str, message: str) -> None:
    from eventroles.data.problems import CorpusNotFoundError
    from eventroles.data.registry import load_corpus

    monkeypatch.chdir(tmp_path)
    (tmp_path / "ann.csv").write_text("id,text\n1,Rebels\n", encoding="utf-8")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "train.jsonl").write_text('{"id": "a", "text": "Rebels.", "spans": []}\n', encoding="utf-8")
    with pytest.raises(CorpusNotFoundError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        load_corpus(spec)  # each was "unknown corpus"
    assert len(load_corpus("mine/train.jsonl")[0]) == 1


def test_data_stats_says_what_the_encoder_will_skip(tmp_path) -> None:
    # two overlapping attacker spans: one BIO sequence holds one, training skips the other; stats
    # showed only "round trip: 1/2" without saying why
    from typer.testing import CliRunner

    from eventroles.cli.data import app as data_app

    spans = [{"start": 0, "end": 6, "role": "attacker"}, {"start": 0, "end": 19, "role": "attacker"}]
    line = json.dumps({"id": "a", "text": "Rebels of the north hit the town.", "spans": spans})
    (tmp_path / "train.jsonl").write_text(line + "\n", encoding="utf-8")
    result = CliRunner().invoke(data_app, ["stats", str(tmp_path), "--split", "train"])
    assert result.exit_code == 0, result.output
    assert "round trip: 1/2 spans exact" in result.output
    assert result.output.count("skipped by the encoder, as training with these heads will: overlapping_span_in_one_tag_skipped 1") == 1
    # with native labels the two spans fit two heads; trained one head per role, one is skipped
    spans = [dict(spans[0], label="PerpOrg"), dict(spans[1], label="PerpInd")]
    line = json.dumps({"id": "a", "text": "Rebels of the north hit the town.", "spans": spans})
    (tmp_path / "train.jsonl").write_text(line + "\n", encoding="utf-8")
    output = CliRunner().invoke(data_app, ["stats", str(tmp_path), "--split", "train"]).output
    assert "round trip: 2/2" in output and "round trip, one head per role: 1/2" in output
    assert output.split("one head per role")[1].count("overlapping_span_in_one_tag_skipped 1") == 1
