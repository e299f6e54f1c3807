"""Lifecycle operations: rings move inward, recall of at-risk/dormant, rewards and budgets."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulation import Ring, ScenarioError, Stage, scenario_from_dict
from simulation.model import OperatingMatrixModel
from tests.conftest import small_scenario_dict


def ops_dict(days: int = 40, **operations: Any) -> dict:
    data = small_scenario_dict(days=days)
    data["population"]["segments"]["credit_card"]["initial"] = {"converted": 0.6}
    data["population"]["segments"]["payroll"]["initial"] = {"converted": 0.6}
    data["lifecycle"] = {"at_risk_to_dormant": 0.05, "dormant_to_churned": 0.05}
    data["lifecycle_operations"] = {"operations": operations}
    return data


def run_model(data: dict, seed: int = 5) -> OperatingMatrixModel:
    model = OperatingMatrixModel(scenario_from_dict(data), seed)
    model.run()
    return model


def test_ring_operations_move_customers_inward() -> None:
    plain = run_model(ops_dict())
    pushed = run_model(
        ops_dict(outer_to_middle={"effect": "ring_inward", "rings": ["outer"], "reach": 0.1,
                                  "success": 0.3},
                 middle_to_inner={"effect": "ring_inward", "rings": ["middle"], "reach": 0.1,
                                  "success": 0.3})
    )
    ring_plain = np.bincount(plain.population.ring, minlength=4)
    ring_pushed = np.bincount(pushed.population.ring, minlength=4)
    assert ring_pushed[Ring.INNER] > ring_plain[Ring.INNER] + 100
    assert ring_pushed[Ring.OUTER] < ring_plain[Ring.OUTER]
    assert pushed.population.ring.max() == Ring.INNER


def test_recall_wins_back_lapsing_customers_and_pays_the_red_packet() -> None:
    model = run_model(
        ops_dict(recall={"effect": "recall", "stages": ["at_risk", "dormant"], "reach": 0.5,
                         "success": 0.4, "reward_on_success": 8.0, "cost_per_contact": 0.5})
    )
    item = "lifecycle_ops:recall"
    contacts = model.ledger.events[(item, "contacts")].sum()
    wins = model.ledger.events[(item, "successes")].sum()
    assert wins > 0
    assert model.ledger.spend[item].sum() == pytest.approx(contacts * 0.5 + wins * 8.0)
    plain = run_model(ops_dict())
    assert model.summary()["churned"] < plain.summary()["churned"]


def test_nurture_and_convert_prospects() -> None:
    model = run_model(
        ops_dict(nurture={"effect": "nurture", "stages": ["unaware", "aware"], "reach": 0.05,
                          "success": 0.5},
                 first_order={"effect": "convert", "stages": ["engaged"], "reach": 0.1,
                              "success": 0.2, "reward_on_success": 10})
    )
    src = model.population.sources.index("lifecycle_operations")
    won = (model.population.acquired_via == src).sum()
    assert won == model.ledger.events[("lifecycle_ops:first_order", "successes")].sum() > 0


@settings(max_examples=15, deadline=None)
@given(budget=st.floats(0, 400), reward=st.floats(0, 20), seed=st.integers(0, 100))
def test_spend_never_exceeds_budget(budget: float, reward: float, seed: int) -> None:
    model = run_model(
        ops_dict(days=20, recall={"effect": "recall", "stages": ["at_risk", "dormant"],
                                  "reach": 0.5, "success": 0.5, "cost_per_contact": 1.0,
                                  "reward_on_success": reward, "budget": budget}),
        seed,
    )
    assert model.ledger.spend["lifecycle_ops:recall"].sum() <= budget + 1e-9


@pytest.mark.parametrize(
    ("op", "match"),
    [
        ({"effect": "recall", "stages": ["active"]}, r"stages\.0: effect 'recall' cannot act"),
        ({"effect": "ring_inward", "rings": ["inner"]}, "inner ring cannot move"),
        ({"effect": "nurture", "stages": ["aware"], "rings": ["outer"]}, "rings only apply"),
        ({"effect": "recall", "stages": ["dormant"], "reach": {"elderly": 0.1}},
         "unknown segment"),
        ({"effect": "promote"}, "effect"),
    ],
)
def test_bad_operations_name_the_field(op: dict, match: str) -> None:
    with pytest.raises(ScenarioError, match=match):
        scenario_from_dict(ops_dict(bad=op))


def test_recalled_customers_are_active() -> None:
    model = OperatingMatrixModel(
        scenario_from_dict(
            ops_dict(recall={"effect": "recall", "stages": ["dormant"], "reach": 1.0,
                             "success": 1.0})
        ),
        1,
    )
    pop = model.population
    dormant = np.flatnonzero(pop.stage == Stage.ACTIVE)[:50]
    pop.stage[dormant] = Stage.DORMANT
    model.step()
    # The core lifecycle runs first and churns a few dormant ones; every other one is back.
    kept = pop.stage[dormant] != Stage.CHURNED
    assert kept.sum() > 40
    assert (pop.stage[dormant[kept]] == Stage.ACTIVE).all()
