"""Named random streams spawned from one root seed, and draws keyed per customer slot.

Every module draws from its own stream, keyed by a stable name, so changing one lever does not
reshuffle the draws of the others: that is what gives common random numbers across strategy
variants (paired comparisons) and reproducibility on any number of workers.

Inside a module, a draw made with a sequential generator for the currently eligible customers
shifts every later customer's number when another lever changes who is eligible ("stochastic
branching", Klein et al. 2024, the Starsim CRN paper), and it cannot be split between threads.
:class:`SlotDraws` avoids both: its numbers are a pure function of (root seed, module,
decision, day, customer slot) — a counter-based generator keyed like Philox, here SplitMix64's
output function (:mod:`simulation.kernels`) — so

- customer ``i``'s uniform for "lapse on day 40" is the same whatever else happens, in a
  counterfactual or a leave-one-out world as in the factual one (draw for the slot, then mask);
- Bernoulli draws over all slots are made block by block (:data:`~simulation.kernels.BLOCK_SIZE`
  customers, each block its own stream), never per thread, so any number of threads gives
  bit-identical results;
- rare events still cost O(successes): geometric gaps inside each block.

numpy has no vectorised "evaluate a counter-based generator at these counters" call (its
Philox only streams forward), hence the six-line SplitMix64 finaliser in numba.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable

import numpy as np

from simulation import kernels

_MASK64 = (1 << 64) - 1
_SLOT_TAG = 0x510  # spawn-key tag separating slot keys from the sequential streams


def _mix64(z: int) -> int:
    """SplitMix64's finaliser on a Python int (64-bit wrap-around), for key derivation."""
    z &= _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def quantize_up(p: float) -> float:
    """The smallest power of two ≥ ``p`` (capped at 1): a thinning bound that stays put when
    the true maximum moves a little, so candidate slots stay common between worlds."""
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    m, e = math.frexp(p)
    return p if m == 0.5 else min(1.0, math.ldexp(1.0, e))


class SlotDraws:
    """Random numbers keyed per customer slot for one module (see the module docstring).

    Every call names its ``decision`` (a short stable label such as ``"lapse"``) and the
    ``day``; the same (decision, day, slot) always gives the same number, and distinct labels
    give independent numbers. Use a label once per day per purpose.
    """

    def __init__(self, seed: int, module: str) -> None:
        seq = np.random.SeedSequence(entropy=seed, spawn_key=(stream_key(module), _SLOT_TAG))
        self.base = int(seq.generate_state(1, dtype=np.uint64)[0])
        self.module = module

    def key(self, decision: str, day: int) -> int:
        """The 64-bit counter key of (decision, day)."""
        code = ((int(day) & 0xFFFFFFFF) << 32) | stream_key(decision)
        return _mix64(self.base ^ _mix64(code + 0x9E3779B97F4A7C15))

    def uniform(self, decision: str, day: int, idx: np.ndarray) -> np.ndarray:
        """Uniforms in [0, 1) of the slots ``idx`` (float64, aligned with ``idx``)."""
        return kernels.uniform_at(self.key(decision, day), idx)

    def bernoulli(self, decision: str, day: int, n: int, p: float) -> np.ndarray:
        """Sorted slots ``< n`` succeeding with probability ``p`` each (draw for every slot,
        then mask with who is eligible: the outcome of a slot never depends on the others)."""
        return kernels.bernoulli_slots(self.key(decision, day), n, p)

    def thinned(
        self,
        decision: str,
        day: int,
        n: int,
        p_max: float,
        probs: Callable[[np.ndarray], np.ndarray],
    ) -> np.ndarray:
        """Slots succeeding with their own probability ``probs(slots)`` (0 for the ineligible),
        each at most ``p_max``: candidates at ``p_max`` over all slots, each kept with
        ``probs / p_max`` using its own uniform. Cost O(n · p_max)."""
        if p_max <= 0.0:
            return np.empty(0, dtype=np.int64)
        p_max = min(p_max, 1.0)
        cand = self.bernoulli(decision, day, n, p_max)
        if cand.size == 0:
            return cand
        # keep where uniform × p_max < p: one fused pass (kernels.thin_keep)
        return kernels.thin_keep(self.key(decision + "/keep", day), cand, probs(cand), p_max)


