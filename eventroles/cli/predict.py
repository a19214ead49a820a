"""``eventroles predict MODEL INPUT...``: label articles with a trained model, streaming.

Inputs are read one document at a time (``models/sources.py``), labelled in chunks with
``Tagger.pipe`` and written as they come (``models/writers.py``). Bad inputs are reported on
standard error and counted in the closing summary line; the good ones are still labelled.

Exit codes: 0 when at least one document was labelled (even if others were skipped), 2 when
nothing was (every input bad, or no input found), 1 for a user error that stops the run
before labelling (model folder missing or incomplete, bad option, unwritable output).

Several processes: under ``accelerate launch`` (or ``torchrun``) process i of N labels inputs
i, i+N, ... into a part file beside OUT, and after ``wait_for_everyone()`` the main process
merges the parts in input order into OUT. A single run needs no launcher.
"""

from __future__ import annotations

import datetime
import heapq
import json
import os
import sys
from collections import Counter, deque
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, TextIO

import typer

from ._util import UserError, check_output_path, echo, register_user_error, user_errors

HELP = """Label articles with a trained model: spans of attacker, target, location, time (+ weapon).

INPUT is a .txt file (one article), a .jsonl file (one JSON object per line with a "text" field and an optional "id", kept; its other fields, a URL or a date, come back in the jsonl output's "fields"), a folder (its .txt and .jsonl files, recursively), or - for standard input (JSON lines if it starts with "{", else one article).

Output goes to standard output unless -o is given; --format defaults to the -o suffix (.jsonl, .csv, .html, .conll, .txt for the text table; another suffix needs --format, and --format must agree with a known one), else jsonl. -o OUT (a plain file) is written as OUT.partial and renamed to OUT when the run ends: Ctrl-C, or a run that labels nothing, leaves an earlier OUT as it was; a link, a device or a pipe is written in place. -o may not be one of the inputs, nor a .txt or .jsonl file inside an input folder (an existing one would be replaced, a new one read as articles by the next run):

  jsonl: one {"id", "text", "spans": [{"start", "end", "role", "text", "score", "entity"}], "roles", "source"} per line (plus "label" for models trained on native labels; mentions of one entity in a document share "entity"; "roles": the roles the model outputs; "source": the file, and line, it was read from; "fields": a JSON-lines input's other fields, as they were), the format `eventroles evaluate --predictions` reads; each span's text is the document text between start and end.

  csv: one row per span: id, source, start, end, role, label, text, score, entity, fields (a JSON-lines input's other fields as one JSON object; a document without spans: one row, span columns empty), for a spreadsheet or pandas.

  conll: per document "# id = ...", "# fields = {...}" (a JSON-lines input's other fields, when it had any) and "# columns = ..." lines (control characters in them written as \\uXXXX, which the fields line's JSON reads back), then one line per word: word, start, end and one BIO column per tag head (B-attacker, I-attacker, O, ...); a blank line ends a document.

  html: one self-contained page, roles highlighted in colour, with a legend; a JSON-lines input's other fields are listed, as text, under each article's id.

  text: for reading in a terminal: per document, a fields line (a JSON-lines input's other fields, when it had any), then one line per span with role, score, offsets and text; control characters (ESC sequences, bidi overrides) are shown as \\uXXXX escapes, the offsets are the text's own.

Bad inputs (missing or unreadable, empty, binary, not UTF-8, malformed JSON line, no or empty "text", a .json, .csv, .html or other structured file; a folder that cannot be listed; a symbolic link to a folder inside a folder, not followed) are reported on standard error and counted in the closing summary; the others are still labelled. Hidden files and folders (names starting with ".") are not read, and counted. A document whose id repeats an earlier one's is labelled and written, and reported (ids must be unique for `eventroles evaluate --predictions`; a .jsonl line without "id" gets FILE-STEM:LINE, so two feed.jsonl files in different folders collide). Offsets index the text as written to the output (a leading byte-order mark is dropped). Exit code 0 when anything was labelled, 2 when nothing was, 1 when the model folder is missing or incomplete (or another error stops the run).

Examples:

  eventroles predict runs/muc4 news/ -o labelled.jsonl

  cat feed.jsonl | eventroles predict runs/muc4 - -o feed.html

  accelerate launch --multi_gpu --num_processes 2 -m eventroles.cli predict runs/muc4 archive.jsonl -o out.jsonl

With several processes (accelerate launch or torchrun) each labels every N-th input and the main process merges the results in input order; -o is then required. On a machine without GPUs add --device cpu and use `accelerate launch --multi_gpu --num_processes N` (or torchrun): accelerate's own `--cpu --num_processes N` starts a single process unless given an MPI hostfile.
"""

