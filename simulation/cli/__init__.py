"""The ``opmatrix`` command line. Each sub-module adds its commands to ``app``.

Bad input never shows a traceback: a :class:`ScenarioError` is printed in at most three lines
on stderr and the exit code is 2.
"""

from __future__ import annotations

import sys

import typer

from simulation.errors import ScenarioError

app = typer.Typer(
    name="opmatrix",
    help="Simulate and compare a bank's operating-matrix strategies on a synthetic population.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _options(
    lang: str | None = typer.Option(
        None, "--lang", help="Interface language: en | zh (default: $OPMATRIX_LANG, else en)."
    ),
) -> None:
    """Simulate and compare a bank's operating-matrix strategies on a synthetic population."""
    from simulation.i18n import LANGS, normalise, set_lang

    if lang is not None and normalise(lang) is None:
        raise typer.BadParameter(f"'{lang}' is not a language; choose one of {', '.join(LANGS)}")
    set_lang(lang)


def _register() -> None:
    # Imported for their side effect of adding commands to ``app``.
    from simulation.cli import (
        commands_calibrate,  # noqa: F401
        commands_decide,  # noqa: F401
        commands_report,  # noqa: F401
        commands_run,  # noqa: F401
        commands_sweep,  # noqa: F401
    )


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    _register()
    try:
        app(args=argv, prog_name="opmatrix", standalone_mode=True)
    except ScenarioError as exc:
        print(str(exc), file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
