"""Reproducible splits for corpora that come without one (re3d, CASIE, CAMEO NER's dev part).

A document goes to a split by a hash of a stable key (its id or file name), never by its
position or a random draw, so adding or reordering files does not move the other documents and
every run, machine and Python version agrees on the split.
"""

from __future__ import annotations

import hashlib


def stable_fraction(key: str) -> float:
    """A number in [0, 1) that depends only on ``key``: the first 8 bytes of SHA-1 / 2**64."""
    digest = hashlib.sha1(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def stable_split(key: str, train: float = 0.70, dev: float = 0.15) -> str:
    """``train``/``dev``/``test`` by ``stable_fraction(key)`` (default 70/15/15)."""
    fraction = stable_fraction(key)
    if fraction < train:
        return "train"
    return "dev" if fraction < train + dev else "test"
