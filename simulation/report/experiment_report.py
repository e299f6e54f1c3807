"""Report of an experiment's stored runs: KPI means with 95 % CIs per variant, paired
differences against the baseline, and every experiment figure the design supports."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from simulation import kpis
from simulation.errors import ScenarioError
from simulation.formatting import CLIPPED_NOTE, fmt_ci, fmt_diff_ci, within
from simulation.plots import experiment_plots as ep
from simulation.plots.run_plots import FigureUnavailable
from simulation.report.render import Report, Table, fmt, to_yaml
from simulation.report.run_report import Progress
from simulation.result import package_version
from simulation.runner.analysis import paired_differences, sensitivity, variant_summary
from simulation.runner.store import ResultStore

DEFAULT_OUTCOMES = kpis.names("outcome")


def open_store(target: Path, results: Path) -> ResultStore:
    """The store of an experiment YAML (under ``results``), or a results folder itself."""
    return ResultStore.open_target(
        target, results,
        "neither a run folder (summary.json) nor an experiment folder (manifest.json)",
    )


def _kind(metric: str) -> str:
    """The registry's format, except counts, which a mean over replicates shows with decimals."""
    fmt_code = kpis.format_of(metric)
    return "" if fmt_code == "int" else fmt_code


#: Up to this many variants the KPI table has one column per variant (a row per KPI).
MAX_VARIANT_COLUMNS = 8


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): data}


def _scenario_of(store: ResultStore, run_id: str) -> dict[str, Any] | None:
    record = store.record(run_id) or {}
    scenario = record.get("scenario")
    return scenario if isinstance(scenario, dict) else None


def build_experiment_report(store: ResultStore, progress: Progress | None = None) -> Report:
    runs = store.runs_frame()
    done = runs[runs["status"] == "done"]
    if done.empty:
        from simulation.report.stale import no_runs_message

        message = ("no finished runs stored yet; run `opmatrix sweep <experiment.yaml>` first"
                   if not runs.empty else None)
        raise ScenarioError.single(str(store.root), "", message or no_runs_message(store.root))
    manifest = store.manifest()
    name = str(runs["experiment"].iloc[0])
    baseline = store.baseline() or str(runs["variant"].iloc[0])
    outcomes = [m for m in (manifest.get("outcomes") or DEFAULT_OUTCOMES) if m in runs.columns]
    variants = list(dict.fromkeys(runs["variant"].astype(str)))
    sweep = store.sweep_info()
    failed = runs[runs["status"] != "done"]
    facts = [
        ("experiment", name),
        ("results folder", str(store.root)),
        ("variants", ", ".join(variants) + f" (baseline: {baseline})"),
        ("runs", f"{len(done)} done, {len(failed)} failed"),
        ("seeds (replicates, shared by every variant)",
         ", ".join(str(int(s)) for s in sorted(done["seed"].unique()))),
        ("opmatrix version", package_version()),
    ]
    if sweep:
        facts.append(("sweep", f"{sweep.get('sampler')} over "
                      + ", ".join(sweep.get("problem", {}).get("names", []) or
                                  [c.removeprefix("param:") for c in ep.param_columns(runs)])))
    report = Report(title=f"Experiment report · {name}",
                    subtitle=(store.experiment.config.description if store.experiment else ""),
                    facts=facts)

    summary = variant_summary(runs, outcomes)
    rows = []
    clipped = False
    for v in variants:
        cells = []
        for m in outcomes:
            r = summary[(summary["variant"].astype(str) == v) & (summary["metric"] == m)]
            if not len(r):
                cells.append("—")
                continue
            mean, low, high = r[["mean", "ci_low", "ci_high"]].iloc[0]
            low, high, cut = within(m, low, high)
            clipped |= cut
            cells.append(fmt_ci(mean, low, high, _kind(m), 2))
        n = int(summary.loc[summary["variant"].astype(str) == v, "n"].max())
        rows.append([v, str(n), *cells])
    heads = ["variant", "runs", *map(ep.metric_label, outcomes)]
    if len(variants) <= MAX_VARIANT_COLUMNS:
        # one row per KPI, one column per variant: 15 KPI columns of "mean [low, high]" ran
        # off the page (and wrapped every interval onto three lines)
        heads, rows = ["metric", *variants], [
            [heads[j], *(row[j] for row in rows)] for j in range(1, len(heads))]
    report.tables.append(Table(
        "KPIs by variant: mean [95 % CI]", heads, rows,
        "Student-t intervals over replicates (and sweep points, for a sweep)"
        + (f"; {CLIPPED_NOTE}." if clipped else "."),
    ))
    diffs = paired_differences(runs, baseline, outcomes)
    if not diffs.empty:
        report.tables.append(Table(
            f"Paired differences vs '{baseline}' (same seeds)",
            ["variant", "metric", "pairs", "mean difference [95 % CI]", "p-value", "Holm p"],
            [[str(r.variant), ep.metric_label(r.metric), str(r.n_pairs),
              fmt_diff_ci(r.mean_diff, r.ci_low, r.ci_high, _kind(r.metric), 2),
              fmt(r.p_value), fmt(r.p_holm)] for r in diffs.itertuples()],
            "Each variant's run minus the baseline's run on the same seed: common random "
            "numbers cancel the noise both share." + _multiple_note(diffs),
        ))
    if len(failed):
        report.tables.append(Table(
            "Failed runs", ["run", "variant", "seed", "error"],
            [[str(r.run_id), str(r.variant), str(r.seed), str(r.error)[:200]]
             for r in failed.itertuples()],
        ))

    figures = _figure_plan(store, runs, baseline, outcomes, sweep)
    for i, (title, caption, make) in enumerate(figures):
        if progress:
            progress(f"figure: {title}", i, len(figures))
        try:
            report.add_figure(title, caption, make())
        except (FigureUnavailable, ValueError) as exc:
            report.notes.append(f"{title} not drawn: {exc}.")
    if progress:
        progress("done", len(figures), len(figures))

    base_run = done[done["variant"].astype(str) == baseline]["run_id"]
    base_scenario = _scenario_of(store, str(base_run.iloc[0])) if len(base_run) else None
    if base_scenario:
        report.scenario_yaml = to_yaml(base_scenario)
        flat_base = _flat(base_scenario)
        changes: dict[str, dict[str, Any]] = {}
        for v in variants:
            ids = done[done["variant"].astype(str) == v]["run_id"]
            other = _scenario_of(store, str(ids.iloc[0])) if len(ids) else None
            if other and v != baseline:
                flat = _flat(other)
                changes[v] = {k: flat.get(k) for k in sorted(set(flat) | set(flat_base))
                              if flat.get(k) != flat_base.get(k)}
        if changes:
            report.extra_yaml.append(("What each variant changes (vs the baseline scenario)",
                                      to_yaml(changes)))
    return report


