"""Running an experiment's specs on an executor, streaming each result to the store.

Stored runs are skipped (resume); failed ones too unless ``retry_failed``. Specs sharing a
``run_id`` (variants that resolve to the same scenario) are computed once. At most a few runs per
worker are in flight, so memory stays flat and an interrupted sweep loses little work. Results
are written by this process as they arrive, never collected into one big list.

Throughput (issue 14): specs go to the workers in small **batches** (one task, one round trip
and one pickled scenario list per batch, :func:`~simulation.runner.worker.execute_batch`), and
results are stored by a **writer thread**, so the dispatch loop hands the next batch to an idle
worker while the previous one's Parquet and JSON are still being written. The store keeps a
single writer (that thread); a batch's runs are stored one by one, each atomically. The workers
**encode** each run's files (Parquet bytes, JSON record, checksums: ``execute_batch(...,
encode=True)``), so the parent's CPU per run — what caps a sweep's workers, since they all wait
on this one process — is writing bytes, unpickling and dispatch (benchmarks/bench_sweep.py
measures it).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from simulation.runner.specs import RunSpec, expand
from simulation.runner.store import ResultStore
from simulation.runner.worker import RunOutcome, execute_batch

ProgressCallback = Callable[[int, int, RunOutcome], None]


@dataclass
class SweepReport:
    """What a sweep did: counts, wall time and the errors of failed runs."""

    total: int
    skipped: int = 0
    done: int = 0
    failed: int = 0
    seconds: float = 0.0
    simulate_seconds: float = 0.0
    #: the workers' process CPU inside the simulations (``RunOutcome.cpu_seconds``)
    simulate_cpu_seconds: float = 0.0
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ran(self) -> int:
        return self.done + self.failed


class WorkerLost(RuntimeError):
    """A worker process died (e.g. killed); stored runs are intact and a rerun resumes."""


def pending_specs(
    specs: list[RunSpec], store: ResultStore, retry_failed: bool = False
) -> list[RunSpec]:
    """Unique specs not yet stored (and failed ones again when ``retry_failed``)."""
    unique = list({s.run_id: s for s in specs}.values())
    status = store.status(s.run_id for s in unique)
    keep = {"failed"} if retry_failed else set()
    return [s for s in unique if s.run_id not in status or status[s.run_id] in keep]


#: the most runs one task carries: what a dead worker's batch costs to redo, and the size
#: of a batch's outcomes in memory at once
MAX_BATCH = 8


def batch_size(runs: int, workers: int) -> int:
    """Specs per task for a fixed-size split (``run_sweep(batch=...)`` overrides the guided
    schedule with it): about eight tasks per worker, at most :data:`MAX_BATCH`, at least 1."""
    return max(1, min(MAX_BATCH, runs // max(1, 8 * workers)))


def guided_batches(runs: int, workers: int, cap: int = MAX_BATCH) -> list[int]:
    """Batch sizes for ``runs`` specs on ``workers`` workers: big first, single runs last.

    Guided self-scheduling: each batch takes ``⌈remaining / (2 · workers)⌉`` specs (at most
    ``cap``). Why: every task costs the executor round trips — for Dask a graph update, a
    task on the scheduler, a result fetched and released, in the client's and the
    scheduler's processes, which every worker waits on — so early batches are large; and a
    sweep ends when its last worker does, so the last ones are single runs and the workers
    finish within about one run of each other (a fixed size of 2 on 320 runs × 16 workers
    sent 160 tasks; this sends 94, with a shorter tail)."""
    sizes: list[int] = []
    left = runs
    while left > 0:
        size = max(1, min(cap, left, -(-left // (2 * max(1, workers)))))
        sizes.append(size)
        left -= size
    return sizes


def run_sweep(
    store: ResultStore,
    executor: Executor,
    retry_failed: bool = False,
    on_progress: ProgressCallback | None = None,
    in_flight_per_worker: int = 4,
    workers: int = 2,
    specs: list[RunSpec] | None = None,
    threads: int | None = None,
    batch: int | None = None,
) -> SweepReport:
    """Run every pending spec of ``store.experiment`` on ``executor``; store each as it ends.

    ``threads``: kernel threads per run in the workers (default 1 — the worker processes are
    the parallelism; results are the same for any count). ``batch``: specs per task (default:
    :func:`guided_batches`' sizes). About ``workers × in_flight_per_worker`` runs are in
    flight at once, and more than ``workers`` tasks."""
    start = time.perf_counter()
    if specs is None:
        assert store.experiment is not None, "a store without an experiment needs specs"
        specs = expand(store.experiment)
    store.open()
    store.write_manifest(specs)
    todo = pending_specs(specs, store, retry_failed)
    unique_total = len({s.run_id for s in specs})
    report = SweepReport(total=len(todo), skipped=unique_total - len(todo))
    sizes = [batch] * -(-len(todo) // batch) if batch else guided_batches(len(todo), workers)
    batches, at = [], 0
    for size in sizes:
        batches.append(todo[at : at + size])
        at += size
    # runs in flight: a few per worker, and always a task more than there are workers
    window = workers * in_flight_per_worker
    queue = iter(batches)
    running: dict[Future, list[RunSpec]] = {}
    writes: deque[Future] = deque()
    per_run_threads = threads or 1

    def submit_more() -> None:
        in_flight = sum(len(chunk) for chunk in running.values())
        while len(running) <= workers or in_flight < window:
            chunk = next(queue, None)
            if chunk is None:
                return
            running[executor.submit(execute_batch, chunk, per_run_threads, True)] = chunk
            in_flight += len(chunk)

    def drain_writes(keep: int) -> None:
        """Wait for stored runs until at most ``keep`` writes are pending (memory stays flat);
        a write that failed raises here."""
        while len(writes) > keep:
            writes.popleft().result()

    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")
    submit_more()
    try:
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                chunk = running.pop(future)
                for spec, outcome in zip(chunk, _outcomes(future, chunk), strict=True):
                    writes.append(writer.submit(store.write, spec, outcome))
                    report.simulate_seconds += outcome.seconds
                    report.simulate_cpu_seconds += outcome.cpu_seconds
                    if outcome.status == "done":
                        report.done += 1
                    else:
                        report.failed += 1
                        report.errors[spec.run_id] = outcome.error or "failed"
            submit_more()
            drain_writes(window + MAX_BATCH)
            if on_progress is not None and finished:
                on_progress(report.ran, report.total, outcome)
    except BrokenProcessPool as exc:
        for future in running:
            future.cancel()
        drain_writes(0)
        raise WorkerLost(
            f"a worker process died ({exc}); {report.ran} of {report.total} runs were stored "
            "this time; rerun the same command to resume"
        ) from None
    finally:
        try:
            drain_writes(0)
        finally:
            writer.shutdown(wait=True)
            report.seconds = time.perf_counter() - start
    return report


def _outcomes(future: Future, chunk: list[RunSpec]) -> list[RunOutcome]:
    """The batch's outcomes; a cluster-side failure of the task fails each of its runs."""
    try:
        return future.result()
    except BrokenProcessPool:
        raise
    except Exception as exc:  # e.g. Dask's KilledWorker: the task itself kept killing workers
        return [
            RunOutcome(spec.run_id, "failed", error=f"{type(exc).__name__}: {exc}")
            for spec in chunk
        ]
