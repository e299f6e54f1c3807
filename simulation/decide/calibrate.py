"""``opmatrix calibrate``: fit scenario parameters to a bank's own numbers.

Inputs: a scenario, a targets file (``simulation/data/targets.py``) and a parameters file::

    name: example_bank_fit              # results folder name (default: the targets' name)
    replicates: 4                       # runs per trial, on seeds seed … seed+R−1
    seed: 0
    parameters:                          # any scenario path (as in sweeps), bounds and prior
      channels.wecom_adviser.conversion_on_contact: {low: 0.01, high: 0.3}
      word_of_mouth.imitation: {low: 0.001, high: 0.2, prior: log_uniform}
      lifecycle.forget: {low: 0.0, high: 0.01, prior: normal, mean: 0.002, sd: 0.001}
    optuna: {trials: 200, sampler: tpe, batch: 4}
    abc: {population_size: 100, generations: 5}

Why common seeds: every trial runs replicate r on the same seed, so two trials differ only by
their parameters, not by luck — the objective surface is smooth enough for TPE / CMA-ES and
the posterior is not blurred by re-seeding noise (Starsim's calibration re-seeds every trial).

Method ``optuna``: a point fit (minimum of the weighted deviance − 2·log prior) with Optuna's
TPE or CMA-ES through ask/tell, batches of trials evaluated in parallel on the runner's
executors, the study in ``optuna.journal`` in the results folder. Method ``abc``: a posterior by
ABC-SMC (pyabc), distance = the same deviance, its database ``abc.db`` in the results folder;
the replicates of each particle run in parallel. Every run is stored in ``runs/`` under a
content hash (``simulation/runner/store.py``), so an interrupted calibration (even kill -9)
resumes where it stopped and redoes no stored run; samplers are re-seeded from the number of
finished trials (generations) and a batch's asks reach the journal in one write
(simulation/decide/journal.py), so a resumed calibration proposes what an uninterrupted one
would, under the same trial numbers.
"""

from __future__ import annotations

import datetime
import json
import math
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from simulation.data.targets import Targets
from simulation.decide.calibrate_model import (
    OBSERVE_VERSION,
    PENALTY,
    observe,
    simulated,
    total_deviance,
    unpack_levels,
)
from simulation.errors import Problem, ScenarioError
from simulation.result import stable_hash
from simulation.runner.experiment import apply_paths, path_problem
from simulation.runner.specs import RunSpec, code_version, content_hash, run_content
from simulation.runner.store import ResultStore, atomic_write
from simulation.scenario.load import line_of, read_yaml, validate_model
from simulation.scenario.schema import Scenario
from simulation.scenario.types import StrictModel

Method = Literal["optuna", "abc"]
Progress = Callable[[str, int, int], None]


class ParameterPrior(StrictModel):
    """Bounds and prior of one calibrated parameter (``normal`` is truncated to the bounds)."""

    low: float
    high: float
    prior: Literal["uniform", "log_uniform", "normal"] = "uniform"
    mean: float | None = None
    sd: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _shape(self) -> ParameterPrior:
        if not self.high > self.low:
            raise PydanticCustomError("empty_range", "high must be > low, got {l}..{h}",
                                      {"l": self.low, "h": self.high})
        if self.prior == "log_uniform" and self.low <= 0:
            raise PydanticCustomError("log_low", "a log_uniform prior needs low > 0", {})
        if self.prior == "normal" and (self.mean is None or self.sd is None):
            raise PydanticCustomError("normal_needs", "a normal prior needs mean and sd", {})
        if self.prior != "normal" and (self.mean is not None or self.sd is not None):
            raise PydanticCustomError("not_normal", "mean and sd are for prior: normal", {})
        return self

    def log_density(self, x: float) -> float:
        """Log prior density up to a constant (uniform: 0; log-uniform: −log x)."""
        if self.prior == "log_uniform":
            return -math.log(x)
        if self.prior == "normal":
            assert self.mean is not None and self.sd is not None
            return -0.5 * ((x - self.mean) / self.sd) ** 2
        return 0.0

    def sd_of_prior(self) -> float:
        """The prior's standard deviation (for the identifiability check)."""

        return float(self.scipy().std())

    def scipy(self) -> Any:
        from scipy import stats

        if self.prior == "log_uniform":
            return stats.loguniform(self.low, self.high)
        if self.prior == "normal":
            assert self.mean is not None and self.sd is not None
            a, b = (self.low - self.mean) / self.sd, (self.high - self.mean) / self.sd
            return stats.truncnorm(a, b, loc=self.mean, scale=self.sd)
        return stats.uniform(self.low, self.high - self.low)


