"""Text search helpers shared by readers that repair annotation offsets."""

from __future__ import annotations

NEAR = 32  # characters searched either side of bad offsets for the annotated string


def find_near(text: str, value: str, start: int, window: int = NEAR) -> int | None:
    """Start of the occurrence of ``value`` nearest to ``start`` within ``window``, or None."""
    if not value:
        return None
    best: int | None = None
    lo = max(0, start - window)
    hi = min(len(text), start + window + len(value))
    position = text.find(value, lo, hi)
    while position != -1:
        if best is None or abs(position - start) < abs(best - start):
            best = position
        position = text.find(value, position + 1, hi)
    return best
