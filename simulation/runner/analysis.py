"""Analysis of stored runs: CIs over replicates, paired differences, ranking, sensitivity.

All functions take the tidy frames of :class:`~simulation.runner.store.ResultStore` and return
tidy frames (contract for plots and reports; column names are stable):

- :func:`variant_summary` → ``variant, metric, n, mean, ci_low, ci_high``
- :func:`paired_differences` → ``variant, metric, n_pairs, mean_diff, ci_low, ci_high, p_value,
  p_holm`` (``p_holm``: Holm-adjusted over every variant × metric test in the frame)
- :func:`pareto_front` → boolean mask (minimise ``x``, maximise ``y``)
- :func:`rank` → arms ordered by an objective, with ``feasible`` from constraints
- :func:`sensitivity` → ``variant, parameter, metric, method, index, value, conf``
- :func:`retention_bands` → ``variant, day, n, mean, ci_low, ci_high`` of the retained share

Intervals are Student-t intervals over replicates (95 % by default). Paired differences match a
variant's run with the baseline's run of the same replicate (same seed: common random numbers)
and sweep point, so the noise both share cancels.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from simulation import kpis
from simulation.errors import ScenarioError
from simulation.runner.experiment import DEFAULT_OUTCOMES

if TYPE_CHECKING:
    from simulation.runner.store import ResultStore



def t_interval(
    values: Sequence[float] | np.ndarray, level: float = 0.95
) -> tuple[int, float, float, float]:
    """``(n, mean, low, high)`` of the finite ``values``; the interval is NaN when n < 2."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return 0, math.nan, math.nan, math.nan
    mean = float(x.mean())
    if n < 2:
        return n, mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return n, mean, mean - half, mean + half


def _done(runs: pd.DataFrame) -> pd.DataFrame:
    return runs[runs["status"] == "done"] if "status" in runs.columns else runs


def variant_summary(
    runs: pd.DataFrame,
    metrics: Sequence[str] = DEFAULT_OUTCOMES,
    by: Sequence[str] = ("variant",),
    level: float = 0.95,
) -> pd.DataFrame:
    """Mean and t-interval of each metric per variant (or per ``by`` groups) over done runs."""
    done = _done(runs)
    rows: list[dict[str, Any]] = []
    for key, group in done.groupby(list(by), sort=False, observed=True):
        keys = key if isinstance(key, tuple) else (key,)
        for metric in metrics:
            values = group[metric] if metric in group.columns else pd.Series(dtype=float)
            n, mean, low, high = t_interval(values.to_numpy(dtype=float), level)
            rows.append(
                {**dict(zip(by, keys, strict=True)), "metric": metric, "n": n, "mean": mean,
                 "ci_low": low, "ci_high": high}
            )
    return pd.DataFrame(rows, columns=[*by, "metric", "n", "mean", "ci_low", "ci_high"])


def paired_differences(
    runs: pd.DataFrame,
    baseline: str,
    metrics: Sequence[str] = DEFAULT_OUTCOMES,
    level: float = 0.95,
) -> pd.DataFrame:
    """Variant − baseline per metric, paired by replicate seed and sweep point, with t-CIs.

    Many metrics × variants are tested at once, so some raw p-values fall below 0.05 by chance;
    ``p_holm`` adjusts them (Holm's step-down method, family-wise error rate) over all tests.
    """
    columns = ["variant", "metric", "n_pairs", "mean_diff", "ci_low", "ci_high", "p_value",
               "p_holm"]
    done = _done(runs)
    if baseline not in set(done["variant"]):
        return pd.DataFrame(columns=columns)
    keys = ["seed", "sample_id"]
    base = done[done["variant"] == baseline]
    rows: list[dict[str, Any]] = []
    for variant, group in done.groupby("variant", sort=False, observed=True):
        if variant == baseline:
            continue
        joined = group.merge(base, on=keys, how="inner", suffixes=("", "__base"))
        for metric in metrics:
            if metric not in joined.columns:
                continue
            diff = (joined[metric] - joined[f"{metric}__base"]).to_numpy(dtype=float)
            diff = diff[np.isfinite(diff)]
            n, mean, low, high = t_interval(diff, level)
            p = _paired_p_value(diff) if n >= 2 else math.nan
            rows.append(
                {"variant": variant, "metric": metric, "n_pairs": n, "mean_diff": mean,
                 "ci_low": low, "ci_high": high, "p_value": p}
            )
    out = pd.DataFrame(rows, columns=columns)
    out["p_holm"] = holm(out["p_value"].to_numpy(dtype=float))
    return out


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values (statsmodels); NaN entries stay NaN and are not counted."""
    from statsmodels.stats.multitest import multipletests

    out = np.full(p_values.shape, math.nan)
    ok = np.isfinite(p_values)
    if ok.any():
        out[ok] = multipletests(p_values[ok], method="holm")[1]
    return out


def _paired_p_value(diff: np.ndarray) -> float:
    """Two-sided paired t-test p-value; identical pairs give 1 (no difference) or 0."""
    mean = float(diff.mean())
    sd = float(diff.std(ddof=1))
    if sd <= 1e-12 * max(1.0, abs(mean)):
        return 1.0 if mean == 0 else 0.0
    t = mean / (sd / math.sqrt(diff.size))
    return float(2 * stats.t.sf(abs(t), diff.size - 1))


def pareto_front(
    df: pd.DataFrame, x: str = "cost_per_acquisition", y: str = "conversion_rate"
) -> np.ndarray:
    """Rows not dominated by another row (minimise ``x``, maximise ``y``; NaN rows excluded)."""
    xs = df[x].to_numpy(dtype=float)
    ys = df[y].to_numpy(dtype=float)
    ok = np.isfinite(xs) & np.isfinite(ys)
    mask = np.zeros(len(df), dtype=bool)
    idx = np.flatnonzero(ok)
    for i in idx:
        better_or_equal = (xs[idx] <= xs[i]) & (ys[idx] >= ys[i])
        strictly = (xs[idx] < xs[i]) | (ys[idx] > ys[i])
        mask[i] = not np.any(better_or_equal & strictly)
    return mask


# ---------------------------------------------------------------------------- ranking

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
    "==": operator.eq,
}
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][\w:.]*)\s*(<=|>=|==|<|>)\s*([-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class Constraint:
    """``metric op value`` on an arm's mean, e.g. ``cost_per_acquisition<=200``."""

    metric: str
    op: str
    value: float

    def holds(self, mean: float) -> bool:
        return bool(np.isfinite(mean) and _OPS[self.op](mean, self.value))

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.value:g}"


