"""Block-parallel passes over the population for result time (issue 14: at 10M customers the
KPIs took ~1.5 CPU-s, most of it numpy copies of population-length arrays through boolean
masks).

Every kernel here returns exact integers (counts, ranks), block by block of
:data:`simulation.kernels.BLOCK_SIZE` customers and added in block order, so the results are
the same for any thread count and the same as the numpy expressions they replace: the float
sums that use them (simulation/accounting.py, simulation/money/lifetime.py) are still numpy's
own sums over the same arrays, so no KPI's bits move.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from simulation.kernels import BLOCK_SIZE, _parallel, _twins, sum_blocks

#: Columns of :func:`population_counts`' result.
COUNT_FIELDS = (
    "customers", "acquisitions", "prospects", "stock", "active", "at_risk", "dormant", "churned",
)
_N_FIXED = len(COUNT_FIELDS)


@nb.njit(cache=True, nogil=True)
def _zeros(n):  # pragma: no cover - compiled
    """Allocations outside the parallel functions (inside one, ``np.zeros`` is a parallel
    loop that wakes the thread pool)."""
    return np.zeros(n, dtype=np.int64)


@nb.njit(cache=True, nogil=True)
def _zeros2(n, m):  # pragma: no cover - compiled
    return np.zeros((n, m), dtype=np.int64)


@nb.njit(cache=True, nogil=True)
def _minus_ones(n):  # pragma: no cover - compiled
    return np.full(n, -1, dtype=np.int64)


@nb.njit(cache=True, nogil=True)
def _count_block(conv, churn, stage, mask, lo, hi, horizon, ret_days):  # pragma: no cover
    """One block's counts (see :func:`population_counts`): scalar accumulators in the loop
    and a block-local array for the cohorts (an inlined loop writing into the shared result
    ran 3x slower on one thread and 15x on two, measured at 10M)."""
    use_mask = mask.shape[0] > 0
    nd = ret_days.shape[0]
    out = np.zeros(_N_FIXED + 2 * nd, dtype=np.int64)
    n = acq = prospects = stock = active = at_risk = dormant = churned = 0
    for i in range(lo, hi):
        if use_mask and not mask[i]:
            continue
        c0 = conv[i]
        st = stage[i]
        n += 1
        acq += c0 >= 1
        prospects += c0 != 0
        stock += c0 == 0
        active += (st == 3) | (st == 4)  # StageCode.CONVERTED, ACTIVE
        at_risk += st == 5  # AT_RISK
        dormant += st == 6  # DORMANT
        churned += st == 7  # CHURNED
        if c0 >= 0:
            ch = churn[i]
            for j in range(nd):
                d = ret_days[j]
                if c0 <= horizon - d:
                    out[_N_FIXED + j] += 1
                    out[_N_FIXED + nd + j] += (ch < 0) | (ch - c0 > d)
    out[0] += n
    out[1] += acq
    out[2] += prospects
    out[3] += stock
    out[4] += active
    out[5] += at_risk
    out[6] += dormant
    out[7] += churned
    return out


def _counts_py(conv, churn, stage, mask, horizon, ret_days, block):  # pragma: no cover
    n = conv.shape[0]
    n_blocks = (n + block - 1) // block
    width = _N_FIXED + 2 * ret_days.shape[0]
    parts = _zeros2(n_blocks, width)
    for b in nb.prange(n_blocks):
        lo = b * block
        part = _count_block(conv, churn, stage, mask, lo, min(n, lo + block), horizon,
                            ret_days)
        for k in range(width):
            parts[b, k] = part[k]
    # summed outside: in a parallel function every array expression is a parallel loop of
    # its own, and 150 tiny ones woke the thread pool 150 times (10M: 20 -> 600 ms)
    return sum_blocks(parts)


_counts = _twins(_counts_py)


def population_counts(
    converted_day: np.ndarray,
    churned_day: np.ndarray,
    stage: np.ndarray,
    mask: np.ndarray | None,
    horizon: int,
    retention_days: tuple[int, ...],
) -> tuple[dict[str, int], list[tuple[int, int]]]:
    """Row counts of the customers in ``mask`` (all when None) in one pass: the
    :data:`COUNT_FIELDS` (acquisitions = converted on day ≥ 1, prospects = not converted on
    day 0, stock = converted on day 0, active = converted or active, …) and, for each ``d``
    of ``retention_days``, (cohort, kept) of :func:`simulation.accounting.retention`'s
    definition (converted ≥ ``d`` days before ``horizon``; not churned ``d`` days on)."""
    m = np.empty(0, dtype=np.bool_) if mask is None else mask
    days = np.asarray(retention_days, dtype=np.int64)
    total = _counts[_parallel(converted_day.shape[0])](
        converted_day, churned_day, stage, m, int(horizon), days, BLOCK_SIZE
    )
    fixed = {name: int(total[k]) for k, name in enumerate(COUNT_FIELDS)}
    nd = days.size
    ret = [(int(total[_N_FIXED + j]), int(total[_N_FIXED + nd + j])) for j in range(nd)]
    return fixed, ret


@nb.njit(cache=True, nogil=True)
def _zeros2f(n, m):  # pragma: no cover - compiled
    return np.zeros((n, m), dtype=np.float64)


@nb.njit(cache=True, nogil=True)
def _cells_block(segment, stage, ring, weight, lo, hi, n_stages, n_rings, size):
    """One block's (segment, stage, ring) cell totals (row counts, or weights when given)."""
    out = np.zeros(size, dtype=np.float64)
    use_w = weight.shape[0] > 0
    for i in range(lo, hi):
        cell = (np.int64(segment[i]) * n_stages + stage[i]) * n_rings + ring[i]
        out[cell] += weight[i] if use_w else 1.0
    return out


