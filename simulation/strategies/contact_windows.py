"""Contact windows: when a message lands, how often a customer may be contacted, and how
fatigue, themed weekdays and urgent wording change the response.

Every contact a channel makes gets a send hour drawn from the channel's send hours; it lands
*in window* when that hour is set in the customer's availability bitmask (elderly 9–11, 14–17,
20–22 [001]). Contact outside the window costs the same and responds ``out_of_window_response``
times as well. Each contact adds to the customer's fatigue (declared state ``fatigue``, decaying
with a half-life), and the response falls as exp(−``response_drop`` × fatigue); once fatigue
passes ``opt_out_threshold`` a contact from a channel the customer can leave (unfollow, leave the
group, delete the WeCom contact; see the channel catalogue) makes them opt out with
``opt_out_per_contact``: they are not contacted by such channels again (declared state
``opted_out``, which advisers read) and an engaged prospect leaves the private domain. More
contacts thus first raise, then lower the total response: the interior optimum Zhang, Kumar &
Cosguner (2017) find (DOMAIN.md §2.4; :func:`expected_responses` computes the curve). Weekly caps
per channel, themed weekdays (Tue early-bird, Wed half-price dining, Thu joint perks, Fri movie day
[001]) and the urgency multiplier (+30 % reads for "limited, while stocks last" wording [000])
complete the policy.

Two switches, deliberately different in kind:

- ``schedule`` is the **strategy lever** a bank pulls: ``channel_hours`` sends at any of the
  channel's hours (ignoring the customer's windows); ``customer_windows`` schedules each contact
  into an hour where the channel's send hours and the customer's window overlap, and defers (does
  not make, does not pay for) a contact when they do not overlap. The paired elderly comparison
  and ``experiments/elderly_contact_windows.yaml`` compare these two.
- ``enabled: false`` removes the whole mechanism from the simulated *world* (no windows,
  fatigue, caps): a modelling ablation, not a strategy.

Random numbers: the policy serves every channel, so its draws (the send hour ``hour/<channel>``
and the opt-out ``opt_out/<channel>``) are keyed per customer slot and by the channel's name
(:class:`~simulation.rng.SlotDraws`). One sequential stream served the channels in their order:
a channel switched off (or reaching fewer customers) no longer consumed its draws, and every
later channel's contacts landed at other hours and opted out on other numbers, which broke the
common random numbers of paired comparisons (tests/test_crn_contact_windows.py).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from simulation import kernels
from simulation.population.stages import Stage
from simulation.scenario.types import (
    WEEKDAYS,
    HourRanges,
    NonNegative,
    Positive,
    Probability,
    Problems,
    StrictModel,
    hours_mask,
)
from simulation.strategies.base import Day, State, StrategyModule
from simulation.strategies.channel_catalogue import CATALOGUE

Weekday = Literal[WEEKDAYS]  # type: ignore[valid-type]
#: Hours a channel sends when the policy does not say (inf.: a working day, 8:00–22:00).
DEFAULT_SEND_HOURS = ["8-22"]


class FatigueConfig(StrictModel):
    """Fatigue per contact, its half-life, its effect on response and on opting out.

    Defaults (inf.) put the optimum near 2 contacts a week (≈ 7 a month, Zhang, Kumar &
    Cosguner 2017's optimum of 7) and make opting out rare at 1 a week and common at 3–5 a week
    (Localytics 2017: push disabled by 10 % at 1/week, 37 % at 2–5/week), DOMAIN.md §2.4.
    """

    per_contact: NonNegative = 1.0
    half_life_days: Positive = 7.0
    response_drop: NonNegative = 0.25
    opt_out_threshold: NonNegative = 2.5
    opt_out_per_contact: Probability = 0.02


class ThemedDay(StrictModel):
    """A weekday theme: contacts that day respond ``response`` times as well ([001])."""

    theme: str
    response: NonNegative = 1.0
    channels: list[str] | None = None  # None: every channel


MonthDay = Annotated[str, Field(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]


class CalendarEvent(StrictModel):
    """A dated event of the year: contacts on its days respond ``response`` times as well.

    Dated by ``dates`` ("MM-DD", every year: Spring Festival, 520, Double 11 …) and/or by
    ``monthly`` days of the month (paydays), each lasting ``days`` days from its date. The
    articles name these moments: 520 festival games and seasonal perk schedules in CMB's
    groups [004], holiday outreach [003], outflow after payday [001], April outings [001].
    """

    dates: list[MonthDay] = Field(default_factory=list)
    monthly: list[Annotated[int, Field(ge=1, le=31)]] = Field(default_factory=list)
    days: Annotated[int, Field(ge=1, le=366)] = 1
    response: NonNegative = 1.0
    channels: list[str] | None = None  # None: every channel


def event_days(event: CalendarEvent, start: dt.date, horizon: int) -> np.ndarray:
    """Mask over day indices 0..horizon (day 1 = ``start``) of the days ``event`` covers."""
    mask = np.zeros(horizon + 1, dtype=bool)
    for i in range(1, horizon + 1):
        date = start + dt.timedelta(days=i - 1)
        for back in range(event.days):
            d = date - dt.timedelta(days=back)
            if f"{d.month:02d}-{d.day:02d}" in event.dates or d.day in event.monthly:
                mask[i] = True
                break
    return mask


class UrgencyConfig(StrictModel):
    """Urgent, scarce wording on these channels: +30 % average reads [000]."""

    multiplier: NonNegative = 1.3
    channels: list[str] = Field(default_factory=list)


class ContactPolicyConfig(StrictModel):
    """The ``contact_policy`` section: windows, caps, fatigue, themed days, urgency."""

    enabled: bool = True
    #: channel_hours: send whenever the channel sends; customer_windows: schedule each contact
    #: inside the customer's good hours (elderly 9–11, 14–17, 20–22 [001]) or defer it.
    schedule: Literal["channel_hours", "customer_windows"] = "channel_hours"
    send_hours: dict[str, HourRanges] = Field(default_factory=dict)  # channel or 'default'
    out_of_window_response: Probability = 0.3  # (inf.) a message read hours later, if at all
    weekly_caps: dict[str, Annotated[int, Field(ge=1)]] = Field(default_factory=dict)
    fatigue: FatigueConfig = FatigueConfig()
    themed_days: dict[Weekday, ThemedDay] = Field(default_factory=dict)
    urgency: UrgencyConfig = UrgencyConfig(multiplier=1.0)
    #: Dated events (the calendar); ``start_date`` is day 1's date and must fall on the
    #: scenario's ``start_weekday`` so weekday themes and dates agree.
    start_date: dt.date = dt.date(2024, 1, 1)  # a Monday (inf.: any year; dates recur yearly)
    calendar: dict[str, CalendarEvent] = Field(default_factory=dict)

    def cross_problems(self, scenario, path: tuple[str | int, ...]) -> Problems:
        """Channel names the policy mentions must be channels of the scenario."""
        channels = list(scenario.channels)
        known = ", ".join(channels) or "(none)"
        out: Problems = []

        def check(name: str, where: tuple[str | int, ...]) -> None:
            if name != "default" and name not in channels:
                out.append((where, f"unknown channel '{name}'; channels: {known}"))

        for name in self.send_hours:
            check(name, (*path, "send_hours", name))
        for name in self.weekly_caps:
            check(name, (*path, "weekly_caps", name))
        for i, name in enumerate(self.urgency.channels):
            check(name, (*path, "urgency", "channels", i))
        for day, theme in self.themed_days.items():
            for i, name in enumerate(theme.channels or []):
                check(name, (*path, "themed_days", day, "channels", i))
        for event_name, event in self.calendar.items():
            for i, name in enumerate(event.channels or []):
                check(name, (*path, "calendar", event_name, "channels", i))
            if not event.dates and not event.monthly:
                out.append(((*path, "calendar", event_name), "give dates (MM-DD) or monthly days"))
        start_weekday = getattr(scenario, "start_weekday", None)
        weekday = WEEKDAYS[self.start_date.weekday()]
        if self.calendar and start_weekday is not None and weekday != start_weekday:
            out.append((
                (*path, "start_date"),
                f"{self.start_date} is a {weekday} but start_weekday is {start_weekday}; "
                "day 1 must be the same day in both",
            ))
        return out


def hours_of(ranges: list[str]) -> np.ndarray:
    """The hours (0–23) covered by ranges like ``['9-11', '20-22']``."""
    mask = hours_mask(ranges)
    return np.array([h for h in range(24) if mask >> h & 1], dtype=np.uint32)


def expected_responses(
    fatigue: FatigueConfig, contacts_per_week: float, weeks: int = 26
) -> float:
    """Expected responses of one customer contacted evenly ``contacts_per_week`` times a week
    (response 1 for a fresh, in-window contact), with fatigue and opt-outs from a channel the
    customer can leave. Zero contacts give zero; too many give fewer than the optimum."""
    if contacts_per_week <= 0:
        return 0.0
    decay = 0.5 ** (1.0 / fatigue.half_life_days)
    gap = 7.0 / contacts_per_week
    level, staying, total = 0.0, 1.0, 0.0
    for _ in range(int(weeks * contacts_per_week)):
        total += staying * math.exp(-fatigue.response_drop * level)
        level += fatigue.per_contact
        if level > fatigue.opt_out_threshold:
            staying *= 1.0 - fatigue.opt_out_per_contact
        level *= decay**gap
    return total


class ContactWindows(StrategyModule):
    """Runs before channels each day (fatigue decays, weekly counters reset, today's theme);
    channels call :meth:`admit` before paying for contacts, :meth:`sent` for every message sent
    and :meth:`deliver` for those that are opened."""

    name = "contact_windows"
    states = (
        State("fatigue", np.float32, 0.0, description="contact fatigue, decaying daily"),
        State("opted_out", np.bool_, False,
              description="left the private domain (unfollowed, deleted the contact)"),
    )

    @classmethod
    def enabled(cls, scenario) -> bool:
        policy = getattr(scenario, "contact_policy", None)
        return policy is not None and policy.enabled and bool(scenario.channels)

    def setup(self) -> None:
        model = self.model
        pop = model.population
        sc = model.scenario
        self.policy: ContactPolicyConfig = sc.contact_policy
        names = list(sc.channels)
        self.names = names
        default_hours = self.policy.send_hours.get("default", DEFAULT_SEND_HOURS)
        self.send_hours = [hours_of(self.policy.send_hours.get(c, default_hours)) for c in names]
        self.send_masks = [
            np.uint32(hours_mask(self.policy.send_hours.get(c, default_hours))) for c in names
        ]
        self.scheduled = self.policy.schedule == "customer_windows"
        default_cap = self.policy.weekly_caps.get("default")
        self.caps = [self.policy.weekly_caps.get(c, default_cap) for c in names]
        self.week_counts = [
            None if cap is None else np.zeros(pop.n, dtype=np.uint16) for cap in self.caps
        ]
        self.can_leave = [CATALOGUE[sc.channels[c].kind].opt_out for c in names]
        urgency = self.policy.urgency
        self.urgency = [urgency.multiplier if c in urgency.channels else 1.0 for c in names]
        self.fatigue = self.state("fatigue")
        self.opted_out = self.state("opted_out")
        f = self.policy.fatigue
        self.decay = np.float32(0.5 ** (1.0 / f.half_life_days))
        self.theme = [1.0] * len(names)
        # Per channel and day, the product of the calendar events' response lifts.
        self.calendar_lift = np.ones((len(names), model.days + 1), dtype=np.float64)
        for event in self.policy.calendar.values():
            on = event_days(event, self.policy.start_date, model.days)
            for code, c in enumerate(names):
                if event.channels is None or c in event.channels:
                    self.calendar_lift[code, on] *= event.response

    def step(self, day: Day) -> None:
        kernels.scale_inplace(self.fatigue, self.decay)  # block-parallel, same bits
        if (day.index - 1) % 7 == 0:
            for counts in self.week_counts:
                if counts is not None:
                    counts[:] = 0
        theme = self.policy.themed_days.get(day.weekday_name)
        self.theme = [
            theme.response if theme and (theme.channels is None or c in theme.channels) else 1.0
            for c in self.names
        ]
        if self.policy.calendar and day.index < self.calendar_lift.shape[1]:
            self.theme = [
                lift * float(self.calendar_lift[code, day.index])
                for code, lift in enumerate(self.theme)
            ]

    def admit(self, code: int, idx: np.ndarray) -> np.ndarray:
        """Drop customers who opted out of a channel they can leave, or are at its weekly cap,
        and (when scheduling into customer windows) those with no good hour the channel sends."""
        if self.scheduled and idx.size:
            idx = idx[(self.model.population.availability[idx] & self.send_masks[code]) != 0]
        if self.can_leave[code] and idx.size:
            idx = idx[~self.opted_out[idx]]
        counts = self.week_counts[code]
        if counts is not None and idx.size:
            idx = idx[counts[idx] < self.caps[code]]
        return idx

    def sent(self, code: int, idx: np.ndarray) -> None:
        """Count messages *sent* against the weekly cap (opened or not), like the platform caps:
        a cap on what customers receive must not let unopened messages through uncounted."""
        counts = self.week_counts[code]
        if counts is not None:
            counts[idx] += 1

    @staticmethod
    def _hour_in_window(masks: np.ndarray, u: np.ndarray) -> np.ndarray:
        """A uniformly chosen set hour of each 24-bit mask (every mask has at least one),
        picked by the uniform ``u`` of each contact (aligned with ``masks``)."""
        bits = (masks[:, None] >> np.arange(24, dtype=np.uint32)) & 1
        rank = np.cumsum(bits, axis=1)
        pick = (u * rank[:, -1]).astype(np.int64)
        return np.argmax(rank > pick[:, None], axis=1).astype(np.uint32)

    def deliver(self, code: int, idx: np.ndarray, day: Day) -> np.ndarray:
        """Land contacts ``idx`` at a send hour each; return each one's response multiplier and
        update caps, fatigue and opt-outs."""
        pop = self.model.population
        ledger = self.model.ledger
        name = self.names[code]
        # keyed per slot and channel: another channel's contacts never shift these numbers
        u_hour = self.draws.uniform(f"hour/{name}", day.index, idx)
        if self.scheduled:
            sent = self._hour_in_window(pop.availability[idx] & self.send_masks[code], u_hour)
        else:
            hours = self.send_hours[code]
            sent = hours[np.minimum((u_hour * hours.size).astype(np.int64), hours.size - 1)]
        in_window = (pop.availability[idx] >> sent) & 1 == 1
        f = self.policy.fatigue
        mult = np.where(in_window, 1.0, self.policy.out_of_window_response)
        mult *= np.exp(-f.response_drop * self.fatigue[idx].astype(np.float64))
        mult *= self.theme[code] * self.urgency[code]
        outside = idx[~in_window]
        ledger.count(name, "out_of_window", day.index, pop.segment_counts(outside))

        self.fatigue[idx] += np.float32(f.per_contact)
        if self.can_leave[code] and f.opt_out_per_contact > 0:
            tired = np.flatnonzero(self.fatigue[idx] > f.opt_out_threshold)
            u_leave = self.draws.uniform(f"opt_out/{name}", day.index, idx[tired])
            left = tired[u_leave < f.opt_out_per_contact]
            mult[left] = 0.0  # the message that made them leave gets no response
            leave = idx[left]
            self.opted_out[leave] = True
            pop.stage[leave[pop.stage[leave] == Stage.ENGAGED]] = Stage.AWARE
            ledger.count(name, "opt_outs", day.index, pop.segment_counts(leave))
        return mult
