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