def _multiple_note(diffs: pd.DataFrame) -> str:
    """A word on multiple comparisons: how many tests, how many chance hits to expect."""
    tests = int(diffs["p_value"].notna().sum())
    if tests < 2:
        return ""
    from simulation.i18n import tr

    return " " + tr(
        "{tests} tests at once: about {expect} p-values below 0.05 are expected by chance alone "
        "even with no real difference; the Holm column adjusts for that (family-wise error "
        "rate).", tests=tests, expect=f"{0.05 * tests:.1f}")


def _figure_plan(
    store: ResultStore,
    runs: pd.DataFrame,
    baseline: str,
    outcomes: list[str],
    sweep: dict[str, Any] | None,
) -> list[tuple[str, str, Callable[[], Figure]]]:
    """The figures this experiment's design supports, as deferred calls (drawn one by one)."""
    compare = [m for m in ep.DEFAULT_COMPARE if m in outcomes] or outcomes[:3]
    plan: list[tuple[str, str, Callable[[], Figure]]] = [
        ("Variants compared", "Mean of each KPI per variant with its 95 % confidence interval.",
         lambda: ep.variant_comparison(runs, compare)),
    ]
    if runs["variant"].nunique() > 1:
        plan.append(("Paired differences (forest plot)",
                     f"Each variant minus '{baseline}' on the same seeds, 95 % CI.",
                     lambda: ep.paired_forest(runs, baseline, compare)))
    if {"cost_per_acquisition", "conversion_rate"} <= set(runs.columns):
        plan.append(("CPA vs conversion with the Pareto frontier",
                     "Each arm (variant × sweep point) at its mean over replicates; the "
                     "frontier joins arms no other arm beats on both.",
                     lambda: ep.cpa_conversion_frontier(runs)))
        plan.append(("Retention curves", "Share of customers ever won still not churned, "
                     "mean and 95 % band over replicates.",
                     lambda: ep.retention_curves(store.daily_frame())))
    if len(ep.param_columns(runs)) >= 2:
        for m in [m for m in ("conversion_rate", "cost_per_acquisition") if m in outcomes] or (
            outcomes[:1]
        ):
            plan.append((f"Sweep heatmap: {ep.metric_label(m)}",
                         "Mean over the first two swept parameters (others averaged).",
                         lambda m=m: ep.sweep_heatmap(runs, m)))
    if sweep and sweep.get("sampler") in ("sobol", "morris", "lhs", "random"):
        for m in [m for m in ("conversion_rate", "cost_per_acquisition") if m in outcomes] or (
            outcomes[:1]
        ):
            plan.append((f"Sensitivity: {ep.metric_label(m)}",
                         "Which swept parameter drives the KPI (SALib indices with their "
                         "confidence intervals).",
                         lambda m=m: ep.sensitivity_tornado(sensitivity(runs, m))))
    return plan
