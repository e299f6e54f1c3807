"""Community groups: the cap property, overflow, geo assignment, KOC damping, mutes, blocking."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulation import ScenarioError, scenario_from_dict
from simulation.model import OperatingMatrixModel
from simulation.strategies.base import Day
from simulation.strategies.groups import GroupBook, Groups
from tests.conftest import model_of as shared_model_of
from tests.conftest import small_scenario_dict


def groups_dict(days: int = 40, **groups: Any) -> dict:
    data = small_scenario_dict(days=days)
    data["word_of_mouth"] = {"imitation": 0.0}
    data["groups"] = {"join_rate": 0.05, "cap": 30, "conversion_per_post": 0.02, **groups}
    return data


model_of = partial(shared_model_of, seed=2, module=Groups)


def member_counts(model: OperatingMatrixModel, groups: Groups) -> np.ndarray:
    g = model.population.extra["group"]
    return np.bincount(g[g >= 0], minlength=groups.book.n_groups)


@settings(max_examples=60, deadline=None)
@given(
    cap=st.integers(1, 50),
    batches=st.lists(
        st.tuples(st.lists(st.integers(0, 3), max_size=120), st.integers(0, 40)), max_size=8
    ),
)
def test_a_capped_group_never_exceeds_its_cap(cap: int, batches: list) -> None:
    book = GroupBook.empty(cap, 4)
    seated: list[np.ndarray] = []
    rng = np.random.default_rng(0)
    for pools, leavers in batches:
        pools = np.array(pools, dtype=np.int64)
        ids = book.assign(pools)
        assert (book.size <= cap).all()
        assert (book.pool[ids] == pools).all()  # everyone lands in a group of their pool
        seated.append(ids)
        everyone = np.concatenate(seated) if seated else np.empty(0, np.int64)
        if leavers and everyone.size:
            out = rng.choice(everyone.size, size=min(leavers, everyone.size), replace=False)
            book.leave(everyone[out])
            seated = [np.delete(everyone, out)]
        everyone = np.concatenate(seated)
        assert np.array_equal(np.bincount(everyone, minlength=book.n_groups), book.size)
    # New groups open only when needed: per pool, at most one group below the cap was opened
    # by overflow in any batch, so the number of groups is ≤ joins/cap + batches per pool.
    total = sum(len(p) for p, _ in batches)
    assert book.n_groups <= -(-total // cap) + 4 * len(batches)


def test_overflow_fills_in_order() -> None:
    book = GroupBook.empty(200, 1)
    first = book.assign(np.zeros(450, np.int64))
    assert np.bincount(first).tolist() == [200, 200, 50]
    second = book.assign(np.zeros(160, np.int64))
    assert np.bincount(second, minlength=4).tolist() == [0, 0, 150, 10]
    assert book.size.tolist() == [200, 200, 200, 10]


@pytest.mark.parametrize(("cap", "external", "ok"), [(200, False, True), (201, False, False),
                                                     (500, True, True), (501, True, False)])
def test_cap_limits(cap: int, external: bool, ok: bool) -> None:
    data = groups_dict(cap=cap, external=external)
    if ok:
        assert scenario_from_dict(data).groups.cap == cap
    else:
        with pytest.raises(ScenarioError, match=r"groups(: cap \d+ exceeds|\.cap: .*500)"):
            scenario_from_dict(data)


def test_model_groups_respect_cap_and_city() -> None:
    model, groups = model_of(groups_dict(join_rate=0.2, cap=25))
    for _ in range(20):
        model.step()
        counts = member_counts(model, groups)
        assert counts.max() <= 25
        assert np.array_equal(counts, groups.book.size)
    g = model.population.extra["group"]
    members = np.flatnonzero(g >= 0)
    assert members.size > 200
    city = model.population.city[members]
    assert (groups.book.pool[g[members]] == city).all()  # geo-based assignment [004]


def test_national_assignment_uses_one_pool() -> None:
    model, groups = model_of(groups_dict(assignment="national", join_rate=0.1))
    model.run()
    assert (groups.book.pool == 0).all()


def test_joining_brings_prospects_into_the_private_domain() -> None:
    model, _ = model_of(groups_dict(join_rate=0.3, conversion_per_post=0.0, days=5))
    model.run()
    pop = model.population
    g = pop.extra["group"]
    members = np.flatnonzero(g >= 0)
    assert (pop.stage[members] >= 2).all()  # engaged or beyond


def test_koc_members_damp_sentiment() -> None:
    def spread(koc: float) -> float:
        model, _groups = model_of(groups_dict(join_rate=0.5, koc_share=koc, days=10,
                                             leave_per_sentiment=0.0))
        model.step()
        pop = model.population
        members = np.flatnonzero(pop.extra["group"] >= 0)
        model.sentiment.complain(members[::5], 1.0)  # stock-out complaints
        for _ in range(5):
            model.step()
        return float(model.sentiment.values[members].mean())

    assert spread(0.3) < 0.5 * spread(0.0)


def test_complaints_spread_within_a_group() -> None:
    model, _groups = model_of(groups_dict(join_rate=0.5, days=10, leave_per_sentiment=0.0,
                                         sentiment_decay=0.0))
    model.step()
    pop = model.population
    g = pop.extra["group"]
    members = np.flatnonzero(g == 0)
    model.sentiment.complain(members[:1], 1.0)
    sentiment = model.sentiment.values
    others = members[1:]
    model.step()
    assert (sentiment[others] > 0).all()
    assert (sentiment[np.flatnonzero(g == 1)] == 0).all()


def test_one_to_one_followup_reduces_mutes() -> None:
    def mutes(tag: bool) -> int:
        model, _ = model_of(groups_dict(join_rate=0.1, mute_rate=0.05, tag_based_followup=tag))
        model.run()
        return int(model.ledger.events[("groups", "mutes")].sum())

    assert mutes(True) < 0.5 * mutes(False)


def test_over_hot_groups_are_blocked_and_members_evicted() -> None:
    model, groups = model_of(
        groups_dict(join_rate=0.3, hot_join_threshold=5, block_probability=1.0, days=3)
    )
    model.run()
    assert groups.blocked_total > 0
    assert (groups.book.size[groups.book.blocked] == 0).all()


def test_unsustained_content_posts_less() -> None:
    def posts(half_life: float | None) -> int:
        model, groups = model_of(groups_dict(posts_per_week=7, content_half_life_days=half_life,
                                             days=60))
        model.run()
        return groups.posts_total

    assert posts(10.0) < 0.5 * posts(None)


def test_themed_days_always_post() -> None:
    _model, groups = model_of(groups_dict(posts_per_week=0, themed_days=["tuesday"]))
    assert groups.posts_today(Day(2, 1)) == (1, 1.5)
    assert groups.posts_today(Day(3, 2)) == (0, 1.0)


def test_group_posts_convert_members_and_cost_is_charged() -> None:
    with_groups, _ = model_of(groups_dict(conversion_per_post=0.05, cost_per_group_per_month=300))
    with_groups.run()
    conv = with_groups.ledger.events[("groups", "conversions")].sum()
    assert conv > 0
    assert with_groups.ledger.spend["groups"].sum() > 0
    src = with_groups.population.sources.index("groups")
    assert (with_groups.population.acquired_via == src).sum() == conv


# ---------------------------------------------------------------- operators (groups.operators)
def operated(days: int = 40, **operators: Any) -> dict:
    """Groups of 30 with a daily post, run by ``operators``."""
    return groups_dict(days=days, cap=30, posts_per_week=7, operators=operators)


def test_operators_run_only_what_they_can_and_rotate_through_the_rest() -> None:
    """Capacity = headcount × time_share × groups_per_operator groups a day; with more live
    groups, a window of that many moves through them, so every group gets its turn."""
    data = operated(days=30, headcount=2, time_share=0.5, groups_per_operator=3)
    data["groups"]["join_rate"] = 0.2
    model, groups = model_of(data)
    assert groups.operators.capacity == 3.0
    turns = np.zeros(0, np.int64)
    for day in range(30):
        if day == 10:
            groups.join_rate[:] = 0.0  # no new groups from here: each live group has its turn
        model.step()
        live = (groups.book.size > 0) & ~groups.book.blocked
        assert groups.run_today.sum() == min(3, live.sum())
        assert not (groups.run_today & ~live).any()  # only live groups are run
        turns = np.concatenate([turns, np.zeros(groups.book.n_groups - turns.size, np.int64)])
        turns += groups.run_today
    assert groups.book.n_groups > 6
    live = (groups.book.size > 0) & ~groups.book.blocked
    assert (turns[live] > 0).all()  # every live group is run on some day
    kpis = groups.operator_kpis()
    assert 0 < kpis["groups_run_share"] < 1
    assert kpis["group_members_per_operator"] == pytest.approx(groups.member_days / 30 / 1.0)


def test_unrun_groups_get_no_posts_and_their_prospects_drift_out() -> None:
    """Groups beyond the operators' capacity convert less and lose more prospects to quiet
    (the same posts and ``quiet_forget`` as content that is not sustained), same seed."""
    def arm(groups_per_operator: float) -> tuple[int, int]:
        data = operated(days=60, headcount=1, groups_per_operator=groups_per_operator)
        data["groups"].update(join_rate=0.2, quiet_forget=0.05, quiet_days=5)
        model, _ = model_of(data)
        model.run()
        ev = model.ledger.events
        return int(ev[("groups", "conversions")].sum()), int(ev[("groups", "drifted_out")].sum())

    conv_short, drift_short = arm(2)
    conv_full, drift_full = arm(1000)
    assert conv_full > 2 * conv_short
    assert drift_short > 2 * drift_full


def test_operators_are_paid_by_the_full_time_equivalent_and_productivity_lifts_posts() -> None:
    """Cost = headcount × time_share × monthly_cost a month, every day of the run (exact);
    productivity 2 gives more conversions per post than 1 on the same seed."""
    from simulation.scenario.types import DAYS_PER_MONTH

    model, _groups = model_of(operated(days=30, headcount=3, time_share=0.5,
                                      groups_per_operator=1000, monthly_cost=10000))
    model.run()
    spend = model.ledger.spend["groups"].sum()
    assert spend == pytest.approx(30 * 1.5 * 10000 / DAYS_PER_MONTH)

    def conversions(productivity: float) -> int:
        data = operated(headcount=1, groups_per_operator=1000, productivity=productivity)
        data["groups"]["conversion_per_post"] = 0.002  # few enough not to use up the prospects
        m, _ = model_of(data)
        m.run()
        return int(m.ledger.events[("groups", "conversions")].sum())

    assert conversions(2.0) > 1.5 * conversions(1.0)


def test_tool_seats_are_paid_by_head_whatever_the_number_of_groups() -> None:
    """Tools are sold per operator account, so ``seat_cost_per_year`` costs headcount × seat a
    year (a part-time head holds a full seat) every day of the run, exactly, and the same with
    several times the groups: unlike ``cost_per_group_per_month`` it does not grow with them
    (central content made once for every group, [001] 「内容的统一化」)."""
    from simulation.scenario.types import DAYS_PER_MONTH

    def spend(join_rate: float) -> tuple[float, int]:
        data = operated(days=30, headcount=2, time_share=0.25, groups_per_operator=1000,
                        seat_cost_per_year=1200)
        data["groups"]["join_rate"] = join_rate
        model, groups = model_of(data)
        model.run()
        return float(model.ledger.spend["groups"].sum()), groups.book.n_groups

    few, n_few = spend(0.002)
    many, n_many = spend(0.2)
    assert n_many > 3 * n_few > 0
    assert few == pytest.approx(30 * 2 * 1200 / (12 * DAYS_PER_MONTH))
    assert many == pytest.approx(few)


def test_operators_who_keep_up_change_nothing_but_the_cost() -> None:
    """Operators with room for every group run them all: the same customers as without
    operators, bit for bit (the groups' KPIs add members per operator)."""
    def final(operators: dict | None) -> tuple[np.ndarray, np.ndarray]:
        data = groups_dict(days=30)
        if operators is not None:
            data["groups"]["operators"] = operators
        model, _ = model_of(data)
        model.run()
        return model.population.stage.copy(), model.population.extra["group"].copy()

    plain = final(None)
    kept_up = final({"headcount": 1, "groups_per_operator": 10_000})
    assert np.array_equal(plain[0], kept_up[0]) and np.array_equal(plain[1], kept_up[1])


@pytest.mark.parametrize(
    ("operators", "path"),
    [
        ({"headcount": 0, "groups_per_operator": 10}, "groups.operators.headcount"),
        ({"headcount": 1, "groups_per_operator": 10, "time_share": 1.5},
         "groups.operators.time_share"),
        ({"headcount": 1}, "groups.operators.groups_per_operator"),
        ({"headcount": 1, "groups_per_operator": 10, "productivity": 0},
         "groups.operators.productivity"),
        ({"headcount": 1, "groups_per_operator": 10, "monthly_cost": -1},
         "groups.operators.monthly_cost"),
        ({"headcount": 1, "groups_per_operator": 10, "seat_cost_per_year": -50},
         "groups.operators.seat_cost_per_year"),
        ({"headcount": 1, "groups_per_operator": 10, "staff": 3}, "groups.operators.staff"),
    ],
)
def test_bad_operators_are_load_errors_with_their_path(operators: dict, path: str) -> None:
    data = groups_dict()
    data["groups"]["operators"] = operators
    with pytest.raises(ScenarioError, match=path.replace(".", r"\.")):
        scenario_from_dict(data)


def test_a_bad_operator_field_on_the_command_line_exits_2_with_its_path() -> None:
    from tests.conftest import REPO, run_cli

    code, _out, err = run_cli("validate", str(REPO / "scenarios" / "cgb_pilot.yaml"),
                              "--set", "groups.operators.time_share=1.5")
    assert code == 2
    assert "groups.operators.time_share" in err and "Traceback" not in err
    code, _out, err = run_cli("validate", str(REPO / "scenarios" / "cmb_credit_card.yaml"),
                              "--set", "groups.operators.seat_cost_per_year=-1")
    assert code == 2
    assert "groups.operators.seat_cost_per_year" in err and "Traceback" not in err


def test_members_per_operator_counts_represented_customers() -> None:
    """With population weights (``population.scale``) a row stands for several customers, and
    members per operator counts customers, not rows: the same world at scale 4 reports 4× the
    members of its rows."""
    data = operated(days=10, headcount=1, groups_per_operator=1000)
    data["population"]["scale"] = 4
    model, groups = model_of(data)
    rows = 0
    for _ in range(10):
        model.step()
        rows += int((model.population.extra["group"] >= 0).sum())
    assert groups.member_days == 4.0 * rows
    assert groups.operator_kpis()["group_members_per_operator"] == pytest.approx(4.0 * rows / 10)


def test_coupons_posted_in_groups_follow_the_operators_rota() -> None:
    """A coupon delivered inside groups is a post: it reaches only members whose group is on
    the day's rota, and the groups' own posts that day follow the same rota. The rota is
    planned at the end of the day before (perks steps before the groups) and perks reads it
    through the declared ``group_run``. With 2 groups run a day out of many, every coupon
    shown sits in a run group, listening members off the rota get none, and each group on
    the coupon's rota is one the groups post in that day."""
    from simulation.strategies.perks import Perks

    data = operated(days=25, headcount=1, groups_per_operator=2)
    data["groups"]["join_rate"] = 0.2
    for seg in data["population"]["segments"].values():
        seg["perk_appeal"] = {"coupon": 0.5}
    data["perks"] = {"catalogue": {"coupon": {
        "delivery": "groups", "offer_rate": 1.0, "targets": ["aware", "engaged", "active"],
        "face_value": 5, "claim_rate": 0.1}}}
    model, groups = model_of(data)
    perks = model.module(Perks)
    seen: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    deliver = perks._group_delivery

    def recording(plan, shown: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray | None]:
        kept, cities = deliver(plan, shown, d)
        group = perks.group.copy()
        listening = np.flatnonzero((group >= 0) & ~perks.group_muted)
        seen.append((kept, group, listening[~perks.group_run[listening]]))
        return kept, cities

    perks._group_delivery = recording
    off_rota = shown_total = 0
    for _ in range(25):
        model.step()
        kept, group, unrun = seen[-1]
        on_rota = np.unique(group[kept])
        assert on_rota.size <= 2
        assert groups.run_today[on_rota].all(), model.day  # the same rota as the posts
        assert np.intersect1d(kept, unrun).size == 0
        off_rota += unrun.size
        shown_total += kept.size
    assert off_rota > 0 and shown_total > 0 and groups.book.n_groups > 4
