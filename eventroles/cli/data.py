"""``eventroles data ...``: list, stats, export and download corpora."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from ._util import UserError, check_output_path, echo, refuse_replacing_inputs, user_errors, write_json

app = typer.Typer(help="Inspect, convert and download annotated corpora.", no_args_is_help=True)


def _manifest_folder(name: str) -> str:
    """A corpus's manifest (folder) name from its registry name (cameo -> cameo_ner), or the name as given."""
    from eventroles.data.registry import CORPORA

    return CORPORA[name].folder if name in CORPORA else name


@app.command("list")
def list_corpora() -> None:
    """List the registered corpora, their splits, roles and licences."""
    from eventroles.data.registry import CORPORA, corpus_folder, incomplete_files

    for info in CORPORA.values():
        folder = corpus_folder(info)
        state = "present" if folder.is_dir() else "not downloaded"
        missing = len(incomplete_files(info, folder)) if folder.is_dir() else 0
        if missing:
            state = f"incomplete: {missing} files missing or cut short; run `eventroles data download {info.name}`"
        echo(f"{info.name:11} splits {'/'.join(info.splits):15} roles {', '.join(info.roles)}")
        echo(f"{'':11} {info.description}")
        echo(f"{'':11} licence: {info.licence}; {folder} ({state})")


