"""``make bench``: opmatrix against an idiomatic per-agent Mesa model, at 10k, 100k and 1M
customers × 365 days, plus graph construction at 1M, the ``operating_matrix`` preset and sweep
throughput, ``opmatrix optimize`` and ``opmatrix calibrate`` (full sizes: ≈ 7–8 min each on 2
quiet cores); appends everything, with the machine description, to
benchmarks/results.md.

Every figure is one fresh subprocess timed from its start to its exit (imports, graph building
and writing results included; cold graph cache unless marked warm); peak RSS is that process's.
The baseline (benchmarks/baseline_mesa.py) runs up to ``--baseline-max`` customers (default
100k, ~2 min); larger sizes are extrapolated from the largest measured one at its agent-days/s
(memory linearly), and marked so.

Run: ``.venv/bin/python benchmarks/run_all.py [--sizes 10000 100000 1000000] [--quick]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
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


def bench_preset(sizes: list[int]) -> list[Row] | str:
    if not PRESET.exists():
        return f"skipped: {PRESET.relative_to(REPO)} does not exist yet"
    rows = []
    for n in sizes:
        print(f"  operating_matrix {n:,} …", flush=True)
        # as a user runs it: money layer + its counterfactual world (issue 10), then the run
        # alone (incrementality.counterfactual=false) to show what the counterfactual costs
        for note, extra in (
            ("money + counterfactual", []),
            ("money, no counterfactual", ["--set", "incrementality.counterfactual=false"]),
        ):
            try:
                (m,) = measure_opmatrix(PRESET, n, ["--days", str(DAYS), *extra])
            except CommandFailed as exc:
                return f"failed at {n:,}: {exc}"
            rows.append(Row("operating_matrix", n, m.wall, m.peak_mb, f"{note}, cold graph cache"))
    return rows


# Issue 14's figures on its 16-core machine, before this work (the "today" column).
SCALE_TODAY = {1_000_000: "15.0 s, 0.63 GB", 10_000_000: "134.5 s, 4.4 GB"}


def bench_scale(size: int) -> str:
    """core_ws at ``size`` × 365 days with 1 thread and with every core; peak RSS per customer
    and the 100M estimate from it (an estimate, never run)."""
    from simulation.kernels import available_threads

    cores = available_threads()
    rows, peaks = [], []
    for threads in sorted({1, cores}):
        print(f"  core_ws {size:,} × {DAYS} with {threads} thread(s) …", flush=True)
        (m,) = measure_opmatrix(CORE, size, ["--threads", str(threads)])
        peaks.append(m.peak_mb)
        rows.append([f"{size:,}", str(threads), f"{m.wall:.1f}", f"{m.cpu:.1f}",
                     f"{m.peak_mb / 1024:.2f}", SCALE_TODAY.get(size, "-")])
    per_customer = max(peaks) * 2**20 / size
    estimate = per_customer * 100_000_000 / 2**30
    return "\n".join([
        _table(["customers", "threads", "wall s", "CPU s", "peak GB",
                "issue-14 'today' (16 cores, 1 thread used)"], rows),
        "",
        f"Target: ≤ 90 s and ≤ 6 GB at 10M on a 2-core machine. Peak memory "
        f"{per_customer:,.0f} bytes per customer → 100M customers ≈ {estimate:.0f} GB "
        "(estimate, linear in customers; not run).",
    ])


def bench_sweep() -> str:
    path = HERE / "bench_sweep.py"
    if not path.exists():
        return "skipped: benchmarks/bench_sweep.py does not exist yet"
    spec = importlib.util.spec_from_file_location("bench_sweep", path)
    if spec is None or spec.loader is None:
        return "skipped: benchmarks/bench_sweep.py cannot be imported"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    print("  sweep throughput (benchmarks/bench_sweep.py) …", flush=True)
    argv = sys.argv
    sys.argv = [str(path)]  # its own defaults, not run_all's options
    try:
        result = module.main()
    finally:
        sys.argv = argv
    if result is None or isinstance(result, int):
        return "see the output of benchmarks/bench_sweep.py above"
    if isinstance(result, str):
        return result
    return "```\n" + json.dumps(result, indent=2, default=str) + "\n```"


def bench_optimize() -> str:
    """``opmatrix optimize`` speed (benchmarks/bench_optimize.py, issue 13)."""
    spec = importlib.util.spec_from_file_location("bench_optimize", HERE / "bench_optimize.py")
    if spec is None or spec.loader is None:
        return "skipped: benchmarks/bench_optimize.py cannot be imported"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    print("  optimize (benchmarks/bench_optimize.py) …", flush=True)
    return module.report(module.main())


def bench_calibrate() -> str:
    """``opmatrix calibrate`` speed at full size (benchmarks/bench_calibrate.py, issue 12)."""
    spec = importlib.util.spec_from_file_location("bench_calibrate", HERE / "bench_calibrate.py")
    if spec is None or spec.loader is None:
        return "skipped: benchmarks/bench_calibrate.py cannot be imported"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    print("  calibrate (benchmarks/bench_calibrate.py, 200 trials) …", flush=True)
    return module.report(module.main([]))


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
    preset: list[Row] | str,
    sweep: str,
    optimize: str | None = None,
    calibrate: str | None = None,
) -> str:
    by_size = {r.size: r for r in base}
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
            [[g, f"{max(r.size for r in ours):,}", f"{s:.2f}", f"{e:,}"] for g, s, e in graphs],
        ),
        "",
        f"### `operating_matrix` preset × {DAYS} days",
        "",
    ]
    if isinstance(preset, str):
        parts.append(preset)
    else:
        parts.append(
            _table(
                ["customers", "wall s", "agent-days/s", "peak RSS MB", "worlds"],
                [
                    [f"{r.size:,}", f"{r.wall:.2f}", _fmt_rate(r.rate), f"{r.peak_mb:,.0f}",
                     r.note]
                    for r in preset
                ],
            )
        )
    parts += ["", "### Sweep throughput", "", sweep, ""]
    if optimize is not None:
        parts += ["### Optimize (8-channel budget allocation)", "", optimize, ""]
    if calibrate is not None:
        parts += ["### Calibrate (20 parameters, 200 trials)", "", calibrate, ""]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="opmatrix benchmarks (make bench)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--baseline-max", type=int, default=100_000)
    parser.add_argument(
        "--quick", action="store_true", help="baseline at 10k only; no preset or sweep"
    )
    parser.add_argument("--no-write", action="store_true", help="print, do not append")
    parser.add_argument(
        "--scale-size", type=int, default=10_000_000,
        help="customers of the issue-14 single-run measurement (0: skip; ~2 × 90 s at 10M)",
    )
    args = parser.parse_args(argv)
    baseline_max = 10_000 if args.quick else args.baseline_max
    info = machine()
    load = info["load_avg_1m_at_start"]
    print(f"opmatrix benchmarks on {info['cpu']} ({info['cores']} cores), load {load}")
    ours, warm, base = bench_core(sorted(args.sizes), baseline_max)
    graphs = bench_graphs(max(args.sizes))
    preset_sizes = [n for n in args.sizes if n >= 100_000] or [max(args.sizes)]
    preset = "skipped (--quick)" if args.quick else bench_preset(preset_sizes)
    sweep = "skipped (--quick)" if args.quick else bench_sweep()
    optimize = "skipped (--quick)" if args.quick else bench_optimize()
    calibrate = "skipped (--quick)" if args.quick else bench_calibrate()
    scale = "skipped (--quick or --scale-size 0)"
    if not args.quick and args.scale_size:
        scale = bench_scale(args.scale_size)
    text = report(info, ours, warm, base, graphs, preset, sweep, optimize, calibrate)
    text += f"\n### One big run on every core (issue 14)\n\n{scale}\n"
    print()
    print(text)
    if not args.no_write:
        header = "" if RESULTS.exists() else "# Benchmark results (appended by `make bench`)\n\n"
        with RESULTS.open("a") as fh:
            fh.write(header + text + "\n")
        print(f"appended to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
