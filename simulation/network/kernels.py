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
def _place_unweighted(indptr, src, dst):  # pragma: no cover - compiled
    """The same rows without data, where the order of equal columns does not matter: one pass
    (last edge first), a row's ``dst`` side filled from its start and its ``src`` side from
    its end, so a ring lattice's row (i − k/2 … i − 1 as ``dst``, i + 1 … i + k/2 as ``src``)
    arrives sorted (measured: visiting a lattice's k/2 runs side by side, to write the rows
    front to back, was not faster). Serial: a parallel scatter would need per-thread row
    counts."""
    m = src.shape[0]
    front = indptr[:-1].copy()
    back = indptr[1:].copy()
    cols = np.empty(2 * m, dtype=np.int32)
    for e in range(m - 1, -1, -1):
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


# A rewired ring lattice (Watts–Strogatz) as a list: slot e = (d − 1)·n + i holds the tie
# (i, dst[e]), 1 ≤ d ≤ half, so ``src`` says nothing ``e`` does not. Row i then holds
#   · the far ends of its own slots, dst[(d − 1)·n + i] for d = 1 … half;
#   · i − d for every slot ((d − 1)·n + (i − d) mod n) whose far end is still i (unrewired,
#     or redrawn onto its own lattice end): found by reading that one slot;
#   · the near end of every other slot whose far end is i ("irregular": rewired elsewhere) —
#     the only entries that need a scatter (~p·n·k/2 of them, not n·k).
# The same multiset per row as the generic counting sort, so after the row sort the same CSR,
# for any far ends (self-loops and duplicates included), with no pass writing across the
# whole array once per distance.


