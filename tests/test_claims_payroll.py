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
    for seed in range(3):  # ~200 calls per seed: the share's sd is ~0.034, pooled ~0.02
        arm = run(P, "channels.outbound_call.targets=[aware]", seed=seed)
        reached += arm.events("outbound_call", "contacts")
        added += arm.events("outbound_call", "engaged") + arm.events("outbound_call", "conversions")
    assert reached > 500
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


def _screened_share(seed: int, *overrides: str) -> float:
    """Share of the preset's staff whose employer passes its screen, at the test's size."""
    from simulation.model import OperatingMatrixModel
    from tests.claims import REPO, SEED_OFFSET, load_scenario

    scenario = load_scenario(REPO / "scenarios" / f"{P}.yaml", list(overrides))
    model = OperatingMatrixModel(scenario, seed + SEED_OFFSET)
    screened = model.read_state("employer_screened")
    assert screened is not None
    return float(screened.mean())


def test_screened_employers_keep_more_salary_per_visit() -> None:
    """[001] 「一般选择代发企业需要一定的筛选，比如员工数要在百人以上，代发员工薪资稳定，
    行内信息显示资产留存率偏低等等。此类企业客群通过社群经营来实现留存率的提高可以带来亿级的
    资产提升」: the bank screens
    employers (≥ 100 staff, stable pay, low asset retention) and runs its payroll programme —
    enterprise visits and the payday retention operation (lifecycle_operations
    ``payday_retention``, effect ``retain``) — on their staff. A retention contact keeps a share
    of the salary the customer would still move out, so it keeps the most at the employers
    that retain the least. Against the same programme spread over every employer with as many
    visits and retention contacts (reach ÷ the screened share), the screened programme keeps
    more salary per visit and per retention contact. The screen does not select on salary, so
    one seed's ratio is noisy (per retention contact 0.97–1.39 over seeds 0–19; a re-keyed
    population sampler gave 1.040 pooled over three seeds, under the 1.05 this test once
    asserted): the claim is asserted in distribution, as the 95 % interval of the per-seed
    ratio over 10 paired seeds lying above 1. Over 20 seeds (claims helper, 2026-12-01): per
    visit ×1.28 [1.21, 1.35], per retention contact ×1.20 [1.15, 1.25], higher on 20 / 20 and
    19 / 20 seeds; at 10 seeds the interval excludes 1 with probability > 0.998 (noncentral t
    at the measured spread). ``population.scale: 10`` gives ≈ 170 employers (instead of 17)
    so that the screen is not decided by two or three."""
    from tests.claims import mean_ci

    size = ("population.scale=10", "incrementality.counterfactual=false")
    ops = "lifecycle_operations.operations.payday_retention"
    per_visit, per_contact = [], []
    effort = [0, 0, 0, 0]
    for seed in range(10):
        share = _screened_share(seed, "population.size=3000", *size)
        assert 0.1 < share < 0.9
        screened = run(P, *size, f"channels.enterprise_visit.daily_reach={0.002 / share}",
                       f"{ops}.reach={0.1 / share}", seed=seed)
        everyone = run(P, *size, "channels.enterprise_visit.daily_reach=0.002",
                       "channels.enterprise_visit.audience=everyone",
                       f"{ops}.reach=0.1", f"{ops}.audience=everyone", seed=seed)
        arms = []
        for arm in (screened, everyone):
            visits = arm.events("enterprise_visit", "contacts")
            contacts = arm.events("lifecycle_ops:payday_retention", "contacts")
            kept = float(arm.model.money.series["outflow_kept_flow"].sum())
            arms.append((visits, contacts, kept))
        (v_s, c_s, k_s), (v_e, c_e, k_e) = arms
        per_visit.append((k_s / v_s) / (k_e / v_e))
        per_contact.append((k_s / c_s) / (k_e / c_e))
        for i, x in enumerate((v_s, c_s, v_e, c_e)):
            effort[i] += x
    v_s, c_s, v_e, c_e = effort
    assert 0.9 < v_s / v_e < 1.1 and 0.9 < c_s / c_e < 1.1  # equal effort over the seeds
    _mean, low, _high = mean_ci(per_visit)
    assert low > 1.0, ("per visit", mean_ci(per_visit))
    _mean, low, _high = mean_ci(per_contact)
    assert low > 1.0, ("per retention contact", mean_ci(per_contact))


def test_the_payroll_programme_pays_back_over_the_customers_lifetime() -> None:
    """「此类企业客群通过社群经营来实现留存率的提高可以带来亿级的资产提升」 [001]: the assets stay.
    Against its counterfactual on the same seed (every lever off), the preset loses money within its
    year — 20 account managers' salaries against one year of margin — and pays back once the
    customers it ends the year with are valued beyond the horizon (docs/kpis.md "Lifetime
    value beyond the horizon": end-of-run margin, own lapse path, 10 % a year), within 5 years.
    3,000 rows × ``population.scale`` 6.67 stand for the preset's 20,000, so fixed costs weigh
    as at the default size (default size, seed 0: −79 % → +32 %, payback 3.2 years; at this
    size, seeds 0 / 1: −78 % / −77 % → +26 % / +47 %)."""
    from tests.claims import kpis

    for seed in (0, 1):
        k = kpis(P, "population.scale=6.6667", size=3000, days=365, seed=seed)
        assert k["incremental_roi"] < -0.5
        assert k["incremental_lifetime_roi"] > 0.1
        assert 365 < k["incremental_payback_days"] < 365 + 5 * 365
