"""The selection stage picks the true best at least as often as its stated probability.

Slippage configuration (the least favourable for an indifference-zone procedure): the best is
exactly δ better than the k − 1 others. Observations share a common-random-numbers term across
candidates (as replicate seeds do), plus independent noise of unequal spread.
"""

from __future__ import annotations

import numpy as np
import pytest

from simulation.decide.selection import kim_nelson, kn_h2, ocba, paired_ci

K, DELTA, ALPHA, MACRO = 5, 1.0, 0.05, 300


def _observer(rng: np.random.Generator, means: np.ndarray, sds: np.ndarray, n_max: int):
    common = rng.normal(0.0, 2.0, n_max)  # the seed's effect, shared by every candidate
    own = rng.normal(0.0, 1.0, (len(means), n_max)) * sds[:, None]
    data = means[:, None] + common[None, :] + own

    def observe(want: dict[int, int]) -> dict[int, np.ndarray]:
        return {i: data[i, :n] for i, n in want.items()}

    return observe


@pytest.mark.parametrize("method", ["kim_nelson", "ocba"])
def test_probability_of_correct_selection_meets_the_stated_level(method: str) -> None:
    rng = np.random.default_rng(2024)
    means = np.array([DELTA, 0.0, 0.0, 0.0, 0.0])
    sds = np.array([1.0, 1.5, 0.8, 1.2, 2.0])
    procedure = kim_nelson if method == "kim_nelson" else ocba
    correct = 0
    stated = []
    for _ in range(MACRO):
        observe = _observer(rng, means, sds, 400)
        res = procedure(observe, K, DELTA, ALPHA, n0=10, n_max=400, step=2)
        correct += res.best == 0
        stated.append(res.stated_pcs)
        if method == "kim_nelson":
            assert res.resolved  # KN always ends by its own rule well inside 400 seeds here
    assert correct / MACRO >= stated[0] == 1 - ALPHA


def test_minimising_and_common_numbers_shrink_the_work() -> None:
    rng = np.random.default_rng(7)
    means = np.array([0.0, DELTA, DELTA, DELTA])  # lower is better: candidate 0
    observe = _observer(rng, means, np.full(4, 0.3), 200)
    res = kim_nelson(observe, 4, DELTA, ALPHA, n0=10, n_max=200, maximize=False)
    assert res.best == 0 and res.resolved
    # with the shared seed term removed by pairing, KN needs few seeds
    assert max(res.replicates.values()) < 40


def test_kn_constant_and_paired_interval() -> None:
    # η = ½[(2α/(k−1))^(−2/(n0−1)) − 1]: k = 2, n0 = 10, α = 0.05 → h² = 2η·9
    eta = 0.5 * ((2 * 0.05 / 1) ** (-2 / 9) - 1)
    assert kn_h2(2, 10, 0.05) == pytest.approx(18 * eta)
    a = np.array([3.0, 4.0, 5.0, 6.0])
    mean, low, high, n = paired_ci(a, a - 1.0)
    assert (mean, low, high, n) == (1.0, 1.0, 1.0, 4)
