"""The Mesa baseline (benchmarks/baseline_mesa.py) and opmatrix simulate the same dynamics.

The speed comparison in ``make bench`` is only fair if both models compute the same thing: on the
benchmark scenario (paid reach with hourly contact windows, word of mouth on Watts–Strogatz,
churn) their final conversion and the word-of-mouth share of acquisitions agree within the 95 %
confidence interval of the difference of means over 6 seeds — while switching word of mouth
off moves opmatrix far outside it (so the check can tell models apart).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from benchmarks.baseline_mesa import CORE_SCENARIO, CoreParams, run_baseline
from simulation import load_scenario, run

SEEDS = range(6)
SMALL = ["population.size=1500", "days=240"]


def _ci_halfwidth(a: np.ndarray, b: np.ndarray) -> float:
    """Half-width of the 95 % CI of mean(a) − mean(b) (Welch)."""
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    return float(stats.t.ppf(0.975, df) * np.sqrt(va + vb))


def _wom_share(summary: dict) -> float:
    return summary["acquisitions_by_source"].get("word_of_mouth", 0) / summary["acquisitions"]


@pytest.fixture(scope="module")
def runs() -> tuple[list[dict], list[dict]]:
    sc = load_scenario(CORE_SCENARIO, SMALL)
    params = CoreParams.from_scenario(sc)
    baseline = [run_baseline(params, seed) for seed in SEEDS]
    opmatrix = [run(sc, seed).summary for seed in SEEDS]
    return baseline, opmatrix


def test_baseline_reads_the_scenario() -> None:
    params = CoreParams.from_scenario(load_scenario(CORE_SCENARIO, SMALL))
    assert (params.size, params.days, params.k) == (1500, 240, 10)
    assert params.reach == 0.001 and params.conversion == 0.5 and params.imitation == 0.01
    # card holders' windows 7-9, 11-14, 17-23 against send hours 8-22: 9 of 14 hours land inside
    assert len(params.window_hours & set(params.send_hours)) == 9
    assert len(params.send_hours) == 14


def test_final_conversion_agrees(runs) -> None:
    baseline, opmatrix = runs
    b = np.array([s["conversion_rate"] for s in baseline])
    o = np.array([s["conversion_rate"] for s in opmatrix])
    assert 0.2 < b.mean() < 0.8  # neither saturated nor negligible: the dynamics matter
    assert abs(b.mean() - o.mean()) <= _ci_halfwidth(b, o)


def test_word_of_mouth_share_agrees(runs) -> None:
    baseline, opmatrix = runs
    b = np.array([_wom_share(s) for s in baseline])
    o = np.array([_wom_share(s) for s in opmatrix])
    assert 0.3 < o.mean() < 0.95  # both paid reach and word of mouth contribute
    assert abs(b.mean() - o.mean()) <= _ci_halfwidth(b, o)


def test_the_check_detects_a_different_model(runs) -> None:
    baseline, _ = runs
    sc = load_scenario(CORE_SCENARIO, [*SMALL, "word_of_mouth.imitation=0"])
    b = np.array([s["conversion_rate"] for s in baseline])
    o = np.array([run(sc, seed).summary["conversion_rate"] for seed in SEEDS])
    assert abs(b.mean() - o.mean()) > 3 * _ci_halfwidth(b, o)
