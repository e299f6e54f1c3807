"""The ``opmatrix`` command line. Each sub-module adds its commands to ``app``.

Bad input never shows a traceback: a :class:`ScenarioError` is printed in at most three lines
on stderr and the exit code is 2; typer's own usage errors (unknown option, missing argument)
keep typer's look and exit code 2, in the interface language (:mod:`simulation.cli.usage`).
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
        from simulation.i18n import tr

        raise typer.BadParameter(tr("'{lang}' is not a language; choose one of {langs}",
                                    lang=lang, langs=", ".join(LANGS)))
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
    """Console-script entry point.

    Everything imported up to here lives as long as this process, so it is moved out of the
    cyclic garbage collector's walks (``gc.freeze``), as a sweep's worker does before its
    first run (runner/worker.py): each full collection of a run (and each world a run frees,
    simulation/incremental.py) would otherwise walk those ~300k objects again. Measured on
    ``opmatrix run quickstart -s population.size=2000 --days 5 --no-plots``: the collector's
    CPU 0.39–0.44 s → 0.08–0.10 s. No object changes, so no number can move.

    Only the real command (``argv`` None: the console script, ``python -m simulation``)
    freezes: a caller that runs commands in its own process (the CLI tests) would otherwise
    make each call's not-yet-collected garbage permanent (a dead 200k-customer model stayed
    alive; review S1)."""
    import gc

    from simulation.cli.usage import CLICK_ERROR, lang_in, show
    from simulation.i18n import set_lang

    _register()
    if argv is None:
        gc.freeze()
    set_lang(lang_in(sys.argv[1:] if argv is None else list(argv)))
    try:
        # not standalone: typer's usage errors come here, to be shown in the interface language
        code = app(args=argv, prog_name="opmatrix", standalone_mode=False)
    except ScenarioError as exc:
        print(str(exc), file=sys.stderr)
        sys.exit(2)
    except CLICK_ERROR as exc:
        show(exc)
        sys.exit(exc.exit_code)  # type: ignore[attr-defined]  # 2 for usage errors
    except typer.Abort:
        from simulation.i18n import usage_frame

        print(usage_frame("Aborted!"), file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    if isinstance(code, int) and code:  # typer.Exit(n) inside a command
        sys.exit(code)
