"""``opmatrix run``, ``validate`` and ``scenarios``."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated

import typer

from simulation.cli import app
from simulation.cli.common import (
    SetOption,
    ThreadsOption,
    console,
    default_out,
    err_console,
    progress,
    resolve_scenario_path,
    scenarios_dir,
    summary_table,
    use_threads,
)
from simulation.cli.output import FormatOption, LangOption, emit
from simulation.errors import ScenarioError
from simulation.figure_process import FigureProcess
from simulation.i18n import tr
from simulation.scenario.load import load_scenario, read_yaml


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(help="Scenario YAML file or preset name.")],
    seed: Annotated[int, typer.Option(min=0, help="Root random seed.")] = 0,
    days: Annotated[int | None, typer.Option(min=1, help="Horizon in days.")] = None,
    set_: SetOption = None,
    out: Annotated[Path | None, typer.Option(help="Output folder.")] = None,
    plots: Annotated[bool, typer.Option(help="Write PNG figures.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No table, no progress.")] = False,
    threads: ThreadsOption = None,
    format: FormatOption = "table",
    lang: LangOption = None,
) -> None:
    """Simulate one scenario and write summary.json, daily.parquet, ledger and figures."""
    # the figures' process forks now, before numba's pool starts, and imports matplotlib
    # while the model runs (simulation/figure_process.py)
    drawer = FigureProcess.start() if plots else None
    try:
        _run(scenario, seed, days, set_, out, quiet, threads, format, drawer)
    finally:
        if drawer is not None:
            drawer.close()


def _run(scenario: str, seed: int, days: int | None, set_: list[str] | None, out: Path | None,
         quiet: bool, threads: int | None, format: str, drawer: FigureProcess | None) -> None:
    """:func:`run`'s body; ``drawer`` draws the figures (None: no figures)."""
    from simulation.api import run_model
    from simulation.incremental import worlds_needed
    from simulation.io import check_output_folder, write_run
    from simulation.model import OperatingMatrixModel

    use_threads(threads)
    path = resolve_scenario_path(scenario)
    overrides = list(set_ or [])
    if days is not None:
        overrides.append(f"days={days}")
    sc = load_scenario(path, overrides)
    if not quiet:  # the same warning as validate's: a budget that cannot bind limits nothing
        _warn_idle_budgets(sc, read_yaml(path)[0], path)
    target = out or default_out("runs", sc.name, seed)
    check_output_folder(target)  # before the simulation, not after it
    extra = worlds_needed(sc)
    try:
        model = OperatingMatrixModel(sc, seed, share_world=extra > 0)
    except ScenarioError as exc:
        exc.source = str(path)
        raise
    if quiet:
        result = run_model(model, sc, seed)
    else:
        with progress() as bar:
            label = f"{sc.name} · {sc.population.size:,} customers"
            if extra:
                label += f" + {extra} counterfactual world{'s' if extra > 1 else ''}"
            task = bar.add_task(label, total=sc.days * (1 + extra))
            lock = threading.Lock()
            done = [0]

            def tick(*_: int) -> None:  # one simulated day of any world (they may run together)
                with lock:
                    done[0] += 1
                    bar.update(task, completed=done[0])

            result = run_model(model, sc, seed, tick, tick)
    # The table is built before write_run, which reshapes result.summary for summary.json
    # (the incremental KPIs read as "—" in the terminal otherwise).
    title = tr("{seed_title} · seed {seed} · {days} days", seed_title=sc.name, seed=seed,
               days=sc.days)
    table = summary_table(result.summary, title)
    # matplotlib is imported only when figures are wanted, and then by the figures' process
    write_run(result, target, None if drawer is None else drawer.submit)
    if not quiet:
        emit(table, format, console)
        note = result.summary.get("incrementality", {}).get("note")
        if note and format == "table":
            console.print(f"{note} (docs/kpis.md)", markup=False, style="dim")
        done = tr("results written to {path}", path=str(target))
        (console if format == "table" else err_console).print(done, markup=False)


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="Scenario or experiment YAML, or a preset name.")],
    set_: SetOption = None,
) -> None:
    """Check a scenario (or experiment) file without running it."""
    file = resolve_scenario_path(str(file))  # a preset name, as `run` takes (was "file not found")
    data, _ = read_yaml(file)
    if _is_experiment(data):
        from simulation.runner.experiment import load_experiment

        exp = load_experiment(file)
        if isinstance(data, dict) and data.get("optimize") is not None:
            # the optimize: section has its own model; a bad spec must fail here, not at run time
            from simulation.decide.spec import load_optimization

            load_optimization(file)
        console.print(f"[green]ok[/green] experiment {exp.name}: {exp.describe()}")
        return
    sc = load_scenario(file, list(set_ or []))
    from rich.markup import escape

    from simulation.i18n import tr

    console.print(tr(
        "[green]ok[/green] scenario {name}: {size} customers, {segments} segments, {channels} "
        "channels, {days} days", name=escape(sc.name), size=f"{sc.population.size:,}",
        segments=len(sc.population.segments), channels=len(sc.channels), days=sc.days))
    _warn_idle_budgets(sc, data, file)


def _warn_idle_budgets(sc: object, data: object, file: Path) -> None:
    """A declared budget the channels cannot spend is a warning, not an error: the scenario
    runs, but its budget limits nothing (simulation/scenario/budgets.py says why it matters)."""
    from rich.markup import escape

    from simulation.i18n import error_frame, tr
    from simulation.scenario.budgets import idle_budget_warnings
    from simulation.scenario.load import line_of

    for path, _, message in idle_budget_warnings(sc):
        line = line_of(data, tuple(path.split(".")))
        at = error_frame(" (line {line})", line=line) if line else ""
        err_console.print(
            tr("[yellow]warning[/yellow] in {file}: {path}{at}: {message}", file=escape(str(file)),
               path=path, at=at, message=escape(message)),
            soft_wrap=True,
        )


def _is_experiment(data: dict) -> bool:
    has_model = "scenario" in data or "model" in data  # model: a runner test function
    return has_model and ("variants" in data or "sweep" in data or "replicates" in data)


@app.command()
def scenarios() -> None:
    """List the preset scenarios with a one-line description each."""
    from rich.table import Table

    table = Table(title=f"presets in {scenarios_dir()}", title_justify="left")
    table.add_column("preset")
    table.add_column("customers", justify="right")
    table.add_column("description")
    for path in sorted(scenarios_dir().glob("*.yaml")):
        try:
            sc = load_scenario(path)
        except ScenarioError as exc:
            table.add_row(path.stem, "", f"[red]invalid: {str(exc).splitlines()[0]}[/red]")
            continue
        table.add_row(path.stem, f"{sc.population.size:,}", sc.description)
    console.print(table)
