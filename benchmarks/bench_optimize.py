"""``opmatrix optimize`` speed (issue 13; not part of ``make test``).

Targets: an allocation over 8 channels with 100 candidates × 4 replicates of 10k customers ×
180 days, plus the selection stage, in under 10 minutes on 2 workers; the optimiser's own
overhead (Optuna's ask and tell, the trial bookkeeping) under 50 ms per candidate.

1. **Overhead**: the same 8-channel allocation on a tiny population (300 customers × 5 days, so
   the runs cost nothing) with 100 candidates, serial executor: the optimiser's overhead per
   candidate as the command reports it (ask + tell + the trial record, timed around Optuna
   only), wall and CPU time.
2. **Full scale**: quickstart's five channels plus three more (Douyin live, WeCom moments, mini
   program; benchmarks/scenarios/eight_channels.yaml), 10k customers × 180 days, 4 replicates,
   2 local workers, Kim–Nelson on the top 5. ``--candidates`` (default 100) sets the search
   size; on a shared machine run a reduced one (e.g. ``--candidates 24``) and the script
   extrapolates the search phase linearly in candidates (each candidate is the same 4 runs), the
   other phases as measured — and says so.

Run: ``.venv/bin/python benchmarks/bench_optimize.py [--candidates 100] [--workers 2]``;
``main()`` returns the figures as a dict.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from simulation.decide.optimize import Optimization  # noqa: E402
from simulation.decide.spec import load_optimization  # noqa: E402
from simulation.runner.executors import SerialExecutor, open_executor  # noqa: E402

SCENARIO = REPO / "benchmarks" / "scenarios" / "eight_channels.yaml"
CHANNELS = (
    "service_account", "douyin_ads", "outbound_call", "branch", "wecom_1to1",
    "douyin_live", "wecom_moments", "mini_program",
)

EXPERIMENT = """
name: {name}
scenario: {scenario}
days: {days}
overrides: {{population.size: {size}}}
replicates: {replicates}
optimize:
  sampler: tpe
  trials: {trials}
  batch: {batch}
  objectives: [{{kpi: acquisitions, direction: maximize}}]
  constraints: [{{kpi: {con_kpi}, max: {con_max}}}]
  budget:
    total: 800000
    channels:
{channels}
  selection: {{method: kim_nelson, top_k: 5, delta: 5, alpha: 0.05, initial_replicates: 6,
              max_replicates: {max_rep}, step: 2}}
  marginal: {{step_pct: 10, replicates: 4}}
  response_curves: {{enabled: false}}
"""


def _experiment(folder: Path, name: str, **kw: Any) -> Path:
    channels = "\n".join(f"      {c}: {{low: 0, high: 300000}}" for c in CHANNELS)
    path = folder / f"{name}.yaml"
    path.write_text(
        EXPERIMENT.format(name=name, scenario=SCENARIO, channels=channels, **kw), encoding="utf-8"
    )
    return path


def overhead(folder: Path, trials: int = 100) -> dict[str, Any]:
    exp = _experiment(folder, "overhead", days=5, size=300, replicates=1, trials=trials,
                      batch=4, max_rep=6, con_kpi="spend", con_max=1e9)
    spec = load_optimization(exp)
    t0 = time.perf_counter()
    result = Optimization(spec, folder / "results", SerialExecutor()).run()
    return {
        "trials": trials,
        "overhead_ms_per_candidate": result["overhead_per_candidate_ms"],
        "overhead_cpu_ms_per_candidate": result["overhead_cpu_per_candidate_ms"],
        "wall_s": time.perf_counter() - t0,
    }


def full_scale(folder: Path, candidates: int, workers: int) -> dict[str, Any]:
    exp = _experiment(folder, "full", days=180, size=10000, replicates=4, trials=candidates,
                      batch=4, max_rep=20, con_kpi="cost_per_acquisition", con_max=400)
    spec = load_optimization(exp)
    t0 = time.perf_counter()
    with open_executor("local", workers) as pool:
        start_pool = time.perf_counter() - t0
        result = Optimization(spec, folder / "results", pool, workers).run()
    wall = time.perf_counter() - t0
    ph = result["phase_seconds"]
    per_candidate = ph["search"] / candidates
    rest = wall - ph["search"]
    projected = rest + 100 * per_candidate
    return {
        "candidates": candidates,
        "workers": workers,
        "wall_s": wall,
        "pool_start_s": start_pool,
        "phases_s": ph,
        "runs_computed": result["runs_computed"],
        "search_s_per_candidate": per_candidate,
        "projected_100_candidates_s": projected,
        "measured_not_projected": candidates >= 100,
        "overhead_ms_per_candidate": result["overhead_per_candidate_ms"],
        "selection": result["selection"]["description"] if result["selection"] else None,
    }


def main(candidates: int = 100, workers: int = 2) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        out = {"load_before": os.getloadavg()[0], "overhead": overhead(folder)}
        out["full"] = full_scale(folder, candidates, workers)
        out["load_after"] = os.getloadavg()[0]
    return out


def report(fig: dict[str, Any]) -> str:
    o, f = fig["overhead"], fig["full"]
    kind = "measured" if f["measured_not_projected"] else (
        f"projected from {f['candidates']} candidates (search phase × 100/{f['candidates']})"
    )
    lines = [
        f"- optimiser overhead: {o['overhead_ms_per_candidate']:.1f} ms wall "
        f"({o['overhead_cpu_ms_per_candidate']:.1f} ms CPU) per candidate over {o['trials']} TPE "
        "candidates, 8 budgets (target < 50 ms; the journal is fsynced once per batch, "
        "simulation/decide/journal.py)",
        f"- 8-channel allocation, 10k × 180 d, 4 replicates, {f['workers']} workers: "
        f"{f['candidates']} candidates + selection took {f['wall_s']:.0f} s "
        f"({f['runs_computed']} runs; phases "
        + ", ".join(f"{k} {v:.0f} s" for k, v in f["phases_s"].items())
        + f"); 100 candidates + selection: {f['projected_100_candidates_s'] / 60:.1f} min, "
        f"{kind} (target < 10 min)",
        f"- selection: {f['selection']}",
        f"- load average before/after: {fig['load_before']:.1f} / {fig['load_after']:.1f} "
        f"on {os.cpu_count()} cores",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(report(main(args.candidates, args.workers)))
