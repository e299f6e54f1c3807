"""Typer's own usage errors (unknown option or command, missing argument, a value its type
rejects) in the interface language.

Why: under ``--lang zh`` every message of ours is Chinese, but these come from the library
(typer's vendored click) in English, so a user who typed ``--sedd`` read the only English line
of the session. :func:`show` prints what typer prints — usage line, help hint, the message in a
red "Error" panel, on stderr — with the framing and the message through
:func:`simulation.i18n.usage_text`; in English it is typer's own renderer, unchanged. The exit
code stays the exception's (2 for every usage error).
"""

from __future__ import annotations

import typer

#: The base class of every click/typer error carrying an exit code and a message (typer ≥ 0.20
#: vendors click as ``typer._click``; older typer re-exports click's): found through a public
#: name so either works.
CLICK_ERROR: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


def lang_in(args: list[str]) -> str | None:
    """The value of a top-level ``--lang`` in ``args`` (before the command name), so errors
    raised before the ``--lang`` callback runs (an unknown command, a typo'd top-level
    option) are shown in that language too."""
    for i, arg in enumerate(args):
        if arg == "--lang" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
        if not arg.startswith("-"):
            break
    return None


def show(exc: Exception) -> None:
    """Print the usage error ``exc`` (a :data:`CLICK_ERROR`) on stderr."""
    from simulation.i18n import is_zh, usage_frame, usage_text

    if exc.__class__.__name__ == "NoArgsIsHelpError" or not is_zh():
        _typer_show(exc)  # the help itself was printed when the error was made
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.panel import Panel

    console = Console(stderr=True)
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        usage = ctx.get_usage()
        if usage.startswith("Usage:"):
            usage = usage_frame("Usage:") + usage[len("Usage:"):].lstrip()
        console.print(usage, markup=False, highlight=False, style="bold")
        if ctx.command.get_help_option(ctx) is not None:
            console.print(usage_frame("Try '{command} {option}' for help.",
                                      command=ctx.command_path,
                                      option=ctx.help_option_names[0]),
                          markup=False, highlight=False, style="dim")
    message = usage_text(exc.format_message())  # type: ignore[attr-defined]
    console.print(Panel(escape(message), border_style="red", title=usage_frame("Error"),
                        title_align="left"))


def _typer_show(exc: Exception) -> None:
    """What typer itself prints for ``exc`` (its rich panel, or click's plain text)."""
    try:
        from typer import rich_utils
    except ImportError:  # typer without rich
        exc.show()  # type: ignore[attr-defined]
        return
    rich_utils.rich_format_error(exc)  # type: ignore[arg-type]
