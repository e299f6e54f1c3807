"""The ``optimize:`` section of an experiment file → a validated :class:`OptimizationSpec`.

Kept in its own model (``OptimizeConfig``) so the experiment schema only carries it as a raw
mapping; everything is checked here with the same :class:`ScenarioError` as the rest of the
experiment (file, ``optimize.…`` field path, YAML line). Example::

    optimize:
      sampler: tpe                 # tpe | cmaes | nsga2 | random
      trials: 60                   # candidates the search evaluates
      batch: 4                     # candidates asked together (fixed: the results never depend
                                   # on the number of workers)
      replicates: 4                # seeds per candidate (the same seeds for every candidate)
      objectives:
        - {kpi: acquisitions, direction: maximize}
      constraints:
        - {kpi: cost_per_acquisition, max: 150}
        - {kpi: retention_90d, min: -0.01, relative: true}   # ≥ baseline − 1 pp
      parameters:                  # any scenario path, like a sweep
        channels.wecom_1to1.daily_reach: {low: 0.01, high: 0.06}
      budget:                      # budget allocation: the channels' budgets sum to the total
        total: 400000              # yuan, or "current" (the sum of the current spends)
        channels:
          douyin_ads: {low: 0, high: 300000}
          branch: {low_pct: -50, high_pct: 50}     # ±% of the current spend
          service_account: {fixed: true}           # held at its current spend
      selection: {method: kim_nelson, top_k: 5, delta: 20, alpha: 0.05}

With several objectives the selection stage either screens each objective with its own
indifference zone (``delta`` is the first objective's, ``deltas: {kpi: δ}`` the others') or,
with ``weights: {kpi: w}``, ranks by the declared score Σ w·KPI (minimised KPIs count
negatively; ``delta`` is then in the score's units) — see :mod:`simulation.decide.selection`.

The budget shares are searched by stick-breaking: free channel ``i`` (in file order) takes a
share ``u_i ∈ [0, 1]`` of what its bounds and the remaining channels' bounds allow, the last
free channel takes the rest, so every candidate satisfies the bounds and sums exactly to the
total — no candidate is wasted on an infeasible split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from simulation.errors import Problem, ScenarioError
from simulation.runner.experiment import (
    Experiment,
    ParameterRange,
    _plain,
    _resolve_scenario,
    apply_paths,
    load_experiment,
    path_problem,
)
from simulation.scenario.load import line_of, read_yaml, validate_model
from simulation.scenario.schema import Scenario
from simulation.scenario.types import NonNegative, Positive, StrictModel

Direction = Literal["maximize", "minimize"]
SamplerName = Literal["tpe", "cmaes", "nsga2", "random"]


def kpi_names() -> tuple[set[str], dict[str, Direction]]:
    """Every KPI an objective or constraint may name, and the registry's directions.

    Read from the KPI registry (``simulation/kpis.py``), so KPIs registered later (incremental
    acquisitions, incremental CPA, money KPIs, …) are accepted without touching this module.
    """
    from simulation import kpis

    directions: dict[str, Direction] = {}
    for k in kpis.all_kpis():
        if k.direction == "lower":
            directions[k.name] = "minimize"
        elif k.direction == "higher":
            directions[k.name] = "maximize"
    return set(kpis.names()), directions


class Objective(StrictModel):
    """A KPI to maximise or minimise (default direction: the KPI registry's)."""

    kpi: str
    direction: Direction | None = None


class KpiConstraint(StrictModel):
    """``min ≤ KPI ≤ max`` on a candidate's replicate mean; with ``relative`` the bounds are
    differences to the baseline's mean on the same seeds (``min: -0.01`` = at most 1 pp worse)."""

    kpi: str
    min: float | None = None
    max: float | None = None
    relative: bool = False

    @model_validator(mode="after")
    def _bound(self) -> KpiConstraint:
        if self.min is None and self.max is None:
            raise PydanticCustomError("no_bound", "give min, max or both", {})
        if self.min is not None and self.max is not None and self.min > self.max:
            raise PydanticCustomError(
                "empty_bound", "min {lo} > max {hi}", {"lo": self.min, "hi": self.max}
            )
        return self

    def describe(self) -> str:
        parts = []
        rel = " vs baseline" if self.relative else ""
        if self.min is not None:
            parts.append(f"{self.kpi}{rel} ≥ {self.min:g}")
        if self.max is not None:
            parts.append(f"{self.kpi}{rel} ≤ {self.max:g}")
        return " and ".join(parts)


class AllocationItem(StrictModel):
    """One budget of the allocation: bounds in yuan or ±% of its current spend, or fixed."""

    path: str | None = None  # default: channels.<name>.budget
    low: NonNegative | None = None
    high: NonNegative | None = None
    low_pct: Annotated[float, Field(ge=-100)] | None = None
    high_pct: Annotated[float, Field(ge=-100)] | None = None
    fixed: bool = False

    @model_validator(mode="after")
    def _shape(self) -> AllocationItem:
        if (self.low is not None and self.low_pct is not None) or (
            self.high is not None and self.high_pct is not None
        ):
            raise PydanticCustomError(
                "yuan_and_pct", "give each bound in yuan (low/high) or in % (low_pct/high_pct)", {}
            )
        if self.fixed and any(
            v is not None for v in (self.low, self.high, self.low_pct, self.high_pct)
        ):
            raise PydanticCustomError("fixed_bounds", "a fixed budget takes no bounds", {})
        if self.low is not None and self.high is not None and self.low > self.high:
            raise PydanticCustomError(
                "empty_range", "low {lo} > high {hi}", {"lo": self.low, "hi": self.high}
            )
        if (
            self.low_pct is not None
            and self.high_pct is not None
            and self.low_pct > self.high_pct
        ):
            raise PydanticCustomError("empty_range", "low_pct > high_pct", {})
        return self

    @property
    def needs_current(self) -> bool:
        return self.fixed or self.low_pct is not None or self.high_pct is not None


class BudgetAllocation(StrictModel):
    """Budgets that share a total: the free ones are searched, the fixed ones kept."""

    total: NonNegative | Literal["current"] = "current"
    channels: dict[str, AllocationItem]


class SelectionConfig(StrictModel):
    """The final ranking-and-selection stage on the search's top candidates.

    ``kim_nelson``: the fully sequential KN procedure (Kim & Nelson 2001), valid with common
    random numbers; it guarantees P(correct selection) ≥ 1 − alpha whenever the best is at least
    ``delta`` better than the rest (indifference zone). ``ocba``: Chen et al.'s optimal computing
    budget allocation on paired differences, stopping when its (Bonferroni) estimate of P(CS)
    within ``delta`` reaches 1 − alpha.
    """

    method: Literal["kim_nelson", "ocba"] = "kim_nelson"
    top_k: Annotated[int, Field(ge=2, le=50)] = 5
    delta: Positive
    alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.05
    initial_replicates: Annotated[int, Field(ge=2)] = 10
    max_replicates: Annotated[int, Field(ge=2, le=10000)] = 60
    #: Seeds added between two checks (fixed, so the choice never depends on the workers).
    step: Annotated[int, Field(ge=1, le=100)] = 2
    #: Several objectives: the indifference zone of each objective after the first (``delta`` is
    #: the first's), in that KPI's units; each objective is screened on its own.
    deltas: dict[str, Positive] = Field(default_factory=dict)
    #: Several objectives: rank by Σ weight × KPI instead (minimised KPIs count negatively), a
    #: trade-off the user declares; ``delta`` is then in the score's units.
    weights: dict[str, NonNegative] | None = None


class MarginalConfig(StrictModel):
    """Finite differences per budget: +``step_pct`` % of its recommended value (≥ min_step)."""

    step_pct: Positive = 10.0
    min_step: NonNegative = 1000.0
    replicates: Annotated[int, Field(ge=2)] | None = None  # default: the selection's seeds


class ResponseCurveConfig(StrictModel):
    """Spend → incremental KPI per budget, the others held at the recommendation."""

    points: Annotated[int, Field(ge=3, le=50)] = 6
    replicates: Annotated[int, Field(ge=1)] | None = None  # default: the search's
    saturation: Annotated[float, Field(gt=0, lt=1)] = 0.1
    enabled: bool = True


class RobustConfig(StrictModel):
    """Other worlds each candidate is also scored in: scenario files or presets, and/or
    ``draws`` parameter draws of a calibration's posterior (``posterior``: the results folder
    of ``opmatrix calibrate`` or its ``draws.csv``; each draw's values are applied to the base
    scenario, which should be that calibration's ``calibrated.yaml``)."""

    scenarios: list[str] = Field(default_factory=list)
    posterior: str | None = None
    draws: Annotated[int, Field(ge=1, le=100)] = 8
    score: Literal["mean", "p10", "regret"] = "mean"

    @model_validator(mode="after")
    def _some_world(self) -> RobustConfig:
        if not self.scenarios and self.posterior is None:
            raise PydanticCustomError(
                "robust_empty", "give scenarios (a list of files) and/or posterior (a "
                "calibration's results folder or draws.csv)", {}
            )
        return self


class OptimizeConfig(StrictModel):
    """The ``optimize:`` section as written (see the module docstring)."""

    sampler: SamplerName | None = None  # default: tpe (one objective), nsga2 (several)
    trials: Annotated[int, Field(ge=1, le=100000)] = 50
    batch: Annotated[int, Field(ge=1, le=1000)] = 4
    replicates: Annotated[int, Field(ge=1, le=1000)] | None = None
    seed: Annotated[int, Field(ge=0)] = 0
    objectives: Annotated[list[Objective], Field(min_length=1)]
    constraints: list[KpiConstraint] = Field(default_factory=list)
    parameters: dict[str, ParameterRange] = Field(default_factory=dict)
    budget: BudgetAllocation | None = None
    selection: SelectionConfig
    marginal: MarginalConfig = Field(default_factory=MarginalConfig)
    response_curves: ResponseCurveConfig = Field(default_factory=ResponseCurveConfig)
    robust: RobustConfig | None = None


@dataclass(frozen=True)
class BudgetItem:
    """One resolved budget of the allocation."""

    name: str
    path: str
    item: AllocationItem


@dataclass
class World:
    """A scenario a candidate is scored in: the base world, or one of ``robust.scenarios``."""

    name: str
    data: dict[str, Any]


@dataclass
class OptimizationSpec:
    """A validated optimisation: the experiment, its settings, worlds and budget items."""

    experiment: Experiment
    config: OptimizeConfig
    worlds: list[World]
    budget_items: list[BudgetItem] = field(default_factory=list)
    directions: list[Direction] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.experiment.name

    @property
    def sampler(self) -> str:
        if self.config.sampler is not None:
            return self.config.sampler
        return "nsga2" if len(self.config.objectives) > 1 else "tpe"

    @property
    def replicates(self) -> int:
        return self.config.replicates or self.experiment.config.replicates

    def seeds(self, n: int) -> list[int]:
        """Seed of replicate ``i`` (the same in every candidate and world)."""
        base = self.experiment.config.seed
        return [base + i for i in range(n)]

    @property
    def objective_kpis(self) -> list[str]:
        return [o.kpi for o in self.config.objectives]


def load_optimization(path: Path | str, robust: bool = False) -> OptimizationSpec:
    """Read an experiment file and validate its ``optimize:`` section (ScenarioError if bad)."""
    path = Path(path)
    exp = load_experiment(path)
    raw, source = read_yaml(path)
    section = raw.get("optimize") if isinstance(raw, dict) else None
    if section is None:
        raise ScenarioError.single(
            source,
            "optimize",
            "no 'optimize:' section; add objectives, decision variables (parameters or budget) "
            "and selection (see docs/decide.md)",
        )
    cfg = validate_model(OptimizeConfig, section, source, prefix="optimize.")
    problems: list[Problem] = []

    def add(loc: tuple[str | int, ...], message: str) -> None:
        path = ".".join(map(str, ("optimize", *loc)))
        problems.append(Problem(path, message, line_of(section, loc)))

    if exp.model != "opmatrix" or exp.base is None or exp.base_data is None:
        add((), "optimize needs a scenario (test models have no budgets to allocate)")
        raise ScenarioError(source, problems)
    valid, registry_dirs = kpi_names()
    listing = ", ".join(sorted(valid))
    directions: list[Direction] = []
    for i, obj in enumerate(cfg.objectives):
        if obj.kpi not in valid:
            add(("objectives", i, "kpi"), f"unknown KPI '{obj.kpi}'; valid: {listing}")
        # neutral KPIs (population sizes) are maximised, as the registry documents
        directions.append(obj.direction or registry_dirs.get(obj.kpi, "maximize"))
    if len({o.kpi for o in cfg.objectives}) < len(cfg.objectives):
        add(("objectives",), "the same KPI is listed twice")
    for i, con in enumerate(cfg.constraints):
        if con.kpi not in valid:
            add(("constraints", i, "kpi"), f"unknown KPI '{con.kpi}'; valid: {listing}")
    sampler = cfg.sampler or ("nsga2" if len(cfg.objectives) > 1 else "tpe")
    if sampler == "cmaes" and len(cfg.objectives) > 1:
        add(("sampler",), "cmaes optimises one objective; use nsga2 (or tpe) for several")
    if not cfg.parameters and cfg.budget is None:
        add((), "nothing to decide: give parameters (scenario paths) and/or a budget allocation")
    if cfg.selection.top_k > cfg.trials:
        add(("selection", "top_k"), f"top_k {cfg.selection.top_k} > trials {cfg.trials}")
    if cfg.selection.max_replicates < cfg.selection.initial_replicates:
        add(("selection", "max_replicates"), "must be ≥ initial_replicates")
    _check_multi_objective(cfg, add)
    base_variant = exp.variant_overrides.get(exp.baseline, {})
    base_data = apply_paths(exp.variant_bases.get(exp.baseline, exp.base_data), base_variant)
    worlds = [World(exp.baseline if exp.config.variants else "base", base_data)]
    budget_items = _budget_items(cfg, exp.base, add)
    _check_parameters(cfg, exp.base, base_data, budget_items, add)
    n_free = sum(1 for b in budget_items if not b.item.fixed) + len(cfg.parameters)
    if sampler == "cmaes" and n_free < 2:
        add(("sampler",), "cmaes needs at least two free decision variables; use tpe")
    if cfg.robust is not None:
        worlds += _robust_worlds(cfg.robust, exp, path, add, base_data)
    elif robust:
        add((), "--robust needs a 'robust: {scenarios: [...]}' entry in the optimize section")
    if problems:
        raise ScenarioError(source, problems)
    return OptimizationSpec(exp, cfg, worlds, budget_items, directions)


def _check_multi_objective(cfg: OptimizeConfig, add: Any) -> None:
    """``deltas`` / ``weights`` name objectives; several objectives need one of them.

    Why refuse several objectives with neither: one ``delta`` cannot be the indifference zone
    of KPIs in different units (acquisitions, yuan), and ranking the Pareto members on the first
    objective alone hid that the others were never compared with a stated confidence."""
    import difflib

    sel = cfg.selection
    kpis = [o.kpi for o in cfg.objectives]
    for field_name, given in (("deltas", sel.deltas), ("weights", sel.weights or {})):
        for name in given:
            if len(kpis) == 1:
                add(("selection", field_name), f"{field_name} are for several objectives; this "
                    f"optimisation has one ({kpis[0]}), whose indifference zone is delta")
                break
            if name not in kpis:
                close = difflib.get_close_matches(name, kpis, n=1, cutoff=0.6)
                hint = f"did you mean '{close[0]}'? " if close else ""
                add(("selection", field_name, name),
                    f"'{name}' is not an objective; {hint}objectives: {', '.join(kpis)}")
            elif field_name == "deltas" and name == kpis[0]:
                add(("selection", field_name, name),
                    f"the first objective's indifference zone is delta; deltas are for the "
                    f"others: {', '.join(kpis[1:])}")
    if len(kpis) == 1:
        return
    if sel.weights is not None:
        if not any(sel.weights.get(k, 0.0) > 0 for k in kpis):
            add(("selection", "weights"), "give at least one objective a weight > 0")
        return
    missing = [k for k in kpis[1:] if k not in sel.deltas]
    if missing:
        example = ", ".join(f"{k}: …" for k in missing)
        add(("selection",),
            f"several objectives: give each objective after the first its indifference zone in "
            f"its own units (deltas: {{{example}}}; delta is {kpis[0]}'s), or rank by a declared "
            f"trade-off (weights: {{{', '.join(f'{k}: …' for k in kpis)}}})")


def _budget_items(cfg: OptimizeConfig, base: Scenario, add: Any) -> list[BudgetItem]:
    if cfg.budget is None:
        return []
    out: list[BudgetItem] = []
    if not cfg.budget.channels:
        add(("budget", "channels"), "list the budgets to allocate (at least two)")
    for name, item in cfg.budget.channels.items():
        loc = ("budget", "channels", name)
        if item.path is None:
            if name not in base.channels:
                add(loc, f"unknown channel '{name}'; channels: {', '.join(base.channels)} "
                    "(or give 'path' to any budget field, e.g. perks.budget)")
                continue
            p = f"channels.{name}.budget"
        else:
            p = item.path
            problem = path_problem(base, p.split("."))
            if problem:
                add((*loc, "path"), problem)
                continue
        out.append(BudgetItem(str(name), p, item))
    if len([b for b in out if not b.item.fixed]) < 1 and out:
        add(("budget", "channels"), "every budget is fixed; leave at least one free")
    total = cfg.budget.total
    if total != "current" and all(not b.item.needs_current for b in out):
        lows = sum(b.item.low or 0.0 for b in out)
        highs = sum(b.item.high if b.item.high is not None else math.inf for b in out)
        if lows > total:
            add(("budget", "total"), f"the lower bounds sum to {lows:,.0f} > total {total:,.0f}")
        if highs < total:
            add(("budget", "total"), f"the upper bounds sum to {highs:,.0f} < total {total:,.0f}")
    return out


def _check_parameters(
    cfg: OptimizeConfig,
    base: Scenario,
    base_data: dict[str, Any],
    budget_items: list[BudgetItem],
    add: Any,
) -> None:
    budget_paths = {b.path for b in budget_items}
    for name, rng in cfg.parameters.items():
        loc = ("parameters", name)
        if name in budget_paths:
            add(loc, "this path is already a budget of the allocation; decide it in one place")
            continue
        problem = path_problem(base, name.split("."))
        if problem:
            add(loc, problem)
            continue
        ends = rng.values if rng.values is not None else [rng.cast(rng.low), rng.cast(rng.high)]
        for value in ends:
            try:
                validate_model(Scenario, apply_paths(base_data, {name: value}), "<scenario>")
            except ScenarioError as exc:
                add(loc, f"at {value!r}: {exc.problems[0].render()}")
                break
    for item in budget_items:
        # a budget of 0 and a large one must both be valid values of the field
        for value in (0.0, 1e6):
            try:
                validate_model(Scenario, apply_paths(base_data, {item.path: value}), "<scenario>")
            except ScenarioError as exc:
                add(("budget", "channels", item.name), exc.problems[0].render())
                break


def _robust_worlds(
    robust: RobustConfig, exp: Experiment, path: Path, add: Any, base_data: dict[str, Any]
) -> list[World]:
    out: list[World] = []
    values: dict[str, Any] = dict(exp.config.overrides)
    if exp.config.days is not None:
        values["days"] = exp.config.days
    for i, name in enumerate(robust.scenarios):
        found = _resolve_scenario(name, path)
        if found is None:
            add(("robust", "scenarios", i), f"scenario file '{name}' not found")
            continue
        raw, src = read_yaml(found)
        try:
            data = _plain(apply_paths(_plain(raw), values))
            validate_model(Scenario, data, src)
        except ScenarioError as exc:
            add(("robust", "scenarios", i), exc.problems[0].render())
            continue
        label = Path(name).stem
        out.append(World(label, data))
    if robust.posterior is not None:
        out += _posterior_worlds(robust, exp, path, add, base_data)
    return out


def _posterior_worlds(
    robust: RobustConfig, exp: Experiment, path: Path, add: Any, base_data: dict[str, Any]
) -> list[World]:
    """The first ``robust.draws`` rows of a calibration's draws.csv as worlds: the base world's
    scenario (the experiment's overrides and baseline applied) with each draw's values."""
    import pandas as pd

    loc = ("robust", "posterior")
    given = Path(str(robust.posterior)).expanduser()
    found = given if given.is_absolute() else (path.parent / given)
    if not found.exists() and not given.is_absolute() and given.exists():
        found = given  # relative to the working folder, as the CLI's --results is
    if found.is_dir():
        found = found / "draws.csv"
    if not found.is_file():
        add(loc, f"'{robust.posterior}' not found (looked for {found}); give the results "
            "folder of `opmatrix calibrate` (it writes draws.csv) or the draws.csv itself")
        return []
    try:
        frame = pd.read_csv(found)
    except (OSError, ValueError) as exc:
        add(loc, f"{found}: cannot read it as CSV ({exc})")
        return []
    names = [c for c in frame.columns if c != "draw"]
    if frame.empty or not names:
        add(loc, f"{found}: no draws (a header row of parameter paths and one row per draw)")
        return []
    assert exp.base is not None
    for name in names:
        problem = path_problem(exp.base, str(name).split("."))
        if problem:
            add(loc, f"{found}, column '{name}': {problem}")
            return []
    out: list[World] = []
    for i, row in frame.head(robust.draws).iterrows():
        values: dict[str, Any] = {}
        for name in names:
            v = pd.to_numeric(row[name], errors="coerce")
            if not math.isfinite(float(v)):
                add(loc, f"{found}, row {int(i) + 1}, column '{name}': not a number: "
                    f"{row[name]!r}")
                return out
            values[str(name)] = float(v)
        data = _plain(apply_paths(base_data, values))
        try:
            validate_model(Scenario, data, str(found))
        except ScenarioError as exc:
            add(loc, f"{found}, row {int(i) + 1}: {exc.problems[0].render()}")
            return out
        out.append(World(f"draw{int(i)}", data))
    return out
