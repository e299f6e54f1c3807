"""What the scenario schema calls for ``population.source`` and ``graph.source``.

Kept apart from ``scenario/schema.py`` so the schema stays a list of declarations: the schema's
population and graph sections call :func:`prepare_population` (before validation: size and
file digest filled in from the file) and :func:`check_population` / :func:`check_graph` (after
validation: the file's values against the scenario's segments and customers). File problems are
raised as :class:`~simulation.errors.ScenarioError` with the data file as their source; that is
not a ``ValueError``, so pydantic passes it through unchanged and the CLI prints file, rows and
column and exits 2.
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import Any

from simulation.data.customers import customer_problems, load_customers
from simulation.data.edges import load_edges, match_edges
from simulation.data.tables import _stat_key, file_digest, resolve
from simulation.errors import Problem, ScenarioError


def _digest_problem(data: dict[str, Any], path: Path, section: str) -> None:
    digest = file_digest(path)
    pinned = data.get("source_sha256")
    if pinned is not None and str(pinned) != digest:
        raise ScenarioError(
            str(path),
            [Problem("", f"the file changed since {section}.source_sha256 was written "
                     f"({pinned}, now {digest}); remove source_sha256 to use the new data")],
        )
    data["source_sha256"] = digest


def prepare_population(data: Any) -> Any:
    """Fill ``size`` (the table's row count) and ``source_sha256`` for a ``source``d population."""
    if not isinstance(data, dict) or not data.get("source"):
        return data
    data = dict(data)
    path = resolve(str(data["source"]))
    data["source"] = str(path)
    columns = data.get("columns") or {}
    ignore = data.get("ignore_columns") or []
    if not isinstance(columns, dict) or not isinstance(ignore, list):
        return data  # the schema reports the wrong types
    table = load_customers(path, {str(k): str(v) for k, v in columns.items()},
                           [str(c) for c in ignore])
    size = data.get("size")
    if size is None:
        data["size"] = table.n
    elif isinstance(size, int) and size != table.n:
        raise ScenarioError(
            str(path),
            [Problem("", f"has {table.n:,} customer rows but population.size is {size:,}; "
                     "remove size (it is taken from the file) or make them agree")],
        )
    if table.weight is not None:
        # Rows of any weights are population weights (PopulationState.weight, issue 14);
        # population.scale is then their mean, so N × scale is the represented population.
        w = table.weight
        mean = float(w.mean())
        scale = data.get("scale")
        if scale is not None and abs(float(scale) - mean) > 1e-9 * mean:
            raise ScenarioError(
                str(path),
                [Problem("column 'weight'", f"the rows weigh {mean:g} on average but "
                         f"population.scale is {scale}; remove scale (it is taken from the "
                         "weights)")],
            )
        data["scale"] = mean
    _digest_problem(data, path, "population")
    return data


def check_population(population: Any) -> None:
    """The customer table against the validated population section (segments, age bands)."""
    if population.source is None:
        return
    err = customer_problems(population)
    if err is not None:
        raise err


def prepare_graph(data: Any) -> Any:
    if not isinstance(data, dict) or not data.get("source"):
        return data
    data = dict(data)
    data.setdefault("kind", "file")
    path = resolve(str(data["source"]))
    data["source"] = str(path)
    with contextlib.suppress(OSError):
        _digest_problem(data, path, "graph")
    return data


def graph_edges(graph: Any, population_cfg: Any, n: int) -> Any:
    """The graph file's ties matched to the customers (``MatchedEdges``); raises on bad ties.

    Cached per process: a sweep or calibration validates the same scenario for every trial."""
    pop_key = None
    if population_cfg is not None and population_cfg.source is not None:
        pop_key = (
            population_cfg.source,
            tuple(sorted(population_cfg.columns.items())),
            tuple(population_cfg.ignore_columns),
        )
    return _graph_edges_cached(
        _stat_key(Path(graph.source)) if Path(graph.source).exists() else (graph.source, -1, -1),
        tuple(sorted(graph.columns.items())),
        tuple(graph.ignore_columns),
        tuple(graph.weak_layers),
        pop_key,
        n,
    )


@functools.lru_cache(maxsize=8)
def _graph_edges_cached(
    edge_key: tuple[str, int, int],
    columns: tuple[tuple[str, str], ...],
    ignore: tuple[str, ...],
    weak_layers: tuple[str, ...],
    pop_key: tuple[str, tuple[tuple[str, str], ...], tuple[str, ...]] | None,
    n: int,
) -> Any:
    table = load_edges(edge_key[0], dict(columns), list(ignore))
    if pop_key is not None:
        customers = load_customers(pop_key[0], dict(pop_key[1]), list(pop_key[2]))
        if customers.ids is None:
            raise ScenarioError(
                table.path,
                [Problem("", f"an edge list needs customer ids: map an id column of "
                         f"{customers.path} in population.columns.id")],
            )
        index_of = customers.index_of
        space = ""
    else:
        from simulation.data.customers import CustomerTable

        index_of = CustomerTable("", n).index_of  # ids are row numbers 0..N-1
        space = f"a synthetic population's ids are its row numbers 0..{n - 1}"
    names = {"src": "src", "dst": "dst", **dict(columns)}
    return match_edges(table, index_of, n, list(weak_layers), names["src"], names["dst"],
                       space)


def check_money(scenario: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """Called through the population section's ``cross_problems`` hook: a customer table's
    balance and holding columns against the money section (file, rows, column)."""
    from simulation.data.customers import money_problems

    pop = scenario.population
    if pop.source is None:
        return []
    table = load_customers(pop.source, pop.columns, pop.ignore_columns)
    problems = money_problems(table, scenario)
    if problems:
        raise ScenarioError(table.path, problems)
    return []


def check_graph(scenario: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """Called through the graph section's ``cross_problems`` hook: match every tie once."""
    graph_edges(scenario.graph, scenario.population, scenario.population.size)
    return []


def absolutize_sources(data: Any, base: Path) -> Any:
    """``population.source`` and ``graph.source`` made absolute against ``base`` (the folder of
    the scenario YAML naming them), so a scenario runs the same from any working folder and in
    any worker process."""
    if not isinstance(data, dict):
        return data
    for section in ("population", "graph"):
        part = data.get(section)
        if isinstance(part, dict) and isinstance(part.get("source"), str) and part["source"]:
            part["source"] = str(resolve(part["source"], base))
    return data
