"""Social-security elderly customers ([001]; docs/presets.md, social_security_elderly)."""

from __future__ import annotations

from tests.claims import run

P = "social_security_elderly"


def test_contacting_in_their_good_hours_raises_response() -> None:
    """[001] 「选择上午9-11点，下午2-5点及晚上8-10点」 and avoid the school run, shopping and
    cooking: contacts scheduled into the customers' windows win more than channel shifts."""
    shifts = run(P)
    windows = run(P, "contact_policy.schedule=customer_windows")
    assert windows.acquisitions > shifts.acquisitions


def test_the_branch_comes_first_and_outbound_calls_second() -> None:
    """[001] 「优先选择网点线下导流的形式……人工外呼也是不错的第二选择」."""
    arm = run(P)
    branch, outbound = arm.acquired_via("branch"), arm.acquired_via("outbound_call")
    assert branch > outbound > 0


def test_physical_goods_are_claimed_more_than_vouchers() -> None:
    """[001] 「权益配置上多以实体类的生活相关的权益和商超类的虚拟权益为主」 (the elderly
    understand what is close to daily life): physical goods are claimed more per perk shown."""
    arm = run(P)
    goods, vouchers = (
        arm.events(f"perk:{p}", "claims") / arm.events(f"perk:{p}", "shown")
        for p in ("daily_goods_pack", "supermarket_voucher")
    )
    assert goods > vouchers
