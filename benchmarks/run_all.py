"""``make bench``: every speed figure the issues ask for, appended with the machine description
and the load average to benchmarks/results.md:

- opmatrix against an idiomatic per-agent Mesa model (core_ws) at ``--sizes`` × 365 days, and
  graph construction at the largest size;
- ``operating_matrix`` at 100k and 1M × 365 with and without its counterfactual world, next to
  issue 10's target (≤ 30 s at 1M) and the figures before;
- sweep throughput, per-run overhead share and parallel efficiency at 1/2/… workers as far as
  the cores go (issue 14 item 3; the core count is printed), ``opmatrix optimize`` and
  ``opmatrix calibrate``;
- core_ws at 1M and 10M × 365 with 1 thread and with every core, peak GB, and the 100M memory
  estimate, next to issue 14's targets and "today" figures.

Every figure is one fresh subprocess timed from its start to its exit (imports, graph building
and writing results included; cold graph cache unless marked warm); peak RSS is that process's,
CPU = user + sys of it. The baseline (benchmarks/baseline_mesa.py) runs up to
``--baseline-max`` customers (default 100k, ~2 min); larger sizes are extrapolated from the
largest measured one at its agent-days/s (memory linearly), and marked so. A section that
fails says so in the report; the others still run.

Duration on a quiet 2-core machine: ~25 min in full (optimize and calibrate at their full
sizes ~7 min each, the 10M rows ~3.5, sweeps ~4.5 with bench_sweep's CPU split, the rest ~4);
``--skip optimize calibrate``
(or ``--optimize-candidates 0 --calibrate-trials 0``) ~11 min; ``--quick`` ~2 min (baseline
at 10k, no preset/sweep/optimize/calibrate/10M rows). ``--skip``, ``--scale-sizes``,
``--preset-sizes``, ``--sweep-runs``, ``--sweep-throughput-runs``, ``--optimize-candidates``
and ``--calibrate-trials`` trim it further, e.g. a smoke test:
``run_all.py --sizes 10000 100000 --baseline-max 10000 --scale-sizes 100000 200000
--sweep-runs 8 --sweep-throughput-runs 4 --optimize-candidates 6 --calibrate-trials 0
--no-write``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import (
    REPO,
    CommandFailed,
    machine,
    measure,
    measure_opmatrix,
)

HERE = Path(__file__).resolve().parent
CORE = HERE / "scenarios" / "core_ws.yaml"
PRESET = REPO / "scenarios" / "operating_matrix.yaml"
RESULTS = HERE / "results.md"
DAYS = 365

GRAPH_SNIPPET = """
import sys, time, numpy as np
from simulation import load_scenario
from simulation.population.sampling import sample_population
from simulation.network.social import build_network
sc = load_scenario(sys.argv[1], [f"population.size={sys.argv[2]}", f"graph={sys.argv[3]}"])
pop = sample_population(sc, np.random.default_rng(1))
t = time.perf_counter()
net = build_network(sc.graph, pop, np.random.default_rng(2))
print(time.perf_counter() - t, net.n_edges)
"""
GRAPHS = {
    "watts_strogatz k=10 p=0.1": "{kind: watts_strogatz, k: 10, p: 0.1}",
    "barabasi_albert m=5": "{kind: barabasi_albert, m: 5}",
    "sbm mean degree 10 (segment × city)": "{kind: sbm, mean_degree: 10}",
}


@dataclass
class Row:
    label: str
    size: int
    wall: float
    peak_mb: float
    note: str = ""

    @property
    def rate(self) -> float:
        return self.size * DAYS / self.wall


def _fmt_rate(r: float) -> str:
    return f"{r / 1e6:.2f}M"


def bench_core(sizes: list[int], baseline_max: int) -> tuple[list[Row], list[Row], list[Row]]:
    ours, warm, base = [], [], []
    for n in sizes:
        print(f"  opmatrix core_ws {n:,} …", flush=True)
        runs = measure_opmatrix(CORE, n, runs=2 if n == max(sizes) else 1)
        ours.append(Row("opmatrix", n, runs[0].wall, runs[0].peak_mb, "cold graph cache"))
        for m in runs[1:]:
            warm.append(Row("opmatrix (warm graph cache)", n, m.wall, m.peak_mb, "graph cached"))
    measured: list[Row] = []
    for n in sizes:
        if n <= baseline_max:
            print(f"  Mesa baseline {n:,} … (slow)", flush=True)
            m = measure([sys.executable, str(HERE / "baseline_mesa.py"), "--size", str(n)])
            measured.append(Row("Mesa baseline", n, m.wall, m.peak_mb))
            base.append(measured[-1])
        elif measured:
            base.append(_extrapolate(measured, n))
    return ours, warm, base


def _extrapolate(measured: list[Row], n: int) -> Row:
    """Time at the largest measured size's agent-days/s; memory on the line through the two
    largest measured sizes (per-agent slope above the interpreter's fixed cost), else scaled."""
    last = measured[-1]
    wall = n * DAYS / last.rate
    if len(measured) >= 2:
        prev = measured[-2]
        slope = (last.peak_mb - prev.peak_mb) / (last.size - prev.size)
        peak = last.peak_mb + slope * (n - last.size)
        how = f"extrapolated from {prev.size:,} and {last.size:,}"
    else:
        peak = last.peak_mb * n / last.size
        how = f"extrapolated from {last.size:,} (memory: upper bound)"
    return Row("Mesa baseline", n, wall, peak, how)


def bench_graphs(n: int) -> list[tuple[str, float, int]]:
    out = []
    for label, spec in GRAPHS.items():
        print(f"  graph {label} at {n:,} …", flush=True)
        m = measure([sys.executable, "-c", GRAPH_SNIPPET, str(CORE), str(n), spec])
        seconds, edges = m.stdout.split()
        out.append((label, float(seconds), int(edges)))
    return out


#: Issue 10's speed target and the figures before it: the preset took 14.6–16.8 s at 1M × 365
#: before the money layer (this file, 2026-11-23, cold graph cache); on main 02ecf57 (money
#: layer + per-block draws, before the perf work of 2026-12-01) the coordinator measured 33.4 s
#: wall / 32.0 CPU-s with the counterfactual and 26.6 s / 26.0 CPU-s without, quiet machine.
PRESET_TARGET = {1_000_000: "≤ 30 s with the counterfactual (issue 10: ≤ 2 × ~15 s)"}
PRESET_BEFORE = {
    (1_000_000, True): "33.4 s (02ecf57); 14.6–16.8 s before the money layer",
    (1_000_000, False): "26.6 s (02ecf57)",
}


def _load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def bench_preset(sizes: list[int]) -> list[list[str]] | str:
    """operating_matrix as a user runs it (money layer + its counterfactual world, issue 10),
    then without the counterfactual to show what it costs; every core (the default)."""
    if not PRESET.exists():
        return f"skipped: {PRESET.relative_to(REPO)} does not exist yet"
    rows = []
    for n in sizes:
        print(f"  operating_matrix {n:,} …", flush=True)
        for cf, extra in ((True, []), (False, ["--set", "incrementality.counterfactual=false"])):
            load = _load()
            try:
                (m,) = measure_opmatrix(PRESET, n, ["--days", str(DAYS), *extra])
            except CommandFailed as exc:
                return f"failed at {n:,}: {exc}"
            rows.append([
                f"{n:,}", "money + counterfactual" if cf else "money, no counterfactual",
                f"{m.wall:.1f}", f"{m.cpu:.1f}", f"{m.peak_mb / 1024:.2f}", load,
                PRESET_TARGET.get(n, "-") if cf else "-", PRESET_BEFORE.get((n, cf), "-"),
            ])
    return rows


# Issue 14's figures on its 16-core machine, before this work (the "today" column), and the
# coordinator's on this 2-core machine at main 02ecf57 (quiet, --threads 2, with the
# counterfactual world core_ws then ran: 124.7 s wall, 145 CPU-s, 4.9 GB).
SCALE_TODAY = {
    1_000_000: "15.0 s, 0.63 GB (16 cores, 1 used)",
    10_000_000: "134.5 s, 4.4 GB (16 cores, 1 used); 124.7 s, 4.9 GB here at 02ecf57",
}
SCALE_TARGET = {
    1_000_000: "1 thread as fast as today",
    10_000_000: "≤ 90 s and ≤ 6 GB on 2 cores; ≤ 20 s on 16",
}


def estimate_100m(
    path: Path = CORE, extra: tuple[str, ...] = (), threads: int | None = None
) -> float:
    """Validation's memory estimate (GB) for ``path`` (default core_ws) at 100M customers on
    ``threads`` threads (default: this process's), whatever this machine has free (the check
    itself is switched off for the estimate)."""
    from simulation import load_scenario
    from simulation.scenario import limits

    real = limits.available_memory
    limits.available_memory = lambda: 10**18
    try:
        sc = load_scenario(path, ["population.size=100000000", *extra])
    finally:
        limits.available_memory = real
    return limits.estimate_bytes(sc, threads) / 1e9


def amdahl_lines(walls: dict[tuple[int, int], float], cores: int, to: int = 16) -> list[str]:
    """Amdahl's law from the two measured points of each size (1 thread and every core): the
    parallel share p that explains the measured speed-up, and the wall it implies on ``to``
    threads. An extrapolation, said as one: it assumes the parallel part keeps scaling as it did
    from 1 to ``cores`` threads (memory bandwidth, SMT and frequency are outside it)."""
    if cores < 2:
        return []
    out = []
    for size in sorted({s for s, _ in walls}):
        one, many = walls.get((size, 1)), walls.get((size, cores))
        if not one or not many:
            continue
        p = min(max((1 - many / one) / (1 - 1 / cores), 0.0), 1.0)
        out.append(
            f"Amdahl at {size:,}: {one / many:.2f}× on {cores} threads ⇒ parallel share "
            f"{p:.0%} ⇒ ≈ {one * (1 - p + p / to):.0f} s on {to} threads (extrapolated, not "
            "measured)."
        )
    return out


def bench_scale(sizes: list[int]) -> str:
    """core_ws × 365 days with 1 thread and with every core at each size; peak RSS per
    customer, and the 100M estimate from it and from validation's estimate (never run)."""
    from simulation.kernels import available_threads
    from simulation.scenario.limits import MEMORY_LIMIT

    cores = available_threads()
    rows, peaks, walls = [], {}, {}
    for size in sizes:
        for threads in sorted({1, cores}):
            print(f"  core_ws {size:,} × {DAYS} with {threads} thread(s) …", flush=True)
            load = _load()
            (m,) = measure_opmatrix(CORE, size, ["--threads", str(threads)])
            peaks[size] = max(peaks.get(size, 0.0), m.peak_mb)
            walls[size, threads] = m.wall
            rows.append([f"{size:,}", str(threads), f"{m.wall:.1f}", f"{m.cpu:.1f}",
                         f"{m.peak_mb / 1024:.2f}", load, SCALE_TARGET.get(size, "-"),
                         SCALE_TODAY.get(size, "-")])
    lines = [
        _table(["customers", "threads", "wall s", "CPU s", "peak GB", "load",
                "target (issue 14)", "issue-14 'today'"], rows),
        "",
        f"{cores} cores on this machine (numba's pool). Cold graph cache in every row "
        "(the graph is built in the run); core_ws simulates one world (no counterfactual).",
    ]
    lines += amdahl_lines(walls, cores)
    if len(peaks) >= 2:
        small, big = min(peaks), max(peaks)
        slope = (peaks[big] - peaks[small]) * 2**20 / (big - small)
        at_100m = (peaks[big] * 2**20 + slope * (100_000_000 - big)) / 1e9
        lines.append(
            f"Peak memory grows by {slope:,.0f} bytes per customer between {small:,} and "
            f"{big:,} → 100M customers ≈ {at_100m:.0f} GB (extrapolated, not run)."
        )
    need = estimate_100m()
    lines.append(
        f"Validation's estimate for 100M (simulation/scenario/limits.py): {need:.1f} GB; a run "
        f"is refused above {MEMORY_LIMIT:.0%} of the free memory, so 100M × 365 needs "
        f"≥ {need / MEMORY_LIMIT:.0f} GB free (target: fits in 64 GB)."
    )
    # Worlds beside the run: every extra world alive at once needs its own arrays.
    loo = ("incrementality.contributions=leave_one_out",)
    om = [estimate_100m(PRESET, loo, t) for t in (1, 2, 16)]
    lines.append(
        "operating_matrix at 100M with its counterfactual and leave-one-out worlds (validation's "
        f"estimate, counting the worlds alive at once): {om[0]:.0f} GB on 1 or 2 threads (one "
        f"extra world at a time), {om[2]:.0f} GB on 16 (every world beside the run)."
    )
    return "\n".join(lines)


def bench_sweep(runs: int | None = None, throughput_runs: int | None = None) -> str:
    """benchmarks/bench_sweep.py (issue 14 item 3): sweep throughput, the runner's overhead per
    run, and parallel efficiency at 1/2/… workers as far as this machine's cores go."""
    path = HERE / "bench_sweep.py"
    if not path.exists():
        return "skipped: benchmarks/bench_sweep.py does not exist yet"
    spec = importlib.util.spec_from_file_location("bench_sweep", path)
    if spec is None or spec.loader is None:
        return "skipped: benchmarks/bench_sweep.py cannot be imported"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    print("  sweep throughput (benchmarks/bench_sweep.py) …", flush=True)
    argv = []
    if runs is not None:
        argv += ["--runs", str(runs)]
    if throughput_runs is not None:
        argv += ["--throughput-runs", str(throughput_runs)]
    result = module.main(argv)
    if not isinstance(result, dict):
        return "see the output of benchmarks/bench_sweep.py above"
    ceiling = module.ceiling_lines(result) if hasattr(module, "ceiling_lines") else []
    return sweep_report(result, ceiling)


def sweep_report(f: dict, ceiling: list[str] | None = None) -> str:
    """The sweep figures as tables (the raw dict follows for the record)."""
    big = f["sweep_local_2_workers"]
    eff = f["efficiency"]
    rows = []
    for w, res in eff["workers"].items():
        if isinstance(res, str):
            rows.append([w, "-", "-", "-", res])
        else:
            rows.append([w, f"{res['runs_per_min']:.0f}", f"{100 * res['efficiency']:.0f} %",
                         f"{100 * res['overhead_share']:.1f} %", ""])
    lines = [
        f"quickstart 10k × 180 days per run; {eff['cores']} cores on this machine. Issue 14's "
        "target: ≥ 80 % efficiency on 16 workers (today 43 %: 76.9 / 23.5 / 14.7 / 11.1 s for "
        "320 runs on 1 / 4 / 8 / 16 workers); on fewer cores the per-run overhead share (core "
        "time not spent simulating: dispatch, pickling, storing) is what can be measured.",
        "",
        _table(["local workers", "runs/min (after start-up)", "efficiency", "overhead share",
                "note"], rows),
        "",
        f"- {big['runs']}-run sweep, 2 local workers: {big['wall_s']:.1f} s wall (pool start-up "
        f"included), {big['runs_per_min']:.0f} runs/min",
        f"- runner overhead per run, serial (spec → stored): "
        f"{f['overhead_ms_per_run_serial']:.1f} ms",
        f"- Dask-local 2 vs 1 workers: {f['dask_speedup_2_vs_1']:.2f}× after start-up "
        f"({f['dask_speedup_2_vs_1_with_startup']:.2f}× with it); local 2 vs 1: "
        f"{f['local_speedup_2_vs_1']:.2f}×",
        f"- load average before {tuple(round(x, 1) for x in f['load_average_before'])}, after "
        f"{tuple(round(x, 1) for x in f['load_average_after'])}",
        "",
        *(["```", *ceiling, "```", ""] if ceiling else []),
        "<details><summary>raw figures</summary>",
        "",
        "```",
        json.dumps(f, indent=2, default=str),
        "```",
        "</details>",
    ]
    return "\n".join(lines)


def bench_optimize(candidates: int = 100) -> str:
    """``opmatrix optimize`` speed (benchmarks/bench_optimize.py, issue 13)."""
    spec = importlib.util.spec_from_file_location("bench_optimize", HERE / "bench_optimize.py")
    if spec is None or spec.loader is None:
        return "skipped: benchmarks/bench_optimize.py cannot be imported"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    print(f"  optimize (benchmarks/bench_optimize.py, {candidates} candidates) …", flush=True)
    return module.report(module.main(candidates))


def bench_calibrate(trials: int = 200) -> str:
    """``opmatrix calibrate`` speed (benchmarks/bench_calibrate.py, issue 12)."""
    spec = importlib.util.spec_from_file_location("bench_calibrate", HERE / "bench_calibrate.py")
    if spec is None or spec.loader is None:
        return "skipped: benchmarks/bench_calibrate.py cannot be imported"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    print(f"  calibrate (benchmarks/bench_calibrate.py, {trials} trials) …", flush=True)
    return module.report(module.main(["--trials", str(trials)]))


def _table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def report(
    info: dict[str, str],
    ours: list[Row],
    warm: list[Row],
    base: list[Row],
    graphs: list[tuple[str, float, int]],
    preset: list[list[str]] | str,
    sweep: str,
    optimize: str | None = None,
    calibrate: str | None = None,
) -> str:
    by_size = {r.size: r for r in base}
    graph_size = max((r.size for r in ours), default=0)
    core_rows = []
    for r in ours + warm:
        b = by_size.get(r.size)
        core_rows.append(
            [
                f"{r.size:,}",
                r.label,
                f"{r.wall:.2f}",
                _fmt_rate(r.rate),
                f"{r.peak_mb:,.0f}",
                f"{b.wall:,.1f}" if b else "-",
                _fmt_rate(b.rate) if b else "-",
                f"{b.peak_mb:,.0f}" if b else "-",
                f"{r.rate / b.rate:.0f}×" if b else "-",
                "; ".join(x for x in (r.note, b.note if b else "") if x),
            ]
        )
    parts = [
        f"## {info['date']} — commit {info['commit']}",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['ram_gb']} GB RAM, {info['os']}; "
        f"Python {info['python']}; {info['packages']}. Load average at start "
        f"{info['load_avg_1m_at_start']} (other sessions share these 2 cores: figures are noisy).",
        "",
        f"### Core scenario `benchmarks/scenarios/core_ws.yaml` × {DAYS} days "
        "(one channel with hourly contact windows, word of mouth on Watts–Strogatz k=10, churn)",
        "",
        "Wall = process start to results written (imports, population, graph, run, "
        "summary/parquet). RSS = peak resident memory of that process.",
        "",
        _table(
            [
                "customers", "opmatrix", "wall s", "agent-days/s", "peak RSS MB",
                "Mesa wall s", "Mesa agent-days/s", "Mesa RSS MB", "speed-up", "note",
            ],
            core_rows,
        ),
        "",
        "### Graph construction (no cache)",
        "",
        _table(
            ["generator", "customers", "seconds", "edges"],
            [[g, f"{graph_size:,}", f"{s:.2f}", f"{e:,}"] for g, s, e in graphs],
        ),
        "",
        f"### `operating_matrix` preset × {DAYS} days",
        "",
    ]
    if isinstance(preset, str):
        parts.append(preset)
    else:
        parts.append(
            _table(["customers", "worlds", "wall s", "CPU s", "peak GB", "load", "target",
                    "before (quiet machine)"], preset)
        )
        parts += ["", "Every core (the default): the counterfactual world steps on a second "
                  "thread beside the run. Cold graph cache."]
    parts += ["", "### Sweep throughput", "", sweep, ""]
    if optimize is not None:
        parts += ["### Optimize (8-channel budget allocation)", "", optimize, ""]
    if calibrate is not None:
        parts += ["### Calibrate (20 parameters)", "", calibrate, ""]
    return "\n".join(parts)


