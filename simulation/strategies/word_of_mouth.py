"""Word of mouth: each prospect adopts with hazard ``imitation`` × (share of its ties who are
customers and still advocate). On a complete network the share is the population's (Bass q·F).

The count of advocating ties is kept incrementally: each day only the customers whose advocate
status changed push ±1 to their neighbours, so the cost is O(changes × degree), not O(edges).
Adoption is drawn per customer slot by thinning: candidates at the largest hazard
(``imitation``) over all slots, each kept with its own share of advocating ties, so the cost is
O(N · imitation) and a customer's draw does not depend on who else is a prospect.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from simulation import kernels
from simulation.population.stages import PROSPECT_STAGES, Stage
from simulation.scenario.types import Probability, StrictModel
from simulation.strategies.base import Day, StrategyModule

PROSPECT_MAX = max(PROSPECT_STAGES)
assert set(PROSPECT_STAGES) == set(range(PROSPECT_MAX + 1)), "prospect stages are 0..ENGAGED"


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
            sign = np.where(now[changed], 1, -1).astype(np.int32)
            kernels.scatter_add(self.counts, self.net.indptr, self.net.indices, changed, sign)
        self.advocates = now

    def step(self, day: Day) -> None:
        pop = self.model.population
        d = day.index
        if self.net.is_complete:
            self.advocates = pop.advocates_mask()
            share = self.advocates.sum() / max(pop.n - 1, 1)
            cand = self.draws.bernoulli("adopt", d, pop.n, self.q * share)
            won = cand[pop.stage[cand] <= PROSPECT_MAX]
        else:
            self._refresh_counts()
            counts, inv_degree, stage = self.counts, self.inv_degree, pop.stage

            def hazard(cand: np.ndarray) -> np.ndarray:
                h = self.q * counts[cand] * inv_degree[cand]
                return np.where(stage[cand] <= PROSPECT_MAX, h, 0.0)

            won = self.draws.thinned("adopt", d, pop.n, self.q, hazard)
        if self.effect == "convert":
            self.model.convert(won, day.index, "word_of_mouth")
            self.model.ledger.count(
                "word_of_mouth", "conversions", day.index, pop.segment_counts(won)
            )
        elif self.effect == "engage":
            pop.mark_engaged(won, day.index)
        else:
            pop.mark_aware(won[pop.stage[won] == Stage.UNAWARE], day.index)
