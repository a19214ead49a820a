"""``eventroles predict`` on the smoke model: formats, offsets, bad inputs, several processes."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eventroles.cli import app
from eventroles.data.problems import ReadReport
from eventroles.data.readers.jsonl import read_jsonl_file

ROOT = Path(__file__).resolve().parents[1]
EVENT = "On Sunday, the militia struck the power station near Oslen using drones."
EVENT2 = "On 3 March 1998, Government troops struck villagers near Kalu using rifles."
TRICKY = "\ufeffLe  maire 🙂 de Sévérac\r\n\t" + EVENT + "\r\n\r\n   Gunmen\tstruck the mayor near Varna.  \u00a0\n"


def predict(runner: CliRunner, model: Path, *args: str | Path, input: bytes | str | None = None):
    options = ["--device", "cpu", "--precision", "fp32", "--no-progress"]
    return runner.invoke(app, ["predict", str(model), *map(str, args), *options], input=input)


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def check_rows(items: list[dict]) -> None:
    for item in items:
        assert set(item) - {"fields"} == {"id", "text", "spans", "roles", "source"}
        for span in item["spans"]:
            assert item["text"][span["start"] : span["end"]] == span["text"]
            assert span["role"] and 0.0 <= span["score"] <= 1.0


def test_txt_offsets_index_the_article(runner: CliRunner, smoke_model: Path, tmp_path: Path) -> None:
    article = tmp_path / "article.txt"
    article.write_bytes(TRICKY.encode("utf-8"))
    out = tmp_path / "out.jsonl"
    result = predict(runner, smoke_model, article, "-o", out)
    assert result.exit_code == 0, result.output
    [item] = rows(out)
    check_rows([item])
    assert item["id"] == str(article)
    assert item["text"] == TRICKY.removeprefix("\ufeff")  # CRLF, tabs, spaces kept; BOM dropped
    assert any(s["role"] == "location" and s["text"] == "Oslen" for s in item["spans"])
    assert "labelled 1 document" in result.stderr and result.stdout == ""
    docs = read_jsonl_file(out, ReadReport())  # what `evaluate --predictions` reads
    assert docs[0].text == item["text"] and len(docs[0].spans) == len(item["spans"])


def test_folder_with_bad_files_labels_the_others(runner: CliRunner, smoke_model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "news"
    (folder / "deep" / "er").mkdir(parents=True)
    (folder / "a.txt").write_text(EVENT, encoding="utf-8")
    (folder / "deep" / "er" / "b.txt").write_text(EVENT2, encoding="utf-8")
    (folder / "feed.jsonl").write_text(json.dumps({"id": "f1", "text": EVENT}) + "\n", encoding="utf-8")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "blank.txt").write_bytes(b"  \r\n\t\n")
    (folder / "deep" / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (folder / "latin1.txt").write_bytes("Café bombé à Sévérac".encode("latin-1"))
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0")
    (folder / ".hidden.txt").write_text(EVENT, encoding="utf-8")
    (folder / ".git").mkdir()
    (folder / ".git" / "notes.txt").write_text(EVENT, encoding="utf-8")
    result = predict(runner, smoke_model, folder)
    assert result.exit_code == 0, result.output
    items = [json.loads(line) for line in result.stdout.splitlines()]
    check_rows(items)
    assert [i["id"] for i in items] == [str(folder / "a.txt"), "f1", str(folder / "deep" / "er" / "b.txt")]
    err = result.stderr
    assert f"{folder / 'empty.txt'}: the file is empty" in err
    assert f"{folder / 'blank.txt'}: the file holds only whitespace" in err
    assert f"{folder / 'deep' / 'binary.txt'}: a binary file" in err
    assert f"{folder / 'latin1.txt'}: not valid UTF-8" in err
    assert f"{folder / 'photo.jpg'}: not a .txt or .jsonl file" in err
    assert ".hidden" not in err and ".git" not in err  # not listed one by one, but counted:
    summary = err.strip().splitlines()[-1]
    assert summary.startswith("labelled 3 documents") and "skipped 5" in summary
    assert "empty file 2" in summary and "binary file 1" in summary and "not UTF-8 1" in summary
    assert summary.endswith("hidden files or folders not read: 2")


def test_output_that_is_an_input_is_refused_before_anything_is_written(
    runner: CliRunner, smoke_model: Path, tmp_path: Path
) -> None:
    feed = tmp_path / "feed.jsonl"
    content = json.dumps({"id": "f1", "text": EVENT}) + "\n"
    feed.write_text(content, encoding="utf-8")
    same = predict(runner, smoke_model, feed, "-o", feed)
    assert same.exit_code == 1 and f"-o {feed} is also an input" in same.stderr
    assert feed.read_text(encoding="utf-8") == content  # was emptied, then reported as "the file is empty"

    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "a.txt").write_text(EVENT, encoding="utf-8")
    inside = predict(runner, smoke_model, folder, "-o", folder / "a.txt")
    assert inside.exit_code == 1 and "already exists inside the input folder" in inside.stderr
    assert (folder / "a.txt").read_text(encoding="utf-8") == EVENT  # was overwritten by the text table
    assert "Traceback" not in same.output + inside.output

    new_jsonl = predict(runner, smoke_model, folder, "-o", folder / "labelled.jsonl")  # the next run would read it
    assert new_jsonl.exit_code == 1 and "the next run over that folder would read" in new_jsonl.stderr
    assert not (folder / "labelled.jsonl").exists()

    page = folder / "labelled.html"  # a new page inside the folder is fine, and not read back
    first = predict(runner, smoke_model, folder, "-o", page)
    assert first.exit_code == 0 and "labelled 1 document " in first.stderr
    again = predict(runner, smoke_model, folder, "-o", page)  # an HTML page is never read as an input
    assert again.exit_code == 0 and "labelled 1 document " in again.stderr and "skipped 0" in again.stderr

    blocked = predict(runner, smoke_model, folder / "a.txt", "-o", folder / "a.txt" / "out.jsonl")
    assert blocked.exit_code == 1 and f"{folder / 'a.txt'} is a file, not a folder" in blocked.stderr


def test_repeated_ids_are_written_and_reported(runner: CliRunner, smoke_model: Path, tmp_path: Path) -> None:
    for year in ("2023", "2024"):  # default ids are FILE-STEM:LINE, so both give feed:1
        (tmp_path / "archive" / year).mkdir(parents=True)
        (tmp_path / "archive" / year / "feed.jsonl").write_text(json.dumps({"text": EVENT}) + "\n", encoding="utf-8")
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("".join(json.dumps({"id": i, "text": EVENT2}) + "\n" for i in ("a", "b", "a")), encoding="utf-8")
    result = predict(runner, smoke_model, tmp_path / "archive", mixed)
    assert result.exit_code == 0, result.output
    ids = [json.loads(line)["id"] for line in result.stdout.splitlines()]
    assert ids == ["feed:1", "feed:1", "a", "b", "a"]  # nothing dropped
    err = result.stderr
    later = tmp_path / "archive" / "2024" / "feed.jsonl"
    assert f"{later}, line 1: id 'feed:1' was already given to the document of " in err
    assert f"{mixed}, line 3: id 'a' was already given to the document of {mixed}, line 1" in err
    assert err.strip().splitlines()[-1].endswith("labelled documents whose id repeats an earlier one: 2")


def test_structured_files_named_directly_are_refused_with_a_hint(
    runner: CliRunner, smoke_model: Path, tmp_path: Path
) -> None:
    export = tmp_path / "export.json"
    export.write_text(json.dumps([{"id": "x", "text": EVENT}]), encoding="utf-8")
    plain = tmp_path / "article"  # no suffix: still one plain-text article
    plain.write_text(EVENT, encoding="utf-8")
    result = predict(runner, smoke_model, export, plain)
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [str(plain)]
    assert f"skipped {export}: a .json file is not read" in result.stderr and "jq -c" in result.stderr
    assert "skipped 1: not .txt or .jsonl 1" in result.stderr


def test_malformed_json_names_the_column_of_the_line(runner: CliRunner, smoke_model: Path, tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text(json.dumps({"text": EVENT}) + "\n" + '{"id": "cut", "text": \n', encoding="utf-8")
    result = predict(runner, smoke_model, feed)
    assert result.exit_code == 0
    assert f"{feed}, line 2: malformed JSON: Expecting value (column 23)" in result.stderr


def test_jsonl_bad_lines_are_named_and_skipped(runner: CliRunner, smoke_model: Path, tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    lines = [
        json.dumps({"id": "keep-1", "text": EVENT, "spans": "ignored"}).encode(),
        b'{"text": ""}',
        b"not json",
        b'{"id": "q"}',
        b"",
        b"[1, 2]",
        b'{"text": 5}',
        json.dumps({"id": [1], "text": EVENT}).encode(),
        json.dumps({"text": "caf"}).encode()[:-2] + b"\xe9\"}",
        json.dumps({"text": EVENT2}).encode(),
        json.dumps({"id": 42, "text": "  \t"}).encode(),
        json.dumps({"id": 43, "text": EVENT2}).encode(),
    ]
    feed.write_bytes(b"\n".join(lines) + b"\n")
    result = predict(runner, smoke_model, feed, "--chunk-size", "2")
    assert result.exit_code == 0, result.output
    items = [json.loads(line) for line in result.stdout.splitlines()]
    check_rows(items)
    assert [i["id"] for i in items] == ["keep-1", "feed:10", "43"]
    assert items[0]["fields"] == {"spans": "ignored"} and "fields" not in items[1]  # an input's "spans" comes back as it was
    err = result.stderr
    for number, message in [
        (2, 'empty "text"'),
        (3, "malformed JSON"),
        (4, 'no "text" field'),
        (6, "expected a JSON object, got list"),
        (7, '"text" must be a string'),
        (8, '"id" must be a string or an integer'),
        (9, "not valid UTF-8"),
        (11, 'empty "text"'),
    ]:
        assert f"{feed}, line {number}: {message}" in err
    assert "labelled 3 documents" in err and "skipped 8" in err
    again = predict(runner, smoke_model, feed)  # chunking does not change the output
    assert again.stdout == result.stdout


def test_nothing_labelled_exits_2(runner: CliRunner, smoke_model: Path, tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "empty.jsonl").write_bytes(b"\n\n")
    result = predict(runner, smoke_model, tmp_path / "empty.txt", tmp_path / "empty.jsonl", tmp_path / "missing.txt")
    assert result.exit_code == 2
    assert f"{tmp_path / 'empty.jsonl'}: the file is empty" in result.stderr
    assert f"{tmp_path / 'missing.txt'}: no such file or folder" in result.stderr
    assert "labelled 0 documents" in result.stderr and "nothing was labelled" in result.stderr


def test_a_missing_input_does_not_stop_the_others(runner: CliRunner, smoke_model: Path, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(EVENT, encoding="utf-8")
    result = predict(runner, smoke_model, tmp_path / "nope", tmp_path / "a.txt")
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 1
    assert "nope: no such file or folder" in result.stderr


def test_model_folder_errors_exit_1(runner: CliRunner, smoke_model: Path, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(EVENT, encoding="utf-8")
    missing = predict(runner, tmp_path / "no-model", tmp_path / "a.txt")
    assert missing.exit_code == 1 and "no-model does not exist" in missing.stderr
    partial = tmp_path / "partial"
    shutil.copytree(smoke_model, partial)
    (partial / "model.safetensors").unlink()
    result = predict(runner, partial, tmp_path / "a.txt")
    assert result.exit_code == 1
    assert "incomplete" in result.stderr and "model.safetensors" in result.stderr
    assert "Traceback" not in result.output


def test_standard_input(runner: CliRunner, smoke_model: Path) -> None:
    text = predict(runner, smoke_model, "-", input=("\r\n" + EVENT + "\r\n").encode())
    assert text.exit_code == 0, text.output
    [item] = [json.loads(line) for line in text.stdout.splitlines()]
    assert item["id"] == "stdin" and item["text"] == "\r\n" + EVENT + "\r\n"
    check_rows([item])
    feed = "\n" + json.dumps({"id": "s1", "text": EVENT}) + "\n" + json.dumps({"text": EVENT2}) + "\n"
    lines = predict(runner, smoke_model, "-", input=feed)
    assert [json.loads(line)["id"] for line in lines.stdout.splitlines()] == ["s1", "stdin:3"]


class Marks(HTMLParser):
    """Text inside ``div.text`` per article and, per (article, data-span), the marked text."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.marked: dict[tuple[int, int], str] = {}
        self.stack: list[dict] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "meta":
            return
        attrs = dict(attrs)
        if attrs.get("class") == "text":
            self.texts.append("")
        self.stack.append(attrs)

    def handle_endtag(self, tag: str) -> None:
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if any(a.get("class") == "text" for a in self.stack):
            self.texts[-1] += data
            for attrs in self.stack:
                if "data-span" in attrs:
                    key = (len(self.texts) - 1, int(attrs["data-span"]))
                    self.marked[key] = self.marked.get(key, "") + data


