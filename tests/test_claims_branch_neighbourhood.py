"""Branch-neighbourhood (网周) customers ([001]; docs/presets.md, branch_neighbourhood)."""

from __future__ import annotations

from tests.claims import run

P = "branch_neighbourhood"


def test_a_managers_hobby_persona_converts_more() -> None:
    """[001] 「一客户经理因爱好健身……多次互动交流成功营销百万理财产品」: a manager known through a
    shared hobby is trusted, so 1:1 contact converts and wins back more than without a persona."""
    won = ("conversions", "recoveries")
    for seed in (0, 1):  # few adviser wins at a small size: two seeds, each paired
        persona = run(P, size=5000, days=200, seed=seed)
        plain = run(P, "advisers.persona_lift=1.0", size=5000, days=200, seed=seed)
        assert sum(persona.events("advisers", e) for e in won) > sum(
            plain.events("advisers", e) for e in won
        )


def test_offline_events_bring_neighbours_into_the_groups() -> None:
    """[001] 「与本地兵乓球协会联合举办中老年友谊交流赛……活动当天引导用户进群」: events lead
    people into the groups; without them fewer join."""
    events = run(P)
    none = run(P, "channels.offline_event.daily_reach=0")
    assert events.events("groups", "joins") > none.events("groups", "joins")
    assert events.acquisitions > none.acquisitions


def test_april_weekend_outings_draw_neighbours_in() -> None:
    """[001] 「四月份花儿盛开之时，周末会邀请几位客户朋友一起赏花摄影，客户粘性增强」: the April
    weekend outings (the calendar) bring more neighbours into the private domain than the same
    weekends without them."""
    outings = run(P, days=140)
    none = run(P, "contact_policy.calendar={}", days=140)
    april_weekends = [97, 98, 104, 105, 111, 112, 118, 119]  # 2024-04-06/07 … 04-27/28
    on = outings.events_per_day("offline_event", "engaged")[april_weekends].sum()
    off = none.events_per_day("offline_event", "engaged")[april_weekends].sum()
    assert on > off


def test_event_group_branch_prize_chain_brings_new_customers_and_funds() -> None:
    """[001] 「活动当天引导用户进群，通过进店领取比赛奖品，
    当天成功转化新客户多名，引进新资金百万」: the offline event's chained route
    (match → group_join → branch_visit with the prize → apply, flows.routes.match_to_branch)
    against the same event without the route, at 3,000 × 150 days. Over seeds 0–19 (claims
    helper, 2026-12-01) the chain wins +13.9 [+8.8, +18.9] customers a seed (95 % interval;
    up on 18 / 20 seeds, 1 to 38; at least +10 on only 13 / 20, the per-seed threshold this
    test had, which a re-keyed population sampler broke with +3 on seed 0), so the test
    asserts the interval of the paired difference over 14 seeds lies above 0 (probability
    0.993 at the measured spread). The new funds are real in distribution but not at a test's
    size: +¥0.33M [+¥0.03M, +¥0.62M] AUM a seed over the same 20 seeds, nearly all of it the
    new customers' own (aum_acquired +¥0.33M), with a heavy-tailed spread (−¥1.14M to
    +¥1.60M; positive on 16 / 20), so an interval excluding 0 would need ≈ 40 seeds (power
    0.60 at 20): not asserted (docs/presets.md, the row of this claim)."""
    from tests.claims import mean_ci

    added = []
    for seed in range(14):
        chain = run(P, seed=seed)
        plain = run(P, "channels.offline_event.respond_on_contact=0",
                    "channels.offline_event.route=null", seed=seed)
        assert chain.events("offline_event", "branch_visits") > 0
        added.append(chain.acquisitions - plain.acquisitions)
    _mean, low, _high = mean_ci(added)
    assert low > 0, (added, mean_ci(added))


def test_the_branchs_operations_pay_back_over_the_customers_lifetime() -> None:
    """「引进新资金百万」「成功营销百万理财产品」 [001]: funds that stay. Against its counterfactual
    on the same seed, the preset loses money within its year (salaried managers, events, prizes) and
    pays back once its customers are valued beyond the horizon (docs/kpis.md "Lifetime value
    beyond the horizon"), within 5 years. 3,000 rows × ``population.scale`` 6.67 stand for the
    preset's 20,000 (default size, seed 0: −76 % → +232 %, payback 2.4 years)."""
    from tests.claims import kpis

    for seed in (0, 1):
        k = kpis("branch_neighbourhood", "population.scale=6.6667", size=3000, days=365,
                 seed=seed)
        assert k["incremental_roi"] < -0.5
        assert k["incremental_lifetime_roi"] > 0.5
        assert 365 < k["incremental_payback_days"] < 365 + 5 * 365