def stream_key(name: str) -> int:
    """Stable 32-bit key for a stream name (independent of PYTHONHASHSEED)."""
    return zlib.crc32(name.encode("utf-8"))


class Streams:
    """Factory of independent ``numpy.random.Generator`` streams under one root seed."""

    def __init__(self, seed: int) -> None:
        if seed < 0:
            raise ValueError("seed must be a non-negative integer")
        self.seed = int(seed)
        self._cache: dict[str, np.random.Generator] = {}

    def sequence(self, name: str) -> np.random.SeedSequence:
        return np.random.SeedSequence(entropy=self.seed, spawn_key=(stream_key(name),))

    def get(self, name: str) -> np.random.Generator:
        """The generator for ``name``; the same object on every call within one run."""
        if name not in self._cache:
            self._cache[name] = np.random.Generator(np.random.PCG64(self.sequence(name)))
        return self._cache[name]

    def slots(self, name: str) -> SlotDraws:
        """Per-customer-slot draws of stream ``name`` (independent of :meth:`get`'s stream)."""
        return SlotDraws(self.seed, name)

    def int_seed(self, name: str) -> int:
        """A plain integer seed derived for ``name`` (for libraries that want an int)."""
        return int(self.sequence(name).generate_state(1, dtype=np.uint32)[0])


def bernoulli_indices(rng: np.random.Generator, n: int, p: float) -> np.ndarray:
    """Indices ``i < n`` that succeed in ``n`` independent Bernoulli(p) trials.

    Exact in distribution, but draws O(successes) numbers instead of ``n`` by jumping between
    successes with geometric gaps: at 1M customers and a 1 % daily reach this is ~100x cheaper
    than ``rng.random(n) < p``.
    """
    if n <= 0 or p <= 0.0:
        return np.empty(0, dtype=np.int64)
    if p >= 1.0:
        return np.arange(n, dtype=np.int64)
    if p > 0.25:
        return np.flatnonzero(rng.random(n) < p)
    if p < 1e-9:
        # Geometric gaps would overflow int64; successes are so rare that a binomial count
        # and a uniform draw of that many distinct positions is exact and cheap.
        k = int(rng.binomial(n, p))
        return np.sort(rng.choice(n, size=k, replace=False)).astype(np.int64)
    out: list[np.ndarray] = []
    pos = -1
    expected = n * p
    batch = int(expected + 6.0 * np.sqrt(expected) + 16)
    while True:
        gaps = rng.geometric(p, size=batch)
        idx = pos + np.cumsum(gaps)
        if idx[-1] >= n:
            out.append(idx[idx < n])
            break
        out.append(idx)
        pos = int(idx[-1])
    return np.concatenate(out).astype(np.int64, copy=False)


def thinned_indices(
    rng: np.random.Generator, probs: np.ndarray, p_max: float | None = None
) -> np.ndarray:
    """Indices ``i`` succeeding with probability ``probs[i]`` (independent), by thinning.

    Candidates are drawn at the largest probability with :func:`bernoulli_indices`, then kept
    with ``probs[i] / p_max``: cost scales with the number of candidates, not ``len(probs)``.
    """
    n = probs.shape[0]
    if n == 0:
        return np.empty(0, dtype=np.int64)
    if p_max is None:
        p_max = float(probs.max())
    if p_max <= 0.0:
        return np.empty(0, dtype=np.int64)
    p_max = min(p_max, 1.0)
    cand = bernoulli_indices(rng, n, p_max)
    if cand.size == 0:
        return cand
    keep = rng.random(cand.size) * p_max < probs[cand]
    return cand[keep]


