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
    triggered = run(P)
    routine = run(
        P,
        "advisers.triggers.holidays=[]",
        "advisers.triggers.market_swing_rate=0",
        "advisers.triggers.product_maturity_days=null",
    )
    won = ("conversions", "recoveries")
    assert sum(triggered.events("advisers", e) for e in won) > sum(
        routine.events("advisers", e) for e in won
    )
