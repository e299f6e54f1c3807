"""Population sampling block by block (issue 14): every block of ``kernels.BLOCK_SIZE``
customers draws from its own stream, so the population is the same on any number of threads,
and a one-block population is drawn from the population stream exactly as before."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from simulation import kernels, load_scenario
from simulation.population.sampling import allocate, block_segment_counts, sample_population
from simulation.rng import Streams

REPO = Path(__file__).resolve().parents[1]
B = kernels.BLOCK_SIZE


def _arrays(pop) -> dict[str, np.ndarray]:
    return {f.name: getattr(pop, f.name) for f in fields(pop)
            if isinstance(getattr(pop, f.name), np.ndarray)}


@pytest.fixture(scope="module")
def preset():
    # five segments with unequal shares, initial stages, rings and heterogeneous churn
    return load_scenario(REPO / "scenarios" / "operating_matrix.yaml",
                         [f"population.size={3 * B + 777}"])


def test_the_population_is_the_same_on_1_2_and_16_threads(preset) -> None:
    pops = [sample_population(preset, Streams(4).get("population"), threads=t)
            for t in (1, 2, 16)]
    ref = _arrays(pops[0])
    for pop in pops[1:]:
        for name, arr in _arrays(pop).items():
            assert np.array_equal(arr, ref[name]), name
    seg = pops[0].segment
    shares = [s.share for s in preset.population.segments.values()]
    # exact segment totals, and every block holds a mix of them (not one segment per block)
    assert np.bincount(seg).tolist() == allocate(seg.size, shares).tolist()
    for lo in range(0, seg.size, B):
        assert np.unique(seg[lo:lo + B]).size == len(shares)


def test_a_block_draws_from_its_own_stream_only() -> None:
    """Block 1 of a 2½-block and of a 3½-block population (one segment) are the same
    customers: a block's numbers do not depend on how many blocks follow it."""
    path = REPO / "benchmarks" / "scenarios" / "core_ws.yaml"
    small, big = (
        sample_population(load_scenario(path, [f"population.size={n}"]),
                          Streams(9).get("population"), threads=2)
        for n in (2 * B + B // 2, 3 * B + B // 2)
    )
    for name in ("city", "stage", "ring", "referral_propensity", "churn_hazard"):
        a, b = getattr(small, name), getattr(big, name)
        assert np.array_equal(a[: 2 * B], b[: 2 * B]), name
        assert not np.array_equal(a[2 * B: 2 * B + 1000], b[2 * B: 2 * B + 1000]) or \
            np.unique(a).size == 1, name


def test_block_segment_counts_are_exact_and_leave_the_stream_alone() -> None:
    rng = Streams(1).get("population")
    before = rng.bit_generator.state
    counts = np.array([5 * B + 3, 2 * B, 17])
    per_block = block_segment_counts(rng, counts, int(counts.sum()))
    assert rng.bit_generator.state == before
    assert per_block.sum(axis=0).tolist() == counts.tolist()
    assert per_block.sum(axis=1).tolist() == [B] * 7 + [20]
