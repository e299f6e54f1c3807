"""The day's population kernels give numpy's answer on any thread count and at every edge
size (issue 14): empty, one customer, a chunk ± 1, a block ± 1 and several blocks, with no,
few, many and all hits. ``PARALLEL_MIN_WORK`` is lowered to 0 so that the parallel twins
run; 16 threads run in a fresh process (numba's pool is sized at import).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simulation import kernels

REPO = Path(__file__).resolve().parents[1]
B = kernels.BLOCK_SIZE
C = kernels.SCAN_CHUNK
SIZES = (0, 1, C - 1, C, C + 1, B - 1, B, B + 1, 2 * B + C + 3)
RATES = (0.0, 0.003, 0.3, 1.0)


def _check_scans(n: int, rate: float, seed: int) -> None:
    """Every scan against numpy for one size and hit rate (raises AssertionError)."""
    rng = np.random.default_rng(seed)
    hit = rng.random(n) < rate
    stage = np.where(hit, 5, rng.integers(0, 5, n)).astype(np.int8)
    stage[rng.random(n) < rate / 2] = 6
    assert np.array_equal(kernels.where_equal(stage, np.int8(5)), np.flatnonzero(stage == 5))
    one, two = kernels.where_equal_pair(stage, np.int8(5), np.int8(6))
    assert np.array_equal(one, np.flatnonzero(stage == 5))
    assert np.array_equal(two, np.flatnonzero(stage == 6))
    group = np.where(hit, rng.integers(0, 9, n), -1).astype(np.int32)
    assert np.array_equal(kernels.where_at_least(group, np.int32(0)), np.flatnonzero(group >= 0))
    assert kernels.count_at_least(group, 1) == np.count_nonzero(group >= 1)
    prev, ring = stage.copy(), rng.integers(0, 4, n).astype(np.int8)
    prev_ring = ring.copy()
    prev[hit] = 0
    prev_ring[rng.random(n) < rate / 3] = 3
    assert np.array_equal(
        kernels.changed_slots(stage, prev, ring, prev_ring),
        np.flatnonzero((stage != prev) | (ring != prev_ring)),
    )
    want = (stage >= 3) & (stage <= 5)
    yesterday = want.copy()
    flip = rng.random(n) < rate
    yesterday[flip] = ~yesterday[flip]
    adv = yesterday.copy()
    now, changed, sign = kernels.advocate_changes(stage, adv, 3, 5)
    assert now is adv and np.array_equal(now, want)  # updated in place
    assert np.array_equal(changed, np.flatnonzero(want != yesterday))
    assert sign.dtype == np.int32
    assert np.array_equal(sign, np.where(want[changed], 1, -1).astype(np.int32))


@pytest.mark.parametrize("threads", [1, 2])
def test_scans_equal_numpy_at_every_edge_size(parallel_always, threads) -> None:
    kernels.set_threads(threads)
    for n in SIZES:
        for rate in RATES:
            _check_scans(n, rate, n + int(rate * 1000))


def test_scans_equal_numpy_on_sixteen_threads() -> None:
    """numba's pool forced to 16 threads in a fresh process, every twin parallel."""
    code = (
        "import sys; sys.path.insert(0, 'tests'); import test_day_kernels as t; "
        "from simulation import kernels; kernels.set_threads(16); "
        "assert kernels.threads() == 16; "
        "[t._check_scans(n, r, n) for n in t.SIZES for r in t.RATES]; print('ok')"
    )
    env = {**os.environ, "NUMBA_NUM_THREADS": "16", "OPMATRIX_PARALLEL_MIN_WORK": "0"}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"


