"""Log lines printed while a progress bar is open.

Why: a long loop (training, pretraining, the recipe baseline) reports dev scores while its bar
is drawn on the terminal; printed as is, a message lands after the bar's text on the same line
("... 2.09step/s]step 35: dev seqeval ...") and in a log file it is glued to the bar's last frame.
"""

from __future__ import annotations

from typing import Callable


def beside_bars(log: Callable[[str], None]) -> Callable[[str], None]:
    """``log``, but each message first clears the open tqdm bars and redraws them after it, so the
    message starts on a line of its own (a no-op wrapper when no bar is open)."""
    from tqdm.auto import tqdm

    def write(message: str) -> None:
        with tqdm.external_write_mode():
            log(message)

    return write
