"""Starting a training from a trained model (`model.init_from`): what is carried over, and errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from eventroles.cli import app
from eventroles.data.tags import TagSet
from eventroles.models.backbone import RandomBackbone, build_backbone
from eventroles.models.network import RoleTagger
from eventroles.models.warm_start import WarmStart, source_tag_for
from eventroles.train.config import ConfigError, load_config
from eventroles.train.trainer import train

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "smoke.yaml"
QUIET = {"progress": False, "log": lambda message: None}
ROLE_TAGS = TagSet.from_roles(["attacker", "target", "location"])


def tiny_tagger(n_tags: int, *, word_shape: bool = True, seed: int = 0) -> RoleTagger:
    torch.manual_seed(seed)
    backbone = build_backbone(None, RandomBackbone(), 30522)
    return RoleTagger(backbone, n_tags, word_shape=word_shape)


def test_a_new_tag_starts_from_the_same_tag_else_from_its_role_else_fresh() -> None:
    native = TagSet.from_labels({"PerpInd": "attacker", "Victim": "target"})
    assert source_tag_for("attacker", "attacker", ROLE_TAGS) == "attacker"
    assert source_tag_for("PerpInd", "attacker", ROLE_TAGS) == "attacker"  # native tag <- its role
    assert source_tag_for("Victim", "target", native) == "Victim"  # same tag name and role
    assert source_tag_for("target", "target", native) == "Victim"  # the first tag of the role
    assert source_tag_for("time", "time", ROLE_TAGS) is None  # the source never learnt it


def test_copy_carries_backbone_shape_and_matching_scores_and_leaves_new_tags_fresh() -> None:
    source = tiny_tagger(len(ROLE_TAGS.tags), seed=1)
    with torch.no_grad():
        source.shape_embedding.weight.normal_()
        source.heads.bias.copy_(torch.arange(7, dtype=torch.float))
    start = WarmStart(Path("src"), source, ROLE_TAGS, tokenizer=None, backbone_config=source.backbone.config.to_dict())
    new_tags = TagSet.from_labels({"PerpOrg": "attacker", "Weapon": "weapon", "Target": "target"})
    model = RoleTagger(start.new_backbone(0.0), len(new_tags.tags), word_shape=True)
    fresh_weight, fresh_bias = model.heads.weight.detach().clone(), model.heads.bias.detach().clone()

    origins = start.copy_into(model, new_tags)

    assert origins == {"PerpOrg": "attacker", "Weapon": None, "Target": "target"}
    for name, value in source.backbone.state_dict().items():
        assert torch.equal(model.backbone.state_dict()[name], value), name
    assert model.backbone.config.attention_probs_dropout_prob == 0.0
    assert torch.equal(model.shape_embedding.weight, source.shape_embedding.weight)
    # rows: 0 outside; tag h's B and I at 1 + 2h and 2 + 2h. Source attacker 0, target 1.
    assert model.heads.bias[[0, 1, 2, 5, 6]].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert torch.equal(model.heads.bias[[3, 4]], fresh_bias[[3, 4]])
    assert torch.equal(model.heads.weight[[1, 2]], source.heads.weight[[1, 2]])
    assert torch.equal(model.heads.weight[[5, 6]], source.heads.weight[[3, 4]])
    assert torch.equal(model.heads.weight[[3, 4]], fresh_weight[[3, 4]])  # weapon: fresh


def test_a_run_started_from_a_model_begins_at_its_weights(smoke_model: Path, tmp_path: Path) -> None:
    """With a vanishing learning rate the saved model is the model it started from."""
    config = load_config(SMOKE, [
        f"output.dir={tmp_path / 'warm'}", "model.random=null", f"model.init_from={smoke_model}",
        "training.max_steps=1", "training.learning_rate=1e-12", "training.head_learning_rate=1e-12",
        "training.checkpoint_every=null", "training.eval_every=1",
    ])
    result = train(config, **QUIET)
    started, source = (load_file(str(folder / "model.safetensors")) for folder in (result.model_dir, smoke_model))
    assert started.keys() == source.keys()
    for name in source:
        assert torch.allclose(started[name], source[name], atol=1e-6), name
    assert (result.model_dir / "tokenizer.json").is_file()


def test_init_from_and_a_random_backbone_together_are_refused() -> None:
    with pytest.raises(ConfigError, match="init_from.*random"):
        load_config(SMOKE, ["model.init_from=some/model"])  # smoke.yaml has model.random


def test_train_cli_names_the_key_when_the_start_model_is_missing(tmp_path: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, [
        "train", str(SMOKE), "-o", str(tmp_path / "m"),
        "--set", "model.random=null", "--set", f"model.init_from={tmp_path / 'nowhere'}",
    ])
    assert result.exit_code == 1
    assert "model.init_from" in result.output and "does not exist" in result.output
    assert "Traceback" not in result.output


def test_pretrain_refuses_a_config_that_starts_from_a_trained_model(
    smoke_model: Path, tmp_path: Path, runner: CliRunner
) -> None:
    result = runner.invoke(app, [
        "pretrain", str(SMOKE), "-o", str(tmp_path / "out"),
        "--set", "model.random=null", "--set", f"model.init_from={smoke_model}",
    ])
    assert result.exit_code == 1
    assert "model.init_from" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()