def metric_problem(name: str, valid: Sequence[str], what: str = "outcome") -> str:
    """Why stored runs cannot answer for ``name`` (their numeric columns are ``valid``): the
    closest names (did you mean), what switches a contribution KPI on, or that a registered KPI
    is missing from runs an older version stored — the same words as ``opmatrix validate``
    (:func:`simulation.kpis.outcome_problem`), so a typo never reads like a missing feature."""
    from simulation import kpis

    if kpis.is_registered(name) and not kpis.is_contribution(name):
        return f"'{name}' is not in these stored runs (stored by an older version?)"
    return kpis.outcome_problem(name, [v for v in valid if v != "seconds"], what) or ""


def parse_constraint(text: str, valid: Sequence[str]) -> Constraint:
    """Parse ``metric<=value``; a bad one raises :class:`ScenarioError` naming what is allowed."""
    m = _CONSTRAINT.match(text)
    if not m:
        raise ScenarioError.single(
            "--constraint", text, "expected metric<=number (operators: <=, >=, <, >, ==)"
        )
    metric, op, raw = m.groups()
    if metric not in valid:
        raise ScenarioError.single("--constraint", text, metric_problem(metric, valid, "metric"))
    try:
        value = float(raw)
    except ValueError:
        raise ScenarioError.single("--constraint", text, f"'{raw}' is not a number") from None
    return Constraint(metric, op, value)


def rank(
    runs: pd.DataFrame,
    objective: str = "conversion_rate",
    constraints: Sequence[Constraint] = (),
    by: Sequence[str] = ("variant",),
    maximise: bool | None = None,
) -> pd.DataFrame:
    """Arms ordered best first by the mean ``objective``; infeasible arms (any constraint fails
    on its mean) after the feasible ones. Columns: ``by…, n, <metric means>, feasible, rank``."""
    done = _done(runs)
    metrics = list(dict.fromkeys([objective, *(c.metric for c in constraints)]))
    means = done.groupby(list(by), sort=False, observed=True)[metrics].mean().reset_index()
    counts = done.groupby(list(by), sort=False, observed=True).size().rename("n").reset_index()
    table = counts.merge(means, on=list(by))
    table["feasible"] = [
        all(c.holds(float(row[c.metric])) for c in constraints) for _, row in table.iterrows()
    ]
    up = kpis.maximise(objective) if maximise is None else maximise
    score = table[objective].to_numpy(dtype=float) * (1 if up else -1)
    order = np.lexsort((-np.nan_to_num(score, nan=-np.inf), ~table["feasible"].to_numpy()))
    table = table.iloc[order].reset_index(drop=True)
    table["rank"] = np.arange(1, len(table) + 1)
    return table


# ---------------------------------------------------------------------------- sensitivity

SENSITIVITY_COLUMNS = ["variant", "parameter", "metric", "method", "index", "value", "conf"]


