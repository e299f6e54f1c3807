"""Referral tiers: the reward schedule, the tier-table property, weak/strong layers, and the
referred customers' value and churn tied to their referrer."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulation import ScenarioError, Stage, scenario_from_dict
from simulation.model import OperatingMatrixModel
from simulation.strategies.base import Day
from simulation.strategies.referral import Referral, ReferralConfig, total_reward
from tests.conftest import small_scenario_dict

TIERS = [
    {"from_referral": 1, "reward": 20.0},
    {"from_referral": 3, "reward": 50.0},
    {"from_referral": 6, "reward": 80.0},
]


def referral_dict(days: int = 40, size: int = 1500, **referral: Any) -> dict:
    data = small_scenario_dict(days=days)
    data["population"]["size"] = size
    for seg in data["population"]["segments"].values():
        seg["referral_propensity"] = {"mean": 0.5, "sd": 0.1}
    data["graph"] = {"kind": "watts_strogatz", "k": 8, "p": 0.1, "weak_ties": {"mean_degree": 8}}
    data["word_of_mouth"] = {"imitation": 0.0}
    data["referral"] = {"invite_rate": 0.3, "tiers": TIERS, "cap_per_referrer": 7, **referral}
    return data


def module(model: OperatingMatrixModel) -> Referral:
    found = model.module(Referral)
    assert isinstance(found, Referral)
    return found


def run_model(data: dict, seed: int = 3) -> OperatingMatrixModel:
    model = OperatingMatrixModel(scenario_from_dict(data), seed)
    model.run()
    return model


def test_schedule_follows_tiers_up_to_the_cap() -> None:
    cfg = ReferralConfig(invite_rate=0.1, tiers=TIERS, cap_per_referrer=7)
    assert cfg.reward_schedule().tolist() == [0, 20, 20, 50, 50, 50, 80, 80]
    assert total_reward(cfg.reward_schedule(), np.array([0, 1, 3, 7, 12])).tolist() == [
        0, 20, 90, 350, 350,
    ]


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        ([{"from_referral": 2, "reward": 10}], "first tier must start"),
        ([{"from_referral": 1, "reward": 10}, {"from_referral": 1, "reward": 20}], "increasing"),
        ([], "at least one tier"),
    ],
)
def test_bad_tiers_are_rejected(tiers: list, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        scenario_from_dict(referral_dict(tiers=tiers))


def test_weak_ties_need_a_weak_layer() -> None:
    data = referral_dict()
    del data["graph"]["weak_ties"]
    with pytest.raises(ScenarioError, match=r"referral\.weak_tie_share"):
        scenario_from_dict(data)
    data["referral"]["weak_tie_share"] = 0.0
    assert scenario_from_dict(data).graph.weak_ties is None  # the old graph key still works


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rewards=st.lists(st.integers(0, 200), min_size=1, max_size=4),
    gaps=st.lists(st.integers(1, 3), min_size=3, max_size=3),
    cap=st.integers(1, 6),
    seed=st.integers(0, 1000),
)
def test_rewards_paid_match_the_tier_table_exactly(
    rewards: list[int], gaps: list[int], cap: int, seed: int
) -> None:
    starts = np.cumsum([1, *gaps])[: len(rewards)].tolist()
    tiers = [{"from_referral": s, "reward": float(r)} for s, r in zip(starts, rewards, strict=True)]
    model = run_model(
        referral_dict(days=30, size=600, tiers=tiers, cap_per_referrer=cap, invite_rate=0.6),
        seed,
    )
    pop = model.population
    refs = pop.extra["referrals"]
    schedule = model.scenario.referral.reward_schedule()
    paid = model.ledger.spend["referral"].sum()
    assert paid == pytest.approx(total_reward(schedule, refs).sum())
    assert refs.max() <= cap
    assert (pop.referrer >= 0).sum() == refs.sum()
    assert np.array_equal(np.bincount(pop.referrer[pop.referrer >= 0], minlength=pop.n), refs)


def test_referred_customers_are_attributed_and_linked() -> None:
    model = run_model(referral_dict())
    pop = model.population
    referred = np.flatnonzero(pop.referrer >= 0)
    assert referred.size > 20
    assert set(pop.acquired_via[referred].tolist()) == {pop.sources.index("referral")}
    assert (pop.converted_day[referred] >= 1).all()
    assert (pop.referrer[referred] != referred).all()


@pytest.mark.parametrize("layer", ["strong", "weak"])
def test_invitations_travel_along_the_chosen_layer(layer: str) -> None:
    share = 1.0 if layer == "weak" else 0.0
    model = run_model(referral_dict(weak_tie_share=share))
    pop = model.population
    referred = np.flatnonzero(pop.referrer >= 0)
    assert referred.size > 0
    net = model.network.weak if layer == "weak" else model.network
    assert net is not None
    for i in referred[:50]:
        assert pop.referrer[i] in net.neighbours(int(i))


def test_zero_acceptance_on_a_layer_blocks_it() -> None:
    model = run_model(referral_dict(weak_tie_share=1.0, acceptance={"weak": 0.0, "strong": 1.0}))
    assert (model.population.referrer >= 0).sum() == 0


def test_bigger_rewards_bring_more_but_less_valuable_referrals() -> None:
    """Wolters et al. (2020): larger rewards → more referrals, smaller value uplift."""
    small = run_model(referral_dict(tiers=[{"from_referral": 1, "reward": 20.0}]))
    large = run_model(referral_dict(tiers=[{"from_referral": 1, "reward": 800.0}]))
    n_small = (small.population.referrer >= 0).sum()
    n_large = (large.population.referrer >= 0).sum()
    assert n_large > n_small
    assert module(large).ref_uplift.mean() < module(small).ref_uplift.mean()
    assert module(small).ref_uplift.mean() == pytest.approx(0.16)


def test_referred_value_uplift_and_churn_follow_the_referrer() -> None:
    model = run_model(referral_dict(days=20))
    ref = module(model)
    pop = model.population
    idx = ref.ref_idx
    assert idx.size > 0
    # Margin uplift: referred customers earn more per day than their own base value (a value
    # multiplier > 1 that Lifecycle applies; referral never writes Lifecycle's arrays).
    assert (model.read_state("referral_value_multiplier")[idx] > 1.0).all()
    # While the referrer stays: hazard × 0.82 (18 % more likely to stay).
    referrer = pop.referrer[idx]
    staying = pop.stage[referrer] != Stage.CHURNED
    solo = staying & (pop.extra["referrals"][idx] == 0)
    base = pop.churn_hazard[idx]  # the sampled trait, unchanged by referral
    assert np.allclose(model.lifecycle.churn_hazard(idx[solo]), base[solo] * 0.82, rtol=1e-6)
    # Once the referrer churns, the advantage is gone (multiplier back to 1).
    pop.stage[referrer] = Stage.CHURNED
    ref._update_referred(Day(model.day + 1, 0))
    check = (pop.stage[idx] != Stage.CHURNED) & (pop.extra["referrals"][idx] == 0)
    assert check.sum() > 0
    assert np.allclose(model.lifecycle.churn_hazard(idx[check]), base[check])


def test_referrers_defect_less() -> None:
    """Garnefeld et al. (2013): referrers' own defection 19 % → 7 % (multiplier 7/19)."""
    base = run_model(referral_dict(days=15))
    cut = run_model(referral_dict(days=15, referrer_churn_multiplier=7 / 19))
    referrers = np.flatnonzero(cut.population.extra["referrals"] > 0)
    plain = referrers[cut.population.referrer[referrers] < 0]
    assert plain.size > 0
    before = base.population.churn_hazard[plain]
    assert np.allclose(cut.lifecycle.churn_hazard(plain), before * 7 / 19, rtol=1e-5)


