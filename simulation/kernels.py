"""Multi-threaded hot kernels (numba) and the run's thread count.

Why numba and not threaded numpy: measured at 10M customers on the 2-core development machine
(docs/performance.md, "Multi-threaded kernels"), the counter-based uniform below takes 24 ms in
one fused numba loop against 331 ms as ten numpy uint64 passes, and value accrual with its
per-segment sums takes 107 ms fused against 165 ms for numpy's three passes plus a
``bincount`` (which holds the GIL, so a thread pool over chunks only reached 148 ms). numba
also lets every kernel work block by block, which is what makes results independent of the
thread count:

- work is split into fixed blocks of :data:`BLOCK_SIZE` customers, never into one chunk per
  thread; each block is processed by one thread, start to end, with the same sequential code;
- floating-point sums are accumulated per block and the blocks are then added in block order,
  so the rounding is the same for 1, 2 or 64 threads;
- random numbers come from counters (see :mod:`simulation.rng`), never from a generator whose
  state a thread would advance.

The thread count is process-wide (numba's pool): :func:`set_threads` sets it (``--threads N``),
``OPMATRIX_THREADS`` gives the default, otherwise every core is used. Sweep workers run one
thread each unless told otherwise (their parallelism is the processes).
"""

from __future__ import annotations

import math
import os
import types

# numba's OpenMP pool (its default threading layer here) spins after every parallel region
# unless told otherwise; on a machine whose cores are busy with other work the spinning
# thread takes the core the next region needs. Measured on the 2-core development machine at
# load 6: 2,000 calls of a 1M-element parallel count with a little numpy between them took
# 63.1 s wall / 18.3 CPU-s with libgomp's default wait policy and 2.0 s / 0.8 CPU-s with
# PASSIVE (numpy's one-thread count: 2.3 s). Set before numba loads libgomp; a value the
# user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba as nb
import numpy as np

#: Customers per block. Part of the definition of every block-wise draw: changing it changes
#: the numbers (never the distributions). 2**16 keeps ~150 blocks at 10M customers (enough for
#: 16 threads to share evenly) and the per-block overhead well under 1 %.
BLOCK_SIZE = 1 << 16

THREADS_ENV = "OPMATRIX_THREADS"

# SplitMix64 constants (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number
# generators"; the same finaliser as java.util.SplittableRandom and numpy's SeedSequence mixing).
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53
#: Work (elements touched) below which a kernel runs its serial twin: waking numba's pool
#: costs ~10-50 µs on an idle machine and milliseconds on a loaded one (measured: a 1M-slot
#: Bernoulli draw at p = 0.001 took 0.6 ms on one thread and 36 ms on two at load 6).
#: ``OPMATRIX_PARALLEL_MIN_WORK`` overrides it (the tests set 0 to drive the parallel twins).
PARALLEL_MIN_WORK = int(os.environ.get("OPMATRIX_PARALLEL_MIN_WORK", 1 << 20))


def _twins(fn):
    """(serial, parallel) compilations of one kernel body: the same code block by block, so
    both give the same bits; ``prange`` is a plain ``range`` in the serial one."""
    code = fn.__code__
    # A distinct name for the serial twin, so numba's on-disk cache keeps the two apart.
    serial_code = code.replace(
        co_name=code.co_name + "_serial", co_qualname=code.co_qualname + "_serial"
    )
    serial = types.FunctionType(serial_code, fn.__globals__, serial_code.co_name)
    # nogil: a run's counterfactual world steps on a second Python thread beside it
    # (simulation/incremental.py, WorldsAhead); the kernels must not hold the GIL meanwhile.
    return (
        nb.njit(cache=True, nogil=True)(serial),
        nb.njit(cache=True, parallel=True, nogil=True)(fn),
    )


def _parallel(work: float) -> int:
    """Index of the twin to use for ``work`` elements: 1 (parallel) when it pays."""
    return 1 if work >= PARALLEL_MIN_WORK and nb.get_num_threads() > 1 else 0


def available_threads() -> int:
    """The most threads a run may use in this process (numba's pool size)."""
    return int(nb.config.NUMBA_NUM_THREADS)


