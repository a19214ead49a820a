"""``eventroles train CONFIG``: one YAML file -> a trained model folder."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._util import SET_HELP, check_output_path, echo, register_user_error, user_errors


def register(app: typer.Typer) -> None:
    from eventroles.models.backbone import BackboneError
    from eventroles.models.storage import ModelFolderError
    from eventroles.train.calibration import CalibrationError
    from eventroles.train.config import ConfigError
    from eventroles.train.trainer import TrainingStopped

    register_user_error(CalibrationError)
    register_user_error(ConfigError)
    register_user_error(BackboneError)
    register_user_error(ModelFolderError)
    register_user_error(TrainingStopped)

    @app.command("train")
    def train_cli(
        config: Path = typer.Argument(..., help="A YAML config (see `eventroles init-config`)."),
        output: Optional[Path] = typer.Option(None, "--output", "-o", help="Model folder to write (overrides output.dir)."),
        overrides: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP),
        resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run from its last checkpoint."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    ) -> None:
        """Fine-tune an event-role tagger as the config says; writes the model folder atomically.

        Runs on CPU or GPU as available; for several GPUs or machines use
        `accelerate launch -m eventroles.cli train CONFIG`.

        In one process, Ctrl-C (or SIGTERM) finishes the current step, saves a checkpoint in the run folder (OUTPUT.run) and stops; run the same command with --resume to go on. --resume refuses a checkpoint written by another config (it names the keys that differ), and a fresh run refuses to throw away an interrupted run's checkpoint. With several processes (accelerate launch) a signal stops the run and only the periodic checkpoints (training.checkpoint_every) remain.
        """
        from eventroles.train.config import load_config
        from eventroles.train.trainer import train

        with user_errors():
            extra = list(overrides or [])
            if output is not None:
                extra.append(f"output.dir={output}")
            cfg = load_config(config, extra)
            check_output_path(cfg.output.dir, "-o" if output is not None else f"output.dir of {config}", folder=True)
            result = train(cfg, resume=resume, progress=progress, log=echo)
            stats = result.stats
            echo(f"model written to {result.model_dir}")
            calibration = result.calibration
            tuned = (f"; {calibration.score:.4f} at the calibrated span offset {calibration.offset:+.2f}"
                     if calibration is not None else "")
            best = (f"best dev {cfg.training.selection_metric} micro F1 {result.best_dev.get('score', 0.0):.4f} at step "
                    f"{stats['best_step']}{tuned}" if result.best_dev else f"no dev evaluation: the weights of step {stats['best_step']}")
            echo(f"{best}; "
                 f"{stats['train_seconds']} s training, {stats['train_subwords_per_s']} subwords/s, "
                 f"peak memory {stats['peak_memory_mb']} MB, {stats['precision']} on {stats['device']}")
