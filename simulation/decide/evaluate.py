"""Candidates → run specs on common seeds → the runner's executors → stored KPIs.

Every evaluation goes through ``simulation.runner.sweep.run_sweep`` into one
:class:`~simulation.runner.store.ResultStore` (``<results>/<experiment>/optimize/``): a run is
keyed by the hash of its resolved scenario and seed, so a candidate asked twice, a response-curve
point equal to the recommendation, or a batch re-evaluated after ``kill -9`` reuses the stored
runs instead of computing them again. Replicate ``i`` of every candidate and world uses the same
seed (common random numbers), so differences between candidates are paired.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulation.decide.spec import OptimizationSpec, World
from simulation.errors import ScenarioError
from simulation.runner.experiment import apply_paths
from simulation.runner.specs import RunSpec, content_hash, run_content
from simulation.runner.store import ResultStore
from simulation.runner.sweep import run_sweep
from simulation.scenario.load import validate_model
from simulation.scenario.schema import Scenario


@dataclass(frozen=True)
class Candidate:
    """A point of the decision space under a label (``trial-12``, ``baseline``, …)."""

    label: str
    point: dict[str, Any]


class Evaluator:
    """Runs candidates × worlds × seeds, storing every run; returns per-seed KPI frames."""

    def __init__(
        self,
        spec: OptimizationSpec,
        root: Path,
        executor: Executor,
        workers: int,
        on_runs: Callable[[int], None] | None = None,
    ) -> None:
        self.spec = spec
        self.store = ResultStore(root)
        self.executor = executor
        self.workers = workers
        self.on_runs = on_runs
        self._kpis: dict[str, dict[str, float] | None] = {}
        self._specs: dict[str, RunSpec] = {}
        self._scenarios: dict[str, Scenario | str] = {}
        self.runs_computed = 0
        self.simulate_seconds = 0.0

    def scenario(self, world: World, point: dict[str, Any]) -> Scenario | str:
        """The validated scenario of ``point`` in ``world`` (or why it is invalid)."""
        key = content_hash({"world": world.name, "point": point})
        if key not in self._scenarios:
            try:
                self._scenarios[key] = validate_model(
                    Scenario, apply_paths(world.data, point), f"<candidate in {world.name}>"
                )
            except ScenarioError as exc:
                self._scenarios[key] = exc.problems[0].render()
        return self._scenarios[key]

    def _spec(self, cand: Candidate, world: World, replicate: int, seed: int) -> RunSpec:
        sc = self.scenario(world, cand.point)
        if isinstance(sc, str):
            run_id = content_hash({"invalid": sc, "point": cand.point, "seed": seed})
            scenario, invalid = None, sc
        else:
            run_id = content_hash(run_content("opmatrix", sc, {}, seed))
            scenario, invalid = sc, None
        return RunSpec(
            run_id=run_id,
            experiment=f"{self.spec.name}-optimize",
            variant=f"{cand.label}@{world.name}",
            replicate=replicate,
            seed=seed,
            sample_id=0,
            params=dict(cand.point),
            scenario=scenario,
            invalid=invalid,
        )

    def evaluate(
        self, cands: list[Candidate], seeds: list[int], worlds: list[World] | None = None
    ) -> dict[tuple[str, str], pd.DataFrame]:
        """``(label, world) → frame`` (one row per seed, KPI columns; NaN rows for failed runs)."""
        worlds = worlds if worlds is not None else self.spec.worlds
        grid: dict[tuple[str, str], list[RunSpec]] = {}
        for cand in cands:
            for world in worlds:
                grid[(cand.label, world.name)] = [
                    self._spec(cand, world, i, seed) for i, seed in enumerate(seeds)
                ]
        todo = [s for specs in grid.values() for s in specs if s.run_id not in self._kpis]
        if todo:
            self.store.open()
            report = run_sweep(self.store, self.executor, specs=todo, workers=self.workers)
            self.runs_computed += report.ran
            self.simulate_seconds += report.simulate_seconds
            if self.on_runs is not None:
                self.on_runs(report.ran)
            for s in todo:
                self._specs[s.run_id] = s
                self._kpis[s.run_id] = self._read(s.run_id)
            self.store.write_manifest(list(self._specs.values()))
        out: dict[tuple[str, str], pd.DataFrame] = {}
        for key, specs in grid.items():
            rows = [self._kpis.get(s.run_id) or {} for s in specs]
            frame = pd.DataFrame(rows, index=pd.Index([s.seed for s in specs], name="seed"))
            frame.attrs["run_ids"] = [s.run_id for s in specs]
            frame.attrs["errors"] = [
                (self.store.record(s.run_id) or {}).get("error")
                for s, r in zip(specs, rows, strict=True)
                if not r
            ]
            out[key] = frame
        return out

    def _read(self, run_id: str) -> dict[str, float] | None:
        rec = self.store.record(run_id)
        if rec is None or rec.get("status") != "done":
            return None
        row: dict[str, float] = {}
        for k, v in (rec.get("kpis") or {}).items():
            row[k] = math.nan if v is None else float(v)
        details = rec.get("details") or {}
        for item, v in (details.get("spend_by_item") or {}).items():
            row[f"spend:{item}"] = float(v)
        for source, v in (details.get("acquisitions_by_source") or {}).items():
            if isinstance(v, int | float):
                row[f"acquisitions:{source}"] = float(v)
        return row


def column(frame: pd.DataFrame, kpi: str) -> np.ndarray:
    """One KPI across seeds (NaN where a run failed or the KPI is undefined)."""
    if kpi not in frame.columns:
        return np.full(len(frame), np.nan)
    return frame[kpi].to_numpy(dtype=float)
