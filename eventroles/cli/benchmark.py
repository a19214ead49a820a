"""``eventroles benchmark ...``: measurements that back the project's claims (speed, transfer).

Each verb calls a quiet library function that returns a dict, prints a readable table and can
write the dict as JSON (``--json FILE``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from ._util import echo, register_user_error, user_errors, write_json

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
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the results as JSON to FILE."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Label only the first N articles."),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="Windows per forward pass (project paths)."),
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
        options = SpeedOptions(limit, batch_size, threads, repeats, warmup, skip_baseline, baseline_batch_size, isolate)
        result = benchmark_speed(model, input_path, options, log=lambda message: echo(message, err=True))
        for line in speed_table(result):
            echo(line)
        if json_out is not None:
            write_json(result, json_out)
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
    return lines
