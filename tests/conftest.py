"""Shared fixtures: the smoke model, trained once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The test models are tiny: one thread per process is fastest, and on a shared or small machine
# several torch threads spin against each other (10-30x slower). Set before torch is imported;
# an OMP_NUM_THREADS given by the caller wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
SMOKE_CONFIG = ROOT / "configs" / "smoke.yaml"


@pytest.fixture(scope="session")
def smoke_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight BERT trained on the smoke fixtures (configs/smoke.yaml)."""
    from eventroles.train.config import load_config
    from eventroles.train.trainer import train

    folder = tmp_path_factory.mktemp("smoke") / "model"
    config = load_config(SMOKE_CONFIG, [f"output.dir={folder}"])
    result = train(config, progress=False, log=lambda message: None)
    return Path(result.model_dir)


@pytest.fixture(scope="session")
def runner():
    """A runner for the ``eventroles`` app with every verb registered, as the console script has it."""
    from typer.testing import CliRunner

    from eventroles.cli import _register, app

    if not any(command.name == "train" for command in app.registered_commands):
        _register()
    return CliRunner()