@pytest.mark.parametrize("threads", [1, 2])
def test_one_segment_accrual_adds_in_the_same_order(parallel_always, threads) -> None:
    """With one segment the running sum is a local, not ``part[0]``: the same adds in the
    same order as the per-segment path (checked by giving that path a second, empty
    segment), block partials added in block order; a float32 daily value gives the bits of
    its float64 copy."""
    kernels.set_threads(threads)
    for n in (0, 1, B - 1, B + 1, 3 * B + 5):
        rng = np.random.default_rng(n)
        stage = rng.integers(0, 8, n).astype(np.int8)
        daily32 = (rng.random(n) * 90).astype(np.float32) / np.float32(30.4375)
        daily64 = daily32.astype(np.float64)
        segment = np.zeros(n, dtype=np.int16)
        weight = rng.integers(1, 4, n).astype(np.float64)
        for unit in (True, False):
            w = np.ones(n) if unit else weight
            v1, v2, v3 = np.zeros(n), np.zeros(n), np.zeros(n)
            s1 = kernels.accrue_value(stage, 3, 6, daily32, segment, w, v1, 1, unit)
            s2 = kernels.accrue_value(stage, 3, 6, daily64, segment, w, v2, 2, unit)
            s3 = kernels.accrue_value(stage, 3, 6, daily64, segment, w, v3, 1, unit)
            assert s1.tobytes() == s2[:1].tobytes() == s3.tobytes() and s2[1] == 0.0
            assert v1.tobytes() == v2.tobytes() == v3.tobytes()
            # numpy's reference: each block summed left to right, blocks added in order
            v = np.where((stage >= 3) & (stage <= 6), daily64, 0.0) * w
            total = 0.0
            for lo in range(0, n, B):
                part = 0.0
                for x in v[lo:lo + B]:
                    part += x
                total += part
            assert s1[0] == total


def _lattice(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A ring lattice of 6 ties a customer with 10 % of the ties rewired anywhere (CSR)."""
    rows = np.repeat(np.arange(n), 6)
    cols = (rows + np.tile(np.array([-3, -2, -1, 1, 2, 3]), n)) % max(n, 1)
    rewired = rng.random(cols.size) < 0.1
    cols[rewired] = rng.integers(0, max(n, 1), int(rewired.sum()))
    order = np.lexsort((cols, rows))
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(indptr, rows + 1, 1)
    return np.cumsum(indptr), cols[order].astype(np.int32)


@pytest.mark.parametrize("threads", [1, 2])
def test_scatter_add_equals_numpy_across_blocks(parallel_always, threads) -> None:
    """Word of mouth's ±1 to the ties of changed customers: the block-parallel path (ties
    inside a block added by its thread, the others after) gives numpy's ``add.at``."""
    kernels.set_threads(threads)
    rng = np.random.default_rng(threads)
    for n in (1, B - 1, B + 1, 3 * B + 7):
        indptr, indices = _lattice(n, rng)
        for rate in (0.0, 0.01, 0.5, 1.0):
            changed = np.flatnonzero(rng.random(n) < rate)
            sign = np.where(rng.random(changed.size) < 0.5, 1, -1).astype(np.int32)
            counts = rng.integers(0, 5, n).astype(np.int32)
            want = counts.copy()
            ties = [np.arange(indptr[i], indptr[i + 1]) for i in changed]
            edge = np.concatenate(ties) if ties else np.empty(0, dtype=np.int64)
            np.add.at(want, indices[edge], np.repeat(sign, np.diff(indptr)[changed]))
            kernels.scatter_add(counts, indptr, indices, changed, sign)
            assert np.array_equal(counts, want)


@pytest.mark.parametrize("threads", [1, 2])
def test_recorder_recount_equals_bincounts(parallel_always, threads) -> None:
    """The recorder's fused recount: today's cells − yesterday's cells of the changed rows
    (one customer a row, or whole-number weights), yesterday's copies brought up to today."""
    from simulation.population.stages import N_STAGES

    kernels.set_threads(threads)
    rng = np.random.default_rng(threads)
    size = 3 * N_STAGES * 4
    for n in (0, 1, C + 1, B - 1, B + 1, 3 * B + 7):
        for weight in (None, rng.integers(1, 5, n).astype(np.float64)):
            seg = rng.integers(0, 3, n).astype(np.int16)
            stage = rng.integers(0, N_STAGES, n).astype(np.int8)
            ring = rng.integers(0, 4, n).astype(np.int8)
            prev, prev_ring = stage.copy(), ring.copy()
            prev[rng.random(n) < 0.05] = 1
            prev_ring[rng.random(n) < 0.02] = 0

            today = (seg.astype(np.int64) * N_STAGES + stage) * 4 + ring
            before = (seg.astype(np.int64) * N_STAGES + prev) * 4 + prev_ring
            want = np.rint(np.bincount(today, weights=weight, minlength=size)
                           - np.bincount(before, weights=weight, minlength=size))
            got = kernels.recount_changed(seg, stage, prev, ring, prev_ring, weight, N_STAGES,
                                          4, 3)
            assert got.dtype == np.int64 and np.array_equal(got, want.astype(np.int64))
            assert np.array_equal(prev, stage) and np.array_equal(prev_ring, ring)


