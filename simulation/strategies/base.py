"""The one protocol every strategy module follows, the state it declares, and the day it is handed.

A module declares

- its ``name`` (also the name of its random stream);
- whether the scenario switches it on (``enabled``);
- the per-customer arrays it owns (``states``: name, dtype, default — as Starsim's
  ``define_states``), which the model allocates before ``setup`` and which only the owner may
  write: every other module gets a read-only view (``model.read_state(name)``);
- the acquisition sources it converts customers through (``sources``), whose codes the model
  fixes from the declaration order before any module is set up;
- two hooks: ``setup`` once after the population, graph and states exist, ``step`` once per
  simulated day.

The model calls modules in the fixed order of the lever declaration
(:data:`simulation.strategies.registry.LEVERS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from simulation.rng import SlotDraws

if TYPE_CHECKING:
    from simulation.model import OperatingMatrixModel
    from simulation.scenario.schema import ScenarioCore as Scenario

WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class Day:
    """Simulated day ``index`` (1-based; day 0 is the starting state) and its weekday."""

    index: int
    weekday: int  # 0 = Monday

    @property
    def weekday_name(self) -> str:
        return WEEKDAY_NAMES[self.weekday]


@dataclass(frozen=True)
class State:
    """A per-customer array a module owns: ``name`` (unique over all modules), numpy ``dtype``
    and the ``default`` every customer starts with. ``role`` marks an array other modules
    combine by meaning rather than by name: every ``churn_multiplier`` array multiplies the
    lapse hazard and every ``value_multiplier`` array the daily value (Lifecycle reads them)."""

    name: str
    dtype: Any
    default: Any = 0
    role: str | None = None
    description: str = ""

    def allocate(self, n: int) -> np.ndarray:
        return np.full(n, self.default, dtype=self.dtype)


#: Roles Lifecycle combines (see :class:`State`).
CHURN_MULTIPLIER = "churn_multiplier"
VALUE_MULTIPLIER = "value_multiplier"


class StrategyModule:
    """Base class: subclasses set ``name``, declare ``states`` and ``sources``, and override
    ``setup``/``step`` as needed."""

    name: ClassVar[str] = "module"
    #: Per-customer arrays this module owns (allocated by the model before ``setup``).
    states: ClassVar[tuple[State, ...]] = ()
    #: Whether this module changes the shared negative sentiment
    #: (:class:`~simulation.population.sentiment.Sentiment`); the model creates it when any
    #: enabled module does, and readers find ``model.sentiment`` None otherwise.
    moves_sentiment: ClassVar[bool] = False
    #: Whether the module converts customers under its own name (one acquisition source named
    #: like the module: groups, advisers, referral …); modules with several sources (channels,
    #: perks) or another name override :meth:`sources` instead.
    source_is_name: ClassVar[bool] = False

    @classmethod
    def enabled(cls, scenario: Scenario) -> bool:
        """Whether this scenario uses the module at all (skipped entirely when not)."""
        return True

    @classmethod
    def sources(cls, scenario: Scenario) -> tuple[str, ...]:
        """Acquisition sources (``acquisitions_by_source`` keys) this module converts through,
        in a fixed order; the model gives them their codes before any module is set up."""
        return (cls.name,) if cls.source_is_name else ()

    def __init__(self, model: OperatingMatrixModel) -> None:
        self.model = model
        self.rng: np.random.Generator = model.streams.get(self.name)
        #: Draws keyed per customer slot (common random numbers that survive ablation, and
        #: block-wise so any thread count gives the same numbers): simulation.rng.SlotDraws.
        self.draws: SlotDraws = model.streams.slots(self.name)

    def state(self, name: str) -> np.ndarray:
        """One of this module's own arrays (writable; only the owner gets it writable)."""
        if not any(s.name == name for s in self.states):
            raise KeyError(f"module {self.name!r} declares no state {name!r}")
        return self.model.owned_state(self, name)

    def source(self, name: str) -> int:
        """The ``acquired_via`` code of one of this module's declared sources."""
        return self.model.population.source_code(name)

    def setup(self) -> None:
        """Called once after population, graph, ledger and declared states exist, before day 1."""

    def step(self, day: Day) -> None:
        """Called once per day, in module order."""
