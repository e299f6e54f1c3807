"""Paired-seed runs of the presets for the article-claim tests (tests/test_claims_*.py).

Every claim test compares two arms of one preset (or two presets) at a small size on the same
seed (common random numbers), so the difference is the lever's, not the noise's. Runs are cached
per process, so tests of one file that need the same arm share a run; sizes are chosen so the
whole claim suite costs well under a minute of CPU (docs/presets.md lists every claim).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from simulation.model import OperatingMatrixModel
from simulation.population.stages import Stage
from simulation.scenario.load import load_scenario

REPO = Path(__file__).resolve().parents[1]

#: Added to every claim test's seed (``OPMATRIX_CLAIMS_SEED_OFFSET``, default 0): a seed draws
#: the population too, so ``OPMATRIX_CLAIMS_SEED_OFFSET=100 pytest tests/test_claims_*.py``
#: re-runs every claim on other draws of the same distributions, to find claims that hold only
#: on their own seeds (docs/presets.md, "Robustness").
SEED_OFFSET = int(os.environ.get("OPMATRIX_CLAIMS_SEED_OFFSET", "0"))


@dataclass(frozen=True)
class Arm:
    """What the claim tests read from one finished run."""

    model: OperatingMatrixModel

    def events(self, item: str, event: str) -> int:
        arr = self.model.ledger.events.get((item, event))
        return 0 if arr is None else int(arr.sum())

    def events_per_day(self, item: str, event: str) -> np.ndarray:
        arr = self.model.ledger.events.get((item, event))
        days = self.model.days + 1
        return np.zeros(days, dtype=np.int64) if arr is None else arr.sum(axis=1)

    def spend(self, item: str | None = None) -> float:
        ledger = self.model.ledger
        if item is None:
            return ledger.total_spend()
        arr = ledger.spend.get(item)
        return 0.0 if arr is None else float(arr.sum())

    @property
    def acquisitions(self) -> int:
        return int(np.count_nonzero(self.model.population.converted_day >= 1))

    def acquired_via(self, source: str) -> int:
        pop = self.model.population
        if source not in pop.sources:
            return 0
        code = pop.sources.index(source)
        return int(np.count_nonzero((pop.converted_day >= 1) & (pop.acquired_via == code)))

    @property
    def value(self) -> float:
        """Value earned by every customer (stock and new) within the horizon, yuan."""
        return float(self.model.population.value_accrued.sum())

    def stage_count(self, *stages: Stage) -> int:
        return int(np.isin(self.model.population.stage, stages).sum())


@lru_cache(maxsize=64)
def _run(preset: str, overrides: tuple[str, ...], seed: int) -> Arm:
    scenario = load_scenario(REPO / "scenarios" / f"{preset}.yaml", list(overrides))
    model = OperatingMatrixModel(scenario, seed)
    model.run()
    return Arm(model)


def run(preset: str, *overrides: str, size: int = 3000, days: int = 150, seed: int = 0) -> Arm:
    """``preset`` at ``size`` customers for ``days`` with ``overrides`` (``path=value``)."""
    return _run(preset, (f"population.size={size}", f"days={days}", *overrides),
                seed + SEED_OFFSET)


def mean_ci(values: list[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean of per-seed paired differences and its two-sided ``level`` Student-t interval.

    A claim the model holds must hold in distribution, not on one lucky draw of the population:
    claims whose per-seed effect is small against the seed-to-seed spread assert that this
    interval, over enough paired seeds, excludes no effect (docs/presets.md states the seeds,
    the mean and the interval measured over 20 seeds, and the share of seeds it holds on)."""
    from scipy import stats

    xs = np.asarray(values, dtype=float)
    mean = float(xs.mean())
    half = float(stats.t.ppf(0.5 + level / 2, xs.size - 1) * xs.std(ddof=1) / np.sqrt(xs.size))
    return mean, mean - half, mean + half


def incremental(on: Arm, off: Arm) -> dict[str, float]:
    """What a lever adds over its counterfactual run (same seed, lever off): acquisitions,
    value of every customer, spend, and the incremental CPA and ROI."""
    d_acq = on.acquisitions - off.acquisitions
    d_value = on.value - off.value
    d_spend = on.spend() - off.spend()
    return {
        "acquisitions": d_acq,
        "value": d_value,
        "spend": d_spend,
        "cpa": d_spend / d_acq if d_acq > 0 else float("inf"),
        "roi": (d_value - d_spend) / d_spend if d_spend > 0 else float("nan"),
    }


@lru_cache(maxsize=16)
def _kpis(preset: str, overrides: tuple[str, ...], seed: int) -> dict:
    from simulation.api import run as api_run

    scenario = load_scenario(REPO / "scenarios" / f"{preset}.yaml", list(overrides))
    summary = api_run(scenario, seed).summary
    return dict(summary.get("kpis", summary))


def kpis(preset: str, *overrides: str, size: int = 3000, days: int = 150, seed: int = 0) -> dict:
    """The run's KPIs with its counterfactual (every strategy lever off, same seed), as
    ``opmatrix run`` reports them: ``incremental_roi``, ``incremental_cpa`` and the rest
    (docs/kpis.md), for claims about a whole preset rather than one lever."""
    return _kpis(preset, (f"population.size={size}", f"days={days}", *overrides),
                 seed + SEED_OFFSET)
