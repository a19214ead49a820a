"""Pieces every CLI verb shares: the error boundary and output helpers.

Why one boundary: a user mistake (bad file, bad config, missing corpus) must print one clear
message and exit 1, never a traceback from deep inside a library.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any, Iterator

import typer

from eventroles.data.problems import CorpusError


class UserError(Exception):
    """A problem the user can fix; printed without a traceback."""


USER_ERRORS: tuple[type[BaseException], ...] = (
    UserError, CorpusError, FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError,
)


def register_user_error(kind: type[BaseException]) -> None:
    """Let a module add its own user-facing error type to the boundary."""
    global USER_ERRORS
    if kind not in USER_ERRORS:
        USER_ERRORS = USER_ERRORS + (kind,)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    try:
        yield
    except USER_ERRORS as error:  # noqa: B030 - tuple grows at import time
        typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None


def echo(message: str = "", err: bool = False) -> None:
    typer.echo(message, err=err)


def write_json(data: Any, path: Path | None) -> None:
    """Write ``data`` as pretty JSON to ``path``, or to standard output when None or '-'."""
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    if path is None or str(path) == "-":
        sys.stdout.write(text + "\n")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