class OptunaConfig(StrictModel):
    trials: Annotated[int, Field(ge=1)] = 100
    sampler: Literal["tpe", "cmaes"] = "tpe"
    #: Trials asked before their results are told: they run in parallel. Part of the design
    #: (not taken from --workers), so any number of workers gives the same trials.
    batch: Annotated[int, Field(ge=1)] = 4
    startup_trials: Annotated[int, Field(ge=1)] = 10


class AbcConfig(StrictModel):
    population_size: Annotated[int, Field(ge=2)] = 100
    generations: Annotated[int, Field(ge=1)] = 5
    min_epsilon: Annotated[float, Field(ge=0)] = 0.0


class ParamsConfig(StrictModel):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")] | None = None
    description: str = ""
    replicates: Annotated[int, Field(ge=1)] = 4
    seed: Annotated[int, Field(ge=0)] = 0
    parameters: dict[str, ParameterPrior]
    optuna: OptunaConfig = OptunaConfig()
    abc: AbcConfig = AbcConfig()

    @model_validator(mode="after")
    def _some(self) -> ParamsConfig:
        if not self.parameters:
            raise PydanticCustomError("no_params", "no parameters to calibrate", {})
        return self


@dataclass
class Calibration:
    """Everything a calibration needs, loaded and checked."""

    scenario_path: Path
    base_data: dict[str, Any]
    base: Scenario
    targets: Targets
    params: ParamsConfig
    params_path: Path
    root: Path
    names: list[str] = field(default_factory=list)

    @property
    def seeds(self) -> list[int]:
        return [self.params.seed + r for r in range(self.params.replicates)]

    def fingerprint(self, method: str) -> str:
        """What the stored study/posterior belongs to: a different one refuses to resume."""
        return stable_hash({
            "scenario": self.base.model_dump(mode="json"),
            "targets": [(t.name, t.config.model_dump(mode="json"), t.observed.tolist())
                        for t in self.targets.targets],
            "params": self.params.model_dump(mode="json"),
            "method": method,
        })


def load_params(path: Path | str, base: Scenario, base_data: dict[str, Any]) -> ParamsConfig:
    """Read and check a parameters file: each path exists, its bounds give valid scenarios."""
    path = Path(path)
    data, source = read_yaml(path)
    cfg = validate_model(ParamsConfig, data, source)
    problems: list[Problem] = []
    for name, prior in cfg.parameters.items():
        loc = ("parameters", name)
        problem = path_problem(base, name.split("."))
        if problem:
            problems.append(Problem(".".join(loc), problem, line_of(data, loc)))
            continue
        for end in (prior.low, prior.high):
            try:
                validate_model(Scenario, apply_paths(base_data, {name: end}), source)
            except ScenarioError as exc:
                problems.append(Problem(".".join(loc), f"at {end!r}: {exc.problems[0].path}: "
                                        f"{exc.problems[0].message}", line_of(data, loc)))
                break
    if problems:
        raise ScenarioError(source, problems)
    return cfg


def prepare(
    scenario_path: Path | str,
    targets_path: Path | str,
    params_path: Path | str,
    out: Path | str | None = None,
    overrides: list[str] | None = None,
) -> Calibration:
    """Load scenario, targets and parameters; every problem is one ScenarioError (exit 2)."""
    from simulation.data.hooks import absolutize_sources
    from simulation.data.targets import load_targets
    from simulation.model import OperatingMatrixModel
    from simulation.scenario.overrides import apply_overrides

    scenario_path = Path(scenario_path)
    raw, source = read_yaml(scenario_path)
    if overrides:
        raw = apply_overrides(raw, overrides, source)
    raw = absolutize_sources(raw, scenario_path.resolve().parent)
    base = validate_model(Scenario, raw, source)
    base_data = json.loads(json.dumps(_plain(raw)))
    probe = _probe(base, OperatingMatrixModel)
    targets = load_targets(targets_path, base, *probe)
    params = load_params(params_path, base, base_data)
    name = params.name or targets.name
    root = Path(out) if out is not None else Path("results") / name
    return Calibration(scenario_path, base_data, base, targets, params, Path(params_path), root,
                       list(params.parameters))


