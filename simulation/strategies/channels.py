"""Paid channels (the minimal operating-matrix surface): daily reach per segment, a cost per
contact, and what a contact does (convert, or bring the customer into the private domain).

With one channel of reach p converting on contact and word of mouth of imitation q this is the
Bass diffusion model (scenarios/validation/bass.yaml).
"""

from __future__ import annotations

import numpy as np

from simulation.accounting import per_segment_counts
from simulation.population.stages import Stage
from simulation.rng import bernoulli_indices
from simulation.scenario.schema import ChannelConfig, resolve_per_segment, stage_code
from simulation.strategies.base import Day, StrategyModule


class ChannelPlan:
    """One channel's per-segment probabilities, resolved once from the scenario."""

    def __init__(self, name: str, cfg: ChannelConfig, segments: list[str], affinity: np.ndarray):
        self.name = name
        self.cfg = cfg
        reach = np.array(resolve_per_segment(cfg.daily_reach, segments)) * affinity
        self.reach = np.clip(reach, 0.0, 1.0)
        self.convert = np.array(resolve_per_segment(cfg.conversion_on_contact, segments))
        self.engage = np.array(resolve_per_segment(cfg.engage_on_contact, segments))
        self.targets = np.zeros(len(Stage), dtype=bool)
        self.targets[[stage_code(t) for t in cfg.targets]] = True
        self.budget_left = float("inf") if cfg.budget is None else float(cfg.budget)


class Channels(StrategyModule):
    name = "channels"

    @classmethod
    def enabled(cls, scenario) -> bool:
        return bool(scenario.channels)

    def setup(self) -> None:
        sc = self.model.scenario
        pop = self.model.population
        self.plans = [
            ChannelPlan(name, cfg, sc.segment_names, pop.channel_affinity[:, c])
            for c, (name, cfg) in enumerate(sc.channels.items())
        ]
        for plan in self.plans:
            self.model.ledger.register(plan.name, "channel")

    def contacts(self, plan: ChannelPlan) -> np.ndarray:
        """Customers the channel reaches today: Bernoulli(reach of their segment), targets only."""
        pop = self.model.population
        p_max = float(plan.reach.max())
        cand = bernoulli_indices(self.rng, pop.n, p_max)
        if cand.size == 0:
            return cand
        cand = cand[plan.targets[pop.stage[cand]]]
        p = plan.reach[pop.segment[cand]]
        if np.all(p == p_max):
            return cand
        return cand[self.rng.random(cand.size) * p_max < p]

    def step(self, day: Day) -> None:
        pop = self.model.population
        ledger = self.model.ledger
        s = len(pop.segment_names)
        for code, plan in enumerate(self.plans):
            idx = self.contacts(plan)
            cost = plan.cfg.cost_per_contact
            if cost > 0 and idx.size * cost > plan.budget_left:
                affordable = int(plan.budget_left // cost)
                idx = np.sort(self.rng.choice(idx, size=affordable, replace=False))
            if idx.size == 0:
                continue
            seg_counts = per_segment_counts(pop.segment, idx, s)
            ledger.charge(plan.name, day.index, seg_counts * cost)
            plan.budget_left -= idx.size * cost
            ledger.count(plan.name, "contacts", day.index, seg_counts)

            seg = pop.segment[idx]
            u = self.rng.random(idx.size)
            won = idx[u < plan.convert[seg]]
            pop.mark_converted(won, day.index, code, self.model.lifecycle.draw_rings(won))
            ledger.count(
                plan.name, "conversions", day.index, per_segment_counts(pop.segment, won, s)
            )
            rest = idx[(u >= plan.convert[seg]) & (pop.stage[idx] != Stage.CONVERTED)]
            if plan.engage.any() and rest.size:
                engaged = rest[self.rng.random(rest.size) < plan.engage[pop.segment[rest]]]
                pop.mark_engaged(engaged, day.index)
                ledger.count(
                    plan.name, "engaged", day.index, per_segment_counts(pop.segment, engaged, s)
                )
                rest = np.setdiff1d(rest, engaged, assume_unique=True)
            pop.mark_aware(rest, day.index)
