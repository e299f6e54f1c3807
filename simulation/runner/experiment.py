"""Experiment YAML → validated :class:`Experiment` (variants × sweep samples × replicates).

An experiment names a base scenario, named **variants** (strategies: sets of parameter
overrides; a variant may name its own ``scenario`` file to compare two presets), an optional
**sweep** over parameter paths, the number of **replicates** (seeds) and the outcomes of
interest. Everything is checked at load with the same :class:`ScenarioError` as a
scenario (file, field path, YAML line): every variant and sweep path is resolved against the base
scenario (an unknown path names the valid fields), then applied and the resulting scenario
validated, so a sweep never starts on a value the model would reject.

Example::

    name: douyin_budget
    scenario: ../scenarios/quickstart.yaml
    days: 180
    replicates: 5
    variants:
      baseline: {}
      no_douyin: {channels.douyin_ads.daily_reach: 0}
    sweep:
      sampler: lhs
      samples: 20
      parameters:
        channels.douyin_ads.budget: {low: 0, high: 200000}
"""

from __future__ import annotations

import copy
import difflib
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_core import PydanticCustomError

from simulation import kpis
from simulation.data.hooks import absolutize_sources
from simulation.errors import Problem, ScenarioError
from simulation.runner import testmodels
from simulation.scenario.load import line_of, read_yaml, validate_model
from simulation.scenario.overrides import new_entry_problem, set_path
from simulation.scenario.presets import find_scenario
from simulation.scenario.types import StrictModel
from simulation.strategies.registry import Scenario

#: The KPI columns every opmatrix run's table has, and the outcomes an experiment analyses when
#: it names none: both from the KPI registry (``simulation/kpis.py``).
KPI_COLUMNS: tuple[str, ...] = kpis.names("runs")
DEFAULT_OUTCOMES: tuple[str, ...] = kpis.names("outcome")

Sampler = Literal["grid", "random", "lhs", "sobol", "morris"]
#: Most runs one experiment may expand into (variants × sweep points × replicates): (inf.) at
#: ~1 s per small run on 16 cores, 200k runs are half a day; a typo such as ``replicates:
#: 1000000000`` or a sample count of 2⁴⁰ is refused at load with the count, never expanded.
MAX_RUNS = 200_000
_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class ParameterRange(StrictModel):
    """One swept parameter: a ``low``–``high`` range, or an explicit list of ``values`` (grid)."""

    low: float | None = None
    high: float | None = None
    values: list[Any] | None = None
    levels: Annotated[int, Field(ge=2)] | None = None
    integer: bool = False

    @model_validator(mode="after")
    def _shape(self) -> ParameterRange:
        if self.values is not None:
            if not self.values:
                raise PydanticCustomError("empty_values", "values is empty; give at least one", {})
            if self.low is not None or self.high is not None:
                raise PydanticCustomError(
                    "values_and_range", "give either values or low/high, not both", {}
                )
            return self
        if self.low is None or self.high is None:
            raise PydanticCustomError(
                "no_range", "needs low and high (a range) or values (a list)", {}
            )
        if not self.high > self.low:
            raise PydanticCustomError(
                "empty_range",
                "empty range: high must be > low, got low={low}, high={high}",
                {"low": self.low, "high": self.high},
            )
        return self

    def grid_values(self) -> list[Any]:
        """The values a grid visits: the list, or ``levels`` (default 3) evenly spaced points."""
        if self.values is not None:
            return list(self.values)
        assert self.low is not None and self.high is not None
        n = self.levels or 3
        step = (self.high - self.low) / (n - 1)
        return [self.cast(self.low + i * step) for i in range(n)]

    def cast(self, value: float) -> float | int:
        return round(value) if self.integer else float(value)


