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

``--serial-share`` measures what Amdahl's law needs instead: it runs on one thread, but every
kernel call picks the twin a ``--as-threads``-thread run would pick (the parallel twin above
``PARALLEL_MIN_WORK``), and the process CPU spent inside parallel twins is counted. Everything
else — numpy, Python, the serial kernels — is the serial share, the part more threads cannot
shorten. One thread gives the work without the barrier waits a loaded machine adds.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

_CURRENT: list[str] = []  # the parts being timed, innermost last


def _wrap(fn, name: str, acc: dict[str, list[float]], part: bool = True):
    """Time ``fn`` into ``acc[name]`` = [wall, CPU, CPU inside parallel twins]; a parallel
    twin (``part=False``) also adds its CPU to the part it runs in."""
    def timed(*args, **kwargs):
        if part:
            _CURRENT.append(name)
        w0 = time.perf_counter()
        c0 = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            dc = time.process_time() - c0
            a = acc[name]
            a[0] += time.perf_counter() - w0
            a[1] += dc
            if part:
                _CURRENT.pop()
            elif _CURRENT:
                acc[_CURRENT[-1]][2] += dc

    return timed


def _count_parallel_twins(kernels, as_threads: int, acc: dict[str, list[float]]) -> None:
    """Make every kernel call take the twin an ``as_threads``-thread run takes (while running
    on the threads set now) and time the parallel twins' calls into ``acc["parallel twins"]``."""
    import numba as nb

    def decide(work: float) -> int:
        return 1 if work >= kernels.PARALLEL_MIN_WORK and as_threads > 1 else 0

    kernels._parallel = decide
    for name, value in list(vars(kernels).items()):
        if (isinstance(value, tuple) and len(value) == 2
                and all(isinstance(v, nb.core.registry.CPUDispatcher) for v in value)):
            setattr(kernels, name, (value[0], _wrap(value[1], "parallel twins", acc, part=False)))


def profile(
    scenario_path: str, size: int, days: int | None, threads: int, seed: int,
    as_threads: int | None = None,
) -> dict[str, Any]:
    """Per-part wall and CPU seconds of one world of ``scenario_path`` at ``size``
    (``as_threads``: the serial-share mode, module docstring)."""
    from simulation import kernels
    from simulation.model import OperatingMatrixModel
    from simulation.scenario.load import load_scenario

    kernels.set_threads(threads)
    acc: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    if as_threads is not None:
        _count_parallel_twins(kernels, as_threads, acc)
    overrides = [f"population.size={size}", "incrementality.counterfactual=false"]
    if days is not None:
        overrides.append(f"days={days}")
    scenario = load_scenario(Path(scenario_path), overrides=overrides)
    w0, c0 = time.perf_counter(), time.process_time()
    model = OperatingMatrixModel(scenario, seed)
    build = (time.perf_counter() - w0, time.process_time() - c0)
    acc.pop("parallel twins", None)  # the build's calls are not the days'
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
    parts = {k: {"wall": v[0], "cpu": v[1], "parallel_cpu": v[2]} for k, v in ranked}
    extra = {}
    if as_threads is not None:
        par = acc.get("parallel twins", [0.0, 0.0])[1]
        extra = {"as_threads": as_threads, "parallel_cpu": par,
                 "serial_share": 1.0 - par / run[1] if run[1] > 0 else 1.0}
    return {**extra,
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
    ]
    if "serial_share" in res:
        lines.append(
            f"serial share (kernel twins as on {res['as_threads']} threads): "
            f"{res['serial_share']:.0%} of the days' CPU outside parallel twins "
            f"({res['parallel_cpu']:.2f} of {run['cpu']:.2f} CPU-s inside them)"
        )
    lines += [
        "| part | wall s | CPU s | CPU/wall | share of run wall | CPU s in parallel twins |",
        "|---|---|---|---|---|---|",
    ]
    for name, p in res["parts"].items():
        ratio = p["cpu"] / p["wall"] if p["wall"] > 0 else 0.0
        par = "" if name == "parallel twins" else f"{p['parallel_cpu']:.2f}"
        lines.append(
            f"| {name} | {p['wall']:.2f} | {p['cpu']:.2f} | {ratio:.2f} | "
            f"{p['wall'] / run['wall']:.0%} | {par} |"
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
    ap.add_argument("--serial-share", action="store_true",
                    help="one thread, kernel twins as on --as-threads threads; count the "
                         "CPU inside parallel twins (module docstring)")
    ap.add_argument("--as-threads", type=int, default=2)
    args = ap.parse_args()
    # Warm-up: load every compiled kernel once (numba's cache), so the first timed run does not
    # pay LLVM start-up that the second one would not: the parallel twins (every threshold at
    # 0, 2 threads) and the serial ones (one thread). Loading a twin from the cache costs
    # llvmlite work (~0.15 CPU-s for a core_ws day's kernels): with only the parallel twins
    # warmed, the first timed run (one thread) paid for loading the serial ones.
    from simulation import kernels

    min_work, kernels.PARALLEL_MIN_WORK = kernels.PARALLEL_MIN_WORK, 0
    profile(args.scenario, 20_000, 5, max(2, *args.threads), args.seed)
    kernels.PARALLEL_MIN_WORK = min_work
    profile(args.scenario, 20_000, 5, 1, args.seed)
    out = []
    if args.serial_share:
        res = profile(args.scenario, args.size, args.days, 1, args.seed, args.as_threads)
        print(table(res), flush=True)
        out.append(res)
        args.threads = []
    for t in args.threads:
        res = profile(args.scenario, args.size, args.days, t, args.seed)
        print(table(res), flush=True)
        out.append(res)
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
