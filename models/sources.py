"""Where the articles to label come from: .txt files, folders, JSON lines, standard input.

``iter_inputs`` streams one item per document, in a deterministic order: a ``TextInput`` to
label, or a ``BadInput`` that names the file (and line) at fault and says why, so that a batch
can report and count its bad inputs and still label the good ones. Nothing is read before it
is needed, so a JSON-lines file larger than memory streams through.

Rules:
- a ``.txt`` file (or a file named on the command line whose suffix is not ``.jsonl``/``.ndjson``
  nor one of ``NOT_ARTICLE_SUFFIXES``: ``.json``, ``.csv``, ``.html``, ...) is one document
  whose id is its path; it is decoded as strict UTF-8 with line endings kept (CRLF stays CRLF),
  a leading byte-order mark is dropped (offsets index the text without it);
- a ``.jsonl``/``.ndjson`` file holds one JSON object per line with a string ``text`` and an
  optional ``id`` (string or integer, kept; default ``<file stem>:<line>``); its other fields (a
  URL, a date, an outlet) are kept as they are in ``fields``, for the output to carry back; blank
  lines are skipped;
- a folder is walked recursively in sorted order: its ``.txt``, ``.jsonl`` and ``.ndjson``
  files are read as above, any other file is reported as ``unsupported``; hidden files and
  folders (names starting with ".") are not read, and reported as ``hidden`` (one per file or
  folder) so that the summary can count them; a symbolic link to a folder inside it is not
  followed (a link to a parent would loop), a file reached twice (a symbolic link to a file the
  walk also reads, two links to one file) is read once, under its own name where the walk reads
  it, and a sub-folder that cannot be listed is not read:
  each is reported; a file name that is not UTF-8 is shown (and used as the id) with backslash
  escapes;
- ``-`` is standard input: JSON lines when its first non-blank character is ``{``, else one
  plain-text document with id ``stdin``.
Bad: a missing or unreadable path, an empty file, a binary file (NUL bytes; in a JSON-lines file
only the line that holds them, unless it is the first), text that is not UTF-8, a malformed JSON
line, a line without a string ``text``, an empty (whitespace-only) text, an id that is not valid
Unicode.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Collection, Iterable, Iterator, Mapping

from eventroles.data.document import unpaired_surrogate
from eventroles.data.readers.jsonl import JSONL_SUFFIXES

TEXT_SUFFIXES = (".txt",)
STDIN = "-"
# Files that hold articles in a structure (or a binary format), not as plain text: named on the
# command line they are refused with a hint instead of being labelled as one raw "article".
NOT_ARTICLE_SUFFIXES = {
    ".json": "a .json file is not read (a JSON array, say): write one JSON object per line as .jsonl, "
    "e.g. jq -c '.[]' FILE.json > FILE.jsonl",
    ".csv": "a .csv file is not read: write one JSON object per line with a \"text\" field (.jsonl)",
    ".tsv": "a .tsv file is not read: write one JSON object per line with a \"text\" field (.jsonl)",
    ".xml": "an .xml file is not read: extract the article text into .txt or .jsonl",
    ".html": "an .html file is not read (its markup would be labelled): extract the text into .txt or .jsonl",
    ".htm": "an .htm file is not read (its markup would be labelled): extract the text into .txt or .jsonl",
    ".pdf": "a .pdf file is not read: extract the text into .txt or .jsonl",
    ".docx": "a .docx file is not read: save it as plain text (.txt)",
    ".doc": "a .doc file is not read: save it as plain text (.txt)",
    ".gz": "a compressed file is not read: decompress it first",
    ".zip": "a .zip archive is not read: unpack it and name the folder",
}

# Short names of the problems, with the phrase the summary line uses for each.
KINDS = {
    "not_found": "missing path",
    "unreadable": "cannot be read",
    "linked_folder": "linked folder not followed",
    "linked_file": "link to an article labelled under another name",
    "empty_file": "empty file",
    "binary": "binary file",
    "nul_line": "line with NUL bytes",
    "not_utf8": "not UTF-8",
    "malformed_json": "malformed JSON line",
    "not_object": "JSON line not an object",
    "no_text": "no text field",
    "bad_id": "bad id",
    "empty_text": "empty text",
    "unsupported": "not .txt or .jsonl",
    "hidden": "hidden file or folder",
}


@dataclass(frozen=True)
class TextInput:
    """One document to label; ``where`` names its file (and line) for messages; ``fields`` are a
    JSON line's fields other than ``id`` and ``text``, in their order, so nothing the user put
    beside the article is lost on the way to the output."""

    id: str
    text: str
    where: str
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BadInput:
    """An input that cannot be labelled: where it is, a short ``kind`` and a message."""

    where: str
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


Input = TextInput | BadInput


def iter_inputs(
    inputs: Iterable[str | Path], stdin: BinaryIO | None = None, exclude: Collection[Path] = ()
) -> Iterator[Input]:
    """Every document (or problem) of ``inputs`` in order; ``exclude`` are resolved paths to
    pass over in folders (the output file being written, say)."""
    for given in inputs:
        if str(given) == STDIN:
            if stdin is None:
                yield BadInput("<stdin>", "not_found", "standard input is not available")
            else:
                yield from read_stream(stdin, "<stdin>", "stdin")
            continue
        path = Path(given)
        if path.is_dir():
            yield from read_folder(path, exclude)
        elif path.is_file():
            yield from read_file(path)
        elif os.path.lexists(path):  # a link to nowhere, a link loop
            yield BadInput(shown(path), "unreadable", "cannot be read: a broken or looping symbolic link")
        else:
            yield BadInput(shown(path), "not_found", "no such file or folder")


def shown(path: Path | str) -> str:
    """A path as printable text: a file name that is not UTF-8 (Python keeps its bytes as lone
    surrogates) gets backslash escapes, so ids and messages can be written."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def read_folder(folder: Path, exclude: Collection[Path] = ()) -> Iterator[Input]:
    unreadable: list[OSError] = []
    read: dict[Path, Path] = {}  # resolved file -> the path it was labelled under
    links: list[tuple[Path, Path]] = []  # links to files inside the folder: labelled last, if still unread
    top = _resolved(folder)
    for root, dirs, files in os.walk(folder, onerror=unreadable.append):
        yield from _unlisted(unreadable, root)  # a sub-folder os.walk could not list: said, not passed over
        for name in sorted(d for d in dirs if d.startswith(".")):
            yield BadInput(shown(Path(root) / name), "hidden", "a hidden folder, not read")
        linked = sorted(d for d in dirs if not d.startswith(".") and (Path(root) / d).is_symlink())
        for name in linked:  # os.walk does not follow them (a link to a parent would loop)
            yield BadInput(shown(Path(root) / name), "linked_folder",
                           "a symbolic link to a folder, not followed: name it on the command line to label it")
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in linked)
        for name in sorted(files):
            path = Path(root) / name
            target = _resolved(path)  # None for a broken or looping link
            if exclude and (target or path.resolve()) in exclude:
                continue
            if name.startswith("."):
                yield BadInput(shown(path), "hidden", "a hidden file, not read")
            elif path.suffix.lower() not in TEXT_SUFFIXES + JSONL_SUFFIXES:
                yield BadInput(shown(path), "unsupported", "not a .txt or .jsonl file")
            elif target is not None and top is not None and path.is_symlink() and target.is_relative_to(top):
                links.append((path, target))  # its target is probably walked too: labelled under its own name
            else:
                yield from _read_once(path, target, read)
    yield from _unlisted(unreadable, folder)  # the folder itself
    for path, target in links:  # a target the walk did not read (hidden, unlisted, another suffix): read here
        yield from _read_once(path, target, read)


