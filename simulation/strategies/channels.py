"""The operating matrix: every channel's daily reach, cost, caps and funnel, and the flows its
responders follow.

Per channel and day: fixed costs (monthly fee, staff) are paid if the budget allows, else the
channel is shut; **reach** is drawn per segment (``daily_reach`` × segment affinity × (1 −
finance-content throttling)) among the targeted stages, minus customers at the platform's
message cap, within the channel's daily capacity and budget; **contacts** are the ``open_rate``
of the reach; each contact then converts (``conversion_on_contact`` × completion of the
conversion path), joins the private domain, responds into the channel's route, or (retention
channels) brings an at-risk or dormant customer back. Contact windows, fatigue, themed days and
urgency (``contact_policy``) scale every response when switched on. Spend goes to the ledger per
channel; funnel events (``reach``, ``contacts``, ``engaged``, ``responses``, ``leads``,
``screened_in``, ``conversions``, ``retained``) are counted per channel.

With one channel of reach p converting on contact and word of mouth of imitation q this is the
Bass diffusion model (scenarios/validation/bass.yaml): at default values of the newer fields the
draws are exactly those of the original minimal channel.
"""

from __future__ import annotations

import numpy as np

from simulation import kernels
from simulation.population.stages import Stage, StageCode
from simulation.rng import affordable_by_priority, lowest_priority, slots_with_replacement
from simulation.scenario.types import DAYS_PER_MONTH, resolve_per_segment
from simulation.strategies.base import Day, State, StrategyModule
from simulation.strategies.channel_config import ChannelConfig
from simulation.strategies.channel_routes import Routes
from simulation.strategies.contact_windows import ContactWindows

WEEK_DAYS = 7
MONTH_DAYS = 30  # platform "per month" caps are counted in 30-day blocks of the run (inf.)


class Purse:
    """The channel mix's shared budget (``flows.budget``); unlimited when not set."""

    def __init__(self, budget: float | None) -> None:
        self.left = float("inf") if budget is None else float(budget)

    def spend(self, yuan: float) -> None:
        self.left -= yuan


class CapCounter:
    """Messages each customer received from one channel in the current week / 30-day block.

    A channel reaches a customer at most once a day, so a daily cap of ≥ 1 always holds.
    """

    def __init__(self, n: int, per_week: int | None, per_month: int | None) -> None:
        self.per_week = per_week
        self.per_month = per_month
        self.week = np.zeros(n, dtype=np.uint16) if per_week is not None else None
        self.month = np.zeros(n, dtype=np.uint16) if per_month is not None else None

    @property
    def active(self) -> bool:
        return self.week is not None or self.month is not None

    def new_day(self, day: int) -> None:
        if self.week is not None and (day - 1) % WEEK_DAYS == 0:
            self.week[:] = 0
        if self.month is not None and (day - 1) % MONTH_DAYS == 0:
            self.month[:] = 0

    def under_cap(self, idx: np.ndarray) -> np.ndarray:
        keep = np.ones(idx.size, dtype=bool)
        if self.week is not None:
            keep &= self.week[idx] < self.per_week
        if self.month is not None:
            keep &= self.month[idx] < self.per_month
        return idx[keep]

    def add(self, idx: np.ndarray) -> None:
        if self.week is not None:
            self.week[idx] += 1
        if self.month is not None:
            self.month[idx] += 1


def format_preference(scenario, cfg: ChannelConfig) -> np.ndarray | None:
    """Each segment's response multiplier for the channel's content format, or None (no
    format, or no segment prefers one: every response as before, bit for bit)."""
    if cfg.format is None:
        return None
    segments = scenario.population.segments.values()
    pref = np.array([s.format_preference.get(cfg.format, 1.0) for s in segments])
    return None if bool(np.all(pref == 1.0)) else pref


