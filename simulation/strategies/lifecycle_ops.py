"""Lifecycle operations: layered operations by stage and ring, run by the bank each day.

Each operation targets customers in some stages (and, for customers, some CMB rings), reaches
a share of them a day at a cost per contact, and on success does one thing:

- ``ring_inward``: outer → middle → inner (CMB pushes customers inward: outer = APP only,
  middle = APP + credit card / other bank's card, inner = APP + CMB debit card [004]);
- ``recall``: an at-risk or dormant customer becomes active again (recall red packets for
  churning customers, [002]);
- ``nurture``: an unaware or aware prospect enters the private domain (engaged);
- ``convert``: an aware or engaged prospect becomes a customer (first-order red packet for
  low-frequency users [002]).

A success may pay a reward (the red packet), charged with the contacts under category
``lifecycle_operations``. The core lifecycle module (lifecycle.py) keeps the hazards; this
module only acts on ``pop.stage`` / ``pop.ring``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from simulation.population.stages import Ring, Stage
from simulation.rng import affordable_subset, bernoulli_indices
from simulation.scenario.types import (
    PerSegmentProbability,
    Problems,
    StrictModel,
    Yuan,
    per_segment_problems,
    resolve_per_segment,
)
from simulation.strategies.base import Day, StrategyModule

StageName = Literal[
    "unaware", "aware", "engaged", "converted", "active", "at_risk", "dormant"
]
RingName = Literal["outer", "middle", "inner"]
Effect = Literal["ring_inward", "recall", "nurture", "convert"]

#: Stages each effect can act on (anything else in ``stages`` is a configuration error).
EFFECT_STAGES: dict[str, tuple[str, ...]] = {
    "ring_inward": ("converted", "active", "at_risk"),
    "recall": ("at_risk", "dormant"),
    "nurture": ("unaware", "aware"),
    "convert": ("aware", "engaged"),
}


class LifecycleOperation(StrictModel):
    """One layer of operations: whom it targets, how many it reaches, what success does."""

    effect: Effect
    stages: list[StageName] = Field(default_factory=lambda: ["active"])
    rings: list[RingName] | None = None
    reach: PerSegmentProbability = 0.0
    success: PerSegmentProbability = 0.0
    cost_per_contact: Yuan = 0.0
    reward_on_success: Yuan = 0.0
    budget: Yuan | None = None


class LifecycleOperationsConfig(StrictModel):
    """Named operations run in the listed order each day (none by default)."""

    operations: dict[str, LifecycleOperation] = Field(default_factory=dict)

    def cross_problems(self, scenario: object, path: tuple[str | int, ...]) -> Problems:
        segments = list(getattr(scenario, "segment_names", []))
        out: Problems = []
        for name, op in self.operations.items():
            here = (*path, "operations", name)
            out += per_segment_problems(op.reach, segments, (*here, "reach"))
            out += per_segment_problems(op.success, segments, (*here, "success"))
            allowed = EFFECT_STAGES[op.effect]
            for i, st in enumerate(op.stages):
                if st not in allowed:
                    out.append(
                        (
                            (*here, "stages", i),
                            f"effect '{op.effect}' cannot act on stage '{st}'; "
                            f"allowed: {', '.join(allowed)}",
                        )
                    )
            customer = ("converted", "active", "at_risk", "dormant")
            if op.rings is not None and not all(s in customer for s in op.stages):
                out.append(
                    ((*here, "rings"), f"rings only apply to customers' stages: {customer}")
                )
            if op.effect == "ring_inward" and op.rings is not None and op.rings == ["inner"]:
                out.append(((*here, "rings"), "the inner ring cannot move further inward"))
        return out


class _Plan:
    """An operation's targeting masks and per-segment rates, resolved once."""

    def __init__(self, name: str, op: LifecycleOperation, segments: list[str]) -> None:
        self.name = name
        self.item = f"lifecycle_ops:{name}"
        self.op = op
        self.stage_ok = np.zeros(len(Stage), dtype=bool)
        self.stage_ok[[Stage[s.upper()] for s in op.stages]] = True
        self.ring_ok = np.ones(len(Ring), dtype=bool)
        if op.rings is not None:
            self.ring_ok[:] = False
            self.ring_ok[[Ring[r.upper()] for r in op.rings]] = True
        if op.effect == "ring_inward":
            self.ring_ok[Ring.INNER] = False
            self.ring_ok[Ring.NONE] = False
        self.reach = np.array(resolve_per_segment(op.reach, segments))
        self.success = np.array(resolve_per_segment(op.success, segments))
        self.budget_left = float("inf") if op.budget is None else float(op.budget)


class LifecycleOperations(StrategyModule):
    """Daily: each operation reaches its targets, pays, and moves the successes."""

    name = "lifecycle_operations"
    source_is_name = True

    @classmethod
    def enabled(cls, scenario) -> bool:
        return bool(scenario.lifecycle_operations.operations)

    def setup(self) -> None:
        model = self.model
        segs = model.scenario.segment_names
        ops = model.scenario.lifecycle_operations.operations
        self.plans = [_Plan(name, op, segs) for name, op in ops.items()]
        for plan in self.plans:
            model.ledger.register(plan.item, "lifecycle_operations")

    def step(self, day: Day) -> None:
        for plan in self.plans:
            self._run(plan, day)

    def targets_reached(self, plan: _Plan) -> np.ndarray:
        pop = self.model.population
        p_max = float(plan.reach.max())
        cand = bernoulli_indices(self.rng, pop.n, p_max)
        cand = cand[plan.stage_ok[pop.stage[cand]] & plan.ring_ok[pop.ring[cand]]]
        return cand[self.rng.random(cand.size) * p_max < plan.reach[pop.segment[cand]]]

    def _run(self, plan: _Plan, day: Day) -> None:
        pop = self.model.population
        ledger = self.model.ledger
        op = plan.op
        idx = self.targets_reached(plan)
        if idx.size == 0 or plan.budget_left <= 0:
            return
        # Expected worst case per contact: its cost plus a reward; stop within budget.
        unit = op.cost_per_contact + op.reward_on_success
        idx = affordable_subset(self.rng, idx, unit, plan.budget_left, pop.weights())
        if idx.size == 0:
            return
        p = plan.success[pop.segment[idx]]
        if self.model.sentiment is not None:
            p = p * (1.0 - self.model.sentiment.values[idx].astype(np.float64))
        ok = idx[self.rng.random(idx.size) < p]
        self._apply(op.effect, ok, day)
        spend = (
            pop.segment_counts(idx) * op.cost_per_contact
            + pop.segment_counts(ok) * op.reward_on_success
        )
        ledger.charge(plan.item, day.index, spend)
        plan.budget_left -= float(spend.sum())
        ledger.count(plan.item, "contacts", day.index, pop.segment_counts(idx))
        ledger.count(plan.item, "successes", day.index, pop.segment_counts(ok))

    def _apply(self, effect: str, idx: np.ndarray, day: Day) -> None:
        pop = self.model.population
        if idx.size == 0:
            return
        if effect == "ring_inward":
            pop.ring[idx] = np.minimum(pop.ring[idx] + 1, Ring.INNER)
        elif effect == "recall":
            pop.stage[idx] = Stage.ACTIVE
        elif effect == "nurture":
            pop.mark_engaged(idx, day.index)
        else:
            self.model.convert(idx, day.index, "lifecycle_operations")
