"""Output writers (models/writers.py) on hand-made labelled documents; no model needed."""

from __future__ import annotations

import io
import json
from html.parser import HTMLParser
from pathlib import Path

from eventroles.data.document import Document, Span
from eventroles.data.problems import ReadReport
from eventroles.data.readers.jsonl import read_jsonl_file
from eventroles.data.roles import ROLES
from eventroles.models.writers import ConllWriter, CsvWriter, HtmlWriter, JsonlWriter, TextWriter, doc_record, record_document

TRICKY = 'Rebels <b>&amp;</b> "militia"\r\n\tattacked  the town of Kafr 🙂 on Sunday.'


def at(text: str, phrase: str, role: str, label: str | None = None) -> Span:
    start = text.index(phrase)
    return Span(start, start + len(phrase), role, label)


def labelled(text: str, spans: list[Span], doc_id: str = "d1") -> Document:
    scores = {(s.start, s.end, s.role): 0.5 + i / 100 for i, s in enumerate(spans)}
    return Document(doc_id, text, sorted(spans), meta={"span_scores": scores})


def tricky_doc() -> Document:
    """Nested (town of Kafr / Kafr), crossing (attacked the town / the town of Kafr) spans."""
    return labelled(
        TRICKY,
        [
            at(TRICKY, "Rebels", "attacker"),
            at(TRICKY, "<b>", "attacker", "PerpOrg"),
            at(TRICKY, "the town of Kafr", "target"),
            at(TRICKY, "Kafr", "location"),
            at(TRICKY, "attacked  the town", "weapon"),
            at(TRICKY, "Sunday", "time"),
        ],
    )


def write(writer_class, docs: list[Document], **kwargs) -> str:
    handle = io.StringIO(newline="")
    writer = writer_class(handle, **kwargs)
    writer.begin()
    for doc in docs:
        writer.write(doc)
    writer.end()
    return handle.getvalue()


# -- jsonl ------------------------------------------------------------------------------------
def test_jsonl_lines_are_what_evaluate_reads(tmp_path: Path) -> None:
    doc = tricky_doc()
    out = write(JsonlWriter, [doc, labelled("No event here.", [], "d2")])
    lines = out.splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert set(first) == {"id", "text", "spans", "roles"} and first["text"] == TRICKY
    for span in first["spans"]:
        assert {"start", "end", "role", "text", "score"} <= set(span)
        assert TRICKY[span["start"] : span["end"]] == span["text"]
    path = tmp_path / "pred.jsonl"
    path.write_text(out, encoding="utf-8")
    back = read_jsonl_file(path, ReadReport())
    assert [d.id for d in back] == ["d1", "d2"]
    assert back[0].spans == doc.spans and back[0].text == TRICKY


def test_jsonl_says_the_models_roles_and_where_a_document_came_from(tmp_path: Path) -> None:
    # Without "roles", `evaluate --predictions` counted a role the model cannot output (time) as
    # missed; without "source", two feed.jsonl files' "feed:1" could not be told apart.
    doc = Document("feed:1", "Rebels shelled Kalu.", [Span(0, 6, "attacker")], frozenset({"attacker", "target"}),
                   meta={"source": "a/feed.jsonl, line 1"})
    record = json.loads(write(JsonlWriter, [doc]))
    assert record["roles"] == ["attacker", "target"] and record["source"] == "a/feed.jsonl, line 1"
    path = tmp_path / "pred.jsonl"
    path.write_text(write(JsonlWriter, [doc]), encoding="utf-8")
    report = ReadReport()
    [back] = read_jsonl_file(path, report)
    assert back.roles == frozenset({"attacker", "target"}) and not report.counts  # source is no unknown field
    assert back.meta["source"] == "a/feed.jsonl, line 1"  # kept, so that data export writes it on
    assert record_document(record).meta["source"] == "a/feed.jsonl, line 1"


