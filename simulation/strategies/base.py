"""The one protocol every strategy module follows, and the day it is handed.

A module declares its name (which is also the name of its random stream), whether the scenario
switches it on, and two hooks: ``setup`` once after the population and graph exist, ``step``
once per simulated day. The model calls modules in the fixed order of
:data:`simulation.strategies.registry.MODULE_ORDER`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    from simulation.model import OperatingMatrixModel
    from simulation.scenario.schema import Scenario

WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class Day:
    """Simulated day ``index`` (1-based; day 0 is the starting state) and its weekday."""

    index: int
    weekday: int  # 0 = Monday

    @property
    def weekday_name(self) -> str:
        return WEEKDAY_NAMES[self.weekday]


class StrategyModule:
    """Base class: subclasses set ``name`` and override ``setup``/``step`` as needed."""

    name: ClassVar[str] = "module"

    @classmethod
    def enabled(cls, scenario: Scenario) -> bool:
        """Whether this scenario uses the module at all (skipped entirely when not)."""
        return True

    def __init__(self, model: OperatingMatrixModel) -> None:
        self.model = model
        self.rng: np.random.Generator = model.streams.get(self.name)

    def setup(self) -> None:
        """Called once after population, graph and ledger exist, before day 1."""

    def step(self, day: Day) -> None:
        """Called once per day, in module order."""
