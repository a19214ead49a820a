"""``eventroles benchmark ...``: measurements that back the project's claims (speed, transfer).

Each verb calls a quiet library function that returns a dict, prints a readable table and can
write the dict as JSON (``--json FILE``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

import typer

from ._util import SET_HELP, UserError, check_output_path, echo, refuse_same_output, register_user_error, user_errors, write_json

app = typer.Typer(help="Measure speed against the standard pipeline (and more).", no_args_is_help=True)

SPEED_HELP = """Label the same articles, after a warm-up, with (a) the project's default CPU path (precision auto), (b) its fp32 path, (c) its int8 path (dynamic quantisation) and (d) the baseline: the Hugging Face token-classification pipeline (aggregation simple, same window and stride) in fp32 on a plain AutoModelForTokenClassification with this model's backbone and weights.

Per path: words/s, articles/s, peak memory (the path's own process: peak resident set over the resident set before loading the model), the ratio to the baseline, and the share of the words/s that this machine's matrix-multiply peak allows for the precision the path uses (peaks measured on the spot; FLOPs per subword from the model's config). Span agreement of (a) and (c) with (b) is span-level F1 on exact (start, end, role).

INPUT is JSON lines with a "text" field (the project's JSONL, or {"text": ...} per line).

Example:

  eventroles benchmark speed runs/muc4 --input articles.jsonl --limit 100 --json speed.json
"""


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="benchmark")


@app.command("speed", help=SPEED_HELP)
def speed(
    model: Path = typer.Argument(..., metavar="MODEL", help="A trained model folder.", show_default=False),
    input_path: Path = typer.Option(..., "--input", "-i", help="JSON lines with a \"text\" field.", show_default=False),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the results as JSON to FILE ('-': standard output, the table then goes to standard error)."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Label only the first N articles."),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="Windows per forward pass (project paths), at most: on a CPU a pass is also capped at 2,048 subwords."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="Torch threads in every path (default: torch's)."),
    repeats: int = typer.Option(1, "--repeats", min=1, help="Timed rounds over all articles; the best counts."),
    warmup: int = typer.Option(8, "--warmup", min=1, help="Articles labelled once before timing."),
    skip_baseline: bool = typer.Option(False, "--skip-baseline", help="Do not run the Hugging Face pipeline."),
    baseline_batch_size: int = typer.Option(1, "--baseline-batch-size", min=1, help="The pipeline's batch size."),
    isolate: bool = typer.Option(True, "--isolate/--in-process", help="One process per path (honest peak memory)."),
) -> None:
    from eventroles.models.storage import ModelFolderError
    from eventroles.train.benchmark_speed import BenchmarkInputError, SpeedOptions, benchmark_speed

    register_user_error(ModelFolderError)
    register_user_error(BenchmarkInputError)
    with user_errors():
        check_output_path(json_out, "--json")
        refuse_same_output(input_path, "--input", json_out, "--json")
        options = SpeedOptions(limit, batch_size, threads, repeats, warmup, skip_baseline, baseline_batch_size, isolate)
        result = benchmark_speed(model, input_path, options, log=lambda message: echo(message, err=True))
        to_stdout = json_out is not None and str(json_out) == "-"
        for line in speed_table(result):
            echo(line, err=to_stdout)
        if json_out is not None:
            write_json(result, json_out)
            if not to_stdout:
                echo(f"results written to {json_out}", err=True)


def _number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def speed_table(result: dict[str, Any]) -> list[str]:
    """The readable summary of ``benchmark_speed``'s results."""
    data, model, machine = result["data"], result["model"], result["machine"]
    peaks = ", ".join(f"{name} {value:,.1f}" for name, value in result["peaks_gflop_per_s"].items())
    lines = [
        f"{data['articles']} articles, {data['words']:,} words, {data['subwords']:,} subwords "
        f"({data['subwords_per_word']:.2f} per word; {data['window_tokens_per_word']:.2f} window tokens per word)",
        f"machine: {machine['cpu']} ({machine['cpu_capability']}, bf16 matrix units: "
        f"{'yes' if machine['bf16_units'] else 'no'}), {machine['threads']} thread(s), torch {machine['torch']}",
        f"matrix-multiply peaks, GFLOP/s: {peaks}; model: {model['flops_per_subword'] / 1e6:.1f} MFLOP per subword "
        f"(mean window {model['mean_window_length']:.0f} subwords)",
        "",
        f"{'path':<9}{'precision':>10}{'words/s':>10}{'articles/s':>12}{'peak MB':>9}{'x baseline':>12}"
        f"{'limit w/s':>11}{'of limit':>10}{'span F1':>9}",
    ]
    agreement = {"project": result["span_agreement"], "fp32": 1.0, "int8": result["int8_span_agreement"]}
    for name, path in result["paths"].items():
        share = path["share_of_limit"]
        lines.append(
            f"{name:<9}{path['precision']:>10}{_number(path['words_per_s']):>10}{_number(path['articles_per_s'], 2):>12}"
            f"{_number(path.get('peak_memory_mb')):>9}{_number(path['ratio'], 2):>12}"
            f"{_number(path['limit_words_per_s']):>11}{'-' if share is None else f'{share:.0%}':>10}"
            f"{_number(agreement.get(name), 3):>9}"
        )
    if result["project_is_fp32_path"]:
        lines.append("")
        lines.append("project = fp32 path: precision auto picked fp32 (no bf16 matrix units here); measured once.")
    if not result["settings"]["isolate"]:
        lines.append("")
        lines.append("peak MB: all paths in one process (--in-process): a path's peak can include models loaded while it "
                     "was sampled; --isolate (the default) measures each path alone.")
    return lines


TRANSFER_HELP = """Leave-one-out transfer between the corpora of CONFIG.

For each corpus in turn (or each --holdout), train on every other corpus of the config and score the held-out corpus's test split; also train once on all corpora (the in-domain model) and score every corpus's test split. Each run is a normal `eventroles train` run on a copy of the config (only data.corpora and output.dir change), written under --work-dir. A model already there that was trained with the very same config is scored, not trained again (--retrain to train it anyway).

Scores: seqeval (entity level, strict IOB2), exact span match and overlap span match (a predicted span that shares a character with a gold span of the same role, paired one-to-one), F1 per role the held-out corpus annotates, plus micro. The table also shows, per held-out corpus and role, the ratio leave-one-out overlap F1 / in-domain overlap F1 (target: at least 0.60). A corpus without a test split is skipped, with a note.

Example:

  eventroles benchmark transfer configs/conflict.yaml --holdout wikievents --json transfer.json --markdown
"""


@app.command("transfer", help=TRANSFER_HELP)
def transfer(
    config: Path = typer.Argument(..., metavar="CONFIG", help="A YAML config with two or more corpora.", show_default=False),
    overrides: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP),
    holdouts: Optional[list[str]] = typer.Option(
        None, "--holdout", help="Hold out only this corpus (its name, or its folder's name; repeatable). Default: every corpus."
    ),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write every number as JSON to FILE ('-' for standard output)."),
    work_dir: Optional[Path] = typer.Option(
        None, "--work-dir", help="Where the trained model folders go (default: output/transfer/NAME, NAME the config "
        "file's name without .yaml; a run with other settings in the same folder trains over its models).",
        show_default=False,
    ),
    markdown: bool = typer.Option(False, "--markdown", help="Print a markdown table (for docs/benchmarks.md) instead."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show training progress bars."),
    reuse: bool = typer.Option(
        True, "--reuse/--retrain",
        help="Score a finished model already in --work-dir that was trained with the very same config instead of "
        "training it again, so a benchmark stopped between runs goes on with the next one; a run stopped mid-way "
        "resumes from its checkpoint. --retrain trains every model afresh, interrupted runs too.",
    ),
) -> None:
    from eventroles.models.backbone import BackboneError
    from eventroles.train.benchmark_transfer import TransferError, benchmark_transfer
    from eventroles.train.config import ConfigError, load_config
    from eventroles.train.trainer import TrainingStopped

    for kind in (ConfigError, BackboneError, TransferError, TrainingStopped):
        register_user_error(kind)
    with user_errors():
        cfg = load_config(config, list(overrides or []))
        check_output_path(json_out, "--json")  # hours of training before it is written
        work_dir = work_dir if work_dir is not None else Path("output/transfer") / config.stem
        check_output_path(work_dir, "--work-dir", folder=True)
        result = benchmark_transfer(cfg, holdouts=holdouts, work_dir=work_dir, progress=progress, reuse=reuse,
                                    log=lambda message: echo(message, err=True))
        result["config"] = str(config)
        result["overrides"] = list(overrides or [])
        result["settings"] = cfg.model_dump(mode="json")  # the config as run, --set applied
        if json_out is not None:
            write_json(result, json_out)
            if str(json_out) == "-":
                return
            echo(f"results written to {json_out}", err=True)
        echo("\n".join(transfer_table(result, markdown=markdown)))


TRANSFER_HEADS = ("held out", "role", "support", "LOO seqeval", "LOO exact", "LOO overlap",
                  "in-domain seqeval", "in-domain exact", "in-domain overlap", "overlap ratio", "target")


def _f1(value: float) -> str:
    return f"{value * 100:.2f}"


def transfer_cells(row: dict[str, Any]) -> list[str]:
    """One table row of ``benchmark_transfer``'s ``rows``: F1 in percent, the ratio as a fraction."""
    ratio, meets = row["overlap_ratio"], row["meets_target"]
    role = row["role"] + ("" if row["in_training_data"] else " *")
    return [
        row["holdout"], role, str(int(row["support"])),
        *(_f1(row[f"{side}_{m}_f1"]) for side in ("transfer", "in_domain") for m in ("seqeval", "exact", "overlap")),
        "–" if ratio is None else f"{ratio:.2f}",
        "–" if meets is None else ("yes" if meets else "no"),
    ]


def transfer_table(result: dict[str, Any], markdown: bool = False) -> list[str]:
    """The transfer results as a terminal (or markdown) table, with the skips and notes under it."""
    rows = [transfer_cells(row) for row in result["rows"]]
    target = f">= {result['target_ratio']:.2f}"
    heads = [*TRANSFER_HEADS[:-1], target]
    title = (f"Leave-one-out transfer, F1 on each held-out corpus's {result['test_split']} split "
             f"(LOO: trained on the other corpora; in-domain: trained on all of {', '.join(result['corpora'])})")
    summary = result["summary"]
    footer = [f"{summary['roles_meeting_target']} of {summary['roles_scored']} held-out roles reach an overlap ratio "
              f"{target}" + (f" ({summary['roles_without_ratio']} without a ratio: in-domain F1 is 0)"
                             if summary["roles_without_ratio"] else "")]
    if any(not row["in_training_data"] for row in result["rows"]):
        footer.append("* no training corpus of that leave-one-out run annotates the role")
    footer += [f"note: {note}" for note in result["notes"]]
    if markdown:
        lines = [f"### {title}", "", _md_line(heads), _md_line(["---", "---"] + ["---:"] * (len(heads) - 2))]
        lines += [_md_line([_md_escape(c) if i != 1 or c != "micro" else "**micro**" for i, c in enumerate(r)])
                  for r in rows]
        return [*lines, "", *(f"*{_md_escape(line)}*  " for line in footer)]
    widths = [max(len(r[i]) for r in [heads, *rows]) for i in range(len(heads))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [title, "", line(heads), "-" * len(line(heads))]
    for index, row in enumerate(rows):
        if index and row[0] != rows[index - 1][0]:
            out.append("")
        out.append(line(row))
    return [*out, "", *footer]


def _md_escape(text: str) -> str:
    return text.replace("*", "\\*")


def _md_line(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


RECIPE_HELP = """Train and run the standard Hugging Face token-classification recipe on CORPUS: the accuracy baseline the project's tagger is compared with.

The recipe of the Hugging Face token-classification tutorial: documents cut into sentences (a simple splitter that keeps character offsets); the project's words; one flat IOB2 label per word over the roles the train split annotates (where spans overlap, the longer, then the earlier, is kept and the drop counted); labels on each word's first subword (-100 on the rest); sentences truncated at --max-length subwords; AutoModelForTokenClassification on the backbone, DataCollatorForTokenClassification and transformers.Trainer with its defaults (AdamW at learning rate 5e-5, weight decay 0, linear decay, no warm-up; the course's tutorial sets 2e-5 and 0.01: --learning-rate 2e-5 --weight-decay 0.01), trained on the train split, seqeval on the dev split after each epoch. The test split is then predicted sentence by sentence (first-subword argmax; an I- without a B- starts a span) and written to PREDICTIONS.jsonl in the project's JSON-lines format, character offsets into the original text, with a score per span (mean label probability).

CORPUS is a registry name (muc4, wikievents, ...) or a folder with train.jsonl, dev.jsonl and test.jsonl in the project format. Runs on the GPU when there is one.

Score the output with the project's own scorer:

  eventroles benchmark recipe muc4 -o runs/recipe-muc4.jsonl --seed 1 --json runs/recipe-muc4.json

  eventroles evaluate --predictions runs/recipe-muc4.jsonl --data muc4:test

(for a folder corpus: --data FOLDER/test.jsonl).
"""


@app.command("recipe", help=RECIPE_HELP)
def recipe(
    corpus: str = typer.Argument(..., metavar="CORPUS", help="Registry name or folder with train/dev/test.jsonl.", show_default=False),
    output: Path = typer.Option(..., "--output", "-o", metavar="PREDICTIONS.jsonl", help="Where to write the test predictions.", show_default=False),
    epochs: float = typer.Option(3, "--epochs", min=0.01, help="Training epochs (num_train_epochs)."),
    seed: int = typer.Option(42, "--seed", help="transformers.set_seed and the Trainer's seed (model head, data order)."),
    backbone: str = typer.Option("minilm", "--backbone", help="'minilm' (packaged), a local folder or a hub id."),
    max_length: int = typer.Option(128, "--max-length", min=8, help="Subwords per sentence; longer ones are truncated."),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="Sentences per training and prediction batch."),
    learning_rate: float = typer.Option(5e-5, "--learning-rate", min=0.0, help="Peak learning rate (linear decay to 0); the Trainer's default. The course's tutorial uses 2e-5."),
    weight_decay: float = typer.Option(0.0, "--weight-decay", min=0.0, help="AdamW weight decay; the Trainer's default. The course's tutorial uses 0.01."),
    test_split: str = typer.Option("test", "--test-split", help="The split to predict."),
    evaluate_dev: bool = typer.Option(True, "--dev/--no-dev", help="Score the dev split with seqeval after each epoch."),
    work_dir: Optional[Path] = typer.Option(None, "--work-dir", help="The Trainer's output folder; gets recipe.json (default: a temporary folder)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write settings, counts, per-epoch logs and timings as JSON to FILE ('-': standard output, the summary then goes to standard error)."),
    roles: Optional[str] = typer.Option(None, "--roles", metavar="ROLE,ROLE", help="Train only these roles (comma-separated; default: every role the train split annotates), e.g. attacker,target,weapon to match configs/muc4.yaml."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar over the training steps."),
) -> None:
    from eventroles.models.backbone import BackboneError
    from eventroles.train.hf_recipe import RecipeError, run_recipe

    for kind in (BackboneError, RecipeError):
        register_user_error(kind)
    with user_errors():
        if str(output) == "-":
            raise UserError("-o needs a file: the predictions are read back by eventroles evaluate --predictions FILE")
        check_output_path(output, "-o")
        check_output_path(json_out, "--json")
        refuse_same_output(output, "-o", json_out, "--json")
        role_list = [r.strip() for r in roles.split(",") if r.strip()] if roles is not None else None
        if role_list == []:
            raise UserError(f"--roles {roles!r} names no role; give e.g. attacker,target,weapon, or leave it out for every role")
        result = run_recipe(
            corpus, output, backbone=backbone, epochs=epochs, learning_rate=learning_rate, weight_decay=weight_decay, batch_size=batch_size,
            seed=seed, max_length=max_length, test_split=test_split, eval_split="dev" if evaluate_dev else None,
            output_dir=work_dir, log=lambda message: echo(message, err=True),
            roles=role_list, progress=progress,
        )
        to_stdout = json_out is not None and str(json_out) == "-"
        train, test = result["counts"]["train"], result["counts"]["test"]
        echo(f"train: {train['sentences']} sentences from {train['documents']} documents, {train['spans']} spans "
             f"({train['spans_dropped_overlap']} dropped as overlapping, {train['spans_cut_by_sentence_split']} cut by "
             f"the sentence split, {train['truncated_words']} words truncated)", err=to_stdout)
        echo(f"test: {test['predicted_spans']} spans predicted in {test['documents']} documents "
             f"({test['words_without_prediction']} words without a prediction)", err=to_stdout)
        echo("time: " + ", ".join(f"{k[:-2]} {v:.1f} s" for k, v in result["timings_s"].items()), err=to_stdout)
        data = f"{corpus}:{test_split}" if not Path(corpus).is_dir() else str(Path(corpus) / f"{test_split}.jsonl")
        echo(f"predictions written to {output}; score them with: eventroles evaluate --predictions {output} --data {data}", err=to_stdout)
        if json_out is not None:
            write_json(result, json_out)
            if not to_stdout:
                echo(f"results written to {json_out}", err=True)
