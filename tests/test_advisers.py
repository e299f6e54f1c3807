"""1:1 advisers: capacity, ≤ 1 message a day per pair, per-adviser limit, triggers, staff cost."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulation import ScenarioError, scenario_from_dict
from simulation.model import OperatingMatrixModel
from simulation.strategies.advisers import (
    DAYS_PER_MONTH,
    Advisers,
    adviser_pools,
    assign_to_advisers,
)
from simulation.strategies.base import Day
from tests.conftest import model_of as shared_model_of
from tests.conftest import small_scenario_dict


def advisers_dict(days: int = 40, **advisers: Any) -> dict:
    data = small_scenario_dict(days=days)
    data["word_of_mouth"] = {"imitation": 0.0}
    data["population"]["segments"]["payroll"]["initial"] = {"aware": 0.3, "engaged": 0.3}
    data["advisers"] = {
        "count": 6,
        "capacity": 40,
        "add_rate": 0.05,
        "add_stages": ["aware", "engaged", "active"],
        "contact_rate": 0.3,
        "messages_per_adviser_per_day": 6,
        "conversion_per_contact": 0.05,
        "recovery_per_contact": 0.3,
        **advisers,
    }
    return data


model_of = partial(shared_model_of, seed=4, module=Advisers)


@settings(max_examples=80, deadline=None)
@given(
    capacity=st.integers(1, 20),
    pool_sizes=st.lists(st.integers(0, 50), min_size=1, max_size=5),
    count=st.integers(0, 12),
    joins=st.lists(st.lists(st.integers(0, 4), max_size=60), max_size=5),
)
def test_adviser_load_never_exceeds_capacity(
    capacity: int, pool_sizes: list[int], count: int, joins: list[list[int]]
) -> None:
    sizes = np.array(pool_sizes)
    pools_of_adviser = adviser_pools(count, sizes)
    assert pools_of_adviser.size == (count if sizes.sum() else 0)
    load = np.zeros(pools_of_adviser.size, np.int64)
    n_pools = sizes.size
    for batch in joins:
        pools = np.array([p % n_pools for p in batch], dtype=np.int64)
        before = load.copy()
        adv = assign_to_advisers(pools, pools_of_adviser, load, capacity)
        assert (load <= capacity).all()
        placed = adv >= 0
        assert (pools_of_adviser[adv[placed]] == pools[placed]).all()
        assert np.array_equal(load - before, np.bincount(adv[placed], minlength=load.size))
        # Nobody is turned away while their pool still has room.
        free = np.bincount(pools_of_adviser, weights=capacity - before, minlength=n_pools)
        wanted = np.bincount(pools, minlength=n_pools)
        got = np.bincount(pools[placed], minlength=n_pools)
        assert np.array_equal(got, np.minimum(wanted, free[:n_pools]).astype(int))


def test_messages_at_most_one_per_pair_and_limit_per_adviser() -> None:
    model, adv = model_of(advisers_dict(contact_rate=1.0))
    for _ in range(30):
        model.step()
        sent = adv.last_messages
        assert np.unique(sent).size == sent.size  # ≤ 1 message per adviser–customer pair
        per_adviser = np.bincount(model.population.extra["adviser"][sent], minlength=6)
        assert per_adviser.max(initial=0) <= 6
        assert (adv.load <= 40).all()
        served = model.population.extra["adviser"]
        assert np.array_equal(np.bincount(served[served >= 0], minlength=6), adv.load)


def test_holidays_trigger_contact() -> None:
    model, adv = model_of(advisers_dict(contact_rate=0.02, messages_per_adviser_per_day=1000,
                                        triggers={"holidays": [20]}))
    counts = []
    for _ in range(21):
        model.step()
        counts.append(adv.last_messages.size)
    served = int((model.population.extra["adviser"] >= 0).sum())
    assert counts[19] == served  # everyone served hears from their adviser on the holiday
    assert max(counts[:19]) < served / 4


def test_product_maturity_triggers_individual_contact() -> None:
    model, adv = model_of(advisers_dict(contact_rate=0.0, triggers={"product_maturity_days": 7}))
    for _ in range(14):
        model.step()
    pop = model.population
    sent = adv.last_messages
    assert sent.size > 0
    assert ((model.day - pop.converted_day[sent]) % 7 == 0).all()


def test_part_time_advisers_cost_and_serve_less() -> None:
    full, a_full = model_of(advisers_dict(monthly_cost_per_adviser=9000.0, days=30))
    part, a_part = model_of(advisers_dict(monthly_cost_per_adviser=9000.0, days=30,
                                          workload_share=0.25))
    full.run()
    part.run()
    expected = 6 * 9000.0 / DAYS_PER_MONTH * 30
    assert full.ledger.spend["advisers"].sum() == pytest.approx(expected)
    assert part.ledger.spend["advisers"].sum() == pytest.approx(expected * 0.25)
    assert a_part.capacity == 10 and a_part.daily_limit == 2  # CCB part-time managers [001]
    assert a_part.load.sum() < a_full.load.sum()


def test_advisers_convert_and_recall_better_than_none() -> None:
    # Lapses 10x the small scenario's (0.02 a day): with 0.002-0.004 only ~1-2 served
    # customers are at risk when messaged in 60 days, so zero recoveries is a likely outcome
    # of one seed (seed 4 gave 0 once the channels' draws were keyed); at 0.02 some ten
    # served customers lapse a week and each is messaged (0.3) and won back (0.3) on a
    # day at risk, so recoveries are certain in expectation.
    def lapsing(data: dict) -> dict:
        for seg in data["population"]["segments"].values():
            seg["churn_hazard"] = 0.02
        return data

    on, _ = model_of(lapsing(advisers_dict(days=60)))
    off = OperatingMatrixModel(scenario_from_dict(lapsing(advisers_dict(days=60, count=0))), 4)
    on.run()
    off.run()
    assert on.summary()["acquisitions"] > off.summary()["acquisitions"]
    assert on.ledger.events[("advisers", "recoveries")].sum() > 0


def test_persona_lift_raises_conversion() -> None:
    def conversions(lift: float) -> int:
        model, _ = model_of(advisers_dict(days=60, persona_lift={"default": lift}))
        model.run()
        return int(model.ledger.events[("advisers", "conversions")].sum())

    assert conversions(3.0) > 1.5 * conversions(1.0)


def test_churned_customers_release_their_adviser() -> None:
    model, _adv = model_of(advisers_dict(days=60))
    model.run()
    pop = model.population
    assert (pop.extra["adviser"][pop.stage == 7] == -1).all()


def test_holidays_after_a_shortened_horizon_are_ignored() -> None:
    model, adv = model_of(advisers_dict(days=10, contact_rate=0.02,
                                        triggers={"holidays": [45]}))
    for _ in range(10):
        model.step()
        served = int((model.population.extra["adviser"] >= 0).sum())
        assert adv.last_messages.size < max(served, 1) / 2  # no day is a holiday
    assert model.day == 10


def test_unknown_segment_in_persona_lift() -> None:
    with pytest.raises(ScenarioError, match="unknown segment 'elderly'"):
        scenario_from_dict(advisers_dict(persona_lift={"elderly": 2.0, "default": 1.0}))


def test_product_maturity_never_triggers_prospects() -> None:
    """Only customers hold a maturing product: engaged prospects (converted_day −1) must not be
    'due' every ``product_maturity_days`` (they were, by day + 1 ≡ 0)."""
    model, adv = model_of(advisers_dict(contact_rate=0.0, triggers={"product_maturity_days": 7}))
    pop = model.population
    served = np.arange(pop.n)
    for day in range(1, 30):
        due = adv.triggered(Day(day, day % 7), served)
        assert not due[pop.converted_day < 0].any()


def test_tag_based_follow_up_raises_adviser_conversion() -> None:
    """Tag-based 1:1 follow-up (「根据这些标签，进行针对性的私聊推送……用户的活动参与率就会更高」
    [004]): with three interest tags held by 90 % of customers,
    targeting makes every message to a tagged customer match (vs ≈ 1/3 when the day's offer
    goes to whoever is messaged), so on the same seeds adviser conversions rise; a match lift of
    1 makes tags change nothing."""
    tags = {"interests": [{"name": n, "share": 0.3} for n in ("fitness", "photo", "travel")],
            "match_lift": 3.0}

    def run_with(targeting: bool, lift: float = 3.0) -> tuple[int, int, int]:
        conv = matches = msgs = 0
        for seed in (4, 5):
            model = OperatingMatrixModel(scenario_from_dict(advisers_dict(
                days=60, tags={**tags, "targeting": targeting, "match_lift": lift})), seed)
            model.run()
            ev = model.ledger.events
            conv += int(ev[("advisers", "conversions")].sum())
            msgs += int(ev[("advisers", "messages")].sum())
            if ("advisers", "tag_matches") in ev:
                matches += int(ev[("advisers", "tag_matches")].sum())
        return conv, matches, msgs

    conv_on, match_on, msgs_on = run_with(True)
    conv_off, match_off, msgs_off = run_with(False)
    assert 0.85 < match_on / msgs_on < 0.95  # tagged share 0.9
    assert 0.2 < match_off / msgs_off < 0.4  # ≈ 0.9 / 3
    # (less than the 1.75× of the match rates: converted prospects leave the engaged pool)
    assert conv_on > 1.15 * conv_off
    neutral = OperatingMatrixModel(scenario_from_dict(advisers_dict(
        days=60, tags={**tags, "targeting": True, "match_lift": 1.0})), 4)
    neutral.run()
    # the tags are drawn (advisers' own stream) but a lift of 1 converts nobody more
    assert ("advisers", "tag_matches") not in neutral.ledger.events


def test_tag_shares_over_one_are_refused() -> None:
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(advisers_dict(tags={"interests": [{"name": "a", "share": 0.7},
                                                             {"name": "b", "share": 0.6}]}))
    assert "advisers.tags" in str(err.value)


def test_a_fixed_offer_matches_only_its_own_interest() -> None:
    """``tags.offer`` (a product push, e.g. pension vs 定投 for the elderly [001]): every
    message is about that one product, so the share of messages that match is the offer's
    tag share (0.6 vs 0.2 here), whatever the day; an unknown offer, or one combined with
    ``targeting``, is refused with the field's path."""
    interests = [{"name": "pension", "share": 0.6}, {"name": "plans", "share": 0.2}]
    share = {}
    for offer in ("pension", "plans"):
        model = OperatingMatrixModel(scenario_from_dict(advisers_dict(
            days=60, tags={"interests": interests, "match_lift": 2.0, "offer": offer})), 4)
        model.run()
        ev = model.ledger.events
        share[offer] = (ev[("advisers", "tag_matches")].sum()
                        / ev[("advisers", "messages")].sum())
    assert 0.5 < share["pension"] < 0.7
    assert 0.1 < share["plans"] < 0.3
    for bad, says in (({"offer": "gold"}, "unknown interest 'gold'"),
                      ({"offer": "pension", "targeting": True}, "cannot be combined")):
        with pytest.raises(ScenarioError) as err:
            scenario_from_dict(advisers_dict(tags={"interests": interests, **bad}))
        assert "advisers.tags.offer" in str(err.value)
        assert says in str(err.value)


def test_holdings_uplift_multiplies_what_served_customers_earn_only() -> None:
    """``holdings_uplift``: while served, a customer's value multiplier is 1 + uplift (the money
    layer's value_multiplier hook); everyone else, and everyone at the default 0, stays at 1."""
    for uplift in (0.0, 0.5):
        model = OperatingMatrixModel(scenario_from_dict(advisers_dict(holdings_uplift=uplift)), 4)
        model.run()
        served = model.read_state("adviser") >= 0
        mult = model.read_state("adviser_value_multiplier")
        assert served.any()
        assert np.all(mult[served] == 1.0 + uplift)
        assert np.all(mult[~served] == 1.0)
    with pytest.raises(ScenarioError):
        scenario_from_dict(advisers_dict(holdings_uplift=-0.1))
