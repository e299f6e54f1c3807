"""Common random numbers inside the groups module (helper crn2, 2026-12-02).

Why: every groups draw (joins, KOCs, mutes, posts, conversions, recoveries, drift-out) came
from the module's one sequential stream, so a decision that drew numbers and changed nobody
still shifted every later decision's numbers, that day and after: a paired comparison of two
group set-ups differed by noise where nothing differed. Here the recovery of lapsing members is
switched on in a population where nobody lapses (no churn hazard, nobody starts lapsing): it
cannot change anyone, so every other group event must stay the same, day by day. Before the
draws were keyed per decision and slot this failed: the recovery draws drawn after the
conversion draws moved the next day's joins.
"""

from __future__ import annotations

import numpy as np

from simulation.population.stages import Stage
from simulation.strategies.groups import Groups
from tests.conftest import model_of, small_scenario_dict


def _run(recovery: float) -> tuple[dict[str, np.ndarray], np.ndarray]:
    data = small_scenario_dict(days=25)
    data["population"]["size"] = 2000
    for seg in data["population"]["segments"].values():
        seg["churn_hazard"] = 0.0  # nobody lapses: recovery has no one to act on
    data["word_of_mouth"] = {"imitation": 0.0}
    data["channels"] = {"ads": {"daily_reach": 0.05, "cost_per_contact": 0.5,
                                "engage_on_contact": 0.3, "conversion_on_contact": 0.01}}
    data["groups"] = {
        "join_rate": 0.05, "cap": 30, "posts_per_week": 5.0, "conversion_per_post": 0.05,
        "recovery_per_post": recovery, "mute_rate": 0.02, "koc_share": 0.1,
        "quiet_forget": 0.05, "quiet_days": 2,
    }
    model, groups = model_of(data, seed=4, module=Groups)
    assert isinstance(groups, Groups)
    model.run()
    lapsing = np.isin(model.population.stage, [Stage.AT_RISK, Stage.DORMANT]).sum()
    assert lapsing == 0  # the premise: recovery really is inert
    ev = model.ledger.events
    out = {event: ev[(item, event)].sum(axis=1) for item, event in ev if item == "groups"}
    return out, model.population.extra["group"].copy()


def test_an_inert_recovery_leaves_every_other_group_event_unchanged() -> None:
    on, groups_on = _run(0.5)
    off, groups_off = _run(0.0)
    assert "recoveries" in on and "recoveries" not in off
    assert on["recoveries"].sum() == 0
    for event in off:
        assert np.array_equal(on[event], off[event]), (event, on[event], off[event])
    assert np.array_equal(groups_on, groups_off)  # the same members in the same groups
    # the check bites: members join, mute, convert on posts and drift out in both worlds
    for event in ("joins", "mutes", "conversions", "drifted_out"):
        assert off[event].sum() > 0, event
