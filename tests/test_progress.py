"""Log lines printed while a progress bar is open (train.progress)."""

from __future__ import annotations

import sys

import pytest
from tqdm import tqdm

from eventroles.train.progress import beside_bars


def _run(log, capsys: pytest.CaptureFixture[str]) -> str:
    bar = tqdm(total=4, desc="train", file=sys.stderr)
    bar.update(1)
    log("step 1: dev seqeval 0.5")
    bar.update(1)
    bar.close()
    return capsys.readouterr().err


def test_a_message_logged_under_an_open_bar_starts_a_line_of_its_own(capsys: pytest.CaptureFixture[str]) -> None:
    err = _run(beside_bars(lambda message: print(message, file=sys.stderr)), capsys)
    at = err.index("step 1: dev seqeval 0.5")
    assert err[at - 1] == "\r"  # the bar was cleared back to the start of its line first
    assert err[at:].startswith("step 1: dev seqeval 0.5\n")
    assert "train:" in err[at:]  # and drawn again after the message


def test_without_it_the_message_is_glued_to_the_bar(capsys: pytest.CaptureFixture[str]) -> None:
    err = _run(lambda message: print(message, file=sys.stderr), capsys)
    assert "]step 1: dev" in err  # what beside_bars is for


def test_messages_pass_through_unchanged_when_no_bar_is_open() -> None:
    seen: list[str] = []
    beside_bars(seen.append)("done")
    assert seen == ["done"]
