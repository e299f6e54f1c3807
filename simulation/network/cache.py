"""On-disk cache of built social graphs, so sweeps and repeated runs build each graph once.

A graph is a pure function of its configuration, the population size, the run's root seed and
(for homophilous or geographic layers) the customers' segments and cities, and of the generator
code itself; the cache key hashes exactly these. Entries are ``.npz`` files of the CSR arrays
(plus the weak-tie layer when there is one), written atomically (temporary file + rename), so
concurrent workers never read half a file; a damaged entry is rebuilt.

Location: ``$OPMATRIX_CACHE/graphs`` (default ``~/.cache/opmatrix/graphs``);
``OPMATRIX_CACHE=off`` switches caching off. Graphs under :data:`MIN_CACHED_CUSTOMERS`
customers are built directly: they take milliseconds, a cache file would not pay.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from simulation.network import builders, kernels, social
from simulation.network.social import SocialNetwork, build_network
from simulation.population.state import PopulationState
from simulation.scenario.schema import (
    CompleteGraph,
    EdgeListGraph,
    GraphConfig,
    PopulationConfig,
)

#: Smallest population whose graph is cached (inf.: a 10k Watts–Strogatz graph builds in ~20 ms).
MIN_CACHED_CUSTOMERS = 10_000
#: Bump when the file layout changes.
FORMAT = 1
_OFF = {"0", "off", "none", "false", "no"}


def cache_dir() -> Path | None:
    """Where graphs are cached, or ``None`` when caching is switched off."""
    env = os.environ.get("OPMATRIX_CACHE")
    if env is not None and env.strip().lower() in _OFF:
        return None
    base = Path(env).expanduser() if env else Path.home() / ".cache" / "opmatrix"
    return base / "graphs"


def _code_fingerprint() -> bytes:
    """The generator code: editing a generator invalidates every graph it built."""
    h = hashlib.sha256()
    for module in (builders, kernels, social):
        h.update(Path(module.__file__).read_bytes())
    return h.digest()


def graph_key(cfg: GraphConfig, population: PopulationState, seed: int) -> str:
    """Content key of the graph ``cfg`` builds for ``population`` under root ``seed``."""
    h = hashlib.sha256()
    spec = {
        "format": FORMAT,
        "graph": cfg.model_dump(mode="json"),
        "n": population.n,
        "seed": int(seed),
    }
    h.update(json.dumps(spec, sort_keys=True).encode())
    h.update(_code_fingerprint())
    # Block models and geographic weak ties depend on who is where: hash the assignment.
    h.update(np.ascontiguousarray(population.segment).tobytes())
    h.update(np.ascontiguousarray(population.city).tobytes())
    return h.hexdigest()[:32]


def _save(path: Path, net: SocialNetwork) -> None:
    arrays = {"n": np.array(net.n), "indptr": net.indptr, "indices": net.indices}
    weak = getattr(net, "weak", None)
    if weak is not None:
        arrays["weak_indptr"] = weak.indptr
        arrays["weak_indices"] = weak.indices
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load(path: Path, n: int) -> SocialNetwork | None:
    try:
        with np.load(path) as data:
            if int(data["n"]) != n:
                return None
            net = SocialNetwork(n, data["indptr"], data["indices"])
            if "weak_indptr" in data:
                net.weak = SocialNetwork(n, data["weak_indptr"], data["weak_indices"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    return net


def cached_network(
    cfg: GraphConfig,
    population: PopulationState,
    rng: np.random.Generator,
    seed: int,
    min_customers: int | None = None,
    population_cfg: PopulationConfig | None = None,
) -> SocialNetwork:
    """:func:`build_network`, reusing a graph built earlier for the same inputs.

    ``rng`` must be the run's dedicated graph stream (derived from ``seed``): on a cache hit it
    is left untouched, so nothing else may draw from it.
    """
    directory = cache_dir()
    threshold = MIN_CACHED_CUSTOMERS if min_customers is None else min_customers
    if (
        directory is None
        or isinstance(cfg, CompleteGraph | EdgeListGraph)  # an edge list is read, not built
        or population.n < threshold
    ):
        return build_network(cfg, population, rng, population_cfg)
    path = directory / f"{graph_key(cfg, population, seed)}.npz"
    if path.exists():
        net = _load(path, population.n)
        if net is not None:
            return net
    net = build_network(cfg, population, rng)
    # A read-only or full disk must not fail the run: it is only a cache.
    with contextlib.suppress(OSError):
        _save(path, net)
    return net
