"""Perks (权益): a catalogue of offers with cost, appeal by segment, daily stock, and what being
shown, claiming and redeeming one does.

Each day a perk is shown to ``offer_rate`` of its target stages (on its themed ``weekdays``
only, if set). Being shown has an **exposure effect** of its own (Venkatesan & Farris 2012: it
outweighs redemption; DOMAIN.md §2.6): prospects join the private domain with
``exposure_engage``. Shown customers **claim** with ``claim_rate`` × their segment's appeal
(``population.segments.*.perk_appeal``) × price sensitivity × (1 − negative sentiment), times
``urgency_multiplier`` while stock is limited ("limited, while stocks last": +30 % reads [000]).
Claims beyond the day's stock are refused and raise the claimant's ``negative_sentiment``
(complaints when coupons run out [001]). Claims are **redeemed** with a rate that rises with
face value (Coupons.com) and, for offline perks, only where merchants are (``merchant_cities``:
the largest cities; CMB's coupons are redeemed offline, so geography gates redemption [001][004]).
A perk may be **delivered inside groups** (``delivery: groups``: shown only to members who have
not muted their group, as CMB's 社群专属优惠券 are [004], and whose group is run that day: a
coupon is a post, so a group the operators do not run that day gets none — the groups'
declared ``group_run``, the rota the operators planned the day before, ``groups.operators``)
and be **local** (``geo_match``: a
coupon is for merchants of one city and is redeemed only by members who live there). In a group
assigned by city every member lives in the coupon's city; a national group posts deals of one
city a day (drawn by population), so most of its members cannot use them — 「只有相匹配的地理位置，
优惠券的转化率才会最大」, only a matching location maximises coupon conversion [004].
Redemption costs ``unit_cost`` (ledger category ``perk``) and does what the perk's lifecycle
trigger is for [002]: a **first-order** red packet converts a prospect, a **fission** red packet
is shared with a tie who becomes aware or engaged, a **recall** red packet brings an at-risk or
dormant customer back.

Random numbers: every draw is keyed by the perk's name, per customer slot
(:class:`~simulation.rng.SlotDraws`: ``shown/<perk>``, ``engage``, ``claim``, ``stock`` (the
priority that decides who gets the day's stock), ``redeem``, ``afford`` (who the budget pays
for), ``convert``, ``recall``, ``share``; a national group's city of the day per group,
``city/<perk>``). The tie a sharer passes the red packet to comes from a generator keyed by
(perk, day) (:meth:`Perks._tie_rng`). All perks shared one sequential stream in catalogue
order: a perk switched off (or shown to fewer customers) no longer consumed its draws, and
every later perk's customers claimed, redeemed and converted on other numbers, which broke the
common random numbers of paired comparisons (tests/test_crn_perks.py).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from simulation.population.stages import Stage
from simulation.rng import affordable_by_priority, lowest_priority
from simulation.scenario.types import (
    WEEKDAYS,
    NonNegative,
    Positive,
    Probability,
    Problems,
    StrictModel,
    Yuan,
)
from simulation.strategies.base import Day, StrategyModule
from simulation.strategies.channel_config import Count, TargetStage

Weekday = Literal[WEEKDAYS]  # type: ignore[valid-type]
Trigger = Literal["first_order", "fission", "recall", "general"]

#: Whom each lifecycle red packet is for by default ([002]).
TRIGGER_TARGETS: dict[str, tuple[str, ...]] = {
    "first_order": ("aware", "engaged"),
    "fission": ("active",),
    "recall": ("at_risk", "dormant"),
    "general": ("aware", "engaged", "active"),
}


class PerkConfig(StrictModel):
    """One perk of the catalogue. Money in yuan; rates are daily probabilities."""

    description: str = ""
    trigger: Trigger = "general"
    targets: list[TargetStage] | None = None  # default: the trigger's stages
    offer_rate: Probability = 0.0
    weekdays: list[Weekday] | None = None  # themed days only (e.g. Friday movie tickets [001])
    face_value: Yuan = 10.0
    unit_cost: Yuan | None = None  # per redemption; default: the face value
    daily_stock: Count | None = None  # claims a day; None: unlimited
    urgency_multiplier: NonNegative = 1.3  # claims × this while stock is limited [000]
    claim_rate: Probability = 0.2  # × segment appeal (inf.)
    redemption_rate: Probability = 0.08  # at the reference face value (inf., inside 1–15 %)
    reference_face_value: Positive = 10.0
    face_value_elasticity: NonNegative = 0.5  # redemption ∝ (face / reference)^e (inf.)
    merchant_cities: Count | None = None  # offline: redeemable in the N largest cities only
    exposure_engage: Probability = 0.0
    convert_on_redeem: Probability = 0.0
    recall_on_redeem: Probability = 0.0
    share_on_redeem: Probability = 0.0
    share_effect: Literal["aware", "engage"] = "aware"
    complaint: Probability = 0.2  # negative sentiment added per refused claim (inf.)
    delivery: Literal["offer", "groups"] = "offer"  # groups: to unmuted group members only [004]
    geo_match: bool = False  # redeemed only in the coupon's city (the group's city) [004]

    @property
    def effective_targets(self) -> tuple[str, ...]:
        return tuple(self.targets) if self.targets is not None else TRIGGER_TARGETS[self.trigger]

    @property
    def cost(self) -> float:
        return self.face_value if self.unit_cost is None else self.unit_cost

    @property
    def redemption(self) -> float:
        """Redemption probability of a claim where merchants are: rises with face value."""
        ratio = self.face_value / self.reference_face_value
        return float(min(1.0, self.redemption_rate * ratio**self.face_value_elasticity))


class PerksConfig(StrictModel):
    """The ``perks`` section: a budget over all perks and the catalogue."""

    budget: Yuan | None = None
    catalogue: dict[str, PerkConfig] = Field(default_factory=dict)

    def cross_problems(self, scenario, path: tuple[str | int, ...]) -> Problems:
        """Segments' ``perk_appeal`` keys must name perks of the catalogue."""
        known = ", ".join(self.catalogue) or "(none; add perks.catalogue)"
        out: Problems = []
        for seg_name, seg in scenario.population.segments.items():
            for perk in seg.perk_appeal:
                if perk not in self.catalogue:
                    out.append(
                        (
                            ("population", "segments", seg_name, "perk_appeal", perk),
                            f"unknown perk '{perk}'; perks.catalogue: {known}",
                        )
                    )
        return out


