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


@nb.njit(cache=True, nogil=True, inline="always")
def _selected(segment, s, conv, acquired_only, i):
    """Row ``i`` is in the selection: segment ``s`` (any when ``s < 0``), and converted on
    day ≥ 1 when ``acquired_only``."""
    return (s < 0 or segment[i] == s) and (not acquired_only or conv[i] >= 1)


def _block_selected_py(segment, s, conv, acquired_only, block):  # pragma: no cover
    """Rows of each block in the selection (see :func:`_selected`)."""
    n = segment.shape[0]
    counts = _zeros((n + block - 1) // block)
    for b in nb.prange(counts.shape[0]):
        lo = b * block
        k = 0
        for i in range(lo, min(n, lo + block)):
            k += _selected(segment, s, conv, acquired_only, i)
        counts[b] = k
    return counts


def _rank_rows_py(segment, s, conv, acquired_only, rows, first, starts, block):
    """Each row's position in the selection (-1 outside it): block ``b`` walks from its first
    customer to each of its rows ``rows[first[b]:first[b + 1]]``, counting from ``starts[b]``
    (the selected rows of the blocks before it)."""
    rank = _minus_ones(rows.shape[0])
    for b in nb.prange(starts.shape[0]):
        k = starts[b]
        i = b * block
        for j in range(first[b], first[b + 1]):
            r = rows[j]
            while i < r:
                k += _selected(segment, s, conv, acquired_only, i)
                i += 1
            if _selected(segment, s, conv, acquired_only, r):
                rank[j] = k
    return rank


_block_selected = _twins(_block_selected_py)
_rank_rows = _twins(_rank_rows_py)


def selection_ranks(
    segment: np.ndarray, s: int | None, converted_day: np.ndarray, acquired_only: bool,
    rows: np.ndarray,
) -> tuple[np.ndarray, int]:
    """For sorted population ``rows``: each one's position in the selection (segment ``s``,
    all when None; converted on day ≥ 1 when ``acquired_only``) taken in population order,
    or -1 when it is not in it, and the selection's size. Position ``p`` of row ``r`` is where
    ``r`` lands in ``x[selection]`` for any population-length ``x``: so an array of the
    selection's length with values at these positions and zeros elsewhere *is* that boolean
    compress of a zero-filled population array, without building the population array."""
    code, acq = -1 if s is None else int(s), bool(acquired_only)
    twin = _parallel(segment.shape[0])
    counts = _block_selected[twin](segment, code, converted_day, acq, BLOCK_SIZE)
    starts = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    first = np.searchsorted(rows, np.arange(counts.size + 1, dtype=np.int64) * BLOCK_SIZE)
    rank = _rank_rows[twin](segment, code, converted_day, acq, rows, first, starts[:-1],
                            BLOCK_SIZE)
    return rank, int(starts[-1])


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