# sizes for the kernels over a candidate or winner list (blocks of BLOCK_SIZE positions)
LIST_SIZES = (0, 1, C - 1, C, C + 1, B - 1, B, B + 1, 2 * B + C + 3)


@pytest.mark.parametrize("threads", [1, 2])
def test_max_nonnegative_equals_numpy(parallel_always, threads) -> None:
    """The lifecycle's thinning bound: the integer maximum of the bit patterns is numpy's
    float maximum for non-negative floats (float32 and float64), NaN stays NaN, and arrays
    with negatives or strides take numpy's own path."""
    kernels.set_threads(threads)
    rng = np.random.default_rng(threads)
    for n in SIZES[1:]:
        for dt in (np.float32, np.float64):
            a = (rng.random(n) * 0.01).astype(dt)
            a[rng.random(n) < 0.2] = 0.0
            assert kernels.max_nonnegative(a) == float(a.max())
            a[-1] = 1.0
            assert kernels.max_nonnegative(a) == 1.0
            a[rng.integers(0, n)] = np.nan
            assert np.isnan(kernels.max_nonnegative(a))
            neg = -rng.random(n).astype(dt)
            assert kernels.max_nonnegative(neg) == float(neg.max())
            zeros = np.zeros(n, dtype=dt)
            assert kernels.max_nonnegative(zeros) == 0.0
            view = a[::2]
            view[:] = rng.random(view.size)
            assert kernels.max_nonnegative(view) == float(view.max())
    with pytest.raises(ValueError):
        kernels.max_nonnegative(np.empty(0, dtype=np.float32))


@pytest.mark.parametrize("threads", [1, 2])
def test_thin_keep_equals_numpy(parallel_always, threads) -> None:
    """The thinning's keep step: ``cand[uniform_at(key, cand) * p_max < p]``, float32 or
    float64 probabilities, none / some / all kept, at every edge size."""
    kernels.set_threads(threads)
    rng = np.random.default_rng(threads)
    for n in LIST_SIZES:
        cand = np.sort(rng.choice(10 * n + 1, n, replace=False)).astype(np.int64)
        for dt in (np.float32, np.float64):
            for p_max in (1.0, 0.25, 1e-3):
                p = (rng.random(n) * p_max).astype(dt)
                p[rng.random(n) < 0.3] = 0.0
                key = int(rng.integers(0, 2**63))
                want = cand[kernels.uniform_at(key, cand) * p_max < p]
                got = kernels.thin_keep(key, cand, p, p_max)
                assert got.dtype == np.int64 and np.array_equal(got, want)
        assert np.array_equal(kernels.thin_keep(7, cand, np.full(n, 2.0), 1.0), cand)


@pytest.mark.parametrize("threads", [1, 2])
def test_convert_slots_equals_draw_rings_and_numpy(parallel_always, threads) -> None:
    """model.convert's fused pass writes what Lifecycle.draw_rings (gone now) + PopulationState's
    fancy-index writes did: the same ring per slot (its uniform against its segment's
    cumulative shares), day, source and first aware day; counts customers past prospects."""
    from simulation.population.state import RING_CODES

    kernels.set_threads(threads)
    rng = np.random.default_rng(threads)
    shares = np.array([[0.5, 0.3, 0.2], [1.0, 0.0, 0.0], [0.1, 0.1, 0.8]])
    cum = np.ascontiguousarray(np.cumsum(shares, axis=1)[:, :-1])
    for m in LIST_SIZES:
        n = 3 * m + 5
        idx = np.sort(rng.choice(n, m, replace=False)).astype(np.int64)
        seg = rng.integers(0, 3, n).astype(np.int16)
        stage = rng.integers(0, 4, n).astype(np.int8)
        day_a = np.where(rng.random(n) < 0.5, -1, 3).astype(np.int32)
        arrays = [stage, np.zeros(n, np.int32), np.full(n, -1, np.int16), np.zeros(n, np.int8),
                  day_a]
        want = [a.copy() for a in arrays]
        key = int(rng.integers(0, 2**63))
        u = kernels.uniform_at(key, idx)
        ring = RING_CODES[(u[:, None] > np.cumsum(shares[seg[idx]], axis=1)[:, :-1]).sum(1)]
        want[0][idx] = 4
        want[1][idx] = 9
        want[2][idx] = 2
        want[3][idx] = ring
        first = want[4][idx] < 0
        want[4][idx[first]] = 9
        bad = kernels.convert_slots(idx, key, seg, cum, RING_CODES, *arrays, 9, 2, 4, 3)
        assert bad == 0
        for got, exp in zip(arrays, want, strict=True):
            assert np.array_equal(got, exp)
        if m:
            assert kernels.convert_slots(idx, key, seg, cum, RING_CODES, *arrays, 9, 2, 4,
                                         3) == m  # every one of them is converted by now


