"""Executors a sweep can run on; the runner accepts any ``concurrent.futures.Executor``.

- ``local``: a ``ProcessPoolExecutor`` with ``workers`` processes (the default), forked from
  this process when that is safe (:func:`start_method`), else from a forkserver.
- ``dask-local``: starts a real Dask ``LocalCluster`` (one single-threaded worker process per
  ``workers``) and uses ``Client.get_executor()``.
- ``dask``: connects to a running scheduler at ``address`` (``tcp://host:8786``).
- ``serial``: runs each spec in this process as it is submitted (debugging, tiny test models).

Every run is a pure function of (scenario, seed), so all executors give the same numbers.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import multiprocessing.context
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any, Literal

from simulation.errors import ScenarioError

ExecutorKind = Literal["local", "dask", "dask-local", "serial"]
EXECUTOR_KINDS: tuple[str, ...] = ("local", "dask", "dask-local", "serial")


class SerialExecutor(Executor):
    """Runs each call at submit time in the calling process (a completed future comes back)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


#: ``OPMATRIX_START_METHOD``: how the local executor starts its workers — ``auto`` (the
#: default: fork when :func:`fork_unsafe` finds nothing against it, else a forkserver),
#: ``forkserver`` (always) or ``fork`` (when safe; a forkserver otherwise).
START_METHOD_ENV = "OPMATRIX_START_METHOD"


def fork_unsafe(threads_per_run: int | None = None) -> str | None:
    """Why forking this process now could hang a child; None when nothing speaks against it.

    A child of ``fork`` is a copy of this process with only the forking thread: a lock another
    thread held at that instant stays held forever in the child (logging, I/O buffers, the
    import lock), and GNU OpenMP — numba's thread pool here — hangs in a child that opens a
    parallel region once the parent has run one. So: Linux only, no other Python thread
    alive, and either runs of one kernel thread (``threads_per_run == 1``: a worker then never
    enters a parallel region — the kernels take their serial twins) or numba's pool never
    started here. (Native helper threads that register fork handlers — OpenBLAS, jemalloc,
    Arrow's pool — are safe; DuckDB's are never used by a worker.)
    """
    if sys.platform != "linux":
        return f"fork is only used on Linux (this is {sys.platform})"
    if threading.active_count() > 1:
        me = threading.current_thread()
        names = ", ".join(t.name for t in threading.enumerate() if t is not me)
        return f"other threads are running ({names})"
    if threads_per_run == 1:
        return None
    try:
        from numba.np.ufunc import parallel as numba_parallel
    except ImportError:  # pragma: no cover - numba is a dependency
        return None
    if getattr(numba_parallel, "_is_initialized", True):  # unknown numba: assume started
        return "numba's thread pool has started in this process"
    return None


def start_method(threads_per_run: int | None = None) -> str:
    """``fork`` or ``forkserver``: how the local executor will start its workers now
    (``threads_per_run``: the kernel threads each run will use, None if not known).

    Why fork when it is safe: a forkserver is a fresh interpreter that imports the whole
    simulation (~1.4 CPU-s, benchmarks/bench_sweep.py) before the first worker can start —
    serial start-up that cost a 320-run sweep on 16 workers ~13 points of efficiency
    (extrapolated) — while a forked worker starts from this process's imports at once.
    """
    wanted = os.environ.get(START_METHOD_ENV, "auto").strip().lower() or "auto"
    if wanted not in ("auto", "fork", "forkserver"):
        raise ScenarioError.single(
            START_METHOD_ENV, "", f"'{wanted}' is not a start method; valid: auto, fork, "
            "forkserver"
        )
    if wanted == "forkserver" or fork_unsafe(threads_per_run) is not None:
        return "forkserver"
    return "fork"


def _process_context(method: str = "forkserver") -> multiprocessing.context.BaseContext:
    """A ``fork`` context, or one that forks workers from a clean server process that has
    already imported the simulation.

    Explicit because importing Mesa switches the global start method to ``spawn`` (slow: each
    worker re-imports everything), and plain ``fork`` from a threaded parent can deadlock
    (:func:`fork_unsafe` decides when it cannot).
    """
    if method == "fork":
        return multiprocessing.get_context("fork")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(list(WORKER_MODULES))
    return ctx


#: What a worker imports before its first run: the forkserver's preload, and what
#: :mod:`simulation.runner.preload` imports in a ``dask worker --preload``. ``scipy.optimize``
#: is imported by a run only when its payback needs a root (money/lifetime.py; a quickstart
#: run of 10k x 180 days does): loaded here, once, rather than by every worker on its first run.
WORKER_MODULES: tuple[str, ...] = (
    "simulation.runner.worker", "simulation.runner.store", "simulation.api", "scipy.optimize",
)


def _start_dask_forkserver() -> None:
    """Start the forkserver Dask-local's workers fork from, now, preloaded with Dask *and* the
    simulation, before this process imports Dask itself.

    Why: Distributed sets the forkserver's preload (``distributed.utils.get_mp_context``: Dask,
    numpy, pandas …) the first time a nanny starts a worker, replacing ours, so every worker
    imported the simulation itself on its first task (1.2–2.1 CPU-s each, measured in
    benchmarks/bench_sweep.py). A server that runs already keeps its preload; started here, it
    imports everything once while this process imports Dask and starts the scheduler (the two
    overlap on separate cores), and every worker forks with all of it loaded. A forkserver
    that is already running (a local pool's, earlier in this process) is reused as it is.
    """
    import multiprocessing.forkserver as forkserver

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["distributed", *WORKER_MODULES])
    forkserver.ensure_running()


