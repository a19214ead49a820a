"""``eventroles evaluate``: score models or any system's predictions against annotated corpora.

The verb only gathers documents (gold from the registry, predictions from models or JSON-lines
files), hands them to ``eventroles.train.reporting.corpus_report`` and prints or writes what it
returns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from eventroles.data.document import Document
from eventroles.data.problems import ReadReport
from eventroles.data.registry import load_corpus, parse_spec, source_files
from eventroles.data.readers.jsonl import read_jsonl_file
from eventroles.train.metrics import ScoringError, error_examples, text_mismatch
from eventroles.train.reporting import corpus_report, output_roles, to_markdown, to_text, write_errors

from ._util import (
    UserError, check_output_path, echo, refuse_replacing_inputs, refuse_same_output, register_user_error, user_errors, write_json,
)

HELP = """Score models, or any system's predictions, against annotated corpora.

Scores: seqeval (entity level, strict IOB2) per role with micro and macro averages; exact and overlap span matching; and, for corpora with entity annotation (muc4, wikievents, or gold spans with `entity` ids), CEAF-REE strict as the MUC-4 literature reports it, with GRIT's published result beside it on muc4:test. Only the roles a corpus annotates are scored.

Examples:

  eventroles evaluate runs/muc4 --data muc4:test

  eventroles evaluate -p spacy.jsonl -p gliner.jsonl --data wikievents:test

  eventroles evaluate runs/seed1 runs/seed2 runs/seed3 --data muc4 --seeds --markdown