@app.command("stats")
def stats(
    corpus: str = typer.Argument(..., help="A registry name (see `eventroles data list`), a folder of train/dev/test.jsonl, or a .jsonl file."),
    split: Optional[list[str]] = typer.Option(None, "--split", "-s", help="Split(s) to count; default: every split."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a summary."),
    tokenizer: str = typer.Option("minilm", help="Backbone whose tokenizer the round-trip check uses ('none' to skip)."),
) -> None:
    """Documents, words, spans per role, span shape (mean words, one-word share, share starting
    with an article: boundary conventions differ between corpora), every repair or drop the
    reader made (with counts), and the share of gold spans that survive encoding to subword
    labels and decoding back."""
    from eventroles.data.registry import get_corpus, load_corpus, user_folder
    from eventroles.data.stats import corpus_stats

    with user_errors():
        tok = None
        if tokenizer != "none":
            from eventroles.models.backbone import load_tokenizer

            tok = load_tokenizer(tokenizer)
        folder = user_folder(corpus)
        if corpus.endswith(".jsonl"):
            if split:
                raise UserError(f"--split is for registered corpora and folders; {corpus} is one file, read whole")
            specs = [corpus]
        elif folder is not None:  # a corpus folder of the user's, as a config's `path:`
            names = split or [s for s in ("train", "dev", "test") if (folder / f"{s}.jsonl").is_file()]
            if not names:
                raise UserError(f"{folder} holds no train.jsonl, dev.jsonl or test.jsonl")
            specs = [f"{corpus}:{name}" for name in names]
        else:
            splits = split or list(get_corpus(corpus).splits)
            specs = [f"{corpus}:{s}" for s in splits]
        results = {}
        for spec in specs:
            docs, report = load_corpus(spec)
            results[spec.rpartition(":")[2] if ":" in spec else "all"] = corpus_stats(docs, report, tok)
        output = {"corpus": corpus, "splits": results}
        if as_json:
            write_json(output, None)
            return
        for name, values in results.items():
            no_role, empty = values["documents_annotating_no_role"], values["documents_with_empty_text"]
            echo(f"{corpus}:{name}: {values['documents']} documents, {values['words']} words, "
                 f"{values['documents_without_spans']} without spans" + (f", {no_role} annotating no role" if no_role else "")
                 + (f"; warning: {empty} with empty text" if empty else ""))
            echo("  spans: " + ", ".join(f"{role} {n}" for role, n in values["spans"].items()))
            annotating = values["documents_annotating_role"]
            if any(n < values["documents"] for n in annotating.values()):  # some documents leave a role out
                echo("  documents annotating each role: " + ", ".join(f"{role} {n}" for role, n in annotating.items()))
            if values["spans_with_entity_ids"]:
                echo(f"  spans with entity ids: {values['spans_with_entity_ids']} (CEAF-REE scores them as entities)")
            for role, shape in values["span_shape"].items():
                echo(f"  {role} spans: {shape['mean_words']:.1f} words on average, {shape['one_word']:.0%} one word, "
                     f"{shape['starts_with_article']:.0%} start with a/an/the")
            said = ""
            for key, what in (("round_trip", "round trip"), ("round_trip_roles", "round trip, one head per role")):
                if key in values:
                    rt = values[key]
                    echo(f"  {what}: {rt['exact']}/{rt['total']} spans exact ({rt['share']:.2%})")
                    # what training with these heads will skip too (it prints the same counts at start)
                    skipped = ", ".join(f"{kind} {n}" for kind, n in rt.get("encoding", {}).items())
                    if skipped and skipped != said:
                        echo(f"    skipped by the encoder, as training with these heads will: {skipped}")
                    said = skipped
            if "round_trip_note" in values:
                echo(f"  note: {values['round_trip_note']}")
            for kind, n in values["adjusted_or_dropped"].items():
                echo(f"  adjusted/dropped: {kind}: {n}")
            for fact, n in values["facts"].items():
                echo(f"  {fact}: {n}")


@app.command("export")
def export(
    corpus: str = typer.Argument(..., help="CORPUS[:SPLIT]: a registry corpus, your folder of train/dev/test.jsonl, or a .jsonl file; "
                                     "e.g. wikievents:test, my_articles:dev (default split: test)."),
    output: Path = typer.Option(..., "--output", "-o", help="The .jsonl file to write ('-' for standard output)."),
) -> None:
    """Write a corpus split in the project's JSON-lines format (id, text, spans with offsets).

    Only the project's fields are written (id, text, roles, meta, spans with start, end, role, text, label, entity id): other fields of a file of yours (a source URL, a note on a span, a score) are not kept, so -o may not be the file being exported.
    """
    from eventroles.data.readers.jsonl import write_jsonl
    from eventroles.data.registry import load_corpus, source_files

    with user_errors():
        check_output_path(output, "-o")
        refuse_replacing_inputs(output, "-o", ((path, f"the corpus {corpus}") for path in source_files(corpus)))
        docs, report = load_corpus(corpus)
        if str(output) == "-":
            count = write_jsonl(docs, sys.stdout)
        else:
            output.parent.mkdir(parents=True, exist_ok=True)
            with output.open("w", encoding="utf-8") as handle:
                count = write_jsonl(docs, handle)
        echo(f"wrote {count} documents to {output}", err=True)
        for kind, n in sorted(report.counts.items()):
            echo(f"  reader adjusted/dropped: {kind}: {n}", err=True)


@app.command("download")
def download(
    names: list[str] = typer.Argument(None, help="Corpora to fetch (names as `data list` shows them, or their folder names: cameo or cameo_ner); default: all."),
    root: Optional[Path] = typer.Option(None, help="Data root (default: $EVENTROLES_DATA or the user cache)."),
    mirror: Optional[str] = typer.Option(None, help="Base URL or file:// folder laid out as <mirror>/<repo>/<commit>/<path> "
                                  "(default: https://raw.githubusercontent.com, the upstream repositories)."),
    force: bool = typer.Option(False, help="Fetch again even files that are present and verified."),
) -> None:
    """Fetch corpora from their upstream repositories at pinned commits, verifying sha256."""
    from eventroles.data.download import DEFAULT_MIRROR, available_manifests, default_data_root, download_corpus, load_manifest

    def stop(signum: int, frame: Any) -> None:  # SIGTERM as Ctrl-C: the threads stop, partial files go
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        with user_errors():
            target = root.expanduser().resolve() if root is not None else default_data_root()
            for name in names or available_manifests():
                manifest = load_manifest(_manifest_folder(name))
                echo(f"{manifest.folder}: {len(manifest.files)} files from {manifest.repo}@{manifest.commit[:10]} "
                     f"(licence: {manifest.licence})")
                result = download_corpus(manifest, target, mirror=mirror or DEFAULT_MIRROR, force=force)
                echo(f"  {len(result.downloaded)} downloaded, {len(result.skipped)} already present -> {result.path}")
            if root is not None and target != default_data_root().resolve():
                echo(f"the commands read corpora from $EVENTROLES_DATA: export EVENTROLES_DATA={target}")
    finally:
        signal.signal(signal.SIGTERM, previous)


@app.command("verify")
def verify(
    names: list[str] = typer.Argument(None, help="Corpora to check; default: all."),
    root: Optional[Path] = typer.Option(None, help="Data root (default: $EVENTROLES_DATA or the user cache)."),
) -> None:
    """Check that downloaded corpora are complete and match their checksums (the corpora `data
    download` fetches; a folder of your own is checked by `eventroles data stats FOLDER`)."""
    from eventroles.data.download import available_manifests, default_data_root, load_manifest, verify_corpus
    from eventroles.data.registry import CORPORA

    with user_errors():
        target = root.expanduser() if root is not None else default_data_root()
        bad = 0
        manifests = available_manifests()
        for name in names or manifests:
            manifest = _manifest_folder(name)
            if manifest.strip().lower() not in manifests:  # as load_manifest reads a name
                if name in CORPORA:
                    echo(f"{name}: bundled with eventroles, nothing downloaded to verify")
                    continue
                raise UserError(f"{name}: not a downloadable corpus ({', '.join(manifests)}); "
                                f"a folder of your own is checked by: eventroles data stats {name}")
            problems = verify_corpus(manifest, target)
            echo(f"{name}: {'ok' if not problems else f'{len(problems)} problems'}")
            if problems and not (target / load_manifest(manifest).folder).is_dir():
                echo(f"  fetch it with: eventroles data download {name}" + (f" --root {target}" if root is not None else ""))
            for problem in problems:
                echo(f"  {problem}")
            bad += len(problems)
        if bad:
            raise typer.Exit(1)
