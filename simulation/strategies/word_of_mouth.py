"""Word of mouth: each prospect adopts with hazard ``imitation`` × (share of its ties who are
customers and still advocate). On a complete network the share is the population's (Bass q·F).

The count of advocating ties is kept incrementally: each day only the customers whose advocate
status changed push ±1 to their neighbours, so the cost is O(changes × degree), not O(edges).
Adoption is drawn per customer slot by thinning: candidates at the largest hazard
(``imitation``) over all slots, each kept with its own share of advocating ties, so the cost is
O(N · imitation) and a customer's draw does not depend on who else is a prospect.

On a weighted network (a tie list with a ``weight`` column, docs/calibrate.md) the share is
weighted: Σ weight of advocating ties / Σ weight of all ties, so a strong tie (a colleague, a
past referrer) persuades more than a weak one; unweighted networks take the integer path.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from simulation import kernels
from simulation.network import kernels as network_kernels
from simulation.population.stages import ADVOCATE_STAGES, PROSPECT_STAGES, StageCode
from simulation.scenario.types import Probability, StrictModel
from simulation.strategies.base import Day, StrategyModule

PROSPECT_MAX = int(max(PROSPECT_STAGES))  # a plain int (population/stages.py, StageCode)
assert set(PROSPECT_STAGES) == set(range(PROSPECT_MAX + 1)), "prospect stages are 0..ENGAGED"
# plain ints: numpy compares an int8 array with an IntEnum member by first widening the whole
# array to int64 (measured at 10M: 35 against 21 ms for the two comparisons)
ADVOCATE_LO, ADVOCATE_HI = int(min(ADVOCATE_STAGES)), int(max(ADVOCATE_STAGES))
assert set(ADVOCATE_STAGES) == set(range(ADVOCATE_LO, ADVOCATE_HI + 1)), "advocates: one range"


class WordOfMouthConfig(StrictModel):
    """Imitation: hazard = ``imitation`` × share of a customer's ties who are customers (Bass q)."""

    imitation: Probability = 0.0
    effect: Literal["convert", "engage", "aware"] = "convert"


class WordOfMouth(StrategyModule):
    name = "word_of_mouth"
    source_is_name = True

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
            if self.net.weights is None:
                # int32 from the CSR row kernel: no copy (simulation/network/kernels.py)
                self.counts = np.asarray(
                    self.net.count_neighbours_in(self.advocates), dtype=np.int32
                )
                # one block-parallel pass over indptr, the bits of the numpy form below
                self.inv_degree = network_kernels.inverse_degree(self.net.indptr)
            else:  # weighted share: Σ advocating ties' weight / Σ ties' weight
                self.counts = np.asarray(
                    self.net.count_neighbours_in(self.advocates), dtype=np.float64
                )
                deg = self.net.strength
                self.inv_degree = np.where(deg > 0, 1.0 / np.maximum(deg, 1e-300), 0.0)

    def _refresh_counts(self) -> None:
        pop = self.model.population
        # today's advocates (pop.advocates_mask()), the customers whose status changed and
        # their signs, in one block-parallel pass on several threads
        now, changed, sign = kernels.advocate_changes(
            pop.stage, self.advocates, ADVOCATE_LO, ADVOCATE_HI
        )
        if changed.size:
            net = self.net
            if net.weights is None:
                kernels.scatter_add(self.counts, net.indptr, net.indices, changed, sign)
            else:
                assert net.indptr is not None and net.indices is not None
                starts = net.indptr[changed]
                lens = net.indptr[changed + 1] - starts
                owner = np.repeat(np.arange(changed.size), lens)
                edge = np.arange(owner.size) - np.repeat(np.cumsum(lens) - lens, lens)
                edge += starts[owner]
                # serial, in a fixed order: the same sums on any number of threads
                np.add.at(self.counts, net.indices[edge], sign[owner] * net.weights[edge])
                np.maximum(self.counts, 0.0, out=self.counts)  # rounding never goes below 0
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
            # SlotDraws.thinned("adopt", …) with the hazard q × advocating share, its keep
            # step fused with the hazard (kernels.wom_adopt: the same candidates, uniforms and
            # comparisons, one block-parallel pass; imitation > 0 when the module is on)
            p_max = min(self.q, 1.0)
            cand = self.draws.bernoulli("adopt", d, pop.n, p_max)
            won = kernels.wom_adopt(
                cand, self.counts, self.inv_degree, pop.stage, self.q, PROSPECT_MAX,
                self.draws.key("adopt/keep", d), p_max,
            )
        if self.effect == "convert":
            self.model.convert(won, day.index, "word_of_mouth")
            self.model.ledger.count(
                "word_of_mouth", "conversions", day.index, pop.segment_counts(won)
            )
        elif self.effect == "engage":
            pop.mark_engaged(won, day.index)
        else:
            pop.mark_aware(won[pop.stage[won] == StageCode.UNAWARE], day.index)