@pytest.mark.parametrize("threads", [1, 2])
def test_wom_adopt_equals_numpy_thinning(parallel_always, threads) -> None:
    """Word of mouth's fused keep: numpy's hazard (``np.where`` over the candidates) and the
    thinning's ``uniform × p_max < hazard``, integer and weighted tie counts, every edge size."""
    kernels.set_threads(threads)
    rng = np.random.default_rng(threads)
    for m in LIST_SIZES:
        n = 2 * m + 3
        cand = np.sort(rng.choice(n, m, replace=False)).astype(np.int64)
        stage = rng.integers(0, 6, n).astype(np.int8)
        inv_degree = 1.0 / rng.integers(1, 12, n)
        for counts in (rng.integers(0, 12, n).astype(np.int32), rng.random(n) * 6):
            h = np.where(stage[cand] <= 2, 0.3 * counts[cand] * inv_degree[cand], 0.0)
            key = int(rng.integers(0, 2**63))
            want = cand[kernels.uniform_at(key, cand) * 0.3 < h]
            got = kernels.wom_adopt(cand, counts, inv_degree, stage, 0.3, 2, key, 0.3)
            assert got.dtype == np.int64 and np.array_equal(got, want)


@pytest.mark.parametrize("threads", [1, 2])
def test_lapse_active_equals_numpy_thinning(parallel_always, threads) -> None:
    """The lifecycle's fused lapse: numpy's ``np.where(stage == active, hazard × ring
    multiplier, 0)`` (float32 or float64 hazards), the thinning's keep and the write."""
    kernels.set_threads(threads)
    rng = np.random.default_rng(threads)
    ring_mult = np.array([1.0, 0.7, 1.3, 2.0], dtype=np.float32)
    for m in LIST_SIZES:
        n = 2 * m + 3
        cand = np.sort(rng.choice(n, m, replace=False)).astype(np.int64)
        ring = rng.integers(0, 4, n).astype(np.int8)
        for dt in (np.float32, np.float64):
            hazard = (rng.random(n) * 0.4).astype(dt)
            stage = rng.integers(2, 6, n).astype(np.int8)
            key = int(rng.integers(0, 2**63))
            p = np.where(stage[cand] == 3, hazard[cand] * ring_mult[ring[cand]], 0.0)
            want = stage.copy()
            want[cand[kernels.uniform_at(key, cand) * 0.5 < p]] = 4
            kernels.lapse_active(cand, hazard, ring, ring_mult, stage, 3, 4, key, 0.5)
            assert np.array_equal(stage, want)


@pytest.mark.parametrize("threads", [1, 2])
def test_to_float32_equals_astype(parallel_always, threads) -> None:
    """The money layer's value snapshot: numpy's float64 → float32 cast bit for bit (ties
    to even, overflow to inf, subnormals, NaN)."""
    kernels.set_threads(threads)
    rng = np.random.default_rng(threads)
    for n in SIZES:
        a = rng.random(n) * 10.0 ** rng.integers(-45, 45, n)
        a[rng.random(n) < 0.01] = np.nan
        a[rng.random(n) < 0.01] = -np.inf
        with np.errstate(over="ignore"):  # numpy warns of the overflow to inf it makes
            got = kernels.to_float32(a)  # (numpy's cast itself on one thread)
            want = a.astype(np.float32)
        assert got.dtype == np.float32 and got.tobytes() == want.tobytes()