FORMAT_HELP = "Output format: jsonl, csv, conll, html or text (a readable table; default: from the -o suffix, else jsonl)."
CHUNK_SIZE = 64
MAX_UNSUPPORTED_SHOWN = 5


def register(app: typer.Typer) -> None:
    app.command("predict", help=HELP)(predict)


def predict(
    model: Path = typer.Argument(
        ..., metavar="MODEL", help="A trained model folder (written by `eventroles train`).", show_default=False
    ),
    inputs: list[str] = typer.Argument(
        ..., metavar="INPUT", help="Files (.txt, .jsonl), folders, or - for standard input.", show_default=False
    ),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to FILE instead of standard output."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", help=FORMAT_HELP, show_default=False),
    device: str = typer.Option("auto", "--device", help="cpu, cuda, cuda:1, mps, or auto (a CUDA GPU when there is one, else the CPU)."),
    precision: str = typer.Option(
        "auto", "--precision", help="auto, fp32, bf16, fp16 or int8 (int8: dynamic quantisation, CPU only; about 1.3x fp32 on a CPU without bf16 units, at about 4 F1 points: docs/benchmarks.md)."
    ),
    quantize: bool = typer.Option(False, "--quantize", help="Same as --precision int8."),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="Windows per forward pass, at most (on a CPU a pass is also capped at 2,048 subwords: 8 full windows)."),
    chunk_size: int = typer.Option(CHUNK_SIZE, "--chunk-size", min=1, help="Documents read and labelled at a time."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar on standard error."),
) -> None:
    from eventroles.models.precision import emulated_precision_note
    from eventroles.models.storage import ModelFolderError

    register_user_error(ModelFolderError)
    with user_errors():
        fmt = _output_format(fmt, output)
        if output is not None and str(output) != "-":
            check_output_path(output, "-o")  # before the model loads, and before several processes label everything
            _refuse_output_among_inputs(output, inputs)
        if quantize:
            if precision not in ("auto", "int8"):
                raise UserError(f"--quantize means --precision int8; it cannot go with --precision {precision}")
            precision = "int8"
        world, rank, state = _distributed(device)
        if world > 1:
            if output is None or str(output) == "-":
                raise UserError("with several processes, give -o OUT: each process writes a part file beside it")
            if "-" in inputs:
                raise UserError("standard input (-) cannot be shared between several processes; give files")
            device = str(state.device) if state.device.type != "cpu" else "cpu"
        tagger = _load_tagger(model, device, precision, batch_size)
        if rank == 0:
            why = ""
            if precision == "auto":
                why = " (auto: bf16 where the hardware has bf16 units, else fp32 on a CPU, fp16 on a GPU; --precision overrides)"
            echo(f"labelling on {tagger.device} in {tagger.precision}{why}", err=True)
            note = emulated_precision_note(tagger.precision, tagger.device)
            if note:
                echo(note, err=True)
        exclude = ({output.resolve(), partial_path(output).resolve(), *(_part_path(output, r, world).resolve() for r in range(world))}
                   if output else set())
        stdin = sys.stdin.buffer if "-" in inputs else None
        items = _share(_iter_inputs(inputs, stdin, exclude), world, rank)
        records = _label(tagger, items, chunk_size)
        bar = _progress_bar(progress and rank == 0, world)
        if world == 1:
            summary = _write_all(_counted(records, bar), tagger, fmt, output, model)
        else:
            summary = _run_shard(_counted(records, bar), tagger, fmt, output, model, state, world, rank)
        bar.close()
        if summary is None:
            return
        labelled, spans, counts = summary
        echo(_summary_line(labelled, spans, counts, world), err=True)
        if labelled == 0:
            raise typer.Exit(2)


# -- setup ------------------------------------------------------------------------------------
def _output_format(fmt: str | None, output: Path | None) -> str:
    from eventroles.models.writers import FORMATS, SUFFIX_FORMATS

    suffix = output.suffix.lower() if output is not None and str(output) != "-" else ""
    named = ", ".join(sorted(SUFFIX_FORMATS))
    if fmt is None:
        if suffix and suffix not in SUFFIX_FORMATS:  # JSON lines went into out.csv / out.json without a word
            raise UserError(f"-o {output}: no format is written as {suffix}; name the file {named}, or give --format")
        return SUFFIX_FORMATS.get(suffix, "jsonl")
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt}: choose one of {', '.join(FORMATS)}")
    if suffix in SUFFIX_FORMATS and SUFFIX_FORMATS[suffix] != fmt:
        raise UserError(f"--format {fmt} does not match -o {output} (a {suffix} file holds {SUFFIX_FORMATS[suffix]}): "
                        "change one of them")
    return fmt


