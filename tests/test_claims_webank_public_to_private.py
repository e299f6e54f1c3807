"""WeBank's public-to-private operations ([003]; docs/presets.md, webank_public_to_private)."""

from __future__ import annotations

import numpy as np

from tests.claims import incremental, mean_ci, run

P = "webank_public_to_private"


def test_public_content_ends_in_the_mini_program_or_app() -> None:
    """[003] 「最終都將流量導向小程序或APP，完成用戶沉澱」: most acquisitions happen in the mini
    program or the APP, fed by Douyin, Channels and Weibo content."""
    arm = run(P)
    landed = arm.acquired_via("mini_program") + arm.acquired_via("app")
    assert landed > 0.5 * arm.acquisitions


def test_adviser_triggers_make_contact_count() -> None:
    """[003] 「在節假日、市場波動、產品到期等關鍵節點……提供定制化提醒」: advisers who reach
    out on holidays, market swings and product maturity win and keep more than routine contact."""
    off = (
        "advisers.triggers.holidays=[]",
        "advisers.triggers.market_swing_rate=0",
        "advisers.triggers.product_maturity_days=null",
    )
    # At the preset's own per-message rates (0.01 conversion, 0.05 recovery) advisers win 0–5
    # customers a run at any test size, too few to order two arms reliably. Both arms here get
    # the same 20 advisers and per-message rates ×20 / ×10, so every message can count; what
    # differs is only whether holidays, market swings and maturities trigger contact (and its
    # lift). Measured 2026-12-01: 28 / 26 / 15 vs 6 / 7 / 7 wins on three paired seeds at
    # 5,000 × 200 days (17–19 vs 3–6 when first written).
    same = ("advisers.count=20", "advisers.conversion_per_contact=0.2",
            "advisers.recovery_per_contact=0.5")
    won = ("conversions", "recoveries")
    pooled_triggered = pooled_routine = 0
    for seed in (0, 1, 2):
        triggered = run(P, *same, size=5000, days=200, seed=seed)
        routine = run(P, *same, *off, size=5000, days=200, seed=seed)
        assert triggered.events("advisers", "messages") > 2 * routine.events(
            "advisers", "messages"
        )
        wins_triggered = sum(triggered.events("advisers", e) for e in won)
        wins_routine = sum(routine.events("advisers", e) for e in won)
        assert wins_triggered > wins_routine, (seed, wins_triggered, wins_routine)
        pooled_triggered += wins_triggered
        pooled_routine += wins_routine
    assert pooled_triggered > 2 * pooled_routine


def test_a_named_adviser_keeps_customers_and_their_money() -> None:
    """[003] 「通過長期、專業的互動，將交易關係升華為顧問式陪伴關係」: served customers lapse less
    (``advisers.churn_multiplier``), so with advisers fewer customers are lost and more assets
    stay (AUM, econ's money layer) than without them, on each of two paired seeds.

    The assets are compared on the customers the advisers serve at the end plus every customer
    lost in either arm (that set holds the served customers who churned and were released), the
    same customers in both arms. The whole population's AUM is not a paired measure at this
    size: the arms win different other customers, which moves it by ±¥0.4M, more than the few
    kept customers hold (it failed on seeds 2 and 3 before the referral goal gradient and on
    seed 0 after it; the served set gained +¥6k to +¥176k on all of seeds 0–5, both before and
    after).

    The customers kept are few at this size: over seeds 0–15, without advisers 3.0 [2.0, 4.0]
    more are lost a seed (0 to 7: none on seed 5, 21 vs 21 on seed 200), and the served set
    holds +¥74k [+¥39k, +¥109k] more (positive on 16/16, +¥5k to +¥252k). So per seed the lost
    may tie: over six paired seeds the test asserts never more lost with advisers, the 95 %
    interval of the per-seed difference above 0, and the served set's AUM higher pooled."""
    from simulation.population.stages import Stage

    lost = (Stage.AT_RISK, Stage.DORMANT, Stage.CHURNED)
    fewer_lost = []
    pooled = {"on": 0.0, "off": 0.0}
    for seed in range(6):
        with_advisers = run(P, seed=seed)
        without = run(P, "advisers.count=0", seed=seed)
        assert with_advisers.events("advisers", "kept") > 0
        lost_on, lost_off = with_advisers.stage_count(*lost), without.stage_count(*lost)
        assert lost_on <= lost_off, (seed, lost_on, lost_off)
        fewer_lost.append(lost_off - lost_on)
        on, off = with_advisers.model, without.model
        same = (
            (on.read_state("adviser") >= 0)
            | np.isin(on.population.stage, lost)
            | np.isin(off.population.stage, lost)
        )
        pooled["on"] += float(on.money.account_arrays()["aum"][same].sum())
        pooled["off"] += float(off.money.account_arrays()["aum"][same].sum())
    assert mean_ci(fewer_lost)[1] > 0, (fewer_lost, mean_ci(fewer_lost))
    assert pooled["on"] > pooled["off"], pooled


