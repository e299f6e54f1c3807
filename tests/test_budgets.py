"""Budgets in yuan that bind: reach bought by an evenly paced budget, with saturation."""

from __future__ import annotations

import pytest

from simulation import run, scenario_from_dict
from simulation.errors import ScenarioError
from tests.conftest import small_scenario_dict


def paced(budget: float, **channel) -> dict:
    data = small_scenario_dict(days=60)
    data["channels"] = {
        "feed": {
            "daily_reach": 0.3,
            "cost_per_impression": 0.02,
            "pacing": "even",
            "budget": budget,
            "conversion_on_contact": 0.01,
            **channel,
        }
    }
    data["word_of_mouth"] = {"imitation": 0.0}
    data["incrementality"] = {"counterfactual": False}
    return data


def summary(data: dict, seed: int = 3) -> dict:
    return run(scenario_from_dict(data), seed=seed).summary


def test_doubling_a_binding_budget_raises_spend_and_results_less_than_proportionally() -> None:
    one = [summary(paced(300.0), seed) for seed in (1, 2)]
    two = [summary(paced(600.0), seed) for seed in (1, 2)]
    spend1 = sum(s["spend"] for s in one)
    spend2 = sum(s["spend"] for s in two)
    acq1 = sum(s["acquisitions"] for s in one)
    acq2 = sum(s["acquisitions"] for s in two)
    assert all(s["budgets"]["feed"]["binding"] for s in one + two)
    assert spend2 == pytest.approx(2 * spend1, rel=0.02)
    assert acq1 < acq2 < 2 * acq1 * 0.95  # diminishing returns (saturation of the pool)
    assert all(s["budget_unspent"] < 0.01 * 300 for s in one)


def test_a_budget_that_does_not_bind_is_reported_unspent() -> None:
    s = summary(paced(100_000.0))
    row = s["budgets"]["feed"]
    assert not row["binding"] and row["unspent"] > 50_000
    assert s["budget_unspent"] == pytest.approx(100_000.0 - s["spend"])
    assert s["budget_used"] == pytest.approx(s["spend"] / 100_000.0)


def test_contact_priced_budget_buys_contacts_one_each() -> None:
    data = paced(120.0, cost_per_impression=0.0, cost_per_contact=0.5)
    s = summary(data)
    contacts = s["spend"] / 0.5
    assert contacts == pytest.approx(120.0 / 0.5, rel=0.15)


def test_pacing_needs_a_price() -> None:
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(paced(100.0, cost_per_impression=0.0))
    assert "pacing" in str(err.value)
