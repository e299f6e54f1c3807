"""Social-security elderly customers ([001]; docs/presets.md, social_security_elderly)."""

from __future__ import annotations

from tests.claims import mean_ci, run

P = "social_security_elderly"


def test_contacting_in_their_good_hours_raises_response() -> None:
    """[001] 「选择上午9-11点，下午2-5点及晚上8-10点」 and avoid the school run, shopping and
    cooking: contacts scheduled into the customers' windows win more than channel shifts.
    The gain is small against the seed-to-seed spread: +8 [+2.7, +13.3] customers a seed
    (×1.040 [1.013, 1.068]) over seeds 0–19 at 3,000 × 150, more on 14 of 20, fewer on 5 (down
    to −14; 214 vs 218 on seed 200). So it is not held per seed: the test asserts it on the
    customers won pooled over twelve paired seeds (z ≈ 2.4 at the measured mean and spread)."""
    pooled = {"shifts": 0, "windows": 0}
    for seed in range(12):
        pooled["shifts"] += run(P, seed=seed).acquisitions
        pooled["windows"] += run(P, "contact_policy.schedule=customer_windows",
                                 seed=seed).acquisitions
    assert pooled["windows"] > pooled["shifts"], pooled


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


def test_video_content_beats_text_for_the_elderly() -> None:
    """[001] 「视频化的内容输出更加直观友好」: the same 视频号 posts as video (the preset) and as
    text (``channels.channels_video.format=text``), on three paired seeds. The elderly segments'
    ``format_preference`` reads text at 0.47 of video: the 27 % of Americans 65+ who prefer
    reading news against the 58 % who prefer watching it (Pew 2016, docs/sources.md §2.9;
    response ∝ that share is (inf.)). Video engages about twice as many (41 / 33 / 37 vs
    21 / 17 / 16 at 3,000 × 150 days; ≥ 1.8× on seeds 0–8) and might win a few more
    customers through the private domain's nurture (631 vs 596 over the three seeds), but at
    this size that is below the noise (586 vs 634 on seeds 3–5), so it is not asserted. The
    direction is the article's and the magnitude a cited preference share, so the test checks
    that the format reaches what a contact does, not that video is better by itself.
    The counts are small (16–41 engaged a seed): video/text per seed is ×2.57 [2.12, 3.02] over
    seeds 0–11 (min ×1.67; ×1.30 on seed 100), so the 1.5× is asserted on the engaged pooled
    over six paired seeds, and the per-seed difference's 95 % interval above 0."""
    fmt = "channels.channels_video.format=text"
    pooled = {"video": 0, "text": 0}
    diffs = []
    for seed in range(6):
        video, text = run(P, seed=seed), run(P, fmt, seed=seed)
        # same reach and contacts: only what a contact does differs
        assert abs(video.events("channels_video", "contacts")
                   - text.events("channels_video", "contacts")) < 0.02 * text.events(
            "channels_video", "contacts")
        engaged_video = video.events("channels_video", "engaged")
        engaged_text = text.events("channels_video", "engaged")
        pooled["video"] += engaged_video
        pooled["text"] += engaged_text
        diffs.append(engaged_video - engaged_text)
    assert pooled["video"] > 1.5 * pooled["text"] > 0, pooled
    assert mean_ci(diffs)[1] > 0, (diffs, mean_ci(diffs))


#: The elderly's interest tags (docs/sources.md §2.13): 77.6 % of the 50+ surveyed by the China
#: Research Center on Aging and CITIC Bank choose a financial product chiefly by the safety of
#: the money, read as the share a pension-type product fits (inf.); the rest, 22.4 %, a
#: regular-investment (定投) plan.
ELDERLY_TAGS = (
    "{interests: [{name: pension, share: 0.776}, {name: regular_investment, share: 0.224}], "
    "match_lift: 3.0, offer: %s}"
)


def _advisers_pushing(offer: str) -> tuple[str, ...]:
    """The preset's 1:1 follow-up as WeCom advisers (the preset itself runs it as the
    ``wecom_1to1`` channel, which carries no product), every message pushing ``offer``."""
    return (
        "advisers.count=4", "advisers.add_rate=0.03", "advisers.contact_rate=0.05",
        "advisers.conversion_per_contact=0.03", f"advisers.tags={ELDERLY_TAGS % offer}",
    )


def test_recommending_pension_products_wins_more_than_regular_investment() -> None:
    """[001] 「少推荐定投类的理财产品，养老型居多」: advisers who push pension-type products to
    the elderly win more of them than advisers who push 定投 plans, because the product fits
    more of them (``advisers.tags.offer``: a message converts × ``match_lift`` 3 (inf.) when it
    is about the customer's interest; interest shares from the 77.6 % who choose by safety,
    §2.13, (inf.) reading). Three paired seeds at 3,000 × 150 days, the same advisers, messages
    and tags in both arms: advisers' conversions 62 / 59 / 76 vs 38 / 41 / 47 (higher on seeds
    0–8 alike), customers won 259 / 264 / 304 vs 240 / 253 / 267 (asserted pooled: 7 of seeds
    0–8 higher, one equal, one lower). Holds by construction once the shares are given: the
    test shows the recommendation carries through the funnel, not which product is better.
    ≈ 1.7 CPU-s."""
    won_pension = won_plans = 0
    for seed in (0, 1, 2):
        pension = run(P, *_advisers_pushing("pension"), seed=seed)
        plans = run(P, *_advisers_pushing("regular_investment"), seed=seed)
        assert pension.events("advisers", "messages") > 0, seed
        assert (pension.events("advisers", "conversions")
                > plans.events("advisers", "conversions")), seed
        won_pension += pension.acquisitions
        won_plans += plans.acquisitions
    assert won_pension > won_plans, (won_pension, won_plans)


#: An offline event for the elderly (a community activity): the preset runs none, so the test
#: adds one with branch_neighbourhood's table-tennis event's magnitudes (all (inf.) there too).
OFFLINE_EVENT = (
    "channels.offline_event={kind: offline_event, daily_reach: 0.002, cost_per_contact: 20.0, "
    "engage_on_contact: 0.5, conversion_on_contact: 0.02}"
)


def test_offline_events_raise_the_elderlys_participation() -> None:
    """[001] 「辅以更多的关怀性服务及属地特色，多举办线下的活动来增加老年客群的参与感」: more
    offline activities bring more of the elderly into the private domain. The preset has no
    event channel (its 1:1 and video channels carry the rest of the article), so the test adds
    one (``OFFLINE_EVENT``, (inf.) rates) against the preset as it is, three paired seeds at
    3,000 × 150 days: customers engaged in the private domain at the horizon 1,031 / 1,021 /
    984 vs 853 / 828 / 834 (higher on seeds 0–5 alike; ≈ 850 event contacts a run). Customers
    won are not ordered at this size (213 / 201 / 250 vs 210 / 206 / 215), so they are not
    asserted. Holds by construction once an event engages: the test shows the events' added
    participants reach the private domain and stay there, not how many an event engages
    (no published rate). Measured 2026-12-01, ≈ 1.2 CPU-s."""
    from simulation.population.stages import Stage

    for seed in (0, 1, 2):
        events, none = run(P, OFFLINE_EVENT, seed=seed), run(P, seed=seed)
        assert events.events("offline_event", "engaged") > 0, seed
        assert none.events("offline_event", "contacts") == 0, seed
        assert events.stage_count(Stage.ENGAGED) > 1.1 * none.stage_count(Stage.ENGAGED), seed
