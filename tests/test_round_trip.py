"""Round trip on the real corpora: gold spans encoded to subword labels and decoded come back.

A span lost in this round trip is a span no model can learn, so at least 99 % must survive on
every split of MUC-4 and WikiEvents, measured with the tag set their models train on (one head
per native label, as ``corpus_stats`` reports it under ``round_trip``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from eventroles.data.registry import load_corpus
from eventroles.data.stats import native_tagset, round_trip
from eventroles.models.backbone import load_tokenizer

SHARED = Path(os.environ.get("EVENTROLES_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"real corpora not found at {SHARED} (set EVENTROLES_SHARED_DATA)"
)

MIN_SHARE = 0.99
LABELS = {
    "muc4": ["PerpInd", "PerpOrg", "SilverLocation", "SilverTime", "Target", "Victim", "Weapon"],
    "wikievents": None,  # whichever argument roles the split has; each maps to one project role
}


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("minilm")


@needs_shared
@pytest.mark.parametrize("corpus", ["muc4", "wikievents"])
@pytest.mark.parametrize("split", ["train", "dev", "test"])
def test_native_round_trip_keeps_99_percent(tokenizer, corpus: str, split: str) -> None:
    if not (SHARED / corpus).is_dir():
        pytest.skip(f"{corpus} not found under {SHARED}")
    docs, _ = load_corpus(f"{corpus}:{split}", root=SHARED)
    tagset = native_tagset(docs)
    assert tagset is not None and tagset.by == "label"
    if LABELS[corpus] is not None:
        assert list(tagset.tags) == LABELS[corpus]
    result = round_trip(tokenizer, docs, tagset)
    assert "spans_without_tag" not in result  # every gold span is measured
    assert result["total"] > 0 and result["share"] >= MIN_SHARE, result