def _cells_py(segment, stage, ring, weight, n_stages, n_rings, size, block):  # pragma: no cover
    n = segment.shape[0]
    n_blocks = (n + block - 1) // block
    parts = _zeros2f(n_blocks, size)
    for b in nb.prange(n_blocks):
        lo = b * block
        part = _cells_block(segment, stage, ring, weight, lo, min(n, lo + block), n_stages,
                            n_rings, size)
        for k in range(size):
            parts[b, k] = part[k]
    return sum_blocks(parts)


_cells = _twins(_cells_py)


def cell_counts(
    segment: np.ndarray, stage: np.ndarray, ring: np.ndarray, weight: np.ndarray | None,
    n_stages: int, n_rings: int, n_segments: int,
) -> np.ndarray:
    """Customers per (segment, stage, ring) cell, flat (int64): row counts, or the sums of
    whole-number ``weight`` (the caller checks they are whole). Block partial sums in block
    order; every partial sum is a whole number below 2**53, so exact: the same integers as
    ``np.bincount`` of the cell codes (with ``weights``, then rounded) gives."""
    size = n_segments * n_stages * n_rings
    w = np.empty(0, dtype=np.float64) if weight is None else weight
    total = _cells[_parallel(segment.shape[0])](segment, stage, ring, w, n_stages, n_rings,
                                                size, BLOCK_SIZE)
    return np.rint(total).astype(np.int64)


@nb.njit(cache=True, nogil=True)
def _is_alive(conv, stage, i):  # pragma: no cover - compiled
    return (conv[i] >= 0) & (stage[i] != 7)  # won, and not StageCode.CHURNED