def affordable_subset(
    rng: np.random.Generator,
    idx: np.ndarray,
    unit_cost: float,
    budget_left: float,
    weight: np.ndarray | None = None,
) -> np.ndarray:
    """The customers ``idx`` a budget can pay ``unit_cost`` each for: all of them, or a uniform
    random subset (kept in index order) when it cannot.

    With population weights (``weight``, one per row of the population) a row costs
    ``unit_cost × weight``: the subset is a random order's prefix that the budget covers.
    A fixed fee may leave the budget a rounding error below zero and a tiny unit cost may make
    the ratio overflow an int: both ends are clamped before drawing.
    """
    ratio = _budget_ratio(idx, unit_cost, budget_left, weight)
    if ratio is None:
        return idx
    if weight is not None:
        return _paid_prefix(idx, rng.permutation(idx.size), weight, ratio)
    return np.sort(rng.choice(idx, size=int(ratio), replace=False))


def _budget_ratio(
    idx: np.ndarray, unit_cost: float, budget_left: float, weight: np.ndarray | None
) -> float | None:
    """How many unit costs the budget left pays for (clamped at 0), or None when it pays for
    every one of ``idx`` (each ``weight`` times; nothing to pay when the unit cost is 0): the
    check both budget subsets make before they draw."""
    if unit_cost <= 0 or idx.size == 0:
        return None
    ratio = max(budget_left, 0.0) / unit_cost
    covered = float(weight[idx].sum()) <= ratio if weight is not None else ratio >= idx.size
    return None if covered else ratio


def _paid_prefix(
    idx: np.ndarray, order: np.ndarray, weight: np.ndarray, ratio: float
) -> np.ndarray:
    """The weighted rows of ``idx`` that the budget pays for, taken in ``order`` (a random
    order), kept in index order."""
    w = weight[idx]
    keep = order[np.cumsum(w[order]) <= ratio]
    return np.sort(idx[keep])


def lowest_priority(idx: np.ndarray, priority: np.ndarray, size: int) -> np.ndarray:
    """The ``size`` customers of ``idx`` with the lowest ``priority`` (aligned with ``idx``),
    kept in index order.

    With i.i.d. uniform priorities this is a uniform random subset of that size, like
    ``rng.choice(idx, size, replace=False)``; with priorities keyed per customer slot
    (:meth:`SlotDraws.uniform`) a customer's place in the queue does not depend on who else
    is in ``idx``, so two worlds that differ in a few candidates keep the same winners.
    """
    if size >= idx.size:
        return idx
    if size <= 0:
        return idx[:0]
    keep = np.argpartition(priority, size - 1)[:size]
    return np.sort(idx[keep])


def affordable_by_priority(
    idx: np.ndarray,
    priority: np.ndarray,
    unit_cost: float,
    budget_left: float,
    weight: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`affordable_subset` with the random order given by ``priority`` (aligned with
    ``idx``; uniforms keyed per customer slot give common random numbers): all of ``idx``
    when the budget covers it, else the lowest-priority prefix that it pays for.

    Same distribution as :func:`affordable_subset` for i.i.d. uniform priorities (sorting
    them is a uniform random order)."""
    ratio = _budget_ratio(idx, unit_cost, budget_left, weight)
    if ratio is None:
        return idx
    if weight is not None:
        return _paid_prefix(idx, np.argsort(priority, kind="stable"), weight, ratio)
    return lowest_priority(idx, priority, int(ratio))


def slots_with_replacement(draws: SlotDraws, decision: str, day: int, n: int, k: int) -> np.ndarray:
    """``k`` slots drawn uniformly from ``range(n)`` with replacement (like
    ``rng.integers(0, n, size=k)``), the ``j``-th from the uniform of counter ``j`` under
    ``(decision, day)``: the draw depends on its own key only, not on what other levers drew."""
    if k <= 0 or n <= 0:
        return np.empty(0, dtype=np.int64)
    u = draws.uniform(decision, day, np.arange(k, dtype=np.int64))
    return np.minimum((u * n).astype(np.int64), n - 1)
