"""The targets file: what a calibration must reproduce (validated like a scenario).

Example (docs/calibrate.md has the full reference)::

    name: example_bank_fit
    data: kpis.csv                 # optional KPI table; targets pick a column (and rows)
    period_column: month           # its period index, 1, 2, … (or 0, 1, …)
    grid: {unit: month}            # default time grid: day | week | month, from start_day
    targets:
      wecom_new:
        observable: acquisitions:wecom_adviser     # new customers won by that channel
        kind: flow                                 # per-period counts (differences)
        column: new_customers
        where: {channel: wecom_adviser}
        likelihood: negative_binomial
        dispersion: 0.02
      active_customers:
        observable: active
        kind: stock                                # levels at each period's end
        values: [52000, 53100, ...]
        likelihood: normal
        cv: 0.02
      adds_of_calls:
        kind: proportion                           # x of n, e.g. WeCom adds of calls
        x: event:wecom_adviser.conversions
        n: event:wecom_adviser.contacts
        observed: {x: 812, n: 15000}
        likelihood: beta_binomial
        overdispersion: 0.001

Observables are level series the model records every day (:data:`OBSERVABLES`); a flow
target compares the observed per-period counts with the differences of its level over the
period, a stock target the level at the period's end. Everything the file says is checked at
load (names, grids inside the horizon, data columns and rows) with the file, field path and YAML
line, and the data table with its file, row and column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from simulation.data.tables import TableChecker, read_table, resolve
from simulation.errors import Problem, ScenarioError
from simulation.scenario.load import line_of, read_yaml, validate_model
from simulation.scenario.types import DAYS_PER_MONTH, NonNegative, Positive, StrictModel

#: Level series every calibration run records (``simulation/decide/calibrate.py``), by name.
#: ``acquisitions:<source>`` and ``event:<item>.<event>`` name one source or ledger event.
OBSERVABLES: dict[str, str] = {
    "customers": "customers won and not lost (converted, active, at risk, dormant) — a stock",
    "active": "active customers (converted or active) — a stock",
    "at_risk": "customers at risk — a stock",
    "dormant": "dormant customers — a stock",
    "churned": "customers churned so far (flow: churned per period)",
    "acquisitions": "customers acquired so far, all sources (flow: new customers per period)",
    "acquisitions:<source>": "acquired through one channel / word_of_mouth / referral …",
    "event:<item>.<event>": "a ledger event count, e.g. event:wecom_adviser.contacts",
    "spend": "yuan spent so far (flow: spend per period)",
    "aum": "assets under management, yuan (savings + payroll pool; the money layer) — a stock",
    "wealth": "wealth-product balances, yuan — a stock",
    "loans_outstanding": "loan balances, yuan — a stock",
    "card_gmv": "card spending so far, yuan (flow: per period)",
    "inflows": "money paid in so far, yuan (flow: per period)",
    "loans_disbursed": "loans paid out so far, yuan (flow: per period)",
    "value": "yuan of customer value earned so far (flow: value per period)",
}
#: Observables that may take ``segment:`` (counted per segment).
SEGMENTED = ("customers", "active", "at_risk", "dormant", "churned", "acquisitions", "aum",
             "wealth", "loans_outstanding", "card_gmv", "inflows", "loans_disbursed")
UNIT_DAYS = {"day": 1.0, "week": 7.0, "month": DAYS_PER_MONTH}

CountLikelihood = Literal["poisson", "negative_binomial", "normal"]


class Grid(StrictModel):
    """Periods of ``unit`` starting at simulation day ``start_day`` (the data's day 0)."""

    unit: Literal["day", "week", "month"] = "month"
    start_day: Annotated[int, Field(ge=0)] = 0

    def bounds(self, periods: int) -> np.ndarray:
        """Simulation days ``b_0 < b_1 < … < b_periods``: period k is days (b_k, b_k+1]."""
        step = UNIT_DAYS[self.unit]
        return np.array(
            [self.start_day + round(k * step) for k in range(periods + 1)], dtype=np.int64
        )


class TargetConfig(StrictModel):
    """One target: a series (stock or flow) or a proportion (x of n)."""

    kind: Literal["stock", "flow", "proportion"]
    observable: str | None = None
    segment: str | None = None
    grid: Grid | None = None
    values: list[NonNegative] | None = None
    column: str | None = None
    where: dict[str, str | int | float] = Field(default_factory=dict)
    # proportions
    x: str | None = None
    n: str | None = None
    observed: dict[str, Annotated[int, Field(ge=0)]] | None = None
    x_column: str | None = None
    n_column: str | None = None
    days: tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(ge=1)]] | None = None
    # likelihood
    likelihood: (
        Literal["poisson", "negative_binomial", "normal", "binomial", "beta_binomial"] | None
    ) = None
    dispersion: NonNegative = 0.0
    cv: NonNegative = 0.0
    sd: NonNegative = 0.0
    overdispersion: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    weight: Positive = 1.0

    @model_validator(mode="after")
    def _shape(self) -> TargetConfig:
        if self.kind == "proportion":
            for key in ("observable", "values", "column", "segment"):
                if getattr(self, key):
                    raise PydanticCustomError(
                        "proportion_field", "a proportion takes x, n and observed, not {k}",
                        {"k": key},
                    )
            from_table = self.x_column is not None and self.n_column is not None
            if not self.x or not self.n or (self.observed is None) == (not from_table):
                raise PydanticCustomError(
                    "proportion_needs", "a proportion needs x, n (observables) and either "
                    "observed: {{x: count, n: count}} or x_column and n_column of the data "
                    "table (summed over the rows where: selects)", {},
                )
            if self.observed is not None:
                if set(self.observed) != {"x", "n"}:
                    raise PydanticCustomError("observed_keys", "observed needs exactly x and n",
                                              {})
                if self.observed["x"] > self.observed["n"]:
                    raise PydanticCustomError("x_gt_n", "observed x must be ≤ n", {})
            if self.likelihood not in (None, "binomial", "beta_binomial"):
                raise PydanticCustomError(
                    "prop_lik", "a proportion's likelihood is binomial or beta_binomial", {}
                )
            return self
        if not self.observable:
            raise PydanticCustomError("no_observable", "a {k} target needs an observable",
                                      {"k": self.kind})
        if (self.values is None) == (self.column is None):
            raise PydanticCustomError(
                "values_or_column", "give the observed series as values: [...] or as a column "
                "of the data table (column:), one of the two", {},
            )
        if self.likelihood in ("binomial", "beta_binomial"):
            raise PydanticCustomError(
                "series_lik", "a series' likelihood is poisson, negative_binomial or normal", {}
            )
        if self.likelihood == "normal" and self.sd == 0 and self.cv == 0:
            raise PydanticCustomError(
                "normal_scale", "a normal likelihood needs sd (absolute) or cv (relative to the "
                "observed value) > 0", {},
            )
        return self

    @property
    def likelihood_name(self) -> str:
        if self.likelihood is not None:
            return self.likelihood
        return "binomial" if self.kind == "proportion" else "negative_binomial"


