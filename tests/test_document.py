"""Document and clean_spans: every repair is made on whole words and counted, never silent."""

from __future__ import annotations

import pytest

from eventroles.data.document import Document, Span, clean_spans
from eventroles.data.problems import ReadReport

TEXT = "Rebels bombed the power station in Kyiv on Sunday."


def _span(text: str, piece: str, role: str, label: str | None = None, shift: tuple[int, int] = (0, 0)) -> Span:
    start = text.index(piece)
    return Span(start + shift[0], start + len(piece) + shift[1], role, label)


def _clean(spans: list[Span], text: str = TEXT) -> tuple[Document, ReadReport]:
    report = ReadReport()
    return clean_spans(Document("d1", text, spans), report), report


def test_clean_spans_keeps_good_spans_and_reports_nothing() -> None:
    spans = [_span(TEXT, "Rebels", "attacker"), _span(TEXT, "the power station", "target"), _span(TEXT, "Kyiv", "location")]
    doc, report = _clean(spans)
    assert doc.spans == sorted(spans)
    assert not report


def test_partial_word_is_snapped_to_whole_words_and_counted() -> None:
    doc, report = _clean([_span(TEXT, "ower stat", "target")])
    assert [doc.span_text(s) for s in doc.spans] == ["power station"]
    assert report.counts == {"span_snapped_to_words": 1}
    assert "'ower stat' -> 'power station'" in report.examples["span_snapped_to_words"][0]


def test_surrounding_spaces_are_trimmed() -> None:
    doc, report = _clean([_span(TEXT, " Kyiv ", "location")])
    assert [doc.span_text(s) for s in doc.spans] == ["Kyiv"]
    assert report.counts["span_snapped_to_words"] == 1


def test_whitespace_only_span_is_dropped_and_counted() -> None:
    text = "Rebels   attacked"
    doc, report = _clean([Span(7, 9, "target")], text)
    assert doc.spans == []
    assert report.counts == {"span_empty_dropped": 1}


def test_exact_duplicate_is_dropped_and_counted() -> None:
    span = _span(TEXT, "Kyiv", "location")
    doc, report = _clean([span, span])
    assert doc.spans == [span]
    assert report.counts == {"duplicate_span_dropped": 1}


def test_spans_that_become_duplicates_after_snapping_are_counted_twice() -> None:
    doc, report = _clean([_span(TEXT, "Kyi", "location"), _span(TEXT, "Kyiv", "location")])
    assert [doc.span_text(s) for s in doc.spans] == ["Kyiv"]
    assert report.counts == {"span_snapped_to_words": 1, "duplicate_span_dropped": 1}


def test_nested_same_role_keeps_the_longer_span() -> None:
    outer = _span(TEXT, "the power station", "target")
    inner = _span(TEXT, "station", "target")
    doc, report = _clean([inner, outer])
    assert doc.spans == [outer]
    assert report.counts == {"nested_same_role_dropped": 1}
    assert "'station' inside 'the power station'" in report.examples["nested_same_role_dropped"][0]


def test_overlap_of_different_roles_or_labels_is_kept() -> None:
    # "Kyiv" is both the target and the location; two native labels of one role may overlap too.
    spans = [
        _span(TEXT, "Kyiv", "target"),
        _span(TEXT, "Kyiv", "location"),
        _span(TEXT, "Rebels", "attacker", "PerpInd"),
        _span(TEXT, "Rebels", "attacker", "PerpOrg"),
    ]
    doc, report = _clean(spans)
    assert doc.spans == sorted(spans)
    assert not report


def test_unicode_and_crlf_offsets_are_kept_exactly() -> None:
    text = "Ataque en Bogota\u0301\r\n\tel lunes: 💣 en 東京"
    spans = [_span(text, "Bogota", "location"), _span(text, "💣", "weapon"), _span(text, "東京", "location")]
    doc, report = _clean(spans, text)
    # The combining accent belongs to the word, so the span is widened to include it.
    assert [doc.span_text(s) for s in doc.spans] == ["Bogota\u0301", "💣", "東京"]
    assert report.counts == {"span_snapped_to_words": 1}
    assert doc.text == text


def test_spans_come_back_sorted_and_label_is_kept() -> None:
    late = _span(TEXT, "Sunday", "time", "SilverTime")
    early = _span(TEXT, "Rebels", "attacker", "PerpOrg")
    doc, _ = _clean([late, early])
    assert doc.spans == [early, late]
    assert doc.spans[0].label == "PerpOrg"


@pytest.mark.parametrize(
    "span", [Span(0, len(TEXT) + 1, "target"), Span(-1, 3, "target"), Span(5, 5, "target"), Span(6, 2, "target")]
)
def test_offsets_outside_the_text_are_a_value_error_naming_document_and_span(span: Span) -> None:
    with pytest.raises(ValueError) as error:
        clean_spans(Document("doc-7", TEXT, [span]), ReadReport(), where="corpus.json:12")
    message = str(error.value)
    assert "corpus.json:12" in message and "'doc-7'" in message
    assert f"[{span.start}, {span.end})" in message and "target" in message


def test_spans_with_and_without_label_at_one_place_sort_without_error() -> None:
    bare, labelled, other = Span(0, 6, "attacker"), Span(0, 6, "attacker", "PerpInd"), Span(0, 6, "attacker", "PerpOrg")
    assert sorted([other, labelled, bare]) == [bare, labelled, other]
    assert sorted([labelled, bare]) == sorted([bare, labelled])
    assert bare < labelled and labelled > bare and bare <= bare and not labelled < bare
    assert bare.sort_key == (0, 6, "attacker", "")
    assert sorted([Span(7, 13, "target"), Span(0, 6, "target"), Span(0, 4, "target")]) == [
        Span(0, 4, "target"), Span(0, 6, "target"), Span(7, 13, "target")
    ]


def test_with_spans_and_clean_spans_sort_mixed_labels() -> None:
    spans = [_span(TEXT, "Rebels", "attacker", "PerpInd"), _span(TEXT, "Rebels", "attacker")]
    doc, report = _clean(spans)
    assert doc.spans == [spans[1], spans[0]]
    assert Document("d", TEXT).with_spans(spans).spans == [spans[1], spans[0]]
    assert not report


def test_clean_spans_does_not_mutate_the_input() -> None:
    original = Document("d1", TEXT, [_span(TEXT, "ower", "target")])
    clean_spans(original, ReadReport())
    assert original.span_text(original.spans[0]) == "ower"


def test_report_keeps_at_most_five_examples_but_counts_all() -> None:
    text = " ".join(f"w{i}" for i in range(8))
    spans = [Span(text.index(f"w{i}"), text.index(f"w{i}") + 1, "target") for i in range(8)]
    doc, report = _clean(spans, text)
    assert report.counts["span_snapped_to_words"] == 8
    assert len(report.examples["span_snapped_to_words"]) == 5
    assert len(doc.spans) == 8


def test_words_follow_a_changed_text() -> None:
    # dataclasses.replace copied the cached words, and spans came out mid-word ("acked a police post")
    import dataclasses

    doc = Document("d", "Gunmen struck the mayor.")
    assert len(doc.words) == 5
    moved = dataclasses.replace(doc.blank(), text="SOURCE: wire\n" + doc.text)
    assert [moved.text[s:e] for s, e in zip(moved.words.starts, moved.words.ends)][:4] == ["SOURCE", ":", "wire", "Gunmen"]
    doc.text = "Rebels fled."
    assert [doc.text[s:e] for s, e in zip(doc.words.starts, doc.words.ends)] == ["Rebels", "fled", "."]
