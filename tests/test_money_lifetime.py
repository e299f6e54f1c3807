"""Customer lifetime value beyond the horizon (simulation/money/lifetime.py) against analytic
cases: constant hazard h, margin m and discount r give CLV = m ÷ (r + h); the hazard estimator
recovers an exponential churn rate; the loan run-off annuity is its integral; the payback is
the closed form of a constant flow; and a run whose customers never lapse is valued at
margin ÷ r exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad

from simulation import ScenarioError, scenario_from_dict
from simulation.model import OperatingMatrixModel
from simulation.money import lifetime
from simulation.population.stages import Stage
from tests.conftest import small_scenario_dict


def test_constant_hazard_margin_and_discount_give_m_over_r_plus_h() -> None:
    m, i, h = 1200.0, 0.10, 0.25
    r = lifetime.continuous_rate(i)
    clv = lifetime.perpetuity_with_hazard(m, r, h)
    numeric, _ = quad(lambda t: m * math.exp(-(r + h) * t), 0, np.inf)
    assert clv == pytest.approx(numeric, rel=1e-9)
    # the discrete equivalent (Gupta & Lehmann 2003): yearly margin at each year's end while
    # retained with probability rho = e^(−h) a year, discounted at (1 + i): m·rho ÷ (1 + i − rho)
    rho = math.exp(-h)
    discrete = sum(m * rho**k / (1 + i) ** k for k in range(1, 2000))
    assert discrete == pytest.approx(m * rho / (1 + i - rho), rel=1e-9)
    # a continuous flow of the same m a year is worth between the end- and start-of-year sums
    assert m * rho / (1 + i - rho) < clv < m * rho / (1 + i - rho) * (1 + i) / rho


class _Path:
    """The lifecycle's follow-on hazards (strategies/lifecycle.py LifecycleConfig fields)."""

    def __init__(self, b: float, rho: float, c: float, delta: float) -> None:
        self.at_risk_to_dormant, self.at_risk_recovery = b, rho
        self.dormant_to_churned, self.dormant_recovery = c, delta


def test_a_lapse_that_churns_the_same_day_is_the_constant_hazard_formula() -> None:
    """With at risk → dormant → churned all on the lapse day (hazards 1, no recovery) the path
    is one constant daily hazard a: the discounted stay is the discrete margin multiple
    ρ ÷ (1 + i_d − ρ) of Gupta & Lehmann with ρ = 1 − a and the daily rate i_d, ≈ 365 ÷ (r + h)
    days."""
    i = 0.10
    a = np.array([0.001, 0.0005, 0.002])
    days = lifetime.discounted_alive_days(a, np.zeros(3, dtype=np.int64), _Path(1, 0, 1, 0), i)
    i_d = (1 + i) ** (1 / 365) - 1
    rho = 1 - a
    assert days == pytest.approx(rho / (1 + i_d - rho), rel=1e-9)
    h = -np.log1p(-a) * 365
    assert days / 365 == pytest.approx(1 / (math.log1p(i) + h), rel=2e-3)


def test_the_lapse_path_with_recoveries_is_the_sum_of_its_daily_steps() -> None:
    """A general path (slow dormancy, recoveries): the closed form equals Σ_t β^t P(alive at
    t) summed over 40 years of daily matrix steps, from each starting stage."""
    path = _Path(0.05, 0.02, 0.02, 0.005)
    i, a = 0.10, 0.002
    beta = (1 + i) ** (-1 / 365)
    q = lifetime.daily_chain(np.array([a]), path)[0]
    state = np.eye(3)
    total = np.zeros(3)
    for step in range(365 * 40):
        state = state @ q
        beta_t = beta ** (step + 1)
        total += beta_t * state.sum(axis=1)
    for start in range(3):
        got = lifetime.discounted_alive_days(np.array([a]), np.array([start]), path, i)[0]
        assert got == pytest.approx(total[start], rel=1e-6)
    assert total[0] > total[1] > total[2]  # an at-risk or dormant customer stays less


def test_runoff_annuity_is_the_integral_of_a_linearly_amortising_principal() -> None:
    a = 0.3
    for years in (0.25, 1.0, 4.0):
        numeric, _ = quad(lambda t, R=years: (1 - t / R) * math.exp(-a * t), 0, years)
        assert lifetime.runoff_annuity(np.array([years]), a)[0] == pytest.approx(numeric,
                                                                                 rel=1e-9)
    assert lifetime.runoff_annuity(np.array([0.0]), a)[0] == 0.0


def test_payback_of_a_constant_decaying_flow_has_its_closed_form() -> None:
    # S owed at the horizon, a margin M a year decaying at a: M (1 − e^(−a t)) ÷ a = S
    s, m, a = 500.0, 300.0, 0.2
    years = lifetime.payback_years_beyond(-s, [(m, a)])
    assert years == pytest.approx(-math.log(1 - s * a / m) / a, rel=1e-9)
    assert lifetime.payback_years_beyond(-s, [(m, 0.7)]) is None  # M ÷ a < S: never
    assert lifetime.payback_years_beyond(-s, [(m, a), (-m, a)]) is None


def _never_lapsing(days: int = 120) -> dict:
    data = small_scenario_dict(days=days)
    for seg in data["population"]["segments"].values():
        seg["churn_hazard"] = 0.0
        seg["monthly_value"] = {"median": 30.0, "sigma": 0.0}
        seg["initial"] = {"converted": 0.5}
    data["channels"]["ads"]["daily_reach"] = 0.0
    data["channels"]["wecom"]["daily_reach"] = 0.0
    data["word_of_mouth"] = {"imitation": 0.0}
    return data


