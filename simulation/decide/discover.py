"""``opmatrix discover``: under which swept conditions does a strategy fail?

On a stored sweep, every run is marked failed or not by a boolean expression over its KPIs
(``cost_per_acquisition > 150 or conversion_rate < 0.1``; a KPI that is undefined, e.g. the CPA
of a run without acquisitions, makes its comparison false). Each sweep point is then labelled by
its replicates' **failure probability** (the share of its seeds that fail), never by one draw.

- **PRIM** (Friedman & Fisher 1999) from the EMA Workbench (``ema_workbench.analysis.prim``,
  regression mode on the failure probability): peeling and pasting, the coverage–density
  trajectory, box inspection with quasi-p values, and bootstrap stability (``resample``: how often
  resampled data restrict the same parameters). Coverage and density are reported
  probability-weighted (coverage = share of the total failure probability inside the box,
  density = mean failure probability inside); the box chosen is the one of largest coverage with
  density ≥ ``target_density`` (else the best coverage × density).
- **CART**: scikit-learn's regression tree on the failure probability, as readable rules.
- **Feature scores**: extra-trees importances and SALib's delta moment-independent index (on any
  sample, Plischke et al. 2013), each with a replicate-noise figure: the spread of the index when
  every point's failure probability is recomputed from its replicates resampled with
  replacement.
- **Confirmation**: new points drawn uniformly inside and outside the box, run on the
  experiment's seeds (common random numbers), with the failure probability inside vs outside.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import re
import warnings
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulation.errors import ScenarioError
from simulation.runner.specs import RunSpec, content_hash, run_content
from simulation.runner.store import ResultStore, _write_json, atomic_write

Log = Callable[[str], None]
_WORDS = {"and", "or", "not", "True", "False", "nan", "inf"}


# ---------------------------------------------------------------------------- labels


def failure_mask(frame: pd.DataFrame, expr: str, source: str = "--fail") -> np.ndarray:
    """Evaluate ``expr`` per run; unknown names get a clear error listing the KPIs."""
    text = expr.strip()
    if not text:
        raise ScenarioError.single(
            source, "", "empty expression; e.g. 'cost_per_acquisition > 150'"
        )
    cols = {c for c in frame.columns if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(c))}
    names = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text)) - _WORDS
    unknown = sorted(n for n in names if n not in cols and n != "cpa")
    if unknown:
        kpis = sorted(c for c in cols if not c.startswith(("param", "run_id")))
        raise ScenarioError.single(
            source, "", f"unknown KPI '{unknown[0]}' in the failure expression; KPIs: "
            + ", ".join(kpis)
        )
    env = frame[[c for c in cols if c in names]].astype(float)
    if "cpa" in names:
        env = env.assign(cpa=frame["cost_per_acquisition"].astype(float))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = env.eval(text, engine="python")
    except Exception as exc:  # pandas raises several types for a malformed expression
        raise ScenarioError.single(
            source, "", f"cannot read the failure expression '{text}': {exc}"
        ) from None
    out = np.asarray(out)
    if out.dtype != bool or out.shape != (len(frame),):
        raise ScenarioError.single(
            source, "", f"'{text}' is not a condition (write e.g. 'conversion_rate < 0.1')"
        )
    return out


def point_labels(
    runs: pd.DataFrame, params: list[str], fail: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Per sweep point: its parameters, failure probability over replicates, replicate count."""
    df = runs.assign(_fail=fail.astype(float))
    grouped = df.groupby("sample_id", sort=True)
    x = grouped[[f"param:{p}" for p in params]].first()
    x.columns = params
    p = grouped["_fail"].mean().to_numpy()
    n = grouped["_fail"].size().to_numpy()
    return x.reset_index(drop=True).astype(float), p, n