def _probe(base: Scenario, model_cls: Any) -> tuple[list[str], list[str]]:
    """The acquisition sources and ledger items the scenario's model registers (day 0 only),
    so a targets file naming an unknown channel fails at load, not after 200 trials."""
    small = base.model_copy(update={"days": 1})
    model = model_cls(small, 0)
    return ([*model.population.sources, "stock"], list(model.ledger.items))


def _plain(value: Any) -> Any:
    """JSON-ready copy of a parsed YAML document: YAML reads an unquoted ``2024-01-01`` (e.g.
    ``contact_policy.start_date``) as a date, which JSON cannot hold; the ISO string loads back
    to the same date."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


# ---------------------------------------------------------------------------- running trials


@dataclass
class TrialResult:
    """One parameter point: its runs, per-target simulated numbers and objective."""

    params: dict[str, float]
    run_ids: list[str]
    objective: float
    deviance: float
    sims: list[np.ndarray] | None = None
    error: str | None = None


@dataclass
class Timing:
    wall: float = 0.0
    simulate: float = 0.0
    runs: int = 0
    stored: int = 0
    workers: int = 1
    #: CPU seconds: of the simulations (in the workers) and of this process's trial loop
    simulate_cpu: float = 0.0
    parent_cpu: float = 0.0


class TrialRunner:
    """Evaluates parameter points: R runs each on common seeds, via an executor and the store."""

    def __init__(self, cal: Calibration, executor: Executor, workers: int) -> None:
        self.cal = cal
        self.executor = executor
        self.workers = max(1, workers)
        self.store = ResultStore(cal.root)
        self.store.open()
        self.timing = Timing(workers=self.workers)
        #: Level series of runs finished in this process, so scoring need not re-read them.
        self._levels: dict[str, dict[str, list[float]]] = {}

    def specs_for(
        self, point: dict[str, float], sample_id: int
    ) -> tuple[list[RunSpec], str | None]:
        data = apply_paths(self.cal.base_data, point)
        try:
            scenario = validate_model(Scenario, data, str(self.cal.scenario_path))
        except ScenarioError as exc:
            return [], str(exc).splitlines()[0]
        content = run_content("opmatrix", scenario, {"observe": OBSERVE_VERSION}, 0)
        specs = [
            RunSpec(
                run_id=content_hash({**content, "seed": seed}),
                experiment=self.cal.targets.name,
                variant="trial",
                replicate=r,
                seed=seed,
                sample_id=sample_id,
                params=dict(point),
                scenario=scenario,
                inputs={"observe": OBSERVE_VERSION},
            )
            for r, seed in enumerate(self.cal.seeds)
        ]
        return specs, None

    def evaluate(self, points: list[dict[str, float]], first_id: int = 0) -> list[TrialResult]:
        """All points' runs in parallel (stored ones skipped), then each point's objective."""
        start = time.perf_counter()
        cpu = time.process_time()
        self._levels = {}  # only this batch's runs are kept (memory stays flat)
        per_point: list[tuple[list[RunSpec], str | None]] = [
            self.specs_for(p, first_id + i) for i, p in enumerate(points)
        ]
        unique = {s.run_id: s for specs, _ in per_point for s in specs}
        status = self.store.status(unique)
        todo = [s for rid, s in unique.items() if rid not in status]
        self.timing.stored += len(unique) - len(todo)
        self._run(todo)
        out = []
        for point, (specs, err) in zip(points, per_point, strict=True):
            out.append(self._score(point, specs, err))
        self.timing.wall += time.perf_counter() - start
        self.timing.parent_cpu += time.process_time() - cpu
        return out

    def _run(self, todo: list[RunSpec]) -> None:
        window = self.workers * 2
        queue = iter(todo)
        running: dict[Future, RunSpec] = {}

        def submit_more() -> None:
            while len(running) < window:
                spec = next(queue, None)
                if spec is None:
                    return
                running[self.executor.submit(observe, spec)] = spec

        submit_more()
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                spec = running.pop(future)
                outcome = future.result()
                self.store.write(spec, outcome)
                if outcome.status == "done":
                    self._levels[spec.run_id] = unpack_levels(outcome.details["levels"])
                self.timing.simulate += outcome.seconds
                self.timing.simulate_cpu += float(outcome.details.get("cpu_seconds", 0.0))
                self.timing.runs += 1
            submit_more()

    def levels(self, run_ids: list[str]) -> tuple[list[dict[str, list[float]]], str | None]:
        runs = []
        for rid in run_ids:
            if rid in self._levels:
                runs.append(self._levels[rid])
                continue
            rec = self.store.record(rid)
            if rec is None or rec.get("status") != "done":
                return [], (rec or {}).get("error") or f"run {rid} missing"
            runs.append(unpack_levels(rec["details"]["levels"]))
        return runs, None

    def _score(
        self, point: dict[str, float], specs: list[RunSpec], err: str | None
    ) -> TrialResult:
        run_ids = [s.run_id for s in specs]
        if err is None:
            runs, err = self.levels(run_ids)
        if err is not None:
            return TrialResult(point, run_ids, PENALTY, PENALTY, error=err)
        # levels are recorded in represented customers (population weights, issue 14): the
        # population's scale is already in every count
        sims = [simulated(t, runs, 1.0) for t in self.cal.targets.targets]
        dev = total_deviance(self.cal.targets.targets, sims)
        prior = sum(
            self.cal.params.parameters[name].log_density(float(v)) for name, v in point.items()
        )
        return TrialResult(point, run_ids, dev - 2.0 * prior, dev, sims)


# ---------------------------------------------------------------------------- state file


def _state_path(cal: Calibration) -> Path:
    return cal.root / "calibration.json"


def check_resumable(cal: Calibration, method: str) -> None:
    """A results folder holding another calibration is never silently mixed with this one."""
    path = _state_path(cal)
    fingerprint = cal.fingerprint(method)
    if path.exists():
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            state = {}
        if state.get("fingerprint") not in (None, fingerprint):
            raise ScenarioError.single(
                str(cal.root), "",
                "holds a different calibration (other scenario, targets, parameters or method);"
                " give another --out, or delete the folder to start over",
            )
        made_by = state.get("code_version")
        if made_by not in (None, code_version()):
            # its trials' objectives came from runs this code does not find (runs are keyed
            # by code version): resuming summarised a best trial without runs (a TypeError)
            raise ScenarioError.single(
                str(cal.root), "",
                f"holds a calibration made by another code version ({made_by}; this is "
                f"{code_version()}): its trials are not mixed with this model's; give another "
                "--out, or delete the folder to start over",
            )
    cal.root.mkdir(parents=True, exist_ok=True)
    state = {"fingerprint": fingerprint, "method": method, "status": "running",
             "code_version": code_version(),
             "scenario": str(cal.scenario_path), "targets": str(cal.targets.source),
             "params": str(cal.params_path)}
    atomic_write(path, lambda p: p.write_text(json.dumps(state, indent=1), encoding="utf-8"))


def write_state(cal: Calibration, method: str, extra: dict[str, Any]) -> None:
    state = {"fingerprint": cal.fingerprint(method), "method": method,
             "code_version": code_version(), **extra}
    text = json.dumps(state, indent=1, default=float)
    atomic_write(_state_path(cal), lambda p: p.write_text(text, encoding="utf-8"))


# ---------------------------------------------------------------------------- Optuna


def run_optuna(
    cal: Calibration, runner: TrialRunner, trials: int | None = None,
    progress: Progress | None = None,
) -> list[TrialResult]:
    """Point fit by ask/tell; returns every finished trial's result (stored study order)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cfg = cal.params.optuna
    total = trials or cfg.trials
    from simulation.decide.journal import journal_storage

    # A journal file, not SQLite: ~5× less CPU per ask/tell (0.02 s vs 0.12 s a trial at 20
    # parameters, measured), which is most of the per-trial overhead budget; fsynced once per
    # batch, not per write (simulation/decide/journal.py).
    storage, journal = journal_storage(cal.root / "optuna.journal")
    study = optuna.create_study(
        study_name=cal.targets.name, storage=storage, direction="minimize", load_if_exists=True
    )
    dists = {name: _distribution(p) for name, p in cal.params.parameters.items()}
    _resume_running(study, runner, dists, cal)
    done = _complete(study)
    while len(done) < total:
        k = min(cfg.batch, total - len(done))
        study.sampler = _sampler(cfg, cal.params.seed + len(done))
        with journal.deferred():  # the batch's asks reach the file together or not at all
            asked = [study.ask(dists) for _ in range(k)]
        points = [{n: float(t.params[n]) for n in cal.names} for t in asked]
        results = runner.evaluate(points, first_id=len(done))
        for trial, res in zip(asked, results, strict=True):
            _record(study, trial.number, res)
        journal.sync()
        done = _complete(study)
        if progress is not None:
            progress("trials", len(done), total)
    return [
        TrialResult({n: float(t.params[n]) for n in cal.names}, list(t.user_attrs["run_ids"]),
                    float(t.value), float(t.user_attrs.get("deviance", t.value)),
                    error=t.user_attrs.get("error"))
        for t in done
    ]