def test_html_and_conll_outputs(runner: CliRunner, smoke_model: Path, tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    texts = [EVENT, "<script>alert('x')</script> & " + EVENT2, TRICKY.removeprefix("\ufeff")]
    feed.write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(texts)), encoding="utf-8")
    assert predict(runner, smoke_model, feed, "-o", tmp_path / "out.jsonl").exit_code == 0
    items = rows(tmp_path / "out.jsonl")
    assert sum(len(i["spans"]) for i in items) >= 8

    page = tmp_path / "out.html"  # format from the suffix
    assert predict(runner, smoke_model, feed, "-o", page).exit_code == 0
    source = page.read_bytes().decode("utf-8")
    assert "<script>" not in source and "legend" in source
    parser = Marks()
    parser.feed(source)
    parser.close()
    assert parser.texts == [i["text"] for i in items]
    expected = {(d, k): span["text"] for d, item in enumerate(items) for k, span in enumerate(item["spans"])}
    assert parser.marked == expected

    conll = predict(runner, smoke_model, feed, "--format", "conll")
    assert conll.exit_code == 0
    blocks = conll.stdout.strip("\n").split("\n\n")
    assert len(blocks) == 3
    for block, item in zip(blocks, items):
        head, columns, *words = block.split("\n")
        assert head == f"# id = {item['id']}" and columns.startswith("# columns = word start end ")
        begins = 0
        for line in words:
            word, start, end, *tags = line.split("\t")
            assert item["text"][int(start) : int(end)] == word
            begins += sum(tag.startswith("B-") for tag in tags)
        assert begins == len(item["spans"])


