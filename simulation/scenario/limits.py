"""What a scenario needs before it runs: sizes that cannot fit are refused at validation.

A typo of a few zeros (``cities.count: 1000000000``, ``weak_ties.mean_degree: 1e9``) used to
surface as a numpy allocation error, or a hang, minutes into a run. Here each size is checked
against what the model can build — counts no larger than the population, a graph that can be
rewired — and the memory a run needs is estimated and compared with the memory this machine has
free, so the error names the field, the estimate and the limit.

The per-item byte costs are measured peak resident memory (``/usr/bin/time``, whole process,
graph built cold) of ``opmatrix run`` at 1M and 3M customers, as the slope between the two
sizes: benchmarks/scenarios/core_ws.yaml (5 ties a customer, one world) 500 B per customer,
scenarios/operating_matrix.yaml (10 ties a customer, every module, the money layer and its
counterfactual world) 770 B. The constants below reproduce both within 6 % (core_ws 500 B,
operating_matrix 820 B); the safety margin is the limit of 90 % of the free memory.

Re-measured 2026-12-01 evening after the graph build went to numba (int32 endpoints, rewiring
checks on the rewired slots only, the CSR from the far ends; peak RSS, cold graph, 2 threads,
loaded machine): core_ws × 365 days 0.639 GB at 1M, 1.248 GB at 3M (312 B a customer, was
500), 10M × 3 days 2.39 GB (4.70 GB before); operating_matrix × 20 days 1.104 / 2.462 GB
(679 B a customer). With 24 B a Watts–Strogatz tie (40 before; other layers unchanged, not
re-measured) the estimate is within −9 … +17 % of these four. At 100M customers core_ws × 365
needed ≈ 42 GB by that estimate, ≈ 32 GB by that slope (extrapolations; see below).

Re-measured 2026-12-01 late (benchmarks/bench_big.py: peak RSS, cold graph, 2 threads,
numba kernels compiled first; loaded machine): core_ws × 5 days 0.58 / 0.96 / 2.18 / 5.79 GB
at 1M / 3M / 10M / 30M (≈ 180 B a customer + 0.39 GB: the peak is the graph build),
core_ws × 365 days 0.68 / 1.24 GB at 1M / 3M (282 B a customer: the customers won add
money-layer accounts and result-time arrays). The estimate then said 420 B a customer + 0.2
GB — 2.2× the 30M × 5-day peak, and it refused a 50M run (21 GB estimated, 9–10 GB
needed) on a machine with 21 GB free. Now 170 B a customer + 0.4 GB fixed: core_ws × 365
0.69 / 1.27 GB at 1M / 3M (measured 0.68 / 1.24), × 5 days over by 35–57 % (the graph
build's peak is lower than the run's at a long horizon, which the estimate covers);
operating_matrix × 20 days 1.15 / 2.65 GB at 1M / 3M (measured 1.10 / 2.46).

Further worlds (counterfactual, ablations) each need their own arrays while they are alive:
with T threads up to T − 1 step beside the run, with one thread they run one at a time after
it. Re-measured 2026-12-01 on operating_matrix × 20 days (peak RSS, cold graph): 1M customers
0.89 GB with no extra world, 1.13 GB with its counterfactual on one thread (+234 B a
customer), 2.85 GB with the counterfactual and 7 leave-one-out worlds all beside the run on
16 threads (+245 B a customer and world; the estimate says 2.98 GB); core_ws 1M → 3M: +437 B
a customer. Finished worlds are freed at once (``incremental.run_world`` collects their
reference cycles: before, 8 worlds run one after another on one thread all stayed in memory).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulation.scenario.schema import Scenario

Problems = list[tuple[tuple[str | int, ...], str]]

#: Peak bytes per simulated customer without its ties (state arrays, daily recorder, strategy
#: arrays, the day's temporaries; see the module docstring).
BYTES_PER_CUSTOMER = 170
#: ... and per customer more for each further world alive at the same time as the run (its
#: own population copy, module and money arrays, its share of the day-0 copy they all start
#: from; :func:`live_worlds` says how many are alive at once).
BYTES_PER_CUSTOMER_WORLD = 260
#: Peak bytes per tie while a graph is built (endpoint arrays, sort keys, CSR in both directions).
BYTES_PER_EDGE = 40
#: ... for a Watts–Strogatz strong layer (int32 endpoints, rewiring scratch for the rewired
#: slots only, the CSR built from the far ends; simulation/network/kernels.py): re-measured
#: 2026-12-01 (see the module docstring). The other layers keep the figure above.
BYTES_PER_RING_EDGE = 24
#: The interpreter, numpy/numba/pandas and the compiled kernels.
BYTES_FIXED = 400_000_000
#: Share of the free memory a run may plan to use.
MEMORY_LIMIT = 0.9
#: Bytes per (block, block) pair of the block model (numpy matrices and igraph's Python lists).
BYTES_PER_BLOCK_PAIR = 64
#: People in China (NBS 2023: 1.41·10⁹): no bank's population (size × scale) exceeds it.
MAX_PEOPLE = 1.41e9


def available_memory() -> int:
    """Bytes of memory free for a run now (psutil's ``available``: free + reclaimable cache)."""
    import psutil

    return int(psutil.virtual_memory().available)


def extra_worlds(sc: Scenario) -> int:
    """Counterfactual and ablation worlds a run of ``sc`` simulates beside itself
    (:func:`simulation.incremental.world_plan`'s length, counted without building them)."""
    inc = getattr(sc, "incrementality", None)
    if inc is None or not inc.counterfactual:
        return 0
    from simulation.incremental import active_levers

    levers = len(active_levers(sc))  # type: ignore[arg-type]
    if levers == 0:
        return 0
    if inc.contributions == "none" or levers < 2:
        return 1
    return 1 + levers * (2 if inc.contributions == "both" else 1)


def live_worlds(sc: Scenario, threads: int | None = None) -> int:
    """Extra worlds alive at the same time as the run itself: with one thread they run one
    after another once the run is done (one at a time); with T threads up to T − 1 of them
    step beside the run (:class:`simulation.incremental.WorldsAhead`). ``threads``: the
    kernels' thread count now (``--threads`` is applied before a scenario is loaded)."""
    worlds = extra_worlds(sc)
    if worlds == 0:
        return 0
    if threads is None:
        from simulation import kernels

        threads = kernels.threads()
    return 1 if threads <= 1 else min(threads - 1, worlds)


def estimate_bytes(sc: Scenario, threads: int | None = None) -> int:
    """Peak memory a run of ``sc`` needs on ``threads`` threads (default: the kernels' count
    now), from its sizes and the worlds alive at once (see the module docstring)."""
    n = sc.population.size
    edges = float(edge_count(sc))
    per_customer = BYTES_PER_CUSTOMER
    live = live_worlds(sc, threads)
    if live:
        per_customer += live * BYTES_PER_CUSTOMER_WORLD
    ring = ring_edge_count(sc)
    total = (
        BYTES_FIXED + float(n) * per_customer + ring * BYTES_PER_RING_EDGE
        + (edges - ring) * BYTES_PER_EDGE
    )
    if getattr(sc.graph, "kind", "") == "sbm":
        blocks = float(len(sc.population.segments)) * sc.population.cities.count
        total += blocks * blocks * BYTES_PER_BLOCK_PAIR
    advisers = float(getattr(getattr(sc, "advisers", None), "count", 0) or 0)
    total += advisers * 64 + float(sc.population.cities.count) * 64
    return int(min(total, 1e30))


def ring_edge_count(sc: Scenario) -> float:
    """Ties of a generated Watts–Strogatz strong layer (0 for any other graph)."""
    g = sc.graph
    if getattr(g, "kind", "") != "watts_strogatz":
        return 0.0
    return float(sc.population.size) * getattr(g, "k", 0) / 2


def edge_count(sc: Scenario) -> float:
    """Expected number of ties of the strong and weak layers."""
    n = float(sc.population.size)
    layered = sc.graph
    g = getattr(layered, "synthetic", None) or layered  # an edge list's generated layer
    kind = getattr(g, "kind", "complete")
    strong = {
        "watts_strogatz": lambda: n * getattr(g, "k", 0) / 2,
        "barabasi_albert": lambda: n * getattr(g, "m", 0),
        "sbm": lambda: n * getattr(g, "mean_degree", 0.0) / 2,
    }.get(kind, lambda: 0.0)()
    weak = getattr(layered, "weak_ties", None)
    return strong + (n * weak.mean_degree / 2 if weak is not None else 0.0)


def _gb(b: float) -> str:
    return f"{b / 1e9:,.1f} GB" if b >= 1e8 else f"{b / 1e6:,.0f} MB"


def resource_problems(
    sc: Scenario, memory: int | None = None, threads: int | None = None
) -> Problems:
    """Problems with sizes that cannot be built or do not fit in ``memory`` bytes on
    ``threads`` threads (default: the kernels' count now)."""
    problems: Problems = []
    pop = sc.population
    n = pop.size
    if pop.cities.count > n:
        problems.append(
            (("population", "cities", "count"),
             f"{pop.cities.count:,} cities for {n:,} customers; at most one city per customer "
             f"(≤ {n:,})")
        )
    if n * pop.scale > MAX_PEOPLE:
        problems.append(
            (("population", "scale"),
             f"size × scale = {n * pop.scale:.3g} people, more than live in China "
             f"({MAX_PEOPLE:.3g}); scale ≤ {MAX_PEOPLE / n:.4g}")
        )
    advisers = int(getattr(getattr(sc, "advisers", None), "count", 0) or 0)
    if advisers > n:
        problems.append(
            (("advisers", "count"),
             f"{advisers:,} advisers for {n:,} customers; at most one per customer")
        )
    g = sc.graph
    kind = getattr(g, "kind", "complete")
    if kind == "watts_strogatz":
        k, p = g.k, g.p
        if k >= n:
            problems.append((("graph", "k"), f"k={k} ties each needs more than {n:,} customers; "
                             f"k ≤ {n - 1 - (n - 1) % 2}"))
        elif p > 0 and k > n // 2:
            problems.append(
                (("graph", "k"),
                 f"k={k} with p={p} on {n:,} customers cannot be rewired: each customer already "
                 f"has {k} of {n - 1} possible ties; use k ≤ {n // 2 - (n // 2) % 2} or p=0")
            )
    elif kind == "barabasi_albert" and g.m >= n:
        problems.append((("graph", "m"), f"m={g.m} ties per newcomer needs m < {n:,} customers"))
    elif kind == "sbm" and g.mean_degree >= n:
        problems.append(
            (("graph", "mean_degree"), f"{g.mean_degree:g} ties each needs < {n:,} customers")
        )
    weak = getattr(g, "weak_ties", None)
    if weak is not None and weak.mean_degree >= n:
        problems.append(
            (("graph", "weak_ties", "mean_degree"),
             f"{weak.mean_degree:g} weak ties each needs < {n:,} customers")
        )
    if problems:
        return problems
    need = estimate_bytes(sc, threads)
    have = available_memory() if memory is None else memory
    if need > MEMORY_LIMIT * have:
        live = live_worlds(sc, threads)
        worlds = ""
        fewer = ""
        if live:
            total = extra_worlds(sc)
            worlds = (f", the run and {live} of its {total} counterfactual/ablation world"
                      f"{'s' if total > 1 else ''} alive at once")
            if live > 1:
                one = estimate_bytes(sc, 1)
                fewer = (f"; with --threads 1 the extra worlds run one after another "
                         f"(about {_gb(one)})")
        problems.append(
            (("population", "size"),
             f"a run needs about {_gb(need)} of memory ({n:,} customers, "
             f"{edge_count(sc):,.0f} ties{worlds}; ≈ {need / max(n, 1):,.0f} bytes a "
             f"customer); this machine has {_gb(have)} free (limit {MEMORY_LIMIT:.0%}){fewer}: "
             "use fewer customers with population.scale (each simulated customer stands for "
             "several), or a machine with more memory")
        )
    return problems