def _resume_running(study: Any, runner: TrialRunner, dists: dict[str, Any],
                    cal: Calibration) -> None:
    """Trials a killed process left running (asked, never told), so that the resumed study
    is the one an uninterrupted run would have made.

    A batch's asks reach the journal in one write (simulation/decide/journal.py), so the
    running trials are a whole batch, with the trial numbers an uninterrupted run gave them:
    evaluate them (their stored runs are reused, nothing is recomputed) and tell them, with the
    sampler their batch was asked with. (Closing them as failed and asking the batch again
    proposed the same points for TPE, but under new trial numbers, and CMA-ES seeds each
    proposal with its trial number.) A trial without all its parameters (a journal write cut
    by the kill) was never evaluated: it is closed as failed and samplers ignore it."""
    import optuna

    state = optuna.trial.TrialState
    running = study.get_trials(deepcopy=False, states=(state.RUNNING,))
    if not running:
        return
    # the batch's seed: the complete trials before it (some of it may have been told already)
    first = sum(1 for t in _complete(study) if t.number < min(r.number for r in running))
    study.sampler = _sampler(cal.params.optuna, cal.params.seed + first)
    whole = [t for t in running if set(t.params) == set(dists)]
    for t in running:
        if t not in whole:
            study.tell(t.number, state=state.FAIL)
    points = [{n: float(t.params[n]) for n in cal.names} for t in whole]
    for trial, res in zip(whole, runner.evaluate(points, first_id=first), strict=True):
        _record(study, trial.number, res)


