"""On-disk cache of built social graphs, so sweeps and repeated runs build each graph once.

A graph is a pure function of its configuration, the population size, the run's root seed and
(for block models and geographic weak ties only) the customers' segments and cities, and of the
generator code itself; the cache key hashes exactly these (and the file format's version).

An entry is one file ``<key>.csr``: a 4,096-byte header (a magic line, then JSON naming the
format version, the full key, N and each array's dtype, length and byte offset), then the raw
CSR arrays (the weak-tie layer's too when there is one), each at an offset aligned to 64 bytes.
A hit maps the arrays into memory (``numpy.memmap``, copy-on-write) instead of decoding them:
nothing is read, checksummed or copied up front, the pages come from the page cache as the
first kernels touch them, on every thread they run on. At 10M customers (Watts–Strogatz k=10,
480 MB) the ``.npz`` of format 1 took 0.5-1.1 CPU-s to load (zip CRC + a copy of every array),
the mapping takes milliseconds. Copy-on-write (``mode="c"``) rather than read-only keeps the
arrays writeable, so numba compiles the same signatures for a loaded graph as for a built one,
and nothing a run might write ever reaches the file.

Files are written atomically (temporary file + rename) and never modified in place, so a
concurrent worker never reads half a file and a mapped entry never changes under a run. A file
whose header is not this format's, names another key or N, or whose size does not match its
header (an older format, a damaged or truncated file) is never read: it is rebuilt.

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
from pathlib import Path

import numpy as np

from simulation.network import builders, kernels, social
from simulation.network.social import SocialNetwork, build_network
from simulation.population.state import PopulationState
from simulation.scenario.schema import (
    BarabasiAlbertGraph,
    CompleteGraph,
    EdgeListGraph,
    GraphConfig,
    PopulationConfig,
    WattsStrogatzGraph,
)

#: Smallest population whose graph is cached (inf.: a 10k Watts–Strogatz graph builds in ~20 ms).
MIN_CACHED_CUSTOMERS = 10_000
#: Bump when the file layout changes (it is part of every key and of every file's header).
#: 1: ``.npz``; 2: ``.csr``, a JSON header and raw arrays, memory-mapped.
FORMAT = 2
#: The first bytes of every entry (then the JSON header, padded to :data:`_HEADER_BYTES`).
MAGIC = b"OPMATRIX-CSR\n"
SUFFIX = ".csr"
_HEADER_BYTES = 4096
_ALIGN = 64
#: The arrays an entry may hold, in file order, and their dtypes.
_ARRAYS = {
    "indptr": np.dtype(np.int64),
    "indices": np.dtype(np.int32),
    "weak_indptr": np.dtype(np.int64),
    "weak_indices": np.dtype(np.int32),
}
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
    if _reads_assignment(cfg):  # who is where: hashed only when the graph depends on it
        h.update(np.ascontiguousarray(population.segment).tobytes())
        h.update(np.ascontiguousarray(population.city).tobytes())
    return h.hexdigest()[:32]


def _reads_assignment(cfg: GraphConfig) -> bool:
    """Whether the graph depends on the customers' segments and cities: block models and
    geographic weak ties do; a Watts–Strogatz or Barabási–Albert layer alone is a function of
    N and the seed only (builders.build_edges), so its key skips hashing 6 bytes a customer
    (0.1 CPU-s at 10M customers, on every run, warm or cold)."""
    plain = isinstance(cfg, WattsStrogatzGraph | BarabasiAlbertGraph)
    return not plain or getattr(cfg, "weak_ties", None) is not None


def _arrays_of(net: SocialNetwork) -> dict[str, np.ndarray]:
    arrays = {"indptr": net.indptr, "indices": net.indices}
    weak = net.weak
    if weak is not None:
        arrays["weak_indptr"] = weak.indptr
        arrays["weak_indices"] = weak.indices
    return {
        name: np.ascontiguousarray(a, dtype=_ARRAYS[name]) for name, a in arrays.items()
    }


def _header(key: str, n: int, arrays: dict[str, np.ndarray]) -> tuple[bytes, int]:
    """The padded header of an entry holding ``arrays``, and the file's total size."""
    offset = _HEADER_BYTES
    table = {}
    for name, a in arrays.items():
        table[name] = {"dtype": a.dtype.str, "length": int(a.size), "offset": offset}
        offset += -(-a.nbytes // _ALIGN) * _ALIGN
    meta = {"format": FORMAT, "key": key, "n": int(n), "arrays": table, "size": offset}
    raw = MAGIC + json.dumps(meta, sort_keys=True).encode() + b"\n"
    if len(raw) > _HEADER_BYTES:  # pragma: no cover - four arrays take ~400 bytes
        raise ValueError("graph cache header too long")
    return raw.ljust(_HEADER_BYTES, b"\0"), offset


def _save(path: Path, key: str, net: SocialNetwork) -> None:
    """Write ``net`` as the entry ``path`` (atomically: a temporary file renamed over it)."""
    arrays = _arrays_of(net)
    header, size = _header(key, net.n, arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(header)
            for a in arrays.values():
                fh.write(memoryview(a).cast("B"))
                fh.write(b"\0" * (-a.nbytes % _ALIGN))
            if fh.tell() != size:  # pragma: no cover - the layout above is the header's
                raise OSError("graph cache entry has the wrong size")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_header(path: Path) -> dict | None:
    """The entry's header if it is this format's and the file is whole, else ``None``."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(_HEADER_BYTES)
            size = os.fstat(fh.fileno()).st_size
    except OSError:
        return None
    if len(raw) < _HEADER_BYTES or not raw.startswith(MAGIC):
        return None  # another format (format 1 was a zip) or a damaged file
    try:
        meta = json.loads(raw[len(MAGIC):].split(b"\n", 1)[0])
    except ValueError:
        return None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("size") != size:
        return None  # another version of this format, or truncated / grown
    return meta


def _load(path: Path, key: str, n: int) -> SocialNetwork | None:
    """The graph stored at ``path`` for ``key`` and ``n`` customers, or ``None`` when the
    file is not a whole entry of this format for exactly that key (then it is rebuilt)."""
    meta = _read_header(path)
    if meta is None or meta.get("key") != key or meta.get("n") != n:
        return None
    arrays: dict[str, np.ndarray] = {}
    try:
        for name, spec in meta["arrays"].items():
            dtype = _ARRAYS[name]
            length, offset = int(spec["length"]), int(spec["offset"])
            if np.dtype(spec["dtype"]) != dtype or offset % _ALIGN or length < 0:
                return None
            if offset + length * dtype.itemsize > meta["size"]:
                return None
            if length == 0:
                arrays[name] = np.empty(0, dtype=dtype)
                continue
            # copy-on-write map, handed on as a plain ndarray (its base keeps the map alive)
            mapped = np.memmap(path, dtype=dtype, mode="c", offset=offset, shape=(length,))
            arrays[name] = mapped.view(np.ndarray)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    layers = [("indptr", "indices")]
    if "weak_indptr" in arrays or "weak_indices" in arrays:
        layers.append(("weak_indptr", "weak_indices"))
    for ptr, idx in layers:
        if ptr not in arrays or idx not in arrays:
            return None
        indptr, indices = arrays[ptr], arrays[idx]
        if indptr.size != n + 1 or indptr[0] != 0 or indptr[-1] != indices.size:
            return None
    net = SocialNetwork(n, arrays["indptr"], arrays["indices"])
    if len(layers) == 2:
        net.weak = SocialNetwork(n, arrays["weak_indptr"], arrays["weak_indices"])
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
    key = graph_key(cfg, population, seed)
    path = directory / f"{key}{SUFFIX}"
    if path.exists():
        net = _load(path, key, population.n)
        if net is not None:
            return net
    net = build_network(cfg, population, rng)
    # A read-only or full disk must not fail the run: it is only a cache.
    with contextlib.suppress(OSError):
        _save(path, key, net)
    return net
