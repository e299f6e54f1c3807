"""``make bench-big``: peak memory of core_ws at growing sizes, measured, and 100M from it.

Issue 14 asks that 100M customers × 365 days fit in 64 GB. That run cannot be made on a
24-GB development machine, so this measures what can be: ``opmatrix run`` of
benchmarks/scenarios/core_ws.yaml at 1M, 10M, 30M and 50M customers × 5 days (the population,
the graph and the per-customer arrays do not grow with the days; the recorder's tables are
days × segments), each one fresh subprocess, cold graph (``OPMATRIX_CACHE=off``: the build's
transient memory counts, as in a first run), no figures. Peak RSS is the child's own
``ru_maxrss`` (``os.wait4``), CPU its user + sys. From the points it fits bytes a customer
(least squares) and extrapolates 100M from the **largest measured** point with the slope of
the last two, and prints validation's estimate (simulation/scenario/limits.py) beside each.
A 200k-customer run first (not reported) compiles or loads the numba kernels, whose LLVM
memory would otherwise count in the first size's peak.

A size whose peak, by the points measured so far (or validation's estimate for the first),
would pass ``--max-gb`` (default 18) or 85 % of the memory free now is skipped and said so.
Runs ≥ 3M customers take ``/work/.big.lock`` when it exists (the shared development box's
rule). Not part of ``make bench``: ~2 min of CPU on 2 cores at the default sizes.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CORE = HERE / "scenarios" / "core_ws.yaml"
BIG_LOCK = Path("/work/.big.lock")
SIZES = (1_000_000, 10_000_000, 30_000_000, 50_000_000)


@contextmanager
def big_lock(n: int):
    """Hold the shared box's lock for a run of ≥ 3M customers (no-op elsewhere)."""
    if n < 3_000_000 or not BIG_LOCK.exists():
        yield
        return
    with open(BIG_LOCK) as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def available_bytes() -> int:
    import psutil

    return int(psutil.virtual_memory().available)


def estimate_gb(n: int, days: int, threads: int) -> float:
    """Validation's memory estimate for core_ws at ``n`` customers."""
    from simulation.scenario import limits
    from simulation.scenario.load import load_scenario

    real = limits.available_memory
    limits.available_memory = lambda: 10**18  # only the estimate, never a refusal
    try:
        sc = load_scenario(CORE, [f"population.size={n}", f"days={days}"])
    finally:
        limits.available_memory = real
    return limits.estimate_bytes(sc, threads) / 1e9


def measure(n: int, days: int, threads: int, out: Path) -> dict[str, float]:
    """One fresh ``opmatrix run`` of core_ws: peak RSS (GB), CPU and wall seconds."""
    cmd = [sys.executable, "-m", "simulation", "run", str(CORE), "-s",
           f"population.size={n}", "--days", str(days), "--threads", str(threads),
           "--no-plots", "-q", "--out", str(out)]
    env = {**os.environ, "OPMATRIX_CACHE": "off"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{n:,} customers: exit {proc.returncode}\n{err[-2000:]}")
    return {"peak_gb": usage.ru_maxrss * 1024 / 1e9, "cpu": usage.ru_utime + usage.ru_stime,
            "wall": wall, "load": os.getloadavg()[0]}


def fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least-squares (bytes a customer, fixed bytes) of peak = a·n + b."""
    k = len(points)
    mx = sum(n for n, _ in points) / k
    my = sum(b for _, b in points) / k
    sxx = sum((n - mx) ** 2 for n, _ in points)
    a = sum((n - mx) * (b - my) for n, b in points) / sxx
    return a, my - a * mx


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    ap.add_argument("--days", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--max-gb", type=float, default=18.0,
                    help="skip a size whose peak would pass this (default 18)")
    ap.add_argument("--target", type=int, default=100_000_000,
                    help="size to extrapolate to (default 100M)")
    args = ap.parse_args()
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"opmatrix-bench-big-{os.getpid()}"
    rows: list[tuple[int, dict[str, float], float]] = []
    print(f"core_ws × {args.days} days, {args.threads} threads, cold graph, no figures "
          f"({os.cpu_count()} cores, {available_bytes() / 1e9:.1f} GB free at the start)")
    print("| customers | peak GB | bytes a customer (peak ÷ n) | CPU s | wall s | load | "
          "validation's estimate GB |")
    print("|---|---|---|---|---|---|---|")
    # one small run first, not reported: numba compiles (or loads) its kernels on a first run,
    # and LLVM's memory would be counted in the smallest size's peak
    measure(200_000, 2, args.threads, out)
    for n in sorted(args.sizes):
        est = estimate_gb(n, args.days, args.threads)
        if len(rows) >= 2:
            a, b = fit([(m, r["peak_gb"] * 1e9) for m, r, _ in rows[-2:]])
            expect = (a * n + b) / 1e9
        elif rows:
            expect = rows[-1][1]["peak_gb"] * n / rows[-1][0]
        else:
            expect = est
        free = available_bytes() / 1e9
        if expect > args.max_gb or expect > 0.85 * free:
            print(f"| {n:,} | skipped: expected {expect:.1f} GB, limit {args.max_gb:g} GB, "
                  f"{free:.1f} GB free | | | | | {est:.2f} |")
            continue
        with big_lock(n):
            r = measure(n, args.days, args.threads, out)
        rows.append((n, r, est))
        print(f"| {n:,} | {r['peak_gb']:.2f} | {r['peak_gb'] * 1e9 / n:,.0f} | {r['cpu']:.1f} | "
              f"{r['wall']:.1f} | {r['load']:.1f} | {est:.2f} |", flush=True)
    subprocess.run(["rm", "-rf", str(out)], check=False)
    if len(rows) < 2:
        print("fewer than two sizes measured: no fit")
        return 1
    a, b = fit([(n, r["peak_gb"] * 1e9) for n, r, _ in rows])
    print(f"\nFit over {len(rows)} sizes: {a:,.0f} bytes a customer + {b / 1e9:.2f} GB.")
    (n1, r1, _), (n2, r2, _) = rows[-2], rows[-1]
    slope = (r2["peak_gb"] - r1["peak_gb"]) * 1e9 / (n2 - n1)
    at = r2["peak_gb"] + slope * (args.target - n2) / 1e9
    est = estimate_gb(args.target, args.days, args.threads)
    print(f"Slope {n1:,} → {n2:,}: {slope:,.0f} bytes a customer. {args.target:,} customers ≈ "
          f"{at:.1f} GB (EXTRAPOLATED from the measured {n2:,} point, {r2['peak_gb']:.2f} GB, "
          f"not run); validation's estimate {est:.1f} GB ({est / at - 1:+.0%}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
