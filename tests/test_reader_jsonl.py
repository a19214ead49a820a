"""The project's JSON-lines format: exact round trips and errors that name file, line and field."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from eventroles.data.document import Document, Span
from eventroles.data.problems import CorpusFormatError, CorpusNotFoundError, ReadReport
from eventroles.data.readers.jsonl import document_to_json, read, read_jsonl_file, write_jsonl

TEXT = "Rebels attacked Kyiv on Sunday."


def _line(**fields) -> str:
    obj = {"id": "a1", "text": TEXT, "spans": [{"start": 0, "end": 6, "role": "attacker", "text": "Rebels"}]}
    obj.update(fields)
    return json.dumps(obj, ensure_ascii=False)


def _file(tmp_path: Path, *lines: str, name: str = "train.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _format_error(path: Path) -> CorpusFormatError:
    with pytest.raises(CorpusFormatError) as caught:
        read_jsonl_file(path, ReadReport())
    return caught.value


def test_reads_documents_in_order_with_defaults(tmp_path: Path) -> None:
    path = _file(tmp_path, _line(), "", _line(id="a2", spans=[], roles=["location", "time"]))
    docs = read_jsonl_file(path)
    assert [d.id for d in docs] == ["a1", "a2"]
    assert docs[0].spans == [Span(0, 6, "attacker")]
    assert docs[0].roles == frozenset({"attacker", "target", "location", "time", "weapon"})
    assert docs[1].roles == frozenset({"location", "time"})
    assert docs[0].corpus == "train"


def test_malformed_json_names_file_and_line(tmp_path: Path) -> None:
    path = _file(tmp_path, _line(), '{"id": "a2", "text": "oops"')
    error = _format_error(path)
    assert error.line == 2 and error.path == str(path)
    assert str(path) in str(error) and "line 2" in str(error) and "malformed JSON" in str(error)
    assert "(column 28)" in str(error)  # the end of the cut line, not column 1 of the newline after it


def test_line_that_is_not_an_object(tmp_path: Path) -> None:
    error = _format_error(_file(tmp_path, "[1, 2]"))
    assert error.line == 1 and "JSON object" in str(error)


@pytest.mark.parametrize(
    ("span", "field"),
    [
        ({"start": 25, "end": 40, "role": "time"}, "spans[1]"),
        ({"start": -1, "end": 3, "role": "time"}, "spans[1]"),
        ({"start": 5, "end": 5, "role": "time"}, "spans[1]"),
        ({"start": "0", "end": 3, "role": "time"}, "spans[1].start"),
        ({"start": True, "end": 3, "role": "time"}, "spans[1].start"),
        ({"start": 0, "end": True, "role": "attacker"}, "spans[1].end"),
        ({"start": 0, "end": 6.0, "role": "attacker"}, "spans[1].end"),
        ({"start": 0, "role": "attacker"}, "spans[1].end"),
        ({"start": 0, "end": 6}, "spans[1].role"),
        ({"start": 0, "end": 6, "role": "perpetrator"}, "spans[1].role"),
        ({"start": 0, "end": 6, "role": "attacker", "label": 3}, "spans[1].label"),
        ("Rebels", "spans[1]"),
    ],
)
def test_bad_span_names_the_field(tmp_path: Path, span, field: str) -> None:
    good = {"start": 16, "end": 20, "role": "location"}
    error = _format_error(_file(tmp_path, _line(spans=[good, span])))
    assert error.field == field and error.line == 1 and error.doc_id == "a1"
    assert f"field {field!r}" in str(error) and "document 'a1'" in str(error)


def test_offsets_outside_the_text(tmp_path: Path) -> None:
    error = _format_error(_file(tmp_path, _line(spans=[{"start": 20, "end": 99, "role": "time"}])))
    assert "[20, 99) outside the text (length 31)" in str(error)
    error = _format_error(_file(tmp_path, _line(spans=[{"start": 6, "end": 0, "role": "attacker"}])))
    assert "start 6 is not before end 0" in str(error)  # was "outside the text ... or empty"
    error = _format_error(_file(tmp_path, _line(spans=[{"start": 0, "role": "attacker"}])))
    assert "field 'spans[0].end': missing" in str(error)  # was "start and end must be integers"


def test_stored_text_mismatch_is_an_error_not_a_repair(tmp_path: Path) -> None:
    spans = [{"start": 0, "end": 6, "role": "attacker", "text": "Rebels"},
             {"start": 15, "end": 20, "role": "location", "text": "Kyiv"}]
    error = _format_error(_file(tmp_path, _line(spans=spans)))
    assert error.field == "spans[1].text"
    assert "'Kyiv'" in str(error) and "' Kyiv'" in str(error)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"roles": ["attacker", "perpetrator"]}, "roles"),
        ({"roles": "attacker"}, "roles"),
        ({"roles": ["target"]}, "spans[0].role"),  # a span of a role the document does not annotate
        ({"text": None}, "text"),
        ({"spans": None}, "spans"),
        ({"spans": {"start": 0}}, "spans"),
        ({"meta": [1]}, "meta"),
        ({"id": ["x"]}, "id"),
    ],
)
def test_bad_document_fields(tmp_path: Path, fields: dict, field: str) -> None:
    line = _line(**fields)
    if fields.get("spans", 0) is None:
        obj = json.loads(line)
        del obj["spans"]
        line = json.dumps(obj)
    error = _format_error(_file(tmp_path, line))
    assert error.field == field and error.line == 1


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"\xef\xbb\xbf\n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "dev.jsonl"
    path.write_bytes(content)
    error = _format_error(path)
    assert "empty" in str(error) and str(path) in str(error)


def test_non_utf8_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "dev.jsonl"
    path.write_bytes((_line() + "\n").encode() + _line(id="a2", text="Caf\xe9 bombed").encode("latin-1") + b"\n")
    error = _format_error(path)
    assert error.line == 2 and "UTF-8" in str(error)


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "dev.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + (_line() + "\r\n").encode())
    (doc,) = read_jsonl_file(path)
    assert doc.text == TEXT


def test_duplicate_id(tmp_path: Path) -> None:
    error = _format_error(_file(tmp_path, _line(), _line(id="a2"), _line()))
    assert error.line == 3 and error.field == "id" and "duplicate document id 'a1'" in str(error)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CorpusNotFoundError, match="no such file"):
        read_jsonl_file(tmp_path / "nope.jsonl")


def test_repairs_are_counted_with_file_and_line(tmp_path: Path) -> None:
    spans = [{"start": 1, "end": 6, "role": "attacker"}, {"start": 16, "end": 20, "role": "location"},
             {"start": 16, "end": 20, "role": "location"}]
    report = ReadReport()
    (doc,) = read_jsonl_file(_file(tmp_path, _line(spans=spans)), report)
    assert [doc.span_text(s) for s in doc.spans] == ["Rebels", "Kyiv"]
    assert report.counts == {"span_snapped_to_words": 1, "duplicate_span_dropped": 1}
    assert report.examples["span_snapped_to_words"][0].startswith(f"{tmp_path / 'train.jsonl'}:1")


def test_missing_id_gets_file_and_line(tmp_path: Path) -> None:
    obj = json.loads(_line())
    del obj["id"]
    (doc,) = read_jsonl_file(_file(tmp_path, json.dumps(obj), name="dev.jsonl"))
    assert doc.id == "dev:1"


def test_role_map_and_scores(tmp_path: Path) -> None:
    spans = [{"start": 0, "end": 6, "role": "perp", "score": 0.75}, {"start": 16, "end": 20, "role": "location"}]
    (doc,) = read_jsonl_file(_file(tmp_path, _line(spans=spans, roles=["perp", "location"])), role_map={"perp": "attacker"})
    assert doc.roles == frozenset({"attacker", "location"})
    assert doc.spans[0] == Span(0, 6, "attacker")
    assert doc.meta["span_scores"] == {(0, 6, "attacker"): 0.75, (16, 20, "location"): None}


def test_write_then_read_back_is_exact(tmp_path: Path) -> None:
    text = "Le 3\u00a0mars,\r\n\tdes hommes armés ont attaqué Bogota\u0301 💣 東京\u2028près de l'aéroport\u200b."
    pieces = [("hommes armés", "attacker", "PerpInd"), ("Bogota\u0301", "location", None), ("💣", "weapon", None),
              ("3\u00a0mars", "time", "SilverTime"), ("Bogota\u0301", "target", "Target")]
    spans = sorted(Span(text.index(p), text.index(p) + len(p), r, lab) for p, r, lab in pieces)
    docs = [
        Document("fr-1", text, spans, frozenset({"attacker", "target", "location", "time", "weapon"}), "x", {"source": "invented"}),
        Document("empty", "", [], frozenset({"location"})),
        Document("2", "quoted \"text\" and \\ backslash", [Span(8, 12, "target")], frozenset({"target"})),
    ]
    buffer = io.StringIO()
    assert write_jsonl(docs, buffer) == 3
    assert buffer.getvalue().count("\n") == 3  # U+2028 and CRLF stay inside their line
    path = tmp_path / "out.jsonl"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    report = ReadReport()
    back = read_jsonl_file(path, report)
    assert not report
    for before, after in zip(docs, back, strict=True):
        assert (after.id, after.text, after.spans, after.roles) == (before.id, before.text, before.spans, before.roles)
        assert after.meta == before.meta
    assert [back[0].span_text(s) for s in back[0].spans] == [back[0].text[s.start : s.end] for s in spans]


def test_nested_spans_of_one_label_are_read_as_written(tmp_path: Path) -> None:
    # MUC-4 has two PerpInd entities, one inside the other: an export (or a system's output)
    # scored as predictions must keep both, or the scorer loses an entity it was given.
    text = "the front of the national liberation army's camilist unity attacked"
    outer = Span(4, 58, "attacker", "PerpInd")
    inner = Span(17, 58, "attacker", "PerpInd")
    other = Span(17, 41, "attacker", "PerpOrg")
    doc = Document("m1", text, sorted([outer, inner, other]))
    path = tmp_path / "nested.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        write_jsonl([doc], handle)
    report = ReadReport()
    (back,) = read_jsonl_file(path, report)
    assert back.spans == doc.spans
    assert not report


def test_document_to_json_writes_span_text_and_scores() -> None:
    doc = Document("a1", TEXT, [Span(16, 20, "location"), Span(0, 6, "attacker", "PerpOrg")], frozenset({"attacker", "location"}))
    out = document_to_json(doc, scores={(0, 6, "attacker"): 0.123456})
    assert out["spans"] == [
        {"start": 0, "end": 6, "role": "attacker", "text": "Rebels", "label": "PerpOrg", "score": 0.1235},
        {"start": 16, "end": 20, "role": "location", "text": "Kyiv"},
    ]
    assert out["roles"] == ["attacker", "location"]


def test_registry_entry_point_reads_split_files(tmp_path: Path) -> None:
    folder = tmp_path / "mycorpus"
    folder.mkdir()
    _file(folder, _line(), name="dev.jsonl")
    (doc,) = read(folder, "dev", ReadReport())
    assert doc.corpus == "mycorpus"
    with pytest.raises(CorpusNotFoundError):
        read(folder, "test", ReadReport())


def test_scores_and_entity_ids_follow_spans_snapped_to_words(tmp_path: Path) -> None:
    text = "Rebels of the FMLN shelled Kalu."
    line = {"id": "p", "text": text, "spans": [
        {"start": 1, "end": 6, "role": "attacker", "score": 0.9, "entity": 4},  # "ebels": inside a word
        {"start": 14, "end": 18, "role": "attacker", "score": 0.8, "entity": 4},
    ]}
    path = tmp_path / "pred.jsonl"
    path.write_text(json.dumps(line) + "\n")
    doc = read_jsonl_file(path)[0]
    assert [(s.start, s.end) for s in doc.spans] == [(0, 6), (14, 18)]
    assert doc.meta["span_entities"] == {(0, 6, "attacker"): 4, (14, 18, "attacker"): 4}
    assert doc.meta["span_scores"] == {(0, 6, "attacker"): 0.9, (14, 18, "attacker"): 0.8}


def test_an_unpaired_surrogate_in_the_text_is_named(tmp_path: Path) -> None:
    path = _file(tmp_path, _line(), '{"id": "s", "text": "caf\\ud800 bomb", "spans": []}')
    error = _format_error(path)
    assert error.line == 2 and "text" in str(error) and "unpaired surrogate escape at character 3" in str(error)


def test_a_pretty_printed_file_is_told_to_be_one_document_per_line(tmp_path: Path) -> None:
    path = tmp_path / "pretty.jsonl"
    path.write_text(json.dumps(json.loads(_line()), indent=2) + "\n", encoding="utf-8")
    error = _format_error(path)
    assert error.line == 1 and "each document must be one line" in str(error) and "jq -c" in str(error)


@pytest.mark.parametrize("content", ['[{"id": "a1", "text": "x", "spans": []}]\n', '\n{\n  "id": "a1"\n}\n'],
                         ids=["one-line-array", "pretty-after-a-blank-line"])
def test_json_that_is_not_json_lines_gets_the_conversion_hint(tmp_path: Path, content: str) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_text(content, encoding="utf-8")
    assert "each document must be one line" in str(_format_error(path))


def test_every_bad_document_of_a_file_is_reported_in_one_round(tmp_path: Path) -> None:
    bad_text = _line(id="a1", spans=[{"start": 0, "end": 6, "role": "attacker", "text": "Rebel"}])
    bad_offsets = _line(id="a2", spans=[{"start": 0, "end": 600, "role": "attacker"}])
    path = _file(tmp_path, bad_text, _line(id="ok"), bad_offsets, _line(id="ok"))  # the last also repeats an id
    error = _format_error(path)
    assert error.line == 1 and error.field == "spans[0].text"  # the first problem stays the error's own
    message = str(error)
    assert "2 more problem(s) in this file" in message
    assert "line 3, document 'a2', field 'spans[0]'" in message and "line 4" in message and "duplicate document id" in message


def test_a_folder_given_as_a_file_is_named_as_a_folder(tmp_path: Path) -> None:
    with pytest.raises(CorpusNotFoundError, match="is a folder; give a JSON-lines file"):  # said "no such file"
        read_jsonl_file(tmp_path, ReadReport())


def test_a_misspelt_field_is_an_error_not_an_absent_one(tmp_path: Path) -> None:
    # "role" for "roles" read as absent made the document annotate every role: its other roles
    # were trained as "never present"; "lable" dropped the span's native label.
    error = _format_error(_file(tmp_path, _line(role=["attacker"])))
    assert "line 1, document 'a1', field 'role': unknown field (did you mean 'roles'?)" in str(error)
    span = {"start": 0, "end": 6, "role": "attacker", "lable": "PerpOrg"}
    error = _format_error(_file(tmp_path, _line(spans=[span])))
    assert "field 'spans[0].lable': unknown field (did you mean 'label'?)" in str(error)


@pytest.mark.parametrize("field", ["idx", "_id", "Id", "ids", "texts", "title", "tokens", "Source", "souce"])
def test_other_systems_fields_are_not_taken_for_misspellings(tmp_path: Path, field: str) -> None:
    report = ReadReport()
    read_jsonl_file(_file(tmp_path, _line(**{field: 1})), report)
    assert report.counts["unknown_field_ignored"] == 1


@pytest.mark.parametrize("field", ["labels", "scores", "entity_id", "type"])
def test_other_systems_span_fields_are_not_taken_for_misspellings(tmp_path: Path, field: str) -> None:
    span = {"start": 0, "end": 6, "role": "attacker", field: "x"}
    report = ReadReport()
    read_jsonl_file(_file(tmp_path, _line(spans=[span])), report)
    assert report.counts["unknown_field_ignored"] == 1


def test_other_unknown_fields_are_ignored_and_counted(tmp_path: Path) -> None:
    span = {"start": 0, "end": 6, "role": "attacker", "type": "ORG"}
    report = ReadReport()
    docs = read_jsonl_file(_file(tmp_path, _line(url="https://example.org", spans=[span])), report)
    assert [(s.role, s.label) for s in docs[0].spans] == [("attacker", None)]
    assert report.counts["unknown_field_ignored"] == 2
    assert any("spans[0].type" in example for example in report.examples["unknown_field_ignored"])


def test_a_key_written_twice_in_one_document_is_refused(tmp_path: Path) -> None:
    path = _file(tmp_path, _line(), '{"id": "b", "text": "Rebels hit", "text": "x", "spans": []}', _line(id="c", roles=["rebels"]))
    error = _format_error(path)
    assert "line 2" in str(error) and "key 'text' is written twice in one object" in str(error)
    assert "line 3, document 'c', field 'roles'" in str(error)  # reported together, not one round each
