"""A bank's own tie list as the social graph: ``graph: {source: edges.csv}``.

One row per undirected tie between two customers: ``src, dst`` (customer ids of the customer
table, or row numbers 0..N−1 when the population is synthetic), an optional ``layer`` (referral,
colleague, neighbourhood…) and an optional ``weight`` (> 0). Layers named in
``graph.weak_layers`` form the weak-tie layer referral invitations may also travel along; the
others are the strong ties word of mouth uses. ``graph.synthetic`` adds a generated strong layer
(e.g. Watts–Strogatz) and ``graph.weak_ties`` a generated weak layer on top of the file's ties,
for a base whose recorded ties are only part of its real ones.

Errors name the file, the rows and the column: unknown ids, self-loops, a tie listed twice
within one layer (in either direction), empty or non-positive weights.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulation.data.tables import TableChecker, _stat_key, read_table

EDGE_FIELDS: dict[str, str] = {
    "src": "customer id of one end",
    "dst": "customer id of the other end",
    "layer": "tie layer name (optional; default 'ties')",
    "weight": "tie strength > 0 (optional; default 1)",
}
DEFAULT_LAYER = "ties"


@dataclass(frozen=True, eq=False)
class EdgeTable:
    """The edge file's columns after format checks (ids not yet matched to customers)."""

    path: str
    src: pd.Series
    dst: pd.Series
    layer: np.ndarray  # object: layer name per row
    weight: np.ndarray  # float64

    @property
    def layers(self) -> list[str]:
        return sorted(set(self.layer.tolist()))


def load_edges(
    path: str | Path, columns: dict[str, str] | None = None, ignore: list[str] | None = None
) -> EdgeTable:
    p = Path(path)
    key = _stat_key(p) if p.exists() else (str(p), -1, -1)
    return _load_cached(key, tuple(sorted((columns or {}).items())), tuple(ignore or ()))


@functools.lru_cache(maxsize=8)
def _load_cached(
    key: tuple[str, int, int], columns: tuple[tuple[str, str], ...], ignore: tuple[str, ...]
) -> EdgeTable:
    path = key[0]
    frame = read_table(path, "edge list")
    checker = TableChecker(path)
    cols = list(frame.columns)
    mapping: dict[str, str] = {}
    for fld, col in columns:
        if fld not in EDGE_FIELDS:
            checker.add(f"graph.columns has unknown edge field '{fld}'; valid: "
                        f"{', '.join(EDGE_FIELDS)}")
        elif col not in cols:
            checker.add(f"graph.columns.{fld} names column '{col}', which the file does not "
                        f"have; its columns: {', '.join(cols)}")
        else:
            mapping[fld] = col
    used = set(mapping.values())
    for col in cols:
        if col in used or col in ignore:
            continue
        if col in EDGE_FIELDS and col not in mapping:
            mapping[col] = col
        else:
            checker.add("not mapped to an edge field: map it in graph.columns "
                        f"({', '.join(EDGE_FIELDS)}) or list it in graph.ignore_columns", col)
    for fld in ("src", "dst"):
        if fld not in mapping and not checker.problems:
            checker.add(f"no '{fld}' column: name it in graph.columns.{fld}; the file's "
                        f"columns: {', '.join(cols)}")
    checker.raise_if_any()
    for fld in ("src", "dst"):
        raw = frame[mapping[fld]]
        missing = raw.isna().to_numpy()
        if missing.any():
            checker.add("empty customer id", mapping[fld], missing)
    if "layer" in mapping:
        layer = checker.labels(frame, mapping["layer"])
    else:
        layer = np.full(len(frame), DEFAULT_LAYER, dtype=object)
    if "weight" in mapping:
        weight = checker.numbers(frame, mapping["weight"], 0.0, strict_low=True)
    else:
        weight = np.ones(len(frame))
    checker.raise_if_any()
    assert layer is not None and weight is not None
    return EdgeTable(path, frame[mapping["src"]], frame[mapping["dst"]], layer, weight)


@dataclass(frozen=True, eq=False)
class MatchedEdges:
    """Edges as customer row positions, split into the strong and the weak layer."""

    strong: tuple[np.ndarray, np.ndarray]
    weak: tuple[np.ndarray, np.ndarray] | None
    strong_weight: np.ndarray
    weak_weight: np.ndarray | None


def match_edges(
    table: EdgeTable,
    index_of: Any,
    n: int,
    weak_layers: list[str],
    src_column: str = "src",
    dst_column: str = "dst",
    id_space: str = "",
) -> MatchedEdges:
    """Ids → row positions; raises :class:`ScenarioError` naming rows for every bad tie.

    ``index_of(values)`` maps ids to row positions (−1 unknown), ``n`` is the population size.
    """
    checker = TableChecker(table.path)
    src = index_of(table.src)
    dst = index_of(table.dst)
    for pos, raw, col in ((src, table.src, src_column), (dst, table.dst, dst_column)):
        unknown = pos < 0
        if unknown.any():
            first = raw.iloc[int(np.flatnonzero(unknown)[0])]
            where = id_space or f"not in the customer table of {n:,} customers"
            checker.add(f"unknown customer id {first!r} ({where})", col, unknown)
    checker.raise_if_any()
    loops = src == dst
    if loops.any():
        checker.add(f"self-loop: customer {table.src.iloc[int(np.flatnonzero(loops)[0])]!r} is "
                    "tied to itself", src_column, loops)
    lo = np.minimum(src, dst).astype(np.int64)
    hi = np.maximum(src, dst).astype(np.int64)
    layer_codes = pd.factorize(table.layer)[0].astype(np.int64)
    key = (layer_codes * (n + 1) + lo) * (n + 1) + hi
    dup = pd.Series(key).duplicated(keep="first").to_numpy()
    if dup.any():
        first = int(np.flatnonzero(dup)[0])
        earlier = int(np.flatnonzero(key == key[first])[0])
        checker.add(f"duplicate tie {table.src.iloc[first]!r}–{table.dst.iloc[first]!r} in layer "
                    f"'{table.layer[first]}' (first on row {earlier + 1}; ties are undirected)",
                    src_column, dup)
    unknown_layers = sorted(set(weak_layers) - set(table.layer.tolist()))
    if unknown_layers:
        checker.add(f"graph.weak_layers names layer(s) {', '.join(unknown_layers)} not in the "
                    f"file; its layers: {', '.join(table.layers)}", "layer")
    checker.raise_if_any()
    is_weak = np.isin(table.layer, np.array(weak_layers, dtype=object))
    strong = (lo[~is_weak], hi[~is_weak])
    weak = (lo[is_weak], hi[is_weak]) if is_weak.any() else None
    return MatchedEdges(
        strong, weak, table.weight[~is_weak], table.weight[is_weak] if weak else None
    )

