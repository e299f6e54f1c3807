"""``opmatrix optimize``: search (Optuna ask/tell) → selection (KN/OCBA) → marginals and curves.

Phases, all on the same seeds (replicate ``i`` uses seed ``experiment.seed + i`` everywhere):

1. **baseline**: the experiment's baseline scenario on the search seeds (constraints relative to
   the baseline, "current" spends for ±% bounds and fixed budgets);
2. **search**: Optuna's ask/tell in fixed batches; each candidate is R runs on the runner's
   executors; Optuna's journal (``study.journal``) and the run store are both on disk, so after
   ``kill -9`` a rerun tells the trials that were asked but not told (their stored runs are
   reused), asks only the trials still missing, and never runs a stored run again; a batch's
   asks reach the journal in one write, so a kill inside the ask loop leaves none of the batch
   and the rerun asks it again under the same trial numbers: every proposal is the one an
   uninterrupted run makes;
3. **selection**: the top-k feasible candidates are re-run on more common seeds until Kim–Nelson
   or OCBA picks one (``simulation.decide.selection``) — with several objectives, each screened
   with its own indifference zone at α/m (the first objective's best is recommended), or ranked
   by the declared score ``selection.weights``; paired differences against the baseline on
   those seeds, with t intervals;
4. **marginals** (budget allocation): each budget +Δ on the selection's seeds → marginal
   acquisitions per yuan, marginal CPA and marginal value per yuan (ratio estimates with
   delta-method intervals);
5. **response curves**: each budget from its lower to its upper bound, the others at the
   recommendation → incremental KPIs against that budget at zero, with the saturation point.

Results: ``result.json`` (everything above), ``recommended.yaml`` (the scenario to run),
``report.html`` and the figures, under ``<results>/<experiment>/optimize/`` (``optimize-robust/``
with ``--robust``).
"""

from __future__ import annotations

import json
import logging
import math
import time
import warnings
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import numpy as np

from simulation.decide.allocation import (
    Allocation,
    budgets_of,
    distributions,
    point_of,
    resolve_allocation,
)
from simulation.decide.evaluate import Candidate, Evaluator, column
from simulation.decide.selection import (
    ObjectiveScreen,
    SelectionResult,
    describe_screens,
    joint_pcs_estimate,
    kim_nelson,
    mean_ci,
    ocba,
    paired_ci,
    scalarised,
    score_formula,
    screen_objectives,
)
from simulation.decide.spec import OptimizationSpec
from simulation.errors import ScenarioError
from simulation.runner.experiment import apply_paths
from simulation.runner.specs import content_hash
from simulation.runner.store import _write_json, atomic_write

Log = Callable[[str], None]
STUDY = "opmatrix"
#: The pseudo-KPI of a declared scalarisation (``selection.weights``) in the selection stage.
SCORE = "score"


def out_dir(spec: OptimizationSpec, results: Path | str, robust: bool = False) -> Path:
    """``<results>/<experiment>/optimize`` (``optimize-robust`` for a --robust study)."""
    return Path(results) / spec.name / ("optimize-robust" if robust else "optimize")


def spec_fingerprint(spec: OptimizationSpec) -> str:
    """Hash of what the study's trials mean: the optimize section, every world's scenario and
    the model code (a told trial's value is only valid for the code that produced it)."""
    from simulation.runner.specs import code_version

    return content_hash(
        {
            "optimize": spec.config.model_dump(mode="json"),
            "worlds": [(w.name, w.data) for w in spec.worlds],
            "seed": spec.experiment.config.seed,
            "code": code_version(),
        }
    )


