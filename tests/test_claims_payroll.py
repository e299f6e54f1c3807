"""Payroll (代发) staff ([001]; docs/presets.md, payroll): paired-seed tests of its claims."""

from __future__ import annotations

from simulation.population.stages import Stage
from tests.claims import run

P = "payroll"


def test_outbound_calls_add_at_least_sixty_percent_to_wecom() -> None:
    """[001] 「人工外呼企微添加率可以达到60%以上」: of the staff an outbound call reaches
    (called while still outside the private domain), about 60 % are added to WeCom; the
    preset's other targets (already engaged) cannot be added twice, so the test calls only
    the aware."""
    reached = added = 0
    for seed in range(2):  # ~200 calls per seed: the share's sd is ~0.034, pooled ~0.024
        arm = run(P, "channels.outbound_call.targets=[aware]", seed=seed)
        reached += arm.events("outbound_call", "contacts")
        added += arm.events("outbound_call", "engaged") + arm.events("outbound_call", "conversions")
    assert reached > 400
    assert 0.55 <= added / reached <= 0.7


def test_recall_after_payday_keeps_more_staff_and_salary_with_the_bank() -> None:
    """[001] 「工资下发后转入其他行，造成客户流失」, fought by recall ([002] recall red packet) so
    that 「通过社群经营来实现留存率的提高可以带来亿级的资产提升」: the payday recall leaves fewer
    dormant and churned staff, more assets (AUM) and a higher 30-day payroll asset retention
    (econ's money layer), on each of two paired seeds."""
    from simulation.money.kpis import money_kpis

    lost = (Stage.DORMANT, Stage.CHURNED)
    for seed in (0, 1):
        on = run(P, seed=seed)
        off = run(P, "lifecycle_operations.operations.payday_recall.reach=0", seed=seed)
        assert on.stage_count(*lost) < off.stage_count(*lost)
        assert on.value > off.value
        m_on, m_off = money_kpis(on.model), money_kpis(off.model)
        assert m_on["aum"] > m_off["aum"]
        assert m_on["asset_retention_30d"] > m_off["asset_retention_30d"]


def test_enterprise_visits_bring_staff_into_the_private_domain() -> None:
    """[001] 「进企依然是导流代发客群进入私域的好方式」: enterprise visits convert and engage."""
    on = run(P)
    off = run(P, "channels.enterprise_visit.daily_reach=0")
    assert on.acquired_via("enterprise_visit") > 0
    assert on.acquisitions > off.acquisitions