def test_jsonl_gives_back_the_input_lines_other_fields(tmp_path: Path) -> None:
    # An archive's URL, date and outlet must come back beside the spans, through the part files
    # of a multi-process run too, and be read (not counted as unknown) by evaluate and data export.
    fields = {"url": "https://example.org/a?b=1", "published": "1998-03-03", "outlet": {"name": "Kalu Post", "rank": 2}}
    doc = Document("feed:1", "Rebels shelled Kalu.", [Span(0, 6, "attacker")], frozenset({"attacker"}),
                   meta={"source": "feed.jsonl, line 1", "fields": fields})
    record = json.loads(write(JsonlWriter, [doc]))
    assert record["fields"] == fields
    assert doc_record(record_document(record)) == record
    path = tmp_path / "pred.jsonl"
    path.write_text(write(JsonlWriter, [doc]), encoding="utf-8")
    report = ReadReport()
    [back] = read_jsonl_file(path, report)
    assert back.meta["fields"] == fields and not report.counts
    plain = json.loads(write(JsonlWriter, [labelled("No event.", [], "d2")]))
    assert "fields" not in plain  # nothing to give back: no empty field


def test_jsonl_escapes_line_separators_that_split_lines() -> None:
    text = "Rebels shelled Kalu.\u2028Then\u2029they\x85left."
    out = write(JsonlWriter, [labelled(text, [at(text, "Rebels", "attacker")])])
    assert len(out.splitlines()) == 1  # str.splitlines() split the raw line in four
    assert json.loads(out)["text"] == text


def test_csv_has_a_row_per_span_and_one_for_a_document_without_spans() -> None:
    import csv

    doc = labelled(TRICKY, [at(TRICKY, '"militia"\r\n\tattacked', "attacker"), at(TRICKY, "Kafr", "location")])
    doc.meta["source"] = "news/a.txt"
    rows = list(csv.DictReader(io.StringIO(write(CsvWriter, [doc, labelled("No event.", [], "d2")]), newline="")))
    assert [r["role"] for r in rows] == ["attacker", "location", ""]
    first = rows[0]
    assert first["text"] == '"militia"\r\n\tattacked' == TRICKY[int(first["start"]):int(first["end"])]  # quoted, exact
    assert (first["id"], first["source"], first["score"]) == ("d1", "news/a.txt", "0.5")
    assert rows[2]["id"] == "d2" and rows[2]["start"] == ""


def test_csv_conll_and_text_carry_the_input_lines_other_fields() -> None:
    # A spreadsheet of spans is joined to the archive's URL and date only if each row carries
    # them: one JSON cell, because a streamed table's columns are fixed before the first line.
    import csv

    fields = {"url": "https://example.org/a?b=1,2", "published": "1998-03-03", "note": "line\u2028break \"q\"\n",
              "by": "\x9b31m\u202eevil"}  # a one-character CSI and a right-to-left override
    doc = Document("feed:1", "Rebels shelled Kalu.", [Span(0, 6, "attacker"), Span(15, 19, "location")],
                   frozenset({"attacker", "location"}), meta={"source": "feed.jsonl, line 1", "fields": fields})
    plain = labelled("No event.", [], "d2")
    rows = list(csv.DictReader(io.StringIO(write(CsvWriter, [doc, plain]), newline="")))
    assert [json.loads(r["fields"]) for r in rows[:2]] == [fields, fields]
    assert list(json.loads(rows[0]["fields"])) == ["url", "published", "note", "by"]  # the input's order
    assert rows[2]["fields"] == ""  # no fields: an empty cell, not "{}"
    blocks = write(ConllWriter, [doc, plain], columns=ROLES).split("\n\n")
    first = blocks[0].split("\n")
    assert first[0] == "# id = feed:1" and first[1].startswith("# fields = ")
    assert json.loads(first[1].removeprefix("# fields = ")) == fields  # one line: the separators escaped
    assert "\\u009b31m\\u202eevil" in first[1]  # controls as JSON escapes: `cat` shows them, JSON reads them back
    assert first[2].startswith("# columns = ") and first[3].split("\t")[:3] == ["Rebels", "0", "6"]
    assert not any(line.startswith("# fields") for line in blocks[1].split("\n"))
    table = write(TextWriter, [doc, plain]).split("\n")
    assert table[0] == "== feed:1: 2 spans" and table[1].startswith("   fields: ")
    assert json.loads(table[1].removeprefix("   fields: ")) == fields and table[2].lstrip().startswith("attacker")
    assert not any("fields" in line for line in table[4:])  # none for a document without them


