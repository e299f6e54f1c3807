"""App push notifications: a send policy with a weekly cap, customers who switch push off when
sent too many, and the few who open one.

Per day, a ``daily_send_rate`` share of the targeted app users (by segment) is sent a push,
within ``per_week`` pushes per customer per calendar week and the ``budget``. Each customer
has a tolerance: the weekly count at which they disable notifications for good, drawn at the
start from the Localytics 2017 survey (n = 1,000; docs/sources.md §2.4): 10 % disable at 1 push
a week, 37 % at 2–5, 33 % at 6–10, the other 20 % not within 10 (uniform within each band,
inf.). A sent push is opened with ``open_rate`` — app push open rates are "a few per mille"
(千分之几, docs/sources.md §2.5) — damped by negative sentiment when a module moves it. An
opened push converts a prospect with ``conversion_on_open`` and brings an at-risk or dormant
customer back with ``recall_on_open`` (both inf.: Localytics 2015 finds month-1/2/3 retention
61/50/46 % with push against 28/19/13 % without, a correlation, not an effect size).

Declared state: ``push_opted_out``, ``push_week_count``, ``push_tolerance``. Ledger item and
category ``push`` (events ``sent``, ``opens``, ``opt_outs``, ``conversions``, ``recalled``).
This lever was added through the lever contract alone: this file, its ``Lever(...)`` line in
``registry.py`` and tests/test_push.py (docs/architecture.md).

Random numbers: the tolerances are drawn once at set-up for every customer (their order never
changes). The daily draws (``send``, ``afford``, ``open``, ``convert``, ``recall``) are keyed
per customer slot (:class:`~simulation.rng.SlotDraws`). They came from one sequential stream,
sized by who was eligible that day: another lever that changed anyone's stage (or opt-out)
shifted every later customer's numbers, so paired comparisons saw push noise that was not the
lever's effect (tests/test_crn_push.py).
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from simulation.population.stages import Stage
from simulation.rng import affordable_by_priority
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

PushTarget = Literal["aware", "engaged", "active", "at_risk", "dormant"]
#: Tolerance of a customer who never disables push within the bands of the survey.
NEVER = 255


class PushConfig(StrictModel):
    """The ``push`` section: who is sent app pushes, how often, and what an open does."""

    daily_send_rate: PerSegmentProbability = 0.0  # share of targeted app users sent one (inf.)
    per_week: Annotated[int, Field(ge=1, le=50)] = 2  # cap per customer and week (inf.)
    open_rate: Probability = 0.005  # "千分之几" a few per mille, docs/sources.md §2.5
    # Localytics 2017: share who disable push at 1 / 2–5 / 6–10 pushes a week (§2.4).
    disable_at_1: Probability = 0.10
    disable_at_2_to_5: Probability = 0.37
    disable_at_6_to_10: Probability = 0.33
    conversion_on_open: PerSegmentProbability = 0.0  # (inf.)
    recall_on_open: Probability = 0.0  # (inf.)
    cost_per_push: Yuan = 0.0  # vendor fee per push (inf.); the app channel is nearly free
    budget: Yuan | None = None
    targets: list[PushTarget] = Field(
        default_factory=lambda: ["aware", "engaged", "at_risk", "dormant"]
    )

    def cross_problems(self, scenario, path: tuple[str | int, ...]) -> Problems:
        segs = scenario.segment_names
        out = per_segment_problems(self.daily_send_rate, segs, (*path, "daily_send_rate"))
        out += per_segment_problems(self.conversion_on_open, segs, (*path, "conversion_on_open"))
        total = self.disable_at_1 + self.disable_at_2_to_5 + self.disable_at_6_to_10
        if total > 1.0 + 1e-9:
            out.append(((*path, "disable_at_1"),
                        f"disable_at_1 + disable_at_2_to_5 + disable_at_6_to_10 must be ≤ 1, "
                        f"got {total:g}"))
        return out


class Push(StrategyModule):
    """Daily: reset weekly counts on Mondays, send within caps and budget, opt-outs, opens."""

    name = "push"
    source_is_name = True
    states = (
        State("push_opted_out", np.bool_, False, description="switched app push off"),
        State("push_week_count", np.uint8, 0, description="pushes received this week"),
        State("push_tolerance", np.uint8, NEVER,
              description="weekly pushes at which the customer switches push off"),
    )

    @classmethod
    def enabled(cls, scenario) -> bool:
        return any(resolve_per_segment(scenario.push.daily_send_rate, scenario.segment_names))

    def setup(self) -> None:
        model = self.model
        pop = model.population
        cfg: PushConfig = model.scenario.push
        self.cfg = cfg
        segs = model.scenario.segment_names
        self.send = np.array(resolve_per_segment(cfg.daily_send_rate, segs), dtype=np.float64)
        self.convert = np.array(resolve_per_segment(cfg.conversion_on_open, segs))
        self.targets = np.zeros(len(Stage), dtype=bool)
        self.targets[[int(Stage[t.upper()]) for t in cfg.targets]] = True
        self.opted_out = self.state("push_opted_out")
        self.week_count = self.state("push_week_count")
        self.tolerance = self.state("push_tolerance")
        # Tolerance bands of the survey: 1, 2–5, 6–10, never (uniform within a band).
        shares = np.array([cfg.disable_at_1, cfg.disable_at_2_to_5, cfg.disable_at_6_to_10])
        band = np.searchsorted(np.cumsum(shares), self.rng.random(pop.n), side="right")
        low = np.array([1, 2, 6, NEVER])[band]
        high = np.array([1, 5, 10, NEVER])[band]
        self.tolerance[:] = self.rng.integers(low, high + 1).astype(np.uint8)
        self.budget_left = float("inf") if cfg.budget is None else float(cfg.budget)
        model.ledger.register("push", "push")

    def step(self, day: Day) -> None:
        if day.weekday == 0:
            self.week_count[:] = 0
        pop = self.model.population
        ledger = self.model.ledger
        cfg = self.cfg
        d = day.index
        draws = self.draws

        def send_p(cand: np.ndarray) -> np.ndarray:
            ok = self.targets[pop.stage[cand]] & ~self.opted_out[cand]
            ok &= self.week_count[cand] < cfg.per_week
            return np.where(ok, self.send[pop.segment[cand]], 0.0)

        idx = draws.thinned("send", d, pop.n, float(self.send.max()), send_p)
        if cfg.cost_per_push > 0 and idx.size:
            priority = draws.uniform("afford", d, idx)
            idx = affordable_by_priority(
                idx, priority, cfg.cost_per_push, self.budget_left, pop.weights()
            )
        if idx.size == 0:
            return
        counts = pop.segment_counts(idx)
        if cfg.cost_per_push > 0:
            ledger.charge("push", d, counts * cfg.cost_per_push)
            self.budget_left -= float(counts.sum()) * cfg.cost_per_push
        ledger.count("push", "sent", d, counts)
        self.week_count[idx] += 1
        fed_up = idx[self.week_count[idx] >= self.tolerance[idx]]
        self.opted_out[fed_up] = True
        ledger.count("push", "opt_outs", d, pop.segment_counts(fed_up))
        p_open = np.full(idx.size, cfg.open_rate)
        if self.model.sentiment is not None:
            p_open = p_open * (1.0 - self.model.sentiment.values[idx].astype(np.float64))
        opened = idx[draws.uniform("open", d, idx) < p_open]
        ledger.count("push", "opens", d, pop.segment_counts(opened))
        stage = pop.stage[opened]
        prospects = opened[stage <= Stage.ENGAGED]
        u_convert = draws.uniform("convert", d, prospects)
        won = prospects[u_convert < self.convert[pop.segment[prospects]]]
        self.model.convert(won, d, "push", count_as="push")
        if cfg.recall_on_open > 0:
            lapsing = opened[(stage == Stage.AT_RISK) | (stage == Stage.DORMANT)]
            back = lapsing[draws.uniform("recall", d, lapsing) < cfg.recall_on_open]
            pop.stage[back] = Stage.ACTIVE
            ledger.count("push", "recalled", d, pop.segment_counts(back))