def test_wecom_advisers_earn_more_than_they_cost() -> None:
    """[003] calls the 1V1 named adviser the ace of public-to-private operations: advisers turn
    followers into holders of more products and keep them (``advisers.holdings_uplift``,
    tuned, and ``churn_multiplier``). Over the advisers-off counterfactual on the same seed,
    one adviser's added value exceeds their ¥108k a year by > 25 % on each of three seeds
    (re-measured 2026-12-01: +62 % / +67 % / +91 % at 5,000 customers × 365 days). The claim
    needs the uplift, not its tuned size: added value ÷ cost is 0.03–0.08 at uplift 0, 0.56–0.69
    at 0.5, 0.83–1.00 at 0.75, 1.09–1.30 at 1.0 on the same seeds, so it holds for an uplift
    above ≈ 0.9 (served customers earning ≈ 1.9× what they would unserved); no published
    figure was found for it (docs/sources.md "not found")."""
    for seed in (0, 1, 2):
        on = run(P, "advisers.count=1", size=5000, days=365, seed=seed)
        off = run(P, "advisers.count=1", "advisers.count=0", size=5000, days=365, seed=seed)
        inc = incremental(on, off)
        assert inc["spend"] > 100_000
        assert inc["value"] > 1.25 * inc["spend"], (seed, inc)


def test_the_online_referral_officer_and_extra_points_raise_invitations() -> None:
    """[000] 「推荐官线上化，让客户转介几人、有什么好处更清晰，更有动力转介」 and
    「对成功转介多次的客户，再提供额外积分」: with the 推荐官 online
    (``referral.officer_visible``, × ``officer_uplift`` 1.2, inf.) and the extra points for
    repeat referrers (the preset's 20 → 40 from the 3rd, read ahead with the goal gradient,
    ``referral.ladder_weight``, docs/sources.md §2.9), customers invite more than with the
    officer hidden or with a flat 20, on three paired seeds at 3,000 × 150 days. At the
    preset's ``invite_rate`` 0.01 a run this size makes a few dozen invitations, so all arms
    invite at 0.3: 732 / 869 / 749 invitations vs 649 / 651 / 634 (officer hidden) and
    664 / 657 / 599 (flat). The claim is about the wish to refer; referred customers follow
    through acceptance draws too noisy to order at this size (37 vs 45 and 43 on seed 0), so
    they are not asserted. Per seed the preset invites ×1.21 [1.16, 1.26] of either other arm
    over seeds 0–11 (min ×1.08; ×1.04 against the flat arm on seed 100), so a per-seed 1.05×
    sits in the tail: the test asserts, over six paired seeds, that the 95 % interval of the
    per-seed ratio lies above 1 against each arm, and the pooled invitations 1.1× above each."""
    rate = "referral.invite_rate=0.3"
    arms = {
        "hidden": ("referral.officer_visible=false",),
        "flat": ("referral.tiers=[{from_referral: 1, reward: 20}]",),
    }
    pooled = {"preset": 0, "hidden": 0, "flat": 0}
    ratios: dict[str, list[float]] = {"hidden": [], "flat": []}
    for seed in range(6):
        preset = run(P, rate, seed=seed).events("referral", "invitations")
        pooled["preset"] += preset
        for name, overrides in arms.items():
            other = run(P, rate, *overrides, seed=seed).events("referral", "invitations")
            ratios[name].append(preset / other)
            pooled[name] += other
    for name, values in ratios.items():
        assert mean_ci(values)[1] > 1, (name, values, mean_ci(values))
    assert pooled["preset"] > 1.1 * max(pooled["hidden"], pooled["flat"]), pooled