def _guard(name: str, fn, *args):
    """A section's result, or one line saying why it failed (the other sections still run
    and the report is still written)."""
    try:
        return fn(*args)
    except Exception as exc:  # a benchmark section must not lose the others
        print(f"  {name} failed: {type(exc).__name__}: {exc}", flush=True)
        return f"failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="opmatrix benchmarks (make bench)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--baseline-max", type=int, default=100_000)
    parser.add_argument(
        "--quick", action="store_true",
        help="baseline at 10k only; no preset, sweep, optimize or scale runs (~2 min)",
    )
    parser.add_argument("--no-write", action="store_true", help="print, do not append")
    parser.add_argument(
        "--scale-sizes", type=int, nargs="*", default=[1_000_000, 10_000_000],
        help="customers of the issue-14 single-run rows, each with 1 thread and every core "
        "(none: skip; 10M ≈ 2 × 1.5 min)",
    )
    parser.add_argument("--preset-sizes", type=int, nargs="*", default=None,
                        help="operating_matrix sizes (default: the --sizes ≥ 100k)")
    parser.add_argument("--sweep-runs", type=int, default=None,
                        help="runs of bench_sweep's big sweep (its default 200)")
    parser.add_argument("--sweep-throughput-runs", type=int, default=30,
                        help="runs per executor in bench_sweep (30: ~3.5 min in all)")
    parser.add_argument("--optimize-candidates", type=int, default=100,
                        help="candidates of bench_optimize (0: skip; 100: ~7 min)")
    parser.add_argument("--calibrate-trials", type=int, default=200,
                        help="trials of bench_calibrate (0: skip; 200: ~7 min)")
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["core", "graphs", "preset", "sweep", "optimize", "calibrate",
                                 "scale"],
                        help="sections to leave out")
    args = parser.parse_args(argv)
    baseline_max = 10_000 if args.quick else args.baseline_max
    skip = set(args.skip)
    if args.quick:
        skip |= {"preset", "sweep", "optimize", "calibrate", "scale"}
    if args.optimize_candidates <= 0:
        skip.add("optimize")
    if args.calibrate_trials <= 0:
        skip.add("calibrate")
    if not args.scale_sizes:
        skip.add("scale")
    info = machine()
    load = info["load_avg_1m_at_start"]
    print(f"opmatrix benchmarks on {info['cpu']} ({info['cores']} cores), load {load}")
    ours, warm, base = ([], [], []) if "core" in skip else bench_core(
        sorted(args.sizes), baseline_max
    )
    graphs = [] if "graphs" in skip else bench_graphs(max(args.sizes))
    preset_sizes = args.preset_sizes
    if preset_sizes is None:
        preset_sizes = [n for n in args.sizes if n >= 100_000] or [max(args.sizes)]
    preset = "skipped" if "preset" in skip or not preset_sizes else _guard(
        "preset", bench_preset, preset_sizes
    )
    sweep = "skipped" if "sweep" in skip else _guard(
        "sweep", bench_sweep, args.sweep_runs, args.sweep_throughput_runs
    )
    optimize = "skipped" if "optimize" in skip else _guard(
        "optimize", bench_optimize, args.optimize_candidates
    )
    calibrate = "skipped" if "calibrate" in skip else _guard(
        "calibrate", bench_calibrate, args.calibrate_trials
    )
    scale = "skipped" if "scale" in skip else _guard("scale", bench_scale, args.scale_sizes)
    text = report(info, ours, warm, base, graphs, preset, sweep, optimize, calibrate)
    text += f"\n### One big run on every core (issue 14)\n\n{scale}\n"
    text += f"\nLoad average at the end: {_load()}.\n"
    print()
    print(text)
    if not args.no_write:
        header = "" if RESULTS.exists() else "# Benchmark results (appended by `make bench`)\n\n"
        with RESULTS.open("a") as fh:
            fh.write(header + text + "\n")
        print(f"appended to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
