"""WeBank's and MYbank's SME routes ([000]; docs/presets.md, webank_sme / mybank_sme)."""

from __future__ import annotations

from tests.claims import Arm, run

P = "webank_sme"
REDIRECT = (
    "channels.douyin_video.route=redirect_screen_early",
    "channels.douyin_live.route=redirect_screen_early",
)
DOUYIN = ("douyin_video", "douyin_live")


def _leads_and_loans(arm: Arm) -> tuple[int, int]:
    return (
        sum(arm.events(c, "leads") for c in DOUYIN),
        sum(arm.events(c, "conversions") for c in DOUYIN),
    )


def test_capture_then_screen_gives_more_leads_and_a_lower_lead_to_loan_rate() -> None:
    """[000] 「微众银行，强申请留资……再行筛选」 vs 「网商银行……在一开始就筛选出更明确需求的客户」:
    on the same channel set (experiments/webank_vs_mybank.yaml), capturing every
    phone number gives more leads, screening first gives fewer leads that draw down more often."""
    for seed in (0, 1):
        capture = run(P, size=4000, days=120, seed=seed)
        redirect = run(P, *REDIRECT, size=4000, days=120, seed=seed)
        leads_c, loans_c = _leads_and_loans(capture)
        leads_r, loans_r = _leads_and_loans(redirect)
        assert leads_c > 2 * leads_r
        assert loans_c / leads_c < loans_r / leads_r


def test_urgency_wording_raises_responses() -> None:
    """[000] 「持续强调“手慢无”、“限时”……阅读量平均要高出30%」: urgency wording on the
    Douyin and 公众号 posts brings more responses into the route."""
    urgent = run(P, size=4000, days=120)
    plain = run(P, "contact_policy.urgency.multiplier=1.0", size=4000, days=120)
    responses = ("douyin_video", "douyin_live", "service_account")
    r_urgent = sum(urgent.events(c, "responses") for c in responses)
    r_plain = sum(plain.events(c, "responses") for c in responses)
    assert 1.15 * r_plain < r_urgent < 1.45 * r_plain