class ChannelPlan:
    """One channel's per-segment probabilities and limits, resolved once from the scenario."""

    def __init__(
        self,
        name: str,
        cfg: ChannelConfig,
        segments: list[str],
        affinity: np.ndarray,
        n: int,
        format_pref: np.ndarray | None = None,
    ) -> None:
        self.name = name
        self.cfg = cfg

        def seg(value: float | dict[str, float]) -> np.ndarray:
            return np.array(resolve_per_segment(value, segments))

        reach = seg(cfg.daily_reach) * affinity * (1.0 - cfg.throttle)
        self.reach = np.clip(reach, 0.0, 1.0)
        self.open = seg(cfg.open_rate)
        self.opens_all = bool(np.all(self.open >= 1.0))
        # staff productivity scales every response of a staffed channel's contacts
        prod = 1.0 if cfg.staff is None else cfg.staff.productivity
        # and each segment's preference for the channel's content format (video, text, …)
        if format_pref is not None:
            prod = prod * format_pref
        self.convert = np.minimum(seg(cfg.conversion_on_contact) * cfg.path_completion * prod, 1.0)
        self.engage = np.minimum(seg(cfg.engage_on_contact) * prod, 1.0)
        self.respond = np.minimum(seg(cfg.respond_on_contact) * prod, 1.0)
        self.retain = np.minimum(seg(cfg.retain_on_contact) * prod, 1.0)
        self.targets = np.zeros(len(Stage), dtype=bool)
        self.targets[[int(Stage[t.upper()]) for t in cfg.effective_targets]] = True
        self.budget_left = float("inf") if cfg.budget is None else float(cfg.budget)
        caps = cfg.effective_caps
        self.caps = CapCounter(n, caps.per_week, caps.per_month)
        self.limit = cfg.daily_limit
        staff_cost = 0.0 if cfg.staff is None else cfg.staff.cost
        self.fixed_per_day = cfg.fixed_per_month / DAYS_PER_MONTH + staff_cost
        self.shut = False
        self.paced = cfg.pacing == "even"
        self.by_impression = cfg.cost_per_impression > 0
        self.target_codes = np.flatnonzero(self.targets)
        self.group_audience = cfg.audience == "group_members"
        self.employer_audience = cfg.audience == "screened_employers"
        #: (channel code, rate) of every hand-over edge out of this channel (filled by Channels)
        self.hand_over: list[tuple[int, float]] = []


