"""Word of mouth: each prospect adopts with hazard ``imitation`` × (share of its ties who are
customers and still advocate). On a complete network the share is the population's (Bass q·F).

The count of advocating ties is kept incrementally: each day only the customers whose advocate
status changed push ±1 to their neighbours, so the cost is O(changes × degree), not O(edges).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from simulation.accounting import per_segment_counts
from simulation.population.stages import PROSPECT_STAGES, Stage
from simulation.rng import bernoulli_indices
from simulation.scenario.types import Probability, StrictModel
from simulation.strategies.base import Day, StrategyModule


class WordOfMouthConfig(StrictModel):
    """Imitation: hazard = ``imitation`` × share of a customer's ties who are customers (Bass q)."""

    imitation: Probability = 0.0
    effect: Literal["convert", "engage", "aware"] = "convert"


class WordOfMouth(StrategyModule):
    name = "word_of_mouth"

    @classmethod
    def sources(cls, scenario) -> tuple[str, ...]:
        return ("word_of_mouth",)

    @classmethod
    def enabled(cls, scenario) -> bool:
        return scenario.word_of_mouth.imitation > 0

    def setup(self) -> None:
        model = self.model
        pop = model.population
        self.q = model.scenario.word_of_mouth.imitation
        self.effect = model.scenario.word_of_mouth.effect
        model.ledger.register("word_of_mouth", "organic")
        self.advocates = pop.advocates_mask()
        self.net = model.network
        if not self.net.is_complete:
            self.counts = self.net.count_neighbours_in(self.advocates).astype(np.int32)
            self.inv_degree = np.where(
                self.net.degree > 0, 1.0 / np.maximum(self.net.degree, 1), 0.0
            )

    def _refresh_counts(self) -> None:
        pop = self.model.population
        now = pop.advocates_mask()
        changed = np.flatnonzero(now != self.advocates)
        if changed.size:
            owner, nbr = self.net.neighbours_of(changed)
            sign = np.where(now[changed], 1, -1)[owner]
            self.counts += np.bincount(nbr, weights=sign, minlength=pop.n).astype(np.int32)
        self.advocates = now

    def step(self, day: Day) -> None:
        pop = self.model.population
        prospect = pop.in_stages(PROSPECT_STAGES)
        if self.net.is_complete:
            self.advocates = pop.advocates_mask()
            share = self.advocates.sum() / max(pop.n - 1, 1)
            pool = np.flatnonzero(prospect)
            won = pool[bernoulli_indices(self.rng, pool.size, self.q * share)]
        else:
            self._refresh_counts()
            pool = np.flatnonzero(prospect & (self.counts > 0))
            p = self.q * self.counts[pool] * self.inv_degree[pool]
            won = pool[self.rng.random(pool.size) < p]
        s = len(pop.segment_names)
        if self.effect == "convert":
            self.model.convert(won, day.index, "word_of_mouth")
            self.model.ledger.count(
                "word_of_mouth", "conversions", day.index, per_segment_counts(pop.segment, won, s)
            )
        elif self.effect == "engage":
            pop.mark_engaged(won, day.index)
        else:
            pop.mark_aware(won[pop.stage[won] == Stage.UNAWARE], day.index)
