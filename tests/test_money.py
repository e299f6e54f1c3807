"""The money layer: balances, payroll asset retention, cards, loans and their ledger flows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulation import OperatingMatrixModel, ScenarioError, scenario_from_dict
from simulation.money.kpis import money_kpis
from simulation.money.layer import MONTH_DAYS
from simulation.population.stages import Ring
from simulation.result import collect_result
from tests.conftest import small_scenario_dict

PAYROLL = {
    "salary": {"median": 10000.0},
    "payday": 5,
    "savings_share": 0.1,
    "outflow_after_payday": 0.5,
    "outflow_days": 3.0,
    "spend_per_day": 0.02,
}
CARD = {
    "adoption": 1.0,
    "activation": 0.6,
    "monthly_spend": {"median": 3000.0, "sigma": 0.5},
    "interchange": 0.0045,
    "revolving_share": 0.4,
    "interest_rate": 0.1825,
    "funding_cost": 0.02,
    "charge_off": 0.03,
}
LOAN = {
    "adoption": 1.0,
    "amount": {"median": 50000.0, "sigma": 0.5},
    "term_months": 12,
    "interest_rate": 0.08,
    "funding_cost": 0.02,
    "pd": 0.3,
    "lgd": 0.45,
}


def money_dict(**changes) -> dict:
    data = small_scenario_dict(**{"days": 120, **changes})
    data["money"] = {
        "segments": {
            "credit_card": {"card": CARD, "deposits": {"balance": {"median": 5000.0},
                                                     "net_interest_margin": 0.015}},
            "payroll": {"payroll": PAYROLL, "loan": LOAN},
        },
        "ring_multiplier": {"outer": 0.5, "middle": 1.0, "inner": 2.0},
        "outflow": {"at_risk": 0.01, "dormant": 0.03, "at_risk_spend": 0.5},
    }
    return data


@pytest.fixture(scope="module")
def finished() -> OperatingMatrixModel:
    model = OperatingMatrixModel(scenario_from_dict(money_dict()), seed=3)
    model.run()
    return model


def test_value_goes_through_the_ledger(finished: OperatingMatrixModel) -> None:
    """Every yuan a customer earned is a ledger value item, and segments add up to the total."""
    ledger = finished.ledger
    total = ledger.total_revenue()
    assert total == pytest.approx(float(finished.population.value_accrued.sum()), rel=1e-9)
    assert total == pytest.approx(float(finished.recorder.value.sum()), rel=1e-9)
    by_seg = sum(ledger.total_revenue(s) for s in range(2))
    assert by_seg == pytest.approx(total, rel=1e-12)
    k = money_kpis(finished)
    assert k["value_total"] == pytest.approx(total)
    assert k["gmv"] > 0 and k["loan_volume"] > 0 and k["aum"] > 0
    # interchange is 0.45 % of card spend, exactly
    inter = float(ledger.revenue["card_interchange"].sum())
    assert inter == pytest.approx(0.0045 * k["gmv"], rel=1e-9)
    assert k["risk_adjusted_margin"] == pytest.approx(
        k["value_total"] + k["credit_losses"] - k["expected_loss"]
    )


def test_loan_volume_is_what_acquired_customers_drew(finished: OperatingMatrixModel) -> None:
    pop = finished.population
    book = finished.money.books[1]
    acquired = book.acquired[: book.m]
    assert money_kpis(finished)["loan_volume"] == pytest.approx(
        float(book.loan_amount[: book.m][acquired].sum())
    )
    won = np.flatnonzero((pop.segment == 1) & (pop.converted_day >= 0))
    assert set(book.idx[: book.m]) == set(won)


def test_expected_loss_matches_realised_defaults_on_average() -> None:
    """Drawn defaults (each customer's time to default) agree with the expected-loss flow."""
    data = money_dict(days=360)
    data["population"]["segments"]["payroll"]["initial"] = {"converted": 1.0}
    data["population"]["segments"]["payroll"]["churn_hazard"] = 0.0
    data["population"]["size"] = 4000
    model = OperatingMatrixModel(scenario_from_dict(data), seed=1)
    model.run()
    k = money_kpis(model, segment=1)
    assert k["credit_losses"] == pytest.approx(k["expected_loss"], rel=0.1)


def test_asset_retention_is_the_payday_tranche_left() -> None:
    """No churn: a payday's inflow left after 30 days = savings share + pool share × the pool's
    30-day survival (the post-payday outflow and daily spending)."""
    data = money_dict(days=150)
    seg = data["population"]["segments"]["payroll"]
    seg["initial"] = {"converted": 1.0}
    seg["churn_hazard"] = 0.0
    model = OperatingMatrixModel(scenario_from_dict(data), seed=2)
    model.run()
    book = model.money.books[1]
    survival30 = math.prod(book.pool_keep(d) for d in range(5, 5 + 30))
    expected30 = 0.1 + 0.9 * survival30
    assert model.money.asset_retention(30, 1) == pytest.approx(expected30, rel=1e-9)
    survival90 = math.prod(book.pool_keep(d) for d in range(5, 5 + 90))
    assert model.money.asset_retention(90, 1) == pytest.approx(0.1 + 0.9 * survival90, rel=1e-9)
    # most of a salary leaves within days of payday [001]
    assert book.pool_keep(5 + MONTH_DAYS + 1) < 0.9 < book.pool_keep(5 + 20)


def test_inner_ring_keeps_more_money(finished: OperatingMatrixModel) -> None:
    book = finished.money.books[0]
    idx = book.idx[: book.m]
    ring = finished.population.ring[idx]
    sav = book.savings[: book.m] / np.maximum(book.target[: book.m], 1e-9)
    inner, outer = sav[ring == Ring.INNER], sav[ring == Ring.OUTER]
    if inner.size and outer.size:
        assert inner.mean() > outer.mean()
    # inner-ring card holders spend more: GMV by ring is in the multiplier's order
    assert finished.money.cfg.ring_multiplier.inner > finished.money.cfg.ring_multiplier.outer


def test_collect_result_and_daily_columns(finished: OperatingMatrixModel) -> None:
    result = collect_result(finished)
    s = result.summary
    for key in ("aum", "asset_retention_30d", "loan_volume", "expected_loss", "gmv"):
        assert key in s and key in s["segments"]["payroll"]
    last = result.daily[result.daily["day"] == finished.day]
    assert last["aum"].sum() == pytest.approx(s["aum"])
    assert result.ledger["value"].sum() == pytest.approx(s["value_total"])


def test_unknown_money_segment_is_a_clear_error() -> None:
    data = money_dict()
    data["money"]["segments"]["pensioners"] = {"card": CARD}
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(data)
    assert "money.segments.pensioners" in str(err.value)
    assert "unknown segment" in str(err.value)


def test_no_money_section_keeps_the_flat_value() -> None:
    model = OperatingMatrixModel(scenario_from_dict(small_scenario_dict(days=30)), seed=1)
    model.run()
    k = money_kpis(model)
    assert k["aum"] == 0 and k["loan_volume"] == 0
    assert k["value_total"] == pytest.approx(float(model.population.value_accrued.sum()))


def test_money_figure_and_report_tables(finished: OperatingMatrixModel) -> None:
    from simulation.incremental import add_incrementality
    from simulation.plots.run_plots import FigureUnavailable, money_over_time
    from simulation.report.run_report import _attributed_vs_incremental

    result = collect_result(finished)
    fig = money_over_time(result)
    assert fig.axes and "Money" in fig.texts[0].get_text()
    import matplotlib.pyplot as plt

    plt.close(fig)  # never saved: nothing else closes it (pyplot warns after 20 open figures)
    model = OperatingMatrixModel(scenario_from_dict(small_scenario_dict(days=20)), seed=1,
                                 share_world=True)
    model.run()
    plain = collect_result(model)
    with pytest.raises(FigureUnavailable):
        money_over_time(plain)
    add_incrementality(plain.summary, model.scenario, 1, model.world)
    table = _attributed_vs_incremental(plain.summary)
    assert table is not None and "last touch" in table.note
    assert table.columns == ["", "attributed (last touch)", "incremental", "all"]


def _run(data: dict, seed: int = 3) -> OperatingMatrixModel:
    model = OperatingMatrixModel(scenario_from_dict(data), seed=seed)
    model.run()
    return model


def test_money_is_in_represented_customers_exactly() -> None:
    """A row of weight 10 holds ten customers' money: with ``population.scale: 10`` (and no
    capacity or budget that binds) the same seed gives the same run, and every money KPI,
    ledger value item and the spend are exactly ×10, while per-customer value, LTV and asset
    retention are unchanged (docs/kpis.md, "Money and budgets on represented customers")."""
    one = _run(money_dict(days=90))
    data = money_dict(days=90)
    data["population"]["scale"] = 10.0
    ten = _run(data)
    assert np.array_equal(one.population.converted_day, ten.population.converted_day)
    a, b = collect_result(one).summary, collect_result(ten).summary
    for key in ("acquisitions", "spend", "value_total", "value_acquired", "aum", "aum_acquired",
                "payroll_inflow", "loan_volume", "loans_outstanding", "expected_loss",
                "credit_losses", "gmv"):
        assert b[key] == pytest.approx(10 * a[key], rel=1e-9), key
    for key in ("ltv", "asset_retention_30d", "roi"):
        assert b[key] == pytest.approx(a[key], rel=1e-9), key
    assert np.allclose(one.population.value_accrued, ten.population.value_accrued, rtol=1e-9)
    # the ledger's value is Σ per-customer value × weight
    assert ten.ledger.total_revenue() == pytest.approx(
        float((ten.population.value_accrued * ten.population.weight).sum()), rel=1e-9
    )


def test_a_budget_in_real_yuan_binds_the_same_on_a_weighted_sample() -> None:
    """Spend is in represented customers, so a budget written for the real population binds
    on a 1:10 sample at the same real yuan: scale 10 with budget B spends B (like scale 1
    with B/10 spends B/10), and acquires ≈ 10× as many customers as that run."""
    data = money_dict(days=60)
    data["channels"]["ads"]["daily_reach"] = 0.2
    data["flows"] = {"budget": 300.0}
    one = collect_result(_run(data)).summary
    data["population"]["scale"] = 10.0
    data["flows"] = {"budget": 3000.0}
    ten = collect_result(_run(data)).summary
    assert one["spend"] == pytest.approx(300.0, rel=0.01)
    assert ten["spend"] == pytest.approx(3000.0, rel=0.01)
    assert ten["budgets"]["flows"]["binding"] and one["budgets"]["flows"]["binding"]
    assert ten["acquisitions"] == pytest.approx(10 * one["acquisitions"], rel=0.1)


def test_referral_value_uplift_reaches_product_value() -> None:
    """Referral's declared value multiplier (``referral_value_multiplier``) uplifts what money
    earns: same seed with and without the uplift → the same customers, balances and spend, more
    value, all of it on referred customers (everyone else's value is unchanged)."""
    data = money_dict(days=90)
    data["population"]["segments"]["credit_card"]["referral_propensity"] = {"mean": 0.5, "sd": 0.1}
    data["word_of_mouth"] = {"imitation": 0.0}
    data["referral"] = {"invite_rate": 0.05, "weak_tie_share": 0.0,
                        "referred": {"value_uplift": 0.5}}
    up = _run(data)
    data["referral"]["referred"]["value_uplift"] = 0.0
    flat = _run(data)
    assert np.array_equal(up.population.converted_day, flat.population.converted_day)
    ku, kf = money_kpis(up), money_kpis(flat)
    assert ku["aum"] == pytest.approx(kf["aum"], rel=1e-12)
    assert ku["gmv"] == pytest.approx(kf["gmv"], rel=1e-12)
    assert ku["credit_losses"] == pytest.approx(kf["credit_losses"], rel=1e-12)
    assert ku["value_total"] > kf["value_total"]
    pop = up.population
    referred = pop.acquired_via == pop.sources.index("referral")
    referred &= pop.converted_day >= 1
    assert referred.sum() >= 5
    gain = up.population.value_accrued - flat.population.value_accrued
    assert np.allclose(gain[~referred], 0.0, atol=1e-9)
    assert (gain[referred] > 0).mean() > 0.8
    # the ledger still holds every yuan of value (the uplift is booked, losses are not uplifted)
    assert up.ledger.total_revenue() == pytest.approx(float(pop.value_accrued.sum()), rel=1e-9)


def test_loan_origination_cost_is_booked_once_per_loan_drawn() -> None:
    """``loan.origination_cost`` books the lender's cost of making each loan a won customer
    draws (ledger item ``loan_origination``, spend): adoption 1 makes it one loan per
    acquisition; a negative cost is refused with the field's path."""
    data = money_dict()
    data["money"]["segments"]["payroll"]["loan"] = {**LOAN, "origination_cost": 2.3}
    model = OperatingMatrixModel(scenario_from_dict(data), seed=3)
    model.run()
    pop = model.population
    won = (pop.converted_day >= 1) & (pop.segment == pop.segment_names.index("payroll"))
    booked = float(model.ledger.spend["loan_origination"].sum())
    assert won.sum() > 0
    assert math.isclose(booked, 2.3 * float(pop.weight[won].sum()), rel_tol=1e-9)
    data["money"]["segments"]["payroll"]["loan"]["origination_cost"] = -1.0
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(data)
    assert "money.segments.payroll.loan.origination_cost" in str(err.value)
