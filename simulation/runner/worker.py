"""What an executor's worker runs: one spec in, one picklable outcome out.

An exception inside the simulation becomes a ``failed`` outcome carrying its error text, so one
bad run never stops a sweep. Files are written by the parent (``ResultStore.write``), which keeps
the store single-writer and lets a remote Dask worker run without a shared filesystem; a sweep's
worker encodes them (``execute_batch(..., encode=True)``), so the parent only writes bytes.
"""

from __future__ import annotations

import gc
import math
import time
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from simulation.runner import testmodels
from simulation.runner.specs import RunSpec

if TYPE_CHECKING:
    from simulation.runner.store import EncodedRun


@dataclass
class RunOutcome:
    """Status, scalar KPIs, per-segment KPIs and the daily × segment table of one run."""

    run_id: str
    status: str  # "done" | "failed"
    kpis: dict[str, float | None] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    daily: pd.DataFrame | None = None
    error: str | None = None
    seconds: float = 0.0
    #: Process CPU seconds of the simulation itself (``api.run``), without the runner's own
    #: work around it: what ``benchmarks/bench_sweep.py`` splits a worker's CPU by.
    cpu_seconds: float = 0.0
    #: the run's files as the store writes them (``execute_batch(..., encode=True)``); the
    #: daily table then travels only inside them
    encoded: EncodedRun | None = None


def execute(spec: RunSpec, threads: int | None = None) -> RunOutcome:
    """Run ``spec`` to completion; never raises for a failure of the run itself.

    ``threads``: kernel threads for this run (``None`` leaves the process's setting)."""
    start = time.perf_counter()
    _freeze_imports()
    try:
        if threads is not None:
            from simulation.kernels import set_threads

            set_threads(threads)
        if spec.invalid is not None:
            raise ValueError(spec.invalid)
        if spec.model == "opmatrix":
            outcome = _simulate(spec)
        else:
            outcome = RunOutcome(
                spec.run_id, "done", kpis=testmodels.evaluate(spec.model, spec.inputs)
            )
    except Exception as exc:  # a run that raises is recorded, not propagated
        outcome = RunOutcome(spec.run_id, "failed", error=_describe(exc))
    outcome.seconds = time.perf_counter() - start
    return outcome


_FROZEN = False


def _freeze_imports() -> None:
    """Move everything alive before this process's first run (the imports: numba, pandas,
    scipy, Mesa — ~200k objects) out of the cyclic garbage collector's sight, once
    (``gc.freeze``).

    Why: each finished world is freed by a full collection (simulation/incremental.py,
    ``run_world``), and Python runs its own full collections too; each walked every imported
    object, ~90 ms a time — a sweep's short runs paid it every run (measured, quickstart
    10k × 180, one thread: 0.52 → 0.41 CPU-s a run). Objects made later, every run's model
    among them, are collected as before, so a long sweep does not grow; numbers do not change.
    """
    global _FROZEN
    if not _FROZEN:
        _FROZEN = True
        gc.collect()  # what is already garbage is freed, not frozen
        gc.freeze()


def execute_batch(
    specs: list[RunSpec], threads: int | None = None, encode: bool = False
) -> list[RunOutcome]:
    """:func:`execute` each spec in turn: one task and one round trip for a few short runs.

    ``encode``: also encode each run's files here (:func:`~simulation.runner.store.encode_run`:
    Parquet bytes, JSON record, checksums), so the sweep process only writes them; the
    outcome then carries its daily table inside those bytes only (one copy to pickle)."""
    outcomes = [execute(spec, threads) for spec in specs]
    if encode:
        from simulation.runner.store import encode_run

        for spec, outcome in zip(specs, outcomes, strict=True):
            outcome.encoded = encode_run(spec, outcome)
            outcome.daily = None
    return outcomes


def _simulate(spec: RunSpec) -> RunOutcome:
    from simulation.api import run

    assert spec.scenario is not None
    cpu = time.process_time()
    result = run(spec.scenario, spec.seed)
    cpu = time.process_time() - cpu
    kpis: dict[str, float | None] = {}
    details: dict[str, Any] = {}
    for key, value in result.summary.items():
        if isinstance(value, dict):
            details[key] = value
        elif value is None or isinstance(value, int | float):
            kpis[key] = _finite(value)
    return RunOutcome(
        spec.run_id, "done", kpis=kpis, details=details, daily=result.daily, cpu_seconds=cpu
    )


def _finite(value: float | int | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _describe(exc: BaseException) -> str:
    """``Type: message`` and the innermost frame, short enough for a table cell."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno})" if frames else ""
    message = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {message}{where}"
