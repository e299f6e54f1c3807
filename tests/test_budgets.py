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


def lever_budgets(budget: float) -> dict:
    """Perks, push and a lifecycle operation, each with its own budget of ``budget`` yuan."""
    data = small_scenario_dict(days=60)
    data["population"]["segments"]["credit_card"]["perk_appeal"] = {"voucher": 0.8}
    data["perks"] = {"budget": budget, "catalogue": {"voucher": {
        "offer_rate": 0.05, "claim_rate": 0.3, "face_value": 10.0, "redemption_rate": 0.4,
        "daily_stock": 15, "weekdays": ["friday", "saturday"], "convert_on_redeem": 0.1}}}
    data["push"] = {"daily_send_rate": {"credit_card": 0.9, "default": 0.5}, "per_week": 2,
                    "cost_per_push": 0.05, "budget": budget, "conversion_on_open": 0.05}
    data["lifecycle_operations"] = {"operations": {"recall": {
        "effect": "recall", "stages": ["at_risk", "dormant"], "reach": 0.2, "success": 0.3,
        "cost_per_contact": 1.0, "reward_on_success": 5.0, "budget": budget}}}
    data["incrementality"] = {"counterfactual": False}
    return data


LEVER_BUDGETS = ("perks.budget", "push.budget", "lifecycle_operations.operations.recall.budget")


def test_lever_budgets_that_cannot_bind_are_warned_and_the_bound_holds() -> None:
    """A perks, push or lifecycle-operation budget beyond the most the lever can pay for is a
    warning (as a channel's); the bound is an upper bound on what a run spends, and a budget at
    the bound gets no warning."""
    from simulation.model import OperatingMatrixModel
    from simulation.scenario.budgets import (
        idle_budget_warnings,
        operation_spend_bound,
        perks_spend_bound,
        push_spend_bound,
    )

    sc = scenario_from_dict(lever_budgets(1e6))
    warned = {path: msg for path, _, msg in idle_budget_warnings(sc)}
    assert set(LEVER_BUDGETS) <= set(warned)
    assert "¥1,000,000 cannot bind: the pushes can cost at most ¥" in warned["push.budget"]
    # 2 of 7 days, stock 15: 96 redemptions of ¥10 expected, + 4√96 for the draws' spread
    assert "at most ¥1,352 in 60 days" in warned["perks.budget"]
    assert "more than 99.8% of it stays unspent" in warned["perks.budget"]
    bounds = {"perks.budget": perks_spend_bound(sc), "push.budget": push_spend_bound(sc),
              LEVER_BUDGETS[2]: operation_spend_bound(sc, "recall")}
    model = OperatingMatrixModel(sc, 2)
    model.run()
    spend = {k: float(v.sum()) for k, v in model.ledger.spend.items()}
    spent = {"perks.budget": spend["perk:voucher"], "push.budget": spend["push"],
             LEVER_BUDGETS[2]: spend["lifecycle_ops:recall"]}
    for path in LEVER_BUDGETS:
        assert 0 < spent[path] <= bounds[path], path
    # the pushes' weekly cap binds the bound: 2 a week at most, for everyone
    assert bounds["push.budget"] == pytest.approx(2000 * 2 * 9 * 0.05)
    fits = lever_budgets(1e6)
    fits["perks"]["budget"] = bounds["perks.budget"]
    fits["push"]["budget"] = bounds["push.budget"]
    fits["lifecycle_operations"]["operations"]["recall"]["budget"] = bounds[LEVER_BUDGETS[2]]
    assert idle_budget_warnings(scenario_from_dict(fits)) == []


def test_validate_names_the_perks_budget_that_cannot_bind() -> None:
    """webank_public_to_private's ¥100,000 perks budget: its perks can pay for about a tenth."""
    from pathlib import Path

    from tests.conftest import run_cli

    preset = str(Path(__file__).parents[1] / "scenarios" / "webank_public_to_private.yaml")
    code, out, err = run_cli("validate", preset)
    assert code == 0 and out.startswith("ok scenario")
    assert f"warning in {preset}: perks.budget (line 75): ¥100,000 cannot bind" in err
    code, _, err = run_cli("validate", preset, "--set", "perks.budget=9000")
    assert code == 0 and "warning" not in err


def routed(budget: float, spare_budget: float | None = None) -> dict:
    """A WeCom channel whose responders walk a three-step route with a budget of its own (and
    optionally a second route no channel feeds)."""
    data = small_scenario_dict(days=60)
    data["channels"]["wecom"].update(respond_on_contact=0.6, route="callback")
    routes = {"callback": {"budget": budget, "steps": [
        {"kind": "lead_capture", "pass_rate": 0.7, "cost_per_entry": 0.5},
        {"kind": "call", "pass_rate": {"payroll": 0.8, "default": 0.5}, "cost_per_entry": 2.0,
         "daily_capacity": 40},
        {"kind": "apply", "pass_rate": 0.4, "cost_per_pass": 10.0}]}}
    if spare_budget is not None:
        routes["unused"] = {"budget": spare_budget, "steps": [{"kind": "apply"}]}
    data["flows"] = {"routes": routes}
    data["incrementality"] = {"counterfactual": False}
    return data


def test_route_budgets_that_cannot_bind_are_warned_and_the_bound_holds() -> None:
    """A route's own budget beyond the most its steps can charge is a warning, as the other
    budgets are; the bound holds for a run's route spend; a budget at the bound, none."""
    from simulation.model import OperatingMatrixModel
    from simulation.scenario.budgets import idle_budget_warnings, route_spend_bound

    sc = scenario_from_dict(routed(1e6, spare_budget=500.0))
    warned = {path: msg for path, _, msg in idle_budget_warnings(sc)}
    assert set(warned) == {"flows.routes.callback.budget", "flows.routes.unused.budget"}
    bound = route_spend_bound(sc, "callback")
    # wecom contacts at most 1200 × 5 % + 800 × 10 % = 140 a day, all charged the capture's
    # ¥0.50; of the 98 who pass it the call's capacity admits 40 (¥2 each), 32 pass at the
    # highest pass rate (80 %) and 40 % of them apply and collect ¥10
    assert bound == pytest.approx(60 * (140 * 0.5 + 40 * 2.0 + 40 * 0.8 * 0.4 * 10.0))
    assert warned["flows.routes.callback.budget"].startswith(
        f"¥1,000,000 cannot bind: the route can spend at most ¥{bound:,.0f} in 60 days "
        "(every contact of wecom entering it")
    assert f"at least {int(100 * (1 - bound / 1e6))}% of it stays unspent" in warned[
        "flows.routes.callback.budget"]
    assert route_spend_bound(sc, "unused") == 0.0
    assert warned["flows.routes.unused.budget"].startswith(
        "¥500 cannot bind: no channel hands responders to this route (no channel's route is "
        "'unused'), so all of it stays unspent")
    model = OperatingMatrixModel(sc, 4)
    model.run()
    spent = float(model.ledger.spend["route:callback"].sum())
    assert 0 < spent <= bound
    assert idle_budget_warnings(scenario_from_dict(routed(bound))) == []


def test_an_unspent_share_is_never_rounded_up() -> None:
    """¥5 of a ¥100,000 budget printed "more than 100.0% of it stays unspent"."""
    from simulation.scenario.budgets import _unspent

    assert _unspent(5.0, 100_000.0) == "more than 99.9%"
    assert _unspent(37.6, 100.0) == "at least 62%"  # 62.4 %: not "at least 62%" rounded to 63
    assert _unspent(0.0, 100.0) == "all of it"
