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
from simulation.scenario.load import load_scenario


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
) -> None:
    """Write one self-contained HTML report (figures embedded; opens offline)."""
    from simulation.report.render import write_html
    from simulation.report.run_report import build_run_report, is_run_dir

    with progress(transient=True) as bar:
        task = bar.add_task("report", total=None)

        def tick(description: str, done: int, total: int) -> None:
            bar.update(task, description=description, completed=done, total=total)

        if is_run_dir(target):
            doc = build_run_report(target, network=network, progress=tick)
            path = out or target / "report.html"
        else:
            from simulation.report.experiment_report import build_experiment_report, open_store

            store = open_store(target, results)
            doc = build_experiment_report(store, progress=tick)
            path = out or store.root / "report.html"
    write_html(doc, path)
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
) -> None:
    """Start the training dashboard (Mesa SolaraViz) on localhost and print its URL."""
    path = resolve_scenario_path(scenario)
    overrides = list(set_ or [])
    sc = load_scenario(path, overrides)  # bad input: ScenarioError → 3 lines, exit 2
    if port == 0:
        port = _free_port(host)
    env = {
        **os.environ,
        "OPMATRIX_DASHBOARD_SCENARIO": str(Path(path).resolve()),
        "OPMATRIX_DASHBOARD_SET": json.dumps(overrides),
        "OPMATRIX_DASHBOARD_SEED": str(seed),
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
