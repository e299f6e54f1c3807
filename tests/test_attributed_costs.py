"""Attributed CPA charges paid acquisitions only with their own products' costs.

The money layer books product costs (card issuance and upkeep, loan origination) for every
customer won during the run, the free ones (word of mouth, private-domain nurture) included.
Those are borne with or without any paid lever, so ``attributed_cpa`` leaves the free
customers' share out of its numerator (simulation/incremental.py ``attributed_kpis``); the
all-in ``spend`` and CPA keep it. Checked on small runs against a split computed by hand from
each customer's ``acquired_via``.
"""

from __future__ import annotations

import math

import numpy as np

from simulation import OperatingMatrixModel, scenario_from_dict
from simulation.accounting import FREE_SOURCES
from simulation.incremental import attributed_kpis
from simulation.population.stages import Stage
from simulation.result import collect_result
from tests.test_money import CARD, LOAN, money_dict

PRODUCT_ITEMS = ("card_issuance", "card_maintenance", "loan_origination")


def _scenario(days: int, **channel_changes: float) -> dict:
    data = money_dict(days=days)
    data["money"]["segments"]["credit_card"]["card"] = {
        **CARD, "issuance_cost": 32.0, "maintenance_per_year": 20.0,
    }
    data["money"]["segments"]["payroll"]["loan"] = {**LOAN, "origination_cost": 5.0}
    data["population"]["scale"] = 3  # a row stands for 3 customers: costs are represented
    for name, reach in channel_changes.items():
        data["channels"][name]["daily_reach"] = reach
    return data


def _free_mask(model: OperatingMatrixModel) -> np.ndarray:
    pop = model.population
    codes = [pop.source_code(s) for s in FREE_SOURCES if s in pop.sources]
    return np.isin(pop.acquired_via, codes)


def test_a_run_with_only_free_acquisitions_has_product_costs_but_no_attributed_spend() -> None:
    """No channel reaches anyone: every customer won comes through word of mouth or nurture,
    the products still cost the bank (all-in spend > 0), and the attributed spend is 0."""
    model = OperatingMatrixModel(scenario_from_dict(_scenario(60, ads=0.0, wecom=0.0)), seed=3)
    model.run()
    summary = collect_result(model).summary
    free = sum(summary["acquisitions_by_source"].get(s, 0) for s in FREE_SOURCES)
    assert summary["acquisitions"] > 0 and free == summary["acquisitions"]
    assert summary["spend"] > 0
    assert set(k for k, v in summary["spend_by_item"].items() if v) <= set(PRODUCT_ITEMS)
    assert math.isclose(summary["free_product_spend"], summary["spend"], rel_tol=1e-12)
    att = attributed_kpis(summary)
    assert att["attributed_acquisitions"] == 0
    assert abs(att["attributed_spend"]) < 1e-6 * summary["spend"]
    assert att["attributed_cpa"] is None
    assert summary["cost_per_acquisition"] > 0  # the all-in CPA still carries them


def test_product_costs_split_by_how_the_customer_was_won() -> None:
    """With paid and free acquisitions side by side, the free customers' issuance (¥32 a card),
    upkeep (¥20 a card-year while the customer stays) and origination (¥5 a loan drawn),
    summed by hand day by day in represented customers, is exactly ``free_product_spend``;
    the attributed spend is the levers' spend plus the paid customers' product costs, and
    the all-in spend is unchanged."""
    model = OperatingMatrixModel(scenario_from_dict(_scenario(60)), seed=3)
    pop = model.population
    card_seg = pop.segment_names.index("credit_card")
    loan_seg = pop.segment_names.index("payroll")
    upkeep_free = 0.0
    for _ in range(60):
        model.step()
        free = _free_mask(model)
        kept = (pop.converted_day >= 1) & (pop.segment == card_seg) & (pop.stage != Stage.CHURNED)
        upkeep_free += 20.0 / 365.0 * float(pop.weight[kept & free].sum())
    summary = collect_result(model).summary
    free = _free_mask(model)
    won = pop.converted_day >= 1
    cards_free = float(pop.weight[won & free & (pop.segment == card_seg)].sum())
    book = model.money.books[loan_seg]
    m = book.m
    drew = np.zeros(pop.n, dtype=bool)
    drew[book.idx[:m][book.loan_amount[:m] > 0]] = True
    loans_free = float(pop.weight[won & free & drew].sum())
    expected = 32.0 * cards_free + upkeep_free + 5.0 * loans_free
    assert cards_free > 0 and loans_free > 0 and upkeep_free > 0
    assert math.isclose(summary["free_product_spend"], expected, rel_tol=1e-9)
    att = attributed_kpis(summary)
    assert att["attributed_acquisitions"] > 0
    by_item = summary["spend_by_item"]
    levers = sum(v for k, v in by_item.items() if k not in PRODUCT_ITEMS)
    products = sum(by_item.get(k, 0.0) for k in PRODUCT_ITEMS)
    assert levers > 0 and products > expected  # paid customers carry product costs too
    assert math.isclose(att["attributed_spend"], levers + products - expected, rel_tol=1e-12)
    assert math.isclose(summary["spend"], levers + products, rel_tol=1e-12)
    assert math.isclose(
        att["attributed_cpa"], att["attributed_spend"] / att["attributed_acquisitions"]
    )
    # the per-segment summaries split it too, and add up
    seg_sum = sum(s["free_product_spend"] for s in summary["segments"].values())
    assert math.isclose(seg_sum, summary["free_product_spend"], rel_tol=1e-12)