class Optimization:
    """One optimisation run (resumable): holds the study, the evaluator and the results."""

    def __init__(
        self,
        spec: OptimizationSpec,
        results: Path | str,
        executor: Executor,
        workers: int = 1,
        log: Log | None = None,
        robust: bool = False,
    ) -> None:
        self.spec = spec
        self.robust = robust and spec.config.robust is not None
        self.root = out_dir(spec, results, self.robust)
        self.workers = workers
        self.log = log or (lambda _m: None)
        self.worlds = spec.worlds if self.robust else spec.worlds[:1]
        self.evaluator = Evaluator(spec, self.root, executor, workers)
        self.directions = spec.directions
        self.alloc: Allocation | None = None
        self.baseline: dict[str, Any] = {}
        self.overhead_seconds = 0.0
        self.overhead_cpu_seconds = 0.0
        self.told = 0
        #: per-objective screens of the last selection stage (several objectives, no weights)
        self.screens: list[ObjectiveScreen] = []

    # ------------------------------------------------------------------ helpers
    def _frames(self, cands: list[Candidate], n: int) -> dict[str, dict[str, Any]]:
        frames = self.evaluator.evaluate(cands, self.spec.seeds(n), self.worlds)
        out: dict[str, dict[str, Any]] = {}
        for cand in cands:
            out[cand.label] = {w.name: frames[(cand.label, w.name)] for w in self.worlds}
        return out

    def _per_seed(self, per_world: dict[str, Any], kpi: str) -> np.ndarray:
        """A KPI per seed, combined over the worlds by the robust score (mean or p10)."""
        cols = np.vstack([column(f, kpi) for f in per_world.values()])
        if cols.shape[0] == 1:
            return cols[0]
        score = self.spec.config.robust.score if self.spec.config.robust else "mean"
        if score == "p10":
            q = 10 if self._pessimistic_way(kpi) == "maximize" else 90
            return np.percentile(cols, q, axis=0)
        return cols.mean(axis=0)

    def _pessimistic_way(self, kpi: str) -> str:
        """Which way is better for ``kpi``, so that p10 takes its bad tail: an objective's own
        direction (a minimised second objective, a CPA, takes its 90th percentile — it took the
        10th, the optimistic tail, when only the first objective's direction was read); a KPI
        only bounded from above by a constraint is minimised; anything else maximised."""
        ways = dict(zip(self.spec.objective_kpis, self.directions, strict=True))
        if kpi in ways:
            return ways[kpi]
        bounds = [c for c in self.spec.config.constraints if c.kpi == kpi]
        if bounds and all(c.max is not None and c.min is None for c in bounds):
            return "minimize"
        return "maximize"

    def _summary(self, per_world: dict[str, Any]) -> dict[str, Any]:
        kpis = set(self.spec.objective_kpis) | {c.kpi for c in self.spec.config.constraints}
        kpis |= {"spend", "acquisitions", "cost_per_acquisition", "value_acquired"}
        out: dict[str, Any] = {}
        for kpi in sorted(kpis):
            m, lo, hi = mean_ci(self._per_seed(per_world, kpi))
            out[kpi] = {"mean": m, "low": lo, "high": hi}
        if len(per_world) > 1:
            out["worlds"] = {
                w: {k: _nanmean(column(f, k)) for k in self.spec.objective_kpis}
                for w, f in per_world.items()
            }
        return out

    def _constraint_values(self, per_world: dict[str, Any]) -> list[float]:
        """Optuna convention: ≤ 0 is feasible, one value per bound."""
        out: list[float] = []
        for con in self.spec.config.constraints:
            m = _nanmean(self._per_seed(per_world, con.kpi))
            base = self.baseline["means"].get(con.kpi, math.nan) if con.relative else 0.0
            if not math.isfinite(m):
                out.append(1e9)
                continue
            if con.min is not None:
                out.append((con.min + base) - m)
            if con.max is not None:
                out.append(m - (con.max + base))
        return out

    # ------------------------------------------------------------------ phases
    def run_baseline(self) -> None:
        n = self.spec.replicates
        frames = self._frames([Candidate("baseline", {})], n)["baseline"]
        means: dict[str, float] = {}
        first = next(iter(frames.values()))
        for col in first.columns:
            means[col] = _nanmean(self._per_seed(frames, col))
        failed = first.attrs.get("errors") or []
        if (failed and all(not math.isfinite(v) for v in means.values())) or first.empty:
            raise ScenarioError.single(
                str(self.spec.experiment.source), "", f"the baseline scenario fails: {failed[:1]}"
            )
        spend = {k.split(":", 1)[1]: v for k, v in means.items() if k.startswith("spend:")}
        self.baseline = {"means": means, "summary": self._summary(frames)}
        self.alloc = resolve_allocation(self.spec, spend)

    def _study(self) -> Any:
        import optuna

        from simulation.decide.journal import journal_storage

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.root.mkdir(parents=True, exist_ok=True)
        # one fsync per batch instead of per write (simulation/decide/journal.py says why)
        storage, self._journal = journal_storage(self.root / "study.journal")
        study = optuna.create_study(
            study_name=STUDY,
            storage=storage,
            directions=list(self.directions),
            load_if_exists=True,
        )
        fp = spec_fingerprint(self.spec) + ("-robust" if self.robust else "")
        held = study.user_attrs.get("fingerprint")
        if held is None:
            study.set_user_attr("fingerprint", fp)
        elif held != fp:
            raise ScenarioError.single(
                str(self.root),
                "",
                "this folder holds an optimisation of a different spec (the optimize section, "
                "a scenario or the model code changed); delete the folder or rename the "
                "experiment",
            )
        return study

    def _sampler(self, n_done: int) -> Any:
        """A sampler seeded by the trial count, so a resumed study asks what a fresh one would
        (one per batch: a batch is asked whole or not at all, see run_search)."""
        import optuna

        seed = self.spec.config.seed + n_done
        cons = (lambda t: t.user_attrs.get("eval", {}).get("constraints", [0.0])) if (
            self.spec.config.constraints
        ) else None
        kind = self.spec.sampler
        # Optuna 5 deprecates constraints_func in favour of Trial.set_constraint (one journal
        # write per constraint, and absent from Optuna 4): keep the function, without the warning.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            if kind == "tpe":
                return optuna.samplers.TPESampler(
                    seed=seed, constraints_func=cons,
                    n_startup_trials=min(10, self.spec.config.trials),
                )
            if kind == "nsga2":
                pop = max(4, min(50, self.spec.config.batch * 2))
                return optuna.samplers.NSGAIISampler(
                    seed=seed, constraints_func=cons, population_size=pop
                )
        if kind == "cmaes":
            return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
        return optuna.samplers.RandomSampler(seed=seed)

    def _tell(self, study: Any, trial_number: int, params: dict[str, Any]) -> None:
        import optuna

        TrialState = optuna.trial.TrialState
        cand = Candidate(f"trial-{trial_number}", point_of(self.spec, self.alloc, params))
        per_world = self._frames([cand], self.spec.replicates)[cand.label]
        values = [
            _nanmean(self._per_seed(per_world, k)) for k in self.spec.objective_kpis
        ]
        start, cpu = time.perf_counter(), time.process_time()
        storage, sid = study._storage, study._study_id
        tid = storage.get_trial_id_from_study_id_trial_number(sid, trial_number)
        cons = self._constraint_values(per_world)
        feasible = all(c <= 0 for c in cons)
        record: dict[str, Any] = {
            "point": _jsonable(cand.point),
            "summary": _jsonable(self._summary(per_world)),
            "constraints": cons,
            "feasible": feasible,
        }
        ok = all(math.isfinite(v) for v in values)
        if not ok:
            errors = next(iter(per_world.values())).attrs.get("errors") or ["KPI undefined"]
            record["error"] = str(errors[0])
        # one journal write for everything the report needs (each write is a locked append)
        storage.set_trial_user_attr(tid, "eval", record)
        if not ok:
            study.tell(trial_number, state=TrialState.FAIL)
        else:
            if self.spec.sampler in ("cmaes", "random") and not feasible:
                values = self._penalised(values, cons)
            study.tell(trial_number, values)
        self.told += 1
        self.overhead_seconds += time.perf_counter() - start
        self.overhead_cpu_seconds += time.process_time() - cpu

    def _penalised(self, values: list[float], cons: list[float]) -> list[float]:
        """CMA-ES has no constraint handling in Optuna: push infeasible values away."""
        worse = 1.0 + sum(max(0.0, c) for c in cons)
        out = []
        for v, way in zip(values, self.directions, strict=True):
            shift = (abs(v) + 1.0) * worse
            out.append(v - shift if way == "maximize" else v + shift)
        return out

    def run_search(self, on_trial: Callable[[int, int], None] | None = None) -> Any:
        import optuna

        TrialState = optuna.trial.TrialState
        study = self._study()
        dists = distributions(self.spec, self.alloc)
        total = self.spec.config.trials
        # 1. trials a killed run asked but never told: a whole batch (asks are written to the
        # journal all at once, simulation/decide/journal.py), told from the run store with the
        # sampler its batch was asked with (its after_trial records the constraints)
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if running:
            study.sampler = self._sampler(min(t.number for t in running))
        for t in running:
            if set(t.params) == set(dists):
                self.log(f"resuming trial {t.number} (asked before the interruption)")
                self._tell(study, t.number, dict(t.params))
            else:  # a journal cut inside a write: nothing was evaluated for it
                study.tell(t.number, state=TrialState.FAIL)
        # 2. the rest, in fixed batches
        while True:
            trials = study.get_trials(deepcopy=False)
            counted = [
                t for t in trials
                if t.state != TrialState.FAIL or "error" in t.user_attrs.get("eval", {})
            ]
            left = total - len(counted)
            if left <= 0:
                break
            start, cpu = time.perf_counter(), time.process_time()
            study.sampler = self._sampler(len(trials))
            with self._journal.deferred():  # the batch's asks reach the file together or not
                asked = [study.ask(dists) for _ in range(min(self.spec.config.batch, left))]
            self.overhead_seconds += time.perf_counter() - start
            self.overhead_cpu_seconds += time.process_time() - cpu
            # the whole batch's runs go to the executor together (R runs per candidate), then
            # each trial is told from the stored runs
            self._frames(
                [
                    Candidate(f"trial-{t.number}", point_of(self.spec, self.alloc, dict(t.params)))
                    for t in asked
                ],
                self.spec.replicates,
            )
            for trial in asked:
                self._tell(study, trial.number, dict(trial.params))
            start, cpu = time.perf_counter(), time.process_time()
            self._journal.sync()
            self.overhead_seconds += time.perf_counter() - start
            self.overhead_cpu_seconds += time.process_time() - cpu
            if on_trial is not None:
                on_trial(total - left + len(asked), total)
        return study

    # ------------------------------------------------------------------ after the search
    def completed(self, study: Any) -> list[dict[str, Any]]:
        import optuna

        out = []
        for t in study.get_trials(deepcopy=False):
            rec = t.user_attrs.get("eval")
            if rec is None:
                continue
            out.append(
                {
                    "number": t.number,
                    "state": t.state.name,
                    "values": list(t.values) if t.state == optuna.trial.TrialState.COMPLETE
                    else None,
                    "point": rec["point"],
                    "summary": rec.get("summary", {}),
                    "feasible": bool(rec.get("feasible", False)),
                    "error": rec.get("error"),
                }
            )
        return out

    def _raw_value(self, row: dict[str, Any], i: int) -> float:
        return float(row["summary"][self.spec.objective_kpis[i]]["mean"])

    def top_candidates(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Feasible, distinct candidates in order of the first objective (Pareto members first),
        or of the declared score when ``selection.weights`` ranks by a trade-off."""
        ok = [r for r in rows if r["feasible"] and r["values"] is not None]
        seen: set[str] = set()
        unique = []
        for r in ok:
            key = content_hash(r["point"])
            if key not in seen:
                seen.add(key)
                unique.append(r)
        sign = 1.0 if self.directions[0] == "maximize" else -1.0
        weights = self._weights()
        if weights is not None:
            ways = dict(zip(self.spec.objective_kpis, self.directions, strict=True))
            unique.sort(key=lambda r: -float(scalarised(
                {k: np.array([self._raw_value(r, i)])
                 for i, k in enumerate(self.spec.objective_kpis)}, weights, ways)[0]))
            return unique[: self.spec.config.selection.top_k]
        front = set(pareto_members(unique, self)) if len(self.directions) > 1 else set()
        unique.sort(key=lambda r: (r["number"] not in front, -sign * self._raw_value(r, 0)))
        return unique[: self.spec.config.selection.top_k]

    def _weights(self) -> dict[str, float] | None:
        """The declared scalarisation (several objectives only), else None."""
        w = self.spec.config.selection.weights
        return dict(w) if w is not None and len(self.directions) > 1 else None

    def select(self, top: list[dict[str, Any]]) -> tuple[SelectionResult | None, list[Candidate]]:
        """The selection stage on ``top``: one objective, or a declared score, by one procedure;
        several objectives without a score by screening each on its own
        (:func:`~simulation.decide.selection.screen_objectives`, kept in ``self.screens``);
        the returned result is then the first objective's."""
        cands = [Candidate(f"trial-{r['number']}", r["point"]) for r in top]
        self.screens: list[ObjectiveScreen] = []
        if len(cands) < 2:
            return None, cands
        cfg = self.spec.config.selection
        kpis = self.spec.objective_kpis
        ways = dict(zip(kpis, self.directions, strict=True))
        weights = self._weights()

        def observe_kpi(kpi: str, want: dict[int, int]) -> dict[int, np.ndarray]:
            n = max(want.values())
            frames = self._frames([cands[i] for i in want], n)
            out = {}
            for i in want:
                f = frames[cands[i].label]
                x = (scalarised({k: self._per_seed(f, k) for k in kpis}, weights, ways)
                     if kpi == SCORE else self._per_seed(f, kpi))
                out[i] = x[: want[i]]
            return out

        n0 = max(cfg.initial_replicates, 2)
        kw = dict(k=len(cands), n0=n0, n_max=max(cfg.max_replicates, n0), step=cfg.step)
        procedure = kim_nelson if cfg.method == "kim_nelson" else ocba
        if len(kpis) > 1 and weights is None:
            deltas = [cfg.delta, *(cfg.deltas[k] for k in kpis[1:])]
            self.screens = screen_objectives(
                observe_kpi, kpis, list(self.directions), deltas, procedure, cfg.alpha, **kw
            )
            return self.screens[0].result, cands
        kpi = SCORE if weights is not None else kpis[0]
        maximize = weights is not None or self.directions[0] == "maximize"

        def observe(want: dict[int, int]) -> dict[int, np.ndarray]:
            return observe_kpi(kpi, want)

        return procedure(observe, delta=cfg.delta, alpha=cfg.alpha, maximize=maximize, **kw), cands

    def _selection_record(
        self, selection: SelectionResult, cands: list[Candidate]
    ) -> dict[str, Any]:
        """result.json's ``selection``: the procedure, what it guarantees, per objective."""
        labels = [c.label for c in cands]
        ways = dict(zip(self.spec.objective_kpis, self.directions, strict=True))
        weights = self._weights()
        description = selection.describe()
        ranking = "single objective"
        if self.screens:
            description = describe_screens(self.screens, labels, selection.method)
            ranking = "each objective screened on its own; recommended by the first"
        elif weights is not None:
            ranking = f"declared score {score_formula(weights, ways)}"
            description = f"On the declared score {score_formula(weights, ways)}: {description}"
        return {
            "method": selection.method,
            "ranking": ranking,
            "weights": weights,
            "description": description,
            "stated_pcs": selection.stated_pcs,
            "pcs_estimate": selection.pcs_estimate,
            # OCBA on several objectives: Bonferroni over the objectives' own estimates
            "joint_pcs_estimate": joint_pcs_estimate(self.screens) if self.screens else None,
            "resolved": selection.resolved,
            "delta": selection.delta,
            "survivors": [labels[i] for i in selection.survivors],
            "replicates": {labels[i]: n for i, n in selection.replicates.items()},
            "eliminated_at": {labels[i]: r for i, r in selection.eliminated_at.items()},
            "objectives": [
                {
                    "kpi": sc.kpi,
                    "direction": sc.direction,
                    "delta": sc.delta,
                    "alpha": sc.result.alpha,
                    "best": labels[sc.result.best],
                    "resolved": sc.result.resolved,
                    "separated": [labels[i] for i in sc.separated()],
                    "not_separated": [labels[i] for i in sc.result.survivors],
                    "pcs_estimate": sc.result.pcs_estimate,
                    "replicates": {labels[i]: n for i, n in sc.result.replicates.items()},
                }
                for sc in self.screens
            ],
        }

    def compare_to_baseline(self, cand: Candidate, n: int) -> dict[str, Any]:
        frames = self._frames([cand, Candidate("baseline", {})], n)
        out: dict[str, Any] = {}
        kpis = [*self.spec.objective_kpis, *(c.kpi for c in self.spec.config.constraints)]
        for kpi in dict.fromkeys([*kpis, "acquisitions", "spend", "cost_per_acquisition"]):
            a = self._per_seed(frames[cand.label], kpi)
            b = self._per_seed(frames["baseline"], kpi)
            m, lo, hi, used = paired_ci(a, b)
            out[kpi] = {
                "candidate": _nanmean(a),
                "baseline": _nanmean(b),
                "diff": m, "low": lo, "high": hi, "n": used,
            }
        return out

    def marginals(self, best: Candidate, n: int) -> list[dict[str, Any]]:
        if self.alloc is None:
            return []
        cfg = self.spec.config.marginal
        n = cfg.replicates or n
        budgets = budgets_of(self.alloc, best.point)
        bumped = []
        for b in self.alloc.bounds:
            step = max(cfg.min_step, budgets[b.name] * cfg.step_pct / 100)
            point = {**best.point, b.path: round(budgets[b.name] + step, 2)}
            bumped.append((b, step, Candidate(f"marginal:{b.name}", point)))
        frames = self._frames([best] + [c for _, _, c in bumped], n)
        base = frames[best.label]
        out = []
        for b, step, cand in bumped:
            f = frames[cand.label]
            d_acq = self._per_seed(f, "acquisitions") - self._per_seed(base, "acquisitions")
            d_val = self._per_seed(f, "value_acquired") - self._per_seed(base, "value_acquired")
            d_sp = self._per_seed(f, "spend") - self._per_seed(base, "spend")
            per_yuan = ratio_ci(d_acq, d_sp)
            value = ratio_ci(d_val, d_sp)
            spent = _nanmean(d_sp)
            cpa = invert_ci(per_yuan)
            out.append(
                {
                    "budget": b.name,
                    "at": budgets[b.name],
                    "step": step,
                    "extra_spend": spent,
                    "spend_used_share": spent / step if step else math.nan,
                    "acquisitions_per_1000": [1000 * v for v in per_yuan],
                    "marginal_cpa": cpa,
                    "marginal_value_per_yuan": list(value),
                    "saturated": spent < 0.05 * step,
                    "replicates": n,
                }
            )
        return out

    def response_curves(self, best: Candidate) -> list[dict[str, Any]]:
        cfg = self.spec.config.response_curves
        if self.alloc is None or not cfg.enabled:
            return []
        n = cfg.replicates or self.spec.replicates
        budgets = budgets_of(self.alloc, best.point)
        out = []
        for b in self.alloc.bounds:
            high = b.high if not b.fixed else max(b.current * 2, 1.0)
            high = max(high, budgets[b.name])
            levels = sorted({0.0, *np.linspace(0.0, high, cfg.points).round(2).tolist()})
            cands = [
                Candidate(f"curve:{b.name}:{i}", {**best.point, b.path: float(x)})
                for i, x in enumerate(levels)
            ]
            frames = self._frames(cands, n)
            zero = frames[cands[0].label]
            rows = []
            for x, cand in zip(levels, cands, strict=True):
                f = frames[cand.label]
                row: dict[str, Any] = {"budget": x}
                for kpi in ("acquisitions", "value_acquired"):
                    m, lo, hi, _ = paired_ci(self._per_seed(f, kpi), self._per_seed(zero, kpi))
                    row[f"incremental_{kpi}"] = [m, lo, hi]
                spend_col = f"spend:{b.name}"
                first = next(iter(f.values()))
                row["channel_spend"] = _nanmean(
                    column(first, spend_col if spend_col in first else "spend")
                )
                rows.append(row)
            out.append(
                {
                    "budget": b.name,
                    "recommended": budgets[b.name],
                    "points": rows,
                    "saturation": saturation(rows, cfg.saturation),
                    "replicates": n,
                }
            )
        return out

    # ------------------------------------------------------------------ the whole thing
    def run(self, on_trial: Callable[[int, int], None] | None = None) -> dict[str, Any]:
        start = time.perf_counter()
        phases: dict[str, float] = {}

        def lap(name: str, t0: float) -> float:
            now = time.perf_counter()
            phases[name] = now - t0
            return now

        self.log("baseline")
        self.run_baseline()
        t = lap("baseline", start)
        self.log(f"search: {self.spec.config.trials} candidates × {self.spec.replicates} seeds")
        study = self.run_search(on_trial)
        t = lap("search", t)
        rows = self.completed(study)
        top = self.top_candidates(rows)
        if not top:
            raise ScenarioError.single(
                str(self.spec.experiment.source),
                "optimize.constraints",
                "no evaluated candidate meets the constraints; loosen them or widen the bounds "
                f"(results so far in {self.root})",
            )
        self.log(f"selection on the top {len(top)}")
        selection, cands = self.select(top)
        best = cands[selection.best] if selection else cands[0]
        n_sel = selection.replicates[selection.best] if selection else self.spec.replicates
        # the recommendation's seeds: the most any objective's screen ran it on
        n_sel = max([n_sel, *(sc.result.replicates.get(selection.best, 0)
                              for sc in self.screens)]) if selection else n_sel
        comparison = self.compare_to_baseline(best, n_sel)
        t = lap("selection", t)
        self.log("marginal returns and response curves")
        marginals = self.marginals(best, n_sel)
        t = lap("marginals", t)
        curves = self.response_curves(best)
        t = lap("response_curves", t)
        front = pareto_members(
            [r for r in rows if r["feasible"] and r["values"] is not None], self
        ) if len(self.directions) > 1 else []
        result = {
            "experiment": self.spec.name,
            "sampler": self.spec.sampler,
            "objectives": [
                {"kpi": k, "direction": d}
                for k, d in zip(self.spec.objective_kpis, self.directions, strict=True)
            ],
            "constraints": [c.describe() for c in self.spec.config.constraints],
            "worlds": [w.name for w in self.worlds],
            "robust_score": self.spec.config.robust.score if self.robust else None,
            "seeds": self.spec.seeds(self.spec.replicates),
            "baseline": self.baseline["summary"],
            "allocation": None if self.alloc is None else {
                "total": self.alloc.total,
                "bounds": [b.__dict__ for b in self.alloc.bounds],
            },
            "trials": rows,
            "top": [r["number"] for r in top],
            "selection": None if selection is None else self._selection_record(
                selection, cands
            ),
            "recommended": {
                "label": best.label,
                "point": _jsonable(best.point),
                "budgets": budgets_of(self.alloc, best.point),
                "replicates": n_sel,
                "vs_baseline": comparison,
            },
            "regret": self.regret_table(rows) if self.robust else None,
            "marginals": marginals,
            "response_curves": curves,
            "pareto_front": front,
            "runs_computed": self.evaluator.runs_computed,
            "simulate_seconds": self.evaluator.simulate_seconds,
            "optimizer_overhead_seconds": self.overhead_seconds,
            "overhead_per_candidate_ms": 1000 * self.overhead_seconds / max(1, self.told),
            "overhead_cpu_per_candidate_ms": 1000 * self.overhead_cpu_seconds / max(1, self.told),
            "seconds": time.perf_counter() - start,
            "phase_seconds": phases,
        }
        self.write(result, best)
        return result

    def regret_table(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Per candidate: its worst shortfall, over the worlds, to the best candidate of each
        world (minimax regret), from the search's replicate means (descriptive: no CI).

        One objective: its regret (``max_regret``). A declared score (``selection.weights``):
        the regret of that score, the one order the file declared. Several objectives screened
        on their own: every objective's regret in its own units and direction
        (``regrets[kpi]``); no order across them is declared, so the table is sorted by the
        first objective's (``max_regret``), as the recommendation is, and each other
        objective's minimax candidate is kept in it (``minimax_on`` names the objectives a
        candidate is minimax on). The regret of world w is best_w − value_w, each objective
        turned so that larger is better (a minimised CPA's regret is how much higher it is)."""
        ok = [r for r in rows if r["feasible"] and "worlds" in r["summary"]]
        if not ok:
            return []
        kpis = list(self.spec.objective_kpis)
        ways = dict(zip(kpis, self.directions, strict=True))
        worlds = list(ok[0]["summary"]["worlds"])
        weights = self._weights()

        def value(r: dict[str, Any], w: str, kpi: str) -> float:
            x = r["summary"]["worlds"][w]
            if kpi == SCORE and weights is not None:
                return float(scalarised({k: np.array([x[k]]) for k in kpis}, weights, ways)[0])
            return (1.0 if ways[kpi] == "maximize" else -1.0) * float(x[kpi])

        measures = [SCORE] if weights is not None else kpis
        regrets: dict[str, dict[int, float]] = {}
        for kpi in measures:
            best = {w: max(value(r, w, kpi) for r in ok) for w in worlds}
            regrets[kpi] = {r["number"]: max(best[w] - value(r, w, kpi) for w in worlds)
                            for r in ok}
        first = measures[0]
        minimax = {kpi: min(regrets[kpi], key=lambda n: (regrets[kpi][n], n)) for kpi in measures}
        order = sorted(regrets[first], key=lambda n: (regrets[first][n], n))
        keep = order[:10] + [n for n in dict.fromkeys(minimax.values()) if n not in order[:10]]
        return [
            {
                "trial": n,
                "max_regret": regrets[first][n],
                "regrets": {kpi: regrets[kpi][n] for kpi in measures},
                "minimax_on": [kpi for kpi in measures if minimax[kpi] == n],
            }
            for n in keep
        ]

    def write(self, result: dict[str, Any], best: Candidate) -> None:
        from simulation.report.render import to_yaml

        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write(self.root / "result.json", _write_json(_jsonable(result)))
        scenario = apply_paths(self.spec.worlds[0].data, best.point)
        data = json.loads(json.dumps(scenario, default=str))  # dates (calendar) as text
        data["name"] = f"{data.get('name', 'scenario')}_optimized"
        head = (
            f"# Recommended by `opmatrix optimize` ({self.spec.name}, {best.label}); see "
            "result.json / report.html beside this file.\n"
        )
        text = head + to_yaml(_jsonable(data))
        atomic_write(self.root / "recommended.yaml", lambda p: p.write_text(text, "utf-8"))


def _nanmean(x: np.ndarray) -> float:
    """Mean of the finite values; NaN (quietly) when there are none (e.g. an undefined CPA)."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else math.nan


def pareto_members(rows: list[dict[str, Any]], opt: Optimization) -> list[int]:
    """Trial numbers not dominated on the objectives' replicate means."""
    signs = [1.0 if d == "maximize" else -1.0 for d in opt.directions]
    pts = [
        (r["number"], [s * opt._raw_value(r, i) for i, s in enumerate(signs)]) for r in rows
    ]
    out = []
    for n, p in pts:
        dominated = any(
            all(q[i] >= p[i] for i in range(len(p))) and any(q[i] > p[i] for i in range(len(p)))
            for m, q in pts
            if m != n
        )
        if not dominated:
            out.append(n)
    return out


def ratio_ci(num: np.ndarray, den: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """mean(num)/mean(den) with a delta-method t interval (paired per seed)."""
    from scipy import stats

    ok = np.isfinite(num) & np.isfinite(den)
    num, den = num[ok], den[ok]
    n = num.size
    if n == 0 or abs(den.mean()) < 1e-9:
        return math.nan, math.nan, math.nan
    r = float(num.mean() / den.mean())
    if n < 2:
        return r, math.nan, math.nan
    resid = (num - r * den) / den.mean()
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * resid.std(ddof=1) / math.sqrt(n))
    return r, r - half, r + half


def invert_ci(per_unit: tuple[float, float, float]) -> list[float]:
    """1/x with its interval (upper end ∞ when the interval of x reaches 0)."""
    m, lo, hi = per_unit
    if not math.isfinite(m) or m <= 0:
        return [math.nan, math.nan, math.nan]
    low = 1 / hi if math.isfinite(hi) and hi > 0 else math.nan
    high = 1 / lo if math.isfinite(lo) and lo > 0 else math.inf
    return [1 / m, low, high]


def saturation(rows: list[dict[str, Any]], share: float) -> dict[str, Any]:
    """Where a response curve stops paying: spend stops rising, or the slope falls below
    ``share`` of the first segment's slope (incremental acquisitions per yuan)."""
    xs = [r["budget"] for r in rows]
    ys = [r["incremental_acquisitions"][0] for r in rows]
    spend = [r["channel_spend"] for r in rows]
    out: dict[str, Any] = {"budget": None, "reason": "not reached within the bounds"}
    if len(xs) < 2:
        return out
    first = (ys[1] - ys[0]) / (xs[1] - xs[0]) if xs[1] > xs[0] else math.nan
    for i in range(1, len(xs)):
        if spend[i] < 0.95 * xs[i] and xs[i] > 0:
            return {
                "budget": spend[i],
                "reason": "the channel cannot spend more: its reach, caps or capacity bind",
            }
        if i >= 2 and math.isfinite(first) and first > 0:
            slope = (ys[i] - ys[i - 1]) / (xs[i] - xs[i - 1])
            if slope < share * first:
                return {
                    "budget": xs[i - 1],
                    "reason": f"marginal return below {share:.0%} of the first step's",
                }
    return out


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if hasattr(obj, "item"):
        return _jsonable(obj.item())
    return obj


def load_result(root: Path) -> dict[str, Any]:
    return json.loads((root / "result.json").read_text(encoding="utf-8"))


logging.getLogger("optuna").setLevel(logging.WARNING)
