"""A Dask worker preload: start each ``dask worker`` with
``DASK_DISTRIBUTED__WORKER__PRELOAD=simulation.runner.preload`` in its environment
(:data:`ENV`; docs/cluster.md), or ``--preload simulation.runner.preload``.

Why: without it, every worker imports the simulation (numba, pandas, Mesa, pyarrow: 1.2–2.1
CPU-s a worker, benchmarks/bench_sweep.py) on its first task, so each worker's first run
waits for it once the sweep has started. Preloaded, the imports happen while the worker starts
— before the sweep, or while the client is still starting — and the inherited heap is frozen
out of the garbage collector's walks then too (``worker._freeze_imports``).

Why the environment rather than ``--preload``: the ``dask worker`` command checks a
``--preload`` module's options by importing it in its own process — the nanny's, which never
runs a simulation — and importing ``simulation.runner.preload`` imports the whole simulation
(measured: the nanny's start 1.97–2.46 CPU-s with ``--preload``, 0.76–0.84 without; the
worker's own start is the same either way). Set through Dask's configuration
(``distributed.worker.preload``), the module is imported only by the worker process it serves.

It also takes two periodic chores off a worker's event loop, which shares the GIL with the
run it executes: Dask's statistical profiler (a look at the running task's stack 100 times a
second, for the dashboard's profile page, which then stays empty) and the memory check every
100 ms (every second instead; :data:`~simulation.runner.executors.DASK_LOCAL_CONFIG` does the
same for ``dask-local``). Importing modules and skipping those chores change no number.
"""

from __future__ import annotations

import importlib
from typing import Any

from simulation.runner import worker as _worker
from simulation.runner.executors import WORKER_MODULES

#: the environment a ``dask worker`` process needs to preload this module in its workers only
#: (Dask reads ``DASK_DISTRIBUTED__WORKER__PRELOAD`` as ``distributed.worker.preload``)
ENV: dict[str, str] = {"DASK_DISTRIBUTED__WORKER__PRELOAD": __name__}
#: periodic callbacks of a Dask worker that only feed its profiler
PROFILER_CALLBACKS = ("profile", "profile-cycle")
#: the worker's memory check, in milliseconds (Dask's default: 100)
MEMORY_CHECK_MS = 1000


def load() -> None:
    """Import what a worker needs for a run and freeze it out of the collector's walks."""
    for name in WORKER_MODULES:
        importlib.import_module(name)
    _worker._freeze_imports()


def dask_setup(worker: Any) -> None:
    """Dask's preload hook, called as the worker starts (before its periodic callbacks run)."""
    load()
    callbacks = getattr(worker, "periodic_callbacks", {})
    for name in PROFILER_CALLBACKS:
        callback = callbacks.pop(name, None)
        if callback is not None:
            callback.stop()
    memory = callbacks.get("memory_monitor")
    if memory is not None:
        memory.callback_time = max(memory.callback_time, MEMORY_CHECK_MS)