class Channels(StrategyModule):
    name = "channels"
    #: the day a route's ``group_join`` step invited the customer into a WeCom group (−1: never;
    #: int16 days); the groups lever reads it and seats today's invitees
    states = (
        State("group_invited_day", np.int16, -1,
              description="day a chained route invited the customer into a WeCom group"),
    )

    @classmethod
    def enabled(cls, scenario) -> bool:
        return bool(scenario.channels)

    @classmethod
    def sources(cls, scenario) -> tuple[str, ...]:
        return tuple(scenario.channels)

    def setup(self) -> None:
        model = self.model
        sc = model.scenario
        pop = model.population
        self.plans = [
            ChannelPlan(name, cfg, sc.segment_names, pop.channel_affinity[:, c], pop.n,
                        format_preference(sc, cfg))
            for c, (name, cfg) in enumerate(sc.channels.items())
        ]
        for plan in self.plans:
            model.ledger.register(plan.name, "channel")
        self.purse = Purse(sc.flows.budget)
        self.routes = Routes(model, self.purse, self.state("group_invited_day"))
        windows = model.module(ContactWindows)
        self.windows: ContactWindows | None = windows  # type: ignore[assignment]
        self.segment_share = np.bincount(pop.segment, minlength=len(sc.segment_names)) / pop.n
        # the channel graph: hand-over edges, and who arrives at each channel today (handed
        # over yesterday) / tomorrow (handed over today)
        code_of = {plan.name: c for c, plan in enumerate(self.plans)}
        for plan in self.plans:
            plan.hand_over = [(code_of[t], r) for t, r in plan.cfg.hand_over.items() if r > 0]
        empty = np.empty(0, dtype=np.int64)
        self.arriving = [empty] * len(self.plans)
        self.leaving: list[list[np.ndarray]] = [[] for _ in self.plans]
        self.group_of = model.read_state("group") if any(
            p.group_audience for p in self.plans
        ) else None
        self.screened = model.read_state("employer_screened") if any(
            p.employer_audience for p in self.plans
        ) else None
        self._days_left = model.days
        self._purse_today = float("inf")

    # ------------------------------------------------------------------ reach and spend
    def contacts(self, plan: ChannelPlan, day: int, reach: np.ndarray | None = None) -> np.ndarray:
        """Customers the channel reaches today: Bernoulli(reach of their segment), targets only
        (``reach``: today's per-segment reach when a paced budget bought it).

        Drawn per customer slot (``self.draws``, keyed by the channel's name): a customer's
        reach does not depend on who else is targeted, and any thread count draws the same."""
        pop = self.model.population
        reach = plan.reach if reach is None else reach
        p_max = float(reach.max())
        if p_max <= 0:
            return np.empty(0, dtype=np.int64)
        decision = f"reach/{plan.name}"
        if np.all(reach == p_max):
            cand = self.draws.bernoulli(decision, day, pop.n, p_max)
            return cand[plan.targets[pop.stage[cand]]]
        targets = plan.targets

        def reach_p(cand: np.ndarray) -> np.ndarray:
            return kernels.gated_probs(cand, pop.stage, targets, pop.segment, reach)

        return self.draws.thinned(decision, day, pop.n, p_max, reach_p)

    def _left(self, plan: ChannelPlan) -> float:
        return min(plan.budget_left, self.purse.left)

    def _pay(self, plan: ChannelPlan, day: int, per_segment_yuan: np.ndarray) -> None:
        total = float(per_segment_yuan.sum())
        if total <= 0:
            return
        self.model.ledger.charge(plan.name, day, per_segment_yuan)
        plan.budget_left -= total
        self.purse.spend(total)
        self._purse_today -= total

    def _afford(
        self, plan: ChannelPlan, idx: np.ndarray, unit: float, what: str, day: int
    ) -> np.ndarray:
        """The customers ``idx`` the budget can pay ``unit`` yuan each for (a random subset).

        The random order is a priority per customer slot keyed by the channel and ``what``
        (``reach`` or ``contact``): another channel's spending never reorders this one's."""
        if unit <= 0 or idx.size == 0:
            return idx
        weights = self.model.population.weights()
        prio = self.draws.uniform(f"afford_{what}/{plan.name}", day, idx)
        return affordable_by_priority(idx, prio, unit, self._left(plan), weights)

    def _pay_fixed(self, plan: ChannelPlan, day: int) -> bool:
        """Pay today's share of the monthly fee and staff; a channel that cannot is shut."""
        if plan.fixed_per_day <= 0:
            return True
        if plan.shut or plan.fixed_per_day > self._left(plan) + 1e-9:
            plan.shut = True
            return False
        self._pay(plan, day, self.segment_share * plan.fixed_per_day)
        return True

    # ------------------------------------------------------------------ the day
    def step(self, day: Day) -> None:
        days_left = max(1, self.model.days - day.index + 1)
        self._days_left = days_left
        self._purse_today = self.purse.left / days_left  # even pacing of the mix budget
        if any(self.leaving):  # yesterday's hand-overs arrive today
            self.arriving = [np.unique(np.concatenate(x)) if x else np.empty(0, dtype=np.int64)
                             for x in self.leaving]
            self.leaving = [[] for _ in self.plans]
        elif any(a.size for a in self.arriving):
            self.arriving = [np.empty(0, dtype=np.int64)] * len(self.plans)
        for code, plan in enumerate(self.plans):
            plan.caps.new_day(day.index)
            if self._pay_fixed(plan, day.index):
                self._run_channel(code, plan, day)

    # ------------------------------------------------------------------ budget-driven reach
    def _paced_reach(self, plan: ChannelPlan, day: Day) -> tuple[np.ndarray, np.ndarray]:
        """Today's reach probability per segment that an evenly paced budget buys, and what is
        paid up front per segment (impressions; contacts are paid as they happen)."""
        pop = self.model.population
        cfg = plan.cfg
        s = len(pop.segment_names)
        counts = self.model.recorder.stage_counts[day.index - 1][:, plan.target_codes].sum(axis=1)
        pool_s = counts * plan.reach  # customers the platform can show the channel to today
        pool = float(pool_s.sum())
        allowance = min(self._purse_today, self._left(plan))
        if plan.cfg.budget is not None:
            allowance = min(allowance, plan.budget_left / self._days_left)
        if pool <= 0 or allowance <= 0:
            return np.zeros(s), np.zeros(s)
        if plan.by_impression:
            bought = min(allowance / cfg.cost_per_impression, cfg.max_frequency_per_day * pool)
            share = -np.expm1(-bought / pool)  # unique reach of random impressions
            return plan.reach * share, bought * cfg.cost_per_impression * pool_s / pool
        # priced per contact (calls, CPC): the budget buys contacts, one customer each
        opened = float((pool_s * plan.open).sum()) / pool
        wanted = allowance / (cfg.cost_per_contact * max(opened, 1e-12))
        if plan.limit is not None:
            wanted = min(wanted, float(plan.limit))
        return plan.reach * min(1.0, wanted / pool), np.zeros(s)

    def _run_channel(self, code: int, plan: ChannelPlan, day: Day) -> None:
        pop = self.model.population
        ledger = self.model.ledger
        d = day.index
        cfg = plan.cfg

        if plan.paced:
            probs, paid = self._paced_reach(plan, day)
            self._pay(plan, d, paid)
            idx = self.contacts(plan, d, probs)
        else:
            idx = self.contacts(plan, d)
        idx = self._traffic_in(code, plan, idx, d)
        if plan.caps.active:
            idx = plan.caps.under_cap(idx)
        if self.windows is not None:
            idx = self.windows.admit(code, idx)
        limit = None if plan.limit is None else pop.rows_for(plan.limit)  # customers → rows
        if limit is not None and idx.size > limit:
            idx = lowest_priority(idx, self.draws.uniform(f"limit/{plan.name}", d, idx), limit)
        reach_unit = cfg.cost_per_impression + (cfg.cost_per_contact if plan.opens_all else 0.0)
        if plan.paced and plan.by_impression:
            # impressions were bought above; a contact still costs its own price
            reach_unit = cfg.cost_per_contact if plan.opens_all else 0.0
        idx = self._afford(plan, idx, reach_unit, "reach", d)
        if idx.size == 0:
            return
        plan.caps.add(idx)
        if self.windows is not None:
            self.windows.sent(code, idx)
        seg_counts = pop.segment_counts(idx)
        if reach_unit > 0:
            self._pay(plan, d, seg_counts * reach_unit)
        if not plan.opens_all:
            ledger.count(plan.name, "reach", d, seg_counts)
            opened = self.draws.uniform(f"open/{plan.name}", d, idx) < plan.open[pop.segment[idx]]
            idx = self._afford(plan, idx[opened], cfg.cost_per_contact, "contact", d)
            if idx.size == 0:
                return
            seg_counts = pop.segment_counts(idx)
            self._pay(plan, d, seg_counts * cfg.cost_per_contact)
        else:
            ledger.count(plan.name, "reach", d, seg_counts)
        ledger.count(plan.name, "contacts", d, seg_counts)
        self._respond(code, plan, idx, day)

    # ------------------------------------------------------------------ the channel graph
    def _traffic_in(self, code: int, plan: ChannelPlan, idx: np.ndarray, d: int) -> np.ndarray:
        """Today's audience of the channel with the graph's traffic: reach among group members
        only (``audience: group_members``), plus the customers other channels handed over
        yesterday, plus the platform's matched public traffic (``traffic_match`` per customer
        sent in). Nothing changes (and nothing is drawn) when the channel has no such edge."""
        pop = self.model.population
        private = np.empty(0, dtype=np.int64)
        if plan.employer_audience:  # no employers: nobody works for a screened one
            idx = idx[self.screened[idx]] if self.screened is not None else idx[:0]
        if plan.group_audience:  # no groups (switched off): no members, no audience
            idx = idx[self.group_of[idx] >= 0] if self.group_of is not None else idx[:0]
            private = idx
            self.model.ledger.count(plan.name, "from_groups", d, pop.segment_counts(idx))
        arrived = self.arriving[code]
        if arrived.size:
            arrived = arrived[plan.targets[pop.stage[arrived]]]
            self.model.ledger.count(plan.name, "handed_in", d, pop.segment_counts(arrived))
            idx = np.union1d(idx, arrived)
            private = np.union1d(private, arrived)
        k = round(plan.cfg.traffic_match * private.size)
        if k > 0:  # recommended to random platform users; only the channel's targets count
            public = np.unique(
                slots_with_replacement(self.draws, f"match/{plan.name}", d, pop.n, k)
            )
            public = public[plan.targets[pop.stage[public]]]
            if self.group_of is not None and plan.group_audience:
                public = public[self.group_of[public] < 0]
            self.model.ledger.count(plan.name, "matched_reach", d, pop.segment_counts(public))
            idx = np.union1d(idx, public)
        return idx

    def _hand_over(self, plan: ChannelPlan, idx: np.ndarray, d: int) -> None:
        """Contacts still prospects after responding move along the channel's hand-over edges
        (each edge drawn on its own: a customer may be handed to two channels)."""
        pop = self.model.population
        still = idx[pop.stage[idx] <= StageCode.ENGAGED]
        for target, rate in plan.hand_over:  # one draw per customer slot and edge
            edge = f"hand_over/{plan.name}/{self.plans[target].name}"
            moved = still[self.draws.uniform(edge, d, still) < rate]
            if moved.size:
                self.leaving[target].append(moved)
                self.model.ledger.count(plan.name, "handed_over", d, pop.segment_counts(moved))

    def _respond(self, code: int, plan: ChannelPlan, idx: np.ndarray, day: Day) -> None:
        """What contacts do: convert, engage, respond into the route, or come back."""
        pop = self.model.population
        ledger = self.model.ledger
        d = day.index
        mult = self.windows.deliver(code, idx, day) if self.windows is not None else None
        if self.model.sentiment is not None:
            damp = 1.0 - self.model.sentiment.values[idx].astype(np.float64)
            mult = damp if mult is None else mult * damp

        def scaled(p: np.ndarray, sel: np.ndarray | slice = slice(None)) -> np.ndarray:
            return p if mult is None else p * mult[sel]

        seg = pop.segment[idx]
        stage = pop.stage[idx]
        prospect = stage <= StageCode.ENGAGED
        # every draw below is keyed per customer slot and by the channel's name: switching
        # another channel off (or changing who it reaches) leaves these numbers alone
        u = self.draws.uniform(f"convert/{plan.name}", d, idx)
        won_mask = prospect & (u < scaled(plan.convert[seg]))
        won = idx[won_mask]
        self.model.convert(won, d, plan.name, count_as=plan.name)

        rest_mask = prospect & ~won_mask
        rest = idx[rest_mask]
        rest_pos = np.flatnonzero(rest_mask)
        if plan.engage.any() and rest.size:
            u_engage = self.draws.uniform(f"engage/{plan.name}", d, rest)
            hit = u_engage < scaled(plan.engage[pop.segment[rest]], rest_pos)
            newly = rest[hit & (pop.stage[rest] <= StageCode.AWARE)]
            pop.mark_engaged(newly, d)
            ledger.count(plan.name, "engaged", d, pop.segment_counts(newly))
            rest, rest_pos = rest[~hit], rest_pos[~hit]
        if plan.respond.any() and rest.size and plan.cfg.route is not None:
            u_respond = self.draws.uniform(f"respond/{plan.name}", d, rest)
            hit = u_respond < scaled(plan.respond[pop.segment[rest]], rest_pos)
            responders = rest[hit]
            ledger.count(
                plan.name, "responses", d, pop.segment_counts(responders)
            )
            self.routes.process(plan.cfg.route, plan.name, responders, d)
            rest = rest[~hit]
        pop.mark_aware(rest, d)

        if plan.retain.any():
            lapsing = np.flatnonzero((stage == StageCode.AT_RISK) | (stage == StageCode.DORMANT))
            if lapsing.size:
                p = scaled(plan.retain[seg[lapsing]], lapsing)
                u_retain = self.draws.uniform(f"retain/{plan.name}", d, idx[lapsing])
                back = idx[lapsing[u_retain < p]]
                pop.stage[back] = StageCode.ACTIVE
                ledger.count(plan.name, "retained", d, pop.segment_counts(back))
        if plan.hand_over:
            self._hand_over(plan, idx, d)
