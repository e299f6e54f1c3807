"""Draw a population's traits and day-0 state from the scenario's per-segment distributions."""

from __future__ import annotations

import numpy as np

from simulation.data.population import (
    apply_customer_table,
    customer_table,
    table_segments_and_cities,
)
from simulation.population.stages import Ring, Stage
from simulation.population.state import RING_CODES, PopulationState
from simulation.scenario.schema import Beta01, hours_mask
from simulation.scenario.schema import ScenarioCore as Scenario


def allocate(total: int, shares: list[float]) -> np.ndarray:
    """Integer counts summing to ``total`` closest to ``shares`` (largest remainder)."""
    raw = np.asarray(shares, dtype=float) * total
    counts = np.floor(raw).astype(np.int64)
    short = total - int(counts.sum())
    if short > 0:
        order = np.argsort(-(raw - counts), kind="stable")
        counts[order[:short]] += 1
    return counts


def draw_beta(rng: np.random.Generator, spec: Beta01, n: int) -> np.ndarray:
    """``n`` draws from a Beta with the spec's mean and sd (constant when sd is 0)."""
    if n == 0:
        return np.empty(0, dtype=np.float32)
    m, s = spec.mean, spec.sd
    if s == 0.0 or m in (0.0, 1.0):
        return np.full(n, m, dtype=np.float32)
    k = m * (1.0 - m) / (s * s) - 1.0
    return rng.beta(m * k, (1.0 - m) * k, size=n).astype(np.float32)


def city_weights(count: int, zipf: float) -> np.ndarray:
    w = np.arange(1, count + 1, dtype=float) ** (-zipf)
    return w / w.sum()


def sample_population(scenario: Scenario, rng: np.random.Generator) -> PopulationState:
    """Segments get exact shares of N; every trait is drawn within the customer's segment."""
    pop = scenario.population
    n = pop.size
    seg_names = list(pop.segments)
    seg_cfgs = list(pop.segments.values())
    channels = list(scenario.channels)
    perks = sorted({p for s in seg_cfgs for p in s.perk_appeal})
    ages = list(dict.fromkeys(a for s in seg_cfgs for a in s.age_bands))

    counts = allocate(n, [s.share for s in seg_cfgs])
    segment = rng.permutation(np.repeat(np.arange(len(seg_cfgs), dtype=np.int16), counts))
    city = rng.choice(
        pop.cities.count, size=n, p=city_weights(pop.cities.count, pop.cities.zipf)
    ).astype(np.int32)
    table = customer_table(pop)  # a bank's own table: its columns replace the draws below
    if table is not None:
        segment, city = table_segments_and_cities(table, seg_names, segment, city)

    age_band = np.zeros(n, dtype=np.int16)
    digital = np.zeros(n, dtype=np.float32)
    price = np.zeros(n, dtype=np.float32)
    value = np.zeros(n, dtype=np.float32)
    availability = np.zeros(n, dtype=np.uint32)
    referral = np.zeros(n, dtype=np.float32)
    churn = np.zeros(n, dtype=np.float32)
    stage = np.full(n, Stage.UNAWARE, dtype=np.int8)
    ring = np.full(n, Ring.NONE, dtype=np.int8)
    aware_day = np.full(n, -1, dtype=np.int32)
    engaged_day = np.full(n, -1, dtype=np.int32)
    converted_day = np.full(n, -1, dtype=np.int32)
    acquired_via = np.full(n, PopulationState.NONE, dtype=np.int16)

    affinity = np.ones((len(seg_cfgs), len(channels)), dtype=np.float32)
    appeal = np.zeros((len(seg_cfgs), len(perks)), dtype=np.float32)

    for s, cfg in enumerate(seg_cfgs):
        idx = np.flatnonzero(segment == s)
        m = idx.size
        band_p = np.array([cfg.age_bands.get(a, 0.0) for a in ages])
        age_band[idx] = rng.choice(len(ages), size=m, p=band_p / band_p.sum())
        digital[idx] = draw_beta(rng, cfg.digital_affinity, m)
        price[idx] = draw_beta(rng, cfg.price_sensitivity, m)
        if cfg.monthly_value.sigma > 0:
            value[idx] = cfg.monthly_value.median * rng.lognormal(
                0.0, cfg.monthly_value.sigma, size=m
            )
        else:
            value[idx] = cfg.monthly_value.median
        availability[idx] = hours_mask(cfg.availability)
        referral[idx] = draw_beta(rng, cfg.referral_propensity, m)
        cv = cfg.churn_heterogeneity
        if cv > 0:
            churn[idx] = np.minimum(
                cfg.churn_hazard * rng.gamma(1.0 / cv**2, cv**2, size=m), 1.0
            )
        else:
            churn[idx] = cfg.churn_hazard
        for c, ch in enumerate(channels):
            affinity[s, c] = cfg.channel_affinity.get(ch, 1.0)
        for p, perk in enumerate(perks):
            appeal[s, p] = cfg.perk_appeal.get(perk, 0.0)

        init = cfg.initial
        probs = np.array(
            [1.0 - init.aware - init.engaged - init.converted, init.aware, init.engaged,
             init.converted]
        )
        start = rng.choice(4, size=m, p=np.clip(probs, 0, None) / np.clip(probs, 0, None).sum())
        aware = idx[start == 1]
        engaged = idx[start == 2]
        stock = idx[start == 3]
        stage[aware] = Stage.AWARE
        aware_day[aware] = 0
        stage[engaged] = Stage.ENGAGED
        aware_day[engaged] = 0
        engaged_day[engaged] = 0
        stage[stock] = Stage.ACTIVE
        aware_day[stock] = 0
        converted_day[stock] = 0
        acquired_via[stock] = PopulationState.STOCK
        r = cfg.rings
        ring[stock] = RING_CODES[
            rng.choice(3, size=stock.size, p=np.array([r.outer, r.middle, r.inner]))
        ]

    state = PopulationState(
        segment_names=seg_names,
        channel_names=channels,
        perk_names=perks,
        age_band_names=ages,
        segment=segment,
        city=city,
        age_band=age_band,
        digital_affinity=digital,
        price_sensitivity=price,
        monthly_value=value,
        channel_affinity=affinity,
        perk_appeal=appeal,
        availability=availability,
        referral_propensity=referral,
        churn_hazard=churn,
        stage=stage,
        ring=ring,
        aware_day=aware_day,
        engaged_day=engaged_day,
        converted_day=converted_day,
        churned_day=np.full(n, -1, dtype=np.int32),
        acquired_via=acquired_via,
        referrer=np.full(n, -1, dtype=np.int32),
        value_accrued=np.zeros(n, dtype=np.float64),
    )
    state.set_weights(float(pop.scale))
    if table is not None:
        apply_customer_table(table, state, scenario, rng)
    return state
