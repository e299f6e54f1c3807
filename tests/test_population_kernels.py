"""Result-time population passes (simulation/population/kernels.py): the same integers as the
numpy masks they replace, on 1 and 2 threads and across block edges."""

from __future__ import annotations

import numpy as np
import pytest

from simulation import kernels
from simulation.population.kernels import (
    COUNT_FIELDS,
    alive_rows,
    cell_counts,
    population_counts,
    segment_ranks,
    sparse_sum,
)

N = 2 * kernels.BLOCK_SIZE + 4321


@pytest.fixture(params=[1, 2], ids=["1 thread", "2 threads"])
def threads(request, monkeypatch):
    monkeypatch.setattr(kernels, "PARALLEL_MIN_WORK", 0)  # drive the parallel twins
    before = kernels.threads()
    kernels.set_threads(request.param)
    yield request.param
    kernels.set_threads(before)


@pytest.fixture(scope="module")
def pop():
    rng = np.random.default_rng(7)
    conv = np.where(rng.random(N) < 0.4, rng.integers(0, 200, N), -1).astype(np.int32)
    churn = np.where((conv >= 0) & (rng.random(N) < 0.3), conv + rng.integers(0, 150, N), -1)
    return {
        "segment": rng.integers(0, 4, N).astype(np.int16),
        "conv": conv,
        "churn": churn.astype(np.int32),
        "stage": rng.integers(0, 8, N).astype(np.int8),
    }


@pytest.mark.parametrize("segment", [None, 2])
def test_population_counts_equal_the_masks(pop, threads, segment) -> None:
    mask = None if segment is None else pop["segment"] == segment
    sel = np.ones(N, dtype=bool) if mask is None else mask
    conv, churn, stage = pop["conv"][sel], pop["churn"][sel], pop["stage"][sel]
    counts, cohorts = population_counts(pop["conv"], pop["churn"], pop["stage"], mask, 190,
                                        (30, 90, 180))
    assert list(counts) == list(COUNT_FIELDS)
    assert counts == {
        "customers": int(sel.sum()),
        "acquisitions": int((conv >= 1).sum()),
        "prospects": int((conv != 0).sum()),
        "stock": int((conv == 0).sum()),
        "active": int(((stage == 3) | (stage == 4)).sum()),
        "at_risk": int((stage == 5).sum()),
        "dormant": int((stage == 6).sum()),
        "churned": int((stage == 7).sum()),
    }
    for d, (cohort, kept) in zip((30, 90, 180), cohorts, strict=True):
        c = (conv >= 0) & (conv <= 190 - d)
        k = (churn[c] < 0) | (churn[c] - conv[c] > d)
        assert (cohort, kept) == (int(c.sum()), int(k.sum()))
        assert kept / cohort == float(k.mean())  # the float retention_{d}d was


@pytest.mark.parametrize(("segment", "acquired"), [(None, True), (1, False), (3, False),
                                                   (1, True), (3, True)])
def test_segment_ranks_are_the_boolean_compress_positions(pop, threads, segment,
                                                          acquired) -> None:
    rows = np.sort(np.random.default_rng(1).choice(N, 9000, replace=False))
    sel = np.ones(N, dtype=bool) if segment is None else pop["segment"] == segment
    if acquired:
        sel &= pop["conv"] >= 1
    ranks = segment_ranks(pop["segment"], pop["conv"], 4, rows)
    if segment is None:
        rank, size = ranks["acq"], int(ranks["acq_size"])
    else:
        mine = pop["segment"][rows] == segment
        rows = rows[mine]
        key = "acq_seg" if acquired else "seg"
        rank, size = ranks[key][mine], int(ranks[f"{key}_size"][segment])
    assert size == int(sel.sum())
    # a zero-filled population array with values at ``rows``, compressed by the selection,
    # is the selection-length array with the values at ``rank``
    values = np.arange(1, rows.size + 1, dtype=np.float64)
    full = np.zeros(N)
    full[rows] = values
    direct = np.zeros(size)
    direct[rank[rank >= 0]] = values[rank >= 0]
    assert np.array_equal(full[sel], direct)
    assert np.array_equal(rank >= 0, sel[rows])


@pytest.mark.parametrize("size", [0, 1, 7, 8, 129, 1000, kernels.BLOCK_SIZE,
                                  kernels.BLOCK_SIZE + 1, N])
@pytest.mark.parametrize("share", [0.0, 0.01, 0.5, 1.0])
def test_sparse_sum_is_numpys_sum_to_the_bit(threads, size, share) -> None:
    rng = np.random.default_rng(size)
    k = int(size * share)
    pos = np.sort(rng.choice(size, k, replace=False)) if size else np.zeros(0, np.int64)
    val = rng.standard_normal(k) * 10.0 ** rng.uniform(-6, 6, k)  # rounding on every add
    val[::5] = 0.0
    val[1::11] = -0.0
    full = np.zeros(size)
    full[pos] = val
    expected = float(full.sum())
    got = sparse_sum(size, pos, val)
    assert got == expected and np.signbit(got) == np.signbit(expected)


@pytest.mark.parametrize("weighted", [False, True])
def test_cell_counts_equal_bincount(pop, threads, weighted) -> None:
    ring = np.random.default_rng(3).integers(0, 4, N).astype(np.int8)
    w = np.random.default_rng(4).integers(1, 9, N).astype(np.float64) if weighted else None
    cells = (pop["segment"].astype(np.int64) * 8 + pop["stage"]) * 4 + ring
    expected = np.bincount(cells, weights=w, minlength=4 * 8 * 4)
    got = cell_counts(pop["segment"], pop["stage"], ring, w, 8, 4, 4)
    assert got.dtype == np.int64
    assert np.array_equal(got, np.rint(expected).astype(np.int64))


def test_alive_rows_equal_flatnonzero(pop, threads) -> None:
    expected = np.flatnonzero((pop["conv"] >= 0) & (pop["stage"] != 7))
    assert np.array_equal(alive_rows(pop["conv"], pop["stage"]), expected)
