"""Social-graph generators producing an undirected edge list ``(src, dst)`` (each edge once).

Watts–Strogatz is generated in numpy (the same model as ``networkx.watts_strogatz_graph``: a
ring lattice whose edges are rewired with probability p, avoiding self-loops and duplicates);
Barabási–Albert and the stochastic block model use python-igraph's C generators. networkx
builds a 1M-node Watts–Strogatz graph in ~14 s and ~2.8 GB; these take well under that.
"""

from __future__ import annotations

import random
from types import ModuleType

import numpy as np

from simulation.network import kernels
from simulation.population.state import PopulationState
from simulation.scenario.schema import (
    BarabasiAlbertGraph,
    BlockModelGraph,
    WattsStrogatzGraph,
)

Edges = tuple[np.ndarray, np.ndarray]


def _edge_keys(src: np.ndarray, dst: np.ndarray, n: int) -> np.ndarray:
    lo = np.minimum(src, dst).astype(np.int64)
    hi = np.maximum(src, dst).astype(np.int64)
    return lo * n + hi


#: Rewiring decisions are drawn in chunks of this many lattice slots: the same uniforms as one
#: ``rng.random(n·k/2)`` call (a Generator's doubles do not depend on how a request is split),
#: without the 8 bytes a slot of one full-size array (400 MB at 10M customers, k = 10).
_REWIRE_CHUNK = 1 << 22


def watts_strogatz_edges(n: int, k: int, p: float, rng: np.random.Generator) -> Edges:
    """Ring lattice of degree ``k`` with each edge's far end rewired with probability ``p``.

    Slot ``e = (d − 1)·n + i`` is the lattice edge ``(i, (i + d) mod n)``, 1 ≤ d ≤ k/2; a
    uniform per slot decides whether it is rewired, and a rewired slot draws a new far end
    until it is neither a self-loop nor a tie already present — redrawn, in rounds, all the
    round's offenders at once in slot order (the same rounds, so the same draws, as comparing
    every edge's key each round, which the first implementation did: 11.5 s at 10M).

    Only rewired slots can conflict: the lattice has no duplicates (k < n), and a slot that
    passed a round never moves again. So each round checks just the slots redrawn in it,
    against (a) the lattice — a pair {lo, hi} is a lattice slot when its ring distance is at
    most k/2, and that slot still holds it unless it was itself rewired (a binary search in
    the sorted rewired slots) — and (b) the current far ends of the other rewired slots: the
    settled ones (a sorted array of keys, merged with each round's survivors) and the round's
    own (sorted among themselves). Cost: one sort of the rewired keys, then O(redrawn) a round.
    """
    if k >= n:
        raise ValueError(f"Watts–Strogatz needs k < n (k={k}, n={n})")
    half = k // 2
    m = n * half
    parts = []
    for lo in range(0, m, _REWIRE_CHUNK):
        hit = np.flatnonzero(rng.random(min(_REWIRE_CHUNK, m - lo)) < p)
        parts.append(hit + lo if lo else hit)
    rewire = np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
    src, dst = kernels.ring_lattice(n, half)
    if rewire.size == 0:
        return src, dst
    far = rng.integers(0, n, size=rewire.size)  # the far ends of the rewired slots
    settled = np.empty(0, dtype=np.int64)  # sorted keys of the rewired slots that passed
    pending = np.arange(rewire.size)  # positions in ``rewire`` drawn in the last round
    for _ in range(100):
        keys, bad = kernels.ws_round(rewire, far, pending, n, half)
        survivors = kernels.ws_duplicates(keys, np.sort(keys), settled, bad)
        if survivors.size == keys.size:
            break
        settled = kernels.merge_sorted(settled, survivors)
        pending = pending[bad]
        far[pending] = rng.integers(0, n, size=pending.size)
    else:  # pragma: no cover - needs an almost complete graph
        raise RuntimeError("could not rewire Watts–Strogatz graph without duplicates")
    dst[rewire] = far
    return src, dst


def _seeded_igraph(seed: int) -> ModuleType:
    """igraph, seeded. Imported here, not at module level: importing igraph costs ~0.3 s
    (it pulls in its drawing stack) and Watts–Strogatz runs never need it."""
    import igraph

    igraph.set_random_number_generator(random.Random(seed))
    return igraph


def barabasi_albert_edges(n: int, m: int, seed: int) -> Edges:
    if m >= n:
        raise ValueError(f"Barabási–Albert needs m < n (m={m}, n={n})")
    ig = _seeded_igraph(seed)
    try:
        # zero_appeal ≈ 0: attachment ∝ degree, as in Barabási–Albert and networkx; igraph's
        # default (+1 on every degree) gives a thinner tail (tests/test_network_generators.py).
        g = ig.Graph.Barabasi(n, m, outpref=True, directed=False, zero_appeal=1e-9)
    finally:
        ig.set_random_number_generator(random)
    el = np.asarray(g.get_edgelist(), dtype=np.int64).reshape(-1, 2)
    return el[:, 0], el[:, 1]


