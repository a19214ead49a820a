"""Save and load trained models: one folder, written atomically, loadable with no network.

Layout: ``model.safetensors`` (backbone + heads), ``tokenizer*`` files, ``eventroles.json``
(tag set, backbone config, options, the resolved training config, corpora, dev metrics,
package version). Weights are read with safetensors only: nothing is ever unpickled.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from eventroles import __version__
from eventroles.data.download import current_umask
from eventroles.data.tags import TagSet

from .backbone import BackboneError, backbone_from_config, check_vocabulary
from .network import RoleTagger

WEIGHTS = "model.safetensors"
META = "eventroles.json"
TOKENIZER = "tokenizer.json"  # without it transformers builds a tokenizer of five special tokens, silently
# 2: one shared outside score and B/I per tag (version 1 had a B/I/O softmax per tag).
FORMAT_VERSION = 2


class ModelFolderError(Exception):
    """A model folder that is missing, incomplete or not an eventroles model."""


@dataclass
class ModelMeta:
    tagset: TagSet
    backbone_config: dict[str, Any]
    word_shape: bool = False
    max_length: int = 256
    stride: int = 64
    info: dict[str, Any] = field(default_factory=dict)  # config, corpora, dev metrics...
    # Subtracted from the B and I scores before decoding: the offset calibrated on the dev splits
    # after training (train/calibration.py), or log(span_weight), which undoes the prior shift a
    # span-weighted training loss gives (B/I odds come out span_weight times too high).
    span_logit_offset: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "eventroles_version": __version__,
            "tagset": self.tagset.to_dict(),
            "backbone_config": self.backbone_config,
            "word_shape": self.word_shape,
            "max_length": self.max_length,
            "stride": self.stride,
            "span_logit_offset": self.span_logit_offset,
            **self.info,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelMeta":
        known = {"format_version", "eventroles_version", "files", "tagset", "backbone_config", "word_shape", "max_length",
                 "stride", "span_logit_offset"}
        return cls(
            TagSet.from_dict(data["tagset"]),
            data["backbone_config"],
            bool(data.get("word_shape", False)),
            int(data.get("max_length", 256)),
            int(data.get("stride", 64)),
            {k: v for k, v in data.items() if k not in known},
            float(data.get("span_logit_offset", 0.0)),
        )


def backbone_config_dict(model: RoleTagger) -> dict[str, Any]:
    config = model.backbone.config.to_dict()
    keep = {k: v for k, v in config.items() if not k.startswith("_") and k not in ("architectures", "transformers_version", "torch_dtype", "dtype")}
    keep["model_type"] = model.backbone.config.model_type
    return keep


def save_model(model: RoleTagger, tokenizer: Any, meta: ModelMeta, folder: Path) -> Path:
    """Write the model folder atomically (``replace_folder``)."""

    def write(staging: Path) -> None:
        state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(staging / WEIGHTS), metadata={"format": "pt"})
        tokenizer.save_pretrained(str(staging))
        data = {**meta.to_dict(), "files": sorted([*(p.name for p in staging.iterdir()), META])}
        (staging / META).write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")

    return replace_folder(Path(folder), write)


def replace_folder(folder: Path, write: Callable[[Path], None]) -> Path:
    """Write a folder atomically: ``write`` fills a temporary sibling, which then takes the place
    of ``folder`` (an old one is swapped out, then removed). A failed write leaves ``folder`` as
    it was and no temporary folder behind."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        write(staging)
        _shareable(staging)
        if folder.exists():
            trash = folder.with_name(f".{folder.name}.old")
            shutil.rmtree(trash, ignore_errors=True)
            os.replace(folder, trash)
            os.replace(staging, folder)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def saved_files(folder: Path, record: str = META) -> set[str] | None:
    """The names eventroles wrote into a folder, as its ``record`` lists them (``eventroles.json``
    of a model folder; ``pretrain`` keeps its own mark), or None for a folder written before the
    list was kept, or without such a record."""
    try:
        files = json.loads((Path(folder) / record).read_text(encoding="utf-8")).get("files")
    except (OSError, ValueError, AttributeError):
        return None
    return {str(name) for name in files} if isinstance(files, list) else None


# What a model or backbone folder that eventroles wrote may hold besides what its metadata lists
# (folders written before the lists were kept): weights, configs, any tokenizer's files.
_WRITTEN_NAMES = frozenset({META, WEIGHTS, "config.json", "generation_config.json", "vocab.txt", "vocab.json",
                            "merges.txt", "special_tokens_map.json", "added_tokens.json", "spiece.model",
                            "sentencepiece.bpe.model", "chat_template.jinja"})


def foreign_files(folder: Path, listed: set[str] | None) -> list[str]:
    """Files in ``folder`` that eventroles did not write: not in ``listed`` (the names its metadata
    records), or for an older folder without such a list, no weights, config or tokenizer file.
    Replacing the folder would delete them. Hidden files (.DS_Store) are not counted."""
    def written(name: str) -> bool:
        if listed is not None:
            return name in listed
        return name in _WRITTEN_NAMES or name.startswith(("tokenizer", "eventroles"))

    return sorted(p.name for p in Path(folder).iterdir() if not p.name.startswith(".") and not written(p.name))