def test_officer_visibility_raises_invitations() -> None:
    off = run_model(referral_dict(days=20))
    on = run_model(referral_dict(days=20, officer_visible=True, officer_uplift=2.0))
    inv = ("referral", "invitations")
    assert on.ledger.events[inv].sum() > 1.5 * off.ledger.events[inv].sum()


def test_off_by_default_and_no_draws() -> None:
    data = small_scenario_dict(days=10)
    model = OperatingMatrixModel(scenario_from_dict(data), 1)
    assert not any(isinstance(m, Referral) for m in model.modules)


def test_the_motivating_reward_reads_the_visible_ladder() -> None:
    """Goal gradient (Kivetz et al. 2006): the rewards ahead motivate, nearer ones more. A flat
    schedule reads exactly its reward; ``ladder_weight: 0`` reads only the next reward; a
    higher step ahead pulls harder as it comes closer; at the cap nothing motivates."""
    steep = ReferralConfig(invite_rate=0.1, tiers=TIERS, cap_per_referrer=7)
    nxt = steep.reward_schedule()[1:]
    ahead = steep.motivating_reward()
    assert ahead[-1] == 0.0
    assert (ahead[:-1] >= nxt).all() and ahead[0] > nxt[0]
    assert (np.diff(ahead[:5]) > 0).all()  # closer to the 50 and 80 steps: more pull
    assert (ahead[5:-1] == 80).all()  # on the top step: nothing higher ahead
    assert ahead[-2] == nxt[-1]  # one referral left: only its reward
    only_next = ReferralConfig(invite_rate=0.1, tiers=TIERS, cap_per_referrer=7, ladder_weight=0)
    assert only_next.motivating_reward()[:-1].tolist() == nxt.tolist()
    even = ReferralConfig(invite_rate=0.1, tiers=TIERS, cap_per_referrer=7, ladder_weight=1)
    assert even.motivating_reward()[0] == pytest.approx(nxt.mean())
    flat = ReferralConfig(invite_rate=0.1, tiers=[{"from_referral": 1, "reward": 33.3}])
    assert flat.motivating_reward()[:-1].tolist() == [33.3] * flat.cap_per_referrer


def test_a_visible_ladder_raises_invitations_before_its_steps_are_reached() -> None:
    """Same first reward, steps ahead (20 → 50 → 80) vs flat 20: more invitations at once
    (motivation × (48.8 / 20)^0.3 ≈ 1.31 before the first referral; 1.22–1.48 on seeds 0–4)."""
    steep = run_model(referral_dict(days=20), seed=0)
    flat = run_model(referral_dict(days=20, tiers=[TIERS[0]]), seed=0)
    inv = ("referral", "invitations")
    assert steep.ledger.events[inv].sum() > 1.15 * flat.ledger.events[inv].sum()


@pytest.mark.parametrize("bad", [-0.1, 1.5, "steep"])
def test_a_bad_ladder_weight_is_refused_with_its_path(bad: object) -> None:
    with pytest.raises(ScenarioError, match=r"referral\.ladder_weight"):
        scenario_from_dict(referral_dict(ladder_weight=bad))
