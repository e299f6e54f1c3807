"""The social graph as the step uses it: CSR adjacency, plus a networkx view on demand."""

from __future__ import annotations

from functools import cached_property

import networkx as nx
import numpy as np
import scipy.sparse as sp

from simulation.network.builders import build_edges, weak_tie_edges
from simulation.population.state import PopulationState
from simulation.scenario.schema import (
    CompleteGraph,
    EdgeListGraph,
    GraphConfig,
    PopulationConfig,
)


class SocialNetwork:
    """Undirected ties between customers.

    ``complete`` networks are a mean field: every customer is tied to every other, and nothing
    of size N² is ever built; per-customer shares are the population share.
    """

    def __init__(self, n: int, indptr: np.ndarray | None, indices: np.ndarray | None) -> None:
        self.n = n
        self.indptr = indptr
        self.indices = indices
        #: The optional weak-tie layer (``graph.weak_ties``); ``None`` when not configured.
        self.weak: SocialNetwork | None = None

    @classmethod
    def complete(cls, n: int) -> SocialNetwork:
        return cls(n, None, None)

    @classmethod
    def from_edges(cls, n: int, src: np.ndarray, dst: np.ndarray) -> SocialNetwork:
        rows = np.concatenate([src, dst])
        cols = np.concatenate([dst, src])
        m = sp.csr_array(
            (np.ones(rows.size, dtype=np.int8), (rows.astype(np.int32), cols.astype(np.int32))),
            shape=(n, n),
        )
        m.sum_duplicates()
        return cls(n, m.indptr.astype(np.int64), m.indices.astype(np.int32))

    @property
    def is_complete(self) -> bool:
        return self.indptr is None

    @cached_property
    def degree(self) -> np.ndarray:
        if self.indptr is None:
            return np.full(self.n, self.n - 1, dtype=np.int64)
        return np.diff(self.indptr)

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
        data = np.ones(self.indices.size, dtype=np.float32)
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
        """One tie of each customer in ``idx``, drawn uniformly (−1 for a customer with none);
        on a complete network anyone but the customer. One uniform per customer, so the draws
        of a customer do not depend on who else is asked."""
        if self.is_complete:
            other = rng.integers(0, self.n - 1, size=idx.size)
            return other + (other >= idx)  # anyone but oneself
        assert self.indptr is not None and self.indices is not None
        deg = self.indptr[idx + 1] - self.indptr[idx]
        pick = (rng.random(idx.size) * deg).astype(np.int64)
        out = np.full(idx.size, -1, dtype=np.int64)
        has = deg > 0
        out[has] = self.indices[self.indptr[idx[has]] + pick[has]]
        return out

    def count_neighbours_in(self, mask: np.ndarray) -> np.ndarray:
        """For every customer, how many of its ties are in ``mask``."""
        if self.indptr is None:
            total = int(mask.sum())
            return np.full(self.n, total, dtype=np.int64) - mask.astype(np.int64)
        return self.adjacency @ mask.astype(np.float32)

    def to_networkx(self) -> nx.Graph:
        """A networkx copy for analysis and drawing (small networks; built on demand)."""
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
    if isinstance(cfg, EdgeListGraph):
        from simulation.data.hooks import graph_edges

        matched = graph_edges(cfg, population_cfg, population.n)
        src, dst = matched.strong
        file_weak = matched.weak
        if cfg.synthetic is not None:  # a generated strong layer merged with the file's ties
            gsrc, gdst = build_edges(cfg.synthetic, population, rng)
            src, dst = np.concatenate([src, gsrc]), np.concatenate([dst, gdst])
    else:
        src, dst = build_edges(cfg, population, rng)
    net = SocialNetwork.from_edges(population.n, src, dst)
    weak = cfg.weak_ties
    wsrc = np.empty(0, dtype=np.int64)
    wdst = np.empty(0, dtype=np.int64)
    if weak is not None:  # drawn after the strong layer, so the strong ties are unchanged
        wsrc, wdst = weak_tie_edges(
            weak.mean_degree, weak.within_city_odds, population, rng, (src, dst)
        )
    if file_weak is not None:
        wsrc, wdst = np.concatenate([file_weak[0], wsrc]), np.concatenate([file_weak[1], wdst])
    if weak is not None or file_weak is not None:
        net.weak = SocialNetwork.from_edges(population.n, wsrc, wdst)
    return net
