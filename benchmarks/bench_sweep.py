"""Sweep throughput of the experiment runner (not part of ``make test``).

Measures, on quickstart at 10,000 customers × 180 days:

1. a 200-run sweep with 2 local worker processes, wall time including pool start-up
   (target < 60 s);
2. the runner's own cost per run — spec → executor → outcome → Parquet + JSON stored — i.e. the
   sweep's wall time minus the simulation time the workers report, in a serial executor so
   nothing overlaps (target < 50 ms);
3. runs per minute with 1 and 2 local workers and 1 and 2 Dask workers (a real
   ``LocalCluster``), and the Dask 2-vs-1 throughput ratio (target ≥ 1.7×), measured once the
   cluster is up; the ratio with start-up included is printed beside it;
4. parallel efficiency (throughput with w workers ÷ w × throughput with 1) at 1/2/4/8/16 local
   workers, capped by the cores of this machine (the core count is printed; sizes above it are
   reported as not measurable here, never extrapolated), and the per-run overhead share: the
   fraction of the workers' core time not spent simulating (dispatch, pickling, storing);
5. the CPU split (:func:`cpu_split`, process and thread CPU clocks, not wall time) on the local
   executor, dask-local and a real scheduler with ``dask worker`` processes
   (:func:`real_cluster`), 2 workers each: ``t_sim`` (a worker's CPU inside the simulation),
   ``c_worker_overhead`` (its other CPU per run) and ``c_parent`` (the sweep process's CPU per
   stored run), and from them the efficiency ceiling at 4/8/16/32 workers (:func:`ceiling`) —
   an EXTRAPOLATION to cores this machine does not have, printed as such with the core count.

Wall times include pool and cluster start-up, as a user would see them. The machine may be
shared: run it when idle and report the load average printed beside the table.

Run: ``.venv/bin/python benchmarks/bench_sweep.py [--runs 200] [--throughput-runs 40]``;
``main()`` returns the figures as a dict (``benchmarks/run_all.py`` calls it).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from simulation.runner import ResultStore, load_experiment  # noqa: E402
from simulation.runner.executors import SerialExecutor, open_executor  # noqa: E402
from simulation.runner.sweep import guided_batches, run_sweep  # noqa: E402

EXPERIMENT = """
name: {name}
scenario: {scenario}
days: 180
overrides: {{population.size: 10000}}
replicates: {replicates}
seed: {seed}
variants:
  baseline: {{}}
  more_wecom: {{channels.wecom_1to1.daily_reach: 0.05}}
"""


def _experiment(folder: Path, name: str, runs: int, seed: int) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(
        EXPERIMENT.format(
            name=name,
            scenario=REPO / "scenarios" / "quickstart.yaml",
            replicates=max(1, runs // 2),
            seed=seed,
        )
    )
    return path


def timed_sweep(
    folder: Path, name: str, runs: int, kind: str, workers: int, seed: int
) -> dict[str, float]:
    """Wall seconds of one sweep of ``runs`` fresh runs (start-up included) and its figures."""
    exp = load_experiment(_experiment(folder, name, runs, seed))
    store = ResultStore.for_experiment(exp, folder / "results")
    start = time.perf_counter()
    if kind == "serial":
        report = run_sweep(store, SerialExecutor(), workers=1)
    else:
        with open_executor(kind, workers, threads_per_run=1) as pool:
            ready = time.perf_counter()
            report = run_sweep(store, pool, workers=workers)
    wall = time.perf_counter() - start
    steady = report.seconds  # from the first submit to the last stored run
    assert report.failed == 0, report.errors
    return {
        "runs": report.done,
        "wall_s": wall,
        "runs_per_min": 60 * report.done / wall,
        "steady_runs_per_min": 60 * report.done / steady,
        "startup_s": (ready - start) if kind != "serial" else 0.0,
        "steady_s": steady,
        "simulate_s": report.simulate_seconds,
        # Core-seconds not spent simulating, per run: with w workers the run had w × wall of
        # core time (serial: exactly the spec → stored overhead the issue asks about).
        "overhead_ms_per_run": 1000 * (wall * workers - report.simulate_seconds) / report.done,
    }


def efficiency(folder: Path, runs: int) -> dict[str, Any]:
    """Throughput and efficiency at 1/2/4/8/16 local workers, as far as the cores allow."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    out: dict[str, Any] = {"cores": cores, "workers": {}}
    base = None
    for i, w in enumerate((1, 2, 4, 8, 16)):
        if w > cores:
            out["workers"][str(w)] = f"not measurable: this machine has {cores} cores"
            continue
        res = timed_sweep(folder, f"eff-{w}", max(runs, 4 * w), "local", w, seed=5_000 + 100 * i)
        rate = res["steady_runs_per_min"]
        base = base or rate
        core_s = res["steady_s"] * w
        out["workers"][str(w)] = {
            "runs_per_min": rate,
            "efficiency": rate / (w * base),
            "overhead_share": max(0.0, core_s - res["simulate_s"]) / core_s,
        }
    return out


