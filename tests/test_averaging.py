"""The weight average: its arithmetic, swapping it in and out, and surviving a resume."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from eventroles.train.averaging import WeightAverage


def test_average_follows_the_formula_and_swaps_in_and_out(tmp_path: Path) -> None:
    model = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    average = WeightAverage(model, decay=0.5)
    expected = 0.0
    for step, value in enumerate([1.0, 2.0, 4.0], start=1):
        with torch.no_grad():
            model.weight.fill_(value)
        average.update(model)
        decay = min(0.5, (1 + step) / (10 + step))
        expected = decay * expected + (1 - decay) * value
    assert average.shadow["weight"][0, 0].item() == pytest.approx(expected)
    with average.applied(model):
        assert model.weight[0, 0].item() == pytest.approx(expected)
    assert model.weight[0, 0].item() == 4.0, "the raw weights come back after the block"

    average.save(tmp_path / "avg.safetensors")
    again = WeightAverage(model, decay=0.5)
    again.load(tmp_path / "avg.safetensors")
    assert again.updates == 3 and torch.equal(again.shadow["weight"], average.shadow["weight"])
    with pytest.raises(ValueError, match="does not fit this model .1 weights missing"):
        WeightAverage(torch.nn.Linear(2, 1), decay=0.5).load(tmp_path / "avg.safetensors")
    with pytest.raises(ValueError, match="1 of another shape"):
        WeightAverage(torch.nn.Linear(3, 1, bias=False), decay=0.5).load(tmp_path / "avg.safetensors")
    with pytest.raises(FileNotFoundError, match="saved without a weight average"):
        again.load(tmp_path / "none.safetensors")


def test_resumed_run_with_a_weight_average_ends_like_an_uninterrupted_one(tmp_path: Path) -> None:
    from eventroles.train.config import load_config
    from eventroles.train.trainer import TrainingInterrupted, train

    root = Path(__file__).resolve().parents[1]
    quiet = {"progress": False, "log": lambda message: None}

    def config(out: Path):
        return load_config(root / "configs" / "smoke.yaml", [f"output.dir={out}", "training.weight_average=0.9"])

    full = train(config(tmp_path / "full"), **quiet)
    with pytest.raises(TrainingInterrupted):
        train(config(tmp_path / "resumed"), stop_after_steps=20, **quiet)
    resumed = train(config(tmp_path / "resumed"), resume=True, **quiet)
    assert resumed.state.history == full.state.history
    a = load_file(str(full.model_dir / "model.safetensors"))
    b = load_file(str(resumed.model_dir / "model.safetensors"))
    assert all((a[k] - b[k]).abs().max().item() < 1e-6 for k in a)
    plain = train(load_config(root / "configs" / "smoke.yaml", [f"output.dir={tmp_path / 'plain'}"]), **quiet)
    c = load_file(str(plain.model_dir / "model.safetensors"))
    assert any((a[k] - c[k]).abs().max().item() > 1e-4 for k in a), "the average is what gets saved"
