"""Lifecycle operations: layered operations by stage and ring, run by the bank each day.

Each operation targets customers in some stages (and, for customers, some CMB rings), reaches
a share of them a day at a cost per contact, and on success does one thing:

- ``ring_inward``: outer → middle → inner (CMB pushes customers inward: outer = APP only,
  middle = APP + credit card / other bank's card, inner = APP + CMB debit card [004]);
- ``recall``: an at-risk or dormant customer becomes active again (recall red packets for
  churning customers, [002]);
- ``nurture``: an unaware or aware prospect enters the private domain (engaged);
- ``convert``: an aware or engaged prospect becomes a customer (first-order red packet for
  low-frequency users [002]);
- ``retain``: a payroll customer contacted around payday keeps ``keeps_outflow`` of the salary
  it would still move out this pay cycle (payday recall: 「工资下发后转入其他行，造成客户流失」,
  「此类企业客群通过社群经营来实现留存率的提高可以带来亿级的资产提升」 [001]).

Why ``retain`` stops a *share of the outflow* rather than a fixed sum: what a retention contact
can keep is the money that was about to leave, so its effect in yuan scales with the customer's
own outflow — largest at the employers whose staff move the most out after payday, which is
why the article screens employers for low asset retention (strategies/employers.py). Any
operation may set ``keeps_outflow`` (a recall that succeeds also keeps that share); the money
layer reads the declared state ``outflow_kept`` (role ``outflow_kept``): the customer's daily
post-payday outflow is × (1 − kept) until the next payday, when it resets. ``after_payday: k``
runs an operation only on the first k + 1 days of each pay cycle of the customer's segment
(payday = day 0), and ``audience: screened_employers`` only on the staff of employers that pass
the employers' screen (nobody without employers, as for a channel).

A success may pay a reward (the red packet), charged with the contacts under category
``lifecycle_operations``. The core lifecycle module (lifecycle.py) keeps the hazards; this
module only acts on ``pop.stage`` / ``pop.ring``.

Random numbers: every operation draws from its own streams, keyed by its name — reach and
success per customer slot (:class:`~simulation.rng.SlotDraws` decisions ``reach/<name>`` and
``success/<name>``), the budget's random subset from the sequential stream
``lifecycle_operations/<name>``. One shared stream made each operation's draws depend on how
many numbers the operations listed before it had consumed, so adding, removing or re-sizing
one operation reshuffled all the others: noise in every paired (common-random-numbers)
comparison and in every leave-one-out contribution. Per-slot draws also keep an operation's
own draw for a customer fixed when another lever changes who is eligible, and are made block
by block, so any thread count gives the same numbers.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from simulation import kernels
from simulation.money.layer import MONTH_DAYS, days_since_payday
from simulation.population.stages import Ring, Stage
from simulation.rng import affordable_subset, quantize_up
from simulation.scenario.types import (
    PerSegmentProbability,
    Probability,
    Problems,
    StrictModel,
    Yuan,
    per_segment_problems,
    resolve_per_segment,
)
from simulation.strategies.base import Day, State, StrategyModule

StageName = Literal[
    "unaware", "aware", "engaged", "converted", "active", "at_risk", "dormant"
]
RingName = Literal["outer", "middle", "inner"]
Effect = Literal["ring_inward", "recall", "nurture", "convert", "retain"]
#: Role of the declared state the money layer reads: share of the post-payday outflow kept.
OUTFLOW_KEPT = "outflow_kept"

#: Stages each effect can act on (anything else in ``stages`` is a configuration error).
EFFECT_STAGES: dict[str, tuple[str, ...]] = {
    "ring_inward": ("converted", "active", "at_risk"),
    "recall": ("at_risk", "dormant"),
    "nurture": ("unaware", "aware"),
    "convert": ("aware", "engaged"),
    "retain": ("converted", "active", "at_risk", "dormant"),
}
CUSTOMER_STAGE_NAMES = ("converted", "active", "at_risk", "dormant")


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
    #: share of the outflow after payday still to come this pay cycle that a success keeps
    keeps_outflow: Probability = 0.0
    #: run only on days 0 … after_payday of each pay cycle of the customer's segment
    after_payday: Annotated[int, Field(ge=0, le=MONTH_DAYS - 1)] | None = None
    audience: Literal["everyone", "screened_employers"] = "everyone"


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
            out += _payroll_problems(op, scenario, segments, here)
        return out


def _payroll_problems(op: LifecycleOperation, scenario: object, segments: list[str],
                      here: tuple[str | int, ...]) -> Problems:
    """``retain``, ``keeps_outflow``, ``after_payday`` and the employer audience act on payroll
    money: each needs what it reads (a payroll segment, customers' stages, employers)."""
    out: Problems = []
    if op.effect == "retain" and op.keeps_outflow <= 0:
        out.append(((*here, "keeps_outflow"),
                    "effect 'retain' keeps a share of the outflow after payday: set "
                    "keeps_outflow in (0, 1]"))
    money = getattr(scenario, "money", None)
    payroll = [s for s in segments
               if money is not None and money.segments.get(s) is not None
               and money.segments[s].payroll is not None]
    if (op.keeps_outflow > 0 or op.after_payday is not None) and not payroll:
        field = "keeps_outflow" if op.keeps_outflow > 0 else "after_payday"
        out.append(((*here, field),
                    "needs a segment with money.segments.<segment>.payroll (salary paid on a "
                    "payday); this scenario has none"))
    if op.keeps_outflow > 0 and not any(st in CUSTOMER_STAGE_NAMES for st in op.stages):
        out.append(((*here, "stages"),
                    f"keeps_outflow acts on customers' money: stages must include one of "
                    f"{', '.join(CUSTOMER_STAGE_NAMES)}"))
    # audience 'screened_employers' without employers reaches nobody, as a channel's does
    # (the lever contract's "employers off means the section left out" must stay valid)
    return out


class _Plan:
    """An operation's targeting masks and per-segment rates, resolved once."""

    def __init__(self, name: str, op: LifecycleOperation, segments: list[str],
                 rng: np.random.Generator) -> None:
        self.name = name
        self.item = f"lifecycle_ops:{name}"
        #: this operation's own sequential stream (the budget's subset), keyed by its name
        self.rng = rng
        self.reach_decision = f"reach/{name}"
        self.success_decision = f"success/{name}"
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
        self.screened_only = op.audience == "screened_employers"


class LifecycleOperations(StrategyModule):
    """Daily: each operation reaches its targets, pays, and moves the successes."""

    name = "lifecycle_operations"
    source_is_name = True
    states = (
        State("outflow_kept", np.float32, 0.0, role=OUTFLOW_KEPT,
              description="share of the post-payday outflow a retention contact kept this "
                          "pay cycle (reset on the segment's payday)"),
    )

    @classmethod
    def enabled(cls, scenario) -> bool:
        return bool(scenario.lifecycle_operations.operations)

    def setup(self) -> None:
        model = self.model
        segs = model.scenario.segment_names
        ops = model.scenario.lifecycle_operations.operations
        self.plans = [
            _Plan(name, op, segs, model.streams.get(f"{self.name}/{name}"))
            for name, op in ops.items()
        ]
        for plan in self.plans:
            model.ledger.register(plan.item, "lifecycle_operations")
        money = model.scenario.money
        #: payday of each payroll segment (segment index → day of the 30-day cycle)
        self.paydays = {
            s: money.segments[name].payroll.payday
            for s, name in enumerate(segs)
            if money.segments.get(name) is not None and money.segments[name].payroll is not None
        }
        self.keeps = any(p.op.keeps_outflow > 0 for p in self.plans)
        self.kept = self.state("outflow_kept")
        self.segment_members = (
            {s: np.flatnonzero(model.population.segment == s) for s in self.paydays}
            if self.keeps else {}
        )
        self.screened = (
            model.read_state("employer_screened")
            if any(p.screened_only for p in self.plans) else None
        )

    def step(self, day: Day) -> None:
        if self.keeps:  # a new pay cycle: what was kept last cycle no longer holds
            for s, payday in self.paydays.items():
                if days_since_payday(day.index, payday) == 0:
                    self.kept[self.segment_members[s]] = 0.0
        for plan in self.plans:
            self._run(plan, day)

    def _reach_today(self, plan: _Plan, day: Day) -> np.ndarray:
        """Per-segment reach today: 0 outside the ``after_payday`` window of the segment."""
        window = plan.op.after_payday
        if window is None:
            return plan.reach
        reach = np.zeros_like(plan.reach)
        for s, payday in self.paydays.items():
            if days_since_payday(day.index, payday) <= window:
                reach[s] = plan.reach[s]
        return reach

    def targets_reached(self, plan: _Plan, day: Day) -> np.ndarray:
        """The targets ``plan`` reaches today, drawn per customer slot from the operation's
        own decision: a customer's draw does not depend on the other operations, nor on who
        else is eligible. Candidates are drawn at the reach's power-of-two bound
        (:func:`~simulation.rng.quantize_up`) so that a sweep changing the reach a little keeps
        the same candidate slots (the thinning then keeps monotonically more or fewer)."""
        pop = self.model.population
        reach = self._reach_today(plan, day)
        p_max = quantize_up(float(reach.max()))
        if p_max <= 0:
            return np.empty(0, dtype=np.int64)
        screened = self.screened if plan.screened_only else None
        if plan.screened_only and screened is None:  # no employers: nobody is screened
            return np.empty(0, dtype=np.int64)

        def reach_p(cand: np.ndarray) -> np.ndarray:  # targeted stage, ring (, screened)
            return kernels.gated_probs(cand, pop.stage, plan.stage_ok, pop.segment, reach,
                                       pop.ring, plan.ring_ok, screened)

        return self.draws.thinned(plan.reach_decision, day.index, pop.n, p_max, reach_p)

    def _run(self, plan: _Plan, day: Day) -> None:
        pop = self.model.population
        ledger = self.model.ledger
        op = plan.op
        idx = self.targets_reached(plan, day)
        if idx.size == 0 or plan.budget_left <= 0:
            return
        # Expected worst case per contact: its cost plus a reward; stop within budget.
        unit = op.cost_per_contact + op.reward_on_success
        idx = affordable_subset(plan.rng, idx, unit, plan.budget_left, pop.weights())
        if idx.size == 0:
            return
        p = plan.success[pop.segment[idx]]
        if self.model.sentiment is not None:
            p = p * (1.0 - self.model.sentiment.values[idx].astype(np.float64))
        ok = idx[self.draws.uniform(plan.success_decision, day.index, idx) < p]
        self._apply(op.effect, ok, day)
        if op.keeps_outflow > 0 and ok.size:
            self.kept[ok] = np.maximum(self.kept[ok], np.float32(op.keeps_outflow))
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
        elif effect == "convert":
            self.model.convert(idx, day.index, "lifecycle_operations")
        # "retain" moves no stage: its effect is the kept outflow (see _run)