def noise_share(runs_fail: np.ndarray, sample_ids: np.ndarray) -> float:
    """Share of the run-level failure indicator's variance that is within-point (seed) noise."""
    total = float(np.var(runs_fail))
    if total <= 0:
        return 0.0
    df = pd.DataFrame({"f": runs_fail, "s": sample_ids})
    within = float(df.groupby("s")["f"].var(ddof=0).mean())
    return within / total


# ---------------------------------------------------------------------------- PRIM


def _quiet_ema() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim
        from ema_workbench.analysis.prim_util import PRIMObjectiveFunctions
        from ema_workbench.analysis.scenario_discovery_util import RuleInductionType
    logging.getLogger("EMA").setLevel(logging.WARNING)
    return prim, PRIMObjectiveFunctions, RuleInductionType


def weighted_stats(x: pd.DataFrame, p: np.ndarray, lims: pd.DataFrame) -> dict[str, float]:
    """Probability-weighted coverage and density, and mass, of the box ``lims``."""
    inside = in_box(x, lims)
    total = float(p.sum())
    k = int(inside.sum())
    return {
        "coverage": float(p[inside].sum() / total) if total > 0 else 0.0,
        "density": float(p[inside].mean()) if k else 0.0,
        "mass": k / len(p),
        "n": k,
    }


def in_box(x: pd.DataFrame, lims: pd.DataFrame) -> np.ndarray:
    inside = np.ones(len(x), dtype=bool)
    for col in x.columns:
        lo, hi = float(lims[col].iloc[0]), float(lims[col].iloc[1])
        v = x[col].to_numpy(dtype=float)
        inside &= (v >= lo) & (v <= hi)
    return inside