def _record(study: Any, number: int, res: TrialResult) -> None:
    """A trial's run ids, deviance and error as user attributes, then its objective."""
    storage, tid = study._storage, study._storage.get_trial_id_from_study_id_trial_number(
        study._study_id, number
    )
    storage.set_trial_user_attr(tid, "run_ids", res.run_ids)
    storage.set_trial_user_attr(tid, "deviance", res.deviance)
    if res.error:
        storage.set_trial_user_attr(tid, "error", res.error)
    study.tell(number, res.objective)


def _complete(study: Any) -> list[Any]:
    import optuna

    return sorted(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)),
                  key=lambda t: t.number)


def _distribution(p: ParameterPrior) -> Any:
    from optuna.distributions import FloatDistribution

    return FloatDistribution(p.low, p.high, log=p.prior == "log_uniform")


def _sampler(cfg: OptunaConfig, seed: int) -> Any:
    import optuna

    if cfg.sampler == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=cfg.startup_trials)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=cfg.startup_trials,
                                      multivariate=True)


# ---------------------------------------------------------------------------- pyabc


@dataclass
class AbcResult:
    particles: np.ndarray  # (n, d) parameter values
    weights: np.ndarray
    distances: np.ndarray
    sims: list[list[np.ndarray]]  # per accepted particle: per target (R, periods)
    sim_weights: np.ndarray  # the weights of ``sims``
    sim_distances: np.ndarray  # their distances (deviance)
    epsilons: list[float]
    populations: int


