"""1:1 advisers (企业微信 1V1 named advisers): each adviser adds up to ``capacity`` customers of
their city (or nationally), messages each at most once a day, and their personal contact
converts engaged prospects and wins back lapsing customers better than broadcast content.

Sources: the 1V1 named adviser of WeBank and MYbank [000][003]; WeCom's hard cap of ≤ 1 message
a day from one staff member to one customer (DOMAIN.md §2.4); contact triggered by holidays,
market swings and product maturity [003]; the branch-neighbourhood manager's hobby "persona"
that builds trust and sells million-yuan products [001]; CCB's part-time WeCom managers [001].

Declared states: ``adviser`` (adviser id, −1 = none), ``interest_tag`` and
``adviser_value_multiplier`` (role ``value_multiplier``: what a served customer's account earns
is × (1 + ``holdings_uplift``) while an adviser serves them; 1.0 for everyone while the uplift
is 0, the default). Staff cost goes to the ledger
under category ``adviser``. Reads the shared sentiment (``model.sentiment``: complaints damp
the response) and
``opted_out`` (contact windows: a customer who deleted the contact is released).
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from simulation import kernels
from simulation.population.stages import Stage, StageCode
from simulation.rng import bernoulli_indices
from simulation.scenario.types import (
    DAYS_PER_MONTH,
    PerSegmentNonNegative,
    PerSegmentProbability,
    Positive,
    Probability,
    Problems,
    StrictModel,
    Yuan,
    per_segment_problems,
    resolve_per_segment,
)
from simulation.strategies.base import VALUE_MULTIPLIER, Day, State, StrategyModule

AddStage = Literal["aware", "engaged", "converted", "active", "at_risk", "dormant"]


class AdviserTriggers(StrictModel):
    """Moments an adviser reaches out to everyone they serve, or to one customer [003]."""

    holidays: list[Annotated[int, Field(ge=1)]] = Field(default_factory=list)  # day indices
    market_swing_rate: Probability = 0.0
    product_maturity_days: Annotated[int, Field(ge=1)] | None = None
    contact_probability: Probability = 1.0
    lift: Positive = 1.5


class Interest(StrictModel):
    """One interest tag and the share of customers who hold it."""

    name: str
    share: Probability


class InterestTags(StrictModel):
    """Interest tags and tag-based 1:1 follow-up (标签化一对一跟进).

    Each customer holds at most one interest tag, drawn once with the ``interests``' shares (the
    rest untagged). Each day the advisers' offer is about one tag (the tags take turns day by
    day). Without ``targeting`` an adviser sends the day's offer to whoever they message, so it
    matches only customers holding today's tag; with ``targeting`` (advisers tag customers in
    WeCom and follow up by tag) every message to a tagged customer is about that customer's
    interest. A matching message converts and wins back × ``match_lift``.

    Why: CMB's case says WeCom contacts tagged by preference (films, food, digital, beauty)
    and pushed 1:1 by tag take part more:
    「按用户的喜好，比如电影、美食、数码、美妆等等分别打好标签。
    接着，就可以根据这些标签，进行针对性的私聊推送……
    因为更精准，用户的活动参与率就会更高」 [004].
    The groups side (fewer mutes) is ``groups.tag_based_followup``; the branch manager's
    hobby persona sells by shared interests [001]. This is the advisers side: targeting
    interests raises what a 1:1 message converts.
    """

    interests: list[Interest] = Field(default_factory=list)
    targeting: bool = False
    match_lift: Annotated[float, Field(ge=1.0)] = 1.0
    #: The one product every adviser message pushes (the name of one of the ``interests``),
    #: instead of the tags taking turns day by day: a product recommendation policy. Why: the
    #: elderly case says what to recommend — 「少推荐定投类的理财产品，养老型居多」 [001] — and
    #: whether that pays depends on how many customers the pushed product fits: a message
    #: matches (× ``match_lift``) only customers whose interest is the offer. ``None`` = no
    #: fixed offer. Cannot be combined with ``targeting`` (which picks each customer's own).
    offer: str | None = None

    @model_validator(mode="after")
    def _shares_sum(self) -> InterestTags:
        if sum(i.share for i in self.interests) > 1.0 + 1e-9:
            raise PydanticCustomError(
                "tag_shares", "tag shares add up to more than 1 (one tag per customer)", {}
            )
        return self


class AdvisersConfig(StrictModel):
    """WeCom 1:1 advisers; off while ``count`` is 0 (the default)."""

    count: Annotated[int, Field(ge=0)] = 0
    capacity: Annotated[int, Field(ge=1)] = 500
    assignment: Literal["city", "national"] = "city"
    add_rate: PerSegmentProbability = 0.0
    add_stages: list[AddStage] = Field(default_factory=lambda: ["engaged", "active"])
    contact_rate: Probability = 0.05
    messages_per_adviser_per_day: Annotated[int, Field(ge=1)] = 80
    conversion_per_contact: PerSegmentProbability = 0.0
    recovery_per_contact: Probability = 0.0
    persona_lift: PerSegmentNonNegative = 1.0
    workload_share: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    monthly_cost_per_adviser: Yuan = 0.0
    #: Served customers lapse at this multiple of their hazard: the trust of a long 1:1
    #: relationship ([003] 「將交易關係升華為顧問式陪伴關係」). 1.0 = no relationship effect.
    churn_multiplier: Annotated[float, Field(ge=0.0, le=1.0)] = 1.0
    #: While served, a customer's account earns × (1 + this): a named adviser turns followers
    #: into holders of more products (wealth, deposits), reminded at maturity and on market
    #: swings ([003] 「將交易關係升華為顧問式陪伴關係」; WeBank and MYbank advisers who "convert
    #: followers into product holders" [000][003]). It acts through the money layer's declared
    #: value-multiplier hook, so it is a margin uplift on what the account earns (deposit
    #: margin, wealth fees, card and loan interest); balances themselves are not changed.
    #: 0 = no holdings effect.
    holdings_uplift: Annotated[float, Field(ge=0.0)] = 0.0
    triggers: AdviserTriggers = AdviserTriggers()
    tags: InterestTags = InterestTags()

    def cross_problems(self, scenario: object, path: tuple[str | int, ...]) -> Problems:
        segments = list(getattr(scenario, "segment_names", []))
        out: Problems = []
        for name in ("add_rate", "conversion_per_contact", "persona_lift"):
            out += per_segment_problems(getattr(self, name), segments, (*path, name))
        offer = self.tags.offer
        if offer is not None:
            names = [i.name for i in self.tags.interests]
            where = (*path, "tags", "offer")
            if offer not in names:
                known = ", ".join(names) if names else "none (add tags.interests)"
                out.append((where, f"unknown interest '{offer}'; interests: {known}"))
            elif self.tags.targeting:
                out.append((where, "a fixed offer cannot be combined with targeting: true "
                                   "(targeting sends each customer their own interest)"))
        return out  # holidays after the horizon are allowed: a shorter run never reaches them


def adviser_pools(count: int, pool_sizes: np.ndarray) -> np.ndarray:
    """Pool of each adviser: ``count`` advisers spread over pools by population (largest
    remainder), adviser ids contiguous within a pool."""
    total = pool_sizes.sum()
    if count == 0 or total == 0:
        return np.zeros(0, dtype=np.int64)
    raw = pool_sizes / total * count
    n = np.floor(raw).astype(np.int64)
    short = count - int(n.sum())
    n[np.argsort(-(raw - n), kind="stable")[:short]] += 1
    return np.repeat(np.arange(pool_sizes.size), n)


def assign_to_advisers(
    pools: np.ndarray, adviser_pool: np.ndarray, load: np.ndarray, capacity: int
) -> np.ndarray:
    """Adviser of each joiner (−1 when its pool is full), filling advisers in id order.

    ``load`` is updated in place and never exceeds ``capacity``.
    """
    out = np.full(pools.size, -1, dtype=np.int64)
    if pools.size == 0 or adviser_pool.size == 0:
        return out
    n_pools = int(max(pools.max(), adviser_pool.max())) + 1
    room = capacity - load
    free = np.bincount(adviser_pool, weights=room, minlength=n_pools).astype(np.int64)
    cumroom = np.cumsum(room)
    pool_start = np.concatenate([[0], np.cumsum(free)])[:-1]
    order = np.argsort(pools, kind="stable")
    sp = pools[order]
    counts = np.bincount(sp, minlength=n_pools)
    rank = np.arange(sp.size) - (np.cumsum(counts) - counts)[sp]
    ok = rank < free[sp]
    slot = pool_start[sp[ok]] + rank[ok]
    adv = np.searchsorted(cumroom, slot, side="right")
    out[order[ok]] = adv
    load += np.bincount(adv, minlength=load.size)
    return out


class Advisers(StrategyModule):
    """Daily: release churned/opted-out customers, add new ones, send ≤ 1 message per pair."""

    name = "advisers"
    source_is_name = True

    states = (
        State("adviser", np.int32, -1, description="adviser serving the customer, −1 none"),
        State("interest_tag", np.int8, -1, description="the customer's interest tag, −1 none"),
        State("adviser_value_multiplier", np.float64, 1.0, role=VALUE_MULTIPLIER,
              description="× what a served customer's account earns (holdings_uplift)"),
    )

    @classmethod
    def enabled(cls, scenario) -> bool:
        return scenario.advisers.count > 0

    def setup(self) -> None:
        model = self.model
        pop = model.population
        sc = model.scenario
        cfg: AdvisersConfig = sc.advisers
        self.cfg = cfg
        segs = sc.segment_names
        self.add_rate = np.array(resolve_per_segment(cfg.add_rate, segs))
        persona = np.array(resolve_per_segment(cfg.persona_lift, segs))
        self.convert = np.array(resolve_per_segment(cfg.conversion_per_contact, segs)) * persona
        self.recover = cfg.recovery_per_contact * persona
        self.add_ok = np.zeros(len(Stage), dtype=bool)
        self.add_ok[[Stage[s.upper()] for s in cfg.add_stages]] = True
        self.pool_of = (
            pop.city.astype(np.int64) if cfg.assignment == "city" else np.zeros(pop.n, np.int64)
        )
        self.adviser_pool = adviser_pools(cfg.count, np.bincount(self.pool_of))
        # capacity in customers → rows (population weights)
        self.capacity = pop.rows_for(max(1, round(cfg.capacity * cfg.workload_share)))
        self.daily_limit = max(1, round(cfg.messages_per_adviser_per_day * cfg.workload_share))
        self.load = np.zeros(cfg.count, dtype=np.int64)
        self.adviser = self.state("adviser")
        self.value_mult = self.state("adviser_value_multiplier")
        self.holidays = set(cfg.triggers.holidays)
        self.last_messages = np.empty(0, dtype=np.int64)
        # served and active at yesterday's end (sorted slots)
        self.was_active = np.empty(0, dtype=np.int64)
        # the served customers (sorted slots, adviser >= 0), kept as they are added and
        # released instead of two daily scans of the whole population; None until read
        self._served: np.ndarray | None = None
        self._uplifted: np.ndarray | None = None  # whose value multiplier is raised now
        model.ledger.register("advisers", "adviser")
        tags = cfg.tags
        self.n_tags = len(tags.interests)
        #: index of the fixed offer among the interests (−1: none, the tags take turns)
        self.offer = [i.name for i in tags.interests].index(tags.offer) if tags.offer else -1
        if self.n_tags:  # one tag per customer, drawn once (the advisers' stream)
            shares = np.array([i.share for i in tags.interests])
            edges = np.cumsum(shares)
            u = self.rng.random(pop.n)
            tag = np.searchsorted(edges, u, side="right")
            self.state("interest_tag")[:] = np.where(tag < self.n_tags, tag, -1)

    def served(self) -> np.ndarray:
        """The customers an adviser serves now (sorted slots, ``adviser >= 0``; do not
        modify)."""
        if self._served is None:
            self._served = kernels.where_at_least(self.adviser, np.int32(0))
        return self._served

    def step(self, day: Day) -> None:
        pop = self.model.population
        served = self.served()
        release = pop.stage[served] == StageCode.CHURNED
        opted = self.model.read_state("opted_out")
        if opted is not None:
            release |= opted[served].astype(bool)
        self._release(served[release])
        self._keep(day)
        self._add(day)
        served = self.served()
        self._message(day, served)
        self._charge(day, served)
        if self.cfg.holdings_uplift > 0:  # today's book earns × (1 + uplift) (money runs later)
            if self._uplifted is None:
                self.value_mult[:] = 1.0
            else:  # only yesterday's served were raised: the rest is 1 already
                self.value_mult[self._uplifted] = 1.0
            self.value_mult[served] = 1.0 + self.cfg.holdings_uplift
            self._uplifted = served
        self.was_active = served[pop.stage[served] == StageCode.ACTIVE]

    def _keep(self, day: Day) -> None:
        """Undo a share 1 − ``churn_multiplier`` of today's lapses among served customers, so
        a served customer lapses at ``churn_multiplier`` × the hazard (lifecycle runs first)."""
        m = self.cfg.churn_multiplier
        if m >= 1.0:
            return
        pop = self.model.population
        was = self.was_active
        lapsed = was[pop.stage[was] == StageCode.AT_RISK]
        lapsed = lapsed[self.adviser[lapsed] >= 0]
        kept = lapsed[self.rng.random(lapsed.size) >= m]
        pop.stage[kept] = StageCode.ACTIVE
        self._count("kept", day, kept)

    def _release(self, idx: np.ndarray) -> None:
        if idx.size:
            self.load -= np.bincount(self.adviser[idx], minlength=self.load.size)
            self.adviser[idx] = -1
            if self._served is not None:  # idx: sorted, served
                self._served = kernels.drop_sorted(self._served, idx.astype(np.int64, copy=False))

    def _add(self, day: Day) -> None:
        pop = self.model.population
        p_max = float(self.add_rate.max())
        cand = bernoulli_indices(self.rng, pop.n, p_max)
        cand = cand[self.add_ok[pop.stage[cand]] & (self.adviser[cand] < 0)]
        opted = self.model.read_state("opted_out")
        if opted is not None:
            cand = cand[~opted[cand].astype(bool)]
        cand = cand[self.rng.random(cand.size) * p_max < self.add_rate[pop.segment[cand]]]
        adv = assign_to_advisers(self.pool_of[cand], self.adviser_pool, self.load, self.capacity)
        added = cand[adv >= 0]
        self.adviser[added] = adv[adv >= 0]
        if self._served is not None and added.size:  # added: sorted, none served before
            self._served = kernels.merge_sorted(self._served, added.astype(np.int64, copy=False))
        pop.mark_engaged(added[pop.stage[added] <= StageCode.AWARE], day.index)
        self._count("adds", day, added)

    def triggered(self, day: Day, served: np.ndarray) -> np.ndarray:
        """Mask of served customers with a trigger today: holiday, market swing, maturity."""
        trig = self.cfg.triggers
        swing = trig.market_swing_rate > 0 and self.rng.random() < trig.market_swing_rate
        if day.index in self.holidays or swing:
            return np.ones(served.size, dtype=bool)
        if trig.product_maturity_days is None:
            return np.zeros(served.size, dtype=bool)
        converted = self.model.population.converted_day[served]
        age = day.index - converted
        # Only customers hold a maturing product; prospects (converted_day −1) never trigger.
        return (converted >= 0) & (age > 0) & (age % trig.product_maturity_days == 0)

    def _message(self, day: Day, served: np.ndarray) -> None:
        """≤ 1 message per adviser–customer pair today; ≤ ``daily_limit`` per adviser."""
        pop = self.model.population
        cfg = self.cfg
        rng = self.rng
        trig = self.triggered(day, served)
        p = np.where(trig, max(cfg.contact_rate, cfg.triggers.contact_probability),
                     cfg.contact_rate)
        u = rng.random(served.size)
        sent = u < p
        idx, trig, u = served[sent], trig[sent], u[sent]
        adv = self.adviser[idx].astype(np.int64)
        if idx.size and np.bincount(adv).max() > self.daily_limit:
            order = np.lexsort((u - trig, adv))  # triggered messages first, then at random
            sa = adv[order]
            counts = np.bincount(sa, minlength=self.load.size)
            rank = np.arange(sa.size) - (np.cumsum(counts) - counts)[sa]
            keep = np.sort(order[rank < self.daily_limit])
            idx, trig = idx[keep], trig[keep]
        self.last_messages = idx
        self._count("messages", day, idx)
        if idx.size == 0:
            return
        lift = np.where(trig, cfg.triggers.lift, 1.0)
        if self.n_tags and cfg.tags.match_lift != 1.0:
            tag = self.state("interest_tag")[idx]
            # targeting: every tagged customer hears about their own interest; a fixed offer:
            # every message is about that one product; otherwise today's offer is about one
            # tag, whoever gets it
            if cfg.tags.targeting:
                match = tag >= 0
            else:
                match = tag == (self.offer if self.offer >= 0 else day.index % self.n_tags)
            lift = lift * np.where(match, cfg.tags.match_lift, 1.0)
            self._count("tag_matches", day, idx[match])
        if self.model.sentiment is not None:
            lift = lift * (1.0 - self.model.sentiment.values[idx].astype(np.float64))
        seg = pop.segment[idx]
        stage = pop.stage[idx]
        v = rng.random(idx.size)
        won = idx[(stage == StageCode.ENGAGED) & (v < self.convert[seg] * lift)]
        self.model.convert(won, day.index, "advisers")
        self._count("conversions", day, won)
        lapsing = (stage == StageCode.AT_RISK) | (stage == StageCode.DORMANT)
        back = idx[lapsing & (v < self.recover[seg] * lift)]
        pop.stage[back] = Stage.ACTIVE
        self._count("recoveries", day, back)

    def _charge(self, day: Day, served: np.ndarray) -> None:
        """Staff cost per day, split over segments by who the advisers serve."""
        cfg = self.cfg
        cost = cfg.count * cfg.workload_share * cfg.monthly_cost_per_adviser / DAYS_PER_MONTH
        if cost <= 0:
            return
        pop = self.model.population
        s = len(pop.segment_names)
        who = served if served.size else np.arange(pop.n)
        share = kernels.segment_counts(pop.segment, who, s) / max(who.size, 1)
        self.model.ledger.charge("advisers", day.index, share * cost)

    def _count(self, event: str, day: Day, idx: np.ndarray) -> None:
        pop = self.model.population
        self.model.ledger.count(
            "advisers", event, day.index,
            pop.segment_counts(idx),
        )
