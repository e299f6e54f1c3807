"""CGB's card pilot ([001]; docs/presets.md, cgb_pilot): paired-seed tests of its claims."""

from __future__ import annotations

from tests.claims import run

P = "cgb_pilot"


def operators_at(size: int, headcount: float = 2.0) -> str:
    """The preset's operators scaled to a test world: ``headcount`` people for the preset's
    20,000 card holders, in proportion for ``size`` (the operators run a share of a world's
    groups, so at a tenth of the customers a tenth of the people keeps the same share)."""
    return f"groups.operators.headcount={headcount * size / 20000}"


def test_content_that_is_not_sustained_converts_less_over_time() -> None:
    """[001] 「社群内容不持续」, because 「没有全职人员跟进……工具能力没有跟上」: two part-time
    operators posting by hand (0.4 full-time equivalents × 20 groups each, scaled to the test
    size) keep up with the first groups and fall behind as the groups multiply (a third of
    the live groups run over the run), so the groups convert less late in the run than the
    same groups run by operators who keep up (tools: 3,000 groups per operator, as CMB's),
    on the same seeds: 8 vs 21, 6 vs 20 late conversions on seeds 0 and 1 at 3,000 × 200 (8 vs
    21, 7 vs 20 before the coupons followed the rota, too)."""
    for seed in (0, 1):
        behind = run(P, operators_at(3000), days=200, seed=seed)
        keeping_up = run(
            P, operators_at(3000), "groups.operators.groups_per_operator=3000", days=200,
            seed=seed,
        )
        late_behind = behind.events_per_day("groups", "conversions")[101:].sum()
        late_kept = keeping_up.events_per_day("groups", "conversions")[101:].sum()
        assert late_kept > 2 * late_behind, seed  # the gap opens as the groups multiply
        assert keeping_up.acquired_via("groups") > 1.5 * behind.acquired_via("groups"), seed
        groups = next(m for m in behind.model.modules if m.name == "groups")
        assert groups.operator_kpis()["groups_run_share"] < 0.5


def test_national_groups_post_deals_most_members_cannot_use() -> None:
    """[001] 「社群内我们会发现用户来自于全国各地」 + [004] geography gates redemption: in
    CGB's national welfare groups most coupon claims are for another city's merchants; the same
    groups assigned by city would redeem several times more. Pooled over the paired seeds
    0–11, by-city over national redemptions is ×2.28 before the groups' and perks' draws were
    keyed per slot, ×2.32 after (per seed ×1.3–3.6): five pooled seeds, as this test had, put
    the 2× about one standard error below the mean (seeds 0–4 gave ×2.32 before, ×1.99 after:
    a realisation, not a shift), so the 2× is asserted on the redemptions pooled over twelve
    paired seeds, and by city > national on each."""
    coupon = "perk:group_coupon"
    pooled = {"national": 0, "by_city": 0}
    for seed in range(12):
        national = run(P, seed=seed)
        by_city = run(P, "groups.assignment=city", seed=seed)
        claims = national.events(coupon, "claims")
        assert national.events(coupon, "geo_mismatch") > 0.6 * claims, seed
        n_red = national.events(coupon, "redemptions")
        c_red = by_city.events(coupon, "redemptions")
        assert c_red > n_red, (seed, c_red, n_red)
        pooled["national"] += n_red
        pooled["by_city"] += c_red
    assert pooled["by_city"] > 2 * pooled["national"], pooled


def test_coupons_reach_only_the_groups_the_operators_run() -> None:
    """A welfare-group coupon (「广发福利群」 [001]) is a post: the two part-time operators who
    cannot keep up with the groups (「没有全职人员跟进」) post it, as the rest of the content, only
    in the groups on the day's rota (``group_run``, planned the day before). On the same seeds
    as the test above, coupons shown per member-day fall, against operators who keep up, to
    about the share of live groups run (seeds 0 and 1 at 3,000 × 200: 0.37 and 0.34 of the
    kept-up rate at run shares 0.34 and 0.34; before the coupons followed the rota they were
    shown at 1.04 and 1.01 of it). Reuses the runs of the test above."""
    for seed in (0, 1):
        behind = run(P, operators_at(3000), days=200, seed=seed)
        keeping_up = run(
            P, operators_at(3000), "groups.operators.groups_per_operator=3000", days=200,
            seed=seed,
        )
        g_behind = next(m for m in behind.model.modules if m.name == "groups")
        g_kept = next(m for m in keeping_up.model.modules if m.name == "groups")
        coupon = "perk:group_coupon"
        rate_behind = behind.events(coupon, "shown") / g_behind.member_days
        rate_kept = keeping_up.events(coupon, "shown") / g_kept.member_days
        share = g_behind.operator_kpis()["groups_run_share"]
        assert 0.8 * share < rate_behind / rate_kept < 1.25 * share, (seed, share)