class TargetsConfig(StrictModel):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")] | None = None
    description: str = ""
    data: str | None = None
    period_column: str = "period"
    grid: Grid = Grid()
    targets: dict[str, TargetConfig]

    @model_validator(mode="after")
    def _some(self) -> TargetsConfig:
        if not self.targets:
            raise PydanticCustomError("no_targets", "no targets; name at least one", {})
        return self


@dataclass(frozen=True)
class Target:
    """A checked target with its observed numbers on its grid."""

    name: str
    config: TargetConfig
    observed: np.ndarray  # series: per period; proportion: [x, n]
    bounds: np.ndarray  # series: simulation days b_0..b_K; proportion: [start, end]
    series: tuple[str, ...]  # the level series it reads (one; two for proportions: x, n)

    @property
    def kind(self) -> str:
        return self.config.kind

    def periods(self) -> int:
        return 1 if self.kind == "proportion" else int(self.observed.size)


@dataclass
class Targets:
    name: str
    source: Path
    targets: list[Target]

    def series_names(self) -> list[str]:
        return sorted({s for t in self.targets for s in t.series})


def series_key(observable: str, segment: str | None = None) -> str:
    return f"{observable}@{segment}" if segment else observable


def observable_problem(
    name: str, sources: list[str] | None = None, items: list[str] | None = None
) -> str | None:
    """Why ``name`` is not an observable (given the model's acquisition ``sources`` and ledger
    ``items``, when known), or None."""
    if name in OBSERVABLES and "<" not in name:
        return None
    base, _, arg = name.partition(":")
    if base == "acquisitions" and arg:
        if sources is not None and arg not in sources:
            return f"unknown acquisition source '{arg}'; this scenario's: {', '.join(sources)}"
        return None
    if base == "event" and arg:
        item, dot, event = arg.partition(".")
        if not (item and dot and event):
            return (f"'{name}': an event observable is event:<ledger item>.<event>, e.g. "
                    "event:wecom_adviser.contacts")
        if items is not None and item not in items:
            return f"unknown ledger item '{item}'; this scenario's: {', '.join(items)}"
        return None
    valid = ", ".join(OBSERVABLES)
    return f"unknown observable '{name}'; valid: {valid}"


