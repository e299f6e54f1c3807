"""``opmatrix calibrate`` speed (issue 12; not part of ``make test``).

Target: a 20-parameter calibration on 10k customers × 365 days with 4 replicates per trial and
200 trials in under 15 minutes on 2 cores; the per-trial overhead beyond simulation under 5 %.

Set-up: quickstart at 10k customers; 20 parameters (channel conversion/engagement/reach,
lifecycle hazards, word of mouth, segment churn), each bounded ×0.5…×2 around the preset's
value; targets = 12 months of new customers per channel and by word of mouth, month-end active
customers and churned per month, simulated at ×1.2 of every value on a seed the calibration
does not use. Optuna TPE, batches of 4 trials, 2 local workers.

Overhead is measured, not assumed, two ways. Wall: 1 − (Σ simulation seconds in the
workers) / (wall seconds of the trial loop × workers); everything else (process pool, pickling
the scenario, validating each trial's scenario, hashing run ids, writing run records,
likelihoods, Optuna's ask/tell and its journal) is overhead. CPU: this process's CPU seconds in
the trial loop over the workers' simulation CPU seconds, which a loaded shared machine does not
distort (the unloaded extrapolation uses it).

``--trials`` sets the size: the default is the full 200 trials (800 runs, ≈ 7–8 minutes on 2
quiet cores; ``make bench`` runs it so). On a shared machine run a reduced one (e.g.
``--trials 8`` = 32 runs) and the script extrapolates to 200 trials linearly (each trial is the
same 4 runs), printing the measured and the extrapolated figures and the load.

Run: ``.venv/bin/python benchmarks/bench_calibrate.py [--trials 200] [--workers 2]``;
``main()`` returns the figures as a dict and :func:`report` renders them for results.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CANDIDATES = [
    "channels.service_account.conversion_on_contact",
    "channels.service_account.engage_on_contact",
    "channels.douyin_ads.conversion_on_contact",
    "channels.douyin_ads.engage_on_contact",
    "channels.outbound_call.engage_on_contact",
    "channels.outbound_call.conversion_on_contact",
    "channels.branch.conversion_on_contact",
    "channels.branch.engage_on_contact",
    "channels.branch.daily_reach",
    "channels.wecom_1to1.conversion_on_contact",
    "channels.wecom_1to1.daily_reach",
    "lifecycle.forget",
    "lifecycle.engaged_conversion",
    "lifecycle.at_risk_recovery",
    "lifecycle.at_risk_to_dormant",
    "lifecycle.dormant_recovery",
    "lifecycle.dormant_to_churned",
    "word_of_mouth.imitation",
    "population.segments.credit_card.churn_hazard",
    "population.segments.payroll.churn_hazard",
    "population.segments.branch_neighbourhood.churn_hazard",
    "population.segments.social_security_elderly.churn_hazard",
]
SOURCES = ("service_account", "douyin_ads", "outbound_call", "branch", "wecom_1to1",
           "word_of_mouth")


def _value(data: dict[str, Any], path: str) -> float | None:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return float(node) if isinstance(node, int | float) and not isinstance(node, bool) else None


def build(folder: Path, customers: int, days: int) -> tuple[Path, Path, Path, dict[str, float]]:
    """Scenario, targets and parameters files of the benchmark; returns them and the truth."""
    from simulation.decide.calibrate_model import record_levels
    from simulation.model import OperatingMatrixModel
    from simulation.scenario.load import load_scenario

    data = yaml.safe_load((REPO / "scenarios" / "quickstart.yaml").read_text(encoding="utf-8"))
    data["population"]["size"] = customers
    data["days"] = days
    params: dict[str, dict[str, float]] = {}
    truth: dict[str, float] = {}
    for path in CANDIDATES:
        v = _value(data, path)
        if v is None or v <= 0:
            continue
        params[path] = {"low": v * 0.5, "high": min(v * 2.0, 1.0)}
        truth[path] = min(v * 1.2, 1.0)
        if len(params) == 20:
            break
    scenario = folder / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    sc = load_scenario(scenario, [f"{k}={v}" for k, v in truth.items()])
    model = OperatingMatrixModel(sc, 987_654)  # the "world": a seed the calibration never uses
    model.run()
    levels = {k: np.asarray(v) for k, v in record_levels(model).items()}
    bounds = [round(m * 365.25 / 12) for m in range(13)]
    targets: dict[str, Any] = {}

    def flows(name: str) -> list[int]:
        s = levels.get(name, np.zeros(days + 1))
        return [int(s[b] - s[a]) for a, b in itertools.pairwise(bounds)]

    for src in SOURCES:
        targets[f"new_{src}"] = {"observable": f"acquisitions:{src}", "kind": "flow",
                                 "values": flows(f"acquisitions:{src}"),
                                 "likelihood": "negative_binomial", "dispersion": 0.02}
    targets["active"] = {"observable": "active", "kind": "stock",
                         "values": [int(levels["active"][b]) for b in bounds[1:]],
                         "likelihood": "normal", "cv": 0.02}
    targets["churned"] = {"observable": "churned", "kind": "flow", "values": flows("churned"),
                          "likelihood": "negative_binomial", "dispersion": 0.02}
    tpath = folder / "targets.yaml"
    tpath.write_text(yaml.safe_dump({"name": "bench_calibrate", "grid": {"unit": "month"},
                                     "targets": targets}, sort_keys=False), encoding="utf-8")
    ppath = folder / "params.yaml"
    ppath.write_text(yaml.safe_dump({"replicates": 4, "parameters": params,
                                     "optuna": {"trials": 200, "batch": 4,
                                                "startup_trials": 20}}, sort_keys=False),
                     encoding="utf-8")
    return scenario, tpath, ppath, truth


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args(argv)
    from simulation.cli.commands_calibrate import calibrate_files

    os.environ.setdefault("OPMATRIX_CACHE", "off")
    with tempfile.TemporaryDirectory(prefix="bench_calibrate-") as tmp:
        folder = Path(tmp)
        scenario, targets, params, truth = build(folder, args.customers, args.days)
        load_before = os.getloadavg()
        start = time.perf_counter()
        cal, summary, _ = calibrate_files(scenario, targets, params, "optuna", folder / "out",
                                          "local", args.workers, None, args.trials)
        total = time.perf_counter() - start
        state = json.loads((folder / "out" / "calibration.json").read_text())
    t = state["timing"]
    per_run = t["simulate_s"] / max(t["runs"], 1)
    overhead = 1 - t["simulate_s"] / (t["wall_s"] * args.workers)
    cpu_per_run = t["simulate_cpu_s"] / max(t["runs"], 1)
    # load-independent: this process's CPU in the trial loop (validation, hashing, records,
    # likelihoods, Optuna) against the workers' simulation CPU
    overhead_cpu = t["parent_cpu_s"] / max(t["simulate_cpu_s"], 1e-9)
    runs_200 = 200 * 4
    loop_200 = t["wall_s"] * 200 / args.trials
    fixed = total - t["wall_s"]  # loading, probe, pool start, summary, report
    out = {
        "parameters": len(cal.names),
        "customers": args.customers,
        "days": args.days,
        "replicates": 4,
        "trials_measured": args.trials,
        "workers": args.workers,
        "runs": t["runs"],
        "simulate_s_per_run": per_run,
        "trial_loop_wall_s": t["wall_s"],
        "total_wall_s": total,
        "fixed_s": fixed,
        "overhead_share_wall": overhead,
        "simulate_cpu_s_per_run": cpu_per_run,
        "parent_cpu_s_in_trial_loop": t["parent_cpu_s"],
        "overhead_cpu_share": overhead_cpu,
        "extrapolated_200_trials_unloaded_s": runs_200 * cpu_per_run * (1 + overhead_cpu)
        / args.workers + fixed,
        "extrapolated_200_trials_s": loop_200 + fixed,
        "extrapolated_200_trials_ideal_s": runs_200 * per_run / args.workers + fixed,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "cpus": os.cpu_count(),
        "measured_not_extrapolated": args.trials >= 200,
        "best_deviance": summary.deviance,
        "median_relative_error_vs_truth": float(np.median(
            [abs(summary.estimate[k] - v) / v for k, v in truth.items()]
        )),
    }
    print(json.dumps(out, indent=1))
    return out


def report(fig: dict[str, Any]) -> str:
    """The figures as results.md lines (measured vs extrapolated said explicitly)."""
    n = fig["trials_measured"]
    if fig["measured_not_extrapolated"]:
        total = f"{fig['total_wall_s'] / 60:.1f} min measured"
    else:
        total = (f"{fig['extrapolated_200_trials_s'] / 60:.1f} min extrapolated from {n} trials "
                 f"at this load ({fig['extrapolated_200_trials_unloaded_s'] / 60:.1f} min on "
                 "idle cores from CPU per run)")
    return "\n".join([
        f"- {fig['parameters']} parameters, {fig['customers']:,} customers × {fig['days']} d, "
        f"4 replicates, {n} TPE trials ({fig['runs']} runs), {fig['workers']} local workers: "
        f"{fig['total_wall_s']:.0f} s wall; 200 trials: {total} (target < 15 min)",
        f"- simulation {fig['simulate_s_per_run']:.2f} s wall / "
        f"{fig['simulate_cpu_s_per_run']:.2f} s CPU per run; overhead beyond simulation "
        f"{100 * fig['overhead_share_wall']:.1f} % of wall, "
        f"{100 * fig['overhead_cpu_share']:.1f} % by CPU (target < 5 %)",
        f"- median relative error of the estimates vs the truth: "
        f"{100 * fig['median_relative_error_vs_truth']:.0f} %",
        f"- load average before/after: {fig['load_average_before'][0]:.1f} / "
        f"{fig['load_average_after'][0]:.1f} on {fig['cpus']} cores",
    ])


if __name__ == "__main__":
    print(report(main()))
