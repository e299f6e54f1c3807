"""Daily lifecycle hazards: forgetting, private-domain conversion, lapse → at-risk → dormant →
churn (with recovery), ring upgrades, and the value active customers earn.

Transitions cascade within a day in the order lapse → dormant → churn, so with both follow-on
hazards at 1 a customer who lapses churns the same day and retention is exactly (1 − c)^t.
"""

from __future__ import annotations

import numpy as np

from simulation.population.stages import Ring, Stage
from simulation.population.state import RING_CODES
from simulation.rng import bernoulli_indices, thinned_indices
from simulation.scenario.types import (
    DAYS_PER_MONTH,
    NonNegative,
    PerSegmentProbability,
    Probability,
    Problems,
    StrictModel,
    per_segment_problems,
    resolve_per_segment,
)
from simulation.strategies.base import CHURN_MULTIPLIER, VALUE_MULTIPLIER, Day, StrategyModule


class RingUpgrades(StrictModel):
    outer_to_middle: Probability = 0.0
    middle_to_inner: Probability = 0.0


class RingChurnMultiplier(StrictModel):
    outer: NonNegative = 1.0
    middle: NonNegative = 1.0
    inner: NonNegative = 1.0


class LifecycleConfig(StrictModel):
    """Daily hazards between stages. The at-risk / dormant path turns a lapse into churn."""

    forget: Probability = 0.0
    engaged_conversion: PerSegmentProbability = 0.0
    at_risk_recovery: Probability = 0.0
    at_risk_to_dormant: Probability = 1.0
    dormant_recovery: Probability = 0.0
    dormant_to_churned: Probability = 1.0
    ring_upgrade: RingUpgrades = RingUpgrades()
    ring_churn_multiplier: RingChurnMultiplier = RingChurnMultiplier()

    def cross_problems(self, scenario, path: tuple[str, ...]) -> Problems:
        return per_segment_problems(
            self.engaged_conversion, scenario.segment_names, (*path, "engaged_conversion")
        )


