"""Contact windows: send hour vs availability, weekly caps, fatigue with an interior optimum,
opt-outs, themed days, urgency, the on/off switch, and the paired elderly comparison."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulation import ScenarioError, load_scenario, run, scenario_from_dict
from simulation.model import OperatingMatrixModel
from simulation.strategies.base import Day
from simulation.strategies.contact_windows import FatigueConfig, expected_responses, hours_of
from tests.conftest import REPO, small_scenario_dict


def windowed(policy: dict[str, Any], channel: dict[str, Any] | None = None, days: int = 30):
    data = small_scenario_dict(days=days)
    data["word_of_mouth"] = {"imitation": 0.0}
    for seg in data["population"]["segments"].values():
        seg["availability"] = ["9-11", "14-17", "20-22"]
    data["channels"] = {
        "msg": channel or {"kind": "wecom_1to1", "daily_reach": 0.3, "cost_per_contact": 1.0,
                           "conversion_on_contact": 0.05, "targets": ["aware", "engaged"]},
    }  # fmt: skip
    data["contact_policy"] = policy
    return data


def windows_of(model: OperatingMatrixModel):
    return model.modules[[m.name for m in model.modules].index("contact_windows")]


def events(model: OperatingMatrixModel, event: str) -> np.ndarray:
    arr = model.ledger.events.get(("msg", event))
    return np.zeros(model.days + 1, dtype=np.int64) if arr is None else arr.sum(axis=1)


def test_hours_of_ranges() -> None:
    assert hours_of(["9-11", "20-22"]).tolist() == [9, 10, 20, 21]


def test_send_hours_outside_every_window_are_all_out_of_window_and_cost_the_same() -> None:
    late = OperatingMatrixModel(scenario_from_dict(windowed({"send_hours": {"msg": ["3-4"]}})), 1)
    good = OperatingMatrixModel(scenario_from_dict(windowed({"send_hours": {"msg": ["9-11"]}})), 1)
    late.run()
    good.run()
    assert (events(late, "out_of_window") == events(late, "contacts")).all()
    assert events(good, "out_of_window").sum() == 0
    # Same contacts drawn (same stream), same cost per contact; fewer conversions late at night.
    assert late.ledger.spend["msg"].sum() / events(late, "contacts").sum() == pytest.approx(1.0)
    assert events(late, "conversions").sum() < 0.6 * events(good, "conversions").sum()


def test_fatigue_has_an_interior_optimum() -> None:
    """Zhang, Kumar & Cosguner (2017): too few and too many contacts both lose (sources.md §2.4)."""
    rates = [0.25, 0.5, 1, 1.5, 2, 3, 4, 6, 10, 14]
    curve = [expected_responses(FatigueConfig(), c) for c in rates]
    best = int(np.argmax(curve))
    assert 0 < best < len(rates) - 1
    assert 1 <= rates[best] <= 4  # ≈ 7 a month
    assert curve[-1] < 0.5 * curve[best]
    no_fatigue = FatigueConfig(response_drop=0.0, opt_out_per_contact=0.0)
    flat = [expected_responses(no_fatigue, c) for c in rates]
    assert flat == sorted(flat)  # without fatigue more is always more


def test_fatigue_decays_and_heavy_contact_opts_customers_out() -> None:
    policy = {"fatigue": {"opt_out_threshold": 1.5, "opt_out_per_contact": 0.2}}
    channel = {"kind": "community_group", "daily_reach": 0.8, "engage_on_contact": 0.5,
               "targets": ["aware", "engaged"]}  # fmt: skip
    model = OperatingMatrixModel(scenario_from_dict(windowed(policy, channel, days=20)), 2)
    model.run()
    pop = model.population
    out = pop.extra["opted_out"]
    assert out.sum() > 100 and events(model, "opt_outs").sum() == out.sum()
    # Opted-out customers left the private domain and are not contacted again.
    assert not np.any(pop.stage[out] == 2)  # Stage.ENGAGED
    before = pop.extra["fatigue"].copy()
    windows_of(model).step(Day(21, 0))
    assert np.allclose(pop.extra["fatigue"], before * 0.5 ** (1 / 7), rtol=1e-5)


def test_themed_day_and_urgency_multiply_the_response() -> None:
    policy = {"themed_days": {"wednesday": {"theme": "half-price dining", "response": 1.5}},
              "urgency": {"multiplier": 1.3, "channels": ["msg"]},
              "fatigue": {"response_drop": 0.0}, "send_hours": {"msg": ["9-11"]}}  # fmt: skip
    model = OperatingMatrixModel(scenario_from_dict(windowed(policy)), 1)
    win = windows_of(model)
    idx = np.arange(10)
    win.step(Day(3, 2))  # a Wednesday
    assert np.allclose(win.deliver(0, idx, Day(3, 2)), 1.5 * 1.3)
    win.step(Day(4, 3))
    assert np.allclose(win.deliver(0, idx, Day(4, 3)), 1.3)


def test_disabled_policy_is_exactly_no_policy() -> None:
    off = windowed({"enabled": False, "weekly_caps": {"msg": 1}})
    none = windowed({})
    del none["contact_policy"]
    a, b = run(scenario_from_dict(off), seed=4), run(scenario_from_dict(none), seed=4)
    assert a.summary["acquisitions"] == b.summary["acquisitions"]
    assert a.summary["spend"] == b.summary["spend"]
    model = OperatingMatrixModel(scenario_from_dict(off), 4)
    assert "contact_windows" not in [m.name for m in model.modules]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cap=st.integers(1, 3), reach=st.floats(0.1, 1.0), start=st.integers(0, 23))
def test_contacts_outside_windows_never_exceed_the_weekly_cap(
    cap: int, reach: float, start: int
) -> None:
    policy = {"weekly_caps": {"msg": cap}, "send_hours": {"msg": [f"{start}-{start + 1}"]}}
    channel = {"daily_reach": reach, "cost_per_contact": 0.1}
    model = OperatingMatrixModel(scenario_from_dict(windowed(policy, channel, days=21)), 7)
    win = windows_of(model)
    n = model.population.n
    for week in range(3):
        outside = np.zeros(n, dtype=np.int64)
        for _ in range(7):
            before = model.ledger.events.get(("msg", "out_of_window"))
            model.step()
            assert win.week_counts[0].max() <= cap
            assert before is None or before.sum() <= model.ledger.events[
                ("msg", "out_of_window")
            ].sum()
        outside += win.week_counts[0]  # all of this week's contacts, in window or not
        assert outside.max() <= cap
        in_window = bool((model.population.availability[0] >> start) & 1)
        weekly_out = events(model, "out_of_window")[1 + 7 * week : 8 + 7 * week].sum()
        assert weekly_out <= cap * n
        if in_window:
            assert weekly_out == 0


def test_policy_schema_errors_name_the_field() -> None:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(windowed({"weekly_caps": {"sms": 2}}))
    assert "contact_policy.weekly_caps.sms" in str(info.value)
    assert "unknown channel 'sms'" in str(info.value)
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(windowed({"themed_days": {"funday": {"theme": "x"}}}))
    assert "contact_policy.themed_days" in str(info.value) and "monday" in str(info.value)
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(windowed({"send_hours": {"msg": ["22-9"]}}))
    assert "'22-9' is not an hour range" in str(info.value)
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(windowed({"fatige": {}}))
    assert "unknown key 'fatige'" in str(info.value) and "fatigue" in str(info.value)


def test_contact_windows_change_elderly_conversion_paired() -> None:
    """Same seeds, windows on vs off, on the social_security_elderly preset."""
    path = REPO / "scenarios/social_security_elderly.yaml"
    diffs = []
    for seed in (1, 2, 3, 4, 5):
        on = run(load_scenario(path, ["days=120"]), seed=seed).summary
        off = run(load_scenario(path, ["days=120", "contact_policy.enabled=false"]), seed).summary
        diffs.append(on["acquisitions"] / off["acquisitions"] - 1.0)
    rel = np.array(diffs)
    # Calls at cooking time and tired WeCom contacts convert less: every pair moves the same
    # way, by several percent, and the mean is several paired standard errors from zero.
    assert np.all(rel < 0)
    assert rel.mean() < -0.04
    se = rel.std(ddof=1) / np.sqrt(rel.size)
    assert abs(rel.mean()) > 3 * se


def test_scheduling_into_customer_windows_is_the_strategy_that_pays() -> None:
    """The lever a bank pulls: the same calls, scheduled into the elderly's good hours [001]
    instead of the call centre's shifts, land in window every time and win more customers."""
    path = REPO / "scenarios/social_security_elderly.yaml"

    def outbound(extra: list[str], seed: int) -> tuple[float, float, float, float]:
        result = run(load_scenario(path, ["days=120", *extra]), seed)
        calls = result.ledger[result.ledger["item"] == "outbound_call"]
        return (
            float(calls["contacts"].sum()),
            float(calls["engaged"].sum()),
            float(calls["out_of_window"].sum()),
            float(result.summary["acquisitions_by_source"]["outbound_call"]),
        )

    won_shifts, won_windows = [], []
    for seed in (1, 2, 3, 4):
        contacts, engaged, outside, won = outbound([], seed)
        s_contacts, s_engaged, s_outside, s_won = outbound(
            ["contact_policy.schedule=customer_windows"], seed
        )
        assert outside > 0.3 * contacts  # shifts 9–12, 13–18: 4 of 9 hours outside the windows
        assert s_outside == 0
        assert abs(s_contacts / contacts - 1) < 0.05  # every elderly window overlaps the shifts
        assert s_engaged / s_contacts > 1.15 * engaged / contacts
        won_shifts.append(won)
        won_windows.append(s_won)
    assert sum(won_windows) > 1.15 * sum(won_shifts)


def test_scheduling_defers_contacts_with_no_good_hour() -> None:
    policy = {"schedule": "customer_windows", "send_hours": {"msg": ["12-14"]}}
    model = OperatingMatrixModel(scenario_from_dict(windowed(policy)), seed=3)
    model.run()
    assert events(model, "contacts").sum() == 0  # windows 9–11, 14–17, 20–22 miss 12–14
    assert model.ledger.spend["msg"].sum() == 0
