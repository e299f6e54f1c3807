"""How a sweep splits its runs into tasks (simulation/runner/sweep.py, ``guided_batches``):
big batches first, single runs last, every spec sent exactly once, and the Dask worker
preload (simulation/runner/preload.py) imports what a run needs."""

from __future__ import annotations

import sys
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

import pytest

from simulation.runner import ResultStore, load_experiment
from simulation.runner.sweep import MAX_BATCH, batch_size, guided_batches, run_sweep


@pytest.mark.parametrize(("runs", "workers"), [(320, 16), (320, 2), (40, 2), (7, 3), (1, 4),
                                               (0, 2), (1000, 1)])
def test_guided_batches_cover_every_run_big_first(runs: int, workers: int) -> None:
    sizes = guided_batches(runs, workers)
    assert sum(sizes) == runs
    assert all(1 <= s <= MAX_BATCH for s in sizes)
    assert sizes == sorted(sizes, reverse=True)
    if runs >= 2 * workers:
        assert sizes[-workers:] == [1] * workers  # the workers end within a run of each other


def test_guided_batches_send_fewer_tasks_than_a_fixed_split() -> None:
    """320 runs on 16 workers (the issue's benchmark): the fixed split sent 160 tasks of 2."""
    assert batch_size(320, 16) == 2
    assert len(guided_batches(320, 16)) < 100


class RecordingExecutor(Executor):
    """Runs each task at submit time, like SerialExecutor, and records the batches."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future:
        self.batches.append([spec.run_id for spec in args[0]])
        future: Future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def test_a_sweep_sends_every_spec_once_in_guided_batches(tmp_path: Path) -> None:
    path = tmp_path / "grid.yaml"
    path.write_text("model: ishigami\nsweep:\n  parameters:\n"
                    "    x1: {low: -1, high: 1, levels: 8}\n    x2: {low: 0, high: 1, levels: 5}\n")
    store = ResultStore.for_experiment(load_experiment(path), tmp_path / "results")
    pool = RecordingExecutor()
    report = run_sweep(store, pool, workers=2)
    assert report.done == 40
    assert [len(b) for b in pool.batches] == guided_batches(40, 2)
    sent = [run_id for batch in pool.batches for run_id in batch]
    assert sorted(sent) == sorted(store.status()) and len(set(sent)) == 40
    again = RecordingExecutor()  # resumed: nothing left to send
    assert run_sweep(store, again, workers=2).skipped == 40 and again.batches == []


class Callback:
    def __init__(self, ms: float) -> None:
        self.callback_time, self.stopped = ms, False

    def stop(self) -> None:
        self.stopped = True


def test_the_dask_worker_preload_imports_a_run_s_modules_and_drops_the_profiler() -> None:
    from types import SimpleNamespace

    from simulation.runner import preload
    from simulation.runner.executors import WORKER_MODULES

    profile, memory, heartbeat = Callback(10), Callback(100), Callback(500)
    worker = SimpleNamespace(periodic_callbacks={
        "profile": profile, "memory_monitor": memory, "heartbeat": heartbeat,
    })
    preload.dask_setup(worker)
    assert all(name in sys.modules for name in WORKER_MODULES)
    assert profile.stopped and set(worker.periodic_callbacks) == {"memory_monitor", "heartbeat"}
    assert memory.callback_time == 1000 and heartbeat.callback_time == 500
