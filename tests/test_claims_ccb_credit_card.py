"""CCB's branch-run card pilot ([001]; docs/presets.md, ccb_credit_card): paired-seed tests."""

from __future__ import annotations

from tests.claims import kpis, run

P = "ccb_credit_card"
#: The preset's daily stock (40 at 20,000 customers), adviser headcount (12) and book (2,000
#: full-time, 600 part-time: a year of the cited 50 adds a month) scaled to the tests' 3,000
#: customers and 150 days, so scarcity and capacity bind as they would at the preset's size.
STOCK = "perks.catalogue.local_coupon.daily_stock=6"
STAFF = ("advisers.count=2", "advisers.capacity=300")


def test_scarce_coupons_cause_complaints_that_drive_members_out() -> None:
    """[001] 「经常看到有用户因为抢不到优惠券而在社群发牢骚」: coupons that run out raise
    complaints; with unlimited stock there are no stock-outs and fewer members leave."""
    scarce = run(P, STOCK)
    ample = run(P, "perks.catalogue.local_coupon.daily_stock=null")
    assert scarce.events("perk:local_coupon", "stock_outs") > 0
    assert ample.events("perk:local_coupon", "stock_outs") == 0
    assert scarce.events("groups", "complaint_leaves") > ample.events("groups", "complaint_leaves")


def test_a_koc_system_damps_complaints() -> None:
    """[001] 「搭建社群初期就需要考虑建立koc体系，做好正向的社交引导和负面出现时的应对之策」:
    with KOC members complaints spread less, so fewer members leave their group."""
    with_koc = run(P, STOCK, "groups.koc_share=0.1")
    without = run(P, STOCK, "groups.koc_share=0")
    assert with_koc.events("groups", "complaint_leaves") < without.events(
        "groups", "complaint_leaves"
    )
    assert with_koc.model.sentiment.values.mean() < without.model.sentiment.values.mean()


def test_part_time_managers_reach_fewer_customers_than_full_time_ones() -> None:
    """[001] 「组建了企微经理的角色，虽然目前以兼职为主」: part-time WeCom managers carry a share
    of a full load, so they add and message fewer customers."""
    part_time = run(P, *STAFF)
    full_time = run(P, *STAFF, "advisers.workload_share=1.0")
    assert part_time.events("advisers", "adds") < full_time.events("advisers", "adds")
    assert part_time.events("advisers", "messages") < full_time.events("advisers", "messages")


def test_ccbs_pilot_pays_back_but_less_than_cmbs_central_model() -> None:
    """[001] 「建行在整体的企微私域搭建上已经走在了很多国有行的前面」, below CMB's model: the
    branch-run pilot's incremental ROI (all its levers over the same-seed counterfactual with
    them off) is positive, and below CMB's. It holds with the part-time managers costed at
    their incremental cash cost and the counter contact at 3 staff minutes (both in
    scenarios/ccb_credit_card.yaml; the first marked tuned to this story). Run at the presets'
    own 20,000 × 365 days (12 managers, 40 coupons a day): there, over seeds 0–11 (claims
    helper, 2026-12-01), CCB's incremental ROI is +18 % [+15 %, +21 %] (95 % interval; +10 %
    to +25 %, positive on 12 / 12) and CMB's +201 % [+186 %, +216 %] (seeds 0–4). The test ran
    at 10,000 with 6 managers before, where the sign is not held: −1.7 % [−5.1 %, +1.7 %] over
    seeds 0–19, positive on 8 / 20 (a re-keyed population sampler gave −3.4 % on seed 0) —
    halving the customers did not halve the preset's 40 coupons a day, so that was not the
    preset scaled down: with 20 coupons a day too it is +10 % [+5 %, +16 %] over seeds 0–7
    (positive on 7 / 8; what is left is other costs fixed in counts)."""
    cmb = kpis("cmb_credit_card", size=20000, days=365)["incremental_roi"]
    for seed in (0, 1):
        ccb = kpis(P, size=20000, days=365, seed=seed)["incremental_roi"]
        assert 0 < ccb < 0.5 * cmb, (seed, ccb, cmb)