class SweepConfig(StrictModel):
    """Which sampler draws the parameter points, how many, and over which parameters.

    ``samples`` is the number of points for ``random`` and ``lhs``; the base sample size N for
    ``sobol`` (N·(D+2) points, N a power of two, Saltelli's scheme without second order) and the
    number of trajectories for ``morris`` (N·(D+1) points); the grid takes every combination.
    """

    sampler: Sampler = "grid"
    samples: Annotated[int, Field(ge=1)] | None = None
    seed: Annotated[int, Field(ge=0)] = 0
    morris_levels: Annotated[int, Field(ge=2)] = 4
    parameters: dict[str, ParameterRange]


VariantOverrides = dict[str, Any] | None


class ExperimentConfig(StrictModel):
    """The experiment YAML as written (see the module docstring for an example)."""

    name: Annotated[str, Field(pattern=_NAME_PATTERN, max_length=80)] | None = None
    description: str = ""
    model: Literal["opmatrix", *testmodels.MODELS] = "opmatrix"  # type: ignore[valid-type]
    scenario: str | None = None
    days: Annotated[int, Field(ge=1, le=3650)] | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)
    variants: dict[str, VariantOverrides] = Field(default_factory=dict)
    baseline: str | None = None
    sweep: SweepConfig | None = None
    replicates: Annotated[int, Field(ge=1)] = 1
    seed: Annotated[int, Field(ge=0)] = 0
    outcomes: list[str] | None = None
    #: ``opmatrix optimize`` settings, validated by ``simulation.decide.spec`` (its own model).
    optimize: dict[str, Any] | None = None


@dataclass(frozen=True)
class Arm:
    """One variant at one sweep point: its parameter values and validated scenario."""

    variant: str
    sample_id: int
    params: dict[str, Any]
    scenario: Scenario | None
    error: str | None = None
    #: Inputs of a test model (variant values and the sweep point); empty for opmatrix runs.
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Experiment:
    """A validated experiment, ready to expand into run specs (``simulation.runner.specs``)."""

    config: ExperimentConfig
    source: Path
    scenario_path: Path | None
    base_data: dict[str, Any] | None
    base: Scenario | None
    variant_overrides: dict[str, dict[str, Any]]
    points: list[dict[str, Any]] = field(default_factory=list)
    #: Variants that name their own ``scenario`` file: its data (after days/overrides).
    variant_bases: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        from simulation.io import safe_name

        return self.config.name or safe_name(self.source.stem, "experiment")

    @property
    def model(self) -> str:
        return self.config.model

    @property
    def variants(self) -> list[str]:
        return list(self.variant_overrides)

    @property
    def baseline(self) -> str:
        return self.config.baseline or self.variants[0]

    @property
    def seeds(self) -> list[int]:
        """Replicate ``i`` runs with seed ``seed + i`` in every variant (common random numbers)."""
        return [self.config.seed + i for i in range(self.config.replicates)]

    @property
    def outcomes(self) -> list[str]:
        if self.config.outcomes:
            return list(self.config.outcomes)
        if self.model != "opmatrix":
            return list(testmodels.MODELS[self.model].outcomes)
        return list(DEFAULT_OUTCOMES)

    @property
    def sweep(self) -> SweepConfig | None:
        return self.config.sweep

    def n_runs(self) -> int:
        return len(self.variants) * max(1, len(self.points)) * self.config.replicates

    def describe(self) -> str:
        """One line: what expands into how many runs."""
        parts = [f"{len(self.variants)} variant(s)"]
        if self.sweep is not None:
            parts.append(
                f"{len(self.points)} {self.sweep.sampler} point(s) over "
                f"{len(self.sweep.parameters)} parameter(s)"
            )
        parts.append(f"{self.config.replicates} replicate(s)")
        where = f"model {self.model}" if self.base is None else f"scenario {self.base.name}"
        return f"{' × '.join(parts)} = {self.n_runs()} runs of {where}"

    def arms(self) -> list[Arm]:
        """Every (variant, sweep point) with its resolved scenario (validated here, once)."""
        points = self.points or [{}]
        out: list[Arm] = []
        for variant, overrides in self.variant_overrides.items():
            for sample_id, point in enumerate(points):
                out.append(self._arm(variant, sample_id, overrides, point))
        return out

    def _arm(
        self, variant: str, sample_id: int, overrides: dict[str, Any], point: dict[str, Any]
    ) -> Arm:
        if self.base_data is None:
            return Arm(variant, sample_id, dict(point), None, inputs={**overrides, **point})
        base = self.variant_bases.get(variant, self.base_data)
        data = apply_paths(base, {**overrides, **point})
        try:
            scenario = validate_model(Scenario, data, str(self.source))
        except ScenarioError as exc:
            return Arm(variant, sample_id, dict(point), None, str(exc).splitlines()[0])
        return Arm(variant, sample_id, dict(point), scenario)


