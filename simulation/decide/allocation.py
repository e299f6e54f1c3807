"""Decision variables → Optuna distributions, and an Optuna trial's values → scenario paths.

Budget allocation by stick-breaking (see ``simulation.decide.spec``): with free budgets
``1..m`` in file order, bounds ``[lo_i, hi_i]`` and ``R`` yuan left for them, budget ``i < m``
takes ``lo'_i + u_i (hi'_i − lo'_i)`` where ``lo'_i = max(lo_i, R − Σ_{j>i} hi_j)`` and
``hi'_i = min(hi_i, R − Σ_{j>i} lo_j)`` keep the rest feasible; the last takes what is left. Every
``u ∈ [0, 1]^{m−1}`` is a feasible split summing exactly to the total, and m − 1 search dimensions
match the m − 1 degrees of freedom of a split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from simulation.decide.spec import BudgetItem, OptimizationSpec
from simulation.errors import ScenarioError

#: Optuna parameter name prefix of a budget share.
SHARE = "share:"


@dataclass(frozen=True)
class Bounds:
    """A budget's resolved bounds and current spend (yuan)."""

    name: str
    path: str
    low: float
    high: float
    current: float
    fixed: bool


@dataclass
class Allocation:
    """The resolved allocation problem: total, per-budget bounds, which are free."""

    total: float
    bounds: list[Bounds]

    @property
    def free(self) -> list[Bounds]:
        return [b for b in self.bounds if not b.fixed]

    @property
    def fixed_total(self) -> float:
        return sum(b.current for b in self.bounds if b.fixed)


def current_budget(item: BudgetItem, scenario_data: dict[str, Any]) -> float | None:
    """The budget the scenario sets at ``item.path``, or None when it sets none."""
    node: Any = scenario_data
    for part in item.path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return None if node is None else float(node)


def resolve_allocation(
    spec: OptimizationSpec, current_spend: dict[str, float]
) -> Allocation | None:
    """Bounds in yuan for every budget; ``current_spend`` are the baseline's mean spends.

    "Current" is the scenario's budget where it sets one, else what the baseline actually
    spent on that channel (mean over the search seeds). Raises ScenarioError when the bounds
    cannot add up to the total.
    """
    cfg = spec.config.budget
    if cfg is None:
        return None
    base = spec.worlds[0].data
    out: list[Bounds] = []
    for item in spec.budget_items:
        cur = current_budget(item, base)
        if cur is None:
            cur = float(current_spend.get(item.name, 0.0))
        a = item.item
        if a.fixed:
            out.append(Bounds(item.name, item.path, cur, cur, cur, True))
            continue
        low = a.low if a.low is not None else (
            cur * (1 + a.low_pct / 100) if a.low_pct is not None else 0.0
        )
        high = a.high if a.high is not None else (
            cur * (1 + a.high_pct / 100) if a.high_pct is not None else math.inf
        )
        out.append(Bounds(item.name, item.path, max(0.0, low), high, cur, False))
    total = (
        sum(b.current for b in out) if cfg.total == "current" else float(cfg.total)
    )
    alloc = Allocation(total, out)
    room = total - alloc.fixed_total
    lows = sum(b.low for b in alloc.free)
    highs = sum(b.high for b in alloc.free)
    where = f"{spec.experiment.source}"
    if room < -1e-6:
        raise ScenarioError.single(
            where, "optimize.budget.total",
            f"the fixed budgets ({alloc.fixed_total:,.0f}) exceed the total ({total:,.0f})",
        )
    if lows > room + 1e-6 or highs < room - 1e-6:
        raise ScenarioError.single(
            where,
            "optimize.budget",
            f"the free budgets' bounds sum to [{lows:,.0f}, {highs:,.0f}] but must share "
            f"{room:,.0f} (total {total:,.0f} − fixed {alloc.fixed_total:,.0f})",
        )
    # an unbounded upper bound becomes the whole room (no budget can exceed it anyway)
    alloc.bounds = [
        b if b.fixed or math.isfinite(b.high) else Bounds(
            b.name, b.path, b.low, room, b.current, False
        )
        for b in alloc.bounds
    ]
    return alloc


def distributions(spec: OptimizationSpec, alloc: Allocation | None) -> dict[str, Any]:
    """Optuna distributions of every searched dimension (fixed for the whole study)."""
    import optuna

    dists: dict[str, Any] = {}
    for name, rng in spec.config.parameters.items():
        if rng.values is not None:
            dists[name] = optuna.distributions.CategoricalDistribution(list(rng.values))
        elif rng.integer:
            dists[name] = optuna.distributions.IntDistribution(round(rng.low), round(rng.high))
        else:
            dists[name] = optuna.distributions.FloatDistribution(float(rng.low), float(rng.high))
    if alloc is not None:
        for b in alloc.free[:-1]:
            dists[f"{SHARE}{b.name}"] = optuna.distributions.FloatDistribution(0.0, 1.0)
    return dists


def split(alloc: Allocation, shares: dict[str, float]) -> dict[str, float]:
    """Budget per name (free ones by stick-breaking of ``shares``; fixed ones unchanged)."""
    free = alloc.free
    left = alloc.total - alloc.fixed_total
    out = {b.name: b.current for b in alloc.bounds if b.fixed}
    for i, b in enumerate(free):
        rest = free[i + 1 :]
        if not rest:
            out[b.name] = round(max(left, 0.0), 2)
            break
        lo = max(b.low, left - sum(r.high for r in rest))
        hi = min(b.high, left - sum(r.low for r in rest))
        u = min(1.0, max(0.0, float(shares.get(b.name, 0.5))))
        value = round(lo + u * max(0.0, hi - lo), 2)
        out[b.name] = value
        left -= value
    return {b.name: out[b.name] for b in alloc.bounds}


def shares_of(alloc: Allocation, budgets: dict[str, float]) -> dict[str, float]:
    """The stick-breaking shares that give ``budgets`` (inverse of :func:`split`)."""
    free = alloc.free
    left = alloc.total - alloc.fixed_total
    out: dict[str, float] = {}
    for i, b in enumerate(free[:-1]):
        rest = free[i + 1 :]
        lo = max(b.low, left - sum(r.high for r in rest))
        hi = min(b.high, left - sum(r.low for r in rest))
        value = budgets[b.name]
        out[b.name] = 0.0 if hi <= lo else min(1.0, max(0.0, (value - lo) / (hi - lo)))
        left -= value
    return out


def point_of(
    spec: OptimizationSpec, alloc: Allocation | None, params: dict[str, Any]
) -> dict[str, Any]:
    """Scenario path → value of a trial's parameters (budgets resolved to yuan)."""
    point = {name: params[name] for name in spec.config.parameters if name in params}
    for name, rng in spec.config.parameters.items():
        if name in point and rng.values is None:
            point[name] = rng.cast(point[name])
    if alloc is not None:
        shares = {k[len(SHARE):]: v for k, v in params.items() if k.startswith(SHARE)}
        budgets = split(alloc, shares)
        for b in alloc.bounds:
            point[b.path] = budgets[b.name]
    return point


def budgets_of(alloc: Allocation | None, point: dict[str, Any]) -> dict[str, float]:
    if alloc is None:
        return {}
    return {b.name: float(point[b.path]) for b in alloc.bounds}