def run_abc(cal: Calibration, runner: TrialRunner, progress: Progress | None = None) -> AbcResult:
    """Posterior by ABC-SMC (pyabc): one generation per ``run`` call, re-seeded per generation,
    so a calibration resumed from ``abc.db`` continues exactly where it stopped."""
    import logging

    import pyabc
    from pyabc.sampler import SingleCoreSampler

    for name in ("ABC", "Epsilon", "Distance", "Acceptor", "Sampler", "History", "Population"):
        logging.getLogger(f"ABC.{name}").setLevel(logging.WARNING)
    logging.getLogger("ABC").setLevel(logging.WARNING)
    cfg = cal.params.abc
    keys = [f"p{i}" for i in range(len(cal.names))]
    prior = pyabc.Distribution(
        **{k: _pyabc_rv(cal.params.parameters[n]) for k, n in zip(keys, cal.names, strict=True)}
    )
    targets = cal.targets.targets
    counter = {"id": 0}

    def model(pars: dict[str, float]) -> dict[str, Any]:
        point = {n: float(pars[k]) for k, n in zip(keys, cal.names, strict=True)}
        counter["id"] += 1
        res = runner.evaluate([point], first_id=counter["id"])[0]
        if res.sims is None:
            return {"failed": np.array([1.0])}
        return {f"t{j}": s for j, s in enumerate(res.sims)}

    def distance(x: dict[str, Any], x0: dict[str, Any]) -> float:
        if "failed" in x:
            return PENALTY
        return total_deviance(targets, [np.asarray(x[f"t{j}"]) for j in range(len(targets))])

    def fresh() -> Any:
        return pyabc.ABCSMC(
            model, prior, distance, population_size=cfg.population_size,
            sampler=SingleCoreSampler(), eps=pyabc.epsilon.QuantileEpsilon(alpha=0.5),
        )

    db = f"sqlite:///{(cal.root / 'abc.db').resolve()}"
    observed = {f"t{j}": t.observed for j, t in enumerate(targets)}
    history = None
    if (cal.root / "abc.db").exists():
        try:
            history = fresh().load(db, 1)
            done = history.max_t + 1
        except Exception:  # an empty database from a run killed before generation 0
            history = None
    if history is None:
        (cal.root / "abc.db").unlink(missing_ok=True)
        history = fresh().new(db, observed)
        done = 0
    while done < cfg.generations:
        # Every generation starts from the database alone, in a fresh ABCSMC, so a run resumed
        # after a kill is the uninterrupted one. (Reusing one object across one-generation runs
        # also kept pyabc's cached calibration sample, the prior's, so epsilon never shrank:
        # each generation's tolerance was generation 0's.)
        abc = fresh()
        abc.load(db, 1)
        np.random.seed((cal.params.seed * 1_000_003 + done) % (2**32))
        history = abc.run(max_nr_populations=1, minimum_epsilon=cfg.min_epsilon)
        done = history.max_t + 1
        if progress is not None:
            progress("generations", done, cfg.generations)
        eps = history.get_all_populations()["epsilon"].to_numpy()
        if cfg.min_epsilon > 0 and eps.size and eps[-1] <= cfg.min_epsilon:
            break
    t = history.max_t
    frame, weights = history.get_distribution(m=0, t=t)
    particles = frame[keys].to_numpy(dtype=float)
    weighted = history.get_weighted_distances(t=t)
    w_stats, stats_list = history.get_weighted_sum_stats(t=t)
    keep = [i for i, s in enumerate(stats_list) if "failed" not in s]
    sims = [[np.asarray(stats_list[i][f"t{j}"]) for j in range(len(targets))] for i in keep]
    sim_dist = np.array([total_deviance(targets, s) for s in sims])
    eps = [float(e) for e in history.get_all_populations()["epsilon"].to_numpy()[1:]]
    return AbcResult(particles, np.asarray(weights, float), weighted["distance"].to_numpy(),
                     sims, np.asarray(w_stats, float)[keep], sim_dist, eps, t + 1)


def _pyabc_rv(p: ParameterPrior) -> Any:
    import pyabc

    if p.prior == "log_uniform":
        return pyabc.RV("loguniform", p.low, p.high)
    if p.prior == "normal":
        assert p.mean is not None and p.sd is not None
        a, b = (p.low - p.mean) / p.sd, (p.high - p.mean) / p.sd
        return pyabc.RV("truncnorm", a, b, loc=p.mean, scale=p.sd)
    return pyabc.RV("uniform", p.low, p.high - p.low)