def apply_paths(data: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``data`` with each dotted path set to its value (later paths win)."""
    out = copy.deepcopy(data)
    for path, value in values.items():
        set_path(out, path.split("."), _plain(value), "<experiment>")
    return out


def _plain(value: Any) -> Any:
    """ruamel's commented containers → plain dicts/lists (so the hash sees only data)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def path_problem(root: BaseModel, parts: list[str]) -> str | None:
    """Why ``parts`` does not name a parameter of ``root`` (a validated scenario), or None.

    A new key may be added only at the end of a mapping (a new channel, a per-segment value);
    anywhere else each part must be a field of the section or an existing key.
    """
    node: Any = root
    for i, part in enumerate(parts):
        here = ".".join(parts[:i]) or "the scenario"
        last = i == len(parts) - 1
        if isinstance(node, BaseModel):
            fields = type(node).model_fields
            if part not in fields:
                close = difflib.get_close_matches(part, list(fields), n=1, cutoff=0.6)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                return f"unknown parameter '{part}' in {here}; valid: {', '.join(fields)}{hint}"
            node = getattr(node, part)
        elif isinstance(node, dict):
            if part not in node:
                if last:
                    return None
                keys = ", ".join(map(str, node)) or "(none)"
                close = difflib.get_close_matches(part, list(map(str, node)), n=1, cutoff=0.6)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                return f"'{part}' is not in {here}; existing: {keys}{hint}"
            node = node[part]
        elif isinstance(node, list | tuple):
            if not part.isdigit() or int(part) >= len(node):
                return f"{here} is a list of {len(node)}; '{part}' is not an index in it"
            node = node[int(part)]
        else:
            kind = "not set" if node is None else f"a single value ({type(node).__name__})"
            return f"{here} is {kind}, it has no field '{part}'"
    return None


# ---------------------------------------------------------------------------- loading


def load_experiment(path: Path | str) -> Experiment:
    """Read and fully validate an experiment YAML. Raises :class:`ScenarioError`."""
    path = Path(path)
    data, source = read_yaml(path)
    cfg = validate_model(ExperimentConfig, data, source)
    checker = _Checker(data, source)
    checker.config(cfg)
    checker.run_count(cfg, max(1, len(cfg.variants)))
    checker.raise_if_any()
    if cfg.model == "opmatrix":
        scenario_path = _resolve_scenario(cfg.scenario or "", path)
        if scenario_path is None:
            checker.add(("scenario",), f"scenario file '{cfg.scenario}' not found")
            checker.raise_if_any()
        assert scenario_path is not None
        raw, _ = read_yaml(scenario_path)
        raw = absolutize_sources(raw, scenario_path.parent)
        base_values = dict(cfg.overrides)
        if cfg.days is not None:
            base_values["days"] = cfg.days
        base_data = checker.scenario_paths(raw, ("overrides",), base_values, None)
        checker.raise_if_any()
        base = validate_model(Scenario, base_data, str(scenario_path))
        base_data = _plain(base_data)  # plain containers copy ~100× faster than ruamel's
        variant_overrides, variant_bases = checker.variants(cfg, base, base_data, base_values, path)
        checker.sweep_paths(cfg, base, base_data, variant_overrides, variant_bases)
        checker.raise_if_any()
        checker.contribution_outcomes(cfg, base, base_data, variant_overrides, variant_bases)
    else:
        scenario_path, base_data, base, variant_bases = None, None, None, {}
        variant_overrides = checker.toy_variants(cfg)
    checker.run_count(cfg, len(variant_overrides))
    checker.raise_if_any()
    from simulation.runner.samplers import sample_points

    points = sample_points(cfg.sweep) if cfg.sweep is not None else []
    return Experiment(
        cfg, path, scenario_path, base_data, base, variant_overrides, points, variant_bases
    )


def _resolve_scenario(name: str, experiment_path: Path) -> Path | None:
    """A scenario path relative to the experiment file, the working folder, or a preset name
    (presets next to the experiment's folder first)."""
    here = experiment_path.resolve().parent
    found = find_scenario(name, near=[here, here.parent / "scenarios"])
    return None if found is None else found.resolve()


class _Checker:
    """Collects problems with their experiment-YAML lines, raising them together."""

    def __init__(self, data: Any, source: str) -> None:
        self.data = data
        self.source = source
        self.problems: list[Problem] = []

    def add(self, loc: tuple[str | int, ...], message: str) -> None:
        self.problems.append(Problem(".".join(map(str, loc)), message, line_of(self.data, loc)))

    def raise_if_any(self) -> None:
        if self.problems:
            raise ScenarioError(self.source, self.problems)

    def config(self, cfg: ExperimentConfig) -> None:
        if cfg.model == "opmatrix" and not cfg.scenario:
            self.add(("scenario",), "required: the base scenario YAML (path or preset name)")
        if cfg.model != "opmatrix":
            for key in ("scenario", "days", "overrides"):
                if getattr(cfg, key):
                    self.add((key,), f"not used by the test model '{cfg.model}'; remove it")
        if cfg.baseline is not None and cfg.baseline not in cfg.variants:
            names = ", ".join(cfg.variants) or "(no variants defined)"
            self.add(("baseline",), f"unknown variant '{cfg.baseline}'; variants: {names}")
        valid = (
            set(kpis.names())
            if cfg.model == "opmatrix"
            else set(testmodels.MODELS[cfg.model].outcomes)
        )
        if cfg.outcomes is not None and not cfg.outcomes:
            self.add(("outcomes",), "lists no outcome; name at least one, or remove the key "
                     "for the defaults")
        import re

        for name in cfg.variants:
            if not re.match(_NAME_PATTERN, str(name)) or len(str(name)) > 80:
                self.add(("variants", str(name)),
                         f"variant name {str(name)!r} must start with a letter or digit and use "
                         "only letters, digits, _ . - (at most 80 characters)")
        for i, outcome in enumerate(cfg.outcomes or []):
            if outcome in valid:
                continue
            if cfg.model == "opmatrix":
                self.add(("outcomes", i), kpis.outcome_problem(outcome, kpis.names()) or "")
            else:
                names = ", ".join(sorted(valid))
                self.add(("outcomes", i), f"unknown outcome '{outcome}'; valid: {names}")
        if cfg.sweep is not None:
            self._sweep_shape(cfg.sweep)

    def run_count(self, cfg: ExperimentConfig, variants: int) -> None:
        """Refuse an experiment that expands into more than MAX_RUNS runs (before expanding)."""
        points = design_size(cfg.sweep) if cfg.sweep is not None else 1
        runs = variants * max(1, points) * cfg.replicates
        if runs <= MAX_RUNS:
            return
        if cfg.sweep is not None and points > MAX_RUNS:
            loc: tuple[str | int, ...] = ("sweep", "samples" if cfg.sweep.samples else
                                          "parameters")
            what = f"{points:,} {cfg.sweep.sampler} points"
        else:
            loc = ("replicates",)
            what = f"{variants} variant(s) × {max(1, points):,} point(s) × {cfg.replicates:,} "
            what += "replicate(s)"
        self.add(loc, f"{what} = {runs:,} runs; an experiment may have at most {MAX_RUNS:,}")

    def _sweep_shape(self, sweep: SweepConfig) -> None:
        loc = ("sweep",)
        if not sweep.parameters:
            self.add((*loc, "parameters"), "no parameters to sweep; name at least one path")
        if sweep.sampler == "grid":
            if sweep.samples is not None:
                self.add((*loc, "samples"), "the grid takes every combination; remove samples")
            return
        if sweep.samples is None:
            self.add((*loc, "samples"), f"required for the {sweep.sampler} sampler")
        elif sweep.sampler == "sobol" and sweep.samples & (sweep.samples - 1):
            self.add(
                (*loc, "samples"),
                f"the sobol sampler needs a power of two (e.g. 64, 128), got {sweep.samples}",
            )
        for name, rng in sweep.parameters.items():
            if rng.values is not None:
                self.add(
                    (*loc, "parameters", name, "values"),
                    f"a values list works with the grid sampler only; give low/high for "
                    f"{sweep.sampler}",
                )
            if rng.levels is not None:
                self.add((*loc, "parameters", name, "levels"), "levels is for the grid sampler")

    def scenario_paths(
        self,
        data: dict[str, Any],
        loc: tuple[str, ...],
        values: dict[str, Any],
        base: Scenario | None,
    ) -> dict[str, Any]:
        """Check each path against ``base`` (if given), apply them all, validate the result."""
        bad = False
        for path in values:
            parts = path.split(".")
            if any(not p for p in parts):
                self.add((*loc, path), "empty part in the parameter path")
                bad = True
                continue
            if base is not None:
                earlier = [p for p in values if p != path and path.startswith(f"{p}.")]
                problem = None if earlier else path_problem(base, parts)
                if problem is None and not earlier:
                    problem = new_entry_problem(Scenario, data, parts, values[path], list(values))
                if problem:
                    self.add((*loc, path), problem)
                    bad = True
        if bad:
            return data
        try:
            out = apply_paths(data, values)
        except ScenarioError as exc:
            self.add(loc, exc.problems[0].message)
            return data
        try:
            validate_model(Scenario, out, self.source)
        except ScenarioError as exc:
            for p in exc.problems:
                self._scenario_problem(loc, values, p)
        return out

    def _scenario_problem(
        self, loc: tuple[str, ...], values: dict[str, Any], problem: Problem
    ) -> None:
        """Point a scenario-level problem at the override that caused it."""
        for path in sorted(values, key=len, reverse=True):
            if problem.path == path or problem.path.startswith(f"{path}."):
                rest = problem.path[len(path) + 1 :]
                msg = f"{rest}: {problem.message}" if rest else problem.message
                self.add((*loc, path), msg)
                return
        self.add(loc, f"{problem.path}: {problem.message}")

    def variants(
        self,
        cfg: ExperimentConfig,
        base: Scenario,
        base_data: dict[str, Any],
        base_values: dict[str, Any],
        experiment_path: Path,
    ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        """Each variant's overrides, and the data of variants with their own scenario file."""
        if not cfg.variants:
            return {"base": {}}, {}
        out: dict[str, dict[str, Any]] = {}
        bases: dict[str, dict[str, Any]] = {}
        for name, overrides in cfg.variants.items():
            values = _plain(overrides or {})
            own = values.pop("scenario", None)
            v_base, v_data = base, base_data
            if own is not None:
                loaded = self._variant_scenario(str(name), str(own), base_values, experiment_path)
                if loaded is None:
                    continue
                v_base, v_data = loaded
                bases[str(name)] = v_data
            self.scenario_paths(v_data, ("variants", name), values, v_base)
            out[str(name)] = values
        return out, bases

    def _variant_scenario(
        self, name: str, file: str, base_values: dict[str, Any], experiment_path: Path
    ) -> tuple[Scenario, dict[str, Any]] | None:
        """A variant's own base scenario (``scenario:`` key), with the experiment's overrides."""
        loc = ("variants", name, "scenario")
        found = _resolve_scenario(file, experiment_path)
        if found is None:
            self.add(loc, f"scenario file '{file}' not found")
            return None
        raw, _ = read_yaml(found)
        raw = absolutize_sources(raw, found.parent)
        before = len(self.problems)
        data = self.scenario_paths(raw, loc, base_values, None)
        if len(self.problems) > before:
            return None
        return validate_model(Scenario, data, str(found)), _plain(data)

    def sweep_paths(
        self,
        cfg: ExperimentConfig,
        base: Scenario,
        base_data: dict[str, Any],
        variant_overrides: dict[str, dict[str, Any]],
        variant_bases: dict[str, dict[str, Any]],
    ) -> None:
        """Each swept path must exist, and its extreme values must validate in every variant."""
        if cfg.sweep is None:
            return
        for name, rng in cfg.sweep.parameters.items():
            loc = ("sweep", "parameters", name)
            problem = path_problem(base, name.split("."))
            if problem:
                self.add(loc, problem)
                continue
            ends = (
                rng.values
                if rng.values is not None
                else [rng.cast(rng.low or 0.0), rng.cast(rng.high or 0.0)]
            )
            before = len(self.problems)
            for variant, overrides in variant_overrides.items():
                for value in ends:
                    data = apply_paths(variant_bases.get(variant, base_data), overrides)
                    self.scenario_paths(data, loc[:-1], {name: value}, None)
                    if len(self.problems) > before:
                        last = self.problems[-1]
                        last.message = f"at {value!r} (variant {variant}): {last.message}"
                        break
                if len(self.problems) > before:
                    break

    def contribution_outcomes(
        self,
        cfg: ExperimentConfig,
        base: Scenario,
        base_data: dict[str, Any],
        variant_overrides: dict[str, dict[str, Any]],
        variant_bases: dict[str, dict[str, Any]],
    ) -> None:
        """A per-lever contribution outcome must be one some variant's runs report
        (:func:`simulation.kpis.reported_by`), the same set ``opmatrix compare`` finds in the
        stored runs; a sweep over ``incrementality`` may switch them on at some points."""
        wanted = [(i, o) for i, o in enumerate(cfg.outcomes or []) if kpis.is_contribution(o)]
        if not wanted or (cfg.sweep is not None and any(
                p.split(".")[0] == "incrementality" for p in cfg.sweep.parameters)):
            return
        reported: set[str] = set()
        for variant, overrides in variant_overrides.items():
            data = variant_bases.get(variant, base_data)
            scenario = (
                validate_model(Scenario, apply_paths(data, overrides), self.source)
                if overrides or variant in variant_bases else base
            )
            reported.update(kpis.reported_by(scenario))
        for i, outcome in wanted:
            problem = kpis.outcome_problem(outcome, reported)
            if problem:
                self.add(("outcomes", i), problem)

    def toy_variants(self, cfg: ExperimentConfig) -> dict[str, dict[str, Any]]:
        toy = testmodels.MODELS[cfg.model]
        valid = ", ".join(toy.parameters)
        for name, overrides in cfg.variants.items():
            for key in overrides or {}:
                if key not in toy.parameters:
                    self.add(("variants", name, key), f"unknown parameter; valid: {valid}")
        if cfg.sweep is not None:
            for key in cfg.sweep.parameters:
                if key not in toy.parameters:
                    self.add(("sweep", "parameters", key), f"unknown parameter; valid: {valid}")
        if not cfg.variants:
            return {"base": {}}
        return {str(k): _plain(v or {}) for k, v in cfg.variants.items()}


def design_size(sweep: SweepConfig) -> int:
    """Number of points ``sweep`` expands into, computed without drawing them."""
    d = len(sweep.parameters)
    n = int(sweep.samples or 0)
    if sweep.sampler == "grid":
        size = 1
        for rng in sweep.parameters.values():
            size *= len(rng.values) if rng.values is not None else (rng.levels or 3)
        return size
    if sweep.sampler == "sobol":
        return n * (d + 2)
    if sweep.sampler == "morris":
        return n * (d + 1)
    return n


def grid_points(parameters: dict[str, ParameterRange]) -> list[dict[str, Any]]:
    names = list(parameters)
    values = [parameters[n].grid_values() for n in names]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]
