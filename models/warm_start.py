"""Start a training from a trained eventroles model instead of the bare backbone.

Why: a small corpus learns its roles from few updates (WikiEvents: 206 articles). An encoder
that has already learnt attack roles on every other corpus (the flagship mixture) starts it
from roles, not from a language model: intermediate-task fine-tuning. The new model takes the
trained model's backbone, its word-shape embedding (when both use one) and, for each of its
tags, the B/I scores of the trained tag of the same name or, failing that, of the same role
(MUC-4's ``PerpInd`` and ``PerpOrg`` both start from ``attacker``). Tags with neither start fresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from eventroles.data.tags import TagSet

from .backbone import backbone_from_config
from .network import RoleTagger
from .storage import ModelFolderError, load_model


@dataclass
class WarmStart:
    """What a trained model folder gives a new training."""

    folder: Path
    source: RoleTagger
    source_tags: TagSet
    tokenizer: Any
    backbone_config: dict[str, Any]

    def new_backbone(self, attention_dropout: float | None) -> Any:
        """A backbone of the source's architecture holding the source's backbone weights."""
        backbone = backbone_from_config(self.backbone_config, attention_dropout=attention_dropout)
        backbone.load_state_dict(self.source.backbone.state_dict())
        return backbone

    def copy_into(self, model: RoleTagger, tagset: TagSet) -> dict[str, str | None]:
        """Copy the shape embedding and the matching tag scores into ``model`` (built on
        ``new_backbone``); returns each new tag with the source tag it started from (None: fresh)."""
        if model.shape_embedding is not None and self.source.shape_embedding is not None:
            model.shape_embedding.load_state_dict(self.source.shape_embedding.state_dict())
        origins = {tag: source_tag_for(tag, role, self.source_tags) for tag, role in zip(tagset.tags, tagset.roles)}
        with torch.no_grad():
            weight, bias = model.heads.weight, model.heads.bias
            source_weight, source_bias = self.source.heads.weight, self.source.heads.bias
            weight[0], bias[0] = source_weight[0], source_bias[0]  # the shared outside score
            for index, tag in enumerate(tagset.tags):
                origin = origins[tag]
                if origin is None:
                    continue
                source_index = self.source_tags.tags.index(origin)
                rows = [1 + 2 * index, 2 + 2 * index]
                source_rows = [1 + 2 * source_index, 2 + 2 * source_index]
                weight[rows] = source_weight[source_rows]
                bias[rows] = source_bias[source_rows]
        return origins


def source_tag_for(tag: str, role: str, source_tags: TagSet) -> str | None:
    """The source tag a new tag starts from: the same tag of the same role, else the source's
    tag named after the role, else its first tag of that role."""
    pairs = list(zip(source_tags.tags, source_tags.roles))
    for candidate in ((tag, role), (role, role)):
        if candidate in pairs:
            return candidate[0]
    return next((source_tag for source_tag, source_role in pairs if source_role == role), None)


def load_warm_start(folder: Path) -> WarmStart:
    """Read a trained model folder (``ModelFolderError`` names the config key and what is wrong)."""
    try:
        source, tokenizer, meta = load_model(Path(folder))
    except ModelFolderError as error:
        hint = ("; it is a model `eventroles train` writes (the README's output/conflict: `eventroles train "
                "configs/conflict.yaml`, about 30 minutes, needs the six corpora), or leave model.init_from out to "
                "start from the packaged backbone") if not Path(folder).exists() else ""
        raise ModelFolderError(f"model.init_from: {error}{hint}") from None
    return WarmStart(Path(folder), source, meta.tagset, tokenizer, meta.backbone_config)
