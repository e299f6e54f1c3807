"""Putting a checked customer table into the population arrays (called by ``sample_population``).

Order matters for honesty: the whole synthetic draw happens first (so the random streams of the
traits the table lacks are the same as without it), then every column the table has overwrites
its trait. A table's stages replace the segments' ``initial`` shares; customers (converted,
active, at risk, dormant) are stock customers converted on day 0, their ring from the table or
drawn from the segment's ``rings`` shares.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulation.data.customers import CustomerTable, load_customers
from simulation.population.stages import Ring, Stage
from simulation.population.state import RING_CODES, PopulationState


def customer_table(population: Any) -> CustomerTable | None:
    """The population's customer table (cached per process), or None for a synthetic one."""
    if getattr(population, "source", None) is None:
        return None
    return load_customers(population.source, population.columns, population.ignore_columns)


def table_segments_and_cities(
    table: CustomerTable, segment_names: list[str], segment: np.ndarray, city: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Segment codes and city codes from the table where it has them, else the draws."""
    if table.segment is not None:
        code = {name: i for i, name in enumerate(segment_names)}
        segment = np.array([code[s] for s in table.segment], dtype=np.int16)
    if table.city is not None:
        city = table.city.astype(np.int32)
    return segment, city


def apply_customer_table(
    table: CustomerTable, state: PopulationState, scenario: Any, rng: np.random.Generator
) -> None:
    """Overwrite the drawn traits and day-0 stages with the table's columns."""
    if table.weight is not None:
        state.set_weights(table.weight)  # population weights, one per row (issue 14)
    if table.age_band is not None:
        index = {name: i for i, name in enumerate(state.age_band_names)}
        state.age_band[:] = np.array([index[a] for a in table.age_band], dtype=np.int16)
    for name, values in table.traits.items():
        getattr(state, name)[:] = values.astype(np.float32)
    if table.stage is None:
        return
    stage = table.stage.copy()
    stage[stage == Stage.CONVERTED] = Stage.ACTIVE  # stock customers start active
    customer = (stage >= Stage.ACTIVE) & (stage <= Stage.DORMANT)
    state.stage[:] = stage
    state.aware_day[:] = np.where(stage >= Stage.AWARE, 0, -1)
    state.engaged_day[:] = np.where(stage == Stage.ENGAGED, 0, -1)
    state.converted_day[:] = np.where(customer, 0, -1)
    state.acquired_via[:] = np.where(customer, PopulationState.STOCK, PopulationState.NONE)
    if table.ring is not None:
        state.ring[:] = np.where(customer, table.ring, Ring.NONE)
        return
    state.ring[:] = Ring.NONE
    segments = list(scenario.population.segments.values())
    for s, cfg in enumerate(segments):
        idx = np.flatnonzero(customer & (state.segment == s))
        r = cfg.rings
        state.ring[idx] = RING_CODES[
            rng.choice(3, size=idx.size, p=np.array([r.outer, r.middle, r.inner]))
        ]
