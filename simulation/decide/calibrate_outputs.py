"""What a calibration leaves in its results folder, besides the runs and the sampler database.

- ``calibrated.yaml``: the scenario with the fitted values (each marked ``(tuned: …)`` with its
  interval), its data files pinned by digest — usable by ``run``, ``sweep`` and ``optimize``;
- ``fit.csv``: per target and period, observed vs simulated (replicate mean) with the 95 %
  predictive interval (simulation noise across replicates + the likelihood's observation noise),
  the deviance, and a per-target verdict that flags a fit the data reject;
- ``parameters.csv``: estimate, interval, prior bounds and identifiability warnings;
  ``posterior.csv`` (ABC: particles and weights) or ``trials.csv`` (Optuna: every trial);
- ``figures/*.png`` and ``report.html`` (one self-contained file, ``simulation/report/``).

Identifiability: with ABC, a parameter whose posterior sd is more than half its prior sd is
flagged "weakly identified", and a pair with |correlation| > 0.8 "only their combination is
identified". With Optuna (a point fit, no posterior), the trials whose objective lies within
the χ²(d, 0.95) quantile of the best form an approximate confidence set; a parameter spanning
more than half of its bounds inside it is flagged, and so are strongly correlated pairs.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from simulation.decide.calibrate import AbcResult, Calibration, Timing, TrialResult
from simulation.decide.calibrate_model import (
    FitRow,
    fit_rows,
    fit_verdict,
    predictive_draws,
)
from simulation.runner.store import atomic_write

#: Predictive draws per target (split over replicates / particles).
DRAWS = 400
CORR_WARN = 0.8
SD_RATIO_WARN = 0.5
SPAN_WARN = 0.5


@dataclass
class Summary:
    method: str
    estimate: dict[str, float]
    interval: dict[str, tuple[float, float]]
    warnings: list[str]
    fit: list[FitRow]
    verdicts: dict[str, tuple[float, float, str]]
    corr: np.ndarray | None
    objective: float
    deviance: float
    samples: np.ndarray | None = None  # (n, d) points shown in the figures
    sample_weights: np.ndarray | None = None
    profile: list[tuple[dict[str, float], float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _wquant(x: np.ndarray, w: np.ndarray, q: float) -> float:
    order = np.argsort(x)
    cw = np.cumsum(w[order]) / w.sum()
    idx = int(np.searchsorted(cw, q, side="left"))
    return float(x[order][min(idx, x.size - 1)])


def _wcorr(samples: np.ndarray, w: np.ndarray) -> np.ndarray:
    if samples.shape[1] < 2 or samples.shape[0] < 3:
        return np.eye(samples.shape[1])
    cov = np.cov(samples.T, aweights=w)
    sd = np.sqrt(np.maximum(np.diag(cov), 1e-300))
    return cov / np.outer(sd, sd)


def _corr_warnings(names: list[str], corr: np.ndarray) -> list[str]:
    out = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if abs(corr[i, j]) > CORR_WARN:
                out.append(
                    f"{names[i]} and {names[j]} are strongly correlated ({corr[i, j]:+.2f}): the "
                    "data identify a combination of the two, not each one"
                )
    return out


def _fit(cal: Calibration, best: list[np.ndarray], sims_sets: list[list[np.ndarray]],
         weights: np.ndarray | None, seed: int
         ) -> tuple[list[FitRow], dict[str, tuple[float, float, str]]]:
    """Fit rows: simulated numbers and deviance of the ``best`` point's replicates, predictive
    interval from ``sims_sets`` (one point's replicates, or posterior particles by weight)."""
    rng = np.random.default_rng(seed)
    rows: list[FitRow] = []
    verdicts = {}
    for j, target in enumerate(cal.targets.targets):
        if len(sims_sets) == 1:
            draws = predictive_draws(target, sims_sets[0][j], DRAWS, rng)
        else:
            w = weights if weights is not None else np.ones(len(sims_sets))
            pick = rng.choice(len(sims_sets), size=min(50, len(sims_sets)), p=w / w.sum())
            draws = np.concatenate(
                [predictive_draws(target, sims_sets[i][j], max(1, DRAWS // pick.size), rng)
                 for i in pick]
            )
        target_rows = fit_rows(target, best[j], draws)
        rows += target_rows
        verdicts[target.name] = fit_verdict(target_rows)
    return rows, verdicts


def summarize_optuna(cal: Calibration, trials: list[TrialResult], runner: Any) -> Summary:
    names = cal.names
    ok = [t for t in trials if t.error is None]
    if not ok:
        raise RuntimeError("no trial finished without error; see trials.csv")
    best = min(ok, key=lambda t: t.objective)
    scored = runner._score(best.params, _specs_of(runner, best), None)
    rows, verdicts = _fit(cal, scored.sims, [scored.sims], None, cal.params.seed)
    d = len(names)
    threshold = best.objective + float(stats.chi2.ppf(0.95, d))
    near = [t for t in ok if t.objective <= threshold]
    pts = np.array([[t.params[n] for n in names] for t in near])
    interval = {n: (float(pts[:, i].min()), float(pts[:, i].max())) for i, n in enumerate(names)}
    warnings: list[str] = []
    notes = [
        f"Point fit: the best of {len(trials)} trials. Intervals are the range of the "
        f"{len(near)} trial{'' if len(near) == 1 else 's'} within χ²({d}, 0.95) = "
        f"{threshold - best.objective:.1f} of the best "
        "objective — an approximate confidence set from the trials explored, not a posterior "
        "(use --method abc for one)."
    ]
    corr = None
    if len(near) >= max(5, d + 2):
        for n in names:
            p = cal.params.parameters[n]
            span = (interval[n][1] - interval[n][0]) / (p.high - p.low)
            if span > SPAN_WARN:
                warnings.append(
                    f"{n} is weakly identified: trials as good as the best span "
                    f"{span:.0%} of its bounds"
                )
        corr = _wcorr(pts, np.ones(len(near)))
        warnings += _corr_warnings(names, corr)
    else:
        notes.append(
            f"Only {len(near)} trial{' lies' if len(near) == 1 else 's lie'} within the "
            "confidence set: too few to judge "
            "identifiability (run more trials)."
        )
    profile = [(t.params, t.objective) for t in ok]
    return Summary("optuna", dict(best.params), interval, warnings, rows, verdicts, corr,
                   best.objective, best.deviance, pts, np.ones(len(near)), profile, notes)


def _specs_of(runner: Any, trial: TrialResult) -> list[Any]:
    specs, _ = runner.specs_for(trial.params, 0)
    return specs


def summarize_abc(cal: Calibration, res: AbcResult) -> Summary:
    names = cal.names
    w = res.weights / res.weights.sum()
    est = {n: _wquant(res.particles[:, i], w, 0.5) for i, n in enumerate(names)}
    interval = {
        n: (_wquant(res.particles[:, i], w, 0.025), _wquant(res.particles[:, i], w, 0.975))
        for i, n in enumerate(names)
    }
    warnings = []
    for i, n in enumerate(names):
        mean = float(np.sum(w * res.particles[:, i]))
        sd = float(np.sqrt(np.sum(w * (res.particles[:, i] - mean) ** 2)))
        prior_sd = cal.params.parameters[n].sd_of_prior()
        if prior_sd > 0 and sd / prior_sd > SD_RATIO_WARN:
            warnings.append(
                f"{n} is weakly identified: its posterior sd is {sd / prior_sd:.0%} of the "
                "prior's (the data barely narrow it)"
            )
    corr = _wcorr(res.particles, w)
    warnings += _corr_warnings(names, corr)
    best_sims = res.sims[int(np.argmin(res.sim_distances))]
    rows, verdicts = _fit(cal, best_sims, res.sims, res.sim_weights, cal.params.seed)
    notes = [
        f"Posterior by ABC-SMC (pyabc): {res.populations} generation(s) of "
        f"{res.particles.shape[0]} particles, final ε = "
        f"{res.epsilons[-1] if res.epsilons else float('nan'):.3g} (deviance). Estimates are "
        "posterior medians, intervals central 95 %."
    ]
    best = float(np.min(res.distances)) if res.distances.size else float("nan")
    return Summary("abc", est, interval, warnings, rows, verdicts, corr, best, best,
                   res.particles, w, [], notes)


# ---------------------------------------------------------------------------- files


def _csv_text(header: list[str], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def calibrated_yaml(cal: Calibration, summary: Summary, overrides: list[str] | None) -> str:
    """The scenario file with the fitted values written in, comments kept, each value marked."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    from simulation.scenario.overrides import apply_overrides

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    data = yaml.load(cal.scenario_path.read_text(encoding="utf-8"))
    if overrides:
        data = apply_overrides(data, overrides, str(cal.scenario_path))
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    for section in ("population", "graph"):
        part = data.get(section)
        resolved = getattr(cal.base, section)
        if isinstance(part, dict) and getattr(resolved, "source", None):
            part["source"] = resolved.source
            part["source_sha256"] = resolved.source_sha256
    for name, value in summary.estimate.items():
        parts = name.split(".")
        node = data
        for key in parts[:-1]:
            if key not in node or node[key] is None:
                node[key] = CommentedMap()
            node = node[key]
        node[parts[-1]] = float(f"{value:.6g}")
        lo, hi = summary.interval[name]
        if isinstance(node, CommentedMap):
            node.yaml_add_eol_comment(
                f"(tuned: calibrated to {cal.targets.source.name} by opmatrix calibrate "
                f"--method {summary.method}, {stamp}; interval {lo:.4g}–{hi:.4g})",
                parts[-1],
            )
    buf = io.StringIO()
    yaml.dump(data, buf)
    head = (
        f"# Calibrated scenario: {cal.scenario_path.name} with {len(summary.estimate)} "
        f"parameter(s) fitted to {cal.targets.source.name} ({summary.method}, {stamp}).\n"
        f"# Fit table and report: {cal.root}/fit.csv, {cal.root}/report.html\n"
    )
    return head + buf.getvalue()


def write_outputs(
    cal: Calibration,
    summary: Summary,
    timing: Timing,
    overrides: list[str] | None,
    extra_rows: tuple[list[str], list[list[Any]], str] | None = None,
) -> dict[str, Path]:
    """Every output file, each written atomically; returns their paths."""
    from simulation.decide.calibrate_report import write_report

    root = cal.root
    paths: dict[str, Path] = {}
    paths["calibrated"] = root / "calibrated.yaml"
    _write(paths["calibrated"], calibrated_yaml(cal, summary, overrides))
    paths["fit"] = root / "fit.csv"
    _write(paths["fit"], _csv_text(
        ["target", "period", "day", "observed", "simulated", "lo95", "hi95", "deviance",
         "inside", "verdict"],
        [[r.target, r.period, r.day, f"{r.observed:.6g}", f"{r.simulated:.6g}", f"{r.lo:.6g}",
          f"{r.hi:.6g}", f"{r.deviance:.4g}", int(r.lo <= r.observed <= r.hi),
          summary.verdicts[r.target][2]] for r in summary.fit],
    ))
    paths["parameters"] = root / "parameters.csv"
    flagged = {n for n in cal.names for w in summary.warnings if w.startswith(n)}
    _write(paths["parameters"], _csv_text(
        ["parameter", "estimate", "lo", "hi", "prior", "low", "high", "warning"],
        [[n, f"{summary.estimate[n]:.6g}", f"{summary.interval[n][0]:.6g}",
          f"{summary.interval[n][1]:.6g}", cal.params.parameters[n].prior,
          cal.params.parameters[n].low, cal.params.parameters[n].high,
          "; ".join(w for w in summary.warnings if w.startswith(n)) if n in flagged else ""]
         for n in cal.names],
    ))
    paths["draws"] = root / "draws.csv"
    _write(paths["draws"], _csv_text(*draws_rows(cal, summary)))
    if extra_rows is not None:
        header, rows, fname = extra_rows
        paths[fname] = root / fname
        _write(paths[fname], _csv_text(header, rows))
    paths["report"] = write_report(cal, summary, timing, root / "report.html", root / "figures")
    write_state(cal, summary, timing)
    return paths


def write_state(cal: Calibration, summary: Summary, timing: Timing) -> None:
    from simulation.decide.calibrate import write_state as _ws

    _ws(cal, summary.method, {
        "status": "done",
        "estimate": summary.estimate,
        "interval": {k: list(v) for k, v in summary.interval.items()},
        "objective": summary.objective,
        "deviance": summary.deviance,
        "verdicts": {k: v[2] for k, v in summary.verdicts.items()},
        "warnings": summary.warnings,
        "timing": {"wall_s": timing.wall, "simulate_s": timing.simulate, "runs": timing.runs,
                   "stored_runs_reused": timing.stored, "simulate_cpu_s": timing.simulate_cpu,
                   "parent_cpu_s": timing.parent_cpu, "workers": timing.workers},
    })


#: Rows of draws.csv at most.
DRAWS_OUT = 100


def draws_rows(cal: Calibration, summary: Summary) -> tuple[list[str], list[list[Any]]]:
    """Parameter draws for ``opmatrix optimize --robust`` (``robust: {posterior: …}``), in a
    seeded random order so the first k rows are a random sample of k: ABC — particles
    resampled by their weights (posterior draws); Optuna — the trials inside the approximate
    χ² confidence set (no posterior; say so when using them)."""
    names = cal.names
    pts = summary.samples
    header = ["draw", *names]
    if pts is None or len(pts) == 0:
        return header, [[0, *(f"{summary.estimate[n]:.6g}" for n in names)]]
    rng = np.random.default_rng(cal.params.seed)
    if summary.method == "abc":
        w = np.asarray(summary.sample_weights if summary.sample_weights is not None
                       else np.ones(len(pts)), dtype=float)
        pick = rng.choice(len(pts), size=DRAWS_OUT, p=w / w.sum())
    else:
        pick = rng.permutation(len(pts))[:DRAWS_OUT]
    return header, [[i, *(f"{v:.6g}" for v in pts[j])] for i, j in enumerate(pick)]


def trials_rows(cal: Calibration, trials: list[TrialResult]) -> tuple[list[str], list[list[Any]],
                                                                       str]:
    header = ["trial", *cal.names, "objective", "deviance", "error"]
    rows = [[i, *(f"{t.params[n]:.6g}" for n in cal.names), f"{t.objective:.6g}",
             f"{t.deviance:.6g}", t.error or ""] for i, t in enumerate(trials)]
    return header, rows, "trials.csv"


def posterior_rows(cal: Calibration, res: AbcResult) -> tuple[list[str], list[list[Any]], str]:
    header = [*cal.names, "weight", "distance"]
    rows = [[*(f"{v:.6g}" for v in res.particles[i]), f"{res.weights[i]:.6g}",
             f"{res.distances[i]:.6g}" if i < res.distances.size else ""]
            for i in range(res.particles.shape[0])]
    return header, rows, "posterior.csv"


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=1, default=float)
