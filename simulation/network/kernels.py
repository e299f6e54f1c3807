"""Graph kernels (numba): an edge list to CSR, and per-customer counts over the CSR rows.

Why not scipy: at 10M customers (Watts–Strogatz, k = 10) ``csr_array((data, (rows, cols)))``
+ ``sum_duplicates`` took 4.9 s and two int64 copies of the doubled edge list, and word of
mouth's first count (``adjacency @ mask``) built a float32 copy of the 100M ties before a
serial matvec (1.7 s). Here the CSR is a counting sort by row (one pass to count, one to place,
in the order scipy's COO→CSR conversion places them), then every row is sorted and its
duplicates summed on its own; the counts are one pass over each row.

Same bits as scipy, for any thread count: rows are independent, each is handled start to end
by one thread with the same sequential code, and the rows are grouped into fixed blocks of
:data:`simulation.kernels.BLOCK_SIZE` rows, never into one chunk per thread. A row's
duplicate listings are summed in listing order (scipy sorts a row with ``std::sort``, which
for rows of more than 16 entries may reorder equal columns: the sum of three or more
differently weighted listings of one tie in such a row can then differ from scipy's in the
last bit — tie lists reject duplicates within a layer, so a tie is listed at most twice,
once from the file and once generated, and a sum of two does not depend on the order).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from simulation.kernels import BLOCK_SIZE, _parallel, _twins

#: Rows this long or longer are sorted by a stable merge sort, shorter ones by insertion sort
#: (Watts–Strogatz rows hold ~k entries, a Barabási–Albert hub thousands).
_INSERTION_MAX = 32


@nb.njit(cache=True, nogil=True)
def _row_starts(n, src, dst):  # pragma: no cover - compiled
    """``indptr`` of the doubled list: each edge counts once in each of its two rows."""
    indptr = np.zeros(n + 1, dtype=np.int64)
    for e in range(src.shape[0]):
        a = src[e]
        b = dst[e]
        if a < 0 or a >= n or b < 0 or b >= n:
            raise ValueError("an edge names a customer outside 0..n-1")
        indptr[a + 1] += 1
        indptr[b + 1] += 1
    for i in range(n):
        indptr[i + 1] += indptr[i]
    return indptr


@nb.njit(cache=True, nogil=True)
def _place_weighted(indptr, src, dst, weight):  # pragma: no cover - compiled
    """Counting sort of the doubled list ``(src, dst) + (dst, src)`` by row, each row's
    entries in list order, as scipy's ``coo_tocsr`` places them: the order a row's duplicate
    listings are summed in. Serial: a parallel scatter would need per-thread row counts."""
    m = src.shape[0]
    cursor = indptr[:-1].copy()
    cols = np.empty(2 * m, dtype=np.int32)
    data = np.empty(2 * m, dtype=np.float64)
    for e in range(m):
        a = src[e]
        pos = cursor[a]
        cursor[a] = pos + 1
        cols[pos] = dst[e]
        data[pos] = weight[e]
    for e in range(m):
        b = dst[e]
        pos = cursor[b]
        cursor[b] = pos + 1
        cols[pos] = src[e]
        data[pos] = weight[e]
    return cols, data


@nb.njit(cache=True, nogil=True)
def _place_unweighted(indptr, src, dst, layers):  # pragma: no cover - compiled
    """The same rows without data, where the order of equal columns does not matter, so the
    edges may be visited in any order: as ``layers`` equal runs side by side (edge ``l·q + i``
    of run ``l``, for i = 0, 1, … and l from the last run to the first; a single run
    from its last edge to its first). A ring lattice lists
    its ties as k/2 runs (i, i + d): side by side, the rows are written front to back instead
    of the whole array once per run (at 10M customers, 400 MB five times over). Each row's
    ``dst`` side is filled from its start and its ``src`` side from its end, so a lattice row
    (i − k/2 … i − 1, then i + 1 … i + k/2) arrives sorted. Serial: a parallel scatter would
    need per-thread row counts."""
    m = src.shape[0]
    if layers < 1 or m % layers:
        layers = 1
    q = m // layers
    front = indptr[:-1].copy()
    back = indptr[1:].copy()
    cols = np.empty(2 * m, dtype=np.int32)
    for t in range(q):
        i = t if layers > 1 else q - 1 - t  # one run: last edge first (a lattice's rows sorted)
        for layer in range(layers - 1, -1, -1):
            e = layer * q + i
            a = src[e]
            b = dst[e]
            pos = back[a] - 1
            back[a] = pos
            cols[pos] = b
            pos = front[b]
            front[b] = pos + 1
            cols[pos] = a
    return cols


@nb.njit(cache=True, nogil=True, inline="always")
def _canonical_row(cols, data, lo, hi, weighted):  # pragma: no cover - compiled
    """Sort ``cols[lo:hi]`` (stably, ``data`` alongside), sum equal columns' data in order,
    pack the row at ``lo``; return its length."""
    length = hi - lo
    if length >= _INSERTION_MAX:
        order = np.argsort(cols[lo:hi], kind="mergesort")  # stable
        c = cols[lo:hi][order]
        cols[lo:hi] = c
        if weighted:
            d = data[lo:hi][order]
            data[lo:hi] = d
    else:
        for j in range(lo + 1, hi):
            c = cols[j]
            w = data[j] if weighted else 0.0
            t = j
            while t > lo and cols[t - 1] > c:  # strict: equal columns keep their order
                cols[t] = cols[t - 1]
                if weighted:
                    data[t] = data[t - 1]
                t -= 1
            cols[t] = c
            if weighted:
                data[t] = w
    w_at = lo
    j = lo
    while j < hi:
        c = cols[j]
        x = data[j] if weighted else 0.0
        j += 1
        while j < hi and cols[j] == c:
            if weighted:
                x += data[j]
            j += 1
        cols[w_at] = c
        if weighted:
            data[w_at] = x
        w_at += 1
    return w_at - lo


def _canonical_py(indptr, cols, data, weighted, lengths, block):  # pragma: no cover - compiled
    n = indptr.shape[0] - 1
    for b in nb.prange((n + block - 1) // block):
        for i in range(b * block, min(n, (b + 1) * block)):
            lengths[i] = _canonical_row(cols, data, indptr[i], indptr[i + 1], weighted)


_canonical = _twins(_canonical_py)


def _pack_py(indptr, cols, data, weighted, new_ptr, out_cols, out_data, block):  # pragma: no cover
    n = indptr.shape[0] - 1
    for b in nb.prange((n + block - 1) // block):
        for i in range(b * block, min(n, (b + 1) * block)):
            src = indptr[i]
            dst = new_ptr[i]
            for j in range(new_ptr[i + 1] - dst):
                out_cols[dst + j] = cols[src + j]
                if weighted:
                    out_data[dst + j] = data[src + j]


_pack = _twins(_pack_py)


def csr_from_edges(
    n: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray | None, layers: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """CSR ``(indptr int64, indices int32, data float64 | None)`` of the undirected ties
    ``src[e]–dst[e]``: each tie in both rows, each row's indices ascending, a pair listed twice
    one entry (its listings' ``weight`` summed; no data when ``weight`` is ``None``) — the
    arrays ``scipy.sparse.csr_array((w, (rows, cols))).sum_duplicates()`` gives.

    ``layers``: the list is that many equal runs over the same rows (a ring lattice's k/2
    distances), visited side by side; only the speed depends on it, never the result."""
    src = np.ascontiguousarray(src)
    dst = np.ascontiguousarray(dst)
    if src.shape != dst.shape:
        raise ValueError("src and dst differ in length")
    weighted = weight is not None
    w = (
        np.ascontiguousarray(weight, dtype=np.float64)
        if weight is not None
        else np.empty(0, dtype=np.float64)
    )
    indptr = _row_starts(n, src, dst)
    if weighted:
        cols, data = _place_weighted(indptr, src, dst, w)
    else:
        cols, data = _place_unweighted(indptr, src, dst, layers), w
    lengths = np.empty(n, dtype=np.int64)
    work = cols.shape[0]
    _canonical[_parallel(work)](indptr, cols, data, weighted, lengths, BLOCK_SIZE)
    total = int(lengths.sum())
    if total != cols.shape[0]:  # duplicates merged: close the gaps they left
        new_ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=new_ptr[1:])
        out_cols = np.empty(total, dtype=np.int32)
        out_data = np.empty(total if weighted else 0, dtype=np.float64)
        _pack[_parallel(work)](indptr, cols, data, weighted, new_ptr, out_cols, out_data,
                               BLOCK_SIZE)
        indptr, cols, data = new_ptr, out_cols, out_data
    return indptr, cols, (data if weighted else None)


def _count_in_py(indptr, indices, mask, out, block):  # pragma: no cover - compiled
    n = indptr.shape[0] - 1
    for b in nb.prange((n + block - 1) // block):
        for i in range(b * block, min(n, (b + 1) * block)):
            c = 0
            for e in range(indptr[i], indptr[i + 1]):
                if mask[indices[e]]:
                    c += 1
            out[i] = c


_count_in = _twins(_count_in_py)


def _weight_in_py(indptr, indices, weights, mask, out, block):  # pragma: no cover - compiled
    n = indptr.shape[0] - 1
    for b in nb.prange((n + block - 1) // block):
        for i in range(b * block, min(n, (b + 1) * block)):
            s = 0.0
            for e in range(indptr[i], indptr[i + 1]):
                if mask[indices[e]]:
                    s += weights[e]  # scipy's matvec adds weight × 1.0; × 0.0 adds +0.0
            out[i] = s


_weight_in = _twins(_weight_in_py)


def count_in(indptr: np.ndarray, indices: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per row, how many of its entries' columns are set in ``mask`` (int32)."""
    out = np.empty(indptr.shape[0] - 1, dtype=np.int32)
    _count_in[_parallel(indices.shape[0])](indptr, indices, mask, out, BLOCK_SIZE)
    return out


def weight_in(
    indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray, mask: np.ndarray
) -> np.ndarray:
    """Per row, the summed weight of its entries whose column is set in ``mask`` (float64,
    added in row order from 0: the bits of scipy's ``csr_array @ mask``)."""
    out = np.empty(indptr.shape[0] - 1, dtype=np.float64)
    _weight_in[_parallel(indices.shape[0])](indptr, indices, weights, mask, out, BLOCK_SIZE)
    return out