class Lifecycle(StrategyModule):
    """The population's own dynamics (always on): forgetting, private-domain conversion, lapse
    → at-risk → dormant → churn with recovery, ring upgrades, value accrual, and the ring each
    new customer lands in (:meth:`draw_rings`, used by ``model.convert``).

    Other modules change churn and value only through arrays they own and declare with the
    ``churn_multiplier`` / ``value_multiplier`` role; Lifecycle multiplies them in."""

    name = "lifecycle"

    @classmethod
    def sources(cls, scenario) -> tuple[str, ...]:
        return ("private_domain",)

    def setup(self) -> None:
        sc = self.model.scenario
        pop = self.model.population
        cfg = sc.lifecycle
        self.cfg = cfg
        self.engaged_conversion = np.array(
            resolve_per_segment(cfg.engaged_conversion, sc.segment_names), dtype=np.float64
        )
        m = cfg.ring_churn_multiplier
        self.ring_multiplier = np.array([1.0, m.outer, m.middle, m.inner], dtype=np.float32)
        rings = [g.rings for g in sc.population.segments.values()]
        self.ring_shares = np.array([[r.outer, r.middle, r.inner] for r in rings])
        self.daily_value = (pop.monthly_value / DAYS_PER_MONTH).astype(np.float64)
        self._earned = np.zeros(pop.n, dtype=np.float64)  # today's value per customer (scratch)
        self._segment_index = pop.segment.astype(np.intp)  # bincount wants intp: cast once
        self.churn_multipliers = self.model.states_with_role(CHURN_MULTIPLIER)
        self.value_multipliers = self.model.states_with_role(VALUE_MULTIPLIER)

    def draw_rings(self, idx: np.ndarray) -> np.ndarray:
        """Ring each newly converted customer lands in, from its segment's ring shares."""
        if idx.size == 0:
            return np.empty(0, dtype=np.int8)
        shares = self.ring_shares[self.model.population.segment[idx]]
        u = self.rng.random(idx.size)
        pick = (u[:, None] > np.cumsum(shares, axis=1)[:, :-1]).sum(axis=1)
        return RING_CODES[pick]

    def churn_hazard(self, idx: np.ndarray) -> np.ndarray:
        """Lapse hazard of customers ``idx`` before the ring factor: the sampled trait times
        every churn multiplier other modules own (capped at 1)."""
        hazard = self.model.population.churn_hazard[idx]  # a copy (fancy index)
        for mult in self.churn_multipliers:
            m = mult[idx]
            changed = m != 1.0
            if changed.any():
                hazard[changed] = np.minimum(hazard[changed] * m[changed], 1.0)
        return hazard

    def step(self, day: Day) -> None:
        pop = self.model.population
        d = day.index
        stage = pop.stage
        rng = self.rng
        cfg = self.cfg

        # Yesterday's conversions start their active life today.
        stage[stage == Stage.CONVERTED] = Stage.ACTIVE

        if cfg.forget > 0:
            aware = np.flatnonzero(stage == Stage.AWARE)
            stage[aware[bernoulli_indices(rng, aware.size, cfg.forget)]] = Stage.UNAWARE

        if self.engaged_conversion.any():
            engaged = np.flatnonzero(stage == Stage.ENGAGED)
            probs = self.engaged_conversion[pop.segment[engaged]]
            won = engaged[thinned_indices(rng, probs)]
            self.model.convert(won, d, "private_domain")

        # Active → at-risk (lapse), hazard scaled by ring.
        active = np.flatnonzero(stage == Stage.ACTIVE)
        if active.size:
            hazard = self.churn_hazard(active) * self.ring_multiplier[pop.ring[active]]
            lapsed = active[thinned_indices(rng, hazard)]
            stage[lapsed] = Stage.AT_RISK

        at_risk = np.flatnonzero(stage == Stage.AT_RISK)
        if at_risk.size:
            u = rng.random(at_risk.size)
            to_dormant = u < cfg.at_risk_to_dormant
            recover = ~to_dormant & (
                u < cfg.at_risk_to_dormant + (1 - cfg.at_risk_to_dormant) * cfg.at_risk_recovery
            )
            stage[at_risk[to_dormant]] = Stage.DORMANT
            stage[at_risk[recover]] = Stage.ACTIVE

        dormant = np.flatnonzero(stage == Stage.DORMANT)
        if dormant.size:
            u = rng.random(dormant.size)
            churn = u < cfg.dormant_to_churned
            recover = ~churn & (
                u < cfg.dormant_to_churned + (1 - cfg.dormant_to_churned) * cfg.dormant_recovery
            )
            stage[dormant[churn]] = Stage.CHURNED
            pop.churned_day[dormant[churn]] = d
            pop.ring[dormant[churn]] = Ring.NONE
            stage[dormant[recover]] = Stage.ACTIVE

        up = cfg.ring_upgrade
        if up.middle_to_inner > 0:
            mid = np.flatnonzero(pop.ring == Ring.MIDDLE)
            pop.ring[mid[bernoulli_indices(rng, mid.size, up.middle_to_inner)]] = Ring.INNER
        if up.outer_to_middle > 0:
            outer = np.flatnonzero(pop.ring == Ring.OUTER)
            pop.ring[outer[bernoulli_indices(rng, outer.size, up.outer_to_middle)]] = Ring.MIDDLE

    def accrue_value(self, day: Day) -> None:
        """Active and at-risk customers earn their daily value (called at the end of the day)."""
        pop = self.model.population
        earning = (pop.stage >= Stage.CONVERTED) & (pop.stage <= Stage.AT_RISK)
        # value × True/False is the value or +0.0 exactly, so this equals a masked add; the
        # dense multiply-add is ~10x faster than ``np.add(..., where=earning)`` at 1M customers.
        np.multiply(self.daily_value, earning, out=self._earned)
        for mult in self.value_multipliers:
            self._earned *= mult
        pop.value_accrued += self._earned
        s = len(pop.segment_names)
        self.model.recorder.value[day.index] = np.bincount(
            self._segment_index, weights=self._earned, minlength=s
        )