def _ring_check_py(src, n, block, bad):  # pragma: no cover - compiled
    m = src.shape[0]
    for b in nb.prange((m + block - 1) // block):
        e0 = b * block
        i = e0 % n
        ok = True
        for e in range(e0, min(m, e0 + block)):
            if src[e] != i:
                ok = False
            i += 1
            if i == n:
                i = 0
        bad[b] = not ok


_ring_check = _twins(_ring_check_py)


def _ring_rows_py(n, half, dst, deg, block):  # pragma: no cover - compiled
    """Per row: its own slots plus the lattice slots aimed back at it (``deg``, partial)."""
    for b in nb.prange((n + block - 1) // block):
        for i in range(b * block, min(n, (b + 1) * block)):
            c = half
            for d in range(1, half + 1):
                j = i - d
                if j < 0:
                    j += n
                if dst[(d - 1) * n + j] == i:
                    c += 1
            deg[i] = c


_ring_rows = _twins(_ring_rows_py)


def _ring_irregular_py(n, half, dst, block, counts, offsets, out):  # pragma: no cover - compiled
    """Slots whose far end is not their lattice end, block by block: how many in block b
    (``counts[b]``), or, given ``offsets`` (their running sum), the slots themselves, in slot
    order, into ``out`` — two passes, so nothing larger than the answer is allocated."""
    m = dst.shape[0]
    fill = out.shape[0] > 0
    for b in nb.prange((m + block - 1) // block):
        e0 = b * block
        i = e0 % n
        d = e0 // n + 1
        c = 0
        for e in range(e0, min(m, e0 + block)):
            j = i + d
            if j >= n:
                j -= n
            if dst[e] != j:
                if fill:
                    out[offsets[b] + c] = e
                c += 1
            i += 1
            if i == n:
                i = 0
                d += 1
        counts[b] = c


_ring_irregular = _twins(_ring_irregular_py)


def _ring_fill_py(n, half, dst, indptr, cols, lengths, block):  # pragma: no cover - compiled
    """Each row's lattice entries before its irregular ones (already in place), then the row
    sorted and its duplicates merged (:func:`_canonical_row`), in the same pass."""
    empty = np.empty(0, dtype=np.float64)
    for b in nb.prange((n + block - 1) // block):
        for i in range(b * block, min(n, (b + 1) * block)):
            pos = indptr[i]
            for d in range(half, 0, -1):  # i − half … i − 1: ascending away from the wrap
                j = i - d
                if j < 0:
                    j += n
                if dst[(d - 1) * n + j] == i:
                    cols[pos] = j
                    pos += 1
            for d in range(1, half + 1):
                cols[pos] = dst[(d - 1) * n + i]
                pos += 1
            lengths[i] = _canonical_row(cols, empty, indptr[i], indptr[i + 1], False)


_ring_fill = _twins(_ring_fill_py)


@nb.njit(cache=True, nogil=True)
def _ring_scatter(n, dst, irregular, indptr, cols):  # pragma: no cover - compiled
    """The irregular slots' near ends into the far end's row, at its end (row lengths in
    ``indptr[1:]`` are complete; ``indptr`` is summed here)."""
    for t in range(irregular.shape[0]):
        row = dst[irregular[t]]
        if row < 0 or row >= n:
            raise ValueError("an edge names a customer outside 0..n-1")
        indptr[row + 1] += 1
    for i in range(n):
        indptr[i + 1] += indptr[i]
    left = np.zeros(n, dtype=np.int32)
    for t in range(irregular.shape[0]):
        e = irregular[t]
        row = dst[e]
        left[row] += 1
        cols[indptr[row + 1] - left[row]] = e % n


def _is_ring(src: np.ndarray, n: int) -> bool:
    bad = np.empty((src.shape[0] + BLOCK_SIZE - 1) // BLOCK_SIZE, dtype=np.bool_)
    _ring_check[_parallel(src.shape[0])](src, n, BLOCK_SIZE, bad)
    return not bad.any()


def _ring_csr(n: int, half: int, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of the rewired ring lattice ``dst`` (see the comment above), each sorted and
    packed at its start: ``(indptr, cols, lengths)``, as :func:`_canonical` leaves them."""
    m = dst.shape[0]
    par = _parallel(m)
    indptr = np.zeros(n + 1, dtype=np.int64)  # row lengths in indptr[1:], then their sums
    _ring_rows[par](n, half, dst, indptr[1:], BLOCK_SIZE)
    n_blocks = (m + BLOCK_SIZE - 1) // BLOCK_SIZE
    counts = np.empty(n_blocks, dtype=np.int64)
    offsets = np.zeros(n_blocks + 1, dtype=np.int64)
    _ring_irregular[par](n, half, dst, BLOCK_SIZE, counts, offsets, np.empty(0, np.int64))
    np.cumsum(counts, out=offsets[1:])
    irregular = np.empty(int(offsets[-1]), dtype=np.int64)
    if irregular.size:
        _ring_irregular[par](n, half, dst, BLOCK_SIZE, counts, offsets, irregular)
    cols = np.empty(2 * m, dtype=np.int32)
    _ring_scatter(n, dst, irregular, indptr, cols)
    del irregular
    lengths = np.empty(n, dtype=np.int64)
    _ring_fill[par](n, half, dst, indptr, cols, lengths, BLOCK_SIZE)
    return indptr, cols, lengths


def csr_from_edges(
    n: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray | None, ring: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """CSR ``(indptr int64, indices int32, data float64 | None)`` of the undirected ties
    ``src[e]–dst[e]``: each tie in both rows, each row's indices ascending, a pair listed twice
    one entry (its listings' ``weight`` summed; no data when ``weight`` is ``None``) — the
    arrays ``scipy.sparse.csr_array((w, (rows, cols))).sum_duplicates()`` gives.

    ``ring``: the list may be a rewired ring lattice (``src[e] = e mod n``, Watts–Strogatz):
    checked, then built from ``dst`` alone (see ``_ring_csr``); only the speed depends on it.
    """
    src = np.ascontiguousarray(src)
    dst = np.ascontiguousarray(dst)
    if src.shape != dst.shape:
        raise ValueError("src and dst differ in length")
    m = src.shape[0]
    weighted = weight is not None
    w = (
        np.ascontiguousarray(weight, dtype=np.float64)
        if weight is not None
        else np.empty(0, dtype=np.float64)
    )
    half = m // n if n else 0
    if not weighted and ring and 0 < half < n and half * n == m and _is_ring(src, n):
        indptr, cols, lengths = _ring_csr(n, half, dst)
        data = w
    else:
        indptr = _row_starts(n, src, dst)
        if weighted:
            cols, data = _place_weighted(indptr, src, dst, w)
        else:
            cols, data = _place_unweighted(indptr, src, dst), w
        lengths = np.empty(n, dtype=np.int64)
        _canonical[_parallel(cols.shape[0])](indptr, cols, data, weighted, lengths, BLOCK_SIZE)
    work = cols.shape[0]
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


def _inverse_degree_py(indptr, out, block):  # pragma: no cover - compiled
    n = indptr.shape[0] - 1
    for b in nb.prange((n + block - 1) // block):
        for i in range(b * block, min(n, (b + 1) * block)):
            d = indptr[i + 1] - indptr[i]
            out[i] = 1.0 / d if d > 0 else 0.0


_inverse_degree = _twins(_inverse_degree_py)


def inverse_degree(indptr: np.ndarray) -> np.ndarray:
    """Per row, 1 / its number of entries (0.0 for an empty row), float64: the bits of
    ``np.where(deg > 0, 1.0 / np.maximum(deg, 1e-300), 0.0)`` with ``deg = np.diff(indptr)``
    (an integer degree converts to float64 exactly, then one IEEE division), in one
    block-parallel pass over ``indptr`` instead of four serial numpy passes over N (at 10M
    customers word of mouth's setup spent ≈ 0.3 CPU-s in them)."""
    out = np.empty(indptr.shape[0] - 1, dtype=np.float64)
    _inverse_degree[_parallel(out.shape[0])](indptr, out, BLOCK_SIZE)
    return out


def weight_in(
    indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray, mask: np.ndarray
) -> np.ndarray:
    """Per row, the summed weight of its entries whose column is set in ``mask`` (float64,
    added in row order from 0: the bits of scipy's ``csr_array @ mask``)."""
    out = np.empty(indptr.shape[0] - 1, dtype=np.float64)
    _weight_in[_parallel(indices.shape[0])](indptr, indices, weights, mask, out, BLOCK_SIZE)
    return out


# ---------------------------------------------------------------------------- Watts–Strogatz


def _lattice_py(n, half, src, dst, block):  # pragma: no cover - compiled
    m = n * half
    for b in nb.prange((m + block - 1) // block):
        e0 = b * block
        i = e0 % n
        d = e0 // n + 1
        for e in range(e0, min(m, e0 + block)):
            src[e] = i
            j = i + d
            dst[e] = j - n if j >= n else j
            i += 1
            if i == n:
                i = 0
                d += 1


_lattice = _twins(_lattice_py)


def ring_lattice(n: int, half: int) -> tuple[np.ndarray, np.ndarray]:
    """Slots ``e = (d − 1)·n + i`` of the ring lattice: ``src[e] = i``, ``dst[e] = (i + d) mod
    n`` for 1 ≤ d ≤ ``half`` — int32 (int64 from 2³¹ customers on): 8 bytes a slot, not 16."""
    dtype = np.int32 if n < 2**31 else np.int64
    m = n * half
    src = np.empty(m, dtype=dtype)
    dst = np.empty(m, dtype=dtype)
    _lattice[_parallel(m)](n, half, src, dst, BLOCK_SIZE)
    return src, dst


@nb.njit(cache=True, nogil=True)
def ws_round(rewire, far, pending, n, half):  # pragma: no cover - compiled
    """For the rewired slots ``rewire[pending]`` (far ends ``far[pending]``): their tie keys
    ``lo·n + hi`` and whether each is a self-loop or a lattice tie still in place — the pair's
    ring distance is at most ``half``, and that lattice slot was not itself rewired (a binary
    search in the sorted ``rewire``)."""
    count = pending.shape[0]
    keys = np.empty(count, dtype=np.int64)
    bad = np.zeros(count, dtype=np.bool_)
    r = rewire.shape[0]
    for t in range(count):
        j = pending[t]
        a = rewire[j] % n
        b = far[j]
        lo = min(a, b)
        hi = max(a, b)
        keys[t] = lo * n + hi
        if lo == hi:
            bad[t] = True
            continue
        gap = hi - lo
        if gap <= half:
            slot = (gap - 1) * n + lo
        elif n - gap <= half:
            slot = (n - gap - 1) * n + hi
        else:
            continue
        pos = np.searchsorted(rewire, slot)
        if pos == r or rewire[pos] != slot:
            bad[t] = True
    return keys, bad


@nb.njit(cache=True, nogil=True)
def _in_sorted(table, key):  # pragma: no cover - compiled
    pos = np.searchsorted(table, key)
    return pos < table.shape[0] and table[pos] == key


@nb.njit(cache=True, nogil=True)
def ws_duplicates(keys, order, settled, bad):  # pragma: no cover - compiled
    """Mark in ``bad`` the keys drawn twice this round (``order``: ``keys`` sorted; every copy
    is marked) or held by a settled slot (``settled``, sorted); return the survivors' keys,
    sorted (``order`` less every marked key)."""
    count = order.shape[0]
    n_twice = 0  # runs of two or more equal keys: each starts where t − 1 and t agree first
    for t in range(1, count):
        if order[t] == order[t - 1] and (t < 2 or order[t - 1] != order[t - 2]):
            n_twice += 1
    twice = np.empty(n_twice, dtype=np.int64)
    w = 0
    for t in range(1, count):
        if order[t] == order[t - 1] and (t < 2 or order[t - 1] != order[t - 2]):
            twice[w] = order[t]
            w += 1
    n_bad = 0
    for t in range(count):
        key = keys[t]
        if not bad[t] and (
            (n_twice and _in_sorted(twice, key))
            or (settled.shape[0] and _in_sorted(settled, key))
        ):
            bad[t] = True
        if bad[t]:
            n_bad += 1
    gone = np.empty(n_bad, dtype=np.int64)
    w = 0
    for t in range(count):
        if bad[t]:
            gone[w] = keys[t]
            w += 1
    gone.sort()
    survivors = np.empty(count, dtype=np.int64)
    w = 0
    for t in range(count):
        if not (n_bad and _in_sorted(gone, order[t])):
            survivors[w] = order[t]
            w += 1
    return survivors[:w]


@nb.njit(cache=True, nogil=True)
def merge_sorted(a, b):  # pragma: no cover - compiled
    """The sorted union (with repeats) of two sorted arrays, in one pass."""
    out = np.empty(a.shape[0] + b.shape[0], dtype=np.int64)
    i = 0
    j = 0
    for t in range(out.shape[0]):
        if j == b.shape[0] or (i < a.shape[0] and a[i] <= b[j]):
            out[t] = a[i]
            i += 1
        else:
            out[t] = b[j]
            j += 1
    return out


def _absent_py(indptr, indices, keys, n, block, keep):  # pragma: no cover - compiled
    for b in nb.prange((keys.shape[0] + block - 1) // block):
        for t in range(b * block, min(keys.shape[0], (b + 1) * block)):
            lo = keys[t] // n
            hi = keys[t] % n
            row = indices[indptr[lo]:indptr[lo + 1]]
            pos = np.searchsorted(row, hi)
            keep[t] = not (pos < row.shape[0] and row[pos] == hi)


_absent = _twins(_absent_py)


def absent_ties(indptr: np.ndarray, indices: np.ndarray, keys: np.ndarray, n: int) -> np.ndarray:
    """For tie keys ``lo·n + hi``: True where the CSR (rows sorted) has no tie lo–hi — a
    binary search in row lo, instead of sorting the CSR's n·k/2 keys to look them up."""
    keep = np.empty(keys.shape[0], dtype=np.bool_)
    _absent[_parallel(keys.shape[0] * 4)](indptr, indices, keys, n, BLOCK_SIZE, keep)
    return keep
