"""The ``eventroles`` command: one typer app, one module per verb group.

Each verb is a short function that parses flags and calls a plain, quiet library function
that returns data; printing happens only here.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="eventroles",
    help="Tag who attacked (attacker), whom or what they hit (target), where (location), when (time) and "
    "with what (weapon) in conflict news.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        from eventroles import __version__

        typer.echo(f"eventroles {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Train, evaluate and run event-role taggers; every verb's --help says what it does."""


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
