"""Executors a sweep can run on; the runner accepts any ``concurrent.futures.Executor``.

- ``local``: a ``ProcessPoolExecutor`` with ``workers`` processes (the default).
- ``dask-local``: starts a real Dask ``LocalCluster`` (one single-threaded worker process per
  ``workers``) and uses ``Client.get_executor()``.
- ``dask``: connects to a running scheduler at ``address`` (``tcp://host:8786``).
- ``serial``: runs each spec in this process as it is submitted (debugging, tiny test models).

Every run is a pure function of (scenario, seed), so all executors give the same numbers.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.context
import os
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


def _process_context() -> multiprocessing.context.BaseContext:
    """Fork workers from a clean server process that has already imported the simulation.

    Explicit because importing Mesa switches the global start method to ``spawn`` (slow: each
    worker re-imports everything), and plain ``fork`` from a threaded parent can deadlock.
    """
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["simulation.runner.worker", "simulation.api"])
    return ctx


@contextmanager
def open_executor(
    kind: str = "local", workers: int | None = None, address: str | None = None
) -> Iterator[Executor]:
    """Yield a ready executor of ``kind``; on exit shut it (and any cluster it started) down."""
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
        with ProcessPoolExecutor(max_workers=n, mp_context=_process_context()) as pool:
            yield pool
    elif kind == "dask-local":
        import dask
        from distributed import Client, LocalCluster

        _process_context()  # Dask's worker processes fork from the same preloaded server
        with (
            dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}),
            LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            ) as cluster,
            Client(cluster) as client,
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
