"""``eventroles pretrain CONFIG -o FOLDER``: a backbone adapted to the config's training texts."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._util import SET_HELP, check_output_path, echo, register_user_error, user_errors, write_json


PRETRAIN_HELP = """Continue the masked-language-model pretraining of the config's backbone on the texts of its corpora's training splits (never dev or test), and write a backbone folder.

Ctrl-C stops it without writing anything (there is no --resume: run it again).

Why: in-domain masked-word training before fine-tuning (ConfliBERT; "Don't stop pretraining") teaches the backbone the corpus's words and names. docs/benchmarks.md has what it bought. Uses the config's training.device, training.precision, training.threads and training.fused_optimizer.

Then train with the folder as the backbone:

  eventroles pretrain configs/muc4.yaml -o backbones/muc4

  eventroles train configs/muc4.yaml --set model.backbone=backbones/muc4
"""


def register(app: typer.Typer) -> None:
    from eventroles.models.backbone import BackboneError
    from eventroles.train.config import ConfigError

    register_user_error(ConfigError)
    register_user_error(BackboneError)

    @app.command("pretrain", help=PRETRAIN_HELP)
    def pretrain_cli(
        config: Path = typer.Argument(..., help="The training config whose corpora (training splits only) give the texts."),
        output: Path = typer.Option(..., "--output", "-o", help="Backbone folder to write; name it as model.backbone."),
        epochs: float = typer.Option(4.0, min=0.01, help="Passes over the texts."),
        learning_rate: float = typer.Option(1e-4, "--learning-rate", min=0.0, help="Peak AdamW learning rate (linear decay, 6% warm-up)."),
        batch_size: int = typer.Option(16, "--batch-size", min=1, help="Rows of --max-length subwords per step."),
        max_length: int = typer.Option(256, "--max-length", min=8, max=512, help="Subwords per row."),
        seed: int = typer.Option(13, help="Masking and row order."),
        overrides: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP),
        json_path: Optional[Path] = typer.Option(None, "--json", help="Write the run's numbers as JSON."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    ) -> None:
        from eventroles.train.config import load_config
        from eventroles.train.pretraining import PretrainSettings, pretrain, summary

        with user_errors():
            cfg = load_config(config, list(overrides or []))
            check_output_path(output, "-o", folder=True)
            check_output_path(json_path, "--json")
            settings = PretrainSettings(epochs=epochs, learning_rate=learning_rate, batch_size=batch_size,
                                        max_length=max_length, seed=seed)
            try:
                result = pretrain(cfg, output, settings, progress=progress, log=echo)
            except KeyboardInterrupt:
                echo(f"interrupted: nothing written to {output} (a folder already there is unchanged); pretraining "
                     "cannot resume, so run it again", err=True)
                raise typer.Exit(130) from None
            echo(f"backbone written to {result.folder}: {result.steps} steps, masked-LM loss "
                 f"{result.first_loss:.3f} -> {result.last_loss:.3f}, {result.seconds} s, "
                 f"{result.precision} on {result.device}")
            if json_path is not None:
                write_json(summary(result), json_path)