def test_quantize_and_option_errors(runner: CliRunner, smoke_model: Path, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(EVENT, encoding="utf-8")
    result = runner.invoke(app, ["predict", str(smoke_model), str(tmp_path / "a.txt"), "--quantize", "--no-progress"])
    assert result.exit_code == 0, result.output
    check_rows([json.loads(line) for line in result.stdout.splitlines()])
    clash = runner.invoke(app, ["predict", str(smoke_model), str(tmp_path / "a.txt"), "--quantize", "--precision", "bf16"])
    assert clash.exit_code == 1 and "--quantize" in clash.stderr
    bad = predict(runner, smoke_model, tmp_path / "a.txt", "--format", "xml")
    assert bad.exit_code == 1 and "jsonl, csv, conll, html, text" in bad.stderr


def test_twenty_thousand_word_article_is_labelled_to_its_end(runner: CliRunner, smoke_model: Path, tmp_path: Path) -> None:
    article = tmp_path / "long.txt"
    text = "\n".join(["The weather was mild."] * 5000) + "\n" + EVENT
    article.write_text(text, encoding="utf-8", newline="")
    result = predict(runner, smoke_model, article)
    assert result.exit_code == 0, result.output
    [item] = [json.loads(line) for line in result.stdout.splitlines()]
    assert item["text"] == text
    check_rows([item])
    tail = len(text) - len(EVENT)
    assert any(s["text"] == "Oslen" and s["role"] == "location" and s["start"] > tail for s in item["spans"])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_processes_write_what_one_writes(runner: CliRunner, smoke_model: Path, tmp_path: Path) -> None:
    """Two CPU processes under ``accelerate launch``, each labelling every other input."""
    pytest.importorskip("accelerate")
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(5):
        (folder / f"{i}.txt").write_text(f"Item {i}. " + (EVENT if i % 2 else EVENT2), encoding="utf-8")
    (folder / "5-empty.txt").write_bytes(b"")
    (folder / "6.jsonl").write_text(
        "".join(json.dumps({"id": f"j{i}", "text": EVENT2 + " " * i, "url": f"u{i}"}) + "\n" for i in range(4)) + "oops\n",
        encoding="utf-8",
    )
    one = tmp_path / "one.jsonl"
    assert predict(runner, smoke_model, folder, "-o", one).exit_code == 0
    two = tmp_path / "two.jsonl"
    # accelerate's `--cpu --num_processes 2` starts one process unless given an MPI hostfile;
    # `--multi_gpu` with `--device cpu` starts two processes that talk over gloo on the CPU.
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_port", str(free_port()), "-m", "eventroles.cli", "predict", str(smoke_model), str(folder),
        "-o", str(two), "--device", "cpu", "--precision", "fp32", "--no-progress",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "(in 2 processes)" in done.stderr
    assert "6.jsonl, line 5: malformed JSON" in done.stderr and "5-empty.txt: the file is empty" in done.stderr
    assert two.read_text(encoding="utf-8") == one.read_text(encoding="utf-8")
    assert len(rows(two)) == 9
    assert [r["fields"] for r in rows(two) if "fields" in r] == [{"url": f"u{i}"} for i in range(4)]
    assert not list(tmp_path.glob(".two.jsonl.part-*"))  # part files cleaned up


def test_an_article_given_where_the_model_goes_says_the_order(runner: CliRunner, smoke_model: Path, tmp_path: Path) -> None:
    article = tmp_path / "a1.txt"
    article.write_text(EVENT, encoding="utf-8")
    result = runner.invoke(app, ["predict", str(article), str(smoke_model)])
    assert result.exit_code == 1
    assert "is a file, not a model folder (the model folder comes first: eventroles predict MODEL ARTICLES" in result.output


def _lock_folders_named(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Folders called ``name`` fail to list, as without read permission (the tests may run as root)."""
    real_scandir = os.scandir

    def scandir(path=".", *args):
        if os.fspath(path).endswith(name):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path, *args)

    monkeypatch.setattr(os, "scandir", scandir)


def test_archive_oddities_are_labelled_or_counted_never_fatal_or_silent(
    runner: CliRunner, smoke_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    folder = tmp_path / "archive"
    (folder / "locked").mkdir(parents=True)
    (folder / "locked" / "c.txt").write_text(EVENT, encoding="utf-8")
    (folder / "a.txt").write_text(EVENT, encoding="utf-8")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "d.txt").write_text(EVENT2, encoding="utf-8")
    (folder / "linked").symlink_to(tmp_path / "elsewhere")
    (folder / os.fsdecode(b"caf\xe9.txt")).write_text(EVENT2, encoding="utf-8")  # a Latin-1 file name crashed the run
    lines = [{"id": "ok1", "text": EVENT}, None, {"id": "bad\udc80", "text": EVENT}, {"id": "ok4", "text": EVENT2}]
    (folder / "feed.jsonl").write_bytes(b"".join(
        b'{"id": "nul", "text": "a\x00b"}\n' if line is None else json.dumps(line).encode() + b"\n" for line in lines))
    _lock_folders_named("locked", monkeypatch)
    result = predict(runner, smoke_model, folder)
    assert result.exit_code == 0, result.output
    ids = [json.loads(line)["id"] for line in result.stdout.splitlines()]
    assert ids == [str(folder / "a.txt"), str(folder / "caf\\xe9.txt"), "ok1", "ok4"]  # every line after the NUL too
    err = result.stderr
    assert f"{folder / 'locked'}: a folder that cannot be read: Permission denied" in err  # was dropped silently
    assert f"{folder / 'linked'}: a symbolic link to a folder, not followed" in err
    assert "feed.jsonl, line 3: \"id\" holds an unpaired surrogate" in err
    summary = err.strip().splitlines()[-1]
    assert summary.startswith("labelled 4 documents") and "skipped 4" in summary
    assert "cannot be read 1" in summary and "linked folder not followed 1" in summary and "line with NUL bytes 1" in summary


def test_an_output_is_replaced_only_by_a_finished_run(
    runner: CliRunner, smoke_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eventroles.models.inference import Tagger

    out = tmp_path / "labelled.jsonl"
    out.write_text("the earlier run's results\n", encoding="utf-8")
    typo = predict(runner, smoke_model, tmp_path / "archvie", "-o", out)  # it emptied the earlier output
    assert typo.exit_code == 2 and out.read_text(encoding="utf-8") == "the earlier run's results\n"
    assert "not written (nothing was labelled): the file there is unchanged" in typo.stderr
    articles = tmp_path / "feed.jsonl"
    articles.write_text("".join(json.dumps({"id": f"d{i}", "text": EVENT}) + "\n" for i in range(5)), encoding="utf-8")
    calls = {"n": 0}
    original = Tagger.predict_documents

    def interrupted(self, docs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self, docs)

    monkeypatch.setattr(Tagger, "predict_documents", interrupted)
    result = predict(runner, smoke_model, articles, "-o", out, "--chunk-size", "1")
    assert result.exit_code == 130
    assert f"interrupted after 2 labelled document(s): they are in {out}.partial, and {out} is unchanged" in result.stderr
    assert out.read_text(encoding="utf-8") == "the earlier run's results\n"  # a cut file looked complete
    assert len(rows(Path(f"{out}.partial"))) == 2
    monkeypatch.setattr(Tagger, "predict_documents", original)
    done = predict(runner, smoke_model, articles, "-o", out)
    assert done.exit_code == 0 and len(rows(out)) == 5 and not Path(f"{out}.partial").exists()
    folder_out = predict(runner, smoke_model, articles, "-o", tmp_path)
    assert folder_out.exit_code == 1 and "is a folder; give a file name" in folder_out.output


def test_an_output_name_and_format_that_disagree_are_refused(runner: CliRunner, smoke_model: Path, tmp_path: Path) -> None:
    article = tmp_path / "a.txt"
    article.write_text(EVENT, encoding="utf-8")
    mismatch = predict(runner, smoke_model, article, "-o", tmp_path / "h.jsonl", "--format", "html")
    assert mismatch.exit_code == 1 and "--format html does not match -o" in mismatch.output  # a page in a .jsonl
    unknown = predict(runner, smoke_model, article, "-o", tmp_path / "x.tsv")
    assert unknown.exit_code == 1 and "no format is written as .tsv" in unknown.output  # JSON lines in a .tsv
    assert not (tmp_path / "h.jsonl").exists() and not (tmp_path / "x.tsv").exists()
    named = predict(runner, smoke_model, article, "-o", tmp_path / "x.out", "--format", "conll")
    assert named.exit_code == 0 and (tmp_path / "x.out").read_text(encoding="utf-8").startswith("# id =")


def test_a_link_or_device_is_written_in_place_and_a_replaced_file_keeps_its_mode(
    runner: CliRunner, smoke_model: Path, tmp_path: Path
) -> None:
    article = tmp_path / "a.txt"
    article.write_text(EVENT, encoding="utf-8")
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "target.jsonl"
    target.write_text("old\n", encoding="utf-8")
    link = tmp_path / "latest.jsonl"
    link.symlink_to(target)
    result = predict(runner, smoke_model, article, "-o", link)
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and rows(target)[0]["text"] == EVENT  # the link was replaced by a file, the target kept "old"
    assert predict(runner, smoke_model, article, "-o", "/dev/null").exit_code == 0  # a device is not renamed over
    target.chmod(0o640)
    assert predict(runner, smoke_model, article, "-o", target).exit_code == 0
    assert target.stat().st_mode & 0o777 == 0o640 and rows(target)[0]["text"] == EVENT


def test_a_file_reached_through_links_is_labelled_once(runner: CliRunner, smoke_model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    (folder / "2024").mkdir(parents=True)
    (folder / "2024" / "a.txt").write_text(EVENT, encoding="utf-8")
    (folder / "latest.txt").symlink_to(folder / "2024" / "a.txt")  # a "latest" link beside the dated files
    (tmp_path / "elsewhere.txt").write_text(EVENT2, encoding="utf-8")
    (folder / "again.txt").symlink_to(tmp_path / "elsewhere.txt")  # two links to one file outside: read once
    (folder / "outside.txt").symlink_to(tmp_path / "elsewhere.txt")
    (folder / "zchain.txt").symlink_to(folder / "outside.txt")  # a link to a link to it
    (folder / ".hidden").mkdir()
    (folder / ".hidden" / "h.txt").write_text(EVENT2 + " Again.", encoding="utf-8")
    (folder / "shown.txt").symlink_to(folder / ".hidden" / "h.txt")  # the walk does not read its target: the link is
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["predict", str(smoke_model), str(folder), "-o", str(out)])
    assert result.exit_code == 0, result.output
    ids = [row["id"] for row in map(json.loads, out.read_text(encoding="utf-8").splitlines())]
    assert sorted(ids) == sorted(str(folder / name) for name in ("2024/a.txt", "again.txt", "shown.txt"))
    assert "skipped 0; hidden files or folders not read: 1; links to an article labelled under its own name, not again: 3" in result.output


def test_a_link_into_a_folder_the_walk_cannot_list_is_read_through_the_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eventroles.models.sources import BadInput, TextInput, iter_inputs

    folder = tmp_path / "archive"
    (folder / "locked").mkdir(parents=True)
    (folder / "locked" / "a.txt").write_text(EVENT, encoding="utf-8")
    (folder / "latest.txt").symlink_to(folder / "locked" / "a.txt")
    _lock_folders_named("locked", monkeypatch)
    items = list(iter_inputs([folder]))
    assert [item.id for item in items if isinstance(item, TextInput)] == [str(folder / "latest.txt")]  # once, not never
    assert [item.kind for item in items if isinstance(item, BadInput)] == ["unreadable"]


def test_bf16_asked_for_on_a_cpu_without_bf16_units_is_warned_of(
    runner: CliRunner, smoke_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Emulated bf16 labelled 94 articles in 38 s against fp32's 12 s on such a CPU: say so.
    import torch

    from eventroles.models import precision

    article = tmp_path / "a.txt"
    article.write_text(EVENT, encoding="utf-8")
    monkeypatch.setattr(precision, "cpu_has_bf16_units", lambda: False)
    result = runner.invoke(app, ["predict", str(smoke_model), str(article), "--precision", "bf16", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "warning: this CPU has no bf16 units" in result.output
    assert precision.emulated_precision_note("fp32", torch.device("cpu")) is None
    monkeypatch.setattr(precision, "cpu_has_bf16_units", lambda: True)
    assert precision.emulated_precision_note("bf16", torch.device("cpu")) is None
    result = runner.invoke(app, ["predict", str(smoke_model), str(article), "--precision", "bf16", "--device", "cpu"])
    assert result.exit_code == 0 and "bf16 units" not in result.output


def test_csv_from_the_suffix_one_row_per_span_with_its_source(runner: CliRunner, smoke_model: Path, tmp_path: Path) -> None:
    import csv

    article = tmp_path / "article.txt"
    article.write_bytes(TRICKY.encode("utf-8"))
    out = tmp_path / "spans.csv"
    assert predict(runner, smoke_model, article, "-o", out).exit_code == 0
    table = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    [item] = rows(_jsonl(runner, smoke_model, article, tmp_path))
    assert [(int(r["start"]), int(r["end"]), r["role"], r["text"]) for r in table] == \
        [(s["start"], s["end"], s["role"], s["text"]) for s in item["spans"]]
    assert {r["source"] for r in table} == {item["source"]} and str(article) in item["source"]


def test_a_jsonl_inputs_other_fields_come_back_with_its_spans(runner: CliRunner, smoke_model: Path, tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    inputs = [{"url": "https://example.org/1", "id": "a", "text": EVENT, "date": "1998-03-03", "tags": ["x", {"y": None}]},
              {"text": EVENT2}]
    feed.write_text("".join(json.dumps(item) + "\n" for item in inputs), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert predict(runner, smoke_model, feed, "-o", out).exit_code == 0
    first, second = rows(out)
    assert first["fields"] == {"url": "https://example.org/1", "date": "1998-03-03", "tags": ["x", {"y": None}]}
    assert list(first["fields"]) == ["url", "date", "tags"]  # in the input's order
    assert (first["id"], first["text"]) == ("a", EVENT) and "fields" not in second
    table = tmp_path / "out.csv"
    assert predict(runner, smoke_model, feed, "-o", table).exit_code == 0
    import csv

    cells: dict[str, set[str]] = {}
    for row in csv.DictReader(table.open(encoding="utf-8", newline="")):
        cells.setdefault(row["id"], set()).add(row["fields"])  # every row of a document, span or not
    assert {doc_id: [json.loads(f) if f else None for f in found] for doc_id, found in cells.items()} == \
        {"a": [first["fields"]], second["id"]: [None]}


def _jsonl(runner: CliRunner, model: Path, article: Path, tmp_path: Path) -> Path:
    out = tmp_path / "spans.jsonl"
    assert predict(runner, model, article, "-o", out).exit_code == 0
    return out
