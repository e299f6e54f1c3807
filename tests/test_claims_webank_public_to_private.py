"""WeBank's public-to-private operations ([003]; docs/presets.md, webank_public_to_private)."""

from __future__ import annotations

from tests.claims import run

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
    # Advisers serve a few hundred customers: the size where their wins are countable.
    won = ("conversions", "recoveries")
    wins_triggered = wins_routine = 0
    for seed in (0, 1):  # 0–4 adviser wins per run even at this size: pooled over two seeds
        triggered = run(P, size=10000, days=200, seed=seed)
        routine = run(P, *off, size=10000, days=200, seed=seed)
        assert triggered.events("advisers", "messages") > 1.5 * routine.events(
            "advisers", "messages"
        )
        wins_triggered += sum(triggered.events("advisers", e) for e in won)
        wins_routine += sum(routine.events("advisers", e) for e in won)
    assert wins_triggered > wins_routine


def test_a_named_adviser_keeps_customers_and_their_money() -> None:
    """[003] 「通過長期、專業的互動，將交易關係升華為顧問式陪伴關係」: served customers lapse less
    (``advisers.churn_multiplier``), so with advisers fewer customers are lost and more assets
    stay (AUM, econ's money layer) than without them, on each of two paired seeds."""
    from simulation.money.kpis import money_kpis
    from simulation.population.stages import Stage

    lost = (Stage.AT_RISK, Stage.DORMANT, Stage.CHURNED)
    for seed in (0, 1):
        with_advisers = run(P, seed=seed)
        without = run(P, "advisers.count=0", seed=seed)
        assert with_advisers.events("advisers", "kept") > 0
        assert with_advisers.stage_count(*lost) < without.stage_count(*lost)
        assert money_kpis(with_advisers.model)["aum"] > money_kpis(without.model)["aum"]
