"""Counterfactual and incremental KPIs on common random numbers; leave-one-out contributions."""

from __future__ import annotations

import numpy as np
import pytest

from simulation import load_scenario, run, scenario_from_dict
from simulation.accounting import acquisitions_by_source
from simulation.incremental import (
    CONTRIBUTION_KPIS,
    active_levers,
    run_world,
    switch_off,
)
from simulation.model import OperatingMatrixModel
from tests.conftest import REPO, small_scenario_dict


def test_counterfactual_shares_the_world_and_switches_levers_off() -> None:
    sc = scenario_from_dict(small_scenario_dict(days=40))
    factual = OperatingMatrixModel(sc, 5, share_world=True)
    assert factual.world is not None
    day0 = factual.world.fresh_population()
    # the shared copy is the day-0 population, untouched by the factual run
    factual.run()
    assert np.array_equal(day0.stage, factual.world.fresh_population().stage)
    cf = OperatingMatrixModel(switch_off(sc, active_levers(sc)), 5, world=factual.world)
    assert cf.network is factual.network
    assert np.array_equal(cf.population.churn_hazard, factual.population.churn_hazard)
    # the channels' declared off keeps them listed with no reach (so segments' affinities stay
    # valid); organic word of mouth is the world and stays on
    assert [m.name for m in cf.modules] == ["lifecycle", "channels", "word_of_mouth"]
    cf.run()
    assert cf.ledger.total_spend() == 0.0
    by_source = acquisitions_by_source(cf.population)
    assert all(by_source[ch] == 0 for ch in sc.channels) and by_source["word_of_mouth"] > 0


def test_run_reports_attributed_and_incremental_side_by_side() -> None:
    result = run(scenario_from_dict(small_scenario_dict(days=60)), seed=2)
    s = result.summary
    assert s["incrementality"]["levers_on"] == ["channels"]
    assert s["incremental_acquisitions"] == s["acquisitions"] - s["organic_acquisitions"]
    assert s["organic_acquisitions"] == s["counterfactual"]["acquisitions"]
    # word of mouth converts some customers in the counterfactual world too (organic)
    assert 0 < s["organic_acquisitions"] < s["acquisitions"]
    assert s["incremental_cpa"] == pytest.approx(s["spend"] / s["incremental_acquisitions"])
    assert s["incremental_cpa"] > s["cost_per_acquisition"]
    attributed = s["acquisitions"] - s["free_acquisitions"]
    assert s["attributed_cpa"] == pytest.approx(s["spend"] / attributed)
    assert s["incremental_value"] == pytest.approx(
        s["value_total"] - s["counterfactual"]["value_total"]
    )
    assert "last touch" in s["incrementality"]["note"]


def test_a_run_without_levers_is_its_own_counterfactual() -> None:
    data = small_scenario_dict(days=30)
    data["channels"] = {}
    data["population"]["segments"]["credit_card"].pop("channel_affinity", None)
    s = run(scenario_from_dict(data), seed=1).summary
    assert s["incremental_acquisitions"] == 0 and s["organic_acquisitions"] == s["acquisitions"]
    assert s["incremental_cpa"] is None


@pytest.fixture(scope="module")
def ablated() -> tuple:
    """cgb_pilot (channels, perks, groups; organic word of mouth) at 3,000 customers and 120
    days, with leave-one-out and leave-one-in."""
    sc = load_scenario(
        REPO / "scenarios" / "cgb_pilot.yaml",
        ["population.size=3000", "days=120", "incrementality.contributions=both"],
    )
    return sc, run(sc, seed=4).summary


def test_leave_one_out_contributions_add_up_as_documented(ablated: tuple) -> None:
    """k(all) = k(organic) + Σ LOO(k) + interaction(k), for every contribution KPI."""
    sc, s = ablated
    table = s["contributions"]
    levers = active_levers(sc)
    assert set(table["levers"]) == set(levers) and len(levers) >= 2
    for k in CONTRIBUTION_KPIS:
        total = table["organic"][k] + sum(table["levers"][lv][f"loo_{k}"] for lv in levers)
        total += table["interaction"][k]
        assert total == pytest.approx(float(s[k]), rel=1e-9, abs=1e-6)
        assert table["organic"][k] == pytest.approx(float(s["counterfactual"][k]))
    assert s["organic_acquisitions"] > 0
    # each lever alone adds something; leave-one-in is measured against no lever
    for lv in levers:
        assert "loi_acquisitions" in table["levers"][lv]
    assert s["loo_acquisitions__channels"] == table["levers"]["channels"]["loo_acquisitions"]
    from simulation import kpis

    flat = {k for k in s if k.startswith(("loo_", "loi_", "interaction_"))}
    assert flat and all(kpis.is_registered(k) for k in flat)


def test_a_shared_world_ablation_equals_a_fresh_run(ablated: tuple) -> None:
    """Sharing the population and graph changes nothing: the leave-one-out world of a lever,
    run on its own (sampling everything again), gives the same acquisitions."""
    sc, s = ablated
    lever = active_levers(sc)[-1]
    alone = switch_off(sc, [lever]).model_copy(
        update={"incrementality": sc.incrementality.model_copy(update={"counterfactual": False})}
    )
    fresh = OperatingMatrixModel(alone, 4)
    fresh.run()
    got = int(np.count_nonzero(fresh.population.converted_day >= 1))
    assert s["acquisitions"] - got == s[f"loo_acquisitions__{lever}"]
    # and run_world on a shared world agrees with the fresh model
    model = OperatingMatrixModel(sc, 4, share_world=True)
    assert run_world(alone, 4, model.world)["acquisitions"] == got


def test_every_ablation_lever_has_registered_contribution_kpis() -> None:
    """The ablation levers are the lever contract's: every switchable lever but organic word
    of mouth (the world, which the counterfactual keeps on)."""
    from simulation import kpis
    from simulation.strategies import registry

    assert registry.strategy_levers() == kpis.ABLATION_LEVERS
    assert set(kpis.ABLATION_LEVERS) == {
        lv.section for lv in registry.LEVERS if lv.off is not None and not lv.world
    }
    # the world's own levers stay on in the counterfactual and have no contribution KPIs
    assert {"word_of_mouth", "employers"}.isdisjoint(kpis.ABLATION_LEVERS)
    assert kpis.is_registered("loo_acquisitions__perks")
    assert kpis.is_registered("interaction_value_total")
