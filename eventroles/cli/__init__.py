"""The ``eventroles`` command: one typer app, one module per verb group.

Each verb is a short function that parses flags and calls a plain, quiet library function
that returns data; printing happens only here.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="eventroles",
    help="Tag who attacked (attacker), whom (target), where (location) and when (time) in conflict news.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register() -> None:
    # Imported here so that `eventroles --help` stays fast and each verb module stays separate.
    from . import data as data_cli

    app.add_typer(data_cli.app, name="data")
    for name in ("train", "pretrain", "evaluate", "predict", "benchmark", "init_config"):
        try:
            module = __import__(f"{__name__}.{name}", fromlist=["register"])
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{name}":
                raise
            continue
        module.register(app)


def main() -> None:
    _register()
    app()
