"""Continued masked-LM pretraining (``train/pretraining.py``, ``eventroles pretrain``): packing,
masking, that only training texts are read, and that the written folder is a usable backbone.
Mechanics on a tiny random BERT saved as a local backbone folder; never the hub."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from eventroles.train.pretraining import PretrainSettings, mask_tokens, pack_chunks, pretrain, training_texts

SMOKE = Path(__file__).resolve().parent / "fixtures" / "smoke"


def test_pack_chunks_keeps_every_subword_between_cls_and_sep() -> None:
    docs = [[5, 6, 7], [8, 9], [10, 11, 12, 13]]
    rows, attention = pack_chunks(docs, length=6, cls_id=1, sep_id=2, pad_id=0)
    assert rows.shape[1] == 6
    content = []
    for row, mask in zip(rows.tolist(), attention.tolist()):
        used = row[: sum(mask)]
        assert used[0] == 1 and used[-1] == 2
        assert all(token == 0 for token in row[sum(mask):])
        content += used[1:-1]
    # documents joined by [SEP], nothing dropped, order kept
    assert content == [5, 6, 7, 2, 8, 9, 2, 10, 11, 12, 13, 2]


def test_mask_tokens_never_masks_special_or_padding_and_labels_only_chosen() -> None:
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(100, 1000, (64, 32))
    attention = torch.ones_like(ids)
    attention[:, 28:] = 0
    special = torch.zeros_like(ids, dtype=torch.bool)
    special[:, 0] = True
    inputs, labels = mask_tokens(ids, attention, special, mask_id=3, vocab_size=1000, probability=0.15,
                                 generator=generator)
    chosen = labels != -100
    assert not chosen[:, 0].any() and not chosen[:, 28:].any()
    assert torch.equal(labels[chosen], ids[chosen])
    assert torch.equal(inputs[~chosen], ids[~chosen])  # unchosen positions are never altered
    rate = chosen.float().sum() / (attention.sum() - 64)
    assert 0.11 < float(rate) < 0.19
    masked = (inputs == 3) & chosen
    assert 0.7 < float(masked.sum() / chosen.sum()) < 0.9


@pytest.fixture(scope="module")
def tiny_backbone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random BERT with the packaged tokenizer, saved as a local backbone folder."""
    from transformers import AutoModel

    from eventroles.models.backbone import RandomBackbone, load_tokenizer, random_bert_config

    folder = tmp_path_factory.mktemp("tiny") / "backbone"
    tokenizer = load_tokenizer("minilm")
    config = random_bert_config(RandomBackbone(), len(tokenizer), attention_probs_dropout_prob=0.1)
    AutoModel.from_config(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def smoke_config(tmp_path: Path, backbone: Path):
    from eventroles.train.config import load_config

    config = tmp_path / "config.yaml"
    config.write_text(
        f"model:\n  backbone: {backbone}\n"
        f"data:\n  corpora:\n    - path: {SMOKE}\n      train: [train]\n      dev: [dev]\n"
        "training:\n  precision: fp32\n"
    )
    return load_config(config)


def test_only_training_split_texts_are_read(tmp_path: Path, tiny_backbone: Path) -> None:
    texts = training_texts(smoke_config(tmp_path, tiny_backbone))
    split_texts = {
        split: [json.loads(line)["text"] for line in (SMOKE / f"{split}.jsonl").read_text().splitlines() if line.strip()]
        for split in ("train", "dev", "test")
    }
    assert texts == split_texts["train"]
    assert not set(texts) & (set(split_texts["dev"]) | set(split_texts["test"]))


def test_pretrain_writes_a_backbone_that_training_can_load(
    tmp_path: Path, tiny_backbone: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from safetensors.torch import load_file

    from eventroles.models.backbone import build_backbone

    out = tmp_path / "adapted"
    settings = PretrainSettings(epochs=20, learning_rate=2e-3, batch_size=4, max_length=32, seed=3)
    result = pretrain(smoke_config(tmp_path, tiny_backbone), out, settings, progress=False)
    assert result.steps > 0 and result.last_loss < result.first_loss  # it learnt something
    assert {p.name for p in out.iterdir()} >= {"config.json", "model.safetensors", "tokenizer.json", "eventroles_pretrain.json"}
    assert [p.name for p in tmp_path.iterdir() if "adapted" in p.name] == ["adapted"]  # no staging folder left
    assert json.loads((out / "eventroles_pretrain.json").read_text())["steps"] == result.steps  # its own mark
    saved = json.loads((out / "config.json").read_text())
    assert saved["attention_probs_dropout_prob"] == 0.1  # the checkpoint's own, not pretraining's 0
    before, after = load_file(tiny_backbone / "model.safetensors"), load_file(out / "model.safetensors")
    assert set(after) <= set(before) | {"embeddings.position_ids"}  # no masked-LM head in the folder
    changed = [key for key in after if key in before and not torch.equal(before[key], after[key])]
    assert changed, "pretraining changed no weight"
    model = build_backbone(str(out), None, 0)
    assert "initialised at random" not in caplog.text  # every encoder weight came from the folder
    assert np.isclose(float(model.embeddings.word_embeddings.weight.detach()[7, 0]),
                      float(after["embeddings.word_embeddings.weight"][7, 0]))
    again = pretrain(smoke_config(tmp_path, tiny_backbone), out, PretrainSettings(epochs=1, max_length=32), progress=False)
    assert again.steps < result.steps and json.loads((out / "eventroles_pretrain.json").read_text())["steps"] == again.steps


def test_cli_writes_the_backbone_and_its_numbers(tmp_path: Path, tiny_backbone: Path, runner: CliRunner) -> None:
    from eventroles.cli import app

    smoke_config(tmp_path, tiny_backbone)  # writes tmp_path/config.yaml
    out, numbers = tmp_path / "cli-backbone", tmp_path / "run.json"
    result = runner.invoke(app, ["pretrain", str(tmp_path / "config.yaml"), "-o", str(out), "--epochs", "1",
                                 "--batch-size", "4", "--max-length", "32", "--no-progress", "--json", str(numbers)])
    assert result.exit_code == 0, result.output
    assert f"backbone written to {out}" in result.output
    summary = json.loads(numbers.read_text())
    assert summary["documents"] == len((SMOKE / "train.jsonl").read_text().splitlines())
    assert summary["steps"] >= 1 and (out / "model.safetensors").is_file()


def test_cli_names_a_backbone_that_cannot_be_loaded(tmp_path: Path, runner: CliRunner) -> None:
    from eventroles.cli import app

    empty = tmp_path / "not-a-model"
    empty.mkdir()
    config = smoke_config(tmp_path, empty)  # noqa: F841 - writes tmp_path/config.yaml
    result = runner.invoke(app, ["pretrain", str(tmp_path / "config.yaml"), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "no config.json" in result.output and "Traceback" not in result.output


def test_an_output_that_is_not_a_backbone_folder_is_refused_before_training(
    tmp_path: Path, tiny_backbone: Path
) -> None:
    precious = tmp_path / "articles"
    precious.mkdir()
    (precious / "note.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a backbone folder"):
        pretrain(smoke_config(tmp_path, tiny_backbone), precious, PretrainSettings(epochs=1), progress=False)
    assert (precious / "note.txt").read_text() == "keep me"
    with pytest.raises(FileExistsError, match="the backbone being pretrained"):
        pretrain(smoke_config(tmp_path, tiny_backbone), tiny_backbone, PretrainSettings(epochs=1), progress=False)
    downloaded = tmp_path / "other-backbone"  # a backbone folder pretrain did not write: not replaced
    shutil.copytree(tiny_backbone, downloaded)
    with pytest.raises(FileExistsError, match="did not write"):
        pretrain(smoke_config(tmp_path, tiny_backbone), downloaded, PretrainSettings(epochs=1), progress=False)
    assert sorted(p.name for p in downloaded.iterdir()) == sorted(p.name for p in tiny_backbone.iterdir())


def test_an_earlier_pretraining_folder_holding_files_of_the_user_is_not_replaced(tmp_path: Path) -> None:
    from eventroles.train.pretraining import PRETRAINED_MARK, check_output

    earlier = tmp_path / "pt"
    earlier.mkdir()
    (earlier / "config.json").write_text("{}")
    (earlier / PRETRAINED_MARK).write_text(json.dumps({"source": "minilm", "corpora": ["sample"], "steps": 1,
                                                       "files": ["config.json", PRETRAINED_MARK]}))
    check_output(earlier, "minilm")  # what pretrain wrote itself is replaced
    (earlier / "notes.md").write_text("my notes on this backbone")
    with pytest.raises(FileExistsError, match="also holds notes.md"):
        check_output(earlier, "minilm")


def test_dev_or_test_named_as_training_splits_are_refused(tmp_path: Path, tiny_backbone: Path) -> None:
    from eventroles.train.config import ConfigError

    config = smoke_config(tmp_path, tiny_backbone)
    config.data.corpora[0].train = ["train", "test"]
    with pytest.raises(ConfigError, match=r"data.corpora.0 \(smoke\): train lists test; pretraining reads training splits only"):
        training_texts(config)


def test_a_training_text_also_in_a_held_out_split_is_said(tmp_path: Path, tiny_backbone: Path) -> None:
    corpus = tmp_path / "smoke"
    shutil.copytree(SMOKE, corpus)
    dev_line = json.loads((corpus / "dev.jsonl").read_text(encoding="utf-8").splitlines()[0])
    with (corpus / "train.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({**dev_line, "id": "copy-of-dev"}) + "\n")
    said: list[str] = []
    training_texts(smoke_config(tmp_path, tiny_backbone), said.append)  # the fixture's own folder has no copy
    assert not said
    config = smoke_config(tmp_path, tiny_backbone)
    config.data.corpora[0].path = corpus
    training_texts(config, said.append)
    assert len(said) == 1 and f"train copy-of-dev = dev {dev_line['id']}" in said[0]


def test_cli_checks_the_output_before_training_and_says_what_an_interruption_leaves(
    tmp_path: Path, tiny_backbone: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eventroles.cli import app
    from eventroles.train import pretraining

    smoke_config(tmp_path, tiny_backbone)
    (tmp_path / "notes.txt").write_text("x")
    result = runner.invoke(app, ["pretrain", str(tmp_path / "config.yaml"), "-o", str(tmp_path / "notes.txt" / "pt")])
    assert result.exit_code == 1 and "notes.txt is a file, not a folder" in result.output
    assert "pretraining on" not in result.output

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pretraining, "pretrain", interrupted)
    result = runner.invoke(app, ["pretrain", str(tmp_path / "config.yaml"), "-o", str(tmp_path / "pt")])
    assert result.exit_code == 130
    assert "interrupted: nothing written" in result.output and "run it again" in result.output


def test_bf16_pretraining_on_a_cpu_without_bf16_units_is_warned_of(
    tmp_path: Path, tiny_backbone: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eventroles.models import precision

    monkeypatch.setattr(precision, "cpu_has_bf16_units", lambda: False)
    config = smoke_config(tmp_path, tiny_backbone)
    config.training.precision = "bf16"
    said: list[str] = []
    pretrain(config, tmp_path / "pt", PretrainSettings(epochs=1, max_length=32), progress=False, log=said.append)
    assert any(line.startswith("warning: this CPU has no bf16 units") and "training.precision auto" in line for line in said)


@pytest.mark.parametrize(("fused", "said"), [(True, "optimizer: fused AdamW"), (False, "optimizer: AdamW per-tensor loop")])
def test_pretraining_uses_and_names_the_configured_adamw(
    tmp_path: Path, tiny_backbone: Path, fused: bool, said: str
) -> None:
    config = smoke_config(tmp_path, tiny_backbone)
    config.training.fused_optimizer = fused
    lines: list[str] = []
    pretrain(config, tmp_path / "pt", PretrainSettings(epochs=1, max_length=32), progress=False, log=lines.append)
    assert said in lines, lines
