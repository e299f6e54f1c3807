"""``OperatingMatrixModel``: population + social graph + strategy modules; one step is one day."""

from __future__ import annotations

from collections.abc import Callable

import mesa
import numpy as np
from mesa.agent import AgentSet

from simulation.accounting import DailyRecorder, Ledger, kpis
from simulation.errors import ScenarioError
from simulation.money.layer import MoneyLayer
from simulation.network.cache import cached_network
from simulation.network.social import SocialNetwork
from simulation.population.customer import Customer
from simulation.population.sampling import sample_population
from simulation.population.stages import CUSTOMER_STAGES
from simulation.population.state import PopulationState
from simulation.rng import Streams
from simulation.scenario.schema import WEEKDAYS, Scenario
from simulation.strategies.base import Day, StrategyModule
from simulation.strategies.lifecycle import Lifecycle
from simulation.strategies.registry import MODULE_ORDER


class OperatingMatrixModel(mesa.Model):
    """A bank's customer population under an operating-matrix strategy.

    Every customer is a :class:`Customer` Mesa agent; their hot state is the model's
    :class:`PopulationState` arrays, on which strategy modules act a whole day at a time.
    Agents are materialised lazily: ``model.agents`` (what DataCollector agent reporters and
    SolaraViz read), ``agents_by_type`` and ``customers`` create all of them on first access,
    ``customer(i)`` just one. docs/performance.md explains the trade-off.
    """

    def __init__(self, scenario: Scenario, seed: int = 0) -> None:
        # Customer agents are created on first use (see ``agents``), not here: at 1M customers
        # eager creation costs ~4-7 s and ~1 GB, while a run itself never touches an agent.
        self._customers: dict[int, Customer] = {}
        self._customer_list: list[Customer] | None = None
        self.streams = Streams(seed)
        super().__init__(rng=self.streams.int_seed("mesa"))
        self.scenario = scenario
        self.seed = seed
        self.days = scenario.days
        self.day = 0
        self.population: PopulationState = sample_population(
            scenario, self.streams.get("population")
        )
        try:
            self.network: SocialNetwork = cached_network(
                scenario.graph,
                self.population,
                self.streams.get("graph"),
                seed,
                population_cfg=scenario.population,
            )
        except ValueError as exc:
            raise ScenarioError.single("<scenario>", "graph", str(exc)) from None
        n_seg = len(self.population.segment_names)
        self.ledger = Ledger(self.days, n_seg)
        self.recorder = DailyRecorder(self.days, n_seg)
        self.modules: list[StrategyModule] = [
            cls(self) for cls in MODULE_ORDER if cls.enabled(scenario)
        ]
        self.lifecycle: Lifecycle = next(m for m in self.modules if isinstance(m, Lifecycle))
        for module in self.modules:
            module.setup()
        # The money layer is the world's economics, not a lever: it runs in every world
        # (factual and counterfactual) after the lifecycle has set today's stages.
        self.money = MoneyLayer(self)
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "customers_won": lambda m: int(
                    m.recorder.stage_counts[m.day][:, list(CUSTOMER_STAGES)].sum()
                ),
                "acquisitions": lambda m: int(np.count_nonzero(m.population.converted_day >= 1)),
                "spend": lambda m: m.ledger.total_spend(m.day),
            }
        )
        self.recorder.record(0, self.population)
        self.datacollector.collect(self)

    @property
    def weekday(self) -> int:
        return (WEEKDAYS.index(self.scenario.start_weekday) + self.day - 1) % 7

    def step(self) -> None:
        """Advance one day through every module in the fixed order, then record the day."""
        if self.day >= self.days:
            self.running = False
            return
        self.day += 1
        today = Day(self.day, self.weekday)
        for module in self.modules:
            module.step(today)
        self.lifecycle.accrue_value(today)
        self.money.step(today)
        self.recorder.record(self.day, self.population)
        self.datacollector.collect(self)
        if self.day >= self.days:
            self.running = False

    def run(self, on_day: Callable[[int], None] | None = None) -> None:
        """Run to the horizon; ``on_day(day)`` is called after each day (progress bars)."""
        while self.day < self.days:
            self.step()
            if on_day is not None:
                on_day(self.day)

    def summary(self) -> dict[str, float | int | None]:
        return kpis(self.population, self.ledger, self.day)

    # ------------------------------------------------------------------ Mesa agents, on demand

    def customer(self, index: int) -> Customer:
        """The ``Customer`` agent of row ``index``, created (and registered) on first use."""
        agent = self._customers.get(index)
        if agent is None:
            if not 0 <= index < self.population.n:
                raise IndexError(f"customer index {index} outside 0..{self.population.n - 1}")
            agent = self._customers[index] = Customer(self, index)
        return agent

    def materialise_customers(self) -> None:
        """Create every customer agent not created yet, in row order (once per model)."""
        pop = getattr(self, "population", None)
        if pop is None or len(self._customers) == pop.n:
            return
        for i in range(pop.n):
            if i not in self._customers:
                self._customers[i] = Customer(self, i)

    @property
    def customers(self) -> list[Customer]:
        """All customer agents in row order (materialises them: ~4 µs and ~1 KB each).

        The same list on every call, so ``model.customers[i]`` in a loop stays O(1)."""
        if self._customer_list is None:
            self.materialise_customers()
            self._customer_list = [self._customers[i] for i in range(self.population.n)]
        return self._customer_list

    @property
    def agents(self) -> AgentSet:
        """Mesa's set of all agents; customers are materialised on first access."""
        self.materialise_customers()
        return super().agents

    @property
    def agents_by_type(self) -> dict[type[mesa.Agent], AgentSet]:
        self.materialise_customers()
        return super().agents_by_type

    @property
    def agent_types(self) -> list[type]:
        self.materialise_customers()
        return super().agent_types

    def stage_counts(self) -> np.ndarray:
        return self.recorder.stage_counts[self.day].sum(axis=0)
