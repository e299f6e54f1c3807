"""The fast graph generators produce the same random-graph models as networkx's.

opmatrix builds Watts–Strogatz in numpy and Barabási–Albert / SBM with igraph (networkx takes
~14 s and ~2.8 GB for WS at 1M). At small N their degree distributions and clustering must
match networkx's own generators, averaged over a few seeds, and the CSR they end up in must be
a simple undirected graph.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from simulation import OperatingMatrixModel, scenario_from_dict
from simulation.network.builders import (
    _sorted_unique,
    barabasi_albert_edges,
    watts_strogatz_edges,
)
from simulation.network.social import SocialNetwork
from tests.conftest import small_scenario_dict

N = 2000
SEEDS = range(4)


def _nx_from_edges(n: int, src: np.ndarray, dst: np.ndarray) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(zip(src.tolist(), dst.tolist(), strict=True))
    return g


def _degrees(g: nx.Graph) -> np.ndarray:
    return np.array([d for _, d in g.degree()])


def _assert_simple_undirected(net: SocialNetwork) -> None:
    adj = net.adjacency
    assert (adj != adj.T).nnz == 0  # symmetric
    assert adj.diagonal().sum() == 0  # no self-loops
    assert adj.max() == 1  # no multi-edges


@pytest.mark.parametrize(("k", "p"), [(10, 0.1), (6, 0.3), (4, 0.0)])
def test_watts_strogatz_matches_networkx(k: int, p: float) -> None:
    ours_deg, nx_deg, ours_cc, nx_cc = [], [], [], []
    for seed in SEEDS:
        src, dst = watts_strogatz_edges(N, k, p, np.random.default_rng(seed))
        assert src.size == N * k // 2  # rewiring keeps the edge count
        g = _nx_from_edges(N, src, dst)
        ref = nx.watts_strogatz_graph(N, k, p, seed=seed)
        ours_deg.append(_degrees(g))
        nx_deg.append(_degrees(ref))
        ours_cc.append(nx.average_clustering(g))
        nx_cc.append(nx.average_clustering(ref))
    a, b = np.concatenate(ours_deg), np.concatenate(nx_deg)
    assert a.mean() == pytest.approx(k) and b.mean() == pytest.approx(k)
    assert a.std() == pytest.approx(b.std(), rel=0.1, abs=0.05)
    assert stats.ks_2samp(a, b).pvalue > 0.01
    # clustering: (3(k−2) / 4(k−1)) (1−p)^3 ≈ 0.486 at k=10, p=0.1 — both generators agree
    assert np.mean(ours_cc) == pytest.approx(np.mean(nx_cc), abs=0.01)
    if p == 0.0:
        assert np.mean(ours_cc) == pytest.approx(3 * (k - 2) / (4 * (k - 1)))


def test_barabasi_albert_matches_networkx() -> None:
    m = 3
    ours, ref, ours_cc, ref_cc = [], [], [], []
    for seed in SEEDS:
        src, dst = barabasi_albert_edges(N, m, seed)
        g = _nx_from_edges(N, src, dst)
        r = nx.barabasi_albert_graph(N, m, seed=seed)
        ours.append(_degrees(g))
        ref.append(_degrees(r))
        ours_cc.append(nx.average_clustering(g))
        ref_cc.append(nx.average_clustering(r))
    a, b = np.concatenate(ours), np.concatenate(ref)
    assert a.mean() == pytest.approx(b.mean(), rel=0.02)  # ≈ 2m
    assert a.min() >= 1 and np.median(a) == np.median(b)
    # the heavy tail: hubs of similar size, same share of nodes with degree > 4m
    assert np.mean(a > 4 * m) == pytest.approx(np.mean(b > 4 * m), abs=0.02)
    assert stats.ks_2samp(a, b).pvalue > 0.01
    assert np.mean(ours_cc) == pytest.approx(np.mean(ref_cc), abs=0.01)


def test_block_model_matches_networkx_sbm() -> None:
    """opmatrix's SBM over (segment, city) against nx.stochastic_block_model with the same
    block sizes and tie probabilities: same mean degree and share of within-block ties."""
    data = small_scenario_dict()
    data["graph"] = {"kind": "sbm", "mean_degree": 8.0, "within_city_odds": 10.0}
    model = OperatingMatrixModel(scenario_from_dict(data), seed=3)
    pop, net = model.population, model.network
    _assert_simple_undirected(net)
    n_cities = int(pop.city.max()) + 1
    block = pop.segment.astype(np.int64) * n_cities + pop.city
    src = np.repeat(np.arange(pop.n), np.diff(net.indptr))
    within = np.mean(block[src] == block[net.indices])
    assert net.degree.mean() == pytest.approx(8.0, rel=0.1)

    ids, sizes = np.unique(block, return_counts=True)
    seg_of, city_of = ids // n_cities, ids % n_cities
    weight = np.where(seg_of[:, None] == seg_of[None, :], 4.0, 1.0) * np.where(
        city_of[:, None] == city_of[None, :], 10.0, 1.0
    )
    sz = sizes.astype(float)
    total = (np.outer(sz, sz) * weight).sum() - (sz * np.diag(weight)).sum()
    pref = np.minimum(weight * 8.0 * pop.n / total, 1.0)
    ref = nx.stochastic_block_model(sizes.tolist(), pref.tolist(), seed=3)
    ref_deg = _degrees(ref)
    ref_block = np.repeat(np.arange(ids.size), sizes)
    e = np.array(ref.edges())
    ref_within = np.mean(ref_block[e[:, 0]] == ref_block[e[:, 1]])
    assert net.degree.mean() == pytest.approx(ref_deg.mean(), rel=0.08)
    assert within == pytest.approx(ref_within, abs=0.04)
    assert within > 0.3  # homophily: far more in-block ties than the ~6 % of random mixing


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(min_value=12, max_value=400),
    half_k=st.integers(min_value=1, max_value=5),
    p=st.floats(min_value=0.0, max_value=1.0),
    seed=st.integers(min_value=0, max_value=2**31),
)
def test_watts_strogatz_is_always_a_simple_graph(n: int, half_k: int, p: float, seed: int) -> None:
    k = 2 * half_k
    src, dst = watts_strogatz_edges(n, k, p, np.random.default_rng(seed))
    net = SocialNetwork.from_edges(n, src, dst)
    assert net.n_edges == n * k // 2
    assert net.degree.sum() == n * k
    _assert_simple_undirected(net)


def test_networkx_view_round_trips() -> None:
    src, dst = watts_strogatz_edges(300, 6, 0.2, np.random.default_rng(5))
    net = SocialNetwork.from_edges(300, src, dst)
    g = net.to_networkx()
    assert g.number_of_edges() == net.n_edges == 900
    assert sorted(g.neighbors(17)) == sorted(net.neighbours(17).tolist())


@settings(max_examples=40, deadline=None)
@given(keys=st.lists(st.integers(0, 10**12), max_size=300))
def test_sorted_unique_equals_numpy_unique(keys: list[int]) -> None:
    arr = np.array(keys, dtype=np.int64)
    assert np.array_equal(_sorted_unique(arr), np.unique(arr))


def test_weak_ties_are_simple_and_disjoint_from_the_strong_layer() -> None:
    data = small_scenario_dict()
    data["graph"] = {"kind": "watts_strogatz", "k": 6, "weak_ties": {"mean_degree": 6.0}}
    model = OperatingMatrixModel(scenario_from_dict(data), seed=4)
    strong, weak = model.network, model.network.weak
    assert weak is not None
    _assert_simple_undirected(weak)
    assert weak.degree.mean() == pytest.approx(6.0, rel=0.05)
    assert (strong.adjacency.multiply(weak.adjacency)).nnz == 0  # no tie in both layers
