"""The per-card costs of a card product (money.segments.<s>.card): issuance once per card won
and maintenance for every day a won card's customer stays, so a card preset's CPA counts
every part of the cited ≥ 100 yuan per card (制作、邮寄、营销和管理维护, docs/sources.md §2.5)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulation import OperatingMatrixModel, ScenarioError, scenario_from_dict
from simulation.population.stages import Stage
from tests.conftest import REPO, run_cli
from tests.test_money import CARD, money_dict


def test_maintenance_is_booked_for_every_day_a_won_card_is_kept() -> None:
    """``maintenance_per_year`` ÷ 365 a day for each card of a customer won during the run
    (adoption 1: every won card holder) from the day it is won until the customer churns —
    exactly, day by day, in represented customers; the stock's cards are not charged, and
    issuance stays once per card won."""
    data = money_dict(days=60)
    card = {**CARD, "issuance_cost": 32.0, "maintenance_per_year": 20.0}
    data["money"]["segments"]["credit_card"]["card"] = card
    data["population"]["scale"] = 3  # a row stands for 3 customers
    model = OperatingMatrixModel(scenario_from_dict(data), seed=3)
    pop = model.population
    seg = pop.segment_names.index("credit_card")
    expected = []
    for _ in range(60):
        model.step()
        won = (pop.converted_day >= 1) & (pop.segment == seg)
        kept = won & (pop.stage != Stage.CHURNED)
        expected.append(20.0 / 365.0 * float(pop.weight[kept].sum()))
    booked = model.ledger.spend["card_maintenance"].sum(axis=1)[1:]
    assert np.allclose(booked, expected, rtol=1e-12)
    won = (pop.converted_day >= 1) & (pop.segment == seg)
    assert won.sum() > 0 and (pop.stage[won] == Stage.CHURNED).any()  # churn stops the upkeep
    issued = float(model.ledger.spend["card_issuance"].sum())
    assert math.isclose(issued, 32.0 * float(pop.weight[won].sum()), rel_tol=1e-12)


def test_bad_card_costs_are_load_errors_with_their_path() -> None:
    """A negative or non-numeric maintenance cost is refused naming its field, in a scenario
    dict and on the command line (exit 2, no traceback)."""
    data = money_dict()
    data["money"]["segments"]["credit_card"]["card"] = {**CARD, "maintenance_per_year": -5}
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(data)
    assert "money.segments.credit_card.card.maintenance_per_year" in str(err.value)
    code, _out, err_text = run_cli(
        "validate", str(REPO / "scenarios" / "cgb_pilot.yaml"),
        "--set", "money.segments.card_holder.card.maintenance_per_year=lots",
    )
    assert code == 2
    assert "money.segments.card_holder.card.maintenance_per_year" in err_text
    assert "Traceback" not in err_text


def test_lifetime_margin_is_net_of_the_upkeep_of_the_cards_that_stay() -> None:
    """Beyond the horizon a won card's upkeep goes on while its customer stays, so the margin a
    year the lifetime KPIs keep (simulation/money/lifetime.py) is lower by exactly
    ``maintenance_per_year`` × weight for every won card whose customer is alive, and the
    same elsewhere (upkeep moves no draw: the two runs are the same customers)."""
    from simulation.money.lifetime import lifetime_arrays

    def margins(upkeep: float) -> tuple[np.ndarray, np.ndarray, OperatingMatrixModel]:
        data = money_dict(days=60)
        card = {**CARD, "maintenance_per_year": upkeep}
        data["money"]["segments"]["credit_card"]["card"] = card
        model = OperatingMatrixModel(scenario_from_dict(data), seed=3)
        model.run()
        arr = lifetime_arrays(model)  # the alive rows only (``idx``)
        return arr["margin"].copy(), arr["idx"].copy(), model

    with_upkeep, idx, model = margins(20.0)
    without, idx_without, _ = margins(0.0)
    assert np.array_equal(idx, idx_without)
    pop = model.population
    won = (pop.converted_day >= 1) & (pop.segment == pop.segment_names.index("credit_card"))
    kept = won & (pop.stage != Stage.CHURNED)
    assert kept.any()
    expected = np.where(kept, 20.0 * pop.weight, 0.0)[idx]
    assert np.allclose(without - with_upkeep, expected)
