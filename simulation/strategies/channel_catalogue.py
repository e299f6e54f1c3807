"""The channel catalogue: what each kind of channel in a bank's operating matrix is for and what
the platforms allow, so a scenario can write ``kind: service_account`` and get cited defaults.

Each entry gives a channel's **role** (brand / mind-share, conversion, retention; DOMAIN.md §1.2),
its **conversion path** (number of steps and the drop-off per step; [001]: mini program ≥ 4
steps, H5 fewer, an APP jump the smoothest), the **platform's hard message caps** per customer
(DOMAIN.md §2.4), the **throttling of finance content** by the platform ([000][003]:
Xiaohongshu) and whether the customer can **opt out** of it (unfollow, leave the group, delete
the WeCom contact), which contact fatigue can trigger. Any field a scenario sets wins over the
catalogue; ``custom`` has neutral defaults (no caps, no steps, no throttling), which is what a
channel without a ``kind`` gets, so older scenarios behave exactly as before.

Numbers marked (inf.) are assumptions to sweep, not statements of a source. docs/channels.md
renders this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["brand", "conversion", "retention"]

ChannelKind = Literal[
    "service_account",
    "subscription_account",
    "mini_program",
    "h5",
    "app",
    "channels_video",
    "channels_live",
    "douyin_video",
    "douyin_live",
    "xiaohongshu",
    "weibo",
    "wecom_1to1",
    "community_group",
    "wecom_moments",
    "transaction_alerts",
    "outbound_call",
    "branch",
    "enterprise_visit",
    "offline_event",
    "custom",
]


@dataclass(frozen=True)
class CatalogueEntry:
    """Defaults for one kind of channel, with where each number comes from."""

    label: str
    role: Role
    funnel_steps: int = 0  # steps between the contact and a completed application
    drop_off_per_step: float = 0.0
    cap_per_day: int | None = None  # mass messages per customer per day
    cap_per_week: int | None = None
    cap_per_month: int | None = None  # per 30-day block of the run
    finance_throttle: float = 0.0  # share of finance posts the platform suppresses
    opt_out: bool = False  # the customer can unfollow / leave / delete (fatigue opt-out)
    sources: str = ""


#: Per-step abandonment of an in-app or web form (inf.): ~1 in 5 leave at each screen.
FORM_DROP_OFF = 0.2
#: An APP jump keeps the customer in an environment already logged in (inf.: half the form rate).
APP_DROP_OFF = 0.1

CATALOGUE: dict[str, CatalogueEntry] = {
    "service_account": CatalogueEntry(
        "服务号 service account (menu, application entry, hub)",
        "conversion",
        funnel_steps=2,  # menu → application form (inf.)
        drop_off_per_step=FORM_DROP_OFF,
        cap_per_month=4,  # ≤ 4 mass messages per follower per month, DOMAIN.md §2.4
        opt_out=True,
        sources="[000][002]; cap DOMAIN.md §2.4 (WeChat docs)",
    ),
    "subscription_account": CatalogueEntry(
        "订阅号 subscription account (content, reach)",
        "brand",
        cap_per_day=1,  # 1 mass message per day, DOMAIN.md §2.4
        opt_out=True,
        sources="[002]; cap DOMAIN.md §2.4",
    ),
    "mini_program": CatalogueEntry(
        "mini program",
        "conversion",
        funnel_steps=4,  # "≥ 4 steps" [001]
        drop_off_per_step=FORM_DROP_OFF,
        sources="[000][002]; steps [001]; drop-off (inf.)",
    ),
    "h5": CatalogueEntry(
        "H5 page",
        "conversion",
        funnel_steps=2,  # "fewer steps than the mini program" [001]; 2 (inf.)
        drop_off_per_step=FORM_DROP_OFF,
        sources="[001]; step count and drop-off (inf.)",
    ),
    "app": CatalogueEntry(
        "APP jump",
        "conversion",
        funnel_steps=1,  # "smoothest" path [001]
        drop_off_per_step=APP_DROP_OFF,
        sources="[001]; drop-off (inf.)",
    ),
    "channels_video": CatalogueEntry(
        "视频号 Channels brand videos",
        "brand",
        sources="[002][004]",
    ),
    "channels_live": CatalogueEntry(
        "视频号 Channels live streams (1:1 public-traffic match)",
        "conversion",
        sources="[001]",
    ),
    "douyin_video": CatalogueEntry(
        "Douyin short video / feed ads",
        "brand",
        sources="[000][003]",
    ),
    "douyin_live": CatalogueEntry(
        "Douyin live room (lead form or redirect window)",
        "conversion",
        sources="[000]",
    ),
    "xiaohongshu": CatalogueEntry(
        "Xiaohongshu notes",
        "brand",
        # Finance content is throttled [000][003]: banks' accounts there reach "only thousands"
        # of followers vs millions elsewhere [000]; 0.9 suppressed (inf.).
        finance_throttle=0.9,
        sources="[000][003]; throttle level (inf.)",
    ),
    "weibo": CatalogueEntry("Weibo (PR, events)", "brand", sources="[003]"),
    "wecom_1to1": CatalogueEntry(
        "WeCom 1:1 adviser messages",
        "retention",
        cap_per_day=1,  # ≤ 1 per day from one staff member to one customer, DOMAIN.md §2.4
        opt_out=True,
        sources="[000][003]; cap DOMAIN.md §2.4 (developer.work.weixin.qq.com)",
    ),
    "community_group": CatalogueEntry(
        "WeCom community group posts",
        "retention",
        opt_out=True,  # users mute or leave groups [004]
        sources="[001][004]",
    ),
    "wecom_moments": CatalogueEntry(
        "WeCom moments posts",
        "retention",
        cap_per_day=1,  # a customer sees ≤ 1 moments post a day from one adviser (inf.)
        opt_out=True,
        sources="[004]; cap (inf.)",
    ),
    "transaction_alerts": CatalogueEntry(
        "transaction-alert messages (inflow to the private domain)",
        "retention",
        sources="[004]",
    ),
    "outbound_call": CatalogueEntry(
        "outbound / telesales call",
        "conversion",
        cap_per_week=1,  # one call a week per customer (inf.)
        sources="[000][001]; cap (inf.)",
    ),
    "branch": CatalogueEntry("branch visit", "conversion", sources="[001]"),
    "enterprise_visit": CatalogueEntry(
        "enterprise visit (代发进企)", "conversion", sources="[001]"
    ),
    "offline_event": CatalogueEntry(
        "offline event (community, table tennis, flower trips)",
        "conversion",
        sources="[001]",
    ),
    "custom": CatalogueEntry("custom channel (neutral defaults)", "conversion"),
}
