"""``opmatrix sweep``, ``compare``, ``query``: run an experiment, compare strategies, ask SQL."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from simulation.cli import app
from simulation.cli.common import console, err_console, fmt, progress
from simulation.errors import ScenarioError
from simulation.formatting import fmt_ci
from simulation.kpis import format_of, short_label

ResultsOption = Annotated[
    Path, typer.Option("--results", help="Root folder; an experiment's runs go to <root>/<name>/.")
]

@app.command()
def sweep(
    experiment: Annotated[Path, typer.Argument(help="Experiment YAML (experiments/*.yaml).")],
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes (default: CPUs available).")
    ] = None,
    executor: Annotated[
        str, typer.Option(help="local | dask-local | dask | serial.")
    ] = "local",
    address: Annotated[
        str | None, typer.Option(help="Dask scheduler address for --executor dask.")
    ] = None,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Run again the runs stored as failed.")
    ] = False,
    results: ResultsOption = Path("results"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    threads: Annotated[
        int | None,
        typer.Option(
            min=1, help="Threads per run (default 1: the worker processes are the parallelism)."
        ),
    ] = None,
) -> None:
    """Run every variant × sweep point × replicate not stored yet; each run is saved as it ends."""
    from simulation.runner import ResultStore, load_experiment
    from simulation.runner.executors import SerialExecutor, default_workers, open_executor
    from simulation.runner.specs import expand
    from simulation.runner.sweep import WorkerLost, pending_specs, run_sweep

    exp = load_experiment(experiment)
    store = ResultStore.for_experiment(exp, results)
    specs = expand(exp)
    n_workers = workers or default_workers()
    todo = len(pending_specs(specs, store, retry_failed))
    if not quiet:
        where = f"{executor}" + (f" {address}" if address else "") + f", {n_workers} worker(s)"
        console.print(
            f"[bold]{exp.name}[/bold]: {exp.describe()} · {todo} to run · {where}", soft_wrap=True
        )
    try:
        if todo == 0:
            report = run_sweep(store, SerialExecutor(), retry_failed, specs=specs)
        else:
            with open_executor(executor, n_workers, address) as pool:
                if quiet:
                    report = run_sweep(
                        store, pool, retry_failed, workers=n_workers, specs=specs, threads=threads
                    )
                else:
                    with progress(transient=False) as bar:
                        task = bar.add_task("runs", total=todo)
                        report = run_sweep(
                            store,
                            pool,
                            retry_failed,
                            on_progress=lambda done, _total, _o: bar.update(task, completed=done),
                            workers=n_workers,
                            specs=specs,
                            threads=threads,
                        )
    except WorkerLost as exc:
        err_console.print(f"[red]interrupted[/red]: {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from None
    console.print(
        f"{report.done} done, {report.failed} failed, {report.skipped} already stored · "
        f"{report.seconds:.1f} s · {store.root}",
        soft_wrap=True,
    )
    if report.failed:
        first = next(iter(report.errors.values()))
        err_console.print(
            f"[red]{report.failed} run(s) failed[/red], first: {escape(first)}\n"
            "  rerun with --retry-failed after a fix; errors are in the runs table (status, error)",
            soft_wrap=True,
        )
        raise typer.Exit(1)


@app.command()
def compare(
    experiment: Annotated[Path, typer.Argument(help="Experiment YAML or its results folder.")],
    constraint: Annotated[
        list[str] | None,
        typer.Option("--constraint", "-c", help="e.g. 'cost_per_acquisition<=200' (repeatable)."),
    ] = None,
    objective: Annotated[
        str, typer.Option(help="Metric to rank by (costs are minimised, the rest maximised).")
    ] = "conversion_rate",
    metric: Annotated[
        list[str] | None, typer.Option("--metric", "-m", help="Metrics to show (repeatable).")
    ] = None,
    results: ResultsOption = Path("results"),
) -> None:
    """Each strategy vs the baseline: means with 95 % CIs, paired differences, ranking, indices."""
    from simulation.runner import analysis
    from simulation.runner.store import ResultStore

    store = ResultStore.open_target(experiment, results)
    runs = store.runs_frame()
    if runs.empty:
        raise ScenarioError.single(
            str(experiment), "", f"no stored runs in {store.root}; run `opmatrix sweep` first"
        )
    exp = store.experiment
    stored_outcomes = store.manifest().get("outcomes") if exp is None else None
    metrics = list(
        metric or (exp.outcomes if exp else stored_outcomes or analysis.DEFAULT_OUTCOMES)
    )
    valid = [c for c in runs.columns if c not in ("error",) and runs[c].dtype.kind == "f"]
    constraints = [analysis.parse_constraint(c, valid) for c in constraint or []]
    for name in [*metrics, objective]:
        if name not in valid:
            raise ScenarioError.single(
                "--metric/--objective", name, f"unknown metric; valid: {', '.join(valid)}"
            )
    done = runs[runs["status"] == "done"]
    failed = len(runs) - len(done)
    expected = len(store.specs())
    console.print(
        f"[bold]{done['experiment'].iat[0] if len(done) else ''}[/bold] · {len(done)} done, "
        f"{failed} failed, {expected - len(runs)} not run of {expected} runs"
    )
    console.print(_summary_table(analysis.variant_summary(runs, metrics), metrics))
    baseline = store.baseline()
    if baseline and runs["variant"].nunique() > 1:
        diffs = analysis.paired_differences(runs, baseline, metrics)
        console.print(_diff_table(diffs, baseline))
    swept = [c for c in runs.columns if c.startswith("param:")]
    by = ["variant", "sample_id"] if swept else ["variant"]
    ranked = analysis.rank(runs, objective, constraints, by=by)
    front = ("cost_per_acquisition", "conversion_rate")
    if all(c in done.columns for c in front):
        means = done.groupby(by, sort=False)[list(front)].mean().reset_index()
        means["pareto"] = analysis.pareto_front(means)
        ranked = ranked.merge(means[[*by, "pareto"]], on=by, how="left")
        ranked["pareto"] = ranked["pareto"].astype("boolean").fillna(False).astype(bool)
    if swept:
        params = done.drop_duplicates(["variant", "sample_id"])[["variant", "sample_id", *swept]]
        ranked = ranked.merge(params, on=["variant", "sample_id"], how="left")
    console.print(_rank_table(ranked.head(10), objective, constraints, swept))
    info = runs.attrs.get("sweep") or {}
    if info.get("sampler") in ("sobol", "morris", "lhs", "random"):
        try:
            indices = analysis.sensitivity(runs, objective)
        except ValueError as exc:
            err_console.print(
                f"[yellow]no sensitivity indices[/yellow]: {escape(str(exc))}", soft_wrap=True
            )
        else:
            console.print(_sensitivity_table(indices, objective))


@app.command()
def query(
    experiment: Annotated[Path, typer.Argument(help="Experiment YAML or its results folder.")],
    sql: Annotated[str, typer.Argument(help="SQL over the views runs, daily, daily_segments.")],
    results: ResultsOption = Path("results"),
    csv: Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table.")] = False,
) -> None:
    """SQL over the stored runs (DuckDB), e.g. "SELECT variant, avg(cpa) FROM runs GROUP BY 1"."""
    import duckdb

    from simulation.runner.store import ResultStore

    store = ResultStore.open_target(experiment, results)
    try:
        frame = store.query(sql)
    except duckdb.Error as exc:
        lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
        more = f"\n  {lines[1]}" if len(lines) > 1 else ""
        err_console.print(f"error in query: {lines[0]}{more}", soft_wrap=True, markup=False)
        raise typer.Exit(2) from None
    if csv:
        print(frame.to_csv(index=False), end="")
        return
    table = Table(title=f"{len(frame)} row(s)", title_justify="left")
    for col in frame.columns:
        table.add_column(str(col), justify="right" if frame[col].dtype.kind in "iuf" else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(fmt(v) for v in row))
    console.print(table)


# ---------------------------------------------------------------------------- tables


def _summary_table(summary: Any, metrics: list[str]) -> Table:
    table = Table(
        title="mean [95 % CI] over replicates (and sweep points, if any)", title_justify="left"
    )
    table.add_column("variant")
    table.add_column("n", justify="right")
    for m in metrics:
        table.add_column(short_label(m), justify="right")
    for variant, group in summary.groupby("variant", sort=False):
        cells = {r.metric: fmt_ci(r.mean, r.ci_low, r.ci_high, format_of(r.metric))
                 for r in group.itertuples()}
        table.add_row(str(variant), str(int(group["n"].max())), *(cells[m] for m in metrics))
    return table


def _diff_table(diffs: Any, baseline: str) -> Table:
    table = Table(
        title=f"paired difference vs {baseline} (same seeds), mean [95 % CI]; * CI excludes 0",
        title_justify="left",
    )
    table.add_column("variant")
    metrics = list(dict.fromkeys(diffs["metric"]))
    for m in metrics:
        table.add_column(f"Δ {short_label(m)}", justify="right")
    for variant, group in diffs.groupby("variant", sort=False):
        cells = {}
        for r in group.itertuples():
            kind = format_of(r.metric)
            star = "*" if r.ci_low > 0 or r.ci_high < 0 else ""
            cells[r.metric] = fmt_ci(r.mean_diff, r.ci_low, r.ci_high, kind) + star
        table.add_row(str(variant), *(cells.get(m, "—") for m in metrics))
    return table


def _rank_table(ranked: Any, objective: str, constraints: list[Any], swept: list[str]) -> Table:
    rule = ", ".join(map(str, constraints)) or "no constraint"
    title = f"ranking by {objective} ({rule}); pareto: no arm has lower CPA and higher conversion"
    table = Table(title=title, title_justify="left")
    cols = ["rank", "variant", *(["sample_id"] if swept else []), *swept, "n"]
    flags = [c for c in ("feasible", "pareto") if c in ranked.columns]
    metric_cols = [c for c in ranked.columns if c not in (*cols, *flags)]
    for c in [*cols, *metric_cols, *flags]:
        label = short_label(c.removeprefix("param:"))
        table.add_column(label, justify="left" if c == "variant" else "right")
    for _, row in ranked.iterrows():
        table.add_row(
            *(fmt(row[c]) for c in cols),
            *(fmt(row[c], format_of(c)) for c in metric_cols),
            "yes" if row["feasible"] else "[red]no[/red]",
            *(["yes" if row["pareto"] else ""] if "pareto" in flags else []),
        )
    return table


def _sensitivity_table(indices: Any, metric: str) -> Table:
    table = Table(title=f"sensitivity of {metric} (SALib)", title_justify="left")
    for c in ("variant", "parameter", "method", "index", "value", "± conf"):
        table.add_column(c, justify="right" if c in ("value", "± conf") else "left")
    for r in indices.itertuples():
        table.add_row(str(r.variant), r.parameter, r.method, r.index, f"{r.value:.3f}",
                      "—" if math.isnan(r.conf) else f"{r.conf:.3f}")
    return table