"""


def register(app: typer.Typer) -> None:
    from eventroles.models.storage import ModelFolderError

    register_user_error(ScoringError)
    register_user_error(ModelFolderError)
    app.command("evaluate", help=HELP)(evaluate)


def evaluate(
    models: Optional[list[Path]] = typer.Argument(
        None,
        help="Trained model folders to run over each corpus (as written by `eventroles train`).",
        metavar="MODEL",
        show_default=False,
    ),
    data: list[str] = typer.Option(
        ...,
        "--data",
        "-d",
        help="Gold corpus as NAME[:SPLIT] from the registry (split defaults to test, e.g. "
        "muc4:test), FOLDER[:SPLIT] for a folder of train/dev/test.jsonl (your own corpus, as a config's "
        "path: names it), or a path to a .jsonl file in the project format. Repeat for several corpora.",
        show_default=False,
    ),
    predictions: list[Path] = typer.Option(
        [],
        "--predictions",
        "-p",
        help="A system's output in the project JSON-lines format (id, text, spans with character "
        "offsets and role; label and score optional; an optional per-document \"roles\" list says which roles "
        "the system outputs, and only those are scored: list every role the system can tag, not only those it "
        "found in that document). Documents are matched to the gold by id; "
        "with several --data, a file is scored on each corpus it shares document ids with. "
        "Repeat for several systems.",
        show_default=False,
    ),
    json_path: Optional[Path] = typer.Option(
        None, "--json", help="Write every number (all systems, corpora and counts) as JSON to FILE ('-' for standard output)."
    ),
    markdown: bool = typer.Option(False, "--markdown", help="Print markdown tables (for reports) instead of terminal tables."),
    errors: Optional[Path] = typer.Option(
        None,
        "--errors",
        help="Write false positives and false negatives (exact span match) with their context "
        "sentence to FILE, one JSON object per line ('-' for standard output; the tables then go to standard error).",
    ),
    ceaf: bool = typer.Option(
        True, "--ceaf/--no-ceaf", help="Also report CEAF-REE strict where the gold corpus has entity annotation."
    ),
    seeds: bool = typer.Option(
        False,
        "--seeds",
        help="Treat all given models / prediction files as runs (seeds) of one system and report "
        "mean ± sample standard deviation instead of one column per system.",
    ),
    device: str = typer.Option("auto", "--device", help="Device for MODEL runs: auto, cpu, cuda, cuda:1, mps."),
    precision: str = typer.Option(
        "auto", "--precision", help="Precision for MODEL runs: auto, fp32, bf16, fp16 or int8 (CPU dynamic quantisation)."
    ),
) -> None:
    with user_errors():
        models = list(models or [])
        if not models and not predictions:
            raise UserError("nothing to evaluate: give MODEL folders and/or --predictions FILE")
        if seeds and len(models) + len(predictions) < 2:
            raise UserError("--seeds needs at least two models or prediction files (one per seed)")
        check_output_path(json_path, "--json")
        check_output_path(errors, "--errors")
        refuse_same_output(json_path, "--json", errors, "--errors")
        read = [*((p, "--predictions") for p in predictions),
                *((path, f"--data {spec}") for spec in data for path in source_files(spec))]
        refuse_replacing_inputs(json_path, "--json", read)
        refuse_replacing_inputs(errors, "--errors", read)
        if errors is not None and json_path is not None and str(errors) == str(json_path) == "-":
            raise UserError("--json - and --errors - cannot both go to standard output: give one of them a FILE")
        golds = {spec: _load_gold(spec) for spec in data}
        files = {path: _read_predictions(path) for path in predictions}
        names = _system_names([*models, *predictions])
        _check_files_match(files, golds)
        taggers = {path: _load_tagger(path, device, precision) for path in models}

        report: dict[str, Any] = {"corpora": {}}
        error_rows: list[dict[str, Any]] = []
        for spec, (gold, read_report) in golds.items():
            systems = _systems_for(gold, taggers, files, names, only_corpus=len(golds) == 1)
            if seeds and len(systems) == 1:  # a mean and std over one run ("± 0.00 (1 runs)")
                raise UserError(f"--seeds: only {next(iter(systems))} covers {spec}; give every run for each --data")
            corpus = corpus_report(spec, gold, systems, ceaf=ceaf, seeds=seeds, published=_published(spec, gold))
            corpus["gold_read_report"] = read_report.as_dict()
            corpus["prediction_read_reports"] = {
                names[p]: r.as_dict() for p, (_, r) in files.items() if names[p] in systems
            }
            report["corpora"][spec] = corpus
            if errors is not None:
                for system, docs in systems.items():
                    found = error_examples(gold, docs, output_roles(docs))
                    error_rows += [{"corpus": spec, "system": system, **row} for row in found]

        if errors is not None:
            count = write_errors(errors, error_rows)
            echo(f"wrote {count} errors to {'standard output' if str(errors) == '-' else errors}", err=True)
        if json_path is not None:
            write_json(report, json_path)
            if str(json_path) == "-":
                return
        echo(to_markdown(report) if markdown else to_text(report), err=errors is not None and str(errors) == "-")


def _systems_for(
    gold: list[Document],
    taggers: dict[Path, Any],
    files: dict[Path, tuple[list[Document], ReadReport]],
    names: dict[Path, str],
    only_corpus: bool,
) -> dict[str, list[Document]]:
    """System name -> predicted documents for one gold corpus (models run on its texts)."""
    systems: dict[str, list[Document]] = {}
    for path, tagger in taggers.items():
        systems[names[path]] = tagger.predict_documents([doc.blank() for doc in gold])
    for path, (docs, _) in files.items():
        if only_corpus or not docs or _shares_ids(docs, gold):
            systems[names[path]] = docs
    return systems


def _load_gold(spec: str) -> tuple[list[Document], ReadReport]:
    docs, read_report = load_corpus(spec)
    if not docs:
        raise UserError(f"{spec}: the gold corpus has no documents")
    return docs, read_report


def _read_predictions(path: Path) -> tuple[list[Document], ReadReport]:
    """A prediction file; an empty file is a valid (empty) prediction."""
    read_report = ReadReport()
    if path.is_file() and not path.read_bytes().removeprefix(b"\xef\xbb\xbf").strip():  # a BOM alone is empty too
        return [], read_report
    return read_jsonl_file(path, read_report, corpus=path.stem), read_report


def _system_names(paths: list[Path]) -> dict[Path, str]:
    """Short names (folder or file stem); the full path where two would be the same."""
    stems = [p.stem if p.suffix == ".jsonl" else p.name for p in paths]
    names: dict[Path, str] = {}
    for path, stem in zip(paths, stems):
        if path in names:
            raise UserError(f"{path} is given twice")
        names[path] = stem if stems.count(stem) == 1 else str(path)
    return names


def _shares_ids(docs: list[Document], gold: list[Document]) -> bool:
    ids = {doc.id for doc in gold}
    return any(doc.id in ids for doc in docs)


MAX_MISMATCHES_NAMED = 10


def _check_files_match(
    files: dict[Path, tuple[list[Document], ReadReport]], golds: dict[str, tuple[list[Document], ReadReport]]
) -> None:
    """A non-empty prediction file must share document ids with at least one gold corpus, and
    keep the gold text of every document it shares (offsets index that text)."""
    for path, (docs, read_report) in files.items():
        if docs and not any(_shares_ids(docs, gold) for gold, _ in golds.values()):
            unnamed = read_report.counts.get("id_missing_file_stem_and_line_used", 0)
            hint = f' ({unnamed} of its {len(docs)} lines have no "id": give each the id of its gold document)' if unnamed else ""
            raise UserError(
                f"{path}: none of its document ids is in {', '.join(golds)}; predictions are "
                f"matched to the gold documents by id{hint}"
            )
        for spec, (gold, _) in golds.items():
            by_id = {doc.id: doc for doc in gold}
            bad = [(n, doc) for n, doc in enumerate(docs, start=1) if doc.id in by_id and doc.text != by_id[doc.id].text]
            if bad:  # every such document at once, not one per run (n: the n-th document of the file)
                number, doc = bad[0]
                others = "; ".join(f"document {d.id!r} (document {n} of the file)" for n, d in bad[1:MAX_MISMATCHES_NAMED])
                more = f" (and {len(bad) - MAX_MISMATCHES_NAMED} more)" if len(bad) > MAX_MISMATCHES_NAMED else ""
                raise UserError(f"{path} against {spec}: {len(bad)} document(s) do not keep the gold text. "
                                f"Document {number} of the file: {text_mismatch(by_id[doc.id], doc)}"
                                + (f". Also: {others}{more}" if others else ""))



def _load_tagger(path: Path, device: str, precision: str) -> Any:
    if not path.exists():
        raise UserError(f"model folder {path} does not exist")
    if not path.is_dir():
        raise UserError(f"{path}: not a model folder (prediction files go after --predictions)")
    from eventroles.models.inference import Tagger  # heavy (torch); only when a model is given

    try:
        return Tagger.load(path, device=device, precision=precision)
    except ValueError as error:  # a device or precision this machine does not have
        raise UserError(f"{path}: {error}") from None


def _published(spec: str, gold: list[Document]) -> str | None:
    """The corpus whose published CEAF-REE result applies: muc4 on its test split."""
    if spec.endswith(".jsonl"):
        return None
    name, split = parse_spec(spec)
    corpus = gold[0].corpus if gold else name
    return corpus if corpus == "muc4" and split == "test" else None
