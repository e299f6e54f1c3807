"""Regression against analytic results: the Bass diffusion curve and geometric churn."""

from __future__ import annotations

import numpy as np
import pytest

from simulation import load_scenario, run, scenario_from_dict
from tests.conftest import REPO


def bass_F(t: np.ndarray, p: float, q: float) -> np.ndarray:
    """Bass (1969) cumulative adoption share F(t) (docs/sources.md §2.1)."""
    e = np.exp(-(p + q) * t)
    return (1 - e) / (1 + (q / p) * e)


def adoption_share(result) -> np.ndarray:
    totals = result.daily.groupby("day")[["converted_cumulative", "customers"]].sum()
    return (totals["converted_cumulative"] / totals["customers"]).to_numpy()


@pytest.mark.parametrize(("p", "q"), [(0.004, 0.05), (0.01, 0.1), (0.02, 0.0)])
def test_bass_closed_form(p: float, q: float) -> None:
    sc = load_scenario(
        REPO / "scenarios/validation/bass.yaml",
        [
            f"channels.mass_media.daily_reach={p}",
            f"word_of_mouth.imitation={q}",
            "days=150",
        ],
    )
    F = adoption_share(run(sc, seed=11))
    expected = bass_F(np.arange(F.size, dtype=float), p, q)
    # Daily steps with the day's hazards applied in sequence: discretisation error < 0.02 here,
    # sampling error ~ sqrt(F(1-F)/20000) < 0.004.
    assert np.max(np.abs(F - expected)) < 0.02
    t_star = np.log(q / p) / (p + q) if q > p else 0.0
    if q > p:  # the adoption rate peaks at t* = ln(q/p)/(p+q)
        rate = np.diff(F)
        assert abs(int(np.argmax(rate)) - t_star) < 6


def test_network_slower_than_complete() -> None:
    """Word of mouth on a sparse graph is slower than well mixed (Fibich & Levin bound)."""
    path = REPO / "scenarios/validation/bass.yaml"
    complete = adoption_share(run(load_scenario(path, ["days=90"]), seed=5))
    ws = adoption_share(
        run(load_scenario(path, ["days=90", "graph={kind: watts_strogatz, k: 4, p: 0.0}"]), seed=5)
    )
    assert ws[60] < complete[60] - 0.05


def churn_only(c: float, days: int = 200) -> dict:
    return {
        "name": "churn",
        "days": days,
        "population": {
            "size": 20000,
            "segments": {
                "all": {"share": 1.0, "churn_hazard": c, "initial": {"converted": 1.0}},
            },
        },
        "graph": {"kind": "complete"},
    }


@pytest.mark.parametrize("c", [0.005, 0.02])
def test_geometric_churn(c: float) -> None:
    """Constant hazard c, no acquisition ⇒ retention(t) = (1 − c)^t."""
    result = run(scenario_from_dict(churn_only(c)), seed=3)
    totals = result.daily.groupby("day")[["converted_cumulative", "churned_cumulative"]].sum()
    kept = 1 - totals["churned_cumulative"] / totals["converted_cumulative"]
    t = np.arange(kept.size)
    expected = (1 - c) ** t
    # Binomial sampling error of a 20k cohort, 4.5 sd at every day of the path.
    tolerance = 4.5 * np.sqrt(expected * (1 - expected) / 20000) + 1e-3
    assert np.all(np.abs(kept.to_numpy() - expected) < tolerance)
    assert result.summary["retention_90d"] == pytest.approx((1 - c) ** 90, abs=0.015)
    assert result.summary["acquisitions"] == 0
    curve = result.retention.set_index("age_days")["retention"]
    assert curve.loc[180] == pytest.approx((1 - c) ** 180, abs=0.015)