def test_customers_who_never_lapse_are_worth_their_margin_over_the_discount_rate() -> None:
    """Stock customers earning a flat ¥30 a month who never lapse: the margin a year at the
    horizon is 30 × 365 ÷ 30.44 each, the churn hazard 0, and the CLV the margin's perpetuity
    at the daily discount rate (≈ margin ÷ ln 1.1)."""
    from simulation.money.kpis import money_kpis
    from simulation.scenario.types import DAYS_PER_MONTH

    model = OperatingMatrixModel(scenario_from_dict(_never_lapsing()), 4)
    model.run()
    k = money_kpis(model)
    customers = int((model.population.converted_day >= 0).sum())
    margin = customers * 30.0 / DAYS_PER_MONTH * 365.0
    assert k["margin_rate_end"] == pytest.approx(margin, rel=1e-6)
    assert k["churn_hazard_end"] == pytest.approx(0.0, abs=1e-9)
    i_d = 1.1 ** (1 / 365) - 1  # Σ_{t≥1} β^t = 1 ÷ i_d days ≈ 365 ÷ ln 1.1
    assert k["clv_beyond"] == pytest.approx(margin / 365 / i_d, rel=1e-6)
    assert k["clv_beyond_acquired"] == 0.0  # nobody was acquired


def test_lifetime_figures_are_kept_for_the_alive_customers_only() -> None:
    """The per-customer lifetime figures cover the customers alive at the horizon (won, not
    churned) and nobody else — a population-length array per figure cost ~100 bytes a
    customer at result time — and the segments' figures add up to the whole."""
    data = small_scenario_dict(days=150)
    for seg in data["population"]["segments"].values():
        seg["churn_hazard"] = 0.02  # some customers churn before the horizon
    model = OperatingMatrixModel(scenario_from_dict(data), 6)
    model.run()
    pop = model.population
    arr = lifetime.lifetime_arrays(model)
    alive = np.flatnonzero((pop.converted_day >= 0) & (pop.stage != Stage.CHURNED))
    assert 0 < alive.size < pop.n and (pop.stage == Stage.CHURNED).any()
    assert np.array_equal(arr["idx"], alive)
    assert {v.size for v in arr.values()} == {alive.size}
    whole = lifetime.lifetime_kpis(model)
    parts = [lifetime.lifetime_kpis(model, s) for s in range(len(pop.segment_names))]
    for key in ("margin_rate_end", "clv_beyond", "clv_beyond_acquired"):
        assert sum(p[key] for p in parts) == pytest.approx(whole[key], rel=1e-9)


def test_lifetime_value_is_incremental_over_the_same_seed_counterfactual() -> None:
    """A run with its counterfactual: the incremental CLV is the two worlds' difference, the
    lifetime ROI adds it (discounted to day 0) to the in-horizon incremental value, and the
    in-horizon ROI is still reported beside it."""
    from simulation.api import run

    data = small_scenario_dict(days=90)
    summary = run(scenario_from_dict(data), seed=2).summary
    inc_clv = summary["incremental_clv"]
    assert inc_clv == pytest.approx(summary["clv_beyond"] - summary["counterfactual"]["clv_beyond"])
    discount = 1.1 ** (-90 / 365)
    lifetime_value = summary["incremental_value"] + discount * inc_clv
    assert summary["incremental_lifetime_value"] == pytest.approx(lifetime_value, rel=1e-12)
    spend = summary["incremental_spend"]
    assert summary["incremental_lifetime_roi"] == pytest.approx((lifetime_value - spend) / spend)
    assert summary["incremental_roi"] < summary["incremental_lifetime_roi"]
    assert inc_clv > 0  # the levers end the run with more customers than the counterfactual
    payback = summary["incremental_payback_days"]
    if summary["incremental_value"] < spend:  # not paid back inside the horizon
        assert payback is None or payback > 90
    else:
        assert payback is not None and payback <= 90


@pytest.mark.parametrize(("value", "match"), [(0.0, "discount_rate"), (1.5, "discount_rate")])
def test_bad_discount_rate_names_the_field(value: float, match: str) -> None:
    data = small_scenario_dict()
    data["money"] = {"lifetime": {"discount_rate": value}}
    with pytest.raises(ScenarioError, match=f"money.lifetime.{match}"):
        scenario_from_dict(data)


def test_elderly_operations_pay_back_over_the_customers_lifetime() -> None:
    """social_security_elderly ([001]: loyal, conservative, branch first): against its
    counterfactual on the same seed the preset loses money within its 180 days and pays back
    within two years once its customers are valued beyond the horizon — the elderly barely
    lapse, so a customer is worth ≈ 7 years of margin (no mortality in the model: an upper
    bound). 3,000 rows × ``population.scale`` 6.67 stand for the preset's 20,000 (default size,
    seed 0: −65 % → +1,029 %, payback 319 days)."""
    from tests.claims import kpis

    for seed in (0, 1):
        k = kpis("social_security_elderly", "population.scale=6.6667", size=3000, days=180,
                 seed=seed)
        assert k["incremental_roi"] < -0.3
        assert k["incremental_lifetime_roi"] > 2.0
        assert 180 < k["incremental_payback_days"] < 2 * 365
