"""The channel graph (hand-over edges, group-fed audiences, the Channels 1:1 traffic match) and
staff capacity and productivity: paired-seed tests on scenarios/validation/channel_graph.yaml
(docs/channels.md, "The channel graph", "Staff: capacity and productivity")."""

from __future__ import annotations

import pytest

from simulation import ScenarioError, load_scenario, run, scenario_from_dict
from tests.conftest import REPO, small_scenario_dict

GRAPH = REPO / "scenarios" / "validation" / "channel_graph.yaml"


def _events(overrides: list[str], seed: int = 2) -> tuple[dict, dict]:
    """Summary and ledger event totals {(item, event): count} of the graph scenario."""
    sc = load_scenario(GRAPH, ["incrementality.counterfactual=false", *overrides])
    result = run(sc, seed=seed)
    led = result.ledger.drop(columns=["day", "segment", "category", "spend", "value"])
    totals = led.groupby("item").sum()
    return result.summary, {(i, e): float(v) for (i, row) in totals.iterrows()
                            for e, v in row.items()}


def test_hand_over_moves_a_public_platform_s_viewers_into_the_private_domain() -> None:
    """Public platform → WeCom → mini program: with the edges on, WeCom (no reach of its own)
    contacts the viewers Douyin handed over and the mini program those WeCom handed on; with
    Douyin's edge off (same seed) neither converts anyone."""
    on, ev = _events([])
    off, ev_off = _events(["channels.douyin.hand_over.wecom=0"])
    by = on["acquisitions_by_source"]
    assert ev[("douyin", "handed_over")] > 100
    # only prospects arrive; every arrival was handed over the day before
    assert 0 < ev[("wecom", "handed_in")] <= ev[("douyin", "handed_over")]
    assert 0 < ev[("mini_program", "handed_in")] <= ev[("wecom", "handed_over")]
    assert by["wecom"] > 0 and by["mini_program"] > 0
    assert off["acquisitions_by_source"]["wecom"] == 0
    assert off["acquisitions_by_source"]["mini_program"] == 0
    assert ev_off.get(("wecom", "contacts"), 0) == 0


def test_channels_live_gets_one_public_impression_per_member_sent_in() -> None:
    """视频号 1:1 [001]: the live room's audience is the group members sent in plus as many
    public impressions (traffic_match 1) — some fall on customers, who are not prospects — and
    the match adds live-room acquisitions on the same seed."""
    on, ev = _events([])
    off, ev_off = _events(["channels.live.traffic_match=0"])
    sent_in = ev[("live", "from_groups")] + ev.get(("live", "handed_in"), 0.0)
    assert sent_in > 100
    assert 0.6 * sent_in <= ev[("live", "matched_reach")] <= sent_in
    assert ev_off.get(("live", "matched_reach"), 0.0) == 0.0
    assert on["acquisitions_by_source"]["live"] > off["acquisitions_by_source"]["live"]


def test_a_group_fed_channel_reaches_nobody_without_groups() -> None:
    """With the groups switched off (their declared off, as a leave-one-out does) the live room
    has no members to draw from: no reach, no matched traffic, no error."""
    _, ev = _events(["groups.join_rate=0"])
    assert ev.get(("live", "contacts"), 0.0) == 0.0
    assert ev.get(("live", "matched_reach"), 0.0) == 0.0


def test_the_counterfactual_and_leave_one_out_run_with_graph_edges() -> None:
    sc = load_scenario(GRAPH, ["days=20", "incrementality.contributions=leave_one_out"])
    s = run(sc, seed=1).summary
    assert s["incremental_acquisitions"] > 0
    assert s["loo_acquisitions__groups"] > 0  # the live room lives on the groups


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("channels.douyin.hand_over.nowhere=0.2", "channels.douyin.hand_over.nowhere"),
        ("channels.douyin.hand_over.douyin=0.2", "cannot hand customers over to itself"),
        ("channels.douyin.hand_over.wecom=1.5", "channels.douyin.hand_over.wecom"),
        ("channels.live.audience=friends", "channels.live.audience"),
    ],
)
def test_bad_graph_edges_are_clear_errors(override: str, needle: str) -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario(GRAPH, [override])
    assert needle in str(err.value)