def test_record_round_trip() -> None:
    doc = tricky_doc()
    back = record_document(json.loads(json.dumps(doc_record(doc))))
    assert (back.id, back.text, back.spans) == (doc.id, doc.text, doc.spans)
    assert doc_record(back) == doc_record(doc)


# -- html -------------------------------------------------------------------------------------
VOID = {"meta", "br", "hr", "img", "link", "input"}


class Page(HTMLParser):
    """Collects each article's text and, per span index, the text inside its marks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.articles: list[dict] = []
        self.stack: list[tuple[str, dict]] = []
        self.legend: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        attrs = dict(attrs)
        if tag == "article":
            self.articles.append({"text": "", "spans": {}, "classes": {}})
        if tag not in VOID:
            self.stack.append((tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1][0] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        names = [t for t, _ in self.stack]
        if "mark" in names and any(a.get("class") == "legend" for _, a in self.stack):
            self.legend.append(data)
        if not any(a.get("class") == "text" for _, a in self.stack):
            return
        article = self.articles[-1]
        article["text"] += data
        for tag, attrs in self.stack:
            if tag == "mark":
                key = int(attrs["data-span"])
                article["spans"][key] = article["spans"].get(key, "") + data
                article["classes"][key] = attrs["class"]


def test_html_parses_and_shows_every_span_once() -> None:
    docs = [tricky_doc(), labelled("Quiet day.", [], "d2 <x>")]
    out = write(HtmlWriter, docs, roles=ROLES, title="t")
    page = Page()
    page.feed(out)
    page.close()
    assert out.startswith("<!DOCTYPE html>") and page.stack == []
    assert "script" not in page.tags and "<b>" not in out  # the text is escaped
    assert sorted(page.legend) == sorted(ROLES)
    assert len(page.articles) == 2
    first = page.articles[0]
    assert first["text"] == TRICKY
    doc = docs[0]
    assert set(first["spans"]) == set(range(len(doc.spans)))
    for index, span in enumerate(doc.spans):
        assert first["spans"][index] == doc.span_text(span)
        assert first["classes"][index] == f"role-{span.role}"
    assert page.articles[1]["text"] == "Quiet day." and not page.articles[1]["spans"]
    assert "d2 &lt;x&gt;" in out


def test_html_lists_the_input_lines_other_fields_as_text() -> None:
    # A reader of the page needs the article's URL and date beside its spans; an input's
    # values are shown as text, never as markup or a followed link.
    fields = {"url": "javascript:alert(1)", "title": "<script>x()</script>", "rank": [1, {"a": None}]}
    doc = Document("feed:1", "Rebels shelled Kalu.", [Span(0, 6, "attacker")], frozenset({"attacker"}),
                   meta={"fields": fields, "span_scores": {(0, 6, "attacker"): 0.9}})
    out = write(HtmlWriter, [doc, labelled("Quiet day.", [], "d2")], roles=ROLES, title="t")
    page = Page()
    page.feed(out)
    page.close()
    assert "script" not in page.tags and "a" not in page.tags
    assert page.tags.count("dl") == 1 and page.tags.count("dt") == 3  # only the article with fields
    assert '<dd>&lt;script&gt;x()&lt;/script&gt;</dd>' in out and '<dd>[1, {&quot;a&quot;: null}]</dd>' in out
    assert page.articles[0]["text"] == doc.text and page.articles[0]["spans"] == {0: "Rebels"}


def test_html_colours_are_distinct_per_role() -> None:
    out = write(HtmlWriter, [], roles=ROLES)
    colours = [line.split("background:")[1].split(";")[0].strip() for line in out.splitlines() if line.startswith("mark.role-")]
    assert len(colours) == len(ROLES) and len(set(colours)) == len(ROLES)
    assert "<article" not in out and "0 documents" in out


# -- conll ------------------------------------------------------------------------------------
def test_conll_columns_per_head() -> None:
    out = write(ConllWriter, [tricky_doc()], columns=ROLES)
    block = out.split("\n\n")[0].splitlines()
    assert block[0] == "# id = d1"
    assert block[1] == "# columns = word start end " + " ".join(ROLES)
    rows = {row.split("\t")[0]: row.split("\t") for row in block[2:]}
    for row in block[2:]:
        word, start, end, *tags = row.split("\t")
        assert TRICKY[int(start) : int(end)] == word and len(tags) == len(ROLES)
    column = {role: 3 + i for i, role in enumerate(ROLES)}
    assert rows["town"][column["target"]] == "I-target" and rows["town"][column["weapon"]] == "I-weapon"
    assert rows["Kafr"][column["target"]] == "I-target" and rows["Kafr"][column["location"]] == "B-location"
    assert rows["Rebels"][column["attacker"]] == "B-attacker"
    assert rows["Sunday"][column["time"]] == "B-time"
    assert out.endswith("\n\n")


def test_conll_native_label_columns() -> None:
    text = "Gunmen of the FMLN shot him."
    doc = labelled(text, [at(text, "Gunmen", "attacker", "PerpInd"), at(text, "Gunmen of the FMLN", "attacker", "PerpOrg")])
    out = write(ConllWriter, [doc], columns=("PerpInd", "PerpOrg", "Target"))
    rows = [row.split("\t") for row in out.splitlines()[2:] if row]
    assert rows[0][3:] == ["B-PerpInd", "B-PerpOrg", "O"]
    assert rows[3][3:] == ["O", "I-PerpOrg", "O"]


def test_text_format_lists_every_span_with_its_offsets() -> None:
    import io

    from eventroles.data.document import Document, Span
    from eventroles.models.writers import make_writer

    text = "Rebels shelled\tKalu on Sunday."
    doc = Document("d1", text, [Span(0, 6, "attacker"), Span(15, 19, "location"), Span(23, 29, "time")],
                   meta={"span_scores": {(0, 6, "attacker"): 0.91}})
    out = io.StringIO()
    writer = make_writer("text", out)
    writer.begin()
    writer.write(doc)
    writer.end()
    lines = out.getvalue().splitlines()
    assert lines[0] == "== d1: 3 spans"
    assert "attacker" in lines[1] and "0.91" in lines[1] and "[0:6]" in lines[1] and lines[1].endswith("Rebels")
    assert lines[2].endswith("Kalu") and "[15:19]" in lines[2]
    assert lines[3].endswith("Sunday") and "[23:29]" in lines[3]
    two_lines = Document("feed\n2", "Rebels shelled Kalu.", [Span(0, 6, "attacker")])
    out = io.StringIO()
    writer = make_writer("text", out)
    writer.write(two_lines)
    assert out.getvalue().splitlines()[0].startswith("== feed") and out.getvalue().splitlines()[0].endswith(": 1 spans")


def test_text_table_shows_terminal_controls_as_escapes_and_keeps_offsets() -> None:
    """An article's ESC sequences, one-character CSI (U+009B) and bidi overrides would recolour,
    move or reorder what a reader of the terminal sees; the table shows them as escapes."""
    text = "Rebels \x1b[2J\u202eshelled Kalu \x9b31m on Sunday."
    doc = Document("feed\x1b]0;x\x07", text, [at(text, "\x1b[2J\u202eshelled", "attacker")],
                   meta={"span_scores": {}, "fields": {"source": "wire\x9b1m", "note": "a\u2066b"}})
    out = io.StringIO()
    TextWriter(out).write(doc)
    shown = out.getvalue()
    assert not any(ch in shown for ch in "\x1b\x07\x9b\u202e\u2066")
    head, fields, row = shown.splitlines()
    assert head == "== feed\\u001b]0;x\\u0007: 1 spans"
    assert fields == '   fields: {"source": "wire\\u009b1m", "note": "a\\u2066b"}'
    assert row.endswith("[7:19]  \\u001b[2J\\u202eshelled")
    assert text[7:19] == "\x1b[2J\u202eshelled"