class PerkPlan:
    """One perk resolved for a run."""

    def __init__(self, name: str, cfg: PerkConfig, appeal: np.ndarray) -> None:
        self.name = name
        self.item = f"perk:{name}"
        self.cfg = cfg
        self.appeal = appeal.astype(np.float64)
        self.targets = np.zeros(len(Stage), dtype=bool)
        self.targets[[int(Stage[t.upper()]) for t in cfg.effective_targets]] = True
        self.weekdays = None if cfg.weekdays is None else {WEEKDAYS.index(d) for d in cfg.weekdays}
        self.urgency = cfg.urgency_multiplier if cfg.daily_stock is not None else 1.0


class Perks(StrategyModule):
    name = "perks"
    moves_sentiment = True

    @classmethod
    def enabled(cls, scenario) -> bool:
        perks = getattr(scenario, "perks", None)
        return perks is not None and any(p.offer_rate > 0 for p in perks.catalogue.values())

    @classmethod
    def sources(cls, scenario) -> tuple[str, ...]:
        return tuple(f"perk:{name}" for name in scenario.perks.catalogue)

    def setup(self) -> None:
        model = self.model
        pop = model.population
        cfg: PerksConfig = model.scenario.perks
        self.plans = []
        for name, perk in cfg.catalogue.items():
            col = pop.perk_names.index(name) if name in pop.perk_names else None
            appeal = (
                pop.perk_appeal[:, col]
                if col is not None
                else np.zeros(len(pop.segment_names), dtype=np.float32)
            )
            self.plans.append(PerkPlan(name, perk, appeal))
            model.ledger.register(f"perk:{name}", "perk")
        self.budget_left = float("inf") if cfg.budget is None else float(cfg.budget)
        assert model.sentiment is not None  # this module moves sentiment, so it exists
        self.sentiment = model.sentiment
        # the groups' declared state, read only (None while the groups are off): who is in
        # which group, who muted it, and whose group is on today's operators' rota
        self.group = model.read_state("group")
        self.group_muted = model.read_state("group_muted")
        self.group_run = model.read_state("group_run")

    def step(self, day: Day) -> None:
        for plan in self.plans:
            if plan.cfg.offer_rate > 0 and (plan.weekdays is None or day.weekday in plan.weekdays):
                self._offer(plan, day)

    def _count(self, plan: PerkPlan, event: str, day: int, idx: np.ndarray) -> None:
        pop = self.model.population
        counts = pop.segment_counts(idx)
        self.model.ledger.count(plan.item, event, day, counts)

    def _offer(self, plan: PerkPlan, day: Day) -> None:
        pop = self.model.population
        draws = self.draws
        cfg = plan.cfg
        d = day.index
        name = plan.name
        shown = draws.bernoulli(f"shown/{name}", d, pop.n, cfg.offer_rate)
        shown = shown[plan.targets[pop.stage[shown]]]
        coupon_city: np.ndarray | None = None
        if cfg.delivery == "groups":
            shown, coupon_city = self._group_delivery(plan, shown, d)
        if shown.size == 0:
            return
        self._count(plan, "shown", d, shown)
        if cfg.exposure_engage > 0:
            prospects = shown[pop.stage[shown] <= Stage.AWARE]
            u_engage = draws.uniform(f"engage/{name}", d, prospects)
            engaged = prospects[u_engage < cfg.exposure_engage]
            pop.mark_engaged(engaged, d)
            self._count(plan, "engaged", d, engaged)

        p = (
            cfg.claim_rate
            * plan.appeal[pop.segment[shown]]
            * (0.5 + pop.price_sensitivity[shown])  # mean 1 at sensitivity 0.5 (inf.)
            * (1.0 - self.sentiment.values[shown])
            * plan.urgency
        )
        claims = shown[draws.uniform(f"claim/{name}", d, shown) < p]
        if cfg.daily_stock is not None and claims.size > cfg.daily_stock:
            # the day's stock goes to the claims of lowest priority: a uniform random subset
            priority = draws.uniform(f"stock/{name}", d, claims)
            served = lowest_priority(claims, priority, cfg.daily_stock)
            refused = claims[~np.isin(claims, served, assume_unique=True)]
            claims = served
            self.sentiment.complain(refused, cfg.complaint)
            self._count(plan, "stock_outs", d, refused)
        self._count(plan, "claims", d, claims)

        redeem_p = np.full(claims.size, cfg.redemption)
        if cfg.merchant_cities is not None:
            redeem_p[pop.city[claims] >= cfg.merchant_cities] = 0.0
        if cfg.geo_match and coupon_city is not None:
            mismatch = pop.city[claims] != coupon_city[self._groups_of(claims)]
            redeem_p[mismatch] = 0.0
            self._count(plan, "geo_mismatch", d, claims[mismatch])
        redeemed = claims[draws.uniform(f"redeem/{name}", d, claims) < redeem_p]
        cost = plan.cfg.cost
        if cost > 0 and redeemed.size:
            priority = draws.uniform(f"afford/{name}", d, redeemed)
            redeemed = affordable_by_priority(
                redeemed, priority, cost, self.budget_left, pop.weights()
            )
        if redeemed.size == 0:
            return
        self._count(plan, "redemptions", d, redeemed)
        if cost > 0:
            self.model.ledger.charge(
                plan.item, d, pop.segment_counts(redeemed) * cost
            )
            self.budget_left -= pop.represented(redeemed) * cost
        self._effects(plan, redeemed, d)

    def _tie_rng(self, plan: PerkPlan, d: int) -> np.random.Generator:
        """A generator of its own for the ties the perk's sharers pass red packets to on day
        ``d``, keyed by (perk, day): another perk, or another day, never shifts it. (A sharer's
        tie still depends on who else shares this perk that day: ``random_tie`` draws one number
        per sharer in order.)"""
        key = self.draws.key(f"tie/{plan.name}", d)
        return np.random.Generator(np.random.PCG64(key))

    def _groups_of(self, idx: np.ndarray) -> np.ndarray:
        assert self.group is not None, "perks.delivery: groups needs the groups lever on"
        return self.group[idx].astype(np.int64)

    def _group_delivery(
        self, plan: PerkPlan, shown: np.ndarray, d: int
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Keep the shown customers who sit in a group that is run today (on the operators'
        rota, ``group_run``) and listen (not muted); the city of each group's deals today (a
        city group's own city; a national group's drawn by population, one keyed uniform per
        group)."""
        pop = self.model.population
        group = self.group
        if group is None:  # groups are off: nobody to deliver to
            return shown[:0], None
        keep = group[shown] >= 0
        if self.group_muted is not None:
            keep &= ~self.group_muted[shown]
        if self.group_run is not None:
            keep &= self.group_run[shown]
        shown = shown[keep]
        n_groups = int(group.max(initial=-1)) + 1
        members = np.flatnonzero(group >= 0)
        cities = np.full(n_groups, -1, dtype=np.int64)
        if getattr(self.model.scenario.groups, "assignment", "city") == "city":
            # Every member of a city group lives in the group's city.
            cities[group[members]] = pop.city[members]
        else:
            weights = np.bincount(pop.city, minlength=int(pop.city.max(initial=0)) + 1)
            cum = np.cumsum(weights / weights.sum())
            u = self.draws.uniform(f"city/{plan.name}", d, np.arange(n_groups, dtype=np.int64))
            cities = np.minimum(np.searchsorted(cum, u, side="right"), weights.size - 1)
        return shown, cities

    def _effects(self, plan: PerkPlan, redeemed: np.ndarray, d: int) -> None:
        """What redeeming does, by lifecycle trigger ([002])."""
        pop = self.model.population
        draws = self.draws
        cfg = plan.cfg
        name = plan.name
        stage = pop.stage[redeemed]
        if cfg.convert_on_redeem > 0:
            prospects = redeemed[stage <= Stage.ENGAGED]
            won = prospects[draws.uniform(f"convert/{name}", d, prospects) < cfg.convert_on_redeem]
            self.model.convert(won, d, plan.item)
            self._count(plan, "conversions", d, won)
        if cfg.recall_on_redeem > 0:
            lapsing = redeemed[(stage == Stage.AT_RISK) | (stage == Stage.DORMANT)]
            back = lapsing[draws.uniform(f"recall/{name}", d, lapsing) < cfg.recall_on_redeem]
            pop.stage[back] = Stage.ACTIVE
            self._count(plan, "recalled", d, back)
        if cfg.share_on_redeem > 0:
            sharers = redeemed[draws.uniform(f"share/{name}", d, redeemed) < cfg.share_on_redeem]
            friends = self.model.network.random_tie(sharers, self._tie_rng(plan, d))
            friends = np.unique(friends[friends >= 0])
            friends = friends[pop.stage[friends] <= Stage.AWARE]
            if cfg.share_effect == "engage":
                pop.mark_engaged(friends, d)
            else:
                pop.mark_aware(friends, d)
            self._count(plan, "shared_to", d, friends)