def load_targets(
    path: Path | str,
    scenario: Any,
    sources: list[str] | None = None,
    items: list[str] | None = None,
) -> Targets:
    """Read, check and resolve a targets file against the scenario it calibrates (and the
    acquisition ``sources`` and ledger ``items`` its model registers, when given)."""
    path = Path(path)
    data, source = read_yaml(path)
    cfg = validate_model(TargetsConfig, data, source)
    problems: list[Problem] = []

    def add(loc: tuple[str | int, ...], message: str) -> None:
        problems.append(Problem(".".join(map(str, loc)), message, line_of(data, loc)))

    table = None
    data_path = ""
    if cfg.data is not None:
        data_path = str(resolve(cfg.data, path.resolve().parent))
        table = read_table(data_path, "KPI table")
    out: list[Target] = []
    segments = scenario.segment_names
    for name, t in cfg.targets.items():
        loc = ("targets", name)
        observables = [t.x, t.n] if t.kind == "proportion" else [t.observable]
        bad = False
        for key, obs in zip(("x", "n") if t.kind == "proportion" else ("observable",),
                            observables, strict=True):
            problem = observable_problem(str(obs), sources, items)
            if problem:
                add((*loc, key), problem)
                bad = True
        if t.segment is not None:
            if t.segment not in segments:
                add((*loc, "segment"), f"unknown segment '{t.segment}'; valid: "
                    f"{', '.join(segments)}")
                bad = True
            elif str(t.observable).partition(":")[0] not in SEGMENTED or ":" in str(
                t.observable
            ):
                add((*loc, "segment"), f"a segment filter works with {', '.join(SEGMENTED)} "
                    "(totals per segment)")
                bad = True
        if bad:
            continue
        if t.kind == "proportion":
            if t.observed is not None:
                xn = np.array([t.observed["x"], t.observed["n"]], float)
                start, end = t.days if t.days is not None else (0, scenario.days)
            else:
                if table is None:
                    add((*loc, "x_column"), "x_column needs the data table: set data: <file>")
                    continue
                xs = _column_values(table, cfg, t.model_copy(update={"column": t.x_column}),
                                    loc, add, data_path)
                ns = _column_values(table, cfg, t.model_copy(update={"column": t.n_column}),
                                    loc, add, data_path)
                if xs is None or ns is None:
                    continue
                xn = np.array([xs.sum(), ns.sum()])
                if xn[0] > xn[1]:
                    add((*loc, "x_column"), f"x ({xn[0]:g}) exceeds n ({xn[1]:g}) in the table")
                    continue
                grid = t.grid or cfg.grid
                b = grid.bounds(xs.size)
                start, end = t.days if t.days is not None else (int(b[0]), int(b[-1]))
            if end > scenario.days or start >= end:
                add((*loc, "days"), f"window must lie in 0..{scenario.days} (the horizon) with "
                    f"start < end, got {start}..{end}")
                continue
            out.append(Target(name, t, xn, np.array([start, end]), (str(t.x), str(t.n))))
            continue
        if t.values is not None:
            observed = np.asarray(t.values, dtype=float)
        else:
            if table is None:
                add((*loc, "column"), "a column needs the data table: set data: <file> at the top")
                continue
            found = _column_values(table, cfg, t, loc, add, data_path)
            if found is None:
                continue
            observed = found
        grid = t.grid or cfg.grid
        bounds = grid.bounds(observed.size)
        if bounds[-1] > scenario.days:
            add((*loc, "grid" if t.grid else "values" if t.values else "column"),
                f"{observed.size} {grid.unit}(s) from day {grid.start_day} end on day "
                f"{bounds[-1]}, after the scenario's horizon of {scenario.days} days")
            continue
        if t.likelihood_name != "normal":
            frac = np.abs(observed - np.round(observed)) > 1e-9
            if frac.any():
                add((*loc, "likelihood"), f"{t.likelihood_name} needs whole counts, got "
                    f"{observed[frac][0]:g}; use likelihood: normal for amounts")
                continue
        out.append(Target(name, t, observed, bounds,
                          (series_key(str(t.observable), t.segment),)))
    if problems:
        raise ScenarioError(source, problems)
    return Targets(cfg.name or path.stem, path, out)


def _column_values(
    table: Any, cfg: TargetsConfig, t: TargetConfig, loc: tuple[str, ...], add: Any, data: str
) -> np.ndarray | None:
    """The target's column of the KPI table (rows filtered by ``where``), in period order."""
    if t.column not in table.columns:
        add((*loc, "column"), f"the data table {data} has no column '{t.column}'; its "
            f"columns: {', '.join(map(str, table.columns))}")
        return None
    rows = np.ones(len(table), dtype=bool)
    for key, value in t.where.items():
        if key not in table.columns:
            add((*loc, "where", key), f"the data table has no column '{key}'")
            return None
        rows &= table[key].astype(str).str.strip().to_numpy() == str(value)
    if not rows.any():
        add((*loc, "where"), f"no row of {data} matches {dict(t.where)}")
        return None
    sub = table[rows]
    checker = TableChecker(data)
    if cfg.period_column not in table.columns:
        add(("period_column",), f"the data table has no column '{cfg.period_column}'; its "
            f"columns: {', '.join(map(str, table.columns))}")
        return None
    periods = checker.numbers(sub, cfg.period_column, 0.0, integer=True)
    values = checker.numbers(sub, str(t.column), 0.0)
    checker.raise_if_any()
    assert periods is not None and values is not None
    order = np.argsort(periods, kind="stable")
    p = periods[order]
    expected = np.arange(p[0], p[0] + p.size)
    if p[0] not in (0, 1) or not np.array_equal(p, expected):
        add((*loc, "where"), f"the rows' {cfg.period_column} must run 0, 1, 2 … or 1, 2, 3 … "
            f"without gaps or repeats, got {', '.join(str(int(v)) for v in p[:6])}")
        return None
    out = values[order]
    if not all(math.isfinite(v) for v in out):
        return None
    return out
