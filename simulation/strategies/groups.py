"""Community groups (社群): customers scan a group code and land in the open group of their
city; a full group overflows into a new one. Content is posted on a cadence, with themed-day
posts; posts convert engaged members and win back lapsing ones. Members mute groups that have no
1:1 follow-up, complaints (``negative_sentiment``) spread inside a group and KOC members damp
them, and over-hot groups get blocked.

Sources: 200-member passive-scan cap, full within hours, assignment by geography, over-hot
groups blocked by Tencent, muting without tag-based 1:1 follow-up (CMB [004]); external groups
≤ 500 and "join group" codes that create a new group when full (DOMAIN.md §2.4); coupon
scarcity → complaints in CCB's groups, hence a KOC system (CCB [001]); CGB's national groups
without sustained content [001]; themed weekdays [001].

Operators (``operators``, off by default): the people who post in and look after the groups.
They can run ``headcount × time_share × groups_per_operator`` groups well a day; when more
groups are live, the operators rotate through them and the rest get no post that day — their
members do not convert or come back on a post, and a group without a post for ``quiet_days``
lets its prospects drift out (``quiet_forget``), the same mechanics as content that is not
sustained. CMB's card centre runs its groups centrally with tools that raise output per head
(「统一由卡部中心组建部门去做全国的统一化运营……借工具的能力又进一步提升了人效」, 「几个人的部门运营
几百万的私域用户」 [001]); CGB has no full-time staff and tools that lag (「没有全职人员跟进……工具
能力没有跟上」 [001]).

The operators' rota: which groups they run on a day is planned at the end of the day before,
over the groups live then (a window of ``capacity`` groups moving through them day by day), and
is what the day's posts follow — the groups' own posts and the coupons perks posts in the
groups (``perks.catalogue.*.delivery: groups``), which steps before the groups and reads the
rota through the declared state ``group_run``. A group opened during the day is run that day
only while the rota leaves the operators spare capacity (they take on other groups when they
have room). Why one rota for both: a coupon is a post; a group nobody runs that day gets neither.

Declared state: ``group`` (group id, −1 = none), ``group_muted``, ``koc``, ``group_run`` (the
customer's group is on today's rota; always true without operators). Moves the shared
sentiment (``model.sentiment``, raised by perks' stock-outs): spreads and decays it in groups.

Random numbers: every draw is keyed by its decision, the day and the customer slot (or the
group id, for blocking) through :class:`~simulation.rng.SlotDraws` — ``join`` (thinned at the
join rate's power-of-two bound), ``koc``, ``block``, ``mute``, ``complaint_leave``, ``posts``
(one uniform a day, the Poisson count by its inverse CDF), ``convert``, ``recover`` and
``quiet_forget``. They came from the module's one sequential stream, so how many numbers one
decision drew (how many candidates joined, whether recovery was on, how many members listened)
shifted every later decision's numbers, that day and every day after: a lever switched on or
off that touched none of them still reshuffled joins, mutes and conversions, which is noise in
every paired (common-random-numbers) comparison. Keyed, a member's outcome of one decision
depends on its own state and its own number only; the numbers are made block by block, so any
thread count gives the same ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from simulation import kernels
from simulation.population.stages import Stage, StageCode
from simulation.rng import quantize_up
from simulation.scenario.types import (
    DAYS_PER_MONTH,
    WEEKDAYS,
    NonNegative,
    PerSegmentProbability,
    Positive,
    Probability,
    Problems,
    StrictModel,
    Yuan,
    per_segment_problems,
    resolve_per_segment,
)
from simulation.strategies.base import Day, State, StrategyModule

#: Passive-scan cap of a WeCom customer group [004]; external groups take up to 500 (§2.4).
PASSIVE_SCAN_CAP = 200
EXTERNAL_GROUP_CAP = 500

JoinStage = Literal["aware", "engaged", "converted", "active", "at_risk", "dormant"]
Weekday = Literal[WEEKDAYS]  # type: ignore[valid-type]


class GroupOperators(StrictModel):
    """The people who run the groups: they post the content (what a group that is not run
    misses is its posts; their moderation of complaints is not modelled).

    The same ideas and names as a staffed channel's ``staff`` (channel_config.StaffCapacity):
    ``headcount`` people give ``time_share`` of their day to the groups, so they run
    ``headcount × time_share × groups_per_operator`` groups well a day and cost ``headcount ×
    time_share × monthly_cost`` a month plus ``headcount × seat_cost_per_year`` a year for their
    tools (paid whether or not the groups need them); every
    response of a member to a post (conversion, win-back) is × ``productivity``.

    Why: the articles contrast a central team with tools, whose few people run millions of
    members (CMB [001]), with a pilot that has no full-time staff and tools that lag (CGB
    [001]): the number of groups one operator can run well (``groups_per_operator``, which
    tools raise: scheduled posts instead of posting by hand) and the share of their time decide
    whether the groups are run at all. ``headcount`` may be a fraction: a share of a central
    team whose members also run the groups of the rest of the bank (a preset is a slice of it).
    """

    headcount: Annotated[float, Field(gt=0.0)]
    groups_per_operator: Annotated[float, Field(gt=0.0)]  # run well by one full-time operator
    time_share: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0  # share of their day on groups
    productivity: Annotated[float, Field(gt=0.0, le=10.0)] = 1.0  # × every response to a post
    monthly_cost: Yuan = 0.0  # per full-time operator
    #: Tool licences a year per operator account (WeCom's interface licence, an SCRM seat):
    #: tools are sold per seat, so they cost by ``headcount`` (a part-time operator still holds
    #: an account), not by the number of groups — one seat posts to all the groups it runs.
    seat_cost_per_year: Yuan = 0.0

    @property
    def full_time_equivalents(self) -> float:
        """Operators in full-time equivalents (``headcount × time_share``)."""
        return self.headcount * self.time_share

    @property
    def capacity(self) -> float:
        """Groups the operators can run well a day."""
        return self.full_time_equivalents * self.groups_per_operator

    @property
    def cost(self) -> float:
        """Operator cost a day (yuan): salaries by full-time equivalents, tool seats by head."""
        return (
            self.full_time_equivalents * self.monthly_cost / DAYS_PER_MONTH
            + self.headcount * self.seat_cost_per_year / (12 * DAYS_PER_MONTH)
        )


class GroupsConfig(StrictModel):
    """Community groups; off while ``join_rate`` is 0 everywhere (the default)."""

    join_rate: PerSegmentProbability = 0.0
    join_stages: list[JoinStage] = Field(default_factory=lambda: ["aware", "engaged", "active"])
    cap: Annotated[int, Field(ge=1, le=EXTERNAL_GROUP_CAP)] = PASSIVE_SCAN_CAP
    external: bool = False
    assignment: Literal["city", "national"] = "city"
    posts_per_week: NonNegative = 3.0
    themed_days: list[Weekday] = Field(default_factory=list)
    themed_day_lift: Positive = 1.5
    content_half_life_days: Positive | None = None
    conversion_per_post: PerSegmentProbability = 0.0
    recovery_per_post: Probability = 0.0
    mute_rate: Probability = 0.0
    tag_based_followup: bool = False
    followup_mute_multiplier: NonNegative = 0.3
    koc_share: Probability = 0.0
    koc_damping: Probability = 0.3
    sentiment_spread: Probability = 0.2
    sentiment_decay: Probability = 0.02
    leave_per_sentiment: Probability = 0.05
    hot_join_threshold: Annotated[int, Field(ge=1)] | None = None
    block_probability: Probability = 0.0
    cost_per_group_per_month: Yuan = 0.0
    cost_per_post: Yuan = 0.0
    #: Engagement needs content: a prospect member who muted the group, or whose groups saw no
    #: post for ``quiet_days``, drifts back out of the private domain (engaged → aware) at this
    #: daily rate. 0 = off. CGB's unstaffed groups 「社群内容不持续」 [001]; members who no longer
    #: open a group 「最后这个群可能就放那不再打开了」 [004].
    quiet_forget: Probability = 0.0
    quiet_days: Annotated[int, Field(ge=1)] = 14
    #: Who runs the groups; None (the default) = the groups are always run, at no staff cost
    #: beyond ``cost_per_group_per_month`` / ``cost_per_post``.
    operators: GroupOperators | None = None

    @model_validator(mode="after")
    def _cap_allowed(self) -> GroupsConfig:
        if not self.external and self.cap > PASSIVE_SCAN_CAP:
            raise PydanticCustomError(
                "group_cap",
                "cap {cap} exceeds the {lim}-member passive-scan cap; set external: true for "
                "external groups (≤ {ext})",
                {"cap": self.cap, "lim": PASSIVE_SCAN_CAP, "ext": EXTERNAL_GROUP_CAP},
            )
        return self

    def cross_problems(self, scenario: object, path: tuple[str | int, ...]) -> Problems:
        segments = list(getattr(scenario, "segment_names", []))
        return per_segment_problems(self.join_rate, segments, (*path, "join_rate")) + (
            per_segment_problems(
                self.conversion_per_post, segments, (*path, "conversion_per_post")
            )
        )


_NO_ADVISER = np.full(1, -1, dtype=np.int32)  # stand-in when no advisers are enabled
_NO_DRAWS = np.zeros(0)
_DAY_SLOT = np.zeros(1, dtype=np.int64)  # the one "slot" of a draw made once a day


def poisson_quantile(u: float, rate: float) -> int:
    """The smallest ``k`` with P(Poisson(rate) ≤ k) > ``u``: a Poisson draw from one uniform
    (inverse CDF), monotone in ``rate`` for a fixed ``u``. numpy draws Poisson numbers only
    from a stream (consuming a varying count of them), and scipy.stats' ``ppf`` would add its
    import to every run, for a sum of a few terms; the pmf is summed in log space so that a
    large rate does not underflow ``exp(-rate)``."""
    k = 0
    log_rate = math.log(rate)
    log_p = -rate
    cdf = math.exp(log_p)
    while cdf <= u:
        k += 1
        log_p += log_rate - math.log(k)
        p = math.exp(log_p)
        if p == 0.0 and k > rate:  # the tail below float resolution: u was within rounding
            break
        cdf += p
    return k


@dataclass
class GroupBook:
    """Sizes and pools of all groups ever opened, and each pool's open (newest) group."""

    cap: int
    size: np.ndarray  # int64 per group
    pool: np.ndarray  # int32 per group
    blocked: np.ndarray  # bool per group
    open_group: np.ndarray  # int64 per pool, −1 = none open

    @classmethod
    def empty(cls, cap: int, n_pools: int) -> GroupBook:
        return cls(
            cap,
            np.zeros(0, np.int64),
            np.zeros(0, np.int32),
            np.zeros(0, bool),
            np.full(n_pools, -1, np.int64),
        )

    @property
    def n_groups(self) -> int:
        return int(self.size.size)

    def assign(self, pools: np.ndarray) -> np.ndarray:
        """Seat joiners (their pools given, in arrival order) and return their group ids.

        Each pool fills its open group up to ``cap``; the overflow opens new groups of ``cap``
        in order, as a "join group" code does when its group is full (DOMAIN.md §2.4).
        """
        out = np.empty(pools.size, dtype=np.int64)
        if pools.size == 0:
            return out
        order = np.argsort(pools, kind="stable")
        sp = pools[order]
        n_pools = self.open_group.size
        counts = np.bincount(sp, minlength=n_pools)
        first = np.cumsum(counts) - counts
        rank = np.arange(sp.size) - first[sp]
        og = self.open_group
        room = np.zeros(n_pools, dtype=np.int64)
        valid = og >= 0
        room[valid] = np.where(self.blocked[og[valid]], 0, self.cap - self.size[og[valid]])
        room = np.maximum(room, 0)
        n_new = -(-np.maximum(counts - room, 0) // self.cap)  # ceil
        base = self.n_groups + np.cumsum(n_new) - n_new
        in_open = rank < room[sp]
        seat = np.where(in_open, og[sp], base[sp] + (rank - room[sp]) // self.cap)
        out[order] = seat
        total_new = int(n_new.sum())
        if total_new:
            self.size = np.concatenate([self.size, np.zeros(total_new, np.int64)])
            self.pool = np.concatenate(
                [self.pool, np.repeat(np.arange(n_pools, dtype=np.int32), n_new)]
            )
            self.blocked = np.concatenate([self.blocked, np.zeros(total_new, bool)])
            has_new = n_new > 0
            self.open_group[has_new] = base[has_new] + n_new[has_new] - 1
        self.size += np.bincount(out, minlength=self.n_groups)
        return out

    def leave(self, groups: np.ndarray) -> None:
        """Members of ``groups`` (one entry per leaver) leave; their groups shrink."""
        if groups.size:
            self.size -= np.bincount(groups, minlength=self.n_groups)


class Groups(StrategyModule):
    """Daily: joins and overflow, blocking of over-hot groups, mutes, sentiment, posts."""

    name = "groups"
    source_is_name = True
    states = (
        State("group", np.int32, -1, description="WeCom group the customer is in, −1 none"),
        State("group_muted", np.bool_, False, description="muted the group"),
        State("koc", np.bool_, False, description="a key opinion customer of the group"),
        State("group_run", np.bool_, True,
              description="the customer's group is on today's operators' rota (planned the "
                          "day before; always true without operators)"),
    )
    moves_sentiment = True

    @classmethod
    def enabled(cls, scenario) -> bool:
        return any(resolve_per_segment(scenario.groups.join_rate, scenario.segment_names))

    def setup(self) -> None:
        model = self.model
        pop = model.population
        sc = model.scenario
        cfg: GroupsConfig = sc.groups
        self.cfg = cfg
        segs = sc.segment_names
        self.join_rate = np.array(resolve_per_segment(cfg.join_rate, segs))
        self.convert = np.array(resolve_per_segment(cfg.conversion_per_post, segs))
        self.join_ok = np.zeros(len(Stage), dtype=bool)
        self.join_ok[[Stage[s.upper()] for s in cfg.join_stages]] = True
        self.pool_of = (
            pop.city.astype(np.int64) if cfg.assignment == "city" else np.zeros(pop.n, np.int64)
        )
        n_pools = int(self.pool_of.max(initial=0)) + 1
        # the member cap in customers → rows (population weights)
        self.book = GroupBook.empty(self.model.population.rows_for(cfg.cap), n_pools)
        self.group = self.state("group")
        self.muted = self.state("group_muted")
        self.koc = self.state("koc")
        assert model.sentiment is not None  # this module moves sentiment, so it exists
        self.sentiment = model.sentiment
        self.left = np.zeros(pop.n, bool)
        # the members (sorted slots with group >= 0), kept as they join and leave: the daily
        # step needed them three to four times, each a scan of the whole population (at 1M
        # with ~300k members: 1.1 ms a scan against ~0.3 ms to keep them). None until read.
        self._members: np.ndarray | None = None
        self.themed = {WEEKDAYS.index(d) for d in cfg.themed_days}
        self.posts_total = 0
        self.last_post_day = 0
        self.blocked_total = 0
        # operators: which groups are run today, each group's last post day, and the run's
        # operator statistics (members per operator, share of live groups run)
        self.operators = cfg.operators
        self.prod = 1.0 if cfg.operators is None else cfg.operators.productivity
        self.group_run = self.state("group_run")
        self.run_today = np.zeros(0, bool)
        self.rota = np.zeros(0, bool)  # groups planned to be run today (planned yesterday)
        self.group_last_post = np.zeros(0, np.int64)
        self.member_days = 0.0  # represented customers (population weights) × days
        self.live_group_days = 0
        self.run_group_days = 0
        self.operator_days = 0
        # invitations of chained routes (the channels' declared state), read only when a route
        # has a group_join step: otherwise nothing is scanned
        invites = any(
            step.kind == "group_join" for r in sc.flows.routes.values() for step in r.steps
        )
        self.invited = model.read_state("group_invited_day") if invites else None
        model.ledger.register("groups", "group")

    # ------------------------------------------------------------------ daily step
    def step(self, day: Day) -> None:
        self._step(day)
        if self.operators is not None:
            self._plan_rota(day.index + 1)

    def members(self) -> np.ndarray:
        """The customers in a group now (sorted slots, ``group >= 0``; do not modify)."""
        if self._members is None:
            self._members = kernels.where_at_least(self.group, np.int32(0))
        return self._members

    def _step(self, day: Day) -> None:
        pop = self.model.population
        # Churned customers drop out of their group.
        members = self.members()
        self._remove(members[pop.stage[members] == StageCode.CHURNED], rejoin=False)
        joined = self._join(day)
        self._block_hot(day, joined)
        posts, lift = self.posts_today(day)
        self.posts_total += posts
        if posts:
            self.last_post_day = day.index
        if self.operators is not None:
            self._run_groups(day, posts)
        members = self.members()
        if members.size == 0:
            self._charge_operators_only(day)
            return
        members = self._mute_and_sentiment(day, members)
        if self.operators is not None:
            self.member_days += self.model.population.represented(members)  # real customers
            reached = members[self.run_today[self.group[members]]]
        else:
            reached = members
        self._posts(day, reached, posts, lift)
        self._drift_out(day, members)
        self._charge(day, members, posts)

    def _plan_rota(self, next_day: int) -> None:
        """Plan the groups the operators run on ``next_day``, over the groups live now: all of
        them while they are no more than the operators' capacity, else a window of
        ``capacity`` groups that moves through the live groups day by day (each group is run
        on a ``capacity / live`` share of days, in turn, no random draw). Members read it as
        ``group_run`` (perks steps before the groups and posts its coupons by it)."""
        assert self.operators is not None
        book = self.book
        live = np.flatnonzero((book.size > 0) & ~book.blocked)
        cap = self.operators.capacity
        rota = np.zeros(book.n_groups, bool)
        if live.size <= cap:
            rota[live] = True
        else:
            start = (next_day * cap) % live.size
            rota[live[(np.arange(live.size) - start) % live.size < cap]] = True
        self.rota = rota
        members = self.members()
        self.group_run[members] = rota[self.group[members]]

    def _run_groups(self, day: Day, posts: int) -> None:
        """The live groups run today: those on the rota planned yesterday and, while the rota
        leaves spare capacity (groups opened since, or a group on it emptied), other live
        groups in order. A run group gets today's posts; its last post day is kept."""
        assert self.operators is not None
        book = self.book
        n = book.n_groups
        if self.group_last_post.size < n:  # groups opened today start with a fresh clock
            fresh = np.full(n - self.group_last_post.size, day.index, np.int64)
            self.group_last_post = np.concatenate([self.group_last_post, fresh])
        live_mask = (book.size > 0) & ~book.blocked
        run = np.zeros(n, bool)
        run[: self.rota.size] = self.rota
        run &= live_mask
        spare = int(np.floor(self.operators.capacity - run.sum()))  # whole groups left
        if spare > 0:  # room on the rota: other live groups (opened since, say), in order
            run[np.flatnonzero(live_mask & ~run)[:spare]] = True
        self.run_today = run
        self.live_group_days += int(live_mask.sum())
        self.run_group_days += int(run.sum())
        self.operator_days += 1
        if posts:
            self.group_last_post[run] = day.index

    def _drift_out(self, day: Day, members: np.ndarray) -> None:
        """Prospect members who hear nothing (muted, or the groups quiet for ``quiet_days``)
        lose the engagement joining gave them, at ``quiet_forget`` a day."""
        cfg = self.cfg
        if cfg.quiet_forget <= 0:
            return
        pop = self.model.population
        engaged = members[pop.stage[members] == StageCode.ENGAGED]
        if self.operators is not None:  # each group's own last post (operators rotate)
            quiet_group = day.index - self.group_last_post >= cfg.quiet_days
            deaf = engaged[self.muted[engaged] | quiet_group[self.group[engaged]]]
        else:
            quiet = day.index - self.last_post_day >= cfg.quiet_days
            deaf = engaged if quiet else engaged[self.muted[engaged]]
        out = deaf[self.draws.uniform("quiet_forget", day.index, deaf) < cfg.quiet_forget]
        pop.stage[out] = Stage.AWARE
        self._count("drifted_out", day, out)

    def _remove(self, idx: np.ndarray, rejoin: bool) -> None:
        if idx.size == 0:
            return
        self.book.leave(self.group[idx].astype(np.int64))
        self.group[idx] = -1
        if self._members is not None:  # idx: sorted members (subsets of the members)
            self._members = kernels.drop_sorted(self._members, idx.astype(np.int64, copy=False))
        self.muted[idx] = False
        if not rejoin:
            self.left[idx] = True

    def _join(self, day: Day) -> np.ndarray:
        """Today's joiners: eligible customers (a join stage, in no group, never left) scan
        the code at their segment's rate, drawn per slot; candidates at the rate's
        power-of-two bound (:func:`~simulation.rng.quantize_up`) so that a sweep of the join
        rate keeps the same candidate slots. Plus today's invitations of chained routes."""
        pop = self.model.population
        join_ok, group, left, rate = self.join_ok, self.group, self.left, self.join_rate

        def join_p(cand: np.ndarray) -> np.ndarray:
            ok = join_ok[pop.stage[cand]] & (group[cand] < 0) & ~left[cand]
            return np.where(ok, rate[pop.segment[cand]], 0.0)

        p_max = quantize_up(float(rate.max()))
        cand = self.draws.thinned("join", day.index, pop.n, p_max, join_p)
        if self.invited is not None:  # a chained route's group_join step invited them today
            inv = np.flatnonzero(self.invited == day.index)
            inv = inv[(self.group[inv] < 0) & ~self.left[inv]]
            cand = np.union1d(cand, inv)
        if cand.size == 0:
            return cand
        self.group[cand] = self.book.assign(self.pool_of[cand])
        if self._members is not None:  # cand: sorted, none of them a member before
            self._members = kernels.merge_sorted(self._members, cand.astype(np.int64, copy=False))
        self.koc[cand] = self.draws.uniform("koc", day.index, cand) < self.cfg.koc_share
        aware = cand[pop.stage[cand] <= StageCode.AWARE]
        pop.mark_engaged(aware, day.index)  # a group member is inside the private domain
        self._count("joins", day, cand)
        return cand

    def _block_hot(self, day: Day, joined: np.ndarray) -> None:
        """Groups that took more than ``hot_join_threshold`` joins today may be blocked [004]."""
        cfg = self.cfg
        if cfg.hot_join_threshold is None or cfg.block_probability <= 0 or joined.size == 0:
            return
        joins = np.bincount(self.group[joined], minlength=self.book.n_groups)
        hot = np.flatnonzero((joins > cfg.hot_join_threshold) & ~self.book.blocked)
        hot = hot[self.draws.uniform("block", day.index, hot) < cfg.block_probability]
        if hot.size == 0:
            return
        self.book.blocked[hot] = True
        hit = np.zeros(self.book.n_groups, bool)
        hit[hot] = True
        members = self.members()
        evicted = members[hit[self.group[members]]]
        self._remove(evicted, rejoin=True)  # they may scan a new code later
        self.blocked_total += int(hot.size)
        self._count("evicted_by_block", day, evicted)

    def _mute_and_sentiment(self, day: Day, members: np.ndarray) -> np.ndarray:
        """Mutes, then complaints spreading inside groups and damped by KOCs; unhappy leave.

        The per-member arithmetic runs in compiled single passes over ``members``
        (:mod:`simulation.kernels`: ``group_mutes``, ``group_sentiment``) with this module's
        uniforms drawn here, keyed per member slot (one per member not muted yet, in order)."""
        cfg = self.cfg
        if cfg.mute_rate > 0:
            u = self.draws.uniform("mute", day.index, members[~self.muted[members]])
            adviser = self.model.read_state("adviser")
            muted = kernels.group_mutes(
                members, self.muted, _NO_ADVISER if adviser is None else adviser,
                adviser is not None, bool(cfg.tag_based_followup), float(cfg.mute_rate),
                float(cfg.followup_mute_multiplier), u,
            )
            self._count("mutes", day, muted)
        moved, s = kernels.group_sentiment(
            members, self.group, self.sentiment.writable(), self.koc, self.book.n_groups,
            float(cfg.sentiment_spread), 1.0 - cfg.koc_damping, 1.0 - cfg.sentiment_decay,
        )
        if moved:
            u = self.draws.uniform("complaint_leave", day.index, members)
            leave = members[u < cfg.leave_per_sentiment * s]
            self._remove(leave, rejoin=False)
            self._count("complaint_leaves", day, leave)
            members = self.members()
        return members

    def posts_today(self, day: Day) -> tuple[int, float]:
        """Posts today (Poisson around the cadence, plus one themed post) and their lift.

        The count is the Poisson quantile of the day's own uniform (``posts``), so a higher
        cadence never posts less on a day, and the count does not depend on other draws."""
        cfg = self.cfg
        rate = cfg.posts_per_week / 7.0
        if cfg.content_half_life_days is not None:
            rate *= 0.5 ** ((day.index - 1) / cfg.content_half_life_days)
        posts = 0
        if rate > 0:
            u = float(self.draws.uniform("posts", day.index, _DAY_SLOT)[0])
            posts = poisson_quantile(u, rate)
        if day.weekday in self.themed:
            return posts + 1, cfg.themed_day_lift
        return posts, 1.0

    def _posts(self, day: Day, members: np.ndarray, posts: int, lift: float) -> None:
        """Posts reach members who have not muted: engaged prospects convert, lapsing
        customers come back, both damped by sentiment (one compiled pass,
        ``kernels.group_post_effects``; this module's uniforms drawn here, keyed per listening
        member: ``convert`` and ``recover``)."""
        pop = self.model.population
        if posts == 0:
            return
        listening = members[~self.muted[members]]
        u_conv = self.draws.uniform("convert", day.index, listening)
        recovery = self.cfg.recovery_per_post > 0
        u_rec = self.draws.uniform("recover", day.index, listening) if recovery else _NO_DRAWS
        lift = lift * self.prod  # the operators' productivity (1 without operators)
        p_conv = 1.0 - (1.0 - np.minimum(self.convert * lift, 1.0)) ** posts  # per segment
        p_rec = (1.0 - (1.0 - min(self.cfg.recovery_per_post * lift, 1.0)) ** posts) if (
            recovery
        ) else 0.0
        won, back = kernels.group_post_effects(
            members, self.muted, self.sentiment.values, pop.stage, pop.segment,
            np.ascontiguousarray(p_conv, dtype=np.float64), float(p_rec), u_conv, u_rec,
            int(Stage.ENGAGED), int(Stage.AT_RISK), int(Stage.DORMANT),
        )
        self.model.convert(won, day.index, "groups")
        self._count("conversions", day, won)
        if recovery:
            pop.stage[back] = Stage.ACTIVE
            self._count("recoveries", day, back)

    def _charge(self, day: Day, members: np.ndarray, posts: int) -> None:
        cfg = self.cfg
        pop = self.model.population
        live = int(((self.book.size > 0) & ~self.book.blocked).sum())
        cost = live * cfg.cost_per_group_per_month / DAYS_PER_MONTH + (
            posts * cfg.cost_per_post
        )
        if self.operators is not None:
            cost += self.operators.cost
        if cost <= 0:
            return
        share = kernels.segment_counts(pop.segment, members, len(pop.segment_names)) / members.size
        self.model.ledger.charge("groups", day.index, share * cost)

    def _charge_operators_only(self, day: Day) -> None:
        """Operators are paid on a day without members too, split by the population's
        segment shares (there are no members to split by)."""
        if self.operators is None or self.operators.cost <= 0:
            return
        pop = self.model.population
        share = np.bincount(pop.segment, minlength=len(pop.segment_names)) / pop.n
        self.model.ledger.charge("groups", day.index, share * self.operators.cost)

    def operator_kpis(self) -> dict[str, float | None]:
        """Members per operator (mean daily members, in represented customers, ÷
        full-time-equivalent operators) and the share of live group-days the operators ran;
        empty without operators."""
        if self.operators is None or self.operator_days == 0:
            return {}
        fte = self.operators.full_time_equivalents
        return {
            "group_members_per_operator": self.member_days / self.operator_days / fte,
            "groups_run_share": (
                self.run_group_days / self.live_group_days if self.live_group_days else None
            ),
        }

    def _count(self, event: str, day: Day, idx: np.ndarray) -> None:
        pop = self.model.population
        self.model.ledger.count(
            "groups", event, day.index, pop.segment_counts(idx)
        )

    def group_sizes(self) -> np.ndarray:
        """Current size of every group ever opened (blocked ones are empty)."""
        return self.book.size.copy()
