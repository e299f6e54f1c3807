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
    scenarios/ccb_credit_card.yaml; the first marked tuned to this story). 12 managers serve
    20,000 customers in the preset, so 6 serve the 10,000 here; re-measured 2026-12-01
    (groupcost helper): CCB +0.4 % and +10 % on seeds 0 and 1 — the positive sign is thin on
    seed 0 — vs CMB +184 % (seed 0, its groups costed per operator seat, not per group; earlier
    +18–37 % vs +165–192 % over three seeds)."""
    cmb = kpis("cmb_credit_card", size=10000, days=365)["incremental_roi"]
    for seed in (0, 1):  # the positive sign is the fragile part: two seeds for CCB
        ccb = kpis(P, "advisers.count=6", size=10000, days=365, seed=seed)["incremental_roi"]
        assert 0 < ccb < 0.5 * cmb, (seed, ccb, cmb)
