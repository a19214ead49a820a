"""Pieces every CLI verb shares: the error boundary and output helpers.

Why one boundary: a user mistake (bad file, bad config, missing corpus) must print one clear
message and exit 1, never a traceback from deep inside a library.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Iterable, Iterator

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


# --set of every verb that reads a config
SET_HELP = ("Override a config value: section.key=value, the value read as YAML (training.epochs=2, "
            "model.word_shape=false); a list item by its index: data.corpora.0.weight=2. Repeatable.")


def check_output_path(path: Path | None, flag: str, *, folder: bool = False) -> None:
    """Before any long work, refuse an output that cannot be written: a folder where a file goes
    (or a file where a folder goes), a parent that is a file, a parent not writable. '-' and None
    (standard output) pass."""
    if path is None or str(path) == "-":
        return
    path = Path(path).expanduser()
    if path.is_dir() and not folder:
        raise UserError(f"{flag} {path} is a folder; give a file name")
    if path.exists() and not path.is_dir() and folder:
        raise UserError(f"{flag} {path} is a file; give a folder")
    if path.exists() and not folder and os.access(path, os.W_OK):
        return  # a file that can be written (or /dev/null, /dev/stdout), whatever its folder allows
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UserError(f"{flag} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK):
        raise UserError(f"{flag} {path}: cannot write in {parent}")


def refuse_replacing_inputs(output: Path | None, flag: str, inputs: Iterable[tuple[Path, str]]) -> None:
    """An output may not be a file the run reads (``inputs``: path and the flag or corpus that
    names it): it would replace it (a report written over a system's predictions or the gold)."""
    if output is None or str(output) == "-":
        return
    target = Path(output).expanduser().resolve()
    for source, named_by in inputs:
        if Path(source).expanduser().resolve() == target:
            raise UserError(f"{flag} {output} is a file this run reads ({named_by}): it would be replaced; write elsewhere")


def refuse_same_output(first: Path | None, first_flag: str, second: Path | None, second_flag: str) -> None:
    """Two outputs of one run may not be one file (the second would replace the first)."""
    if first is None or second is None or "-" in (str(first), str(second)):
        return
    if Path(first).expanduser().resolve() == Path(second).expanduser().resolve():
        raise UserError(f"{first_flag} and {second_flag} name the same file ({first}): give two names")


def write_json(data: Any, path: Path | None) -> None:
    """Write ``data`` as pretty JSON to ``path``, or to standard output when None or '-'."""
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    if path is None or str(path) == "-":
        sys.stdout.write(text + "\n")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
