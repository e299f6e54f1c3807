"""Where a simulated day goes, module by module, and how much of it runs in parallel.

Runs one world of a scenario in-process (no counterfactual, so the figures are the factual
world's own) and times every part of ``OperatingMatrixModel.step`` — each strategy module's
``step``, value accrual, the money layer, the recorder and the data collector — with both the
wall clock and the process's CPU clock (all threads: numba's pool included). On a shared
machine the CPU seconds are the robust figure; ``cpu / wall`` per part tells whether it used
more than one core (≈ 1: serial; → threads: parallel).

    .venv/bin/python benchmarks/profile_day.py benchmarks/scenarios/core_ws.yaml \
        --size 1000000 --threads 1 2

Prints one table per thread count (and ``--json`` writes them). Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any


def _wrap(fn, name: str, acc: dict[str, list[float]]):
    def timed(*args, **kwargs):
        w0 = time.perf_counter()
        c0 = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            a = acc[name]
            a[0] += time.perf_counter() - w0
            a[1] += time.process_time() - c0

    return timed


def profile(
    scenario_path: str, size: int, days: int | None, threads: int, seed: int
) -> dict[str, Any]:
    """Per-part wall and CPU seconds of one world of ``scenario_path`` at ``size``."""
    from simulation import kernels
    from simulation.model import OperatingMatrixModel
    from simulation.scenario.load import load_scenario

    kernels.set_threads(threads)
    overrides = [f"population.size={size}", "incrementality.counterfactual=false"]
    if days is not None:
        overrides.append(f"days={days}")
    scenario = load_scenario(Path(scenario_path), overrides=overrides)
    w0, c0 = time.perf_counter(), time.process_time()
    model = OperatingMatrixModel(scenario, seed)
    build = (time.perf_counter() - w0, time.process_time() - c0)
    acc: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for module in model.modules:
        module.step = _wrap(module.step, type(module).__name__, acc)
    model.lifecycle.accrue_value = _wrap(model.lifecycle.accrue_value, "accrue_value", acc)
    model.money.step = _wrap(model.money.step, "money", acc)
    model.recorder.record = _wrap(model.recorder.record, "recorder", acc)
    model.datacollector.collect = _wrap(model.datacollector.collect, "datacollector", acc)
    w0, c0 = time.perf_counter(), time.process_time()
    model.run()
    run = (time.perf_counter() - w0, time.process_time() - c0)
    ranked = sorted(acc.items(), key=lambda kv: -kv[1][0])
    parts = {k: {"wall": v[0], "cpu": v[1]} for k, v in ranked}
    return {
        "scenario": scenario_path, "size": size, "days": model.days, "threads": threads,
        "build": {"wall": build[0], "cpu": build[1]}, "run": {"wall": run[0], "cpu": run[1]},
        "parts": parts, "load_avg": os.getloadavg(),
    }


def table(res: dict[str, Any]) -> str:
    run = res["run"]
    lines = [
        f"{res['scenario']} {res['size']:,} × {res['days']} d, {res['threads']} thread(s), "
        f"load {res['load_avg'][0]:.1f}: build {res['build']['wall']:.1f} s; "
        f"run {run['wall']:.2f} s wall, {run['cpu']:.2f} CPU-s",
        "| part | wall s | CPU s | CPU/wall | share of run wall |",
        "|---|---|---|---|---|",
    ]
    for name, p in res["parts"].items():
        ratio = p["cpu"] / p["wall"] if p["wall"] > 0 else 0.0
        lines.append(
            f"| {name} | {p['wall']:.2f} | {p['cpu']:.2f} | {ratio:.2f} | "
            f"{p['wall'] / run['wall']:.0%} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scenario")
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=None)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    # Warm-up: load every compiled kernel once (numba's cache), so the first timed run does not
    # pay LLVM start-up that the second one would not.
    profile(args.scenario, 20_000, 5, max(args.threads), args.seed)
    out = []
    for t in args.threads:
        res = profile(args.scenario, args.size, args.days, t, args.seed)
        print(table(res), flush=True)
        out.append(res)
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
