"""The performance shortcuts of the core give the same answers as the plain computations:
stage masks by range comparisons, the recorder's incremental (segment, stage, ring) counts, and
customer agents created on demand."""

from __future__ import annotations

import mesa
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from mesa.agent import AgentSet

from simulation import Customer, OperatingMatrixModel, Stage, scenario_from_dict
from simulation.accounting import N_RINGS, DailyRecorder
from simulation.population.stages import N_STAGES
from tests.conftest import small_scenario_dict


def _population(seed: int = 0):
    return OperatingMatrixModel(scenario_from_dict(small_scenario_dict()), seed).population


@settings(max_examples=60, deadline=None)
@given(stages=st.sets(st.sampled_from(list(Stage))), seed=st.integers(0, 2**16))
def test_in_stages_equals_a_lookup_table(stages: set[Stage], seed: int) -> None:
    pop = _population()
    pop.stage[:] = np.random.default_rng(seed).integers(0, N_STAGES, pop.n).astype(np.int8)
    lut = np.zeros(N_STAGES, dtype=bool)
    lut[[int(s) for s in stages]] = True
    assert np.array_equal(pop.in_stages(tuple(stages)), lut[pop.stage])


@settings(max_examples=30, deadline=None)
@given(
    changes=st.lists(
        st.tuples(st.integers(0, 1999), st.integers(0, N_STAGES - 1), st.integers(0, 3)),
        max_size=300,
    ),
    days=st.integers(1, 6),
)
def test_recorder_increments_equal_a_full_recount(changes, days: int) -> None:
    pop = _population()
    s = len(pop.segment_names)
    incremental = DailyRecorder(days, s)
    incremental.record(0, pop)
    per_day = np.array_split(np.array(changes, dtype=np.int64).reshape(-1, 3), days)
    for day, batch in enumerate(per_day, start=1):
        for i, stage, ring in batch:
            pop.stage[i], pop.ring[i] = stage, ring
        incremental.record(day, pop)
        fresh = DailyRecorder(days, s)
        fresh.record(day, pop)
        assert np.array_equal(incremental.stage_counts[day], fresh.stage_counts[day])
        assert np.array_equal(incremental.ring_counts[day], fresh.ring_counts[day])
        cells = np.zeros((s, N_STAGES, N_RINGS), dtype=np.int64)
        np.add.at(cells, (pop.segment, pop.stage, pop.ring), 1)
        assert np.array_equal(incremental.stage_counts[day], cells.sum(axis=2))


def test_agents_are_created_on_demand_and_then_all_registered() -> None:
    model = OperatingMatrixModel(scenario_from_dict(small_scenario_dict()), seed=2)
    assert len(model._customers) == 0  # nothing created by the constructor
    c7 = model.customer(7)
    assert model.customer(7) is c7 and len(model._customers) == 1
    model.run()  # a run never needs agents
    assert len(model._customers) == 1
    agents = model.agents
    assert isinstance(agents, AgentSet) and len(agents) == 2000
    assert c7 in agents and all(isinstance(a, Customer) for a in agents)
    assert len({a.unique_id for a in agents}) == 2000
    assert sorted(a.index for a in agents) == list(range(2000))
    assert model.customers[7] is c7 and [c.index for c in model.customers[:3]] == [0, 1, 2]
    assert model.customers is model.customers  # built once
    assert len(model.agents_by_type[Customer]) == 2000
    # agents read the arrays as they are at the end of the run
    won = model.agents.select(lambda a: a.converted_day is not None)
    assert len(won) == int((model.population.converted_day >= 0).sum())


def test_datacollector_agent_reporters_see_every_customer() -> None:
    model = OperatingMatrixModel(scenario_from_dict(small_scenario_dict(days=3)), seed=2)
    collector = mesa.DataCollector(agent_reporters={"stage": lambda a: int(a.stage)})
    model.step()
    collector.collect(model)
    table = collector.get_agent_vars_dataframe()
    assert len(table) == 2000
    assert np.array_equal(np.sort(table["stage"].to_numpy()), np.sort(model.population.stage))
