"""The fast graph build gives the very arrays the first implementation gave.

Watts–Strogatz used to compare every edge's key each rewiring round, and the CSR came from
scipy's COO→CSR conversion plus ``sum_duplicates``; both are kept here, verbatim, as the
reference. The new code must reproduce them bit for bit — the same rng draws in the same order
(so the generator is left in the same state), the same ``indptr``/``indices``/weights — on
sparse and dense rings (small n with k close to n needs many rewiring rounds, or fails the
same way), p = 0 and p = 1, weighted and duplicated lists, and on 1 or 2 threads.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
import scipy.sparse as sp

from simulation.network import builders, kernels
from simulation.network.social import SocialNetwork

# ---------------------------------------------------------------------------- references


def _reference_keys(src: np.ndarray, dst: np.ndarray, n: int) -> np.ndarray:
    lo = np.minimum(src, dst).astype(np.int64)
    hi = np.maximum(src, dst).astype(np.int64)
    return lo * n + hi


def reference_watts_strogatz(
    n: int, k: int, p: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """builders.watts_strogatz_edges as of f7fd7f9: every edge's key sorted each round."""
    if k >= n:
        raise ValueError(f"Watts–Strogatz needs k < n (k={k}, n={n})")
    half = k // 2
    src = np.tile(np.arange(n, dtype=np.int64), half)
    dst = (src + np.repeat(np.arange(1, half + 1, dtype=np.int64), n)) % n
    rewire = np.flatnonzero(rng.random(src.size) < p)
    if rewire.size:
        dst[rewire] = rng.integers(0, n, size=rewire.size)
        pending = rewire
        for _ in range(100):
            keys = _reference_keys(src, dst, n)
            order = np.argsort(keys, kind="stable")
            sk = keys[order]
            dup_sorted = np.zeros(sk.size, dtype=bool)
            same = sk[1:] == sk[:-1]
            dup_sorted[1:] |= same
            dup_sorted[:-1] |= same
            conflict = np.zeros(src.size, dtype=bool)
            conflict[order[dup_sorted]] = True
            conflict |= src == dst
            is_rewired = np.zeros(src.size, dtype=bool)
            is_rewired[pending] = True
            bad = np.flatnonzero(conflict & is_rewired)
            if bad.size == 0:
                break
            dst[bad] = rng.integers(0, n, size=bad.size)
            pending = bad
        else:
            raise RuntimeError("could not rewire Watts–Strogatz graph without duplicates")
    return src, dst


