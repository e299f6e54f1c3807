"""``opmatrix sweep``, ``compare``, ``query``: run an experiment, compare strategies, ask SQL."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from simulation.cli import app
from simulation.cli.common import console, err_console, fmt, progress
from simulation.cli.output import Column, FormatOption, LangOption, OutTable, emit
from simulation.errors import ScenarioError
from simulation.formatting import CLIPPED_NOTE, fmt_ci, fmt_diff_ci, within
from simulation.i18n import kpi_label, tr
from simulation.kpis import format_of

ResultsOption = Annotated[
    Path, typer.Option("--results", help="Root folder; an experiment's runs go to <root>/<name>/.")
]

def _label(metric: str) -> str:
    """Short column label of a KPI in the interface language (from the KPI registry)."""
    return kpi_label(metric, short=True)


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
    from simulation.runner.executors import (
        SerialExecutor,
        default_workers,
        open_executor,
        prepare,
    )
    from simulation.runner.specs import expand
    from simulation.runner.sweep import WorkerLost, pending_specs, run_sweep

    prepare(executor)  # dask-local: its workers' forkserver imports while we load the experiment
    exp = load_experiment(experiment)
    store = ResultStore.for_experiment(exp, results)
    store.open()
    specs = expand(exp)
    n_workers = workers or default_workers()
    broken = store.check(dict.fromkeys(s.run_id for s in specs))
    if broken:
        from simulation.runner.store import left_out_note

        note = (left_out_note(broken) or "").replace(
            "left out", "recomputing"
        ).replace(" — `opmatrix sweep` recomputes them", "")
        err_console.print(f"[yellow]note[/yellow]: {escape(note)}", soft_wrap=True)
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
            with open_executor(executor, n_workers, address, threads_per_run=threads or 1) as pool:
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
    format: FormatOption = "table",
    lang: LangOption = None,
) -> None:
    """Each strategy vs the baseline: means with 95 % CIs, paired differences, ranking, indices."""
    from simulation.runner import analysis
    from simulation.runner.store import ResultStore

    store = ResultStore.open_target(experiment, results)
    runs = store.runs_frame()
    _note_left_out(runs)
    if runs.empty:
        from simulation.report.stale import no_runs_message

        raise ScenarioError.single(str(experiment), "", no_runs_message(store.root))
    exp = store.experiment
    stored_outcomes = store.manifest().get("outcomes") if exp is None else None
    metrics = list(
        metric or (exp.outcomes if exp else stored_outcomes or analysis.DEFAULT_OUTCOMES)
    )
    valid = [c for c in runs.columns if c not in ("error",) and runs[c].dtype.kind == "f"]
    constraints = [analysis.parse_constraint(c, valid) for c in constraint or []]

    chosen = [("--metric", m, m) for m in metric] if metric else [
        (str(experiment), f"outcomes.{i}", m) for i, m in enumerate(metrics)]
    for source, where, name in [*chosen, ("--objective", objective, objective)]:
        if name in valid:
            continue
        # the same message as `opmatrix validate` (kpis.outcome_problem), over what these
        # stored runs report; a registered name they lack is not a typo
        raise ScenarioError.single(source, where, analysis.metric_problem(name, valid))
    done = runs[runs["status"] == "done"]
    failed = len(runs) - len(done)
    expected = len(store.specs())
    counts = tr("{done} done, {failed} failed, {missing} not run of {expected} runs",
                done=len(done), failed=failed, missing=expected - len(runs), expected=expected)
    name = done["experiment"].iat[0] if len(done) else ""
    (console if format == "table" else err_console).print(
        f"[bold]{escape(str(name))}[/bold] · {counts}", soft_wrap=True
    )
    tables: list[OutTable] = []
    summary = _summary_table(analysis.variant_summary(runs, metrics), metrics)
    summary.notes += _undefined_notes(done, metrics)
    if summary.view is not None:
        summary.view.notes = summary.notes
    tables.append(summary)
    baseline = store.baseline()
    if baseline and runs["variant"].nunique() > 1:
        diffs = analysis.paired_differences(runs, baseline, metrics)
        tables.append(_diff_table(diffs, baseline))
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
    tables.append(_rank_table(ranked.head(10), objective, constraints, swept))
    info = runs.attrs.get("sweep") or {}
    if info.get("sampler") in ("sobol", "morris", "lhs", "random"):
        try:
            indices = analysis.sensitivity(runs, objective)
        except ValueError as exc:
            err_console.print(
                f"[yellow]no sensitivity indices[/yellow]: {escape(str(exc))}", soft_wrap=True
            )
        else:
            tables.append(_sensitivity_table(indices, objective))
    emit(tables, format, console)


def _undefined_notes(done: Any, metrics: list[str]) -> list[str]:
    """A note per metric that is undefined (NaN) in some finished runs: its mean skips them."""
    notes = []
    for m in metrics:
        if m in done.columns:
            k = int(done[m].isna().sum())
            if k:
                notes.append(tr(
                    "{metric}: undefined in {k} of {n} run(s) (a horizon shorter than the "
                    "window, or no acquisition for a CPA); the mean is over the rest",
                    metric=_label(m), k=k, n=len(done)))
    return notes


@app.command()
def query(
    experiment: Annotated[Path, typer.Argument(help="Experiment YAML or its results folder.")],
    sql: Annotated[str, typer.Argument(help="SQL over the views runs, daily, daily_segments.")],
    results: ResultsOption = Path("results"),
    format: FormatOption = "table",
    csv: Annotated[bool, typer.Option("--csv", help="Same as --format csv.")] = False,
    limit: Annotated[
        int, typer.Option(min=1, help="Most rows to print (a notice says how many were cut).")
    ] = 1000,
    timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds the query may run before it is stopped.")
    ] = 30.0,
    lang: LangOption = None,
) -> None:
    """SQL over the stored runs (DuckDB), e.g.
    "SELECT variant, avg(conversion_rate), avg(cpa) FROM runs GROUP BY 1".

    Views: runs (one row per run: variant, replicate, seed, status, param:… columns, the KPIs;
    cpa is short for cost_per_acquisition), daily (totals per run and day), daily_segments.
    """
    import duckdb

    from simulation.runner.store import ResultStore

    if not sql.strip():
        raise ScenarioError.single(
            "query", "SQL", "is empty; e.g. \"SELECT variant, avg(cpa) FROM runs GROUP BY 1\""
        )
    store = ResultStore.open_target(experiment, results)
    _note_left_out(store.runs_frame())
    try:
        frame, total = store.query_limited(sql, limit=limit, timeout=timeout)
    except TimeoutError:
        raise ScenarioError.single(
            "query", "SQL", f"stopped after {timeout:g} s (--timeout); a recursive CTE without "
            "an end, or a cross join, runs for ever"
        ) from None
    except duckdb.Error as exc:
        lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()] or ["failed"]
        more = f"\n  {lines[1]}" if len(lines) > 1 else ""
        err_console.print(f"error in query: {lines[0]}{more}", soft_wrap=True, markup=False)
        raise typer.Exit(2) from None
    notes = []
    if total > len(frame):
        notes.append(f"showing the first {len(frame):,} of {total:,} rows (--limit)")
    cols = [Column(str(c), str(c), align="right" if frame[c].dtype.kind in "iuf" else "left")
            for c in frame.columns]
    rows = [list(r) for r in frame.itertuples(index=False)]
    cells = [[fmt(v) for v in r] for r in rows]
    table = OutTable(tr("{n} row(s)", n=f"{total:,}"), cols, rows, None, notes)
    table.view = OutTable.of_cells(table.title, cols, cells, notes)
    emit(table, "csv" if csv else format, console)


def _note_left_out(runs: Any) -> None:
    """Say on stderr how many stored runs a command did not use, and why."""
    from simulation.runner.store import left_out_note

    note = left_out_note(runs.attrs.get("left_out") or {})
    if note:
        err_console.print(f"[yellow]note[/yellow]: {escape(note)}", soft_wrap=True)


# ---------------------------------------------------------------------------- tables


def _summary_table(summary: Any, metrics: list[str]) -> OutTable:
    title = tr("mean [95 % CI] over replicates (and sweep points, if any)")
    cols = [Column("variant", tr("variant"), align="left"), Column("n", tr("n"))]
    cols += [Column(f"{m}{end}", f"{_label(m)}{end}", format_of(m))
             for m in metrics for end in ("", "_ci_low", "_ci_high")]
    rows, cells = [], []
    nan = float("nan")
    clipped = False
    for variant, group in summary.groupby("variant", sort=False):
        by = {r.metric: r for r in group.itertuples()}
        n = int(group["n"].max())
        triples = []
        for m in metrics:
            if m not in by:
                triples.append((nan, nan, nan))
                continue
            low, high, cut = within(m, by[m].ci_low, by[m].ci_high)
            clipped |= cut
            triples.append((by[m].mean, low, high))
        rows.append([str(variant), n, *(v for t in triples for v in t)])
        cells.append([str(variant), str(n), *(
            fmt_ci(*t, format_of(m)) for m, t in zip(metrics, triples, strict=True))])
    notes = [tr(CLIPPED_NOTE)] if clipped else []
    view_cols = [*cols[:2], *(Column(m, _label(m)) for m in metrics)]
    table = OutTable(title, cols, rows, None, notes)
    table.view = OutTable.of_cells(title, view_cols, cells, notes)
    return table


def _diff_table(diffs: Any, baseline: str) -> OutTable:
    metrics = list(dict.fromkeys(diffs["metric"]))
    variants = list(dict.fromkeys(diffs["variant"]))
    title = tr("paired difference vs {baseline} (same seeds), mean [95 % CI]; * CI excludes 0",
               baseline=baseline)
    tests = int(diffs["p_value"].notna().sum())
    notes = []
    if tests > 1:
        template = (
            "p-values of {tests} tests ({metrics} metrics × {variants} variants): about {expect} "
            "would fall below 0.05 by chance alone; the Holm column controls the family-wise "
            "error rate" if len(variants) > 1 else
            "p-values of {tests} tests ({metrics} metrics of one variant): about {expect} "
            "would fall below 0.05 by chance alone; the Holm column controls the family-wise "
            "error rate")
        notes.append(tr(template, tests=tests, metrics=len(metrics), variants=len(variants),
                        expect=f"{0.05 * tests:.1f}") + tr(" († Holm-adjusted p < 0.05)"))
    keys = ("variant", "metric", "n_pairs", "mean_diff", "ci_low", "ci_high", "p_value", "p_holm")
    cols = [Column(k, tr(k), align="left" if k in ("variant", "metric") else "right")
            for k in keys]
    rows = [[getattr(r, k) for k in keys] for r in diffs.itertuples()]
    view_cols = [Column("variant", tr("variant"), align="left")]
    view_cols += [Column(m, f"Δ {_label(m)}") for m in metrics]
    cells = []
    for variant, group in diffs.groupby("variant", sort=False):
        by = {}
        for r in group.itertuples():
            kind = format_of(r.metric)
            kind = "pp" if kind == "pct" else kind
            star = "*" if r.ci_low > 0 or r.ci_high < 0 else ""
            dagger = "†" if r.p_holm < 0.05 else ""
            by[r.metric] = fmt_diff_ci(r.mean_diff, r.ci_low, r.ci_high, kind) + star + dagger
        cells.append([str(variant), *(by.get(m, "—") for m in metrics)])
    table = OutTable(title, cols, rows, None, notes, 2)
    table.view = OutTable.of_cells(title, view_cols, cells, notes)
    return table


def _rank_table(ranked: Any, objective: str, constraints: list[Any], swept: list[str]) -> OutTable:
    rule = ", ".join(map(str, constraints)) or tr("no constraint")
    title = tr("ranking by {objective} ({rule}); pareto = yes: no other arm has both a lower "
               "CPA and a higher conversion", objective=_label(objective), rule=rule)
    keys = ["rank", "variant", *(["sample_id"] if swept else []), *swept, "n"]
    flags = [c for c in ("feasible", "pareto") if c in ranked.columns]
    metric_cols = [c for c in ranked.columns if c not in (*keys, *flags)]
    cols = [Column(c, tr(c) if c in ("rank", "variant", "n") else _label(c.removeprefix("param:")),
                   format_of(c), "left" if c == "variant" else "right")
            for c in [*keys, *metric_cols]]
    cols += [Column(c, tr(c)) for c in flags]
    rows, cells = [], []
    for _, row in ranked.iterrows():
        values = [row[c] for c in [*keys, *metric_cols]] + [bool(row[c]) for c in flags]
        rows.append(values)
        cells.append([fmt(row[c]) for c in keys]
                     + [fmt(row[c], format_of(c)) for c in metric_cols]
                     + [tr("yes") if row["feasible"] else tr("no")]
                     + ([tr("yes") if row["pareto"] else ""] if "pareto" in flags else []))
    return OutTable(title, cols, rows, cells, key_columns=2)


def _sensitivity_table(indices: Any, metric: str) -> OutTable:
    names = ("variant", "parameter", "method", "index", "value", "± conf")
    cols = [Column(k, tr(k), align="right" if k in ("value", "± conf") else "left")
            for k in ("variant", "parameter", "method", "index", "value", "conf")]
    for c, n in zip(cols, names, strict=True):
        c.label = tr(n)
    rows = [[r.variant, r.parameter, r.method, r.index, r.value, r.conf]
            for r in indices.itertuples()]
    cells = [[str(r.variant), r.parameter, r.method, r.index, f"{r.value:.3f}",
              "—" if math.isnan(r.conf) else f"{r.conf:.3f}"] for r in indices.itertuples()]
    return OutTable(tr("sensitivity of {metric} (SALib)", metric=_label(metric)), cols, rows,
                    cells, key_columns=2)
