"""The trainer's AdamW: fused by default, the per-tensor loop on request, the same update either way."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from eventroles.train.config import load_config
from eventroles.train.optimizer import fused_adamw_supported, new_adamw
from eventroles.train.trainer import train

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "smoke.yaml"


def _one_step(fused: bool) -> list[torch.Tensor]:
    torch.manual_seed(0)
    layer = torch.nn.Linear(6, 4)
    groups = [{"params": [layer.weight], "weight_decay": 0.01}, {"params": [layer.bias], "weight_decay": 0.0}]
    optimizer = new_adamw(groups, 1e-2, torch.device("cpu"), fused=fused)
    for _ in range(3):
        layer(torch.ones(2, 6)).pow(2).sum().backward()
        optimizer.step()
        optimizer.zero_grad()
    assert bool(optimizer.param_groups[0]["fused"]) is fused
    return [p.detach().clone() for p in layer.parameters()]


def test_fused_and_loop_adamw_make_the_same_update() -> None:
    for fused, loop in zip(_one_step(True), _one_step(False)):
        assert torch.allclose(fused, loop, atol=1e-6)


def test_a_device_without_a_fused_kernel_gets_the_loop() -> None:
    assert fused_adamw_supported(torch.device("cpu"))
    assert not fused_adamw_supported(torch.device("meta"))
    weight = torch.nn.Parameter(torch.zeros(2, device="meta"))
    assert not new_adamw([{"params": [weight]}], 1e-3, torch.device("meta"), fused=True).param_groups[0]["fused"]


@pytest.mark.parametrize(("setting", "said"), [("true", "fused AdamW"), ("false", "AdamW per-tensor loop")])
def test_training_uses_and_names_the_configured_adamw(tmp_path: Path, setting: str, said: str) -> None:
    lines: list[str] = []
    config = load_config(SMOKE, [f"output.dir={tmp_path / 'model'}", f"training.fused_optimizer={setting}",
                                 "training.max_steps=4", "training.checkpoint_every=null"])
    result = train(config, progress=False, log=lines.append)
    start = next(line for line in lines if line.startswith("training on cpu"))
    assert f"(fp32, {said})" in start, start
    assert load_file(str(result.model_dir / "model.safetensors"))  # trained and saved either way


def test_a_checkpoint_from_before_the_key_resumes_with_the_loop_it_ran(tmp_path: Path) -> None:
    import json

    from eventroles.train.checkpoints import CONFIG_FILE, find_checkpoint
    from eventroles.train.trainer import TrainingInterrupted

    def config(out: Path, *overrides: str):
        return load_config(SMOKE, [f"output.dir={out}", "training.max_steps=30", *overrides])

    quiet = {"progress": False, "log": lambda message: None}
    loop = train(config(tmp_path / "loop", "training.fused_optimizer=false"), **quiet)
    with pytest.raises(TrainingInterrupted):
        train(config(tmp_path / "old", "training.fused_optimizer=false"), stop_after_steps=20, **quiet)
    checkpoint = find_checkpoint(config(tmp_path / "old").output.resolved_run_dir())
    recorded = json.loads((checkpoint / CONFIG_FILE).read_text())
    del recorded["config"]["training"]["fused_optimizer"]  # as an eventroles without the key wrote it
    (checkpoint / CONFIG_FILE).write_text(json.dumps(recorded))

    lines: list[str] = []
    resumed = train(config(tmp_path / "old"), resume=True, progress=False, log=lines.append)
    assert any("AdamW per-tensor loop, as the resumed checkpoint ran" in line for line in lines), lines
    a = load_file(str(loop.model_dir / "model.safetensors"))
    b = load_file(str(resumed.model_dir / "model.safetensors"))
    assert all((a[k] - b[k]).abs().max().item() < 1e-6 for k in a)  # ends as the uninterrupted loop run