def _shareable(folder: Path) -> None:
    """Give a written folder the modes of the umask (mkdtemp makes it 0700, safetensors writes
    0600), so a model trained in a container or by one user can be read by the others."""
    umask = current_umask()
    folder.chmod(0o777 & ~umask)
    for path in folder.rglob("*"):
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def read_meta(folder: Path) -> ModelMeta:
    folder = Path(folder)
    if folder.is_file():
        raise ModelFolderError(f"{folder} is a file, not a model folder")
    if not folder.is_dir():
        raise ModelFolderError(f"model folder {folder} does not exist")
    missing = [name for name in (META, WEIGHTS) if not (folder / name).is_file()]
    if missing:
        raise ModelFolderError(
            f"model folder {folder} is incomplete: missing {', '.join(missing)} "
            "(is it an eventroles model folder written by `eventroles train`?)"
        )
    try:
        data = json.loads((folder / META).read_text(encoding="utf-8"))
        version = int(data["format_version"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise ModelFolderError(f"{folder / META} is not a valid eventroles metadata file: {error}") from None
    if version > FORMAT_VERSION:  # before reading the rest: a newer layout may not parse here
        raise ModelFolderError(
            f"{folder} holds a model of format version {version}, written by a newer eventroles "
            f"({data.get('eventroles_version', 'unknown')}); this one ({__version__}) reads version "
            f"{FORMAT_VERSION}: upgrade eventroles to load it"
        )
    if version != FORMAT_VERSION:
        raise ModelFolderError(
            f"{folder} holds a model of format version {version}; this eventroles ({__version__}) reads "
            f"version {FORMAT_VERSION}: retrain it with `eventroles train` (the tagging layer changed)"
        )
    try:
        return ModelMeta.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ModelFolderError(f"{folder / META} is not a valid eventroles metadata file: {error}") from None


def check_weight_shapes(folder: Path, described: RoleTagger) -> None:
    """Refuse a folder whose weights file holds other tensors, or tensors of other shapes, than
    its metadata describes, reading only the file's header: a handed-over ``eventroles.json``
    with a huge ``vocab_size`` would otherwise allocate that much memory before any check ran."""
    try:
        with safe_open(str(folder / WEIGHTS), framework="pt") as weights:
            shapes = {name: list(weights.get_slice(name).get_shape()) for name in weights.keys()}
    except Exception as error:  # safetensors raises its own error types
        raise ModelFolderError(f"{folder / WEIGHTS} could not be read: {error}") from None
    expected = {name: list(tensor.shape) for name, tensor in described.state_dict().items()}
    missing, unexpected = sorted(expected.keys() - shapes.keys()), sorted(shapes.keys() - expected.keys())
    if missing or unexpected:
        raise ModelFolderError(
            f"{folder / WEIGHTS} does not match the model described in {META}: "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    for name, shape in expected.items():
        if shapes[name] != shape:
            raise ModelFolderError(
                f"{folder / WEIGHTS} does not match the model described in {META}: {name} is "
                f"{shapes[name]} in the weights, {shape} in the description"
            )


def _described_model(meta: ModelMeta) -> RoleTagger:
    """An untrained model of the architecture ``meta`` describes (on the current default device)."""
    return RoleTagger(backbone_from_config(meta.backbone_config), len(meta.tagset.tags), word_shape=meta.word_shape)


def load_model(folder: Path) -> tuple[RoleTagger, Any, ModelMeta]:
    from transformers import AutoTokenizer

    folder = Path(folder)
    meta = read_meta(folder)
    if not (folder / TOKENIZER).is_file():
        raise ModelFolderError(f"model folder {folder} is incomplete: missing {TOKENIZER}")
    try:
        with torch.device("meta"):  # shapes only: nothing is allocated before they are checked
            described = _described_model(meta)
    except BackboneError as error:
        raise ModelFolderError(f"{folder / META}: {error}") from None
    check_weight_shapes(folder, described)
    model = _described_model(meta)
    try:
        state = load_file(str(folder / WEIGHTS))
    except Exception as error:  # safetensors raises its own error types
        raise ModelFolderError(f"{folder / WEIGHTS} could not be read: {error}") from None
    model.load_state_dict(state)  # names and shapes were checked against the header above
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), use_fast=True, trust_remote_code=False)
        check_vocabulary(tokenizer, f"model folder {folder}", meta.backbone_config.get("vocab_size"))
    except (OSError, ValueError, BackboneError) as error:
        raise ModelFolderError(f"model folder {folder} has no usable tokenizer: {error}") from None
    tokenizer.model_max_length = 10**9
    model.eval()
    return model, tokenizer, meta
