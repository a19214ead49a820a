"""Hash splits and the offset-repair search shared by the readers of corpora without splits."""

from __future__ import annotations

from collections import Counter

from eventroles.data.readers._text import NEAR, find_near
from eventroles.data.splits import stable_fraction, stable_split


def test_stable_fraction_is_pinned_and_in_unit_interval() -> None:
    assert abs(stable_fraction("abc") - 0.66249) < 1e-5  # sha1, first 8 bytes / 2**64
    assert all(0 <= stable_fraction(str(i)) < 1 for i in range(200))


def test_stable_split_proportions_and_thresholds() -> None:
    counts = Counter(stable_split(f"doc-{i}") for i in range(3000))
    assert set(counts) == {"train", "dev", "test"}
    assert abs(counts["train"] / 3000 - 0.70) < 0.04 and abs(counts["dev"] / 3000 - 0.15) < 0.03
    assert stable_split("abc") == "train" and stable_split("abc", train=0.5, dev=0.2) == "dev"
    assert stable_split("abc", train=0.5, dev=0.1) == "test"


def test_find_near_picks_the_nearest_occurrence_within_the_window() -> None:
    text = "bomb here, a bomb there, bomb"
    assert find_near(text, "bomb", 11) == 13
    assert find_near(text, "bomb", 0) == 0
    assert find_near(text, "bomb", 24) == 25
    assert find_near(text, "gun", 5) is None and find_near(text, "", 5) is None
    far = "x" * (NEAR + 10) + "bomb"
    assert find_near(far, "bomb", 0) is None and find_near(far, "bomb", 0, window=NEAR + 10) == NEAR + 10