def _refuse_output_among_inputs(output: Path, inputs: list[str]) -> None:
    """The output must not be one of the inputs (it would replace it), nor a file the next run
    over an input folder would read as articles."""
    from eventroles.models.sources import JSONL_SUFFIXES, STDIN, TEXT_SUFFIXES

    target = output.resolve()
    for given in inputs:
        if given == STDIN:
            continue
        path = Path(given).resolve()
        if path.is_file() and path == target:
            raise UserError(
                f"-o {output} is also an input ({given}): the labelled output would replace it; "
                "write the output to another file"
            )
        readable = target.suffix.lower() in TEXT_SUFFIXES + JSONL_SUFFIXES and not target.name.startswith(".")
        if path.is_dir() and target.is_relative_to(path) and readable:
            if target.is_file():
                raise UserError(
                    f"-o {output} already exists inside the input folder {given}, where it is read as an article "
                    "file: the labelled output would replace it. Write the output outside the input folder "
                    "(or delete the file first if it is the output of an earlier run)"
                )
            raise UserError(
                f"-o {output} is inside the input folder {given}: the next run over that folder would read the "
                "labelled output as articles. Write it outside the input folder (or as .html, which is never read)"
            )


def _distributed(device: str) -> tuple[int, int, Any]:
    """``(world size, rank, PartialState)``; accelerate is touched only under a launcher."""
    world = max(_env_int(k) for k in ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"))
    if world <= 1:
        return 1, 0, None
    import torch
    from accelerate import PartialState

    cpu = device == "cpu" or (device == "auto" and not torch.cuda.is_available())
    # NCCL's default 10-minute timeout would kill the processes that wait at the final barrier for
    # the slowest share and for the merge of a long archive
    state = PartialState(cpu=cpu, timeout=datetime.timedelta(hours=24))
    if state.num_processes != world:
        raise UserError(
            f"started as {world} processes, but accelerate set up {state.num_processes}: "
            "on CPUs give --device cpu; see `eventroles predict --help`"
        )
    return state.num_processes, state.process_index, state


def _env_int(name: str) -> int:
    try:
        return int(os.environ.get(name, "1"))
    except ValueError:
        return 1


def _load_tagger(model: Path, device: str, precision: str, batch_size: int) -> Any:
    from eventroles.models.inference import Tagger

    if model.is_file():  # `predict ARTICLE MODEL`: the arguments the other way round
        raise UserError(f"{model} is a file, not a model folder (the model folder comes first: "
                        "eventroles predict MODEL ARTICLES...)")
    try:
        return Tagger.load(model, device=device, precision=precision, batch_size=batch_size)
    except ValueError as error:  # device or precision not available here
        raise UserError(str(error)) from None


def _progress_bar(enabled: bool, world: int) -> Any:
    from tqdm.auto import tqdm

    desc = "labelling" if world == 1 else f"labelling (process 0 of {world})"
    return tqdm(desc=desc, unit="doc", file=sys.stderr, disable=None if enabled else True, dynamic_ncols=True)


# -- labelling --------------------------------------------------------------------------------
def _iter_inputs(inputs: list[str], stdin: Any, exclude: set[Path]) -> Iterator[Any]:
    from eventroles.models.sources import iter_inputs

    return iter_inputs(inputs, stdin, exclude)


def _share(items: Iterable[Any], world: int, rank: int) -> Iterator[tuple[int, Any]]:
    """This process's share: items i with ``i % world == rank``, numbered in input order."""
    return ((i, item) for i, item in enumerate(items) if i % world == rank)


def _label(tagger: Any, items: Iterable[tuple[int, Any]], chunk_size: int) -> Iterator[tuple[int, Any]]:
    """``(index, labelled Document | BadInput)`` in input order, labelling in chunks."""
    from eventroles.data.document import Document
    from eventroles.models.sources import TextInput

    roles = frozenset(tagger.meta.tagset.roles)
    pending: deque[tuple[int, Any]] = deque()

    def documents() -> Iterator[Document]:
        for index, item in items:
            pending.append((index, item))
            if isinstance(item, TextInput):
                yield Document(item.id, item.text, roles=roles, meta={"source": item.where, "fields": item.fields})

    for doc in tagger.pipe(documents(), chunk_size):
        while not isinstance(pending[0][1], TextInput):
            yield pending.popleft()
        index, _ = pending.popleft()
        yield index, doc
    yield from pending


def _counted(records: Iterable[tuple[int, Any]], bar: Any) -> Iterator[tuple[int, Any]]:
    from eventroles.models.sources import BadInput

    skipped = 0
    for record in records:
        if isinstance(record[1], BadInput):
            skipped += 1
            bar.set_postfix_str(f"skipped {skipped}", refresh=False)
        else:
            bar.update(1)
        yield record


# -- output -----------------------------------------------------------------------------------
class _Sink:
    """Writes documents and reports bad inputs and repeated ids, keeping the counts for the summary."""

    def __init__(self, writer: Any, bar_write: Any) -> None:
        self.writer = writer
        self.say = bar_write
        self.labelled = 0
        self.spans = 0
        self.counts: Counter[str] = Counter()  # bad inputs by kind, hidden entries, repeated ids
        self.first_seen: dict[str, str] = {}  # document id -> where it was first read

    def __call__(self, item: Any) -> None:
        from eventroles.models.sources import BadInput

        if isinstance(item, BadInput):
            self.counts[item.kind] += 1
            if item.kind == "hidden":
                return  # .git, .DS_Store ...: counted in the summary, not listed
            if item.kind != "unsupported" or self.counts[item.kind] <= MAX_UNSUPPORTED_SHOWN:
                self.say(f"skipped {item}")
            elif self.counts[item.kind] == MAX_UNSUPPORTED_SHOWN + 1:
                self.say("skipped more files that are not .txt or .jsonl (counted in the summary)")
            return
        where = str(item.meta.get("source", item.id))
        if item.id not in self.first_seen:
            self.first_seen[item.id] = where
        else:
            self.counts["repeated_id"] += 1
            if self.counts["repeated_id"] <= MAX_UNSUPPORTED_SHOWN:
                self.say(
                    f"{where}: id {item.id!r} was already given to the document of {self.first_seen[item.id]}; "
                    'labelled and written again (`eventroles evaluate --predictions` needs unique ids: give each '
                    'document its own "id")'
                )
            elif self.counts["repeated_id"] == MAX_UNSUPPORTED_SHOWN + 1:
                self.say("more documents repeat an earlier id (counted in the summary)")
        self.writer.write(item)
        self.labelled += 1
        self.spans += len(item.spans)

    def summary(self) -> tuple[int, int, Counter[str]]:
        return self.labelled, self.spans, self.counts


def _open_output(stack: ExitStack, output: Path | None) -> TextIO:
    if output is None or str(output) == "-":
        try:  # JSON lines and the page are UTF-8 whatever the terminal's locale
            sys.stdout.reconfigure(encoding="utf-8")  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            pass
        return sys.stdout
    try:  # a parent that is a file was refused before the model loaded (check_output_path)
        output.parent.mkdir(parents=True, exist_ok=True)
        return stack.enter_context(output.open("w", encoding="utf-8", newline=""))
    except OSError as error:
        raise UserError(f"{output}: cannot write the output: {error.strerror or error}") from None


def _writer(fmt: str, handle: TextIO, tagger: Any, model: Path) -> Any:
    from eventroles.models.writers import make_writer

    tagset = tagger.meta.tagset
    return make_writer(fmt, handle, columns=tagset.tags, roles=tagset.roles, title=f"eventroles predictions ({model.name})")


def partial_path(output: Path) -> Path:
    """Where -o OUT is written until the run ends: OUT is replaced only by a finished output."""
    return output.with_name(output.name + ".partial")


def _write_all(
    records: Iterable[tuple[int, Any]], tagger: Any, fmt: str, output: Path | None, model: Path
) -> tuple[int, int, Counter[str]]:
    """Write every document; a file output goes to OUT.partial first and replaces OUT at the end,
    so an interrupted run, or one that labels nothing (a mistyped input), leaves OUT as it was."""
    from eventroles.train.progress import beside_bars

    # Only a plain file (or a new one) is written beside and renamed: a link, /dev/null, a FIFO or
    # /dev/fd/N from a shell's >(...) is written in place, as the user pointed it.
    renamed = output is not None and str(output) != "-" and not output.is_symlink() and (
        not output.exists() or output.is_file())
    partial = partial_path(output) if renamed and output is not None else None
    target = partial or output
    with ExitStack() as stack:
        writer = _writer(fmt, _open_output(stack, target), tagger, model)
        sink = _Sink(writer, beside_bars(lambda message: echo(message, err=True)))
        try:
            writer.begin()
            for _, item in records:
                sink(item)
            writer.end()
        except KeyboardInterrupt:
            stack.close()
            where = f"they are in {partial}, and {output} is unchanged" if partial else "the output above is cut short"
            echo(f"interrupted after {sink.labelled} labelled document(s): {where}", err=True)
            raise typer.Exit(130) from None
    labelled, spans, counts = sink.summary()
    if partial is not None and output is not None:
        if labelled:
            if output.exists():  # the replaced file's permissions, not the umask's
                os.chmod(partial, output.stat().st_mode & 0o7777)
            os.replace(partial, output)
        else:
            partial.unlink(missing_ok=True)
            echo(f"{output} not written (nothing was labelled)" + (": the file there is unchanged" if output.exists() else ""),
                 err=True)
    return labelled, spans, counts


def _part_path(output: Path, rank: int, world: int) -> Path:
    return output.with_name(f".{output.name}.part-{rank}-of-{world}")


def _run_shard(
    records: Iterable[tuple[int, Any]], tagger: Any, fmt: str, output: Path, model: Path, state: Any, world: int, rank: int
) -> tuple[int, int, Counter[str]] | None:
    """Write this process's part; on the main process, merge all parts into ``output``."""
    from eventroles.models.sources import BadInput
    from eventroles.models.writers import doc_record

    part = _part_path(output, rank, world)
    part.parent.mkdir(parents=True, exist_ok=True)
    with part.open("w", encoding="utf-8") as handle:
        for index, item in records:
            if isinstance(item, BadInput):
                row = {"i": index, "bad": [item.where, item.kind, item.message]}
            else:
                row = {"i": index, "doc": doc_record(item), "source": item.meta.get("source")}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    state.wait_for_everyone()
    summary = _merge_parts([_part_path(output, r, world) for r in range(world)], tagger, fmt, output, model) if state.is_main_process else None
    state.wait_for_everyone()
    if hasattr(state, "destroy_process_group"):
        state.destroy_process_group()
    return summary


def _merge_parts(parts: list[Path], tagger: Any, fmt: str, output: Path, model: Path) -> tuple[int, int, Counter[str]]:
    with ExitStack() as stack:
        streams = [_part_rows(stack.enter_context(p.open("r", encoding="utf-8"))) for p in parts]
        summary = _write_all(heapq.merge(*streams, key=lambda row: row[0]), tagger, fmt, output, model)
    for part in parts:
        part.unlink(missing_ok=True)
    return summary


def _part_rows(handle: TextIO) -> Iterator[tuple[int, Any]]:
    from eventroles.models.sources import BadInput
    from eventroles.models.writers import record_document

    for line in handle:
        row = json.loads(line)
        if "bad" in row:
            yield row["i"], BadInput(*row["bad"])
        else:
            doc = record_document(row["doc"])
            doc.meta["source"] = row.get("source") or doc.id
            yield row["i"], doc


def _summary_line(labelled: int, spans: int, counts: Counter[str], world: int) -> str:
    """``labelled N documents (S spans), skipped K: why n, ...`` plus hidden entries, links to an
    article already labelled and repeated ids (none of them an article left unlabelled)."""
    from eventroles.models.sources import KINDS

    notes = {kind: counts.get(kind, 0) for kind in ("hidden", "linked_file", "repeated_id")}
    skipped = Counter({kind: n for kind, n in counts.items() if kind not in notes and n})
    line = f"labelled {labelled} document{'s' if labelled != 1 else ''} ({spans} spans)"
    line += f", skipped {sum(skipped.values())}"
    if skipped:
        line += ": " + ", ".join(f"{KINDS.get(kind, kind)} {n}" for kind, n in sorted(skipped.items(), key=lambda kv: -kv[1]))
    if notes["hidden"]:
        line += f"; hidden files or folders not read: {notes['hidden']}"
    if notes["linked_file"]:
        line += f"; links to an article labelled under its own name, not again: {notes['linked_file']}"
    if notes["repeated_id"]:
        line += f"; labelled documents whose id repeats an earlier one: {notes['repeated_id']}"
    if world > 1:
        line += f" (in {world} processes)"
    if labelled == 0:
        line += "; nothing was labelled"
    return line
