"""The dashboard's model and levers without a browser: levers come from the scenario, apply
exactly where they say, A and B share a seed, and the live charts show both strategies."""

from __future__ import annotations

import re

import numpy as np
import pytest
from matplotlib.collections import PathCollection
from matplotlib.patches import Rectangle
from mesa.visualization.solara_viz import _check_model_params, split_model_params

from simulation.dashboard import charts
from simulation.dashboard.app import CELL, kpi_html, model_params
from simulation.dashboard.levers import (
    COMPARE_OFF,
    apply_levers,
    comparable,
    compare_values,
    levers_for,
)
from simulation.dashboard.session import NETWORK_SAMPLE, TrainingSession
from simulation.scenario.load import load_scenario, scenario_from_dict
from tests.conftest import REPO


@pytest.fixture(scope="module")
def base():
    return load_scenario("scenarios/quickstart.yaml", ["population.size=1500", "days=60"])


def test_levers_cover_size_channels_budgets_and_word_of_mouth(base):
    levers = {lv.key: lv for lv in levers_for(base)}
    assert levers["population_size"].value == 1500
    for ch in base.channel_names:
        assert f"channels__{ch}__daily_reach" in levers
    assert levers["channels__douyin_ads__budget"].value == int(base.channels["douyin_ads"].budget)
    assert levers["word_of_mouth__imitation"].value == base.word_of_mouth.imitation
    assert all(re.fullmatch(r"\w+", k) for k in levers)  # usable as keyword arguments


def test_strategy_sections_get_their_levers():
    sc = load_scenario("scenarios/social_security_elderly.yaml")
    levers = levers_for(sc)
    labels = [lv.label for lv in levers]
    perks = sc.model_dump()["perks"]["catalogue"]
    assert [f"{name}: face value" for name in perks] == [
        label for label in labels if label.endswith("face value")
    ]
    assert "contact policy: enabled" in labels
    # Widgets and ranges come from the field types: probabilities stay in [0, 1], counts are
    # integer sliders, a two-valued choice is a checkbox between its values.
    by_key = {lv.key: lv for lv in levers}
    assert by_key["referral__invite_rate"].kind == "SliderFloat"
    assert 0 <= by_key["referral__invite_rate"].high <= 1
    assert by_key["groups__cap"].kind == "SliderInt"
    assert by_key["contact_policy__schedule"].options == ("channel_hours", "customer_windows")
    # One tier's reward slider sets that tier's reward and nothing else.
    data = apply_levers(sc, levers, {"referral__tiers__0__reward": 99.0})
    tiers = scenario_from_dict(data).referral.tiers
    assert tiers[0].reward == 99.0
    assert [t.reward for t in tiers[1:]] == [t.reward for t in sc.referral.tiers[1:]]
    assert [t.from_referral for t in tiers] == [t.from_referral for t in sc.referral.tiers]
    off = scenario_from_dict(apply_levers(sc, levers, {"contact_policy__enabled": False}))
    assert off.contact_policy.enabled is False


def test_apply_scales_per_segment_reach_and_sets_values(base):
    levers = levers_for(base)
    data = apply_levers(base, levers, {"channels__outbound_call__daily_reach": 2.0,
                                       "channels__douyin_ads__budget": 5000,
                                       "word_of_mouth__imitation": 0.01, "population_size": 900})
    sc = scenario_from_dict(data)
    before = base.channels["outbound_call"].daily_reach
    after = sc.channels["outbound_call"].daily_reach
    assert {k: 2 * v for k, v in before.items()} == pytest.approx(after)
    assert sc.channels["douyin_ads"].budget == 5000
    assert sc.word_of_mouth.imitation == 0.01
    assert sc.population.size == 900
    # Untouched levers keep the scenario's values exactly.
    assert scenario_from_dict(apply_levers(base, levers, {})) == base


@pytest.mark.parametrize(
    ("budget", "imitation", "size"), [(100_000, 0.002, 1500), (12_345, 0.0013, 1234)]
)
def test_scenario_values_sit_on_the_slider_grid(base, budget, imitation, size):
    # A browser slider snaps to min + k·step: the scenario's own value must be on that grid.
    sc = load_scenario("scenarios/quickstart.yaml", [
        f"channels.douyin_ads.budget={budget}", f"word_of_mouth.imitation={imitation}",
        f"population.size={size}",
    ])
    for lever in levers_for(sc):
        spec = lever.param()
        if lever.kind == "Checkbox":
            continue
        k = (spec["value"] - spec["min"]) / spec["step"]
        assert k == pytest.approx(round(k), abs=1e-6), lever.label
        assert spec["min"] <= spec["value"] <= spec["max"]


def test_reach_multiplier_never_leaves_a_probability(base):
    levers = levers_for(base)
    data = apply_levers(base, levers, {"channels__wecom_1to1__daily_reach": 1e6})
    assert scenario_from_dict(data).channels["wecom_1to1"].daily_reach == 1.0


def test_compare_changes_only_the_chosen_lever(base):
    levers = levers_for(base)
    label = next(lv.label for lv in levers if lv.key == "channels__branch__daily_reach")
    assert label in comparable(levers)
    assert "customers simulated" not in comparable(levers)
    values = compare_values(levers, {"word_of_mouth__imitation": 0.003}, label, 3.0)
    assert values == {"word_of_mouth__imitation": 0.003, "channels__branch__daily_reach": 3.0}


