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


def payroll_money(data: dict, outflow: float = 0.5) -> dict:
    """``data`` with salary paid to the payroll segment on day 5 of each cycle."""
    data["money"] = {"segments": {"payroll": {
        "deposits": {"balance": {"median": 5000.0, "sigma": 0.5}},
        "payroll": {"salary": {"median": 8000.0, "sigma": 0.3}, "payday": 5,
                    "savings_share": 0.1, "outflow_after_payday": outflow},
    }}}
    return data


RETAIN = {"effect": "retain", "stages": ["converted", "active", "at_risk", "dormant"],
          "reach": 1.0, "success": 1.0, "keeps_outflow": 1.0}


def test_retention_that_keeps_all_the_outflow_is_a_bank_without_outflow() -> None:
    """``keeps_outflow: 1`` on every customer every day stops the whole post-payday outflow:
    the money is exactly that of a run whose payroll moves nothing out (the outflow it kept is
    booked as ``outflow_kept``); at ``keeps_outflow: 0.5`` it keeps part of it."""
    from simulation.money.kpis import money_kpis

    kept_all = run_model(payroll_money(ops_dict(days=70, keep=RETAIN)))
    no_outflow = run_model(payroll_money(ops_dict(days=70), outflow=0.0))
    plain = run_model(payroll_money(ops_dict(days=70)))
    half = run_model(payroll_money(ops_dict(days=70, keep={**RETAIN, "keeps_outflow": 0.5})))
    m_all, m_none = money_kpis(kept_all), money_kpis(no_outflow)
    m_plain, m_half = money_kpis(plain), money_kpis(half)
    assert m_all["aum"] == pytest.approx(m_none["aum"], rel=1e-9)
    assert m_all["asset_retention_30d"] == pytest.approx(m_none["asset_retention_30d"], rel=1e-9)
    assert m_all["outflow_kept"] > 0 and m_plain["outflow_kept"] == 0
    assert m_plain["aum"] < m_half["aum"] < m_all["aum"]
    assert 0 < m_half["outflow_kept"] < m_all["outflow_kept"]


def test_retention_only_runs_in_its_pay_window_and_resets_on_payday() -> None:
    """``after_payday: 1`` contacts only on the payday and the day after (payday 5: days 5, 6,
    35, 36, 65, 66 of 70), and what was kept resets on the next payday."""
    model = run_model(payroll_money(ops_dict(days=70, keep={**RETAIN, "after_payday": 1})))
    per_day = model.ledger.events[("lifecycle_ops:keep", "contacts")].sum(axis=1)
    assert set(np.flatnonzero(per_day)) == {5, 6, 35, 36, 65, 66}
    active_only = {**RETAIN, "stages": ["converted", "active"], "after_payday": 1}
    fresh = OperatingMatrixModel(scenario_from_dict(payroll_money(ops_dict(days=70,
                                                                           keep=active_only))), 5)
    for _ in range(34):  # to day 34: what days 5 and 6 kept still holds
        fresh.step()
    kept = fresh.read_state("outflow_kept")
    assert kept is not None
    held = np.flatnonzero(kept == 1.0)[:40]
    assert held.size == 40
    fresh.population.stage[held] = Stage.DORMANT  # no longer a target of the operation
    fresh.step()  # day 35, payday: last cycle's kept share no longer holds
    assert (kept[held] == 0.0).all()
    assert (kept[fresh.population.stage == Stage.ACTIVE] == 1.0).any()


@pytest.mark.parametrize(
    ("op", "money", "match"),
    [
        ({"effect": "retain", "stages": ["active"]}, True,
         r"operations\.bad\.keeps_outflow: effect 'retain' keeps a share"),
        ({**RETAIN, "after_payday": 30}, True, r"operations\.bad\.after_payday"),
        (RETAIN, False, r"operations\.bad\.keeps_outflow: needs a segment with money"),
        ({**RETAIN, "audience": "staff"}, True, r"operations\.bad\.audience"),
        ({"effect": "nurture", "stages": ["aware"], "keeps_outflow": 0.5}, True,
         r"operations\.bad\.stages: keeps_outflow acts on customers' money"),
    ],
)
def test_bad_retention_fields_name_the_field(op: dict, money: bool, match: str) -> None:
    data = ops_dict(bad=op)
    with pytest.raises(ScenarioError, match=match):
        scenario_from_dict(payroll_money(data) if money else data)


def test_bad_retention_field_exits_2_on_the_command_line(tmp_path, capsys) -> None:
    from ruamel.yaml import YAML

    from simulation.cli import main

    path = tmp_path / "bad.yaml"
    YAML().dump(payroll_money(ops_dict(bad={**RETAIN, "keeps_outflow": 1.5})), path)
    with pytest.raises(SystemExit) as exit_:
        main(["validate", str(path)])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "Traceback" not in err
    assert "lifecycle_operations.operations.bad.keeps_outflow" in err


def test_a_screened_audience_without_employers_reaches_nobody() -> None:
    """As a channel's: with no employers nobody works for a screened one (and the scenario
    stays valid, so switching employers off leaves a valid scenario)."""
    model = run_model(payroll_money(ops_dict(days=40, keep={**RETAIN,
                                                            "audience": "screened_employers"})))
    assert ("lifecycle_ops:keep", "contacts") not in model.ledger.events or not model.ledger.events[
        ("lifecycle_ops:keep", "contacts")].any()


def test_removing_one_operation_leaves_anothers_draws_unchanged() -> None:
    """Each operation draws from its own streams (keyed by its name): an operation that
    consumes random numbers but changes nothing (success 0), listed before the recall, leaves
    the recall's contacts and successes day by day exactly as without it, and so does the same
    operation at another reach. With one shared stream the first operation's draws shifted the
    recall's, so every paired comparison and leave-one-out contribution carried that noise."""
    recall = {"effect": "recall", "stages": ["at_risk", "dormant"], "reach": 0.3,
              "success": 0.4, "reward_on_success": 2.0, "budget": 300.0}
    idle = {"effect": "ring_inward", "rings": ["outer", "middle"], "reach": 0.4, "success": 0.0,
            "budget": 50.0}
    alone = run_model(ops_dict(days=30, recall=recall))
    behind = run_model(ops_dict(days=30, idle=idle, recall=recall))
    other_reach = run_model(ops_dict(days=30, idle={**idle, "reach": 0.05}, recall=recall))
    item = "lifecycle_ops:recall"
    for kind in ("contacts", "successes"):
        base = alone.ledger.events[(item, kind)]
        assert base.sum() > 0
        np.testing.assert_array_equal(behind.ledger.events[(item, kind)], base)
        np.testing.assert_array_equal(other_reach.ledger.events[(item, kind)], base)
    assert behind.ledger.events[("lifecycle_ops:idle", "contacts")].sum() > 0
    np.testing.assert_array_equal(behind.population.stage, alone.population.stage)