def _alive_counts_py(conv, stage, block):  # pragma: no cover - compiled
    n = conv.shape[0]
    counts = _zeros((n + block - 1) // block)
    for b in nb.prange(counts.shape[0]):
        lo = b * block
        k = 0
        for i in range(lo, min(n, lo + block)):
            k += _is_alive(conv, stage, i)
        counts[b] = k
    return counts


def _alive_fill_py(conv, stage, starts, out, block):  # pragma: no cover - compiled
    n = conv.shape[0]
    for b in nb.prange(starts.shape[0]):
        k = starts[b]
        for i in range(b * block, min(n, (b + 1) * block)):
            if _is_alive(conv, stage, i):
                out[k] = i
                k += 1


_alive_counts = _twins(_alive_counts_py)
_alive_fill = _twins(_alive_fill_py)


def alive_rows(converted_day: np.ndarray, stage: np.ndarray) -> np.ndarray:
    """Sorted rows of the customers won and not churned (``converted_day >= 0`` and stage not
    churned): ``np.flatnonzero`` of that mask, in two block-parallel passes, without the three
    population-length temporaries."""
    twin = _parallel(converted_day.shape[0])
    counts = _alive_counts[twin](converted_day, stage, BLOCK_SIZE)
    starts = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    out = np.empty(int(starts[-1]), dtype=np.int64)
    _alive_fill[twin](converted_day, stage, starts[:-1], out, BLOCK_SIZE)
    return out


# ------------------------------------------------------------------ sums of sparse selections

#: numpy's pairwise summation (numpy/_core/src/umath/loops_utils.h.src, ``pairwise_sum``):
#: below 8 elements a plain loop, up to this many eight accumulators, above it the halves.
_PW_BLOCK = 128
#: Subtrees of the pairwise tree at most this long are summed by one thread each
#: (:func:`sparse_sum`); the levels above them are added in Python, in the tree's order.
_PW_CUT = 1 << 16


@nb.njit(cache=True, nogil=True)
def _pw_sparse(pos, val, lo, n, j0, j1, r):  # pragma: no cover - compiled
    """numpy's pairwise sum of the ``n`` elements from ``lo`` of an array that is zero except
    ``val[j]`` at ``pos[j]`` (``j0 <= j < j1``: the entries inside, sorted): the same
    additions in the same order, skipping the zeros' (``x + 0.0`` is ``x``, so only the sign
    of a zero result can differ, and the final ``0.0 +`` of numpy's reduction removes that).
    ``r``: eight floats of scratch for the lanes (one allocation per subtree, not per leaf)."""
    if j0 == j1:
        return 0.0
    if n < 8:
        res = 0.0
        for j in range(j0, j1):
            res += val[j]
        return res
    if n <= _PW_BLOCK:
        for q in range(8):
            r[q] = 0.0
        m = lo + n - n % 8  # the eight lanes run to here, the rest is added one by one
        j = j0
        while j < j1 and pos[j] < m:
            r[(pos[j] - lo) % 8] += val[j]
            j += 1
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while j < j1:
            res += val[j]
            j += 1
        return res
    n2 = n // 2
    n2 -= n2 % 8
    mid = j0 + np.searchsorted(pos[j0:j1], lo + n2)
    left = _pw_sparse(pos, val, lo, n2, j0, mid, r)
    return left + _pw_sparse(pos, val, lo + n2, n - n2, mid, j1, r)


@nb.njit(cache=True, nogil=True)
def _lanes():  # pragma: no cover - compiled
    return np.zeros(8, dtype=np.float64)


def _pw_leaves_py(pos, val, leaf_lo, leaf_n, first, out):  # pragma: no cover - compiled
    for b in nb.prange(leaf_lo.shape[0]):
        r = _lanes()
        out[b] = _pw_sparse(pos, val, leaf_lo[b], leaf_n[b], first[b], first[b + 1], r)


_pw_leaves = _twins(_pw_leaves_py)


def _pw_tree(lo: int, n: int, leaves: list[tuple[int, int]]) -> list:
    """The pairwise tree's levels above :data:`_PW_CUT` as nested pairs, its subtrees of at
    most that length (in order) appended to ``leaves`` and stood for by their index."""
    if n <= _PW_CUT:
        leaves.append((lo, n))
        return [len(leaves) - 1]
    n2 = n // 2
    n2 -= n2 % 8
    return [_pw_tree(lo, n2, leaves), _pw_tree(lo + n2, n - n2, leaves)]


def _pw_add(node: list, sums: np.ndarray) -> float:
    if len(node) == 1:
        return float(sums[node[0]])
    return _pw_add(node[0], sums) + _pw_add(node[1], sums)  # float64 + float64, as numpy's


def sparse_sum(size: int, positions: np.ndarray, values: np.ndarray) -> float:
    """``float(x.sum())`` of the float64 array ``x`` of length ``size`` that is zero except
    ``values`` at ``positions`` (sorted, distinct), to the bit, without building ``x``: numpy's
    pairwise summation replayed on the non-zero entries only (:func:`_pw_sparse`), its
    subtrees of up to 65,536 elements on several threads, one thread each (so the same bits
    for any thread count), the levels above them added in the tree's order.

    Why: the lifetime KPIs are sums over a segment's population-length selection that is zero
    except at the customers alive at the horizon; filling, summing and clearing a 10M-long
    buffer per sum cost ~0.3 CPU-s of a 10M run's result time."""
    pos = np.ascontiguousarray(positions, dtype=np.int64)
    val = np.ascontiguousarray(values, dtype=np.float64)
    if size <= 0 or pos.size == 0:
        return 0.0
    leaves: list[tuple[int, int]] = []
    tree = _pw_tree(0, int(size), leaves)
    leaf_lo = np.array([lo for lo, _ in leaves], dtype=np.int64)
    leaf_n = np.array([n for _, n in leaves], dtype=np.int64)
    first = np.searchsorted(pos, np.append(leaf_lo, size)).astype(np.int64)
    sums = np.empty(len(leaves), dtype=np.float64)
    _pw_leaves[_parallel(pos.size)](pos, val, leaf_lo, leaf_n, first, sums)
    return 0.0 + _pw_add(tree, sums)  # numpy's reduction starts from the identity 0.0


# ------------------------------------------------------------- ranks in every segment at once

def _seg_block_counts_py(segment, conv, n_segments, block):  # pragma: no cover - compiled
    """Per block and segment: its rows, and its rows converted on day >= 1."""
    n = segment.shape[0]
    n_blocks = (n + block - 1) // block
    counts = _zeros2(n_blocks, 2 * n_segments)
    for b in nb.prange(n_blocks):
        for i in range(b * block, min(n, (b + 1) * block)):
            s = segment[i]
            counts[b, s] += 1
            counts[b, n_segments + s] += conv[i] >= 1
    return counts


@nb.njit(cache=True, nogil=True)
def _copy_row(a, b):  # pragma: no cover - compiled
    return a[b].copy()


def _seg_ranks_py(segment, conv, n_segments, rows, first, starts, rank_seg, rank_acq_seg,
                  rank_acq, block):  # pragma: no cover - compiled
    """Block ``b`` walks from its first customer to each of its rows, counting per segment
    from ``starts[b]`` (the rows of the blocks before it: per segment, then acquired per
    segment, then acquired in all)."""
    for b in nb.prange(first.shape[0] - 1):
        k = _copy_row(starts, b)
        i = b * block
        for j in range(first[b], first[b + 1]):
            r = rows[j]
            while i < r:
                s = segment[i]
                k[s] += 1
                if conv[i] >= 1:
                    k[n_segments + s] += 1
                    k[2 * n_segments] += 1
                i += 1
            s = segment[r]
            rank_seg[j] = k[s]
            if conv[r] >= 1:
                rank_acq_seg[j] = k[n_segments + s]
                rank_acq[j] = k[2 * n_segments]


_seg_block_counts = _twins(_seg_block_counts_py)
_seg_ranks = _twins(_seg_ranks_py)


def segment_ranks(
    segment: np.ndarray, converted_day: np.ndarray, n_segments: int, rows: np.ndarray
) -> dict[str, np.ndarray]:
    """Where rows sit in every selection :func:`simulation.money.lifetime.lifetime_kpis` sums
    over, in two block-parallel passes for all segments (before: two per segment): for
    each of the sorted population ``rows``, its position among its segment's rows
    (``seg``), among its segment's acquired rows (``acq_seg``, -1 when not acquired) and
    among all acquired rows (``acq``, -1 likewise), all in population order; and the sizes
    (``seg_size``, ``acq_seg_size`` per segment, ``acq_size``).

    Position ``p`` of row ``r`` is where ``r`` lands in ``x[selection]`` for any
    population-length ``x``: so an array of the selection's length with values at these
    positions and zeros elsewhere *is* that boolean compress of a zero-filled population
    array, without building the population array."""
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    twin = _parallel(segment.shape[0])
    counts = _seg_block_counts[twin](segment, converted_day, int(n_segments), BLOCK_SIZE)
    n_blocks = counts.shape[0]
    starts = np.zeros((n_blocks + 1, 2 * n_segments + 1), dtype=np.int64)
    np.cumsum(counts, axis=0, out=starts[1:, : 2 * n_segments])
    np.cumsum(counts[:, n_segments:].sum(axis=1), out=starts[1:, 2 * n_segments])
    first = np.searchsorted(rows, np.arange(n_blocks + 1, dtype=np.int64) * BLOCK_SIZE)
    rank_seg = np.empty(rows.size, dtype=np.int64)
    rank_acq_seg = np.full(rows.size, -1, dtype=np.int64)
    rank_acq = np.full(rows.size, -1, dtype=np.int64)
    _seg_ranks[twin](segment, converted_day, int(n_segments), rows, first.astype(np.int64),
                     starts, rank_seg, rank_acq_seg, rank_acq, BLOCK_SIZE)
    return {
        "seg": rank_seg, "acq_seg": rank_acq_seg, "acq": rank_acq,
        "seg_size": starts[-1, :n_segments].copy(),
        "acq_seg_size": starts[-1, n_segments: 2 * n_segments].copy(),
        "acq_size": np.array(starts[-1, 2 * n_segments]),
    }