def sensitivity(
    store_or_runs: ResultStore | pd.DataFrame, metric: str, seed: int = 0
) -> pd.DataFrame:
    """Sobol (S1, ST) or Morris (mu_star, sigma) indices of ``metric`` per variant via SALib.

    The sweep must have used the matching sampler (``sobol`` or ``morris``); for ``lhs`` and
    ``random`` designs RBD-FAST first-order indices (S1) are given. The metric is averaged over
    replicates at each design point (they share seeds, so this removes noise, not signal).
    Raises ``ValueError`` when the design is incomplete (failed or missing runs).
    """
    runs = store_or_runs.runs_frame() if hasattr(store_or_runs, "runs_frame") else store_or_runs
    info = runs.attrs.get("sweep")
    if not info or info.get("sampler") not in ("sobol", "morris", "lhs", "random"):
        return pd.DataFrame(columns=SENSITIVITY_COLUMNS)
    problem = info["problem"]
    names = problem["names"]
    sampler = info["sampler"]
    rows: list[dict[str, Any]] = []
    for variant, group in _done(runs).groupby("variant", sort=False, observed=True):
        per_point = group.groupby("sample_id")[metric].mean().sort_index()
        stored = int(runs.loc[runs["variant"] == variant, "sample_id"].max()) + 1
        n_points = int(info.get("points", stored))  # stores from before "points" was recorded
        if len(per_point) != n_points or not np.all(np.isfinite(per_point.to_numpy(float))):
            missing = n_points - int(np.isfinite(per_point.to_numpy(float)).sum())
            raise ValueError(
                f"variant {variant}: {missing} of {n_points} design points have no finite "
                f"{metric}; {sampler} indices need every point (rerun with --retry-failed)"
            )
        y = per_point.to_numpy(dtype=float)
        x = _design_x(group, names)
        try:
            results = _salib(sampler, problem, x, y, info, seed)
        except (ArithmeticError, ValueError, RuntimeError) as exc:  # a design SALib rejects
            raise ValueError(f"variant {variant}: SALib could not analyse {metric}: {exc}") from exc
        for method, index, param, value, conf in results:
            rows.append(
                {"variant": variant, "parameter": param, "metric": metric, "method": method,
                 "index": index, "value": value, "conf": conf}
            )
    return pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS)


def _design_x(group: pd.DataFrame, names: Sequence[str]) -> np.ndarray:
    first = group.sort_values("sample_id").drop_duplicates("sample_id")
    return first[[f"param:{n}" for n in names]].to_numpy(dtype=float)


def _salib(
    sampler: str,
    problem: dict[str, Any],
    x: np.ndarray,
    y: np.ndarray,
    info: dict[str, Any],
    seed: int,
) -> list[tuple[str, str, str, float, float]]:
    names = problem["names"]
    out: list[tuple[str, str, str, float, float]] = []
    if sampler == "sobol":
        from SALib.analyze import sobol

        res = sobol.analyze(problem, y, calc_second_order=False, seed=seed)
        for key in ("S1", "ST"):
            for j, name in enumerate(names):
                out.append(("sobol", key, name, float(res[key][j]), float(res[f"{key}_conf"][j])))
    elif sampler == "morris":
        from SALib.analyze import morris

        res = morris.analyze(problem, x, y, num_levels=int(info["morris_levels"]), seed=seed)
        for j, name in enumerate(names):
            out.append(("morris", "mu_star", name, float(res["mu_star"][j]),
                        float(res["mu_star_conf"][j])))
            out.append(("morris", "sigma", name, float(res["sigma"][j]), math.nan))
    else:
        from SALib.analyze import rbd_fast

        # RBD-FAST's bootstrap resamples half the points and needs more than 2·M of them.
        harmonics = max(1, min(10, (len(y) // 2 - 1) // 2))
        res = rbd_fast.analyze(problem, x, y, M=harmonics, seed=seed)
        for j, name in enumerate(names):
            out.append(("rbd_fast", "S1", name, float(res["S1"][j]), float(res["S1_conf"][j])))
    return out


# ---------------------------------------------------------------------------- retention

def retention_bands(daily: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per variant and day: mean and t-interval over runs of the retained share.

    Retained share = customers ever won who have not churned, i.e.
    ``(converted_cumulative − churned_cumulative) / converted_cumulative`` (stock customers
    included); NaN before the first customer is won.
    """
    columns = ["variant", "day", "n", "mean", "ci_low", "ci_high"]
    if daily.empty:
        return pd.DataFrame(columns=columns)
    won = daily["converted_cumulative"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(won > 0, (won - daily["churned_cumulative"].to_numpy(float)) / won, np.nan)
    frame = daily[["variant", "day"]].assign(share=share)
    rows = []
    for (variant, day), group in frame.groupby(["variant", "day"], sort=True, observed=True):
        n, mean, low, high = t_interval(group["share"].to_numpy(), level)
        rows.append({"variant": variant, "day": int(day), "n": n, "mean": mean,
                     "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=columns)
