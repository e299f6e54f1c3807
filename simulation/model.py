"""``OperatingMatrixModel``: population + social graph + strategy modules; one step is one day."""

from __future__ import annotations

from collections.abc import Callable

import mesa
import numpy as np
from mesa.agent import AgentSet

from simulation import kernels
from simulation.accounting import DailyRecorder, Ledger, kpis
from simulation.errors import ScenarioError
from simulation.incremental import SharedWorld
from simulation.money.layer import MoneyLayer
from simulation.network.cache import cached_network
from simulation.network.social import SocialNetwork
from simulation.population.customer import Customer
from simulation.population.sampling import sample_population
from simulation.population.sentiment import Sentiment
from simulation.population.stages import CUSTOMER_STAGES, StageCode
from simulation.population.state import RING_CODES, PopulationState
from simulation.rng import Streams
from simulation.scenario.schema import WEEKDAYS
from simulation.strategies.base import Day, StrategyModule
from simulation.strategies.lifecycle import Lifecycle
from simulation.strategies.registry import MODULE_ORDER, Scenario


class OperatingMatrixModel(mesa.Model):
    """A bank's customer population under an operating-matrix strategy.

    Every customer is a :class:`Customer` Mesa agent; their hot state is the model's
    :class:`PopulationState` arrays, on which strategy modules act a whole day at a time.
    Agents are materialised lazily: ``model.agents`` (what DataCollector agent reporters and
    SolaraViz read), ``agents_by_type`` and ``customers`` create all of them on first access,
    ``customer(i)`` just one. docs/performance.md explains the trade-off.
    """

    def __init__(
        self,
        scenario: Scenario,
        seed: int = 0,
        world: SharedWorld | None = None,
        share_world: bool = False,
    ) -> None:
        """``world``: the population and graph of an earlier model of the same (scenario, seed)
        to run on (a counterfactual or an ablation, simulation/incremental.py) instead of
        sampling them again; ``share_world`` keeps a day-0 copy of them as ``self.world`` for
        such worlds."""
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
        self.world: SharedWorld | None = world
        if world is not None:
            self.population: PopulationState = world.fresh_population()
            self.network: SocialNetwork = world.network
        else:
            self.population = sample_population(scenario, self.streams.get("population"))
            try:
                self.network = cached_network(
                    scenario.graph,
                    self.population,
                    self.streams.get("graph"),
                    seed,
                    population_cfg=scenario.population,
                )
            except ValueError as exc:
                raise ScenarioError.single("<scenario>", "graph", str(exc)) from None
            if share_world:
                self.world = SharedWorld(self.population, self.network)
        n_seg = len(self.population.segment_names)
        counts = np.int64 if self.population.integral_weights else np.float64
        self.ledger = Ledger(self.days, n_seg, counts)
        self.recorder = DailyRecorder(self.days, n_seg, counts)
        self.modules: list[StrategyModule] = [
            cls(self) for cls in MODULE_ORDER if cls.enabled(scenario)
        ]
        lifecycle = self.modules[0]
        assert isinstance(lifecycle, Lifecycle), "Lifecycle is declared first and always on"
        self.lifecycle: Lifecycle = lifecycle
        # Acquisition-source codes are fixed by the declaration (module order, then each
        # module's own order), never by which module happens to set up first.
        self.population.set_sources(
            [src for module in self.modules for src in type(module).sources(scenario)]
        )
        self._source_codes = {name: i for i, name in enumerate(self.population.sources)}
        # Declared per-customer state, allocated before any setup so a module may read another
        # module's state in its own setup. Only the owner writes; others get read-only views.
        self._state_owner: dict[str, StrategyModule] = {}
        for module in self.modules:
            for spec in type(module).states:
                if spec.name in self._state_owner:
                    other = self._state_owner[spec.name].name
                    raise RuntimeError(
                        f"state {spec.name!r} declared by both {other!r} and {module.name!r}"
                    )
                self._state_owner[spec.name] = module
                self.population.extra[spec.name] = spec.allocate(self.population.n)
        self.sentiment: Sentiment | None = (
            Sentiment(self.population.n)
            if any(type(m).moves_sentiment for m in self.modules)
            else None
        )
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
                "acquisitions": lambda m: kernels.count_at_least(m.population.converted_day, 1),
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

    # ------------------------------------------------------------------ the module contract

    def convert(self, idx: np.ndarray, day: int, via: str, count_as: str | None = None) -> None:
        """Customers ``idx`` convert today through source ``via``: each lands in a ring drawn
        from its segment's shares (Lifecycle's stream), its conversion day and source are set,
        and, with ``count_as``, the ledger item of that name counts the conversions.

        The one way any module converts customers, so rings, attribution and counting cannot
        diverge between modules."""
        code = self._source_codes.get(via)
        if code is None:
            raise KeyError(
                f"acquisition source {via!r} is not declared by any enabled module; declared: "
                f"{', '.join(self.population.sources)}"
            )
        if idx.size:
            # Lifecycle.draw_rings and PopulationState.mark_converted fused into one pass (the
            # same uniforms, comparisons and writes; block-parallel when it pays)
            pop, lc = self.population, self.lifecycle
            bad = kernels.convert_slots(
                idx, lc.draws.key("ring", day), pop.segment, lc.ring_cum, RING_CODES,
                pop.stage, pop.converted_day, pop.acquired_via, pop.ring, pop.aware_day, day,
                code, int(StageCode.CONVERTED), int(StageCode.ENGAGED),
            )
            if bad:  # a module's bug: the run stops here
                raise RuntimeError(f"{via}: converting customers who are not prospects")
        if count_as is not None:  # represented customers (population weights)
            self.ledger.count(count_as, "conversions", day, self.population.segment_counts(idx))

    def owned_state(self, module: StrategyModule, name: str) -> np.ndarray:
        """The writable array ``name`` for its owner ``module`` (anyone else: an error)."""
        owner = self._state_owner.get(name)
        if owner is not module:
            who = "nobody" if owner is None else repr(owner.name)
            raise PermissionError(f"state {name!r} is owned by {who}, not {module.name!r}")
        return self.population.extra[name]

    def read_state(self, name: str) -> np.ndarray | None:
        """A read-only view of declared state ``name``, or None when its owner is not enabled
        in this scenario (so a reader can skip what does not exist)."""
        arr = self.population.extra.get(name)
        if arr is None:
            return None
        view = arr.view()
        view.flags.writeable = False
        return view

    def states_with_role(self, role: str) -> list[np.ndarray]:
        """Read-only views of every declared state with ``role`` (e.g. churn multipliers)."""
        out = []
        for name, owner in self._state_owner.items():
            if any(s.name == name and s.role == role for s in type(owner).states):
                view = self.read_state(name)
                assert view is not None
                out.append(view)
        return out

    def module(self, cls: type[StrategyModule]) -> StrategyModule | None:
        """The enabled module of class ``cls``, or None."""
        return next((m for m in self.modules if isinstance(m, cls)), None)

    def summary(self) -> dict[str, float | int | None]:
        self.money.flush()
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
