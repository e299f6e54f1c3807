"""The social graph as the step uses it: CSR adjacency, plus a networkx view on demand."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from simulation.network import kernels
from simulation.network.builders import build_edges, weak_tie_edges
from simulation.population.state import PopulationState
from simulation.scenario.schema import (
    CompleteGraph,
    EdgeListGraph,
    GraphConfig,
    PopulationConfig,
    WattsStrogatzGraph,
)

if TYPE_CHECKING:  # imported where used: a run needs neither (~0.3 s of every start-up)
    import networkx as nx
    import scipy.sparse as sp


class SocialNetwork:
    """Undirected ties between customers.

    ``complete`` networks are a mean field: every customer is tied to every other, and nothing
    of size N² is ever built; per-customer shares are the population share.
    """

    def __init__(
        self,
        n: int,
        indptr: np.ndarray | None,
        indices: np.ndarray | None,
        weights: np.ndarray | None = None,
    ) -> None:
        self.n = n
        self.indptr = indptr
        self.indices = indices
        #: Tie strengths aligned with ``indices`` (a tie list's ``weight`` column), or ``None``
        #: when every tie counts the same — then nothing weighted is computed at all.
        self.weights = weights
        #: The optional weak-tie layer (``graph.weak_ties``); ``None`` when not configured.
        self.weak: SocialNetwork | None = None

    @classmethod
    def complete(cls, n: int) -> SocialNetwork:
        return cls(n, None, None)

    @classmethod
    def from_edges(
        cls,
        n: int,
        src: np.ndarray,
        dst: np.ndarray,
        weight: np.ndarray | None = None,
        ring: bool = False,
    ) -> SocialNetwork:
        """CSR adjacency of undirected ties; a pair listed twice is one tie. With ``weight``
        (one per edge, > 0) the tie's strength is the sum of its listings' weights; weights that
        are all 1 are dropped, so an unweighted list gives exactly the unweighted network.
        ``ring`` is a speed hint only (the list may be a rewired ring lattice, as
        Watts–Strogatz gives: :func:`simulation.network.kernels.csr_from_edges`)."""
        weighted = weight is not None and not np.all(np.asarray(weight) == 1.0)
        indptr, indices, data = kernels.csr_from_edges(
            n, src, dst, np.asarray(weight) if weighted else None, ring
        )
        return cls(n, indptr, indices, data)

    @property
    def is_complete(self) -> bool:
        return self.indptr is None

    @cached_property
    def degree(self) -> np.ndarray:
        if self.indptr is None:
            return np.full(self.n, self.n - 1, dtype=np.int64)
        return np.diff(self.indptr)

    @cached_property
    def strength(self) -> np.ndarray:
        """Sum of each customer's tie weights (its degree when the ties are unweighted)."""
        if self.weights is None or self.indptr is None:
            return self.degree.astype(np.float64)
        return np.add.reduceat(
            np.append(self.weights, 0.0), self.indptr[:-1]
        ) * (np.diff(self.indptr) > 0)

    @property
    def n_edges(self) -> int:
        if self.indptr is None:
            return self.n * (self.n - 1) // 2
        return int(self.indptr[-1]) // 2

    @cached_property
    def adjacency(self) -> sp.csr_array:
        """Sparse 0/1 adjacency (not available for the mean-field complete network)."""
        if self.indptr is None or self.indices is None:
            raise ValueError("a complete (mean-field) network has no materialised adjacency")
        import scipy.sparse as sp

        data = (
            np.ones(self.indices.size, dtype=np.float32) if self.weights is None else self.weights
        )
        return sp.csr_array((data, self.indices, self.indptr), shape=(self.n, self.n))

    def neighbours(self, i: int) -> np.ndarray:
        if self.indptr is None or self.indices is None:
            return np.delete(np.arange(self.n), i)
        return self.indices[self.indptr[i] : self.indptr[i + 1]]

    def neighbours_of(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """All ties of the customers ``idx``: (owner position in ``idx``, neighbour index)."""
        if self.indptr is None or self.indices is None:
            raise ValueError("neighbours_of is not defined for a mean-field network")
        starts = self.indptr[idx]
        lens = self.indptr[idx + 1] - starts
        total = int(lens.sum())
        if total == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int32)
        owner = np.repeat(np.arange(idx.size), lens)
        offsets = np.arange(total) - np.repeat(np.cumsum(lens) - lens, lens) + starts[owner]
        return owner, self.indices[offsets]

    def random_tie(self, idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One tie of each customer in ``idx``, drawn uniformly — or in proportion to the tie's
        weight on a weighted network (−1 for a customer with none); on a complete network
        anyone but the customer. One uniform per customer, so the draws of a customer do not
        depend on who else is asked."""
        if self.is_complete:
            other = rng.integers(0, self.n - 1, size=idx.size)
            return other + (other >= idx)  # anyone but oneself
        return self.tie_at(idx, rng.random(idx.size))

    def tie_at(self, idx: np.ndarray, u: np.ndarray) -> np.ndarray:
        """:meth:`random_tie` with each customer's uniform given (``u``, aligned with ``idx``),
        for a caller whose uniforms are keyed per customer slot (common random numbers: the
        tie then depends on the customer and its key only)."""
        if self.is_complete:
            span = self.n - 1
            other = np.minimum((u * span).astype(np.int64), span - 1)
            return other + (other >= idx)  # anyone but oneself
        assert self.indptr is not None and self.indices is not None
        deg = self.indptr[idx + 1] - self.indptr[idx]
        out = np.full(idx.size, -1, dtype=np.int64)
        has = deg > 0
        if self.weights is None:
            pick = (u * deg).astype(np.int64)
            out[has] = self.indices[self.indptr[idx[has]] + pick[has]]
            return out
        cum = self._cum_weights
        lo, hi = self.indptr[idx[has]], self.indptr[idx[has] + 1]
        base = np.where(lo > 0, cum[np.maximum(lo - 1, 0)], 0.0)
        target = base + u[has] * (cum[hi - 1] - base)
        pos = np.clip(np.searchsorted(cum, target, side="right"), lo, hi - 1)
        out[has] = self.indices[pos]
        return out

    @cached_property
    def _cum_weights(self) -> np.ndarray:
        assert self.weights is not None
        return np.cumsum(self.weights)

    def count_neighbours_in(self, mask: np.ndarray) -> np.ndarray:
        """For every customer, how many of its ties are in ``mask`` (int32; int64 on a complete
        network), or their summed weight on a weighted network (float64: the bits of
        ``adjacency @ mask``). One pass over each CSR row, rows in parallel (no adjacency
        copy: at 10M customers the scipy matvec took 1.7 s, most of it building one)."""
        if self.indptr is None or self.indices is None:
            total = int(mask.sum())
            return np.full(self.n, total, dtype=np.int64) - mask.astype(np.int64)
        flags = np.ascontiguousarray(mask, dtype=np.bool_)
        if self.weights is None:
            return kernels.count_in(self.indptr, self.indices, flags)
        return kernels.weight_in(self.indptr, self.indices, self.weights, flags)

    def to_networkx(self) -> nx.Graph:
        """A networkx copy for analysis and drawing (small networks; built on demand)."""
        import networkx as nx

        if self.indptr is None or self.indices is None:
            return nx.complete_graph(self.n)
        g = nx.Graph()
        g.add_nodes_from(range(self.n))
        src = np.repeat(np.arange(self.n), np.diff(self.indptr))
        keep = src < self.indices
        g.add_edges_from(zip(src[keep].tolist(), self.indices[keep].tolist(), strict=True))
        return g


def build_network(
    cfg: GraphConfig,
    population: PopulationState,
    rng: np.random.Generator,
    population_cfg: PopulationConfig | None = None,
) -> SocialNetwork:
    """The graph ``cfg`` describes; an edge list (``kind: file``) needs ``population_cfg`` to
    match its customer ids (simulation/data/edges.py)."""
    if isinstance(cfg, CompleteGraph):
        return SocialNetwork.complete(population.n)
    file_weak: tuple[np.ndarray, np.ndarray] | None = None
    strong_w: np.ndarray | None = None
    weak_w: np.ndarray | None = None
    if isinstance(cfg, EdgeListGraph):
        from simulation.data.hooks import graph_edges

        matched = graph_edges(cfg, population_cfg, population.n)
        src, dst = matched.strong
        strong_w = matched.strong_weight
        file_weak, weak_w = matched.weak, matched.weak_weight
        if cfg.synthetic is not None:  # a generated strong layer merged with the file's ties
            gsrc, gdst = build_edges(cfg.synthetic, population, rng)
            src, dst = np.concatenate([src, gsrc]), np.concatenate([dst, gdst])
            strong_w = np.concatenate([strong_w, np.ones(gsrc.size)])  # generated ties: 1
        ring = False
    else:
        src, dst = build_edges(cfg, population, rng)
        ring = isinstance(cfg, WattsStrogatzGraph)
    # tie weights (a tie list's weight column) scale each tie's word of mouth and how often a
    # referral or shared perk travels along it; generated ties weigh 1
    net = SocialNetwork.from_edges(population.n, src, dst, strong_w, ring)
    del src, dst, strong_w  # the CSR holds the strong ties now (up to 8 bytes a tie freed)
    weak = cfg.weak_ties
    wsrc = np.empty(0, dtype=np.int64)
    wdst = np.empty(0, dtype=np.int64)
    if weak is not None:  # drawn after the strong layer, so the strong ties are unchanged
        wsrc, wdst = weak_tie_edges(
            weak.mean_degree, weak.within_city_odds, population, rng,
            (net.indptr, net.indices, population.n),
        )
    wweight: np.ndarray | None = None
    if file_weak is not None:
        wweight = np.concatenate([np.asarray(weak_w, dtype=np.float64), np.ones(wsrc.size)])
        wsrc, wdst = np.concatenate([file_weak[0], wsrc]), np.concatenate([file_weak[1], wdst])
    if weak is not None or file_weak is not None:
        net.weak = SocialNetwork.from_edges(population.n, wsrc, wdst, wweight)
    return net
