"""Employers as entities for payroll (代发): customers of a payroll segment work for employers of
different size, pay stability and asset retention, and the bank screens employers before it
visits them.

Why: the payroll article's unit is the employer, not the customer — 「一般选择代发企业需要一定的
筛选，比如员工数要在百人以上，代发员工薪资稳定，行内信息显示资产留存率偏低等等。此类企业客群通过社群经营来
实现留存率的提高可以带来亿级的资产提升」 [001] (employers are screened for ≥ 100 staff, stable pay
and low asset retention; raising their staff's retention brings 100M-yuan-level assets), and
staff are reached at the employer (「代发进企」, enterprise visits). So:

- each member of a payroll segment named in ``segments`` works for one of that segment's
  employers (``segments: {internet: 150, …}``: the industry's mean staff per employer, so a
  segment of N represented customers has round(N ÷ 150) employers at any sample size),
  drawn in proportion to the employer's size (log-normal, ``size_sigma``: a few large
  employers, many small ones);
- **pay stability**: on each payday (the segment's ``money…payroll.payday``) an employer pays
  with its own probability (``pay_stability``, a Beta over employers); the staff of an employer
  that does not pay get no salary that payday — the money layer reads ``salary_missed``;
- **asset retention**: an employer's staff move ``outflow_multiplier`` × the segment's
  ``outflow_after_payday`` of their pay out after payday (log-normal over employers, median 1;
  capped at everything) — the money layer reads ``employer_outflow``, so asset retention
  differs by employer;
- **the screen** (``screen``): employers with at least ``min_staff`` represented staff, pay
  stability ≥ ``min_pay_stability`` and outflow multiplier ≥ ``min_outflow_multiplier`` (low
  retention: the most to win) pass; a channel with ``audience: screened_employers`` (an
  enterprise visit) reaches only their staff.

Employers are the world the bank acts in, not a bank lever (``world=True`` in the declaration):
the counterfactual keeps them. Declared state: ``employer`` (id, −1 none), ``employer_screened``,
``employer_outflow``, ``salary_missed``.

Random numbers: each set-up draw has its own stream, keyed by what it draws —
``employers/size``, ``employers/stability``, ``employers/outflow`` and, per segment,
``employers/staff/<segment>`` (who works where) — and each payday's "does it pay" is keyed by
the day and the employer (``pays``, :class:`~simulation.rng.SlotDraws`). They came from the
module's one sequential stream, so a spread switched on or off (``size_sigma: 0`` draws no
sizes, a Beta with sd 0 no stabilities) or one more segment with employers gave every later
draw other numbers: the staff landed at other employers and other employers missed a payday,
noise in every paired comparison of a payroll set-up.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import Field

from simulation.money.layer import days_since_payday
from simulation.population.sampling import draw_beta
from simulation.scenario.types import (
    Beta01,
    NonNegative,
    Probability,
    Problems,
    StrictModel,
)
from simulation.strategies.base import Day, State, StrategyModule


class EmployerScreen(StrictModel):
    """Which employers the bank visits [001]: big enough, paying steadily, retaining little."""

    min_staff: NonNegative = 0.0  # represented staff (the article: 百人以上, ≥ 100)
    min_pay_stability: Probability = 0.0
    min_outflow_multiplier: NonNegative = 0.0  # ≥ 1: retention at or below the segment's


class EmployersConfig(StrictModel):
    """Employers of payroll segments (segment → mean represented staff per employer); off
    while empty."""

    segments: dict[str, Annotated[float, Field(ge=1.0)]] = Field(default_factory=dict)
    size_sigma: NonNegative = 1.0  # log-normal spread of employer size (inf.)
    pay_stability: Beta01 = Beta01(mean=1.0)
    outflow_sigma: NonNegative = 0.0  # log-normal spread of the outflow multiplier, median 1
    screen: EmployerScreen = EmployerScreen()

    def cross_problems(self, scenario: object, path: tuple[str | int, ...]) -> Problems:
        segments = list(getattr(scenario, "segment_names", []))
        money = getattr(scenario, "money", None)
        out: Problems = []
        for name in self.segments:
            if name not in segments:
                out.append(((*path, "segments", name),
                            f"unknown segment '{name}'; segments: {', '.join(segments)}"))
                continue
            seg = None if money is None else money.segments.get(name)
            if seg is None or seg.payroll is None:
                out.append(((*path, "segments", name),
                            f"segment '{name}' has no money.segments.{name}.payroll: employers "
                            f"pay salaries on its payday"))
        return out


class Employers(StrategyModule):
    """Assigns staff to employers at setup; on paydays, draws which employers pay."""

    name = "employers"
    states = (
        State("employer", np.int32, -1, description="employer of the customer, −1 none"),
        State("employer_screened", np.bool_, False,
              description="the customer's employer passes the bank's screen"),
        State("employer_outflow", np.float32, 1.0,
              description="× the segment's outflow after payday at the customer's employer"),
        State("salary_missed", np.bool_, False,
              description="the customer's employer did not pay on today's payday"),
    )

    @classmethod
    def enabled(cls, scenario) -> bool:
        return bool(scenario.employers.segments)

    def setup(self) -> None:
        model = self.model
        pop = model.population
        sc = model.scenario
        cfg: EmployersConfig = sc.employers
        self.cfg = cfg
        streams = model.streams
        members = {name: np.flatnonzero(pop.segment == sc.segment_names.index(name))
                   for name in cfg.segments}
        counts = {name: max(1, round(float(pop.weight[members[name]].sum()) / mean))
                  for name, mean in cfg.segments.items()}
        k = sum(counts.values())
        self.count = k
        size = (streams.get("employers/size").lognormal(0.0, cfg.size_sigma, size=k)
                if cfg.size_sigma > 0 else np.ones(k))
        self.stability = draw_beta(streams.get("employers/stability"), cfg.pay_stability,
                                   k).astype(np.float64)
        outflow = (streams.get("employers/outflow").lognormal(0.0, cfg.outflow_sigma, size=k)
                   if cfg.outflow_sigma > 0 else np.ones(k))
        employer = self.state("employer")
        #: per segment: (payday, its staff, their employer ids, its employer ids)
        self.payrolls: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
        first = 0
        for name, count in counts.items():
            staff = members[name]
            ids = np.arange(first, first + count)
            first += count
            p = size[ids] / size[ids].sum()
            staff_rng = streams.get(f"employers/staff/{name}")
            emp = ids[staff_rng.choice(count, size=staff.size, p=p)]
            employer[staff] = emp
            payday = sc.money.segments[name].payroll.payday
            self.payrolls.append((payday, staff, emp, ids))
        staff_all = np.flatnonzero(employer >= 0)
        emp_all = employer[staff_all]
        # represented staff per employer (population weights)
        self.headcount = np.bincount(emp_all, weights=pop.weight[staff_all], minlength=k)
        screen = cfg.screen
        self.passes = (
            (self.headcount >= screen.min_staff)
            & (self.stability >= screen.min_pay_stability)
            & (outflow >= screen.min_outflow_multiplier)
        )
        self.outflow = outflow
        self.state("employer_screened")[staff_all] = self.passes[emp_all]
        self.state("employer_outflow")[staff_all] = outflow[emp_all].astype(np.float32)
        self.missed = self.state("salary_missed")

    def step(self, day: Day) -> None:
        """On a segment's payday each of its employers pays with its pay stability; the day
        after, the missed flag is cleared."""
        for payday, staff, emp, ids in self.payrolls:
            since = days_since_payday(day.index, payday)
            if since == 0:
                unpaid = np.zeros(self.count, dtype=bool)
                unpaid[ids] = self.draws.uniform("pays", day.index, ids) >= self.stability[ids]
                self.missed[staff] = unpaid[emp]
            elif since == 1:
                self.missed[staff] = False

    def screened_employers(self) -> int:
        """How many employers pass the screen (for reports and tests)."""
        return int(self.passes.sum())
