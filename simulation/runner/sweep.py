"""Running an experiment's specs on an executor, streaming each result to the store.

Stored runs are skipped (resume); failed ones too unless ``retry_failed``. Specs sharing a
``run_id`` (variants that resolve to the same scenario) are computed once. At most a few runs per
worker are in flight, so memory stays flat and an interrupted sweep loses little work. Results
are written by this process as they arrive, never collected into one big list.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from simulation.runner.specs import RunSpec, expand
from simulation.runner.store import ResultStore
from simulation.runner.worker import RunOutcome, execute

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


def run_sweep(
    store: ResultStore,
    executor: Executor,
    retry_failed: bool = False,
    on_progress: ProgressCallback | None = None,
    in_flight_per_worker: int = 4,
    workers: int = 2,
    specs: list[RunSpec] | None = None,
) -> SweepReport:
    """Run every pending spec of ``store.experiment`` on ``executor``; store each as it ends."""
    start = time.perf_counter()
    if specs is None:
        assert store.experiment is not None, "a store without an experiment needs specs"
        specs = expand(store.experiment)
    store.open()
    store.write_manifest(specs)
    todo = pending_specs(specs, store, retry_failed)
    unique_total = len({s.run_id for s in specs})
    report = SweepReport(total=len(todo), skipped=unique_total - len(todo))
    window = max(1, workers * in_flight_per_worker)
    queue = iter(todo)
    running: dict[Future, RunSpec] = {}

    def submit_more() -> None:
        while len(running) < window:
            spec = next(queue, None)
            if spec is None:
                return
            running[executor.submit(execute, spec)] = spec

    submit_more()
    try:
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                spec = running.pop(future)
                outcome = _outcome(future, spec)
                store.write(spec, outcome)
                report.simulate_seconds += outcome.seconds
                if outcome.status == "done":
                    report.done += 1
                else:
                    report.failed += 1
                    report.errors[spec.run_id] = outcome.error or "failed"
                if on_progress is not None:
                    on_progress(report.ran, report.total, outcome)
            submit_more()
    except BrokenProcessPool as exc:
        for future in running:
            future.cancel()
        raise WorkerLost(
            f"a worker process died ({exc}); {report.ran} of {report.total} runs were stored "
            "this time; rerun the same command to resume"
        ) from None
    finally:
        report.seconds = time.perf_counter() - start
    return report


def _outcome(future: Future, spec: RunSpec) -> RunOutcome:
    """The worker's outcome; a cluster-side failure of this one task is recorded as failed."""
    try:
        return future.result()
    except BrokenProcessPool:
        raise
    except Exception as exc:  # e.g. Dask's KilledWorker: the task itself kept killing workers
        return RunOutcome(spec.run_id, "failed", error=f"{type(exc).__name__}: {exc}")