def _staffed(**staff) -> dict:
    data = small_scenario_dict(days=60)
    data["word_of_mouth"] = {"imitation": 0.0}
    data["channels"] = {
        "calls": {
            "kind": "outbound_call",
            "daily_reach": 0.2,
            "conversion_on_contact": 0.05,
            "staff": {"headcount": 4, "contacts_per_day": 20, "cost_per_day": 300.0, **staff},
        }
    }
    data["incrementality"] = {"counterfactual": False}
    return data


def test_part_time_staff_reach_and_cost_their_time_share() -> None:
    """CCB's part-time managers [001]: half their day on the channel = half the contacts a day
    and half the staff cost of the same headcount full time."""
    full = run(scenario_from_dict(_staffed()), seed=4)
    half = run(scenario_from_dict(_staffed(time_share=0.5)), seed=4)

    def contacts(r) -> float:
        return float(r.ledger["contacts"].fillna(0).sum())

    assert contacts(full) == 80 * 60  # capacity-bound: 4 × 20 a day
    assert contacts(half) == 40 * 60
    assert half.summary["spend"] == pytest.approx(full.summary["spend"] / 2)
    assert full.summary["spend"] == pytest.approx(4 * 300.0 * 60)


def test_productive_staff_convert_more_per_contact() -> None:
    """A trained central team (productivity 2) converts ≈ 2× per contact what the same
    headcount does at productivity 1, for the same cost (paired seeds)."""
    rates = {}
    for prod in (1.0, 2.0):
        conv = cont = 0.0
        for seed in (1, 2):
            r = run(scenario_from_dict(_staffed(productivity=prod)), seed=seed)
            conv += float(r.summary["acquisitions_by_source"]["calls"])
            cont += float(r.ledger["contacts"].fillna(0).sum())
        rates[prod] = conv / cont
    assert 1.6 < rates[2.0] / rates[1.0] < 2.4


CHAIN = REPO / "scenarios" / "validation" / "chained_route.yaml"


def _chain(overrides: list[str], seed: int = 3):
    sc = load_scenario(CHAIN, ["incrementality.counterfactual=false", *overrides])
    return run(sc, seed=seed)


def test_a_chained_route_walks_event_group_branch_and_pays_the_prize() -> None:
    """Event → group → prize at the branch → customer [001]: each step keeps a share of the one
    before, today's group_join invitees are seated in groups the same day, the prize is paid for
    every branch visit, and conversions are the event's."""
    result = _chain([])
    led = result.ledger
    ev = led[led["item"] == "match_day"].sum(numeric_only=True)
    assert ev["responses"] >= ev["group_joins"] >= ev["branch_visits"] >= ev["conversions"] > 0
    assert result.summary["acquisitions_by_source"]["match_day"] == ev["conversions"]
    route_spend = float(led.loc[led["item"] == "route:event_to_branch", "spend"].sum())
    assert route_spend == pytest.approx(30.0 * ev["branch_visits"])


def test_group_join_invitees_are_seated_the_same_day() -> None:
    """The channels' declared ``group_invited_day`` is read by the groups lever, which seats
    every invitee (not already in a group) on the day of the invitation."""
    from simulation import OperatingMatrixModel

    sc = load_scenario(CHAIN, ["incrementality.counterfactual=false", "days=15"])
    model = OperatingMatrixModel(sc, 3)
    seated = 0
    for _ in range(15):
        model.step()
        invited = model.read_state("group_invited_day")
        today = invited == model.day
        assert (model.read_state("group")[today] >= 0).all()
        seated += int(today.sum())
    assert seated > 20


def test_prizes_that_run_out_stop_the_chain_at_the_branch() -> None:
    """The same seed with a tenth of the prize budget: branch visits stop when the prizes are
    gone, and so do the branch conversions; the steps before the branch go on."""
    full = _chain([])
    short = _chain(["flows.routes.event_to_branch.budget=600"])

    def ev(r, col: str) -> float:
        return float(r.ledger.loc[r.ledger["item"] == "match_day", col].sum())

    assert ev(short, "branch_visits") <= 20 < ev(full, "branch_visits")
    assert ev(short, "conversions") < ev(full, "conversions")
    assert ev(short, "group_joins") > 0.8 * ev(full, "group_joins")
