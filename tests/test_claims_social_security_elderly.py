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
    that the format reaches what a contact does, not that video is better by itself."""
    fmt = "channels.channels_video.format=text"
    for seed in (0, 1, 2):
        video, text = run(P, seed=seed), run(P, fmt, seed=seed)
        # same reach and contacts: only what a contact does differs
        assert abs(video.events("channels_video", "contacts")
                   - text.events("channels_video", "contacts")) < 0.02 * text.events(
            "channels_video", "contacts")
        engaged_video = video.events("channels_video", "engaged")
        engaged_text = text.events("channels_video", "engaged")
        assert engaged_video > 1.5 * engaged_text > 0, (seed, engaged_video, engaged_text)
