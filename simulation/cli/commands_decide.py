"""``opmatrix optimize`` and ``opmatrix discover``: decision support on common random numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from simulation.cli import app
from simulation.cli.common import console, err_console
from simulation.formatting import fmt, fmt_ci, fmt_diff_ci
from simulation.i18n import kpi_label

ResultsOption = Annotated[
    Path, typer.Option("--results", help="Root folder; results go to <root>/<experiment>/…")
]
WorkersOption = Annotated[
    int | None, typer.Option(min=1, help="Worker processes (default: CPUs available).")
]
ExecutorOption = Annotated[str, typer.Option(help="local | dask-local | dask | serial.")]
AddressOption = Annotated[
    str | None, typer.Option(help="Dask scheduler address for --executor dask.")
]


def _kind(kpi: str) -> str:
    from simulation import kpis

    return kpis.format_of(kpi)


@app.command()
def optimize(
    experiment: Annotated[Path, typer.Argument(help="Experiment YAML with an optimize: section.")],
    workers: WorkersOption = None,
    executor: ExecutorOption = "local",
    address: AddressOption = None,
    robust: Annotated[
        bool,
        typer.Option("--robust", help="Score every candidate across optimize.robust.scenarios."),
    ] = False,
    results: ResultsOption = Path("results"),
    no_report: Annotated[bool, typer.Option("--no-report", help="Skip the HTML report.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Search a budget split / parameters, then select the best with a stated P(correct)."""
    from simulation.decide.optimize import Optimization
    from simulation.decide.spec import load_optimization
    from simulation.runner.executors import default_workers, open_executor
    from simulation.runner.sweep import WorkerLost

    spec = load_optimization(experiment, robust=robust)
    n_workers = workers or default_workers()

    def log(message: str) -> None:
        if not quiet:
            err_console.print(f"[dim]{escape(message)}[/dim]", soft_wrap=True)

    def on_trial(done: int, total: int) -> None:
        if not quiet:
            err_console.print(f"[dim]  candidates {done}/{total}[/dim]")

    if not quiet:
        console.print(
            f"[bold]{spec.name}[/bold]: {spec.sampler} over "
            f"{len(spec.config.parameters)} parameter(s)"
            + (f" and {len(spec.budget_items)} budget(s)" if spec.budget_items else "")
            + f", {spec.config.trials} candidates × {spec.replicates} seeds"
            + (f" × {len(spec.worlds)} worlds" if robust else "")
            + f" · {executor}, {n_workers} worker(s)",
            soft_wrap=True,
        )
    try:
        with open_executor(executor, n_workers, address) as pool:
            opt = Optimization(spec, results, pool, n_workers, log=log, robust=robust)
            result = opt.run(on_trial)
    except WorkerLost as exc:
        err_console.print(f"[red]interrupted[/red]: {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from None
    if not no_report:
        from simulation.decide.report import write_optimize_report

        write_optimize_report(result, opt.root)
    _print_optimize(result, opt.root)


def _print_optimize(result: dict, root: Path) -> None:
    from rich.table import Table

    rec = result["recommended"]
    sel = result.get("selection")
    console.print(f"[bold]recommended[/bold]: {rec['label']} ({rec['replicates']} seeds)")
    if sel:
        console.print(f"  {sel['description']}", soft_wrap=True)
    if rec["budgets"]:
        table = Table(title="budget split", title_justify="left")
        for col in ("budget", "yuan", "share"):
            table.add_column(col, justify="right" if col != "budget" else "left")
        total = sum(rec["budgets"].values()) or 1.0
        for name, v in rec["budgets"].items():
            table.add_row(name, fmt(v, "money"), f"{v / total:.1%}")
        console.print(table)
    split = {b["path"] for b in (result.get("allocation") or {}).get("bounds", [])}
    params = {k: v for k, v in rec["point"].items() if k not in split}
    if params:  # what to set, besides the budget split: the searched parameters
        from simulation.decide.report import param_text

        table = Table(title="recommended parameters", title_justify="left")
        table.add_column("path")
        table.add_column("value", justify="right")
        for k, v in params.items():
            table.add_row(k, param_text(k, v))
        console.print(table)
    table = Table(title="vs baseline (paired, 95% CI)", title_justify="left")
    for col in ("KPI", "recommended", "baseline", "difference"):
        table.add_column(col, justify="right" if col != "KPI" else "left")
    for kpi, d in rec["vs_baseline"].items():
        k = _kind(kpi)
        table.add_row(
            kpi_label(kpi), fmt(d["candidate"], k), fmt(d["baseline"], k),
            fmt_diff_ci(d["diff"], d["low"], d["high"], k),
        )
    console.print(table)
    if result["marginals"]:
        table = Table(title="marginal returns at the recommendation", title_justify="left")
        for col in ("budget", "+Δ", "acq. per ¥1000", "marginal CPA", "value per ¥"):
            table.add_column(col, justify="right" if col != "budget" else "left")
        for m in result["marginals"]:
            a, c, v = m["acquisitions_per_1000"], m["marginal_cpa"], m["marginal_value_per_yuan"]
            table.add_row(
                m["budget"], fmt(m["step"], "money"),
                fmt_ci(*a, "") if a[0] is not None else "—",
                "saturated" if m["saturated"] else fmt_ci(*c, "money"),
                fmt_ci(*v, "") if v[0] is not None else "—",
            )
        console.print(table)
    for curve in result["response_curves"]:
        sat = curve["saturation"]
        where = fmt(sat["budget"], "money") if sat["budget"] is not None else "—"
        console.print(f"  {curve['budget']}: saturates at {where} ({sat['reason']})")
    console.print(
        f"{result['runs_computed']} runs computed · optimiser overhead "
        f"{result['overhead_per_candidate_ms']:.1f} ms/candidate · {result['seconds']:.1f} s · "
        f"{root}",
        soft_wrap=True,
    )


@app.command()
def discover(
    experiment: Annotated[
        Path, typer.Argument(help="Experiment YAML of a stored sweep (or its results folder).")
    ],
    fail: Annotated[
        str,
        typer.Option(
            "--fail",
            help="When a run fails, over KPIs: 'cost_per_acquisition > 150 or conversion_rate "
            "< 0.1'.",
        ),
    ],
    confirm: Annotated[
        int, typer.Option(min=0, help="Confirmation points inside and outside the box (each).")
    ] = 8,
    bootstrap: Annotated[int, typer.Option(min=0, help="PRIM bootstrap resamples.")] = 20,
    workers: WorkersOption = None,
    executor: ExecutorOption = "local",
    address: AddressOption = None,
    results: ResultsOption = Path("results"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """When does a strategy fail? PRIM and CART boxes over a stored sweep, confirmed by new runs."""
    from simulation.decide.discover import run_discovery
    from simulation.decide.report import write_discover_report
    from simulation.runner.executors import default_workers, open_executor

    n_workers = workers or default_workers()

    def log(message: str) -> None:
        if not quiet:
            err_console.print(f"[dim]{escape(message)}[/dim]", soft_wrap=True)

    with open_executor(executor, n_workers, address) as pool:
        result, root = run_discovery(
            experiment, fail, results, pool, n_workers, confirm=confirm, bootstrap=bootstrap,
            log=log,
        )
    write_discover_report(result, root)
    box = result["prim"]["box"]
    console.print(
        f"[bold]{result['experiment']}[/bold]: {result['n_points']} points, "
        f"{result['failure_share']:.1%} of runs fail ({escape(fail)})",
        soft_wrap=True,
    )
    console.print(
        f"PRIM box: coverage {box['coverage']:.2f}, density {box['density']:.2f}, mass "
        f"{box['mass']:.2f}",
    )
    for lim in box["limits"]:
        console.print(f"  {lim['parameter']} ∈ [{lim['low']:.4g}, {lim['high']:.4g}]")
    conf = result.get("confirmation")
    if conf:
        console.print(
            f"confirmation: failure probability inside {fmt_ci(*conf['inside'], 'pct')} vs "
            f"outside {fmt_ci(*conf['outside'], 'pct')}",
            soft_wrap=True,
        )
    console.print(f"report: {root / 'report.html'}", soft_wrap=True)
