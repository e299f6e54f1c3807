"""``kernels.gated_probs`` (channels' and lifecycle operations' daily thinning probabilities,
new in 25c27e8/bbcaee1 and until now tested only through whole runs) equals the numpy
expressions it replaced, bit for bit, at the block edges and on both twins (review helper)."""

from __future__ import annotations

import numpy as np
import pytest

from simulation import kernels

B = kernels.BLOCK_SIZE


@pytest.mark.parametrize("n", [0, 1, B - 1, B + 1])
def test_gated_probs_equal_numpy_at_block_edges(monkeypatch, n) -> None:
    monkeypatch.setattr(kernels, "PARALLEL_MIN_WORK", 0)  # every call on its parallel twin
    rng = np.random.default_rng(n)
    pop = max(n, 10)
    stage = rng.integers(0, 8, pop).astype(np.int8)
    ring = rng.integers(0, 4, pop).astype(np.int8)
    segment = rng.integers(0, 3, pop).astype(np.int16)
    screened = rng.random(pop) < 0.5
    stage_ok = rng.random(8) < 0.6
    ring_ok = np.array([False, True, True, False])
    reach = rng.random(3)
    cand = np.sort(rng.choice(pop, size=n, replace=False)).astype(np.int64)
    want_plain = np.where(stage_ok[stage[cand]], reach[segment[cand]], 0.0)
    ok = stage_ok[stage[cand]] & ring_ok[ring[cand]]
    want_ring = np.where(ok, reach[segment[cand]], 0.0)
    want_all = np.where(ok & screened[cand], reach[segment[cand]], 0.0)
    before = kernels.threads()
    try:
        for threads in (1, 2):
            kernels.set_threads(threads)
            got = kernels.gated_probs(cand, stage, stage_ok, segment, reach)
            assert got.tobytes() == want_plain.tobytes()
            got = kernels.gated_probs(cand, stage, stage_ok, segment, reach, ring, ring_ok)
            assert got.tobytes() == want_ring.tobytes()
            got = kernels.gated_probs(cand, stage, stage_ok, segment, reach, ring, ring_ok,
                                      screened)
            assert got.tobytes() == want_all.tobytes()
    finally:
        kernels.set_threads(before)
    assert n < 2 or want_all.any()  # the gates let some through and stop others
    assert n < 2 or (want_all == 0).any()