def default_threads() -> int:
    """``OPMATRIX_THREADS`` if set (clamped to the pool), else every core of the pool."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"{THREADS_ENV}={raw!r} is not a whole number of threads") from None
        if value < 1:
            raise ValueError(f"{THREADS_ENV}={raw!r}: the thread count must be at least 1")
        return min(value, available_threads())
    return available_threads()


def set_threads(n: int | None = None) -> int:
    """Use ``n`` threads (``None``: :func:`default_threads`); returns the count in force.

    Above the pool size (the machine's cores, or ``NUMBA_NUM_THREADS``) it is clamped: results
    are the same for any count, only the speed changes.
    """
    count = default_threads() if n is None else int(n)
    if count < 1:
        raise ValueError("the thread count must be at least 1")
    count = min(count, available_threads())
    nb.set_num_threads(count)
    return count


def threads() -> int:
    """Threads the kernels use now."""
    return int(nb.get_num_threads())


# ---------------------------------------------------------------------------- random numbers


@nb.njit(cache=True, nogil=True)
def _mix(z):  # pragma: no cover - compiled
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@nb.njit(cache=True, nogil=True)
def _unit(key, counter):  # pragma: no cover - compiled
    """Uniform in [0, 1) for (key, counter): SplitMix64's output at state key + (c+1)·γ."""
    z = _mix(key + np.uint64(counter + 1) * _GOLDEN)
    return (z >> _S11) * _INV53


def _uniform_py(key, idx, out):  # pragma: no cover - compiled
    for j in nb.prange(idx.shape[0]):
        out[j] = _unit(key, idx[j])


_uniform = _twins(_uniform_py)


def uniform_at(key: int, idx: np.ndarray) -> np.ndarray:
    """The uniform of each slot ``idx[j]`` under ``key`` (a pure function of both)."""
    idx = np.ascontiguousarray(idx, dtype=np.int64)
    out = np.empty(idx.shape[0], dtype=np.float64)
    _uniform[_parallel(idx.shape[0])](np.uint64(key), idx, out)
    return out


def _keep_py(key, cand, p, p_max, block):  # pragma: no cover - compiled
    """Blocks of ``cand`` kept by thinning: each block's kept slots at the start of its own
    stretch of ``tmp``; ``counts[b]``: how many."""
    n = cand.shape[0]
    tmp, counts = _blocks(n, block)
    for b in nb.prange(counts.shape[0]):
        lo = b * block
        k = lo
        for j in range(lo, min(n, lo + block)):
            c = cand[j]
            tmp[k] = c
            k += _unit(key, c) * p_max < p[j]  # branch-free: k passes only the kept
        counts[b] = k - lo
    return tmp, counts


_keep = _twins(_keep_py)

#: Work of one thinning candidate, in scan elements: its uniform (a SplitMix64 mix, ~2.4 ns)
#: and a compare, reading ``cand`` and ``p`` in order.
_KEEP_WORK = 2


def thin_keep(key: int, cand: np.ndarray, p: np.ndarray, p_max: float) -> np.ndarray:
    """``cand[uniform_at(key, cand) * p_max < p]`` in one pass (the thinning's keep step,
    :meth:`simulation.rng.SlotDraws.thinned`): the same uniform, product and comparison per
    candidate, without the uniforms' and the mask's arrays; kept slots in ``cand``'s order."""
    cand = np.ascontiguousarray(cand, dtype=np.int64)
    p = np.asarray(p)
    if p.dtype not in (np.float32, np.float64):
        p = p.astype(np.float64)  # numpy's comparison widens ints and bools to float64 too
    p = np.ascontiguousarray(np.broadcast_to(p, cand.shape))
    tmp, counts = _keep[_parallel(cand.shape[0] * _KEEP_WORK)](
        np.uint64(key), cand, p, float(p_max), BLOCK_SIZE)
    offsets = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return _compact[_parallel(int(offsets[-1]))](tmp, counts, offsets, BLOCK_SIZE)


@nb.njit(cache=True, nogil=True)
def _block_key(key, b):  # pragma: no cover - compiled
    return _mix(key ^ _mix(np.uint64(b + 1) * _M2))


@nb.njit(cache=True, nogil=True)
def _walk_block(key, b, n, block, log1mp, out, start):  # pragma: no cover - compiled
    """Successes of block ``b`` by geometric gaps from the block's own stream.

    Writes them at ``out[start:]`` (the block's own stretch of the scratch array, at most
    ``block`` long) and returns how many there are; one walk per block since f590b39.
    """
    kb = _block_key(key, b)
    lo = b * block
    hi = min(n, lo + block)
    pos = lo - 1
    c = 0
    j = 0
    while True:
        u = 1.0 - _unit(kb, j)  # (0, 1]
        j += 1
        g = np.floor(math.log(u) / log1mp)  # a float: math.floor would be int64 and overflow
        if g >= hi - pos - 1:
            break
        pos += np.int64(g) + 1
        out[start + c] = pos
        c += 1
    return c


def _bernoulli_direct_py(key, n, block, p):  # pragma: no cover - compiled
    """Dense case: slot i succeeds when its own uniform is below p (a monotone coupling)."""
    mask = np.empty(n, dtype=np.bool_)
    nblocks = (n + block - 1) // block
    for b in nb.prange(nblocks):
        for i in range(b * block, min(n, (b + 1) * block)):
            mask[i] = _unit(key, i) < p
    return mask


@nb.njit(cache=True, nogil=True)
def _bernoulli_once(key, n, block, log1mp, cap):  # pragma: no cover - compiled
    """Every block's walk (:func:`_walk_block`'s arithmetic, the same counters) in block
    order in one pass, writing as it goes (``cap``: a first guess, grown if passed) — the
    serial path, which would otherwise walk every block twice (count, then fill)."""
    out = np.empty(max(cap, 16), dtype=np.int64)
    c = 0
    nblocks = (n + block - 1) // block
    for b in range(nblocks):
        kb = _block_key(key, b)
        lo = b * block
        hi = min(n, lo + block)
        pos = lo - 1
        j = 0
        while True:
            u = 1.0 - _unit(kb, j)  # (0, 1]
            j += 1
            g = np.floor(math.log(u) / log1mp)
            if g >= hi - pos - 1:
                break
            pos += np.int64(g) + 1
            if c == out.shape[0]:
                grown = np.empty(2 * out.shape[0], dtype=np.int64)
                grown[:c] = out
                out = grown
            out[c] = pos
            c += 1
    return out[:c]


def _bernoulli_blocks_py(key, n, block, log1mp):  # pragma: no cover - compiled
    """Each block walks once, writing its successes at the start of its own stretch of
    ``tmp`` (at most ``block`` of them); ``counts[b]``: how many."""
    tmp, counts = _blocks(n, block)
    for b in nb.prange(counts.shape[0]):
        counts[b] = _walk_block(key, b, n, block, log1mp, tmp, b * block)
    return tmp, counts


_bernoulli_direct = _twins(_bernoulli_direct_py)
_bernoulli_blocks = _twins(_bernoulli_blocks_py)


#: Work of one Bernoulli success in scan elements: a log and a mix, ~29 ns (measured at 10M,
#: p = 0.01: 2.9 ms for 100k successes, one thread) against ~1.3 ns a scan element. The block
#: walk and its compaction cost what the one serial walk costs from ~100k successes (2.7-2.9
#: ms either way), but twice as much at 10k (0.58 against 0.29 ms): so word of mouth's 10M-slot
#: draw at q = 0.01 goes parallel, a 10M-slot lapse draw at p ≈ 0.001 stays serial.
_SUCCESS_WORK = 20


def bernoulli_slots(key: int, n: int, p: float) -> np.ndarray:
    """Sorted slots ``i < n`` succeeding in independent Bernoulli(p) trials, block by block.

    ``p <= 0.25``: geometric gaps inside each block from the block's own stream, O(n·p + n/B)
    numbers; above it each slot compares its own uniform with ``p``. Either way slot ``i``'s
    outcome depends only on (key, i's block, p), never on the thread count.
    """
    if n <= 0 or p <= 0.0:
        return np.empty(0, dtype=np.int64)
    if p >= 1.0:
        return np.arange(n, dtype=np.int64)
    key64 = np.uint64(key)
    if p > 0.25:
        mask = _bernoulli_direct[_parallel(n)](key64, n, BLOCK_SIZE, p)
        return np.flatnonzero(mask).astype(np.int64)
    log1mp = math.log1p(-p)
    if not _parallel(n * p * _SUCCESS_WORK):
        expected = n * p
        return _bernoulli_once(key64, n, BLOCK_SIZE, log1mp,
                               int(expected + 6.0 * math.sqrt(expected) + 16))
    tmp, counts = _bernoulli_blocks[1](key64, n, BLOCK_SIZE, log1mp)
    offsets = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return _compact[_parallel(int(offsets[-1]))](tmp, counts, offsets, BLOCK_SIZE)


# ---------------------------------------------------------------------------- value accrual


@nb.njit(cache=True, nogil=True, inline="always")
def _accrue_block(stage, lo, hi, daily_value, segment, weight, unit, value_accrued, part):
    # pragma: no cover - compiled
    """One block (slices of the population arrays): adds to ``value_accrued`` and the
    block's per-segment partial sums ``part``. Branch-free (stages are mixed, a branch
    mispredicts): value × 0/1 is the value or +0.0 exactly, and adding +0.0 changes no sum.
    Memory-bound: stage, value (float32 when it is exact), segment, the running total in and
    out (+ the weight). With one segment the running sum is a local: through ``part[0]`` each
    add waited for the last one's store (32 → 19 ms at 10M, one thread, measured) — the same
    adds in the same order, so the same bits."""
    n = stage.shape[0]
    if part.shape[0] == 1:
        acc = 0.0
        if unit:
            for i in range(n):
                s = stage[i]
                v = np.float64(daily_value[i]) * ((s >= lo) & (s <= hi))
                value_accrued[i] += v
                acc += v
        else:
            for i in range(n):
                s = stage[i]
                v = np.float64(daily_value[i]) * ((s >= lo) & (s <= hi))
                value_accrued[i] += v
                acc += v * weight[i]
        part[0] += acc
    elif unit:  # every weight is 1: v × 1.0 is v exactly, so the weights are not read
        for i in range(n):
            s = stage[i]
            v = np.float64(daily_value[i]) * ((s >= lo) & (s <= hi))
            value_accrued[i] += v
            part[segment[i]] += v
    else:
        for i in range(n):
            s = stage[i]
            v = np.float64(daily_value[i]) * ((s >= lo) & (s <= hi))
            value_accrued[i] += v
            part[segment[i]] += v * weight[i]  # represented value


@nb.njit(cache=True, nogil=True)
def _zeros2f(n, m):  # pragma: no cover - compiled
    """A zeroed (n, m) float64 array, allocated in a plain ``njit`` function: inside a
    ``parallel`` kernel ``np.zeros`` is a parallel loop of its own, i.e. one more OpenMP
    region (pool wake-up and barrier) a call (review D1: 3 regions instead of 1 for money)."""
    return np.zeros((n, m), dtype=np.float64)


@nb.njit(cache=True, nogil=True)
def _zeros2i(n, m):  # pragma: no cover - compiled
    """:func:`_zeros2f` in int64."""
    return np.zeros((n, m), dtype=np.int64)


@nb.njit(cache=True, nogil=True)
def _zeros_bool(n):  # pragma: no cover - compiled
    """:func:`_zeros2f` for a bool vector."""
    return np.zeros(n, dtype=np.bool_)


@nb.njit(cache=True, nogil=True)
def _any(flags):  # pragma: no cover - compiled
    """``flags.any()`` as a plain loop (a reduction in a ``parallel`` kernel is a region)."""
    for i in range(flags.shape[0]):  # noqa: SIM110 - numba compiles no generator here
        if flags[i]:
            return True
    return False


@nb.njit(cache=True, nogil=True)
def sum_blocks(parts):  # pragma: no cover - compiled
    """Column sums of ``parts`` (a row per block), the blocks added in block order: the same
    bits for any thread count. A function of its own rather than a loop in a ``parallel``
    kernel, where every array expression becomes a parallel loop that wakes the pool."""
    out = np.zeros(parts.shape[1], dtype=parts.dtype)
    for b in range(parts.shape[0]):
        for k in range(parts.shape[1]):
            out[k] += parts[b, k]
    return out


def _accrue_py(stage, lo, hi, daily_value, segment, weight, unit, value_accrued, n_seg, block):
    # pragma: no cover - compiled
    n = stage.shape[0]
    nblocks = (n + block - 1) // block
    part = _zeros2f(nblocks, n_seg)
    for b in nb.prange(nblocks):
        lo_i = b * block
        hi_i = min(n, lo_i + block)
        w = weight[lo_i:hi_i] if not unit else weight[:0]
        _accrue_block(stage[lo_i:hi_i], lo, hi, daily_value[lo_i:hi_i], segment[lo_i:hi_i], w,
                      unit, value_accrued[lo_i:hi_i], part[b])
    return sum_blocks(part)


_accrue = _twins(_accrue_py)


def accrue_value(
    stage: np.ndarray,
    lo: int,
    hi: int,
    daily_value: np.ndarray,
    segment: np.ndarray,
    weight: np.ndarray,
    value_accrued: np.ndarray,
    n_segments: int,
    unit_weights: bool = False,
) -> np.ndarray:
    """Add ``daily_value`` to ``value_accrued`` where ``lo <= stage <= hi``; return today's
    represented value per segment (Σ value × population weight; block partial sums added in
    block order: the same bits for any thread count). ``unit_weights``: every weight is 1
    (then ``weight`` is not read: the same bits, 8 bytes a customer less to stream).
    ``daily_value`` may be float32: each value is widened to float64 exactly before use, so
    a float32 array gives the bits its float64 copy gave, with 4 bytes a customer less."""
    fn = _accrue[_parallel(stage.shape[0])]
    return fn(stage, lo, hi, daily_value, segment, weight, bool(unit_weights), value_accrued,
              n_segments, BLOCK_SIZE)


# ---------------------------------------------------------------------------- graph


@nb.njit(cache=True, nogil=True)
def _scatter_serial(counts, indptr, indices, changed, sign):  # pragma: no cover - compiled
    for k in range(changed.shape[0]):
        i = changed[k]
        s = sign[k]
        for e in range(indptr[i], indptr[i + 1]):
            counts[indices[e]] += s


@nb.njit(cache=True, nogil=True)
def _scatter_plan(indptr, changed, n, block):  # pragma: no cover - compiled
    """Per block of customers: where its changed customers start in ``changed`` (sorted)
    and where its stretch of the deferred-tie buffer starts (its changed customers' ties)."""
    nblocks = (n + block - 1) // block
    first = np.empty(nblocks + 1, dtype=np.int64)
    dstart = np.zeros(nblocks + 1, dtype=np.int64)
    k = 0
    for b in range(nblocks):
        first[b] = k
        e = 0
        hi = (b + 1) * block
        while k < changed.shape[0] and changed[k] < hi:
            i = changed[k]
            e += indptr[i + 1] - indptr[i]
            k += 1
        dstart[b + 1] = dstart[b] + e
    first[nblocks] = k
    return first, dstart


@nb.njit(cache=True, nogil=True, inline="always")
def _scatter_block(counts, indptr, indices, changed, sign, k0, k1, lo, hi, d_t, d_s, d):
    # pragma: no cover - compiled
    for k in range(k0, k1):
        i = changed[k]
        s = sign[k]
        for e in range(indptr[i], indptr[i + 1]):
            t = indices[e]
            if t >= lo and t < hi:
                counts[t] += s
            else:
                d_t[d] = t
                d_s[d] = s
                d += 1
    return d


def _scatter_blocks_py(counts, indptr, indices, changed, sign, first, dstart, block, d_t, d_s,
                       d_n):  # pragma: no cover - compiled
    """Each block of customers adds its changed customers' signs to the ties inside its own
    block (no other block writes there) and defers the others to its stretch of
    ``d_t``/``d_s`` (``d_n[b]`` of them), applied after, in block order."""
    n = counts.shape[0]
    for b in nb.prange(first.shape[0] - 1):
        lo = b * block
        d_n[b] = _scatter_block(counts, indptr, indices, changed, sign, first[b],
                                first[b + 1], lo, min(n, lo + block), d_t, d_s,
                                dstart[b]) - dstart[b]


_scatter_blocks = _twins(_scatter_blocks_py)  # (the serial twin is unused: one thread takes
# the one loop, which needs no deferred buffer; a twin pair so profile_day counts it)


@nb.njit(cache=True, nogil=True)
def _scatter_deferred(counts, dstart, d_t, d_s, d_n):  # pragma: no cover - compiled
    for b in range(d_n.shape[0]):
        for j in range(dstart[b], dstart[b] + d_n[b]):
            counts[d_t[j]] += d_s[j]


#: Work of one tie in :func:`scatter_add`, in scan elements: an increment at a random slot of
#: a population-length array, ~25 ns at 10M (2.5 ms a day for ~100k ties, one thread)
#: against ~1.3 ns a scan element.
_TIE_WORK = 20


def scatter_add(
    counts: np.ndarray, indptr: np.ndarray, indices: np.ndarray, changed: np.ndarray,
    sign: np.ndarray,
) -> None:
    """``counts[nbr] += sign[k]`` for every tie of each ``changed[k]`` (sorted; integers, so
    the result does not depend on the order of the additions).

    On several threads (above ``PARALLEL_MIN_WORK``) each block of customers adds its changed
    customers' signs to the ties inside its own block — a Watts–Strogatz or lattice tie is
    mostly local, so most of them — and the ties into other blocks are added after, serially;
    no two threads write the same slot, so no atomics. On one thread, one serial loop.
    """
    if changed.shape[0] == 0:
        return
    mean_degree = float(indptr[-1]) / max(counts.shape[0], 1)
    if not _parallel(changed.shape[0] * mean_degree * _TIE_WORK):
        _scatter_serial(counts, indptr, indices, changed, sign)
        return
    first, dstart = _scatter_plan(indptr, changed, counts.shape[0], BLOCK_SIZE)
    total = int(dstart[-1])
    d_t = np.empty(total, dtype=indices.dtype)
    d_s = np.empty(total, dtype=sign.dtype)
    d_n = np.empty(first.shape[0] - 1, dtype=np.int64)
    _scatter_blocks[1](counts, indptr, indices, changed, sign, first, dstart, BLOCK_SIZE, d_t,
                       d_s, d_n)
    _scatter_deferred(counts, dstart, d_t, d_s, d_n)


# ---------------------------------------------------------------------------- money accounts


#: Today's totals of a segment's accounts, in the order :func:`money_book_day` returns them.
MONEY_TOTALS = (
    "pay_sum", "sav_total", "pool_total", "wealth_fee", "wealth_total", "spend_total",
    "loans_out", "loss_sum", "n_hit", "sav_v_total", "pool_v_total", "wealth_v",
    "spend_v_total", "loans_v",
)
_N_MONEY = len(MONEY_TOTALS)
#: Work of one account in scan elements: ~20 arrays read or written at the account's slot and
#: two gathers at its customer (measured: 1.2 s for ~73M account-days at 1M, ~17 ns an
#: account, against ~1.3 ns a scan element).
_ACCOUNT_WORK = 12


@nb.njit(cache=True, nogil=True)
def _money_block(  # pragma: no cover - compiled
    tot,
    idx, stage, ring, stage_keep, stage_log_keep, stage_spend, ring_mult,
    savings, pool, target, salary, wealth_w, wshare, card_spend, loan_a, loan_b, default_int,
    log_keep, int_sav, int_pool, int_spend, int_out, losses, s_in, p_in,
    day, payday, has_payroll, has_deposits, has_card, has_loan,
    savings_share, ramp, pool_keep, lgd, vm, vm2, vm_mode, k_card_loss,
):
    """One block of accounts (the per-account arrays are the block's slices; ``stage``,
    ``ring`` and ``vm`` in modes 1 and 3 are the population's): their day, in account order,
    and the block's totals in ``tot`` (one row of :data:`MONEY_TOTALS`). A loop over slices
    from 0: a ``range(lo, hi)`` loop over the whole arrays ran ~1.6× slower."""
    pay_sum = 0.0
    sav_total = 0.0
    pool_total = 0.0
    wealth_fee = 0.0
    wealth_total = 0.0
    spend_total = 0.0
    loans_out = 0.0
    loss_sum = 0.0
    n_hit = 0.0
    sav_v_total = 0.0
    pool_v_total = 0.0
    wealth_v = 0.0
    spend_v_total = 0.0
    loans_v = 0.0
    has_vm = vm_mode != 0
    for i in range(idx.shape[0]):
        j = idx[i]
        st = stage[j]
        keep = stage_keep[st]
        rf = ring_mult[ring[j]]
        sav = savings[i]
        if has_payroll and payday:
            pay = salary[i] * (1.0 if keep > 0 else 0.0)
            a = pay * savings_share
            b = pay - a
            s_in[i] = a
            p_in[i] = b
            sav += a
            pool[i] += b
            pay_sum += pay
        if has_deposits:
            gap = target[i] * rf
            gap -= sav
            gap = max(gap, 0.0)
            gap *= 1.0 if keep == 1.0 else 0.0
            gap *= ramp
            sav += gap
        sav *= keep
        savings[i] = sav
        mult = 1.0
        if vm_mode == 1:
            mult = vm[j]
        elif vm_mode == 2:
            mult = vm[i]
        elif vm_mode == 3:
            mult = vm[j] * vm2[j]
        if has_payroll:
            q = pool[i] * keep
            q *= pool_keep
            pool[i] = q
            log_keep[i] += stage_log_keep[st]
            q_v = q * mult if has_vm else q
            int_pool[i] += q_v
            pool_total += q
            pool_v_total += q_v
        sav_v = sav * mult if has_vm else sav
        int_sav[i] += sav_v
        sav_total += sav
        sav_v_total += sav_v
        wealth_fee += wealth_w[i] * sav_v
        wealth_total += wshare[i] * sav
        wealth_v += wshare[i] * sav_v
        if has_card:
            spend = card_spend[i] * rf
            spend *= stage_spend[st]
            spend_total += spend
            if has_vm:
                spend_v = spend * mult
                int_spend[i] += spend_v
                losses[i] += k_card_loss * (spend - spend_v)
                spend_v_total += spend_v
            else:
                int_spend[i] += spend
                spend_v_total += spend
        if has_loan:
            out = loan_b[i] * -day
            out += loan_a[i]
            out = max(out, 0.0)
            if default_int[i] == day:  # default: LGD of what is outstanding is lost
                loss = lgd * out
                losses[i] += loss
                loss_sum += loss
                n_hit += 1.0
                out = 0.0
                loan_a[i] = 0.0
                loan_b[i] = 0.0
            out_v = out * mult if has_vm else out
            int_out[i] += out_v
            loans_out += out
            loans_v += out_v
    tot[0] = pay_sum
    tot[1] = sav_total
    tot[2] = pool_total
    tot[3] = wealth_fee
    tot[4] = wealth_total
    tot[5] = spend_total
    tot[6] = loans_out
    tot[7] = loss_sum
    tot[8] = n_hit
    tot[9] = sav_v_total
    tot[10] = pool_v_total
    tot[11] = wealth_v
    tot[12] = spend_v_total
    tot[13] = loans_v


def _money_day_py(  # pragma: no cover - compiled
    idx, stage, ring, stage_keep, stage_log_keep, stage_spend, ring_mult,
    savings, pool, target, salary, wealth_w, wshare, card_spend, loan_a, loan_b, default_int,
    log_keep, int_sav, int_pool, int_spend, int_out, losses, s_in, p_in,
    day, payday, has_payroll, has_deposits, has_card, has_loan,
    savings_share, ramp, pool_keep, lgd, vm, vm2, vm_mode, k_card_loss, block,
):
    m = idx.shape[0]
    nblocks = (m + block - 1) // block
    part = _zeros2f(nblocks, _N_MONEY)
    pay = has_payroll and payday  # s_in and p_in are empty on other days
    for b in nb.prange(nblocks):
        lo = b * block
        hi = min(m, lo + block)
        vm_b = vm[lo:hi] if vm_mode == 2 else vm  # per account in mode 2
        s_b = s_in[lo:hi] if pay else s_in
        p_b = p_in[lo:hi] if pay else p_in
        _money_block(
            part[b], idx[lo:hi], stage, ring, stage_keep, stage_log_keep, stage_spend,
            ring_mult, savings[lo:hi], pool[lo:hi], target[lo:hi], salary[lo:hi],
            wealth_w[lo:hi], wshare[lo:hi], card_spend[lo:hi], loan_a[lo:hi], loan_b[lo:hi],
            default_int[lo:hi], log_keep[lo:hi], int_sav[lo:hi], int_pool[lo:hi],
            int_spend[lo:hi], int_out[lo:hi], losses[lo:hi],
            s_b, p_b, day, payday, has_payroll, has_deposits, has_card, has_loan,
            savings_share, ramp, pool_keep, lgd, vm_b, vm2, vm_mode, k_card_loss,
        )
    return sum_blocks(part)  # block order: the same rounding for any thread count


_money_day = _twins(_money_day_py)


def money_book_day(
    idx, stage, ring, stage_keep, stage_log_keep, stage_spend, ring_mult,
    savings, pool, target, salary, wealth_w, wshare, card_spend, loan_a, loan_b, default_int,
    log_keep, int_sav, int_pool, int_spend, int_out, losses, s_in, p_in,
    day, payday, has_payroll, has_deposits, has_card, has_loan,
    savings_share, ramp, pool_keep, lgd, vm, vm_mode, k_card_loss, vm2=None,
) -> tuple:
    """One day of one segment's money accounts (simulation/money/layer.py,
    ``MoneyLayer._step_book``, says what each line means; this is the same arithmetic per
    account in the same order, fused so the ~15 numpy passes over the accounts become one).

    Block-parallel over fixed blocks of :data:`BLOCK_SIZE` accounts: every account is its
    own (its slots of the book's arrays, reads of its customer's stage, ring and multiplier),
    and each total is summed per block and the blocks' sums added in block order, so the
    bits are the same for any thread count (with one block — up to 65,536 accounts — they
    are those of one sequential pass). Returns today's totals (:data:`MONEY_TOTALS`: payroll
    inflow, savings, payroll pool, wealth fees, wealth held, card spend, loans outstanding,
    loan losses, number of defaults) and the earning totals × the value multiplier (savings,
    pool, wealth held, card spend, loans; equal to the plain ones when ``vm_mode`` is 0; 1:
    ``vm`` is the population's one multiplier array, read at each account's customer; 2:
    ``vm`` holds each account's product of several; 3: two population arrays, ``vm`` ×
    ``vm2`` at the customer — numpy's product of the two gathers, without the gathers).
    Card charge-offs are not uplifted: ``k_card_loss`` × the uplift of spend goes back into
    ``losses``.
    """
    if vm2 is None:
        vm2 = vm[:0]
    fn = _money_day[_parallel(idx.shape[0] * _ACCOUNT_WORK)]
    t = fn(
        idx, stage, ring, stage_keep, stage_log_keep, stage_spend, ring_mult,
        savings, pool, target, salary, wealth_w, wshare, card_spend, loan_a, loan_b,
        default_int, log_keep, int_sav, int_pool, int_spend, int_out, losses, s_in, p_in,
        int(day), bool(payday), bool(has_payroll), bool(has_deposits), bool(has_card),
        bool(has_loan), float(savings_share), float(ramp), float(pool_keep), float(lgd), vm,
        vm2, int(vm_mode), float(k_card_loss), BLOCK_SIZE,
    )
    return (*(float(v) for v in t[:8]), int(t[8]), *(float(v) for v in t[9:]))


# ---------------------------------------------------------------------------- group members


#: Work of one member in the group passes, in scan elements: each reads several arrays at the
#: member's slot (gathers), ~6–7 ns a member against ~1.3 ns a scan element (group_mutes: 7–9
#: ms for 1.2M members, thread CPU), so ~200k members already go parallel.
_GATHER_WORK = 5

# Every group kernel walks ``members`` (sorted customer slots) in fixed blocks of BLOCK_SIZE
# positions. A member's uniform is the k-th of the draws, k = its rank among the members not
# muted; each block first counts its unmuted members (in parallel), a prefix sum gives every
# block its first k, then the blocks do their work in parallel and their hits are concatenated
# in block order — the same members in the same order, with the same uniforms, as one
# sequential pass, for any thread count.


@nb.njit(cache=True, nogil=True, inline="always")
def _false_in(idx, flag):  # pragma: no cover - compiled
    c = 0
    for t in range(idx.shape[0]):
        c += not flag[idx[t]]
    return c


def _count_false_py(idx, flag, block):  # pragma: no cover - compiled
    n = idx.shape[0]
    nblocks = (n + block - 1) // block
    counts = np.empty(nblocks, dtype=np.int64)
    for b in nb.prange(nblocks):
        counts[b] = _false_in(idx[b * block:min(n, (b + 1) * block)], flag)
    return counts


_count_false = _twins(_count_false_py)


def _unmuted_offsets(idx: np.ndarray, flag: np.ndarray) -> np.ndarray:
    """Per block of ``idx`` positions, the rank of its first unmuted member (and the total
    at the end)."""
    counts = _count_false[_parallel(idx.shape[0])](idx, flag, BLOCK_SIZE)
    offsets = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets


def count_false(idx: np.ndarray, flag: np.ndarray) -> int:
    """How many of ``flag[idx]`` are False (e.g. members not muted); block-parallel."""
    return int(_count_false[_parallel(idx.shape[0])](idx, flag, BLOCK_SIZE).sum())


@nb.njit(cache=True, nogil=True, inline="always")
def _mutes_in(
    members, muted, adviser, has_adviser, followed_default, rate, followed_mult, u, out
):  # pragma: no cover - compiled
    c = 0
    k = 0
    for t in range(members.shape[0]):
        i = members[t]
        if muted[i]:
            continue
        followed = followed_default or (has_adviser and adviser[i] >= 0)
        r = rate * followed_mult if followed else rate
        if u[k] < r:
            out[c] = i
            c += 1
        k += 1
    for t in range(c):  # own members only, after the block has read them
        muted[out[t]] = True
    return c


def _group_mutes_py(  # pragma: no cover - compiled
    members, muted, adviser, has_adviser, followed_default, rate, followed_mult, u, offsets,
    block,
):
    n = members.shape[0]
    nblocks = offsets.shape[0] - 1
    tmp = np.empty(n, dtype=np.int64)
    counts = np.empty(nblocks, dtype=np.int64)
    for b in nb.prange(nblocks):
        lo = b * block
        hi = min(n, lo + block)
        counts[b] = _mutes_in(
            members[lo:hi], muted, adviser, has_adviser, followed_default, rate, followed_mult,
            u[offsets[b]:offsets[b + 1]], tmp[lo:hi],
        )
    return tmp, counts


_group_mutes = _twins(_group_mutes_py)


def group_mutes(
    members: np.ndarray,
    muted: np.ndarray,
    adviser: np.ndarray,
    has_adviser: bool,
    followed_default: bool,
    rate: float,
    followed_mult: float,
    u: np.ndarray,
) -> np.ndarray:
    """Members not yet muted (in order) mute when their uniform ``u`` (one each, in order)
    is below their rate (``rate``, × ``followed_mult`` when an adviser or tag-based follow-up
    keeps in touch); marks them in ``muted`` and returns them. Block-parallel."""
    offsets = _unmuted_offsets(members, muted)
    if u.shape[0] != offsets[-1]:
        raise ValueError(f"group_mutes: {u.shape[0]} uniforms for {offsets[-1]} unmuted members")
    par = _parallel(members.shape[0] * _GATHER_WORK)
    tmp, counts = _group_mutes[par](
        members, muted, adviser, bool(has_adviser), bool(followed_default), float(rate),
        float(followed_mult), u, offsets, BLOCK_SIZE,
    )
    return _concat_blocks(tmp, counts)


def _concat_blocks(tmp: np.ndarray, counts: np.ndarray) -> np.ndarray:
    offsets = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return _compact[_parallel(int(offsets[-1]))](tmp, counts, offsets, BLOCK_SIZE)


@nb.njit(cache=True, nogil=True, inline="always")
def _gather_in(members, sentiment, s):  # pragma: no cover - compiled
    a = False
    for t in range(members.shape[0]):
        v = np.float64(sentiment[members[t]])
        s[t] = v
        a |= v != 0.0
    return a


def _sentiment_gather_py(members, sentiment, block, s):  # pragma: no cover - compiled
    n = members.shape[0]
    nblocks = (n + block - 1) // block
    anyb = _zeros_bool(nblocks)
    for b in nb.prange(nblocks):
        lo = b * block
        hi = min(n, lo + block)
        anyb[b] = _gather_in(members[lo:hi], sentiment, s[lo:hi])
    return _any(anyb)


@nb.njit(cache=True, nogil=True)
def _sentiment_sums(members, group, koc, n_groups, s):  # pragma: no cover - compiled
    """Group sums in member order, as ``np.bincount`` adds them. Serial on purpose: a float
    sum in any other order would change the last bits (block partials would be thread-count
    invariant too, but move every group preset's numbers by an ulp)."""
    sums = np.zeros(n_groups, dtype=np.float64)
    counts = np.zeros(n_groups, dtype=np.int64)
    kocs = np.zeros(n_groups, dtype=np.bool_)
    for t in range(members.shape[0]):
        i = members[t]
        g = group[i]
        sums[g] += s[t]
        counts[g] += 1
        if koc[i]:
            kocs[g] = True
    return sums, counts, kocs


@nb.njit(cache=True, nogil=True, inline="always")
def _mix_in(
    members, group, sentiment, sums, counts, kocs, spread, koc_factor, decay_factor, s
):  # pragma: no cover - compiled
    for t in range(members.shape[0]):
        i = members[t]
        g = group[i]
        mean = sums[g] / max(counts[g], 1)
        v = s[t] + spread * (mean - s[t])
        v *= (koc_factor if kocs[g] else 1.0) * decay_factor
        s[t] = v
        sentiment[i] = np.float32(min(max(v, 0.0), 1.0))


def _sentiment_mix_py(  # pragma: no cover - compiled
    members, group, sentiment, sums, counts, kocs, spread, koc_factor, decay_factor, s, block
):
    n = members.shape[0]
    for b in nb.prange((n + block - 1) // block):
        lo = b * block
        hi = min(n, lo + block)
        _mix_in(members[lo:hi], group, sentiment, sums, counts, kocs, spread, koc_factor,
                decay_factor, s[lo:hi])


_sentiment_gather = _twins(_sentiment_gather_py)
_sentiment_mix = _twins(_sentiment_mix_py)


def group_sentiment(
    members: np.ndarray,
    group: np.ndarray,
    sentiment: np.ndarray,
    koc: np.ndarray,
    n_groups: int,
    spread: float,
    koc_factor: float,
    decay_factor: float,
) -> tuple[bool, np.ndarray]:
    """Complaints spread inside groups (each member moves ``spread`` towards the mean of its
    group), damped where the group has a KOC (``koc_factor``) and decaying
    (``decay_factor``). Writes the clipped values into ``sentiment`` (float32) and returns
    (any sentiment at all, the unclipped new values in float64, aligned with ``members``).
    The per-member passes are block-parallel; the group sums run in member order."""
    n = members.shape[0]
    par = _parallel(n * _GATHER_WORK)
    s = np.empty(n, dtype=np.float64)
    if not _sentiment_gather[par](members, sentiment, BLOCK_SIZE, s):
        return False, s
    sums, counts, kocs = _sentiment_sums(members, group, koc, int(n_groups), s)
    _sentiment_mix[par](
        members, group, sentiment, sums, counts, kocs, float(spread), float(koc_factor),
        float(decay_factor), s, BLOCK_SIZE,
    )
    return True, s


@nb.njit(cache=True, nogil=True, inline="always")
def _post_in(
    members, muted, sentiment, stage, segment, p_convert, p_recover, u_convert, u_recover,
    engaged_code, at_risk_code, dormant_code, won, back,
):  # pragma: no cover - compiled
    recover = u_recover.shape[0] > 0
    w = 0
    r = 0
    k = 0
    for t in range(members.shape[0]):
        i = members[t]
        if muted[i]:
            continue
        damp = 1.0 - np.float64(sentiment[i])
        st = stage[i]
        if st == engaged_code and u_convert[k] < p_convert[segment[i]] * damp:
            won[w] = i
            w += 1
        if recover and (st == at_risk_code or st == dormant_code) and (  # noqa: SIM109
            u_recover[k] < p_recover * damp
        ):
            back[r] = i
            r += 1
        k += 1
    return w, r


def _group_post_py(  # pragma: no cover - compiled
    members, muted, sentiment, stage, segment, p_convert, p_recover, u_convert, u_recover,
    engaged_code, at_risk_code, dormant_code, offsets, block,
):
    n = members.shape[0]
    nblocks = offsets.shape[0] - 1
    won = np.empty(n, dtype=np.int64)
    back = np.empty(n, dtype=np.int64)
    cw = np.empty(nblocks, dtype=np.int64)
    cb = np.empty(nblocks, dtype=np.int64)
    recover = u_recover.shape[0] > 0
    for b in nb.prange(nblocks):
        lo = b * block
        hi = min(n, lo + block)
        k0 = offsets[b]
        k1 = offsets[b + 1]
        ur = u_recover[k0:k1] if recover else u_recover
        w, r = _post_in(
            members[lo:hi], muted, sentiment, stage, segment, p_convert, p_recover,
            u_convert[k0:k1], ur, engaged_code, at_risk_code, dormant_code, won[lo:hi],
            back[lo:hi],
        )
        cw[b] = w
        cb[b] = r
    return won, cw, back, cb


_group_post = _twins(_group_post_py)


def group_post_effects(
    members: np.ndarray,
    muted: np.ndarray,
    sentiment: np.ndarray,
    stage: np.ndarray,
    segment: np.ndarray,
    p_convert: np.ndarray,
    p_recover: float,
    u_convert: np.ndarray,
    u_recover: np.ndarray,
    engaged_code: int,
    at_risk_code: int,
    dormant_code: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Today's posts reach the members who have not muted (in order, one uniform each per
    purpose): engaged prospects convert with ``p_convert[segment]`` and lapsing customers
    come back with ``p_recover``, both damped by 1 − sentiment. Returns (won, back).
    Block-parallel (see above: ranks of unmuted members per block)."""
    offsets = _unmuted_offsets(members, muted)
    if u_convert.shape[0] != offsets[-1]:
        raise ValueError(
            f"group_post_effects: {u_convert.shape[0]} uniforms for {offsets[-1]} listeners"
        )
    par = _parallel(members.shape[0] * _GATHER_WORK)
    won, cw, back, cb = _group_post[par](
        members, muted, sentiment, stage, segment, p_convert, float(p_recover), u_convert,
        u_recover, int(engaged_code), int(at_risk_code), int(dormant_code), offsets, BLOCK_SIZE,
    )
    return _concat_blocks(won, cw), _concat_blocks(back, cb)


# ---------------------------------------------------------------------------- population scans


@nb.njit(cache=True, nogil=True, inline="always")
def _replace_block(a, old, new):  # pragma: no cover - compiled
    for i in range(a.shape[0]):
        if a[i] == old:
            a[i] = new


def _replace_value_py(a, old, new, block):  # pragma: no cover - compiled
    n = a.shape[0]
    for b in nb.prange((n + block - 1) // block):
        _replace_block(a[b * block:min(n, (b + 1) * block)], old, new)


_replace_value = _twins(_replace_value_py)


def replace_value(a: np.ndarray, old, new) -> None:
    """``a[a == old] = new`` in place, in one pass, block-parallel (numpy's boolean-mask
    assignment of a 1M-customer stage array took 3.6 ms against 0.12 ms here: the lifecycle
    does it daily). Each slot is its own: the same result for any thread count."""
    _replace_value[_parallel(a.shape[0])](a, old, new, BLOCK_SIZE)


def _compact_py(tmp, counts, offsets, block):  # pragma: no cover - compiled
    out = np.empty(offsets[-1], dtype=np.int64)
    for b in nb.prange(counts.shape[0]):
        o = offsets[b]
        lo = b * block
        for j in range(counts[b]):
            out[o + j] = tmp[lo + j]
    return out


_compact = _twins(_compact_py)


def _blocks(n, block):  # pragma: no cover - compiled
    """Scratch for a block-wise scan: ``tmp`` (one slot per element; allocated here, in
    numba, so only the pages written are ever touched — numpy's own allocation asks for huge
    pages, and a 10M-slot scratch then cost ~25 ms of page zeroing a call) and per-block hit
    counts."""
    return np.empty(n, dtype=np.int64), np.empty((n + block - 1) // block, dtype=np.int64)


_blocks = nb.njit(cache=True, nogil=True)(_blocks)


#: Elements per chunk of a population scan: a chunk's hits are counted in one vectorised pass
#: (a byte each), and only chunks with hits are walked again; 64 is one cache line of int8.
SCAN_CHUNK = 64
@nb.njit(cache=True, nogil=True, inline="always")
def _emit(buf, base, out, k):  # pragma: no cover - compiled
    """Write ``base + j`` for every ``buf[j] == 1`` (``buf``: SCAN_CHUNK bytes of 0/1) at
    ``out[k:]`` in order; returns the new ``k``. Branch-free: ``out[k]`` is written for every
    byte, but ``k`` only passes the hits, so no write goes past the last hit's slot (inside
    the block's stretch of the scratch). From the byte buffer rather than the array itself:
    2.3 against 3.2 ms for 10M int8 at 0.3 % hits; a word-at-a-time walk by trailing zeros
    was no faster (2.5 ms) — the count pass and the chunk loop dominate when hits are rare."""
    for j in range(SCAN_CHUNK):
        out[k] = base + j
        k += buf[j]
    return k


# One predicate each: ``_<p>_count`` counts a whole chunk's hits (fixed length, so LLVM
# vectorises it: 0.37 ms for 10M int8 against 1.2 ms for numba's plain count loop);
# ``_<p>_bytes`` writes ``m`` elements' 0/1 into ``buf`` (zeros after them).


@nb.njit(cache=True, nogil=True, inline="always")
def _eq_count(a, v, i0):  # pragma: no cover - compiled
    x = np.uint8(0)
    for i in range(i0, i0 + SCAN_CHUNK):
        x += np.uint8(a[i] == v)
    return x


@nb.njit(cache=True, nogil=True, inline="always")
def _eq_bytes(a, v, i0, m, buf):  # pragma: no cover - compiled
    for j in range(m):
        buf[j] = np.uint8(a[i0 + j] == v)
    for j in range(m, SCAN_CHUNK):
        buf[j] = 0


@nb.njit(cache=True, nogil=True, inline="always")
def _ge_count(a, v, i0):  # pragma: no cover - compiled
    x = np.uint8(0)
    for i in range(i0, i0 + SCAN_CHUNK):
        x += np.uint8(a[i] >= v)
    return x


@nb.njit(cache=True, nogil=True, inline="always")
def _ge_bytes(a, v, i0, m, buf):  # pragma: no cover - compiled
    for j in range(m):
        buf[j] = np.uint8(a[i0 + j] >= v)
    for j in range(m, SCAN_CHUNK):
        buf[j] = 0


@nb.njit(cache=True, nogil=True, inline="always")
def _cmp_block(a, v, mode, base, out):  # pragma: no cover - compiled
    """One block's ``a == v`` (``mode`` 0) or ``a >= v`` (1) slots (``a``: the block's slice;
    slot = ``base`` + position) written at the start of ``out`` (its stretch of the scratch)
    in order; returns how many. Chunk counts first; the block's bytes stay in cache for the
    second look at the chunks with hits. Loops over slices from 0: over ``range(lo, hi)``
    of the whole arrays LLVM did not vectorise the count (7.1 against 0.37 ms at 10M)."""
    n = a.shape[0]
    nfull = n // SCAN_CHUNK
    cc = np.empty(nfull, dtype=np.uint8)
    buf = np.empty(SCAN_CHUNK, dtype=np.uint8)
    if mode == 0:
        for c in range(nfull):
            cc[c] = _eq_count(a, v, c * SCAN_CHUNK)
    else:
        for c in range(nfull):
            cc[c] = _ge_count(a, v, c * SCAN_CHUNK)
    k = 0
    for c in range(nfull + 1):
        i0 = c * SCAN_CHUNK
        m = min(SCAN_CHUNK, n - i0)
        if m <= 0 or (c < nfull and cc[c] == 0):
            continue
        if mode == 0:
            _eq_bytes(a, v, i0, m, buf)
        else:
            _ge_bytes(a, v, i0, m, buf)
        k = _emit(buf, base + i0, out, k)
    return k


def _where_cmp_py(a, value, mode, block):  # pragma: no cover - compiled
    """Blocks of ``a == value`` (``mode`` 0) or ``a >= value`` (1) hits: each block's at the
    start of its own stretch of ``tmp``; ``counts[b]`` = hits of block ``b``."""
    n = a.shape[0]
    tmp, counts = _blocks(n, block)
    for b in nb.prange(counts.shape[0]):
        lo = b * block
        hi = min(n, lo + block)
        counts[b] = _cmp_block(a[lo:hi], value, mode, lo, tmp[lo:hi])
    return tmp, counts


@nb.njit(cache=True, nogil=True, inline="always")
def _pair_block(a, v1, v2, base, o1, o2):  # pragma: no cover - compiled
    """One block's ``a == v1`` and ``a == v2`` slots (one counting pass for both)."""
    n = a.shape[0]
    nfull = n // SCAN_CHUNK
    c1 = np.empty(nfull, dtype=np.uint8)
    c2 = np.empty(nfull, dtype=np.uint8)
    buf = np.empty(SCAN_CHUNK, dtype=np.uint8)
    for c in range(nfull):
        x1 = np.uint8(0)
        x2 = np.uint8(0)
        for i in range(c * SCAN_CHUNK, (c + 1) * SCAN_CHUNK):
            s = a[i]
            x1 += np.uint8(s == v1)
            x2 += np.uint8(s == v2)
        c1[c] = x1
        c2[c] = x2
    k1 = 0
    k2 = 0
    for c in range(nfull + 1):
        i0 = c * SCAN_CHUNK
        m = min(SCAN_CHUNK, n - i0)
        if m <= 0:
            continue
        if c == nfull or c1[c]:
            _eq_bytes(a, v1, i0, m, buf)
            k1 = _emit(buf, base + i0, o1, k1)
        if c == nfull or c2[c]:
            _eq_bytes(a, v2, i0, m, buf)
            k2 = _emit(buf, base + i0, o2, k2)
    return k1, k2


def _where_pair_py(a, v1, v2, block):  # pragma: no cover - compiled
    n = a.shape[0]
    t1, c1 = _blocks(n, block)
    t2, c2 = _blocks(n, block)
    for b in nb.prange(c1.shape[0]):
        lo = b * block
        hi = min(n, lo + block)
        k1, k2 = _pair_block(a[lo:hi], v1, v2, lo, t1[lo:hi], t2[lo:hi])
        c1[b] = k1
        c2[b] = k2
    return t1, c1, t2, c2


@nb.njit(cache=True, nogil=True, inline="always")
def _changed_block(s, ps, r, pr, base, out):  # pragma: no cover - compiled
    """One block's slots whose stage or ring differs from yesterday's (slices, as above)."""
    n = s.shape[0]
    nfull = n // SCAN_CHUNK
    cc = np.empty(nfull, dtype=np.uint8)
    buf = np.empty(SCAN_CHUNK, dtype=np.uint8)
    for c in range(nfull):
        x = np.uint8(0)
        for i in range(c * SCAN_CHUNK, (c + 1) * SCAN_CHUNK):
            x += np.uint8((s[i] != ps[i]) | (r[i] != pr[i]))
        cc[c] = x
    k = 0
    for c in range(nfull + 1):
        i0 = c * SCAN_CHUNK
        m = min(SCAN_CHUNK, n - i0)
        if m <= 0 or (c < nfull and cc[c] == 0):
            continue
        for j in range(m):
            buf[j] = np.uint8((s[i0 + j] != ps[i0 + j]) | (r[i0 + j] != pr[i0 + j]))
        for j in range(m, SCAN_CHUNK):
            buf[j] = 0
        k = _emit(buf, base + i0, out, k)
    return k


def _changed_py(stage, prev_stage, ring, prev_ring, block):  # pragma: no cover - compiled
    n = stage.shape[0]
    tmp, counts = _blocks(n, block)
    for b in nb.prange(counts.shape[0]):
        lo = b * block
        hi = min(n, lo + block)
        counts[b] = _changed_block(stage[lo:hi], prev_stage[lo:hi], ring[lo:hi],
                                   prev_ring[lo:hi], lo, tmp[lo:hi])
    return tmp, counts


@nb.njit(cache=True, nogil=True, inline="always")
def _recount_block(seg, s, ps, r, pr, w, unit, n_stages, n_rings, delta):
    # pragma: no cover - compiled
    """One block (slices) of the recorder's daily recount: every row whose stage or ring
    changed moves its weight (1, or the whole-number weight) from yesterday's (segment,
    stage, ring) cell to today's in ``delta`` (the block's row), and yesterday's copies take
    today's values. Rows are found as in :func:`changed_slots` (byte counts per chunk, then
    only the chunks with a change), and updated while the block's bytes are in cache."""
    n = s.shape[0]
    nfull = n // SCAN_CHUNK
    cc = np.empty(nfull, dtype=np.uint8)
    for c in range(nfull):
        x = np.uint8(0)
        for i in range(c * SCAN_CHUNK, (c + 1) * SCAN_CHUNK):
            x += np.uint8((s[i] != ps[i]) | (r[i] != pr[i]))
        cc[c] = x
    for c in range(nfull + 1):
        i0 = c * SCAN_CHUNK
        i1 = min(n, i0 + SCAN_CHUNK)
        if i1 <= i0 or (c < nfull and cc[c] == 0):
            continue
        for i in range(i0, i1):
            if s[i] != ps[i] or r[i] != pr[i]:
                g = np.int64(seg[i]) * n_stages
                x = np.int64(1) if unit else np.int64(w[i])
                delta[(g + s[i]) * n_rings + r[i]] += x
                delta[(g + ps[i]) * n_rings + pr[i]] -= x
                ps[i] = s[i]
                pr[i] = r[i]


def _recount_py(segment, stage, prev_stage, ring, prev_ring, weight, unit, n_stages, n_rings,
                n_cells, block):  # pragma: no cover - compiled
    n = stage.shape[0]
    nblocks = (n + block - 1) // block
    part = _zeros2i(nblocks, n_cells)
    for b in nb.prange(nblocks):
        lo = b * block
        hi = min(n, lo + block)
        w = weight[lo:hi] if not unit else weight[:0]
        _recount_block(segment[lo:hi], stage[lo:hi], prev_stage[lo:hi], ring[lo:hi],
                       prev_ring[lo:hi], w, unit, n_stages, n_rings, part[b])
    return sum_blocks(part)


_recount = _twins(_recount_py)


def recount_changed(
    segment: np.ndarray, stage: np.ndarray, prev_stage: np.ndarray, ring: np.ndarray,
    prev_ring: np.ndarray, weight: np.ndarray | None, n_stages: int, n_rings: int,
    n_segments: int,
) -> np.ndarray:
    """The recorder's daily change of its (segment, stage, ring) counts: +weight in today's
    cell and −weight in yesterday's for every row whose stage or ring changed (``weight``:
    None for one customer a row, else whole numbers), with ``prev_stage`` / ``prev_ring``
    brought up to today in place. Cell = (segment × n_stages + stage) × n_rings + ring.
    Integers, so the blocks' sums (in block order) are exact on any thread count; this is
    what ``changed_slots`` + six gathers + two ``bincount`` did, in one pass per block with no
    gathers (the rows' bytes are read where the scan finds them)."""
    unit = weight is None
    w = np.empty(0, dtype=np.float64) if unit else weight
    return _recount[_parallel(stage.shape[0])](
        segment, stage, prev_stage, ring, prev_ring, w, unit, int(n_stages), int(n_rings),
        int(n_segments) * int(n_stages) * int(n_rings), BLOCK_SIZE)


_where_cmp = _twins(_where_cmp_py)
_where_pair = _twins(_where_pair_py)
_changed = _twins(_changed_py)


def _scan_done(tmp: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The blocks' hits (each block's at the start of its stretch of ``tmp``) concatenated in
    block order: sorted slots, the same for any thread count."""
    offsets = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return _compact[_parallel(int(offsets[-1]))](tmp, counts, offsets, BLOCK_SIZE)


def where_equal(a: np.ndarray, value) -> np.ndarray:
    """``np.flatnonzero(a == value)``, block by block (blocks in parallel above
    ``PARALLEL_MIN_WORK``): a vectorised count per chunk of :data:`SCAN_CHUNK`, then only the
    chunks with hits are walked. 10M int8 at 0.3 % hits: ~1.4 ms against 5.1 ms for one
    branch-free loop and 2.4-5.3 ms for numpy's compare + flatnonzero (one thread)."""
    return _scan_done(*_where_cmp[_parallel(a.shape[0])](a, value, 0, BLOCK_SIZE))


def where_at_least(a: np.ndarray, value) -> np.ndarray:
    """``np.flatnonzero(a >= value)`` (e.g. group members: group ≥ 0), as :func:`where_equal`."""
    return _scan_done(*_where_cmp[_parallel(a.shape[0])](a, value, 1, BLOCK_SIZE))


def where_equal_pair(a: np.ndarray, v1, v2) -> tuple[np.ndarray, np.ndarray]:
    """``(np.flatnonzero(a == v1), np.flatnonzero(a == v2))`` in one counting pass (the
    lifecycle's at-risk and dormant customers), the same code on one thread as on many."""
    t1, c1, t2, c2 = _where_pair[_parallel(a.shape[0])](a, v1, v2, BLOCK_SIZE)
    return _scan_done(t1, c1), _scan_done(t2, c2)


def changed_slots(
    stage: np.ndarray, prev_stage: np.ndarray, ring: np.ndarray, prev_ring: np.ndarray
) -> np.ndarray:
    """Rows whose stage or ring differs from yesterday's (the recorder's daily recount), as
    :func:`where_equal`: one vectorised pass over the four arrays, then the chunks with hits."""
    return _scan_done(*_changed[_parallel(stage.shape[0])](
        stage, prev_stage, ring, prev_ring, BLOCK_SIZE))


# ---------------------------------------------------------------------------- population passes
# Daily passes over every customer that used to be numpy one-liners in the modules. Each is
# exact per element (integers, or one float operation per slot), so blocks in parallel give
# the same bits as one pass; on one thread, or below ``PARALLEL_MIN_WORK``, the numpy form
# runs as before (docs/performance.md, "the serial share of a day", says which is faster where).


@nb.njit(cache=True, nogil=True, inline="always")
def _count_ge_in(a, value):  # pragma: no cover - compiled
    """``a >= value`` hits of one block: byte counts per chunk of :data:`SCAN_CHUNK` (a loop
    LLVM vectorises), added after — 3.6 against 5.5 ms for one int64 count over 10M int32
    (numpy's compare + count_nonzero: 6.1 ms), one thread."""
    n = a.shape[0]
    nfull = n // SCAN_CHUNK
    cc = np.empty(nfull, dtype=np.uint8)
    for c in range(nfull):
        cc[c] = _ge_count(a, value, c * SCAN_CHUNK)
    t = 0
    for c in range(nfull):
        t += np.int64(cc[c])
    for i in range(nfull * SCAN_CHUNK, n):
        t += a[i] >= value
    return t


def _count_at_least_py(a, value, block):  # pragma: no cover - compiled
    n = a.shape[0]
    nblocks = (n + block - 1) // block
    counts = np.empty(nblocks, dtype=np.int64)
    for b in nb.prange(nblocks):
        counts[b] = _count_ge_in(a[b * block:min(n, (b + 1) * block)], value)
    t = 0
    for b in range(nblocks):  # a plain loop: counts.sum() would be a second parallel region
        t += counts[b]
    return t


_count_at_least = _twins(_count_at_least_py)


def count_at_least(a: np.ndarray, value) -> int:
    """``np.count_nonzero(a >= value)`` (the data collector's acquisitions: converted on day
    1 or later), block counts added: an integer, the same for any thread count."""
    return int(_count_at_least[_parallel(a.shape[0])](a, value, BLOCK_SIZE))


def _to_float32_py(a, out, block):  # pragma: no cover - compiled
    n = a.shape[0]
    for b in nb.prange((n + block - 1) // block):
        for i in range(b * block, min(n, (b + 1) * block)):
            out[i] = np.float32(a[i])


_to_float32 = _twins(_to_float32_py)


def to_float32(a: np.ndarray) -> np.ndarray:
    """``a.astype(np.float32)`` of a 1-d float64 array, block-parallel above
    ``PARALLEL_MIN_WORK`` (the money layer's one snapshot of every customer's value: ~60 ms
    serial at 10M). One rounding per element (round to nearest, as numpy's cast): the same
    bits on any thread count. Below the threshold (and on one thread) numpy's own cast runs:
    its SIMD loop beat the serial twin, 16 against 20-23 ms CPU at 10M (load 9-12)."""
    if a.ndim != 1 or a.dtype != np.float64 or not _parallel(a.shape[0]):
        return a.astype(np.float32)
    out = np.empty(a.shape[0], dtype=np.float32)
    _to_float32[1](a, out, BLOCK_SIZE)
    return out


@nb.njit(cache=True, nogil=True, inline="always")
def _max_bits_in(bits):  # pragma: no cover - compiled
    """The largest of one block's integer bit patterns: an integer maximum, which LLVM
    vectorises (a float maximum does not vectorise without fastmath: 25-30 against 1.8 ms
    for 10M float32, one thread, measured)."""
    m = bits[0]
    for i in range(1, bits.shape[0]):
        x = bits[i]
        m = max(m, x)
    return m


def _max_bits_py(bits, block):  # pragma: no cover - compiled
    n = bits.shape[0]
    nblocks = (n + block - 1) // block
    part = np.empty(nblocks, dtype=bits.dtype)
    for b in nb.prange(nblocks):
        part[b] = _max_bits_in(bits[b * block:min(n, (b + 1) * block)])
    m = part[0]
    for b in range(1, nblocks):  # a plain loop: part.max() would be a second parallel region
        m = max(m, part[b])
    return m


_max_bits = _twins(_max_bits_py)
_BITS = {np.dtype(np.float32): np.int32, np.dtype(np.float64): np.int64}


def max_nonnegative(a: np.ndarray) -> float:
    """``float(a.max())`` of a float array whose values are all ≥ 0 (hazards, multipliers),
    block-parallel above ``PARALLEL_MIN_WORK`` (the lifecycle's daily thinning bound over
    every customer's hazard was the largest serial pass of a 10M day: ~3 ms).

    A non-negative float orders as its bit pattern read as a signed integer, so the integer
    maximum of the bit patterns is the float maximum exactly — the same value on any thread
    count (a maximum has no rounding) and the same as numpy's: a NaN (positive sign bit,
    above every finite pattern) comes back as NaN; a negative value sorts below every
    non-negative one, so it changes nothing unless all values are negative (then use numpy)."""
    if a.size == 0:
        return float(a.max())  # numpy's own error for an empty array
    bits_type = _BITS.get(a.dtype)
    if bits_type is None or not a.flags.c_contiguous or a.ndim != 1:
        return float(a.max())
    bits = a.view(bits_type)
    m = _max_bits[_parallel(a.shape[0])](bits, BLOCK_SIZE)
    value = float(np.array([m], dtype=bits_type).view(a.dtype)[0])
    return value if value >= 0.0 or value != value else float(a.max())


@nb.njit(cache=True, nogil=True, inline="always")
def _scale_in(a, factor):  # pragma: no cover - compiled
    for i in range(a.shape[0]):
        a[i] *= factor


def _scale_py(a, factor, block):  # pragma: no cover - compiled
    n = a.shape[0]
    for b in nb.prange((n + block - 1) // block):
        _scale_in(a[b * block:min(n, (b + 1) * block)], factor)


_scale = _twins(_scale_py)


def scale_inplace(a: np.ndarray, factor) -> None:
    """``a *= factor`` in place (contact fatigue's daily decay over every customer): one
    multiplication per slot in ``a``'s own dtype (``factor`` is cast to it first, as numpy
    does for a scalar), so the same bits in any order."""
    mixed = isinstance(factor, np.generic) and factor.dtype != a.dtype
    if mixed or not _parallel(a.shape[0]):
        a *= factor  # (numpy computes a mixed-dtype product in the wider type: kept as it is)
        return
    _scale[1](a, a.dtype.type(factor), BLOCK_SIZE)


@nb.njit(cache=True, nogil=True, inline="always")
def _advocates_block(stage, adv, lo_s, hi_s, base, out):  # pragma: no cover - compiled
    """One block (slices): slots whose advocate flag (``lo_s <= stage <= hi_s``) differs
    from ``adv``, written at the start of ``out`` in order, their ``adv`` flipped; returns
    how many. Only chunks with a change are written: elsewhere ``adv`` holds today's flag."""
    n = stage.shape[0]
    nfull = n // SCAN_CHUNK
    cc = np.empty(nfull, dtype=np.uint8)
    buf = np.empty(SCAN_CHUNK, dtype=np.uint8)
    for c in range(nfull):
        x = np.uint8(0)
        for i in range(c * SCAN_CHUNK, (c + 1) * SCAN_CHUNK):
            s = stage[i]
            x += np.uint8(((s >= lo_s) & (s <= hi_s)) != adv[i])
        cc[c] = x
    k = 0
    for c in range(nfull + 1):
        i0 = c * SCAN_CHUNK
        m = min(SCAN_CHUNK, n - i0)
        if m <= 0 or (c < nfull and cc[c] == 0):
            continue
        for j in range(m):
            s = stage[i0 + j]
            buf[j] = np.uint8(((s >= lo_s) & (s <= hi_s)) != adv[i0 + j])
        for j in range(m, SCAN_CHUNK):
            buf[j] = 0
        k0 = k
        k = _emit(buf, base + i0, out, k)
        for t in range(k0, k):
            p = out[t] - base
            adv[p] = not adv[p]
    return k


def _advocates_py(stage, adv, lo, hi, block):  # pragma: no cover - compiled
    n = stage.shape[0]
    tmp, counts = _blocks(n, block)
    for b in nb.prange(counts.shape[0]):
        s = b * block
        e = min(n, s + block)
        counts[b] = _advocates_block(stage[s:e], adv[s:e], lo, hi, s, tmp[s:e])
    return tmp, counts


_advocates = _twins(_advocates_py)


def advocate_changes(
    stage: np.ndarray, adv: np.ndarray, lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Word of mouth's daily recount: today's advocate flags (``lo <= stage <= hi``), the
    slots whose flag changed since ``adv`` (yesterday's) and each one's sign (+1 became an
    advocate, −1 stopped; int32). ``adv`` is updated in place and returned. One vectorised
    count per chunk of :data:`SCAN_CHUNK`, then only the chunks with a change (~0.1 % of
    customers a day in core_ws) are walked and written — numpy's three passes (compare,
    ``!=``, ``flatnonzero``) wrote two population-length arrays a day. Block-parallel above
    ``PARALLEL_MIN_WORK``, the slots concatenated in block order (sorted)."""
    tmp, counts = _advocates[_parallel(stage.shape[0])](
        stage, adv, np.int8(lo), np.int8(hi), BLOCK_SIZE)
    changed = _scan_done(tmp, counts)
    sign = np.where(adv[changed], 1, -1).astype(np.int32)
    return adv, changed, sign


#: Work of one word-of-mouth candidate, in scan elements: up to three gathers at random slots
#: of population-length arrays (stage; for prospects also ties count and 1 / degree), ~55 ns
#: a candidate at 10M against ~1.3 ns a scan element (measured: 5.5 ms a day for ~100k
#: candidates, one thread).
_CANDIDATE_WORK = 40


def _wom_keep_py(cand, counts, inv_degree, stage, q, prospect_max, key, p_max, block):
    # pragma: no cover - compiled
    """Blocks of candidates kept by word of mouth's thinning: each block's kept slots at the
    start of its own stretch of ``tmp``; ``kept[b]``: how many."""
    n = cand.shape[0]
    tmp, kept = _blocks(n, block)
    for b in nb.prange(kept.shape[0]):
        lo = b * block
        k = lo
        for t in range(lo, min(n, lo + block)):
            c = cand[t]
            if stage[c] <= prospect_max:  # others have hazard 0: never kept, ties not read
                h = q * counts[c] * inv_degree[c]
                tmp[k] = c
                k += _unit(key, c) * p_max < h
        kept[b] = k - lo
    return tmp, kept


_wom_keep = _twins(_wom_keep_py)


def wom_adopt(
    cand: np.ndarray, counts: np.ndarray, inv_degree: np.ndarray, stage: np.ndarray,
    q: float, prospect_max: int, key: int, p_max: float,
) -> np.ndarray:
    """Word of mouth's thinning keep, fused: the candidates ``c`` with ``uniform_at(key, c)
    × p_max < hazard``, hazard = ``q`` × advocating ties × 1 / degree for prospects
    (``stage <= prospect_max``) and 0 for the others — what
    :meth:`simulation.rng.SlotDraws.thinned` keeps with numpy's ``np.where(stage[cand] <=
    prospect_max, q * counts[cand] * inv_degree[cand], 0.0)``, the same two products and
    the same comparison per candidate, in one block-parallel pass without the hazards' and
    the uniforms' arrays. A candidate who is no prospect is never kept (u × p_max < 0 is
    false), so its ties and its uniform are not read (at 10M, ~2/3 of the candidates late in
    a core_ws year: two cache misses saved each)."""
    cand = np.ascontiguousarray(cand, dtype=np.int64)
    tmp, kept = _wom_keep[_parallel(cand.shape[0] * _CANDIDATE_WORK)](
        cand, counts, inv_degree, stage, float(q), np.int8(prospect_max), np.uint64(key),
        float(p_max), BLOCK_SIZE)
    offsets = np.zeros(kept.size + 1, dtype=np.int64)
    np.cumsum(kept, out=offsets[1:])
    return _compact[_parallel(int(offsets[-1]))](tmp, kept, offsets, BLOCK_SIZE)


def _lapse_py(cand, hazard, ring, ring_mult, stage, active, at_risk, key, p_max, block):
    # pragma: no cover - compiled
    n = cand.shape[0]
    for b in nb.prange((n + block - 1) // block):
        for t in range(b * block, min(n, (b + 1) * block)):
            c = cand[t]
            if stage[c] == active:  # the others' probability is 0: never kept
                h = hazard[c] * ring_mult[ring[c]]
                if _unit(key, c) * p_max < h:
                    stage[c] = at_risk


_lapse = _twins(_lapse_py)


def lapse_active(
    cand: np.ndarray, hazard: np.ndarray, ring: np.ndarray, ring_mult: np.ndarray,
    stage: np.ndarray, active: int, at_risk: int, key: int, p_max: float,
) -> None:
    """The lifecycle's lapse thinning keep, fused with its probabilities and its write: every
    candidate ``c`` with ``stage[c] == active`` and ``uniform_at(key, c) × p_max < hazard[c]
    × ring_mult[ring[c]]`` moves to ``at_risk`` — what ``stage[thinned(…, lapse_p)] =
    at_risk`` did with ``lapse_p = np.where(stage[cand] == active, hazard[cand] *
    ring_mult[ring[cand]], 0.0)`` (the product in the arrays' dtype, float32 for sampled
    hazards, as numpy's), without its five gathers and three temporaries. Each candidate
    reads and writes only its own slot, so blocks in parallel give the same stages."""
    cand = np.ascontiguousarray(cand, dtype=np.int64)
    _lapse[_parallel(cand.shape[0] * _CANDIDATE_WORK)](
        cand, hazard, ring, ring_mult, stage, np.int8(active), np.int8(at_risk),
        np.uint64(key), float(p_max), BLOCK_SIZE)


def _gated_py(cand, stage, stage_ok, ring, ring_ok, use_ring, screened, use_screened, segment,
              reach, block):  # pragma: no cover - compiled
    n = cand.shape[0]
    out = np.empty(n, dtype=np.float64)
    for b in nb.prange((n + block - 1) // block):
        for t in range(b * block, min(n, (b + 1) * block)):
            c = cand[t]
            ok = stage_ok[stage[c]]
            if use_ring:
                ok = ok and ring_ok[ring[c]]
            if use_screened:
                ok = ok and screened[c]
            out[t] = reach[segment[c]] if ok else 0.0
    return out


_gated = _twins(_gated_py)


def gated_probs(
    cand: np.ndarray, stage: np.ndarray, stage_ok: np.ndarray, segment: np.ndarray,
    reach: np.ndarray, ring: np.ndarray | None = None, ring_ok: np.ndarray | None = None,
    screened: np.ndarray | None = None,
) -> np.ndarray:
    """A thinning's probabilities: ``reach[segment[c]]`` for candidates ``c`` whose stage is
    targeted (``stage_ok[stage[c]]``; and ``ring_ok[ring[c]]``, and ``screened[c]``, when
    given), else 0.0 — numpy's ``np.where(stage_ok[stage[cand]] & …, reach[segment[cand]],
    0.0)`` in one pass instead of three to five gathers, the same values (channels' and the
    lifecycle operations' reach, daily)."""
    use_ring = ring is not None
    use_screened = screened is not None
    r = ring if use_ring else stage
    r_ok = ring_ok if use_ring else stage_ok
    sc = screened if use_screened else stage_ok
    return _gated[_parallel(cand.shape[0] * _GATHER_WORK)](
        np.ascontiguousarray(cand, dtype=np.int64), stage, stage_ok, r, r_ok, use_ring, sc,
        use_screened, segment, np.ascontiguousarray(reach, dtype=np.float64), BLOCK_SIZE,
    )


@nb.njit(cache=True, nogil=True, inline="always")
def _convert_in(idx, key, segment, ring_cum, ring_codes, stage, converted_day, acquired_via,
                ring, aware_day, day, via, code, prospect_max):  # pragma: no cover - compiled
    bad = 0
    n_cut = ring_cum.shape[1]
    for t in range(idx.shape[0]):
        i = idx[t]
        bad += stage[i] > prospect_max
        u = _unit(key, i)
        g = segment[i]
        pick = 0
        for r in range(n_cut):
            pick += u > ring_cum[g, r]
        stage[i] = code
        converted_day[i] = day
        acquired_via[i] = via
        ring[i] = ring_codes[pick]
        if aware_day[i] < 0:
            aware_day[i] = day
    return bad


def _convert_py(idx, key, segment, ring_cum, ring_codes, stage, converted_day, acquired_via,
                ring, aware_day, day, via, code, prospect_max, block):
    # pragma: no cover - compiled
    n = idx.shape[0]
    nblocks = (n + block - 1) // block
    bad = np.empty(nblocks, dtype=np.int64)
    for b in nb.prange(nblocks):
        lo = b * block
        hi = min(n, lo + block)
        bad[b] = _convert_in(idx[lo:hi], key, segment, ring_cum, ring_codes, stage,
                             converted_day, acquired_via, ring, aware_day, day, via, code,
                             prospect_max)
    t = 0
    for b in range(nblocks):  # a plain loop: bad.sum() would be a second parallel region
        t += bad[b]
    return t


_convert = _twins(_convert_py)

#: Work of one converted customer, in scan elements: a uniform and eight reads or writes at
#: its slot of population-length arrays (segment, stage, day, source, ring, aware day) —
#: cache misses at 10M.
_CONVERT_WORK = 40


def convert_slots(
    idx: np.ndarray, key: int, segment: np.ndarray, ring_cum: np.ndarray,
    ring_codes: np.ndarray, stage: np.ndarray, converted_day: np.ndarray,
    acquired_via: np.ndarray, ring: np.ndarray, aware_day: np.ndarray, day: int, via: int,
    code: int, prospect_max: int,
) -> int:
    """``model.convert``'s writes in one pass over ``idx``: each slot ``i`` gets stage
    ``code``, conversion day ``day``, source ``via``, the ring ``ring_codes[k]`` with k = how
    many of its segment's cumulative ring shares ``ring_cum[segment[i]]`` its uniform
    (``key``, i) exceeds (Lifecycle.draw_rings: the same uniform and comparisons), and its
    aware day if it had none. What numpy did in ~10 fancy-index passes (gathers, a (k, 3)
    share table and its cumsum, scatters); every slot is its own, so blocks in parallel give
    the same arrays (a slot twice in ``idx`` gets the same values twice). Returns how many
    slots were past ``prospect_max`` before (the caller's error: already customers)."""
    idx = np.ascontiguousarray(idx, dtype=np.int64)
    return int(_convert[_parallel(idx.shape[0] * _CONVERT_WORK)](
        idx, np.uint64(key), segment, ring_cum, ring_codes, stage, converted_day, acquired_via,
        ring, aware_day, int(day), int(via), np.int8(code), np.int8(prospect_max), BLOCK_SIZE))


@nb.njit(cache=True, nogil=True)
def _segment_counts(segment, idx, n_segments):  # pragma: no cover - compiled
    out = np.zeros(n_segments, dtype=np.int64)
    for t in range(idx.shape[0]):
        out[segment[idx[t]]] += 1
    return out


def segment_counts(segment: np.ndarray, idx: np.ndarray, n_segments: int) -> np.ndarray:
    """``np.bincount(segment[idx], minlength=n_segments)`` without the gathered copy and
    bincount's range checks (groups' and advisers' daily cost split over ~300k members)."""
    return _segment_counts(segment, np.ascontiguousarray(idx, dtype=np.int64), n_segments)


# ---------------------------------------------------------------------------- sorted sets
# Groups' members and advisers' served customers are kept as sorted slot arrays between days
# (O(changes) upkeep instead of whole-population scans); these keep them sorted in one pass.


@nb.njit(cache=True, nogil=True)
def drop_sorted(a, b):  # pragma: no cover - compiled
    """``a`` without the elements of ``b`` (both sorted ascending, no repeats; elements of
    ``b`` not in ``a`` are ignored): one merge pass, a new array."""
    out = np.empty(a.shape[0], dtype=a.dtype)
    k = 0
    j = 0
    nb_ = b.shape[0]
    for i in range(a.shape[0]):
        x = a[i]
        while j < nb_ and b[j] < x:
            j += 1
        if j < nb_ and b[j] == x:
            j += 1
            continue
        out[k] = x
        k += 1
    return out[:k]


@nb.njit(cache=True, nogil=True)
def merge_sorted(a, b):  # pragma: no cover - compiled
    """The sorted union of ``a`` and ``b`` (each sorted ascending, no element in both):
    ``np.union1d`` in one merge pass."""
    na = a.shape[0]
    nb_ = b.shape[0]
    out = np.empty(na + nb_, dtype=a.dtype)
    i = 0
    j = 0
    k = 0
    while i < na and j < nb_:
        if a[i] < b[j]:
            out[k] = a[i]
            i += 1
        else:
            out[k] = b[j]
            j += 1
        k += 1
    while i < na:
        out[k] = a[i]
        i += 1
        k += 1
    while j < nb_:
        out[k] = b[j]
        j += 1
        k += 1
    return out
