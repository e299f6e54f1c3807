"""The on-disk graph cache: a hit returns the very graph a build would, keys separate every
input the graph depends on, writes are atomic, damaged files are rebuilt, and runs give the
same numbers with the cache cold, warm or off."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulation import OperatingMatrixModel, run, scenario_from_dict
from simulation.network import cache
from simulation.network.cache import cache_dir, cached_network, graph_key
from simulation.rng import Streams
from tests.conftest import small_scenario_dict


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OPMATRIX_CACHE", str(tmp_path))
    monkeypatch.setattr(cache, "MIN_CACHED_CUSTOMERS", 0)
    return tmp_path / "graphs"


def _model(seed: int = 1, **changes) -> OperatingMatrixModel:
    return OperatingMatrixModel(scenario_from_dict(small_scenario_dict(**changes)), seed)


def test_location_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("OPMATRIX_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path / "graphs"
    monkeypatch.setenv("OPMATRIX_CACHE", "off")
    assert cache_dir() is None
    monkeypatch.delenv("OPMATRIX_CACHE")
    assert cache_dir() == Path.home() / ".cache" / "opmatrix" / "graphs"


def test_hit_returns_the_built_graph(store: Path) -> None:
    first = _model()
    files = list(store.glob("*.npz"))
    assert len(files) == 1
    assert not list(store.glob(".*"))  # no temporary file left behind
    stamp = files[0].stat().st_mtime_ns
    second = _model()
    assert files[0].stat().st_mtime_ns == stamp  # read, not rewritten
    assert np.array_equal(first.network.indptr, second.network.indptr)
    assert np.array_equal(first.network.indices, second.network.indices)
    assert second.network.degree.sum() == 2000 * 6


def test_keys_separate_every_input(store: Path) -> None:
    base = _model()
    pop, cfg = base.population, base.scenario.graph
    key = graph_key(cfg, pop, 1)
    assert graph_key(cfg, pop, 1) == key
    assert graph_key(cfg, pop, 2) != key  # seed
    assert graph_key(cfg.model_copy(update={"p": 0.2}), pop, 1) != key  # parameters
    other_pop = _model(seed=2).population  # same size, other segment/city assignment
    assert graph_key(cfg, other_pop, 1) != key
    sbm = scenario_from_dict(small_scenario_dict(graph={"kind": "sbm"})).graph
    assert graph_key(sbm, pop, 1) != key  # generator
    _model(seed=2)
    _model(graph={"kind": "barabasi_albert", "m": 2})
    assert len(list(store.glob("*.npz"))) == 3


def test_damaged_entry_is_rebuilt(store: Path) -> None:
    good = _model()
    (path,) = store.glob("*.npz")
    path.write_bytes(b"not a zip file")
    again = _model()
    assert np.array_equal(good.network.indices, again.network.indices)
    assert path.stat().st_size > 1000  # rewritten with the real graph


def test_small_graphs_and_complete_graphs_are_not_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPMATRIX_CACHE", str(tmp_path))
    _model()  # 2,000 customers, under the default threshold
    base = _model()
    rng = Streams(1).get("graph")
    complete = scenario_from_dict(small_scenario_dict(graph={"kind": "complete"})).graph
    net = cached_network(complete, base.population, rng, 1, min_customers=0)
    assert net.is_complete
    assert not (tmp_path / "graphs").exists()


def test_results_identical_cold_warm_and_off(store: Path, monkeypatch) -> None:
    sc = scenario_from_dict(small_scenario_dict())
    cold = run(sc, seed=4)
    warm = run(sc, seed=4)
    monkeypatch.setenv("OPMATRIX_CACHE", "off")
    off = run(sc, seed=4)
    for other in (warm, off):
        pd.testing.assert_frame_equal(cold.daily, other.daily)
        assert cold.summary == other.summary


def test_weak_tie_layer_is_cached_with_the_strong_one(store: Path) -> None:
    graph = {"kind": "watts_strogatz", "k": 6, "p": 0.1, "weak_ties": {"mean_degree": 4.0}}
    cold = _model(graph=graph)
    warm = _model(graph=graph)
    assert len(list(store.glob("*.npz"))) == 1
    assert cold.network.weak is not None and warm.network.weak is not None
    assert warm.network.weak.n_edges == cold.network.weak.n_edges > 0
    assert np.array_equal(cold.network.weak.indices, warm.network.weak.indices)
    assert np.array_equal(cold.network.indices, warm.network.indices)
