"""Flows: what happens to a customer who responds to a channel's call to action.

A route is an ordered list of steps (lead capture, outbound call, screening, external redirect,
landing path, WeCom add, application). Each day a channel hands its responders to its route;
each step keeps those who pass, charges its cost per entry to the route's ledger item and counts
the passes under the *originating* channel, so the funnel by channel reads reach → contacts →
responses → leads → screened_in → conversions. Conversions are attributed to that channel.

Screening uses one eligibility draw per customer (from the route's own random stream), so a
customer the bank rejects stays rejected however often they reapply, and moving the screen
earlier or later changes how many leads are captured, not who is creditworthy — the WeBank vs
MYbank contrast in [000].

Every other draw (a step's pass, who gets a step's daily capacity, who a budget still pays for)
is keyed per customer slot and by (route, step, originating channel, day): switching one channel
off does not shift the numbers another channel's responders get on the same route (common
random numbers across channels, :mod:`simulation.rng`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simulation.population.stages import Stage
from simulation.rng import affordable_by_priority, lowest_priority
from simulation.scenario.types import resolve_per_segment
from simulation.strategies.channel_config import STEP_EVENTS, RouteConfig, RouteStep

if TYPE_CHECKING:
    from simulation.model import OperatingMatrixModel
    from simulation.strategies.channels import Purse


class StepPlan:
    """One route step with its per-segment pass probabilities resolved."""

    def __init__(self, step: RouteStep, segments: list[str]) -> None:
        self.step = step
        self.kind = step.kind
        self.event = STEP_EVENTS[step.kind]
        self.pass_p = np.array(resolve_per_segment(step.pass_rate, segments)) * (
            step.path_completion
        )
        self.used_today = 0
        self.day = -1

    def room(self, day: int) -> int | None:
        """Entries still allowed today under the step's daily capacity (None = unlimited)."""
        if self.step.daily_capacity is None:
            return None
        if day != self.day:
            self.day, self.used_today = day, 0
        return max(self.step.daily_capacity - self.used_today, 0)


class RoutePlan:
    """A route resolved for one run: its steps, budget and ledger item."""

    def __init__(self, name: str, cfg: RouteConfig, segments: list[str]) -> None:
        self.name = name
        self.item = f"route:{name}"
        self.steps = [StepPlan(s, segments) for s in cfg.steps]
        self.budget_left = float("inf") if cfg.budget is None else float(cfg.budget)


class Routes:
    """All routes of a scenario and the per-customer eligibility the screens test."""

    def __init__(
        self, model: OperatingMatrixModel, purse: Purse, group_invited: np.ndarray | None = None
    ) -> None:
        """``group_invited``: the channels' declared ``group_invited_day`` state (written
        here by ``group_join`` steps; the groups lever seats today's invitees)."""
        self.model = model
        self.purse = purse
        self.group_invited = group_invited
        sc = model.scenario
        self.plans = {
            name: RoutePlan(name, cfg, sc.segment_names) for name, cfg in sc.flows.routes.items()
        }
        self.rng = model.streams.get("channel_routes")
        self.eligibility = (
            self.rng.random(model.population.n).astype(np.float32) if self.plans else None
        )
        #: per-slot draws of the steps (keyed by route, step, origin and day)
        self.draws = model.streams.slots("channel_routes")
        for plan in self.plans.values():
            model.ledger.register(plan.item, "route")

    def process(
        self, route: str, origin: str, idx: np.ndarray, day: int
    ) -> np.ndarray:
        """Walk responders ``idx`` (prospects) of channel ``origin`` along ``route``; returns
        the customers converted."""
        plan = self.plans[route]
        pop = self.model.population
        ledger = self.model.ledger
        seen = idx
        current = idx
        won = np.empty(0, dtype=np.int64)
        for k, sp in enumerate(plan.steps):
            if current.size == 0:
                break
            key = f"{route}/{k}/{origin}"  # one label per route step and channel
            current = self._admit(plan, sp, current, day, key)
            passed = self._pass(sp, current, day, key)
            if sp.step.cost_per_pass > 0:
                passed = self._pay_pass(plan, sp, passed, day, key)
            counts = pop.segment_counts(passed)
            ledger.count(origin, sp.event, day, counts)
            if sp.kind == "lead_capture":
                pop.mark_aware(passed, day)
            elif sp.kind in ("wecom_add", "group_join"):
                pop.mark_engaged(passed, day)
                if sp.kind == "group_join" and self.group_invited is not None:
                    self.group_invited[passed] = day
            elif sp.kind == "apply":
                passed = passed[pop.stage[passed] <= Stage.ENGAGED]
                self.model.convert(passed, day, origin)
                won = np.concatenate([won, passed])
            current = passed
            if sp.kind == "apply":
                current = np.empty(0, dtype=np.int64)
        pop.mark_aware(seen, day)
        return won

    def _admit(
        self, plan: RoutePlan, sp: StepPlan, idx: np.ndarray, day: int, key: str
    ) -> np.ndarray:
        """Entries within the step's capacity and the route's and mix's budgets; charges them."""
        room = sp.room(day)
        if room is not None:  # a capacity in customers → rows (population weights)
            room = self.model.population.rows_for(room)
        if room is not None and idx.size > room:
            idx = lowest_priority(idx, self.draws.uniform(f"room/{key}", day, idx), room)
        if sp.step.cost_per_entry > 0:
            idx = self._charge(plan, idx, sp.step.cost_per_entry, day, f"entry/{key}")
        if room is not None:
            sp.used_today += round(self.model.population.represented(idx))
        return idx

    def _pay_pass(
        self, plan: RoutePlan, sp: StepPlan, idx: np.ndarray, day: int, key: str
    ) -> np.ndarray:
        """Those who passed and whose prize the route's and mix's budgets still pay; charged."""
        return self._charge(plan, idx, sp.step.cost_per_pass, day, f"prize/{key}")

    def _charge(
        self, plan: RoutePlan, idx: np.ndarray, cost: float, day: int, key: str
    ) -> np.ndarray:
        """The subset of ``idx`` the route's and the mix's budgets still pay ``cost`` each for
        (represented customers: population weights), charged to the route's ledger item; the
        random order is a priority per customer slot under ``key``."""
        pop = self.model.population
        if idx.size == 0:
            return idx
        idx = affordable_by_priority(
            idx, self.draws.uniform(key, day, idx), cost,
            min(plan.budget_left, self.purse.left), pop.weights(),
        )
        if idx.size:
            seg = pop.segment_counts(idx)
            self.model.ledger.charge(plan.item, day, seg * cost)
            plan.budget_left -= float(seg.sum()) * cost
            self.purse.spend(float(seg.sum()) * cost)
        return idx

    def _pass(self, sp: StepPlan, idx: np.ndarray, day: int, key: str) -> np.ndarray:
        if idx.size == 0:
            return idx
        p = sp.pass_p[self.model.population.segment[idx]]
        if sp.kind == "screening":
            assert self.eligibility is not None
            return idx[self.eligibility[idx] < p]
        return idx[self.draws.uniform(f"pass/{key}", day, idx) < p]
