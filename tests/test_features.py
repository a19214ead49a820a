"""Training windows: nothing truncated, special tokens framed, labels IGNORE where nothing is known."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eventroles.data.document import Document, Span
from eventroles.data.encoding import align, subword_labels, word_tags
from eventroles.data.features import Window, build_windows, collate, special_ids
from eventroles.data.problems import ReadReport
from eventroles.data.roles import ROLES
from eventroles.data.tags import BEGIN, IGNORE, INSIDE, OUTSIDE, TagSet
from eventroles.models.backbone import load_tokenizer

TAGS = TagSet.from_roles()
TEXT = (
    "On Tuesday gunmen of the Northern Front attacked a police station in Gao and burned two "
    "trucks near the old market before fleeing toward Timbuktu at dawn."
)


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("minilm")


def _doc(text: str = TEXT, doc_id: str = "d", roles=ROLES) -> Document:
    pieces = [("Tuesday", "time"), ("gunmen of the Northern Front", "attacker"), ("a police station", "target"),
              ("Gao", "location"), ("two trucks", "target")]
    spans = [Span(text.index(p), text.index(p) + len(p), r) for p, r in pieces if r in roles and p in text]
    return Document(doc_id, text, spans, frozenset(roles))


@pytest.mark.parametrize(("max_length", "stride"), [(8, 2), (10, 0), (12, 9), (16, 100), (512, 64)])
def test_windows_cover_every_subword_and_respect_max_length(tokenizer, max_length: int, stride: int) -> None:
    doc = _doc()
    (alignment,) = align(tokenizer, [doc])
    labels = subword_labels(alignment, word_tags(doc, TAGS))
    windows = build_windows([doc], tokenizer, TAGS, max_length=max_length, stride=stride, source=3)
    cls_id, sep_id, _ = special_ids(tokenizer)
    assert windows
    seen: dict[int, list[int]] = {}
    position = 0
    for window in windows:
        assert len(window) <= max_length
        assert window.input_ids[0] == cls_id and window.input_ids[-1] == sep_id
        assert (window.labels[0] == IGNORE).all() and (window.labels[-1] == IGNORE).all()
        assert window.shapes[0] == 0 and window.shapes[-1] == 0
        assert window.source == 3 and window.doc == "d"
        assert window.labels.shape == (len(window), len(ROLES))
        # Find this window's content in the document and check its labels line up.
        content = window.input_ids[1:-1].tolist()
        start = next(s for s in range(position, len(alignment)) if alignment.input_ids[s : s + len(content)].tolist() == content)
        assert (window.labels[1:-1] == labels[start : start + len(content)]).all()
        for offset in range(len(content)):
            seen.setdefault(start + offset, []).append(1)
        position = start
    assert sorted(seen) == list(range(len(alignment)))  # nothing truncated
    if len(alignment) <= max_length - 2:
        assert len(windows) == 1


def test_window_labels_carry_the_gold_spans(tokenizer) -> None:
    doc = _doc()
    (window,) = build_windows([doc], tokenizer, TAGS, max_length=512, stride=64)
    target = window.labels[:, ROLES.index("target")]
    assert (target == BEGIN).sum() == 2  # "a police station", "two trucks"
    assert (target == INSIDE).sum() == 3
    weapon = window.labels[:, ROLES.index("weapon")]
    assert set(weapon.tolist()) == {OUTSIDE, IGNORE}  # annotated, no weapon here: O on every word
    assert (weapon == OUTSIDE).sum() == len(doc.words)  # one label per word, on its first subword


def test_unannotated_role_is_ignore_in_every_window(tokenizer) -> None:
    doc = _doc(roles=("attacker", "target", "location"))
    windows = build_windows([doc], tokenizer, TAGS, max_length=12, stride=3)
    for role in ("time", "weapon"):
        assert all((w.labels[:, ROLES.index(role)] == IGNORE).all() for w in windows)
    assert any((w.labels[:, ROLES.index("location")] == BEGIN).any() for w in windows)


def test_document_without_subwords_is_skipped_and_counted(tokenizer) -> None:
    report = ReadReport()
    docs = [Document("empty", "  \u200b "), _doc(doc_id="full")]
    windows = build_windows(docs, tokenizer, TAGS, max_length=64, stride=8, report=report)
    assert {w.doc for w in windows} == {"full"}
    assert report.counts == {"document_without_subwords_skipped": 1}


def test_collate_pads_to_the_longest_window(tokenizer) -> None:
    windows = build_windows([_doc(), Document("short", "Rebels attacked.")], tokenizer, TAGS, max_length=20, stride=4)
    short = next(w for w in windows if w.doc == "short")
    batch = collate([windows[0], short], pad_id=0)
    width = len(windows[0])
    assert set(batch) == {"input_ids", "attention_mask", "shapes", "labels"}
    assert all(t.dtype == torch.int64 for t in batch.values())
    assert batch["input_ids"].shape == (2, width)
    assert batch["labels"].shape == (2, width, len(ROLES))
    n = len(short)
    assert batch["attention_mask"][1].tolist() == [1] * n + [0] * (width - n)
    assert batch["input_ids"][1, n:].eq(0).all()
    assert batch["labels"][1, n:].eq(IGNORE).all()
    assert batch["input_ids"][1, :n].tolist() == short.input_ids.tolist()
    assert batch["attention_mask"][0].eq(1).all()


def test_collate_uses_the_given_pad_id() -> None:
    window = Window(np.array([101, 5, 102]), np.zeros(3, dtype=np.int64), np.full((3, 1), IGNORE), 0, "d")
    longer = Window(np.array([101, 5, 6, 102]), np.zeros(4, dtype=np.int64), np.full((4, 1), IGNORE), 0, "e")
    batch = collate([window, longer], pad_id=7)
    assert batch["input_ids"][0].tolist() == [101, 5, 102, 7]


def test_special_ids_fall_back_to_bos_eos() -> None:
    class GPTLike:
        cls_token_id = sep_token_id = None
        bos_token_id, eos_token_id, pad_token_id = 1, 2, None

    assert special_ids(GPTLike()) == (1, 2, 0)

    class Bare:
        cls_token_id = sep_token_id = bos_token_id = eos_token_id = pad_token_id = None

    with pytest.raises(ValueError, match="CLS"):
        special_ids(Bare())
