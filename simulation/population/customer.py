"""``Customer``: the Mesa agent a user inspects. Its state lives in the model's arrays."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from simulation.population.stages import Ring, Stage

if TYPE_CHECKING:
    from simulation.model import OperatingMatrixModel


class Customer(mesa.Agent):
    """One bank customer (or prospect). Reads and writes its row of the population arrays.

    The agent holds no copy of its state: ``customer.stage = Stage.ENGAGED`` writes straight
    into ``model.population.stage``, which is what every vectorised strategy module reads.
    """

    model: OperatingMatrixModel

    def __init__(self, model: OperatingMatrixModel, index: int) -> None:
        super().__init__(model)
        self.index = index

    @property
    def _pop(self):
        return self.model.population

    @property
    def segment(self) -> str:
        return self._pop.segment_names[int(self._pop.segment[self.index])]

    @property
    def city(self) -> int:
        return int(self._pop.city[self.index])

    @property
    def age_band(self) -> str:
        return self._pop.age_band_names[int(self._pop.age_band[self.index])]

    @property
    def stage(self) -> Stage:
        return Stage(int(self._pop.stage[self.index]))

    @stage.setter
    def stage(self, value: Stage) -> None:
        self._pop.stage[self.index] = int(value)

    @property
    def ring(self) -> Ring:
        return Ring(int(self._pop.ring[self.index]))

    @ring.setter
    def ring(self, value: Ring) -> None:
        self._pop.ring[self.index] = int(value)

    @property
    def digital_affinity(self) -> float:
        return float(self._pop.digital_affinity[self.index])

    @property
    def price_sensitivity(self) -> float:
        return float(self._pop.price_sensitivity[self.index])

    @property
    def monthly_value(self) -> float:
        return float(self._pop.monthly_value[self.index])

    @property
    def referral_propensity(self) -> float:
        return float(self._pop.referral_propensity[self.index])

    @property
    def churn_hazard(self) -> float:
        return float(self._pop.churn_hazard[self.index])

    @property
    def available_hours(self) -> list[int]:
        mask = int(self._pop.availability[self.index])
        return [h for h in range(24) if mask >> h & 1]

    @property
    def converted_day(self) -> int | None:
        d = int(self._pop.converted_day[self.index])
        return None if d < 0 else d

    @property
    def acquired_via(self) -> str | None:
        return self._pop.source_name(int(self._pop.acquired_via[self.index]))

    @property
    def ties(self) -> list[int]:
        """Indices of this customer's social ties (empty for a well-mixed population)."""
        return self.model.network.neighbours(self.index).tolist()

    # ------------------------------------------------------------------ per-agent rules
    # Behaviour can be prototyped the Mesa way — a method here (or on a small mesa.Agent
    # subclass) run with ``AgentSet.do`` / ``shuffle_do`` over a subset of customers — and then
    # vectorised into a strategy module. docs/architecture.md describes the path; the test
    # tests/test_agent_rules.py shows this rule and WordOfMouth give the same distribution.

    def imitate(self, imitation: float, advocates: np.ndarray, rng: np.random.Generator,
                day: int) -> bool:
        """Word of mouth for one prospect, per agent: adopt with probability ``imitation`` ×
        the share of this customer's ties who advocate (``advocates``: the day's starting
        snapshot, as the vectorised module uses). Converts through ``model.convert``."""
        if int(self._pop.stage[self.index]) > Stage.ENGAGED:
            return False
        ties = self.model.network.neighbours(self.index)
        if ties.size == 0:
            return False
        if rng.random() < imitation * float(advocates[ties].mean()):
            self.model.convert(np.array([self.index]), day, "word_of_mouth")
            return True
        return False

    def __repr__(self) -> str:
        return f"Customer({self.index}, {self.segment}, {self.stage.name.lower()})"