#: worker counts the efficiency ceiling is extrapolated to (issue 14: ≥ 80 % at 16)
CEILING_WORKERS = (4, 8, 16, 32)


def _cpu(times: Any) -> float:
    return float(times.user + times.system)


@contextlib.contextmanager
def real_cluster(folder: Path, workers: int) -> Any:
    """A ``dask scheduler`` and ``dask worker --nworkers workers`` (one thread each, the
    docs/cluster.md recipe: the preload set in the environment, ``preload.ENV``) as separate
    processes on 127.0.0.1; yields ``(address, scheduler pid, start-up)``, ``start-up`` being
    each side's CPU until every worker has registered: the scheduler's (serial on a real
    cluster: it starts first), the ``dask worker`` process's (its nannies: it starts before
    any of its workers, so its CPU is serial for them — ``nanny_s``) and the mean of its
    worker processes' (``worker_process_s``: each starts on its own core, in parallel)."""
    import json
    import signal
    import subprocess

    import psutil
    from distributed import Client

    bin_dir = Path(sys.executable).parent
    info = folder / f"scheduler-{workers}.json"
    from simulation.runner import preload

    env = {**os.environ, "OPMATRIX_THREADS": "1", **preload.ENV}
    procs = [subprocess.Popen(
        [str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
         "--no-dashboard", "--scheduler-file", str(info)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True,
    )]
    try:
        end = time.monotonic() + 120
        while not (info.exists() and info.stat().st_size > 0):
            if time.monotonic() > end:
                raise RuntimeError("the dask scheduler did not start")
            time.sleep(0.05)
        address = json.loads(info.read_text())["address"]
        procs.append(subprocess.Popen(
            [str(bin_dir / "dask"), "worker", address, "--nworkers", str(workers),
             "--nthreads", "1", "--no-dashboard"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
            start_new_session=True,
        ))
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(workers, timeout=180)
        scheduler = psutil.Process(procs[0].pid)
        nanny = psutil.Process(procs[1].pid)
        kids = nanny.children(recursive=True)
        # multiprocessing's resource tracker is a helper of the nanny process, not a worker
        tracker = [p for p in kids if "resource_tracker" in " ".join(p.cmdline())]
        worker_procs = [p for p in kids if p not in tracker]
        nanny_s = sum(_cpu(p.cpu_times()) for p in [nanny, *tracker])
        worker_s = [_cpu(p.cpu_times()) for p in worker_procs]
        startup = {
            "scheduler_s": _cpu(scheduler.cpu_times()),
            "workers_s": nanny_s + sum(worker_s),
            "nanny_s": nanny_s,
            "worker_process_s": sum(worker_s) / max(1, len(worker_s)),
        }
        yield address, procs[0].pid, startup
    finally:
        for proc in reversed(procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def cpu_split(
    folder: Path, kind: str, workers: int, runs: int, seed: int, idle_s: float = 5.0,
    batch: int | None = None,
) -> dict[str, Any]:
    """Process CPU per stored run, measured with the processes' own clocks (not wall time).

    A warm-up sweep first starts every worker and pays each one's first-run costs (lazy imports,
    numba's cache load); then, for a sweep of ``runs`` fresh runs on the same executor:

    - ``c_parent_ms``: the sweep process's CPU per run (all its threads: the dispatch loop, the
      executor's threads pickling specs and unpickling outcomes, the store's writer thread; for
      ``dask-local`` also the in-process scheduler and the client), without the progress bar's
      refresh thread, which costs CPU per second, not per run (``progress_core_share``: the
      share of one core it took; drawn as ``opmatrix sweep`` draws it, into /dev/null), and
      without what the parent burns per second while idle (``parent_idle_core_share``,
      measured over ``idle_s`` seconds before the sweep: Dask's periodic callbacks);
      ``c_write_ms`` is the writer thread's part (``time.thread_time`` around each
      ``ResultStore.write``), ``parent_threads_ms`` every thread's;
    - ``t_sim_ms``: the workers' CPU inside ``api.run`` (``RunOutcome.cpu_seconds``);
    - ``c_worker_overhead_ms``: every other CPU second of the worker processes (and of Dask's
      nannies) per run — unpickling specs, pickling outcomes, the task protocol.

    Thread CPU comes from the kernel in clock ticks (10 ms): use enough runs.
    """
    import threading

    import psutil
    from rich.console import Console
    from rich.progress import Progress

    from simulation.cli.common import progress

    me = psutil.Process()

    def children() -> dict[int, float]:
        out = {}
        for child in me.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                out[child.pid] = _cpu(child.cpu_times())
        return out

    def threads() -> dict[str, float]:
        """CPU of this process's threads by name (``Thread-N`` by its class's name)."""
        names = {
            t.native_id: type(t).__name__ if t.name.startswith("Thread-") else t.name
            for t in threading.enumerate()
        }
        out: dict[str, float] = {}
        for t in me.threads():
            name = names.get(t.id, "native (no Python thread)")
            out[name] = out.get(name, 0.0) + t.user_time + t.system_time
        return out

    warm = ResultStore.for_experiment(
        load_experiment(_experiment(folder, f"warm-{kind}-{workers}", 2 * workers, seed + 1)),
        folder / "results",
    )
    store = ResultStore.for_experiment(
        load_experiment(_experiment(folder, f"cpu-{kind}-{workers}", runs, seed)),
        folder / "results",
    )
    write_cpu = [0.0]
    lock = threading.Lock()
    plain_write = store.write

    def timed_write(*args: Any) -> None:
        start = time.thread_time()
        try:
            plain_write(*args)
        finally:
            with lock:
                write_cpu[0] += time.thread_time() - start

    store.write = timed_write  # type: ignore[method-assign]
    def forkservers() -> dict[int, float]:
        """CPU of the forkserver process(es) this process started (they import the
        simulation once, before any worker can start: a serial start-up cost)."""
        out = {}
        for child in me.children():
            with contextlib.suppress(psutil.Error):
                if "forkserver" in " ".join(child.cmdline()) and child.children():
                    out[child.pid] = _cpu(child.cpu_times())
        return out

    # Processes this process already has (e.g. the forkserver an earlier dask-local split left
    # running: multiprocessing keeps it for the life of the process) are not this split's:
    # their CPU since they started must not count as this split's workers' start-up.
    before = set(children())
    stack = contextlib.ExitStack()
    address, scheduler_pid = None, None
    cluster_start = {"scheduler_s": 0.0, "workers_s": 0.0, "nanny_s": 0.0, "worker_process_s": 0.0}
    if kind == "dask":  # a real scheduler and worker processes, started for this split
        address, scheduler_pid, cluster_start = stack.enter_context(real_cluster(folder, workers))

    def scheduler_cpu() -> float:
        if scheduler_pid is None:
            return 0.0
        return _cpu(psutil.Process(scheduler_pid).cpu_times())

    parent_start, wall_start = _cpu(me.cpu_times()), time.perf_counter()
    with stack, open_executor(kind, workers, address, threads_per_run=1) as pool:
        context = getattr(pool, "_mp_context", None)  # a local pool's: fork or forkserver
        method = context.get_start_method() if context is not None else "forkserver"
        warm_report = run_sweep(warm, pool, workers=workers)
        warm_wall = time.perf_counter() - wall_start
        parent_warm = _cpu(me.cpu_times()) - parent_start
        servers, kids_warm = forkservers(), children()
        # The parent's CPU per second with nothing to do (Dask's periodic callbacks, the
        # executor's threads waiting): subtracted from its busy CPU, so c_parent is per run.
        # The same for the workers (Dask's heartbeats and memory checks): per second too.
        idle0, sidle0, start = _cpu(me.cpu_times()), scheduler_cpu(), time.perf_counter()
        kids_idle0 = children()
        time.sleep(idle_s)
        idle_wall = time.perf_counter() - start
        idle_share = (_cpu(me.cpu_times()) - idle0) / idle_wall
        sched_idle_share = (scheduler_cpu() - sidle0) / idle_wall
        worker_idle_share = sum(
            cpu - kids_idle0.get(pid, cpu) for pid, cpu in children().items()
            if pid not in servers and pid != scheduler_pid
        ) / idle_wall / workers
        with open(os.devnull, "w") as sink:
            # the columns of `opmatrix sweep`'s bar, drawn as on a terminal, into /dev/null
            bar = Progress(
                *progress().columns, console=Console(file=sink, force_terminal=True, width=100)
            )
            with bar:
                task = bar.add_task("runs", total=runs)
                refresh = getattr(bar.live, "_refresh_thread", None)
                if refresh is not None:
                    refresh.name = "progress bar refresh"
                kids0, threads0 = children(), threads()
                parent0, sched0 = _cpu(me.cpu_times()), scheduler_cpu()
                report = run_sweep(
                    store, pool, workers=workers, batch=batch,
                    on_progress=lambda done, _t, _o: bar.update(task, completed=done),
                )
                parent1, sched1 = _cpu(me.cpu_times()), scheduler_cpu()
                threads1, kids1 = threads(), children()
    assert report.failed == 0, report.errors
    n = report.done
    per_thread = {
        name: 1000 * (cpu - threads0.get(name, 0.0)) / n for name, cpu in threads1.items()
    }
    bar_ms = per_thread.pop("progress bar refresh", 0.0)
    worker_cpu = sum(
        cpu - kids0.get(pid, 0.0) for pid, cpu in kids1.items() if pid != scheduler_pid
    )
    t_sim = report.simulate_cpu_seconds / n
    c_worker = worker_cpu / n - t_sim
    c_parent = max(
        (parent1 - parent0 - idle_share * report.seconds) / n - bar_ms / 1000,
        write_cpu[0] / n + per_thread.get("MainThread", 0.0) / 1000,
    )
    # Start-up, from the warm-up sweep: what its processes burnt beyond its runs at the
    # steady per-run figures. The forkserver's imports come before any worker (serial); each
    # worker's first-run costs (numba's cache loads, lazy imports) are paid in parallel.
    warm_runs = warm_report.done
    serial_start = sum(servers.values())
    in_workers = sum(
        cpu for pid, cpu in kids_warm.items()
        if pid not in servers and pid != scheduler_pid and pid not in before
    ) - cluster_start["workers_s"]  # a real cluster's worker processes: their own start apart
    # what the workers burn per second (measured idle) is not per run: taken out of both
    per_second = worker_idle_share * workers
    c_worker_run = max(0.0, c_worker - per_second * report.seconds / n)
    worker_start = max(
        0.0, in_workers - warm_runs * (t_sim + c_worker_run) - per_second * warm_wall
    ) / workers
    # The same from the runs' own clocks alone (numba's target set-up and cache loads happen
    # inside the first run's simulation): less exposed to the per-second chores subtracted
    # above, whose idle rate a loaded machine misjudges; the larger of the two is used.
    first_run_sim = max(0.0, warm_report.simulate_cpu_seconds - warm_runs * t_sim) / workers
    worker_start = max(worker_start, first_run_sim)
    parent_start_cpu = max(0.0, parent_warm - warm_runs * c_parent)
    c_sched = max(0.0, (sched1 - sched0) - sched_idle_share * report.seconds) / n
    # The forkserver is started before the parent starts a cluster (executors.prepare /
    # _start_dask_forkserver), so its imports and the parent's start overlap on two cores.
    serial = max(serial_start, parent_start_cpu) + cluster_start["scheduler_s"]
    return {
        "executor": kind,
        "start_method": method if kind != "dask" else "dask worker processes",
        "tasks": -(-n // batch) if batch else len(guided_batches(n, workers)),
        # a real scheduler's own process (kind "dask"; dask-local's runs inside the parent)
        "c_scheduler_ms": 1000 * c_sched,
        "scheduler_idle_core_share": sched_idle_share,
        "workers": workers,
        "runs": n,
        "wall_s": report.seconds,
        "t_sim_ms": 1000 * t_sim,
        "c_worker_overhead_ms": 1000 * c_worker,
        # the same without the workers' per-second chores (worker_idle_core_share, each)
        "c_worker_overhead_run_ms": 1000 * c_worker_run,
        "worker_idle_core_share": worker_idle_share,
        # the idle rate is measured on a shared machine: never below the parent's work that is
        # per run by construction (the dispatch loop and the store's writes)
        "c_parent_ms": 1000 * c_parent,
        "c_parent_busy_ms": 1000 * (parent1 - parent0) / n - bar_ms,
        "parent_idle_core_share": idle_share,
        "c_write_ms": 1000 * write_cpu[0] / n,
        "progress_core_share": bar_ms * n / 1000 / report.seconds,
        "parent_threads_ms": per_thread,
        "load_average": os.getloadavg(),
        "startup": {
            "serial_s": serial,
            "forkserver_s": serial_start,
            "parent_s": parent_start_cpu,
            "scheduler_s": cluster_start["scheduler_s"],
            # kind "dask": a worker is ready after its `dask worker` process (the nannies)
            # and then its own process (its preload's imports) have started, in sequence
            "per_worker_s": worker_start + cluster_start["nanny_s"]
            + cluster_start["worker_process_s"],
            "worker_process_start_s": cluster_start["nanny_s"] + cluster_start["worker_process_s"],
            "nanny_s": cluster_start["nanny_s"],
            "worker_own_process_s": cluster_start["worker_process_s"],
            "first_run_sim_extra_s": first_run_sim,
            "warm_up_wall_s": warm_wall,
            "warm_up_runs": warm_runs,
        },
    }


def ceiling(split: dict[str, Any], workers: int) -> dict[str, float]:
    """Upper bounds on parallel efficiency at ``workers`` workers from one CPU split.

    An EXTRAPOLATION, not a measurement: it assumes a core per worker as fast as this
    machine's, and memory bandwidth, turbo and the OS scheduler costing nothing. Efficiency is
    against the ideal throughput ``workers / t_sim`` (every core simulating all the time):

    - ``parent_load``: the share of one core the sweep process needs when every worker is
      busy: ``workers × c_parent / (t_sim + c_worker_overhead)`` plus the shares of a core the
      progress bar and the idle parent take (per second, whatever the number of workers);
      its Python work holds one GIL, so above 1 the parent is the bottleneck;
    - ``parent_bound``: at most ``(1 − those shares) / c_parent`` runs a second, so
      efficiency ≤ ``t_sim × (1 − those shares) / (workers × c_parent)``;
    - ``scheduler_bound``: the same for a real scheduler's process (``c_scheduler``);
    - ``overhead_bound``: a run's whole CPU — simulation, the worker's overhead a run, the
      parent's and the scheduler's, which take a worker's core when no core is spare — shares
      the cores, less the share of a core each worker's per-second chores take:
      ``t_sim (1 − worker idle share) / (t_sim + c_worker_overhead_run + c_parent +
      c_scheduler)``.
    """
    t, cp = split["t_sim_ms"], split["c_parent_ms"]
    cs, s_idle = split.get("c_scheduler_ms", 0.0), idle_share(split, "scheduler", workers)
    cw = max(0.0, split.get("c_worker_overhead_run_ms", split["c_worker_overhead_ms"]))
    w_idle = split.get("worker_idle_core_share", 0.0)  # each worker's per-second chores
    bar = split["progress_core_share"] + idle_share(split, "parent", workers)
    parent_bound = t * (1.0 - bar) / (workers * cp) if cp > 0 else float("inf")
    # a real scheduler is one process too (dask-local's is inside the parent's c_parent)
    scheduler_bound = t * (1.0 - s_idle) / (workers * cs) if cs > 0 else float("inf")
    overhead_bound = t * (1.0 - w_idle) / (t + cw + cp + cs)
    return {
        "parent_load": workers * cp / (t + cw) + bar,
        "scheduler_load": workers * cs / (t + cw) + s_idle,
        "parent_bound": parent_bound,
        "scheduler_bound": scheduler_bound,
        "overhead_bound": overhead_bound,
        "ceiling": min(1.0, parent_bound, scheduler_bound, overhead_bound),
    }


def idle_share(split: dict[str, Any], who: str, workers: int) -> float:
    """The share of a core ``who`` (``parent`` or ``scheduler``) burns per second with
    ``workers`` workers, scaled in proportion from the split's: Dask's per-second chores grow
    with the workers (heartbeats; dask-local's nannies, which live in the parent, each check
    their worker's memory) — measured here, dask-local's idle parent took 2.25 % of a core
    with 2 workers and 7.5 % with 8, so the proportional rule overstates it (on the safe
    side)."""
    return split.get(f"{who}_idle_core_share", 0.0) * workers / max(1, split["workers"])


def finite_sweep(
    split: dict[str, Any], workers: int, runs: int = 320, cluster_up: bool = False
) -> float:
    """Extrapolated efficiency ``T(1) / (workers × T(workers))`` of a sweep of ``runs`` runs,
    start-up included (the issue's benchmark is 320 runs). An EXTRAPOLATION like
    :func:`ceiling`: ``T(w)`` = serial start-up (the longer of the forkserver's imports and
    the parent's start, which overlap, plus a real scheduler's start) + one worker's start-up
    + the batches ``run_sweep`` sends (:func:`~simulation.runner.sweep.guided_batches`)
    placed on the first free of ``w`` workers at ``t_sim + c_worker_overhead_run`` a run,
    slowed by the share of a core the worker's own per-second chores take — or the parent's
    ``runs × c_parent`` / a real scheduler's ``runs × c_scheduler`` when that is longer
    (each is one process). ``cluster_up``: a real cluster started before the sweep (as one
    is, for many sweeps): its scheduler's and worker processes' own start left out."""
    import heapq

    up = dict(split["startup"])
    if cluster_up:
        up["serial_s"] -= up.get("scheduler_s", 0.0)
        up["per_worker_s"] -= up.get("worker_process_start_s", 0.0)
    per_run = (split["t_sim_ms"] + max(0.0, split.get(
        "c_worker_overhead_run_ms", split["c_worker_overhead_ms"]))) / 1000
    per_run /= max(1e-9, 1.0 - split.get("worker_idle_core_share", 0.0))
    def wall(w: int) -> float:
        share = split["progress_core_share"] + idle_share(split, "parent", w)
        parent = runs * split["c_parent_ms"] / 1000 / max(1e-9, 1.0 - share)
        sched_share = idle_share(split, "scheduler", w)
        scheduler = runs * split.get("c_scheduler_ms", 0.0) / 1000 / max(1e-9, 1.0 - sched_share)
        free = [0.0] * w
        for size in guided_batches(runs, w):
            heapq.heappush(free, heapq.heappop(free) + size * per_run)
        return up["serial_s"] + up["per_worker_s"] + max(max(free), parent, scheduler)

    return wall(1) / (workers * wall(workers))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="runs in the big sweep")
    parser.add_argument("--throughput-runs", type=int, default=60, help="runs per executor")
    parser.add_argument("--cpu-runs", type=int, default=40,
                        help="runs per executor in the CPU split (0: skip it)")
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    load_before = os.getloadavg()
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        folder = Path(tmp)
        # Seeds differ between measurements so no store ever resumes another's runs.
        big = timed_sweep(folder, "sweep200", args.runs, "local", 2, seed=1_000)
        figures["sweep_local_2_workers"] = big
        rates: dict[str, float] = {}
        steady: dict[str, float] = {}
        splits: dict[str, dict[str, Any]] = {}

        def throughput(kind: str, workers: int, i: int) -> None:
            res = timed_sweep(
                folder, f"tp-{kind}-{workers}", args.throughput_runs, kind, workers, 3_000 + 100 * i
            )
            rates[f"{kind} {workers}"] = res["runs_per_min"]
            steady[f"{kind} {workers}"] = res["steady_runs_per_min"]

        # Every local measurement before the first Dask cluster (Dask leaves a thread behind in
        # this process, after which a local pool can no longer fork: executors.fork_unsafe)
        # and before this process runs a simulation itself (forked workers would inherit its
        # loaded kernels): what `opmatrix sweep` does.
        throughput("local", 1, 0)
        throughput("local", 2, 1)
        figures["efficiency"] = efficiency(folder, args.throughput_runs)
        if args.cpu_runs > 0:
            splits["local"] = cpu_split(folder, "local", 2, args.cpu_runs, seed=6_000)
        serial = timed_sweep(folder, "overhead", 20, "serial", 1, seed=2_000)
        figures["overhead_ms_per_run_serial"] = serial["overhead_ms_per_run"]
        throughput("dask-local", 1, 2)
        throughput("dask-local", 2, 3)
        if args.cpu_runs > 0:
            splits["dask-local"] = cpu_split(folder, "dask-local", 2, args.cpu_runs, seed=6_100)
            # a real scheduler and `dask worker` processes, as docs/cluster.md starts them
            splits["dask"] = cpu_split(folder, "dask", 2, args.cpu_runs, seed=6_200)
        figures["runs_per_minute"] = rates
        figures["runs_per_minute_after_startup"] = steady
        figures["dask_speedup_2_vs_1"] = steady["dask-local 2"] / steady["dask-local 1"]
        figures["dask_speedup_2_vs_1_with_startup"] = rates["dask-local 2"] / rates["dask-local 1"]
        figures["local_speedup_2_vs_1"] = steady["local 2"] / steady["local 1"]
        if splits:
            figures["cpu_split"] = splits
            figures["ceiling"] = {
                kind: {str(w): ceiling(split, w) for w in CEILING_WORKERS}
                for kind, split in splits.items()
            }
            figures["ceiling_320_runs"] = {
                kind: {str(w): finite_sweep(split, w) for w in CEILING_WORKERS}
                for kind, split in splits.items()
            }
            if "dask" in splits:
                figures["ceiling_320_runs"]["dask, cluster up"] = {
                    str(w): finite_sweep(splits["dask"], w, cluster_up=True)
                    for w in CEILING_WORKERS
                }
    figures["load_average_before"] = load_before
    figures["load_average_after"] = os.getloadavg()
    _print(figures, args.runs)
    return figures


def _print(f: dict[str, Any], runs: int) -> None:
    big = f["sweep_local_2_workers"]
    rows = [
        (f"{runs}-run sweep, 10k × 180 d, 2 local workers", f"{big['wall_s']:.1f} s", "< 60 s"),
        ("runner overhead per run (spec → stored)", f"{f['overhead_ms_per_run_serial']:.1f} ms",
         "< 50 ms"),
        ("Dask 2 workers vs 1 (throughput)", f"{f['dask_speedup_2_vs_1']:.2f}×", "≥ 1.7×"),
        ("  same, cluster start-up included", f"{f['dask_speedup_2_vs_1_with_startup']:.2f}×", ""),
        ("local 2 workers vs 1 (throughput)", f"{f['local_speedup_2_vs_1']:.2f}×", ""),
    ]
    for key, value in f["runs_per_minute"].items():
        after = f["runs_per_minute_after_startup"][key]
        label = f"runs/minute, {key} worker(s) (after start-up)"
        rows.append((label, f"{value:.0f} ({after:.0f})", ""))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>10}  target")
    for label, value, target in rows:
        print(f"{label:<{width}}  {value:>10}  {target}")
    eff = f["efficiency"]
    print(f"parallel efficiency, local workers ({eff['cores']} cores on this machine):")
    for w, res in eff["workers"].items():
        if isinstance(res, str):
            print(f"  {w:>2} workers: {res}")
        else:
            print(f"  {w:>2} workers: {res['runs_per_min']:.0f} runs/min, efficiency "
                  f"{100 * res['efficiency']:.0f} %, "
                  f"overhead share {100 * res['overhead_share']:.1f} %")
    for line in ceiling_lines(f):
        print(line)
    print(f"load average before {f['load_average_before']}, after {f['load_average_after']}"
          " (shared machine: figures are noisy)")


def ceiling_lines(f: dict[str, Any]) -> list[str]:
    """The CPU split and the efficiency ceiling it implies, as text lines (also for
    benchmarks/run_all.py); [] when the split was skipped."""
    if "cpu_split" not in f:
        return []
    cores = f["efficiency"]["cores"]
    lines = [
        f"CPU per stored run (process clocks, {cores} cores on this machine, 2 workers, "
        "quickstart 10k × 180 d):",
    ]
    for kind, sp in f["cpu_split"].items():
        load = ", ".join(f"{x:.1f}" for x in sp["load_average"])
        lines.append(
            f"  {kind:<10} t_sim {sp['t_sim_ms']:.0f} ms · worker overhead "
            f"{sp['c_worker_overhead_ms']:.1f} ms ({sp['c_worker_overhead_run_ms']:.1f} a run + "
            f"{100 * sp['worker_idle_core_share']:.1f} % of a core) · "
            f"parent {sp['c_parent_ms']:.1f} ms "
            f"(store writes {sp['c_write_ms']:.1f}) + {100 * sp['parent_idle_core_share']:.1f} % "
            f"of a core idle, progress bar {100 * sp['progress_core_share']:.1f} % · "
            + (f"scheduler {sp['c_scheduler_ms']:.1f} ms + "
               f"{100 * sp['scheduler_idle_core_share']:.1f} % of a core idle · "
               if sp.get("c_scheduler_ms") else "")
            + f"{sp['runs']} runs in {sp.get('tasks', '?')} tasks, load {load}"
        )
    lines.append(
        "EXTRAPOLATION, not measured (this machine has "
        f"{cores} cores): efficiency ceiling = min(parent-, scheduler-, overhead-bound), one core "
        "a worker"
    )
    for kind, by_w in f["ceiling"].items():
        cells = " · ".join(
            f"{w}: {100 * c['ceiling']:.0f} % (parent {100 * c['parent_load']:.0f} % busy"
            + (f", scheduler {100 * c['scheduler_load']:.0f} %" if c.get("scheduler_load") else "")
            + ")"
            for w, c in by_w.items()
        )
        lines.append(f"  {kind:<10} {cells}")
    lines.append("  a 320-run sweep (the issue's), start-up included (serial: the forkserver's "
                 "imports / Dask's cluster / a real scheduler's start; then each worker's start "
                 "and first run), the batches run_sweep sends placed on the first free worker:")
    for kind, by_w in f["ceiling_320_runs"].items():
        cells = " · ".join(f"{w}: {100 * e:.0f} %" for w, e in by_w.items())
        if kind not in f["cpu_split"]:  # "dask, cluster up"
            lines.append(f"  {kind:<10} {cells}  (the scheduler and workers started before "
                         "the sweep: their own start left out)")
            continue
        up = f["cpu_split"][kind]["startup"]
        lines.append(f"  {kind:<10} {cells}  (start-up {up['serial_s']:.2f} s serial + "
                     f"{up['per_worker_s']:.2f} s a worker, CPU; started by "
                     f"{f['cpu_split'][kind].get('start_method', '?')})")
    return lines


if __name__ == "__main__":
    main()