def _resolved(path: Path) -> Path | None:
    try:
        return path.resolve(strict=True)
    except (OSError, RuntimeError):  # a broken or looping link: read_file reports it
        return None


def _read_once(path: Path, target: Path | None, read: dict[Path, Path]) -> Iterator[Input]:
    """``path`` read, unless the file it leads to was already read under another name (links)."""
    if target is not None and target in read:
        yield BadInput(shown(path), "linked_file", f"a symbolic link to {shown(read[target])}, which is labelled once, under that name")
        return
    if target is not None:
        read[target] = path
    yield from read_file(path)


def _unlisted(errors: list[OSError], where: Path | str) -> Iterator[Input]:
    """The folders ``os.walk`` reported it could not list (emptying ``errors``)."""
    while errors:
        error = errors.pop(0)
        yield BadInput(shown(error.filename or where), "unreadable", f"a folder that cannot be read: {error.strerror or error}")


def read_file(path: Path) -> Iterator[Input]:
    """A file named on the command line (or found in a folder with a readable suffix)."""
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        yield from read_jsonl(path)
    elif suffix in NOT_ARTICLE_SUFFIXES:
        yield BadInput(shown(path), "unsupported", NOT_ARTICLE_SUFFIXES[suffix])
    else:
        yield read_text(path)


