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
    files = list(store.glob("*.csr"))
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
    assert not np.array_equal(other_pop.city, pop.city)
    # a plain Watts–Strogatz graph does not depend on who is where, so neither does its key
    assert graph_key(cfg, other_pop, 1) == key
    for graph in ({"kind": "sbm"}, {"kind": "watts_strogatz", "k": 6, "p": 0.1,
                                     "weak_ties": {"mean_degree": 4.0}}):
        placed = scenario_from_dict(small_scenario_dict(graph=graph)).graph
        assert graph_key(placed, other_pop, 1) != graph_key(placed, pop, 1)
    sbm = scenario_from_dict(small_scenario_dict(graph={"kind": "sbm"})).graph
    assert graph_key(sbm, pop, 1) != key  # generator
    _model(seed=2)
    _model(graph={"kind": "barabasi_albert", "m": 2})
    assert len(list(store.glob("*.csr"))) == 3


def _entry(store: Path) -> tuple[OperatingMatrixModel, Path, bytes]:
    """A model whose graph was just built and cached, its entry and the entry's bytes."""
    good = _model()
    (path,) = store.glob("*.csr")
    return good, path, path.read_bytes()


def _rebuilt(good: OperatingMatrixModel, path: Path, whole: bytes) -> None:
    again = _model()
    assert np.array_equal(good.network.indptr, again.network.indptr)
    assert np.array_equal(good.network.indices, again.network.indices)
    assert path.read_bytes() == whole  # rewritten with the real graph


def test_damaged_entry_is_rebuilt(store: Path) -> None:
    good, path, whole = _entry(store)
    path.write_bytes(b"not a graph")
    _rebuilt(good, path, whole)
    path.write_bytes(whole[: len(whole) - 64])  # truncated: its size is not its header's
    _rebuilt(good, path, whole)
    path.write_bytes(whole + b"\0" * 64)  # grown
    _rebuilt(good, path, whole)


def test_other_formats_and_keys_are_refused(store: Path) -> None:
    """An entry of another format version (an .npz of format 1 under the new name, or this
    layout with another version number), or a whole entry of another key copied under this
    key's name, is never read as this graph: it is rebuilt."""
    good, path, whole = _entry(store)
    with path.open("wb") as fh:  # format 1's layout
        np.savez(fh, n=np.array(2000), indptr=good.network.indptr, indices=good.network.indices)
    _rebuilt(good, path, whole)
    version = f'"format": {cache.FORMAT}'.encode()
    assert version in whole[: 4096]
    path.write_bytes(whole.replace(version, f'"format": {cache.FORMAT + 1}'.encode(), 1))
    _rebuilt(good, path, whole)
    _model(seed=2)
    other = next(p for p in store.glob("*.csr") if p != path)
    path.write_bytes(other.read_bytes())  # a whole entry, but another graph's
    _rebuilt(good, path, whole)


def test_a_hit_maps_the_file_copy_on_write(store: Path) -> None:
    """A loaded graph's arrays are writeable like a built graph's (numba compiles the same
    signatures) and writing to them never reaches the file."""
    good, path, whole = _entry(store)
    warm = _model()
    for a in (warm.network.indptr, warm.network.indices):
        assert type(a) is np.ndarray and a.flags.writeable and a.flags.c_contiguous
    assert warm.network.indptr.dtype == np.int64 and warm.network.indices.dtype == np.int32
    assert np.shares_memory(warm.network.indices, warm.network.indices.base)
    warm.network.indices[:5] = 0
    assert path.read_bytes() == whole
    assert np.array_equal(_model().network.indices, good.network.indices)


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
    assert len(list(store.glob("*.csr"))) == 1
    assert cold.network.weak is not None and warm.network.weak is not None
    assert warm.network.weak.n_edges == cold.network.weak.n_edges > 0
    assert np.array_equal(cold.network.weak.indices, warm.network.weak.indices)
    assert np.array_equal(cold.network.indices, warm.network.indices)
