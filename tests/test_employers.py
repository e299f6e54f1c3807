"""Employers as entities for payroll (simulation/strategies/employers.py): size, pay stability,
asset retention per employer, and the bank's screen; paired seeds on
scenarios/validation/payroll_employers.yaml."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from simulation import OperatingMatrixModel, ScenarioError, load_scenario
from simulation.money.kpis import money_kpis
from simulation.scenario.load import read_yaml
from tests.conftest import REPO
from tests.lever_harness import LeverContract

SCENARIO = REPO / "scenarios" / "validation" / "payroll_employers.yaml"
OFF = ["incrementality.counterfactual=false"]


class TestEmployersContract(LeverContract):
    lever_name = "employers"

    def example(self) -> dict[str, Any]:
        data, _ = read_yaml(SCENARIO)
        return data


def _model(overrides: list[str], seed: int = 1, days: int | None = None) -> OperatingMatrixModel:
    extra = [] if days is None else [f"days={days}"]
    model = OperatingMatrixModel(load_scenario(SCENARIO, [*OFF, *overrides, *extra]), seed)
    model.run()
    return model


def _employers(model: OperatingMatrixModel):
    return next(m for m in model.modules if m.name == "employers")


def test_staff_belong_to_employers_of_unequal_size_and_the_screen_picks_some() -> None:
    model = _model([], days=1)
    emp = _employers(model)
    employer = model.read_state("employer")
    assert (employer >= 0).all()  # the only segment is the payroll segment
    assert emp.headcount.sum() == pytest.approx(model.population.n)
    assert emp.headcount.max() > 5 * np.median(emp.headcount)  # a few large employers
    screened = model.read_state("employer_screened")
    passes = emp.passes
    assert 0 < passes.sum() < passes.size
    assert np.array_equal(screened, passes[employer])
    assert (emp.headcount[passes] >= 100).all() and (emp.stability[passes] >= 0.85).all()


def test_enterprise_visits_reach_only_screened_employers_staff() -> None:
    model = _model([], days=30)
    pop = model.population
    won = np.flatnonzero(pop.acquired_via == pop.sources.index("enterprise_visit"))
    won = won[pop.converted_day[won] >= 1]
    assert won.size > 10
    assert model.read_state("employer_screened")[won].all()


def test_employers_that_miss_paydays_pay_in_less() -> None:
    """Pay stability: on the same seed, employers paying on 60 % of paydays bring ≈ 60 % of the
    salary inflow of employers that always pay (and no fewer customers)."""
    same_screen = ["employers.screen.min_pay_stability=0", "employers.pay_stability.sd=0.0"]
    steady = _model(["employers.pay_stability.mean=1.0", *same_screen])
    shaky = _model(["employers.pay_stability.mean=0.6", *same_screen])
    a, b = money_kpis(steady)["payroll_inflow"], money_kpis(shaky)["payroll_inflow"]
    assert 0.4 < b / a < 0.8
    assert np.array_equal(steady.population.converted_day, shaky.population.converted_day)


def test_asset_retention_differs_by_employer() -> None:
    """Staff of employers whose pay moves out faster (outflow multiplier > 1) hold less of it
    shortly after payday than staff of employers below 1; neutral employers (multiplier 1,
    always paying) give exactly the money of a run without employers."""
    model = _model([], days=14)  # payday on day 10
    book = model.money.books[0]
    m = book.m
    mult = book.out_mult[:m]
    held = book.pool[:m] / np.maximum(book.salary[:m], 1e-9)
    paid = book.salary[:m] > 0
    assert held[paid & (mult > 1.3)].mean() < held[paid & (mult < 0.77)].mean()
    neutral = _model(["employers.outflow_sigma=0", "employers.pay_stability.sd=0",
                      "employers.pay_stability.mean=1"], days=40)
    none = _model(["employers.segments={}", "channels.enterprise_visit.audience=everyone",
                   "channels.enterprise_visit.daily_reach=0"], days=40)
    neutral_k = money_kpis(neutral)
    none_k = money_kpis(none)
    # the visits differ (they need screened employers); compare the stock customers' money
    assert neutral_k["payroll_inflow"] >= none_k["payroll_inflow"]
    stock = neutral.money.books[0]
    stock0 = none.money.books[0]
    k = int((stock.acquired[: stock.m] == 0).sum())
    assert np.allclose(stock.pool[:k], stock0.pool[:k], rtol=1e-12)


def test_the_screen_s_retention_is_lower_than_the_rest() -> None:
    """The article's screen picks employers whose staff retain little (「资产留存率偏低」 [001]):
    their 30-day asset retention is below the other employers'."""
    model = _model([], days=60)
    book = model.money.books[0]
    m = book.m
    screened = model.read_state("employer_screened")[book.idx[:m]]
    mult = book.out_mult[:m]
    assert mult[screened].mean() > mult[~screened].mean()


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("employers.segments={pensioners: 3}", "employers.segments.pensioners"),
        ("employers.segments.staff=0.5", "employers.segments.staff"),
    ],
)
def test_bad_employers_are_clear_errors(override: str, needle: str) -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario(SCENARIO, [override])
    assert needle in str(err.value)