def read_text(path: Path) -> Input:
    """A whole file as one document."""
    try:
        data = path.read_bytes()
    except OSError as error:
        return BadInput(shown(path), _os_kind(error), f"cannot be read: {error.strerror or error}")
    return text_input(data, shown(path), shown(path))


def _os_kind(error: OSError) -> str:
    return "not_found" if isinstance(error, FileNotFoundError) else "unreadable"


def text_input(data: bytes, where: str, doc_id: str) -> Input:
    if not data.strip():
        return BadInput(where, "empty_file", "the file is empty" if not data else "the file holds only whitespace")
    if b"\x00" in data:
        return BadInput(where, "binary", "a binary file (it holds NUL bytes), not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        return BadInput(where, "not_utf8", f"not valid UTF-8 text (byte {error.start})")
    text = text.removeprefix("\ufeff")
    if not text.strip():
        return BadInput(where, "empty_file", "the file holds only whitespace")
    return TextInput(doc_id, text, where)


def read_jsonl(path: Path) -> Iterator[Input]:
    try:
        handle = path.open("rb")
    except OSError as error:
        yield BadInput(shown(path), _os_kind(error), f"cannot be read: {error.strerror or error}")
        return
    with handle:
        yield from jsonl_lines(handle, shown(path), shown(path.stem))


def read_stream(stream: BinaryIO, where: str, doc_id: str) -> Iterator[Input]:
    """Standard input: JSON lines when it starts with ``{``, else one text document."""
    head: list[bytes] = []
    for raw in iter(stream.readline, b""):
        head.append(raw)
        if raw.strip():
            break
    first = b"".join(head).lstrip().removeprefix(b"\xef\xbb\xbf").lstrip()
    if first.startswith(b"{"):
        yield from jsonl_lines(_chain(head, stream), where, doc_id)
    else:
        yield text_input(b"".join(head) + stream.read(), where, doc_id)


def _chain(head: list[bytes], stream: BinaryIO) -> Iterator[bytes]:
    yield from head
    yield from iter(stream.readline, b"")


def jsonl_lines(lines: Iterable[bytes], where: str, stem: str) -> Iterator[Input]:
    """One item per non-blank line; the whole source is bad when empty or binary."""
    any_line = False
    for number, raw in enumerate(lines, start=1):
        at = f"{where}, line {number}"
        if b"\x00" in raw:
            if not any_line:  # from the start: a binary file, not JSON lines
                yield BadInput(at, "binary", "binary data (NUL bytes), not JSON lines; the rest of the file is skipped")
                return
            yield BadInput(at, "nul_line", "NUL bytes in the line, not JSON; the line is skipped")
            any_line = True
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            any_line = True
            yield BadInput(at, "not_utf8", f"not valid UTF-8 (byte {error.start} of the line)")
            continue
        if number == 1:
            line = line.removeprefix("\ufeff")
        if not line.strip():
            continue
        any_line = True
        yield json_input(line, at, f"{stem}:{number}")
    if not any_line:
        yield BadInput(where, "empty_file", "the file is empty")


def json_input(line: str, where: str, default_id: str) -> Input:
    try:
        obj = json.loads(line.rstrip("\r\n"))  # without the newline the column is the line's own
    except json.JSONDecodeError as error:
        return BadInput(where, "malformed_json", f"malformed JSON: {error.msg} (column {error.colno})")
    if not isinstance(obj, dict):
        return BadInput(where, "not_object", f"expected a JSON object, got {type(obj).__name__}")
    if "text" not in obj:
        return BadInput(where, "no_text", 'no "text" field')
    text = obj["text"]
    if not isinstance(text, str):
        return BadInput(where, "no_text", f'"text" must be a string, not {type(text).__name__}')
    if not text.strip():
        return BadInput(where, "empty_text", 'empty "text"')
    surrogate = unpaired_surrogate(text)
    if surrogate is not None:
        return BadInput(where, "not_utf8", f'"text" holds an unpaired surrogate escape at character {surrogate}')
    doc_id = obj.get("id", default_id)
    if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)):
        return BadInput(where, "bad_id", f'"id" must be a string or an integer, not {type(doc_id).__name__}')
    if isinstance(doc_id, str) and unpaired_surrogate(doc_id) is not None:
        return BadInput(where, "bad_id", '"id" holds an unpaired surrogate escape (not valid Unicode)')
    fields = {key: value for key, value in obj.items() if key not in ("id", "text")}
    return TextInput(str(doc_id), text, where, fields)
