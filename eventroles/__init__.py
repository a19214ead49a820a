"""eventroles: who attacked, whom, where and when, tagged in conflict news.

    from eventroles import Tagger
    tagger = Tagger.load("output/default", device="auto")
    tagger("Rebels shelled the town of Kalu on Sunday.")
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Tagger", "Document", "Span", "ROLES", "load_corpus", "span_dicts", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy: importing eventroles (or running `eventroles --help`) does not import torch.
    if name in ("Tagger", "span_dicts"):
        from eventroles.models import inference

        return getattr(inference, name)
    if name in ("Document", "Span"):
        from eventroles.data import document

        return getattr(document, name)
    if name == "ROLES":
        from eventroles.data.roles import ROLES

        return ROLES
    if name == "load_corpus":
        from eventroles.data.registry import load_corpus

        return load_corpus
    raise AttributeError(f"module 'eventroles' has no attribute {name!r}")
