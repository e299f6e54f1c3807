"""``opmatrix calibrate``: fit a scenario's parameters to observed targets (issue 12)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from simulation.cli import app
from simulation.cli.common import SetOption, console, err_console, progress


def calibrate_files(
    scenario: Path,
    targets: Path,
    params: Path,
    method: str = "optuna",
    out: Path | None = None,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
    trials: int | None = None,
    overrides: list[str] | None = None,
    on_progress: Any = None,
) -> tuple[Any, Any, dict[str, Path]]:
    """The whole calibration (the CLI's body, callable from tests and benchmarks)."""
    from simulation.decide import calibrate as cal_mod
    from simulation.decide import calibrate_outputs as outputs
    from simulation.errors import ScenarioError
    from simulation.runner.executors import default_workers, open_executor

    if method not in ("optuna", "abc"):
        raise ScenarioError.single("--method", "", f"unknown method '{method}'; valid: optuna, abc")
    cal = cal_mod.prepare(scenario, targets, params, out, overrides)
    cal_mod.check_resumable(cal, method)
    n_workers = workers or default_workers()
    with open_executor(executor, n_workers, address) as pool:
        runner = cal_mod.TrialRunner(cal, pool, n_workers)
        if method == "optuna":
            trial_results = cal_mod.run_optuna(cal, runner, trials, on_progress)
            summary = outputs.summarize_optuna(cal, trial_results, runner)
            extra = outputs.trials_rows(cal, trial_results)
        else:
            res = cal_mod.run_abc(cal, runner, on_progress)
            summary = outputs.summarize_abc(cal, res)
            extra = outputs.posterior_rows(cal, res)
    paths = outputs.write_outputs(cal, summary, runner.timing, overrides, extra)
    return cal, summary, paths


@app.command()
def calibrate(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML to calibrate.")],
    targets: Annotated[
        Path, typer.Option("--targets", "-t", help="Targets YAML (observed data).")
    ],
    params: Annotated[
        Path, typer.Option("--params", "-p", help="Parameters YAML (bounds, priors).")
    ],
    method: Annotated[str, typer.Option(help="optuna (point fit) | abc (posterior, pyabc).")] = (
        "optuna"
    ),
    out: Annotated[
        Path | None, typer.Option(help="Results folder (default results/<name>).")
    ] = None,
    trials: Annotated[
        int | None, typer.Option(min=1, help="Optuna trials (overrides the params file).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes (default: CPUs available).")
    ] = None,
    executor: Annotated[str, typer.Option(help="local | dask-local | dask | serial.")] = "local",
    address: Annotated[
        str | None, typer.Option(help="Dask scheduler address for --executor dask.")
    ] = None,
    set_: SetOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Fit parameters to targets; writes calibrated.yaml, fit.csv, figures and report.html.

    Resumable: rerun the same command after an interruption (even kill -9)."""
    if quiet:
        cal, summary, paths = calibrate_files(
            scenario, targets, params, method, out, executor, workers, address, trials, set_
        )
    else:
        with progress(transient=False) as bar:
            task = bar.add_task("calibrating", total=None)

            def update(what: str, done: int, total: int) -> None:
                bar.update(task, description=what, completed=done, total=total)

            cal, summary, paths = calibrate_files(
                scenario, targets, params, method, out, executor, workers, address, trials,
                set_, update,
            )
    table = Table(title=f"{cal.targets.name}: {summary.method}", title_justify="left")
    for col in ("parameter", "estimate", "95 % interval"):
        # a long scenario path folds onto a second line rather than losing its end ("…")
        table.add_column(col, justify="left" if col == "parameter" else "right",
                         overflow="fold" if col == "parameter" else "ellipsis")
    for n in cal.names:
        lo, hi = summary.interval[n]
        # one trial in the confidence set gives no interval: "x – x" read as a certain value
        span = "—" if lo == hi else f"{lo:.4g} – {hi:.4g}"
        table.add_row(n, f"{summary.estimate[n]:.4g}", span)
    console.print(table)
    for note in summary.notes:  # how the intervals were made (and when they are too few)
        console.print(note, style="dim", soft_wrap=True, markup=False, highlight=False)
    for name, (inside, p, verdict) in summary.verdicts.items():
        colour = "green" if verdict == "ok" else "red"
        console.print(f"  [{colour}]{verdict}[/{colour}] {escape(name)}: {inside:.0%} of points "
                      f"inside the 95 % predictive interval, χ² p = {p:.3g}", soft_wrap=True)
    for w in summary.warnings:
        err_console.print(f"[yellow]warning[/yellow]: {escape(w)}", soft_wrap=True)
    console.print(f"calibrated scenario: {paths['calibrated']}\nreport: {paths['report']}",
                  soft_wrap=True)