def test_cost_per_card_over_its_life_adds_the_discounted_upkeep_still_to_come() -> None:
    """Card holders who never lapse (churn hazard 0): each won card still held at the horizon T
    costs ¥20 a year for ever after it, worth 20 × Σ_{t≥1} β^t ÷ 365 = 20 ÷ (365 i_d) at T with
    the daily rate i_d = 1.1^(1/365) − 1, and (1.1)^(−T/365) of that at day 0 (the discount
    of lifetime_roi). So ``lifetime_cost_per_acquisition`` = (spend + that × cards) ÷
    acquisitions exactly, and its attributed version adds only the paid cards' part."""
    data = _scenario(60)
    data["population"]["segments"]["credit_card"]["churn_hazard"] = 0.0
    model = OperatingMatrixModel(scenario_from_dict(data), seed=3)
    model.run()
    summary = collect_result(model).summary
    pop = model.population
    card_seg = pop.segment_names.index("credit_card")
    won_cards = (pop.converted_day >= 1) & (pop.segment == card_seg)
    assert (pop.stage[won_cards] != Stage.CHURNED).all()
    free = _free_mask(model)
    assert model.scenario.money.lifetime.discount_rate == 0.10
    i_d = 1.1 ** (1 / 365) - 1
    per_card = 1.1 ** (-60 / 365) * 20.0 / (365.0 * i_d)
    cards = float(pop.weight[won_cards].sum())
    cards_free = float(pop.weight[won_cards & free].sum())
    assert 0 < cards_free < cards
    assert math.isclose(summary["card_upkeep_beyond"], per_card * cards, rel_tol=1e-9)
    assert math.isclose(summary["card_upkeep_beyond_free"], per_card * cards_free, rel_tol=1e-9)
    assert math.isclose(
        summary["lifetime_cost_per_acquisition"],
        (summary["spend"] + per_card * cards) / summary["acquisitions"], rel_tol=1e-9,
    )
    att = attributed_kpis(summary)
    assert math.isclose(
        att["attributed_lifetime_cost_per_acquisition"],
        (att["attributed_spend"] + per_card * (cards - cards_free))
        / att["attributed_acquisitions"], rel_tol=1e-9,
    )
    seg = summary["segments"]["credit_card"]
    assert math.isclose(seg["card_upkeep_beyond"], summary["card_upkeep_beyond"], rel_tol=1e-12)
    assert summary["segments"]["payroll"]["card_upkeep_beyond"] == 0.0


def test_incremental_cost_over_the_cards_life_nets_out_the_counterfactuals_cards() -> None:
    """The counterfactual's own (free) cards cost upkeep after the horizon too, so the
    incremental figure adds only the difference: (¥5,000 − ¥0 + ¥900 − ¥300) ÷ (100 − 40)."""
    from simulation.incremental import incremental_kpis

    base = {"value_total": 0.0, "aum": 0.0}
    factual = {**base, "acquisitions": 100, "spend": 5000.0, "card_upkeep_beyond": 900.0}
    counterfactual = {**base, "acquisitions": 40, "spend": 0.0, "card_upkeep_beyond": 300.0}
    k = incremental_kpis(factual, counterfactual)
    assert k["incremental_lifetime_cost_per_acquisition"] == (5000.0 + 600.0) / 60
    assert k["incremental_cpa"] == 5000.0 / 60
    no_gain = incremental_kpis(factual, {**counterfactual, "acquisitions": 100})
    assert no_gain["incremental_lifetime_cost_per_acquisition"] is None