def run_prim(
    x: pd.DataFrame,
    p: np.ndarray,
    target_density: float = 0.8,
    bootstrap: int = 20,
    seed: int = 0,
    peel_alpha: float = 0.05,
    mass_min: float = 0.05,
) -> dict[str, Any]:
    """One PRIM box on failure probabilities ``p``: trajectory, box, inspection, stability."""
    prim, objectives, mode = _quiet_ema()
    x = x.astype(float).reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the Workbench's pandas deprecation warnings
        finder = prim.Prim(
            x, np.asarray(p, dtype=float), threshold=0.5, peel_alpha=peel_alpha,
            paste_alpha=peel_alpha, mass_min=mass_min, mode=mode.REGRESSION,
            obj_function=objectives.ORIGINAL,
        )
        box = finder.find_box()
    trajectory = []
    for i, lims in enumerate(box.box_lims):
        st = weighted_stats(x, p, lims)
        restricted = [
            c for c in x.columns
            if float(lims[c].iloc[0]) > x[c].min() or float(lims[c].iloc[1]) < x[c].max()
        ]
        trajectory.append({**st, "res_dim": len(restricted), "index": i})
    good = [t for t in trajectory if t["density"] >= target_density]
    chosen = (
        max(good, key=lambda t: (t["coverage"], t["density"]))
        if good
        else max(trajectory, key=lambda t: t["coverage"] * t["density"])
    )["index"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        box.select(chosen)
    lims_chosen = box.box_lims[chosen]
    reproduce: dict[str, float] = {}
    jaccard: list[float] = []
    if bootstrap > 0:
        # EMA Workbench's own ``resample`` refits in binary mode only, so the bootstrap is done
        # here the same way (half-samples without replacement, as there) on the probabilities.
        rng = np.random.default_rng(seed)
        mine = in_box(x, lims_chosen)
        hits = dict.fromkeys(x.columns, 0)
        for _ in range(bootstrap):
            idx = rng.choice(len(x), size=len(x) // 2, replace=False)
            sub = run_prim(
                x.iloc[idx], np.asarray(p)[idx], target_density, 0, seed, peel_alpha, mass_min
            )
            sub_lims = pd.DataFrame(sub["box"]["lims"])
            for lim in sub["box"]["limits"]:
                hits[lim["parameter"]] += 1
            theirs = in_box(x, sub_lims)
            union = int((mine | theirs).sum())
            jaccard.append(float((mine & theirs).sum() / union) if union else 1.0)
        reproduce = {k: 100.0 * v / bootstrap for k, v in hits.items()}
    lims = box.box_lims[chosen]
    qp = box.qp[chosen]
    limits = []
    for col in x.columns:
        lo, hi = float(lims[col].iloc[0]), float(lims[col].iloc[1])
        if lo <= x[col].min() and hi >= x[col].max():
            continue
        q = [v for v in qp.get(col, []) if v is not None and v >= 0]
        limits.append(
            {
                "parameter": col, "low": lo, "high": hi,
                "min": float(x[col].min()), "max": float(x[col].max()),
                "qp": min(q) if q else None,
                "reproduce": reproduce.get(col),
            }
        )
    stats = weighted_stats(x, p, lims)
    return {
        "trajectory": trajectory,
        "chosen": chosen,
        "box": {**stats, "limits": limits,
                "lims": {c: [float(lims[c].iloc[0]), float(lims[c].iloc[1])] for c in x.columns}},
        "bootstrap": bootstrap,
        "jaccard": [float(np.mean(jaccard)), float(np.min(jaccard))] if jaccard else None,
    }


# ---------------------------------------------------------------------------- CART, scores


def run_cart(x: pd.DataFrame, p: np.ndarray, seed: int = 0) -> dict[str, Any]:
    from sklearn.tree import DecisionTreeRegressor, export_text

    leaf = max(3, int(0.05 * len(x)))
    tree = DecisionTreeRegressor(max_depth=3, min_samples_leaf=leaf, random_state=seed)
    tree.fit(x.to_numpy(), p)
    return {
        "rules": export_text(tree, feature_names=list(x.columns), decimals=4),
        "r2": float(tree.score(x.to_numpy(), p)),
    }


def _extra_trees(x: np.ndarray, p: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.ensemble import ExtraTreesRegressor

    model = ExtraTreesRegressor(n_estimators=100, min_samples_leaf=2, random_state=seed)
    model.fit(x, p)
    return model.feature_importances_


def feature_scores(
    x: pd.DataFrame,
    runs_fail: np.ndarray,
    sample_ids: np.ndarray,
    bounds: list[list[float]] | None,
    noise_draws: int = 8,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Extra-trees importances and SALib delta, each with its replicate-noise spread."""
    from SALib.analyze import delta as salib_delta

    df = pd.DataFrame({"f": runs_fail.astype(float), "s": sample_ids})
    groups = [g.to_numpy() for _, g in df.groupby("s", sort=True)["f"]]
    p = np.array([g.mean() for g in groups])
    xa = x.to_numpy(dtype=float)
    et = _extra_trees(xa, p, seed)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(noise_draws):
        p_star = np.array([rng.choice(g, size=g.size, replace=True).mean() for g in groups])
        draws.append(_extra_trees(xa, p_star, seed))
    et_sd = np.std(np.vstack(draws), axis=0, ddof=1) if noise_draws > 1 else np.zeros(len(et))
    names = list(x.columns)
    problem = {
        "num_vars": len(names),
        "names": names,
        "bounds": bounds or [[float(x[c].min()), float(x[c].max())] for c in names],
    }
    delta: dict[str, Any] = {}
    with (
        warnings.catch_warnings(),
        contextlib.suppress(Exception),
        contextlib.redirect_stdout(io.StringIO()),  # SALib prints its binning notices
        contextlib.redirect_stderr(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        res = salib_delta.analyze(problem, xa, p, num_resamples=50, seed=seed)
        # SALib ≥ 1.5.1 names the classic (Plischke) estimator delta_raw; older ones delta
        key = "delta_raw" if "delta_raw" in res else "delta"
        delta = {"delta": res[key], "delta_conf": res[f"{key}_conf"], "S1": res["S1"]}
    out = []
    for i, name in enumerate(names):
        out.append(
            {
                "parameter": name,
                "extra_trees": float(et[i]),
                "extra_trees_noise_sd": float(et_sd[i]),
                "noise_share": float(et_sd[i] / et[i]) if et[i] > 0 else math.nan,
                "delta": float(delta["delta"][i]) if delta else None,
                "delta_conf": float(delta["delta_conf"][i]) if delta else None,
                "S1": float(delta["S1"][i]) if delta else None,
            }
        )
    out.sort(key=lambda s: -s["extra_trees"])
    return out


# ---------------------------------------------------------------------------- confirmation


def sample_box(
    ranges: dict[str, tuple[float, float]],
    lims: dict[str, list[float]],
    n: int,
    inside: bool,
    rng: np.random.Generator,
) -> list[dict[str, float]]:
    """``n`` points uniform inside the box (others over their full range), or outside it."""
    out: list[dict[str, float]] = []
    tries = 0
    while len(out) < n and tries < 1000 * max(1, n):
        tries += 1
        if inside:
            pt = {k: float(rng.uniform(*lims[k])) for k in ranges}
        else:
            pt = {k: float(rng.uniform(*ranges[k])) for k in ranges}
            if all(lims[k][0] <= pt[k] <= lims[k][1] for k in ranges):
                continue
        out.append(pt)
    return out


def confirm_box(
    exp: Any,
    root: Path,
    prim_box: dict[str, Any],
    expr: str,
    n_points: int,
    executor: Executor,
    workers: int,
) -> dict[str, Any] | None:
    """Fresh points inside and outside the box, on the experiment's seeds, stored and reused."""
    from scipy import stats as sps

    from simulation.runner.sweep import run_sweep

    sweep = exp.sweep
    if sweep is None or n_points <= 0:
        return None
    ranges = {
        name: (float(r.low), float(r.high))
        for name, r in sweep.parameters.items()
        if r.values is None
    }
    if not ranges:
        return None
    lims = {k: prim_box["lims"].get(k, list(v)) for k, v in ranges.items()}
    rng = np.random.default_rng(exp.config.seed + 7919)
    pts_in = sample_box(ranges, lims, n_points, True, rng)
    pts_out = sample_box(ranges, lims, n_points, False, rng)
    overrides = exp.variant_overrides[exp.baseline]
    specs: list[RunSpec] = []
    where: list[tuple[str, int]] = []
    for side, pts in (("inside", pts_in), ("outside", pts_out)):
        for j, pt in enumerate(pts):
            point = {k: sweep.parameters[k].cast(v) for k, v in pt.items()}
            arm = exp._arm(exp.baseline, j, overrides, point)
            for rep, seed in enumerate(exp.seeds):
                if arm.error is not None:
                    rid = content_hash({"invalid": arm.error, "point": point, "seed": seed})
                else:
                    rid = content_hash(run_content("opmatrix", arm.scenario, {}, seed))
                specs.append(
                    RunSpec(rid, f"{exp.name}-confirm", side, rep, seed, j, point,
                            scenario=arm.scenario, invalid=arm.error)
                )
                where.append((side, j))
    store = ResultStore(root / "confirm")
    store.open()
    run_sweep(store, executor, specs=specs, workers=workers)
    rows = []
    for s in specs:
        rec = store.record(s.run_id) or {}
        rows.append({**(rec.get("kpis") or {}), "_ok": rec.get("status") == "done"})
    frame = pd.DataFrame(rows)
    frame = frame.apply(pd.to_numeric, errors="coerce")
    fail = failure_mask(frame.drop(columns="_ok"), expr)
    per = pd.DataFrame({"side": [w[0] for w in where], "j": [w[1] for w in where], "f": fail})
    probs = per.groupby(["side", "j"])["f"].mean()

    def ci(v: np.ndarray) -> list[float]:
        m = float(v.mean())
        if v.size < 2:
            return [m, math.nan, math.nan]
        h = float(sps.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
        return [m, max(0.0, m - h), min(1.0, m + h)]

    a = probs.loc["inside"].to_numpy(dtype=float)
    b = probs.loc["outside"].to_numpy(dtype=float)
    d = float(a.mean() - b.mean())
    se = (
        math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
        if min(a.size, b.size) > 1
        else math.nan
    )
    return {
        "n_inside": int(a.size), "n_outside": int(b.size),
        "replicates": len(exp.seeds),
        "inside": ci(a), "outside": ci(b),
        "difference": [d, max(-1.0, d - 1.96 * se), min(1.0, d + 1.96 * se)],
    }


# ---------------------------------------------------------------------------- the command


def run_discovery(
    target: Path | str,
    expr: str,
    results: Path | str,
    executor: Executor,
    workers: int,
    confirm: int = 8,
    bootstrap: int = 20,
    target_density: float = 0.8,
    log: Log | None = None,
) -> tuple[dict[str, Any], Path]:
    """Label, box, score and confirm; writes ``result.json`` and returns it with its folder."""
    from simulation.runner.experiment import load_experiment

    log = log or (lambda _m: None)
    target = Path(target)
    exp = load_experiment(target) if not target.is_dir() else None
    store = ResultStore.open_target(target, results)
    runs = store.runs_frame()
    params = [c[len("param:"):] for c in runs.columns if str(c).startswith("param:")]
    if not params:
        raise ScenarioError.single(
            str(target), "sweep", "discover needs a stored sweep over parameters (none found); "
            "run `opmatrix sweep` on an experiment with a sweep: section first"
        )
    done = runs[runs["status"] == "done"]
    baseline = store.baseline()
    if baseline is not None and baseline in set(done["variant"]):
        done = done[done["variant"] == baseline]
    if done.empty:
        raise ScenarioError.single(
            str(target), "", "no finished runs stored; run `opmatrix sweep` first"
        )
    fail = failure_mask(done, expr)
    x, p, reps = point_labels(done, params, fail)
    if len(x) < 10:
        raise ScenarioError.single(
            str(target), "sweep", f"{len(x)} sweep points are too few for discovery (need ≥ 10)"
        )
    keep = [c for c in x.columns if x[c].nunique() > 1]
    x = x[keep]
    log(f"{len(x)} points, {int(reps.min())}–{int(reps.max())} replicates each; PRIM")
    prim_result = run_prim(x, p, target_density, bootstrap)
    log("CART and feature scores")
    cart = run_cart(x, p)
    sweep_info = store.sweep_info() or {}
    problem = sweep_info.get("problem") or {}
    bounds = None
    if problem.get("names"):
        idx = {n: i for i, n in enumerate(problem["names"])}
        if all(c in idx for c in keep):
            bounds = [problem["bounds"][idx[c]] for c in keep]
    sample_ids = done["sample_id"].to_numpy()
    scores = feature_scores(x, fail, sample_ids, bounds)
    root = store.root / "discover" / content_hash({"fail": expr.strip()})[:10]
    root.mkdir(parents=True, exist_ok=True)
    confirmation = None
    if exp is not None and confirm > 0:
        log(f"confirmation: {confirm} points inside and {confirm} outside the box")
        confirmation = confirm_box(
            exp, store.root / "discover", prim_result["box"], expr, confirm, executor, workers
        )
    result = {
        "experiment": store.manifest().get("experiment") or (exp.name if exp else str(target)),
        "fail": expr,
        "n_points": len(x),
        "replicates": int(reps.max()),
        "failure_share": float(fail.mean()),
        "noise_share": noise_share(fail.astype(float), sample_ids),
        "parameters": keep,
        "prim": prim_result,
        "cart": cart,
        "scores": scores,
        "confirmation": confirmation,
    }
    atomic_write(root / "result.json", _write_json(_clean(result)))
    return _clean(result), root


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if hasattr(obj, "item"):
        return _clean(obj.item())
    return obj