def test_model_params_are_accepted_by_mesa(base):
    params = model_params(base, 4)
    _check_model_params(TrainingSession.__init__, params)
    user, fixed = split_model_params(params)
    assert fixed == {"base": base}
    assert user["seed"]["value"] == 4
    assert user["compare"]["values"][0] == COMPARE_OFF
    session = TrainingSession(**fixed, **{k: v["value"] for k, v in user.items()})
    assert list(session.strategies) == ["A"]
    assert session.strategies["A"].scenario == base


def test_a_and_b_share_the_seed_and_differ_by_the_lever(base):
    levers = levers_for(base)
    label = next(lv.label for lv in levers if lv.key == "channels__branch__daily_reach")
    same = TrainingSession(base=base, seed=3, compare=label, compare_factor=1.0)
    boosted = TrainingSession(base=base, seed=3, compare=label, compare_factor=4.0)
    for _ in range(30):
        same.step()
        boosted.step()
    k_same = same.kpis()
    assert k_same["A"] == k_same["B"]  # factor 1: identical twins on one seed
    k = boosted.kpis()
    assert k["A"] == k_same["A"]
    assert k["B"]["acquisitions"] > k["A"]["acquisitions"]
    assert boosted.day == 30 and boosted.steps == 30
    html = kpi_html(boosted)
    assert f'data-kpi="acquisitions" data-strategy="B" style="{CELL}">' \
           f'{k["B"]["acquisitions"]:,}<' in html
    assert "B = A with branch: daily reach multiplier × 4" in html


def test_levers_moved_away_from_the_scenario_are_listed(base):
    session = TrainingSession(base=base, seed=0, word_of_mouth__imitation=0.004,
                              channels__branch__daily_reach=1.0)
    assert session.changed_levers() == [("word of mouth: imitation", 0.004)]
    assert "A: word of mouth: imitation = 0.004" in kpi_html(session)


def test_session_stops_at_the_horizon(base):
    session = TrainingSession(base=base, seed=0)
    while session.running:
        session.step()
    assert session.day == base.days


def test_invalid_lever_combination_falls_back_with_a_message(base):
    session = TrainingSession(base=base, seed=0, word_of_mouth__imitation=2.5)  # not a probability
    assert session.strategies["A"].scenario == base
    assert len(session.messages) == 1 and "word_of_mouth.imitation" in session.messages[0]


def test_live_charts_show_both_strategies(base):
    levers = levers_for(base)
    label = next(lv.label for lv in levers if lv.key == "channels__branch__daily_reach")
    session = TrainingSession(base=base, seed=1, compare=label, compare_factor=3.0)
    for _ in range(20):
        session.step()
    funnel = charts.funnel_chart(session).axes[0]
    bars = [p for p in funnel.patches if isinstance(p, Rectangle)]
    assert len(bars) == 2 * len(charts.FUNNEL_BARS)
    assert sum(b.get_width() for b in bars[: len(charts.FUNNEL_BARS)]) == 1500
    ax_c, ax_p = charts.conversion_cpa_chart(session).axes
    assert len(ax_c.get_lines()) == len(ax_p.get_lines()) == 2
    assert ax_p.get_ylabel() == "CPA (¥)"
    series = session.series("B")
    assert ax_c.get_lines()[1].get_ydata()[-1] == pytest.approx(series["conversion_pct"][-1])
    retention = charts.retention_chart(session).axes[0]
    assert [line.get_label() for line in retention.get_lines()] == ["A", "B: " + label + " × 3"]
    net = charts.network_chart(session)
    panels = [ax for ax in net.axes if ax.collections]
    assert len(panels) == 2
    for ax in panels:
        dots = [c for c in ax.collections if isinstance(c, PathCollection)]
        assert sum(len(c.get_offsets()) for c in dots) == NETWORK_SAMPLE
    assert np.isfinite(series["cpa"][-1])


def test_group_size_and_window_scheduling_levers_on_real_presets() -> None:
    """The issue's levers exist on the presets that have those sections, and they apply."""
    from simulation import load_scenario, scenario_from_dict
    from simulation.dashboard.levers import apply_levers, levers_for

    sc = load_scenario(REPO / "scenarios/operating_matrix.yaml")
    levers = {lv.key: lv for lv in levers_for(sc)}
    # The slider's range is the field's own bound (GroupsConfig.cap ≤ 500, WeCom external
    # groups, docs/sources.md §2.4).
    assert levers["groups__cap"].high == 500
    assert {"advisers__capacity", "referral__tiers__0__reward",
            "contact_policy__schedule"} <= set(levers)
    data = apply_levers(sc, list(levers.values()),
                        {"groups__cap": 120, "contact_policy__schedule": True})
    changed = scenario_from_dict(data)
    assert changed.groups.cap == 120
    assert changed.contact_policy.schedule == "customer_windows"


def test_kpi_cells_print_negative_numbers_as_the_cli_does() -> None:
    """The KPI panel printed "¥-1,234" and "-67.20%"; it uses formatting.fmt now."""
    from simulation.dashboard.app import _fmt

    assert (_fmt(-0.6723, "pct"), _fmt(-1234.0, "money"), _fmt(-5, "int"), _fmt(None, "pct")) == (
        "\u221267.23%", "\u2212¥1,234", "\u22125", "—")
    assert (_fmt(0.1234, "pct"), _fmt(56.5, "money"), _fmt(1234.0, "money")) == (
        "12.34%", "¥56.50", "¥1,234")