def block_model_edges(
    cfg: BlockModelGraph, population: PopulationState, seed: int
) -> Edges:
    """SBM over (segment, city) blocks; tie odds multiply within segment and within city."""
    n_cities = int(population.city.max()) + 1 if population.n else 1
    block = population.segment.astype(np.int64) * n_cities + population.city
    ids, inverse, sizes = np.unique(block, return_inverse=True, return_counts=True)
    seg_of = ids // n_cities
    city_of = ids % n_cities
    weight = np.where(seg_of[:, None] == seg_of[None, :], cfg.within_segment_odds, 1.0) * (
        np.where(city_of[:, None] == city_of[None, :], cfg.within_city_odds, 1.0)
    )
    sz = sizes.astype(float)
    pairs = np.outer(sz, sz) * weight - np.diag(sz * np.diag(weight))
    total = pairs.sum()
    n = population.n
    scale = cfg.mean_degree * n / total if total > 0 else 0.0
    pref = np.minimum(weight * scale, 1.0)
    order = np.argsort(inverse, kind="stable")  # igraph numbers nodes block by block
    ig = _seeded_igraph(seed)
    try:
        g = ig.Graph.SBM(
            pref.tolist(), sizes.tolist(), directed=False, allowed_edge_types="simple"
        )
    finally:
        ig.set_random_number_generator(random)
    el = np.asarray(g.get_edgelist(), dtype=np.int64).reshape(-1, 2)
    return order[el[:, 0]], order[el[:, 1]]


def weak_tie_edges(
    mean_degree: float,
    within_city_odds: float,
    population: PopulationState,
    rng: np.random.Generator,
    exclude: Edges | tuple[np.ndarray, np.ndarray, int] | None = None,
) -> Edges:
    """Random acquaintance ties (the weak layer), ``within_city_odds`` times likelier in-city.

    Draws ``n·mean_degree/2`` endpoint pairs: the first uniform, the second from the same city
    with the probability the odds imply, else uniform; self-loops, duplicates and ties already
    in ``exclude`` (the strong layer: its edges, or its CSR ``(indptr, indices, n)`` with
    sorted rows — looked up row by row, no sort of its keys) are dropped, so the realised
    degree is a shade lower.
    """
    n = population.n
    m = round(n * mean_degree / 2)
    if n < 2 or m == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    city = population.city.astype(np.int64)
    sizes = np.bincount(city).astype(float)
    same_pairs = float((sizes * sizes).sum())
    weight = within_city_odds * same_pairs
    p_same = weight / (weight + float(n) * n - same_pairs) if within_city_odds > 1.0 else 0.0
    src = rng.integers(0, n, size=m)
    dst = rng.integers(0, n, size=m)
    same = np.flatnonzero(rng.random(m) < p_same)
    if same.size:
        order = np.argsort(city, kind="stable")
        starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        c = city[src[same]]
        pick = starts[c] + (rng.random(same.size) * sizes[c]).astype(np.int64)
        dst[same] = order[pick]
    keep = src != dst
    keys = _sorted_unique(_edge_keys(src[keep], dst[keep], n))
    if exclude is not None and len(exclude) == 3:
        indptr, indices, _ = exclude  # type: ignore[misc]
        keys = keys[kernels.absent_ties(indptr, indices, keys, n)]
    elif exclude is not None and exclude[0].size:
        taken = np.sort(_edge_keys(exclude[0], exclude[1], n))
        pos = np.searchsorted(taken, keys)
        pos[pos == taken.size] = 0
        keys = keys[taken[pos] != keys]  # same as ~np.isin(keys, taken)
    return keys // n, keys % n


def _sorted_unique(keys: np.ndarray) -> np.ndarray:
    """``np.unique(keys)`` for int64 keys, by sort + neighbour comparison: numpy 2.4's
    ``np.unique`` and ``np.isin`` take ~4 s on 5M wide-range int64 keys, a sort takes ~0.04 s."""
    if keys.size == 0:
        return keys
    keys = np.sort(keys)
    first = np.empty(keys.size, dtype=bool)
    first[0] = True
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    return keys[first]


def build_edges(
    cfg: WattsStrogatzGraph | BarabasiAlbertGraph | BlockModelGraph,
    population: PopulationState,
    rng: np.random.Generator,
) -> Edges:
    n = population.n
    seed = int(rng.integers(0, 2**31 - 1))
    if isinstance(cfg, WattsStrogatzGraph):
        return watts_strogatz_edges(n, cfg.k, cfg.p, rng)
    if isinstance(cfg, BarabasiAlbertGraph):
        return barabasi_albert_edges(n, cfg.m, seed)
    if isinstance(cfg, BlockModelGraph):
        return block_model_edges(cfg, population, seed)
    raise TypeError(f"no edge generator for {type(cfg).__name__}")
