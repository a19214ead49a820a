"""Model folders: written atomically, read back identically, clear errors for broken folders."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

import pytest
import torch

from eventroles.data.tags import TagSet
from eventroles.models import storage
from eventroles.models.backbone import RandomBackbone, build_backbone, load_tokenizer
from eventroles.models.network import RoleTagger
from eventroles.models.storage import META, WEIGHTS, ModelFolderError, ModelMeta, load_model, read_meta, save_model


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("minilm")


def _model(tokenizer, word_shape: bool = True, seed: int = 0) -> RoleTagger:
    torch.manual_seed(seed)
    backbone = build_backbone(None, RandomBackbone(hidden_size=16, num_hidden_layers=1, intermediate_size=32), len(tokenizer))
    return RoleTagger(backbone, 3, word_shape=word_shape).eval()


def _meta(model: RoleTagger) -> ModelMeta:
    tagset = TagSet.from_labels({"PerpInd": "attacker", "Target": "target", "SilverTime": "time"})
    return ModelMeta(tagset, storage.backbone_config_dict(model), word_shape=model.shape_embedding is not None,
                     max_length=64, stride=16, info={"config": {"training": {"seed": 7}}, "dev": {"f1": 0.5}})


def _saved_with_meta(tmp_path: Path, tokenizer, edit: Callable[[dict], None]) -> Path:
    """A saved model folder whose eventroles.json ``edit`` changed (as a hand, or another version, would)."""
    model = _model(tokenizer)
    folder = save_model(model, tokenizer, _meta(model), tmp_path / "tagger")
    meta = json.loads((folder / META).read_text())
    edit(meta)
    (folder / META).write_text(json.dumps(meta))
    return folder


def _outputs(model: RoleTagger, tokenizer) -> torch.Tensor:
    encoded = tokenizer(["Rebels attacked the bridge in Kyiv."], return_tensors="pt")
    shapes = torch.ones_like(encoded["input_ids"])
    with torch.no_grad():
        return model(encoded["input_ids"], encoded["attention_mask"], shapes)


def test_save_then_load_gives_the_same_model(tmp_path: Path, tokenizer) -> None:
    model = _model(tokenizer)
    with torch.no_grad():
        model.shape_embedding.weight.normal_()  # make the shape embedding matter
    meta = _meta(model)
    folder = save_model(model, tokenizer, meta, tmp_path / "models" / "tagger")
    assert folder == tmp_path / "models" / "tagger"
    assert (folder / WEIGHTS).is_file() and (folder / META).is_file()
    loaded, loaded_tokenizer, loaded_meta = load_model(folder)
    assert not loaded.training
    assert torch.allclose(_outputs(model, tokenizer), _outputs(loaded, loaded_tokenizer))
    assert loaded_meta.tagset == meta.tagset
    assert (loaded_meta.word_shape, loaded_meta.max_length, loaded_meta.stride) == (True, 64, 16)
    assert loaded_meta.info == meta.info
    assert loaded_tokenizer.is_fast
    assert loaded_tokenizer("Kyiv")["input_ids"] == tokenizer("Kyiv")["input_ids"]
    saved = json.loads((folder / META).read_text(encoding="utf-8"))
    assert saved["format_version"] == storage.FORMAT_VERSION and "eventroles_version" in saved


def test_save_replaces_an_existing_folder_and_leaves_no_temporaries(tmp_path: Path, tokenizer) -> None:
    first, second = _model(tokenizer, seed=1), _model(tokenizer, seed=2)
    folder = tmp_path / "tagger"
    save_model(first, tokenizer, _meta(first), folder)
    (folder / "stale.txt").write_text("from the old model")
    save_model(second, tokenizer, _meta(second), folder)
    assert not (folder / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tagger"]  # no staging or trash left
    loaded, _, _ = load_model(folder)
    assert torch.allclose(_outputs(loaded, tokenizer), _outputs(second, tokenizer))


def test_failed_save_keeps_the_old_model_intact(tmp_path: Path, tokenizer, monkeypatch) -> None:
    model = _model(tokenizer)
    folder = tmp_path / "tagger"
    save_model(model, tokenizer, _meta(model), folder)
    before = (folder / WEIGHTS).read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(storage, "save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        save_model(_model(tokenizer, seed=5), tokenizer, _meta(model), folder)
    assert (folder / WEIGHTS).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tagger"]
    load_model(folder)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelFolderError, match="does not exist"):
        load_model(tmp_path / "nowhere")


def test_incomplete_folder_names_the_missing_files(tmp_path: Path) -> None:
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / META).write_text("{}")
    with pytest.raises(ModelFolderError, match=f"missing {WEIGHTS}"):
        load_model(tmp_path / "half")


@pytest.mark.parametrize("content", ["not json", "{}", '{"tagset": {"tags": ["x"], "roles": ["perp"]}, "backbone_config": {}}'])
def test_bad_metadata_is_a_model_folder_error(tmp_path: Path, tokenizer, content: str) -> None:
    model = _model(tokenizer)
    folder = save_model(model, tokenizer, _meta(model), tmp_path / "tagger")
    (folder / META).write_text(content)
    with pytest.raises(ModelFolderError, match=META):
        read_meta(folder)


def test_corrupt_weights_are_a_model_folder_error(tmp_path: Path, tokenizer) -> None:
    model = _model(tokenizer)
    folder = save_model(model, tokenizer, _meta(model), tmp_path / "tagger")
    (folder / WEIGHTS).write_bytes(b"\x00" * 64)
    with pytest.raises(ModelFolderError, match="could not be read"):
        load_model(folder)


def test_weights_that_do_not_match_the_metadata(tmp_path: Path, tokenizer) -> None:
    # the weights hold a shape embedding the metadata does not describe
    folder = _saved_with_meta(tmp_path, tokenizer, lambda meta: meta.update(word_shape=False))
    with pytest.raises(ModelFolderError, match="does not match"):
        load_model(folder)


def test_weights_for_another_number_of_tags(tmp_path: Path, tokenizer) -> None:
    # five heads; the weights hold three
    folder = _saved_with_meta(tmp_path, tokenizer, lambda meta: meta.update(tagset=TagSet.from_roles().to_dict()))
    with pytest.raises(ModelFolderError, match="does not match"):
        load_model(folder)


def test_missing_tokenizer_is_a_model_folder_error(tmp_path: Path, tokenizer) -> None:
    model = _model(tokenizer)
    folder = save_model(model, tokenizer, _meta(model), tmp_path / "tagger")
    for path in folder.iterdir():
        if path.name not in (META, WEIGHTS):
            path.unlink()
    with pytest.raises(ModelFolderError, match="tokenizer"):
        load_model(folder)


def test_a_model_of_an_older_format_says_to_retrain(tmp_path: Path, tokenizer) -> None:
    # B/I/O softmax per tag: its weights mean something else now
    folder = _saved_with_meta(tmp_path, tokenizer, lambda meta: meta.update(format_version=1))
    with pytest.raises(ModelFolderError, match="format version 1.*retrain it with `eventroles train`"):
        load_model(folder)


def test_a_model_without_tokenizer_json_is_refused_not_loaded_with_five_tokens(tmp_path: Path, tokenizer) -> None:
    model = _model(tokenizer)
    folder = save_model(model, tokenizer, _meta(model), tmp_path / "tagger")
    (folder / "tokenizer.json").unlink()  # tokenizer_config.json stays: transformers would build [PAD] [UNK] ... only
    with pytest.raises(ModelFolderError, match="missing tokenizer.json"):
        load_model(folder)


def test_a_model_of_a_newer_format_says_to_upgrade(tmp_path: Path, tokenizer) -> None:
    folder = _saved_with_meta(tmp_path, tokenizer, lambda meta: meta.update(format_version=storage.FORMAT_VERSION + 1))
    with pytest.raises(ModelFolderError, match="newer eventroles.*upgrade eventroles"):
        load_model(folder)


@pytest.mark.parametrize("change", [{"model_type": None}, {"model_type": "no-such-architecture"}])
def test_a_backbone_description_that_cannot_be_built_names_the_file(tmp_path: Path, tokenizer, change: dict) -> None:
    def edit(meta: dict) -> None:
        meta["backbone_config"].update(change)
        if change["model_type"] is None:
            del meta["backbone_config"]["model_type"]

    folder = _saved_with_meta(tmp_path, tokenizer, edit)
    with pytest.raises(ModelFolderError, match=f"{META}: the backbone configuration"):
        load_model(folder)


def test_a_saved_model_is_readable_by_others_as_the_umask_says(tmp_path: Path, tokenizer) -> None:
    model = _model(tokenizer)
    old = os.umask(0o022)
    try:
        folder = save_model(model, tokenizer, _meta(model), tmp_path / "tagger")
    finally:
        os.umask(old)
    assert folder.stat().st_mode & 0o777 == 0o755  # mkdtemp alone gives 0700
    assert {path.stat().st_mode & 0o777 for path in folder.iterdir()} == {0o644}  # safetensors alone writes 0600


def test_foreign_files_are_what_the_folder_list_or_any_tokenizer_would_not_name(tmp_path: Path) -> None:
    for name in ("eventroles.json", "model.safetensors", "tokenizer.json", "vocab.json", "merges.txt", "labelled.jsonl", ".DS_Store"):
        (tmp_path / name).write_text("x")
    assert storage.foreign_files(tmp_path, None) == ["labelled.jsonl"]  # an older folder: a RoBERTa tokenizer is ours
    assert storage.foreign_files(tmp_path, {"eventroles.json", "model.safetensors", "tokenizer.json"}) == [
        "labelled.jsonl", "merges.txt", "vocab.json"]


def test_a_file_given_as_the_model_folder_says_the_order(tmp_path: Path) -> None:
    article = tmp_path / "a1.txt"
    article.write_text("Rebels attacked Kyiv.")
    with pytest.raises(ModelFolderError, match="is a file, not a model folder$"):  # every verb reads it: no verb named
        read_meta(article)


def test_a_description_with_other_sizes_is_refused_before_anything_is_allocated(tmp_path: Path, tokenizer, monkeypatch) -> None:
    """A handed-over eventroles.json claiming ten billion vocabulary rows is named, not built:
    building it would take 640 GB before the weights' shapes could be compared."""
    folder = _saved_with_meta(tmp_path, tokenizer, lambda meta: meta["backbone_config"].update(vocab_size=10**10))
    built: list[int] = []
    real = storage.backbone_from_config
    monkeypatch.setattr(storage, "backbone_from_config", lambda config: built.append(config["vocab_size"]) or real(config))
    with pytest.raises(ModelFolderError, match=r"word_embeddings.weight is \[\d+, 16\] in the weights, \[10000000000, 16\]"):
        load_model(folder)
    assert built == [10**10]  # the description was built once, on the meta device, and no more
