"""Daily lifecycle hazards: forgetting, private-domain conversion, lapse → at-risk → dormant →
churn (with recovery), ring upgrades, and the value active customers earn.

Transitions cascade within a day in the order lapse → dormant → churn, so with both follow-on
hazards at 1 a customer who lapses churns the same day and retention is exactly (1 − c)^t.
"""

from __future__ import annotations

import numpy as np

from simulation import kernels
from simulation.population.stages import RingCode, Stage, StageCode
from simulation.rng import quantize_up
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
    new customer lands in (its segment's shares, :attr:`ring_cum`, drawn by ``model.convert``
    from this module's ``"ring"`` draws: per customer slot, so a customer's ring of the day is
    its own whichever module converted it).

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
        # each segment's cumulative ring shares below the last ring (a customer's ring: how
        # many its "ring" uniform exceeds), once per segment, for model.convert's kernel
        self.ring_cum = np.ascontiguousarray(np.cumsum(self.ring_shares, axis=1)[:, :-1])
        # In the monthly value's own dtype (float32 when sampled): every value is widened to
        # float64 exactly where it is used, so these are the numbers a float64 copy held, in
        # half the bytes a customer for the daily accrual to stream
        self.daily_value = pop.monthly_value / DAYS_PER_MONTH
        self.churn_multipliers = self.model.states_with_role(CHURN_MULTIPLIER)
        self.value_multipliers = self.model.states_with_role(VALUE_MULTIPLIER)
        # No flat value anywhere (the money layer earns it): other modules only ever scale
        # daily_value (value multipliers), so it stays zero and accruing it is skipped.
        self._no_flat_value = not bool(self.daily_value.any())

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
        """Every hazard is drawn per customer slot (``self.draws``): over all slots, then masked
        with the stage, so one customer's fate never depends on who else is eligible."""
        pop = self.model.population
        d = day.index
        stage = pop.stage
        draws = self.draws
        cfg = self.cfg
        n = pop.n

        # Yesterday's conversions start their active life today.
        kernels.replace_value(stage, np.int8(Stage.CONVERTED), np.int8(Stage.ACTIVE))

        if cfg.forget > 0:
            cand = draws.bernoulli("forget", d, n, cfg.forget)
            stage[cand[stage[cand] == StageCode.AWARE]] = StageCode.UNAWARE

        if self.engaged_conversion.any():
            conv = self.engaged_conversion

            def engaged_p(cand: np.ndarray) -> np.ndarray:
                return np.where(stage[cand] == StageCode.ENGAGED, conv[pop.segment[cand]], 0.0)

            won = draws.thinned("convert", d, n, float(conv.max()), engaged_p)
            self.model.convert(won, d, "private_domain")

        # Active → at-risk (lapse), hazard scaled by ring. The thinning bound is rounded up to a
        # power of two so that it (and the candidate slots) stay put when hazards move a little.
        # The maximum over every customer is an integer maximum of the float bit patterns,
        # block-parallel (numpy's float maximum, as fast on one thread, ran serially: ~3 ms a
        # day at 10M, the largest serial pass of a core_ws day)
        bound = kernels.max_nonnegative(pop.churn_hazard)
        for m in self.churn_multipliers:
            bound *= max(1.0, kernels.max_nonnegative(m))
        p_max = quantize_up(min(bound, 1.0) * float(self.ring_multiplier.max()))
        ring_mult = self.ring_multiplier

        def lapse_p(cand: np.ndarray) -> np.ndarray:
            h = self.churn_hazard(cand) * ring_mult[pop.ring[cand]]
            return np.where(stage[cand] == StageCode.ACTIVE, h, 0.0)

        if self.churn_multipliers or p_max <= 0.0:
            stage[draws.thinned("lapse", d, n, p_max, lapse_p)] = StageCode.AT_RISK
        else:  # thinned("lapse", …, lapse_p) with its keep, probabilities and write fused
            cand = draws.bernoulli("lapse", d, n, p_max)
            kernels.lapse_active(
                cand, pop.churn_hazard, pop.ring, ring_mult, stage, int(StageCode.ACTIVE),
                int(StageCode.AT_RISK), draws.key("lapse/keep", d), p_max,
            )

        # both scans in one pass: the at-risk moves below only add at_risk[to_dormant] to
        # the dormant customers, so those are merged in (the same sorted slots as a rescan)
        at_risk, dormant = kernels.where_equal_pair(
            stage, np.int8(StageCode.AT_RISK), np.int8(StageCode.DORMANT)
        )
        if at_risk.size:
            u = draws.uniform("at_risk", d, at_risk)
            to_dormant = u < cfg.at_risk_to_dormant
            recover = ~to_dormant & (
                u < cfg.at_risk_to_dormant + (1 - cfg.at_risk_to_dormant) * cfg.at_risk_recovery
            )
            stage[at_risk[to_dormant]] = StageCode.DORMANT
            stage[at_risk[recover]] = StageCode.ACTIVE
            dormant = kernels.merge_sorted(dormant, at_risk[to_dormant])

        if dormant.size:
            u = draws.uniform("dormant", d, dormant)
            churn = u < cfg.dormant_to_churned
            recover = ~churn & (
                u < cfg.dormant_to_churned + (1 - cfg.dormant_to_churned) * cfg.dormant_recovery
            )
            stage[dormant[churn]] = StageCode.CHURNED
            pop.churned_day[dormant[churn]] = d
            pop.ring[dormant[churn]] = RingCode.NONE
            stage[dormant[recover]] = StageCode.ACTIVE

        up = cfg.ring_upgrade
        ring = pop.ring
        if up.middle_to_inner > 0:
            cand = draws.bernoulli("to_inner", d, n, up.middle_to_inner)
            ring[cand[ring[cand] == RingCode.MIDDLE]] = RingCode.INNER
        if up.outer_to_middle > 0:
            cand = draws.bernoulli("to_middle", d, n, up.outer_to_middle)
            ring[cand[ring[cand] == RingCode.OUTER]] = RingCode.MIDDLE

    def accrue_value(self, day: Day) -> None:
        """Active and at-risk customers earn their daily value (called at the end of the day),
        times every value multiplier other modules own.

        One fused, block-parallel pass (:func:`simulation.kernels.accrue_value`): per-customer
        sums are exact as before; the per-segment total (Σ value × population weight) adds
        block partial sums in block order."""
        if self._no_flat_value:
            return  # recorder.value[day] stays 0; value_accrued unchanged
        pop = self.model.population
        daily = self.daily_value
        if self.value_multipliers:
            daily = daily.astype(np.float64)  # the products in float64, as always
        for mult in self.value_multipliers:
            daily = daily * mult
        s = len(pop.segment_names)
        self.model.recorder.value[day.index] = kernels.accrue_value(
            pop.stage,
            int(Stage.CONVERTED),
            int(Stage.AT_RISK),
            daily,
            pop.segment,
            pop.weight,
            pop.value_accrued,
            s,
            pop.unit_weights,
        )