def _die_with_parent(parent: int) -> None:
    """Worker initializer of a forked pool: be killed when the sweep process dies.

    A forked worker inherits the write end of its own task queue, so after a ``kill -9`` of
    the sweep it would wait for tasks forever (a forkserver's worker sees the queue close and
    exits); Linux's parent-death signal ends it instead."""
    import ctypes

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


#: Dask settings of ``dask-local``: workers fork from the preloaded forkserver
#: (:func:`_start_dask_forkserver`); the nannies, which live in this process, and the workers
#: check their memory every second instead of every 100 ms (each check is a psutil call: at
#: 16 workers, 160 a second in the sweep process, which every worker waits on); and the
#: workers do not run Dask's statistical profiler (100 looks a second at the running task's
#: stack, taken by the worker's event loop from the run's GIL, for a dashboard a sweep does
#: not open). simulation/runner/preload.py does the same for ``dask worker`` processes.
DASK_LOCAL_CONFIG: dict[str, Any] = {
    "distributed.worker.multiprocessing-method": "forkserver",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.worker.profile.enabled": False,
}


def prepare(kind: str) -> None:
    """Start what ``open_executor(kind)`` will need and can start before the caller loads its
    experiment: for ``dask-local`` the preloaded forkserver (:func:`_start_dask_forkserver`),
    whose imports then overlap the caller's own work. Anything else: nothing."""
    if kind == "dask-local":
        _start_dask_forkserver()


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """``gc.freeze()`` while this process forks its workers, ``gc.unfreeze()`` after.

    Why: a forked worker's first run starts with a full collection (worker.py,
    ``_freeze_imports``), which walked every object inherited from this process (~0.1 s a
    worker) and wrote to their pages (copy-on-write copies). Frozen at the fork, they sit in
    the permanent generation the child's collections skip; unfrozen right after, this process
    collects them as before, so nothing here leaks — unless the heap was frozen already
    (``opmatrix``'s entry point freezes its imports: simulation/cli/__init__.py), which stays
    so, with what was made since (the experiment and its store, alive for the sweep). Objects
    are not changed: no number can move.
    """
    frozen_before = gc.get_freeze_count() > 0
    gc.freeze()
    try:
        yield
    finally:
        if not frozen_before:
            gc.unfreeze()


@contextmanager
def open_executor(
    kind: str = "local",
    workers: int | None = None,
    address: str | None = None,
    threads_per_run: int | None = None,
) -> Iterator[Executor]:
    """Yield a ready executor of ``kind``; on exit shut it (and any cluster it started) down.

    ``threads_per_run``: the kernel threads each run will use (``run_sweep``'s ``threads``,
    1 by default there), when the caller knows it: with 1 a local pool can be forked even
    after numba's pool has started here (:func:`fork_unsafe`)."""
    if kind not in EXECUTOR_KINDS:
        raise ScenarioError.single(
            "--executor", "", f"unknown executor '{kind}'; valid: {', '.join(EXECUTOR_KINDS)}"
        )
    if kind == "dask" and not address:
        raise ScenarioError.single(
            "--address", "", "the dask executor needs --address tcp://host:port of a scheduler"
        )
    n = workers or default_workers()
    if kind == "serial":
        yield SerialExecutor()
    elif kind == "local":
        method = start_method(threads_per_run)
        fork = {"initializer": _die_with_parent, "initargs": (os.getpid(),)}
        with ProcessPoolExecutor(
            max_workers=n, mp_context=_process_context(method), **(fork if method == "fork" else {})
        ) as pool:
            if method == "fork":
                # A forking pool starts all its workers at its first task, before its own
                # threads exist: now, while fork_unsafe() still holds (the caller may start
                # threads next, e.g. a progress bar).
                with _frozen_heap():
                    pool.submit(os.getpid).result()
            yield pool
    elif kind == "dask-local":
        _start_dask_forkserver()
        import dask
        from distributed import Client, LocalCluster

        with (
            dask.config.set(DASK_LOCAL_CONFIG),
            LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            ) as cluster,
            # results straight from the worker that holds them, not relayed by the scheduler
            Client(cluster, direct_to_workers=True) as client,
        ):
            yield client.get_executor(pure=False)
    else:
        from distributed import Client
        from distributed.comm.addressing import parse_address, parse_host_port

        try:  # a malformed address is refused before any connection attempt
            _scheme, location = parse_address(str(address))
            parse_host_port(location)
        except (ValueError, TypeError) as exc:
            raise ScenarioError.single(
                "--address", "", f"'{address}' is not a scheduler address such as "
                f"tcp://10.0.0.5:8786 ({exc})"
            ) from None
        try:
            client = Client(address, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise ScenarioError.single(
                "--address", "", f"cannot reach a Dask scheduler at {address}: {exc}"
            ) from None
        with client:
            yield client.get_executor(pure=False)
