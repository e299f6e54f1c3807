"""``opmatrix report`` (one self-contained HTML file) and ``opmatrix dashboard`` (the browser
page for training sessions)."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path
from typing import Annotated

import typer

from simulation.cli import app
from simulation.cli.common import SetOption, console, progress, resolve_scenario_path
from simulation.cli.output import LangOption
from simulation.errors import ScenarioError
from simulation.i18n import get_lang
from simulation.scenario.load import load_scenario


def _check_port(host: str, port: int) -> None:
    """Refuse a port another program listens on (or a host this machine does not have) before
    the server starts, instead of a raw server error after it."""
    try:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError as exc:
        import errno

        if exc.errno == errno.EADDRINUSE:
            why = f"port {port} is already in use; choose another --port, or --port 0 for any"
        elif exc.errno == errno.EACCES:
            why = f"no permission to listen on port {port} (ports below 1024 need root)"
        else:
            why = f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        raise ScenarioError.single("--port", "", why) from None
    except (socket.gaierror, UnicodeError) as exc:
        raise ScenarioError.single("--host", "", f"unknown host '{host}': {exc}") from None


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@app.command()
def report(
    target: Annotated[
        Path, typer.Argument(help="Experiment YAML, experiment results folder, or run folder.")
    ],
    out: Annotated[Path | None, typer.Option(help="HTML file to write.")] = None,
    results: Annotated[
        Path, typer.Option(help="Folder holding results/<experiment>/ stores.")
    ] = Path("results"),
    network: Annotated[
        bool, typer.Option(help="Run reports: re-simulate to draw the network snapshot.")
    ] = True,
    lang: LangOption = None,
) -> None:
    """Write one self-contained HTML report (figures embedded; opens offline)."""
    from simulation.io import check_writable_parent
    from simulation.report.render import write_html
    from simulation.report.run_report import build_run_report, is_run_dir

    if out is not None:  # refuse a bad --out before the (slow) report is built
        if out.is_dir():
            raise ScenarioError.single(
                str(out), "--out", "is a folder; give the HTML file to write"
            )
        check_writable_parent(out)
    store = None
    if not is_run_dir(target):  # a bad target is an error before any progress bar is drawn
        from simulation.report.experiment_report import build_experiment_report, open_store

        store = open_store(target, results)
    with progress(transient=True) as bar:
        task = bar.add_task("report", total=None)

        def tick(description: str, done: int, total: int) -> None:
            bar.update(task, description=description, completed=done, total=total)

        if store is None:
            doc = build_run_report(target, network=network, progress=tick)
            path = out or target / "report.html"
        else:
            doc = build_experiment_report(store, progress=tick)
            path = out or store.root / "report.html"
    try:
        write_html(doc, path)
    except OSError as exc:
        from simulation.io import output_error

        raise output_error(path, exc) from None
    console.print(f"report written to [bold]{path}[/bold] ({path.stat().st_size / 1e6:.1f} MB)")


@app.command()
def dashboard(
    scenario: Annotated[
        str, typer.Argument(help="Scenario YAML file or preset name.")
    ] = "quickstart",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0 = any free port).")] = 8765,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    seed: Annotated[int, typer.Option(min=0, help="Initial seed (A and B share it).")] = 0,
    set_: SetOption = None,
    lang: LangOption = None,
) -> None:
    """Start the training dashboard (Mesa SolaraViz) on localhost and print its URL."""
    path = resolve_scenario_path(scenario)
    overrides = list(set_ or [])
    sc = load_scenario(path, overrides)  # bad input: ScenarioError → 3 lines, exit 2
    if port == 0:
        port = _free_port(host)
    else:
        _check_port(host, port)
    env = {
        **os.environ,
        "OPMATRIX_DASHBOARD_SCENARIO": str(Path(path).resolve()),
        "OPMATRIX_DASHBOARD_SET": json.dumps(overrides),
        "OPMATRIX_DASHBOARD_SEED": str(seed),
        "OPMATRIX_LANG": get_lang(),
        # Offline by design: no usage telemetry, no PyPI version check, and no warning about
        # a hook pattern inside Mesa's own SolaraViz code.
        "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "false",
        "SOLARA_CHECK_HOOKS": "off",
        # Plain-http localhost makes Solara warn about samesite cookies on every page load.
        "PYTHONWARNINGS": "ignore:Cookies with samesite=none:UserWarning",
    }
    cmd = [
        sys.executable, "-m", "solara", "run", "simulation.dashboard.app:Page",
        "--host", host, "--port", str(port), "--production", "--no-open",
        "--no-check-version",
        "--log-level", "warning",
    ]
    # Plain print: the URL must stay on one line whatever the terminal width.
    print(f"dashboard for {sc.name} ({sc.population.size:,} customers): http://{host}:{port}/")
    print("press Ctrl-C to stop", flush=True)
    # Become the server (exec, not a child process): stopping `opmatrix dashboard` — Ctrl-C, a
    # service manager, a test's terminate() — then stops Solara too, never leaving it orphaned.
    sys.stdout.flush()
    os.execve(sys.executable, cmd, env)