def reference_csr(
    n: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """SocialNetwork.from_edges as of f7fd7f9 (scipy COO→CSR + sum_duplicates)."""
    rows = np.concatenate([src, dst])
    cols = np.concatenate([dst, src])
    weighted = weight is not None and not np.all(np.asarray(weight) == 1.0)
    data = (
        np.concatenate([weight, weight]).astype(np.float64)
        if weighted and weight is not None
        else np.ones(rows.size, dtype=np.int8)
    )
    m = sp.csr_array((data, (rows.astype(np.int32), cols.astype(np.int32))), shape=(n, n))
    m.sum_duplicates()
    return (
        m.indptr.astype(np.int64),
        m.indices.astype(np.int32),
        np.asarray(m.data, dtype=np.float64) if weighted else None,
    )


# ---------------------------------------------------------------------------- Watts–Strogatz

WS_CASES = [
    (10, 4, 0.5), (7, 6, 1.0), (9, 8, 0.9), (11, 9, 1.0), (12, 10, 1.0), (30, 28, 0.7),
    (50, 20, 1.0), (3, 2, 1.0), (200, 10, 0.0), (200, 10, 0.1), (1000, 6, 1.0),
    (1000, 40, 0.5), (20_000, 10, 0.1),
]


def _ws_outcome(fn, n: int, k: int, p: float, seed: int):
    rng = np.random.default_rng(seed)
    try:
        edges = fn(n, k, p, rng)
    except RuntimeError as exc:
        edges = str(exc)
    return edges, rng.bit_generator.state


@pytest.mark.parametrize(("n", "k", "p"), WS_CASES)
def test_watts_strogatz_is_the_reference_bit_for_bit(n: int, k: int, p: float) -> None:
    for seed in range(25 if n <= 50 else 3):
        ref, ref_state = _ws_outcome(reference_watts_strogatz, n, k, p, seed)
        new, new_state = _ws_outcome(builders.watts_strogatz_edges, n, k, p, seed)
        assert new_state == ref_state  # the same draws, so the graph stream goes on the same
        if isinstance(ref, str):  # an almost complete ring that cannot be rewired: same error
            assert new == ref
            continue
        assert not isinstance(new, str)
        for a, b in zip(ref, new, strict=True):
            assert b.dtype == np.int32 and np.array_equal(a, b)  # int32: half the bytes


def test_dense_rings_exercise_many_rounds_and_the_failure() -> None:
    """The cases above are not vacuous: some need several rewiring rounds, some fail."""
    rounds, failures = [], 0

    class Counting:
        """A Generator that counts its ``integers`` calls (one a rewiring round)."""

        def __init__(self, seed: int) -> None:
            self.rng = np.random.default_rng(seed)
            self.calls = 0

        def random(self, *args, **kwargs):
            return self.rng.random(*args, **kwargs)

        def integers(self, *args, **kwargs):
            self.calls += 1
            return self.rng.integers(*args, **kwargs)

    for seed in range(25):
        rng = Counting(seed)
        try:
            reference_watts_strogatz(12, 10, 1.0, rng)  # type: ignore[arg-type]
        except RuntimeError:
            failures += 1
        rounds.append(rng.calls)
    assert max(rounds) >= 10 and failures > 0


def test_rewiring_decisions_split_into_chunks_draw_the_same(monkeypatch) -> None:
    monkeypatch.setattr(builders, "_REWIRE_CHUNK", 7)
    for n, k, p in [(50, 20, 0.3), (1000, 10, 0.2), (13, 4, 1.0)]:
        ref, _ = _ws_outcome(reference_watts_strogatz, n, k, p, 3)
        new, _ = _ws_outcome(builders.watts_strogatz_edges, n, k, p, 3)
        for a, b in zip(ref, new, strict=True):
            assert np.array_equal(a, b)


# ---------------------------------------------------------------------------- CSR


def _assert_same_csr(n, src, dst, weight=None, ring=False) -> None:
    indptr, indices, data = reference_csr(n, src, dst, weight)
    net = SocialNetwork.from_edges(n, src, dst, weight, ring)
    assert net.indptr is not None and net.indices is not None
    assert net.indptr.dtype == indptr.dtype and np.array_equal(net.indptr, indptr)
    assert net.indices.dtype == indices.dtype and np.array_equal(net.indices, indices)
    if data is None:
        assert net.weights is None
    else:
        assert net.weights is not None and net.weights.dtype == data.dtype
        assert np.array_equal(net.weights, data)


def _random_lists(seed: int):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    m = int(rng.integers(0, 200))
    return rng, n, rng.integers(0, n, m), rng.integers(0, n, m)


@pytest.mark.parametrize("threads", [1, 2])
def test_csr_is_scipys_on_any_thread_count(threads: int, monkeypatch) -> None:
    monkeypatch.setattr("simulation.kernels.PARALLEL_MIN_WORK", 0)  # drive the parallel twins
    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        for seed in range(25):
            rng, n, src, dst = _random_lists(seed)
            _assert_same_csr(n, src, dst)  # duplicates and self-loops, unweighted
            _assert_same_csr(n, src.astype(np.int32), dst.astype(np.int32), np.ones(src.size))
            # weighted, each pair listed at most twice (a tie list's tie + a generated one):
            # a sum of two weights does not depend on the order scipy's row sort leaves them in
            key = np.minimum(src, dst) * n + np.maximum(src, dst)
            _, first = np.unique(key, return_index=True)
            s1, d1 = src[first], dst[first]
            again = (rng.random(s1.size) < 0.3) & (s1 != d1)
            s2 = np.concatenate([s1, d1[again]])
            d2 = np.concatenate([d1, s1[again]])
            _assert_same_csr(n, s2, d2, rng.random(s2.size) + 0.01)
        # many listings of one pair in rows of at most 16 entries (scipy's sort is then stable)
        rng = np.random.default_rng(7)
        for _ in range(20):
            src, dst = rng.integers(0, 4, 6), rng.integers(0, 4, 6)
            _assert_same_csr(4, src, dst, rng.random(6) + 0.5)
        # long rows (a hub: the merge-sort path)
        src = np.concatenate([np.zeros(3000, dtype=np.int64), rng.integers(0, 500, 3000)])
        dst = rng.integers(0, 500, 6000)
        _assert_same_csr(500, src, dst)
        # the ring path (Watts–Strogatz): any far ends, self-loops and repeats included; a
        # list that only looks like a ring falls back to the general path
        for seed in range(30):
            rng = np.random.default_rng(seed)
            n, half = int(rng.integers(2, 40)), int(rng.integers(1, 6))
            src = np.tile(np.arange(n), half)
            dst = rng.integers(0, n, n * half)
            if seed % 3 == 0:  # mostly lattice ties
                lattice = (src + np.repeat(np.arange(1, half + 1), n)) % n
                keep = rng.random(n * half) < 0.7
                dst[keep] = lattice[keep]
            if seed % 7 == 0:
                src[rng.integers(0, src.size)] = rng.integers(0, n)
            _assert_same_csr(n, src.astype(np.int32), dst.astype(np.int32), ring=True)
        ws = builders.watts_strogatz_edges(150_000, 10, 0.1, np.random.default_rng(3))
        _assert_same_csr(150_000, *ws, ring=True)  # three blocks of rows
    finally:
        numba.set_num_threads(before)


def test_empty_and_edgeless_graphs() -> None:
    empty = np.empty(0, dtype=np.int64)
    _assert_same_csr(5, empty, empty)
    _assert_same_csr(1, empty, empty, np.empty(0))
    net = SocialNetwork.from_edges(0, empty, empty)
    assert net.indptr is not None and net.indptr.tolist() == [0]


def test_an_edge_outside_the_population_is_an_error() -> None:
    with pytest.raises(ValueError, match="outside"):
        kernels.csr_from_edges(3, np.array([0]), np.array([3]), None)
    with pytest.raises(ValueError, match="outside"):
        kernels.csr_from_edges(3, np.array([-1]), np.array([1]), None)
    with pytest.raises(ValueError, match="outside"):  # the ring path
        kernels.csr_from_edges(5, np.tile(np.arange(5), 2), np.arange(2, 12), None, ring=True)


# ---------------------------------------------------------------------------- counts


@pytest.mark.parametrize("threads", [1, 2])
def test_neighbour_counts_are_the_adjacency_matvec(threads: int, monkeypatch) -> None:
    monkeypatch.setattr("simulation.kernels.PARALLEL_MIN_WORK", 0)
    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        rng = np.random.default_rng(11)
        n = 150_000  # three blocks of rows
        src, dst = builders.watts_strogatz_edges(n, 10, 0.2, rng)
        mask = rng.random(n) < 0.3
        plain = SocialNetwork.from_edges(n, src, dst, ring=True)
        counts = plain.count_neighbours_in(mask)
        assert counts.dtype == np.int32
        assert np.array_equal(counts, plain.adjacency @ mask.astype(np.float32))
        weighted = SocialNetwork.from_edges(n, src, dst, rng.random(src.size) + 0.1)
        sums = weighted.count_neighbours_in(mask)
        expected = weighted.adjacency @ mask.astype(np.float32)
        assert sums.dtype == expected.dtype == np.float64
        assert np.array_equal(sums, expected)  # bit for bit
    finally:
        numba.set_num_threads(before)


@pytest.mark.parametrize("threads", [1, 2])
def test_inverse_degree_is_word_of_mouths_numpy_form(threads: int, monkeypatch) -> None:
    """Bit for bit the numpy expression word of mouth's setup used, empty rows included, on
    several blocks of rows and any thread count."""
    monkeypatch.setattr("simulation.kernels.PARALLEL_MIN_WORK", 0)
    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        rng = np.random.default_rng(5)
        deg = rng.integers(0, 40, size=140_000)  # ~2.5 % empty rows
        deg[:3] = [0, 1, 3]
        indptr = np.concatenate([[0], np.cumsum(deg)]).astype(np.int64)
        got = kernels.inverse_degree(indptr)
        expected = np.where(deg > 0, 1.0 / np.maximum(deg, 1e-300), 0.0)
        assert got.dtype == np.float64
        assert np.array_equal(got.view(np.int64), expected.view(np.int64))
        assert kernels.inverse_degree(np.zeros(1, dtype=np.int64)).size == 0
    finally:
        numba.set_num_threads(before)


def test_weak_ties_exclude_the_strong_layer_by_its_csr_as_by_its_edges() -> None:
    """The weak layer looks the strong ties up in the strong CSR, row by row, instead of
    sorting the strong layer's keys: the same ties survive."""
    from simulation import OperatingMatrixModel, scenario_from_dict
    from tests.conftest import small_scenario_dict

    data = small_scenario_dict()
    data["graph"] = {"kind": "watts_strogatz", "k": 6, "p": 0.3}
    pop = OperatingMatrixModel(scenario_from_dict(data), seed=4).population
    src, dst = builders.watts_strogatz_edges(pop.n, 40, 0.3, np.random.default_rng(2))
    strong = SocialNetwork.from_edges(pop.n, src, dst, ring=True)
    assert strong.indptr is not None and strong.indices is not None
    by_edges = builders.weak_tie_edges(20.0, 3.0, pop, np.random.default_rng(9), (src, dst))
    by_csr = builders.weak_tie_edges(
        20.0, 3.0, pop, np.random.default_rng(9), (strong.indptr, strong.indices, pop.n)
    )
    unfiltered = builders.weak_tie_edges(20.0, 3.0, pop, np.random.default_rng(9))
    assert by_edges[0].size < unfiltered[0].size  # some drawn ties were strong ones
    for a, b in zip(by_edges, by_csr, strict=True):
        assert np.array_equal(a, b)
