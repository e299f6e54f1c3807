"""CGB's card pilot ([001]; docs/presets.md, cgb_pilot): paired-seed tests of its claims."""

from __future__ import annotations

from tests.claims import run

P = "cgb_pilot"


def test_content_that_is_not_sustained_converts_less_over_time() -> None:
    """[001] 「社群内容不持续」 — no full-time staff follow up, so posts fade and the groups
    convert less late in the run than early; sustained content converts more."""
    fading = run(P, days=200)
    sustained = run(P, "groups.content_half_life_days=null", days=200)
    late_fading = fading.events_per_day("groups", "conversions")[101:].sum()
    late_sustained = sustained.events_per_day("groups", "conversions")[101:].sum()
    assert late_sustained > 2 * late_fading  # the gap opens as the posts fade
    assert sustained.acquired_via("groups") > 1.5 * fading.acquired_via("groups")


def test_national_groups_post_deals_most_members_cannot_use() -> None:
    """[001] 「社群内我们会发现用户来自于全国各地」 + [004] geography gates redemption: in
    CGB's national welfare groups most coupon claims are for another city's merchants; the same
    groups assigned by city would redeem several times more."""
    national = run(P)
    by_city = run(P, "groups.assignment=city")
    coupon = "perk:group_coupon"
    claims = national.events(coupon, "claims")
    assert national.events(coupon, "geo_mismatch") > 0.6 * claims
    assert by_city.events(coupon, "redemptions") > 2 * national.events(coupon, "redemptions")
