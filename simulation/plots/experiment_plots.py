"""Figures of an experiment (variants × sweep points × replicates). Each function takes the
tidy frames of :class:`~simulation.runner.store.ResultStore` (``runs_frame()``,
``daily_frame()``) or an analysis table, and returns a matplotlib Figure.

Intervals are the runner's Student-t 95 % intervals over replicates
(:mod:`simulation.runner.analysis`); paired differences use common random numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from simulation import kpis
from simulation.formatting import within
from simulation.plots.run_plots import FigureUnavailable
from simulation.plots.style import PALETTE, new_figure, percent_axis, yuan
from simulation.runner.analysis import (
    paired_differences,
    pareto_front,
    retention_bands,
    variant_summary,
)

DEFAULT_COMPARE = ("conversion_rate", "cost_per_acquisition", "retention_90d")


def metric_label(metric: str) -> str:
    """The axis label of ``metric`` from the KPI registry, e.g. ``conversion rate (%)``."""
    return kpis.axis_label(metric)


def _scale(metric: str) -> float:
    return 100.0 if kpis.is_percent(metric) else 1.0


def _format_axis(ax: Axes, metric: str, axis: str = "y") -> None:
    target = ax.yaxis if axis == "y" else ax.xaxis
    if kpis.is_percent(metric):
        percent_axis(ax, axis)
    elif kpis.is_money(metric):
        target.set_major_formatter(FuncFormatter(yuan))


def _present(runs: pd.DataFrame, metrics: Sequence[str]) -> list[str]:
    done = runs[runs["status"] == "done"] if "status" in runs.columns else runs
    return [m for m in metrics if m in done.columns and np.isfinite(done[m].to_numpy(float)).any()]


def _variants(runs: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(runs["variant"].astype(str)))


def _yerr(table: pd.DataFrame, scale: float, metric: str | None = None) -> np.ndarray:
    """Asymmetric error bars (NaN intervals, e.g. one replicate, drawn as none); with
    ``metric``, each interval clipped to the values the KPI can take (a share: 0–100 %)."""
    lows, highs = table["ci_low"].to_numpy(float), table["ci_high"].to_numpy(float)
    if metric is not None:
        ends = [within(metric, lo, hi)[:2] for lo, hi in zip(lows, highs, strict=True)]
        lows = np.array([e[0] for e in ends], dtype=float)
        highs = np.array([e[1] for e in ends], dtype=float)
    mean = table["mean"].to_numpy(float) * scale
    low = np.nan_to_num(mean - lows * scale, nan=0.0)
    high = np.nan_to_num(highs * scale - mean, nan=0.0)
    return np.vstack([low, high])


# --------------------------------------------------------------------------- variants


def variant_comparison(runs: pd.DataFrame, metrics: Sequence[str] = DEFAULT_COMPARE) -> Figure:
    """One panel per metric: each variant's mean over replicates with its 95 % CI."""
    shown = _present(runs, metrics)
    if not shown:
        raise FigureUnavailable(f"no finite values of {', '.join(metrics)} in the runs")
    summary = variant_summary(runs, shown)
    variants = _variants(runs)
    fig, axes = new_figure(1, len(shown), width=max(4.0 * len(shown), 6.0),
                           height=3.2 + 0.12 * max(len(v) for v in variants))
    axes = np.atleast_1d(axes)
    for ax, metric in zip(axes, shown, strict=True):
        table = summary[summary["metric"] == metric].set_index("variant").reindex(variants)
        scale = _scale(metric)
        x = np.arange(len(variants))
        ax.bar(x, table["mean"] * scale, yerr=_yerr(table, scale, metric), capsize=4,
               color=[PALETTE[i % len(PALETTE)] for i in range(len(variants))], alpha=0.85)
        ax.set_xticks(x, variants, rotation=20, ha="right", fontsize=8)
        ax.set_ylabel(metric_label(metric))
        _format_axis(ax, metric)
        n = int(table["n"].max()) if len(table) else 0
        cut = any(within(metric, lo, hi)[2] for lo, hi in zip(
            table["ci_low"].to_numpy(float), table["ci_high"].to_numpy(float), strict=True))
        ax.set_title(f"{metric_label(metric)}\nmean ± 95 % CI, n = {n} replicates"
                     + (" (CI cut at 100 %)" if cut and kpis.get(metric).kind == "share"
                        else ""), fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Strategies compared")
    return fig


#: Narrowest x range of a forest panel in percentage points (differences of 0 or near it).
MIN_PP_SPAN = 1.0


def _pp_tick(value: float, _pos: int | None = None) -> str:
    """A tick in percentage points, signed; 0 without a sign (not "−0.0 pp")."""
    return "0 pp" if abs(value) < 0.05 else f"{value:+.1f} pp".replace("-", "\u2212")


def paired_forest(
    runs: pd.DataFrame, baseline: str, metrics: Sequence[str] = DEFAULT_COMPARE
) -> Figure:
    """Forest plot: each variant minus the baseline on the same seeds, with 95 % CIs; an
    interval clear of zero is a difference the replicates support."""
    shown = _present(runs, metrics)
    diffs = paired_differences(runs, baseline, shown)
    if diffs.empty:
        raise FigureUnavailable(f"no variant to pair with the baseline '{baseline}'")
    others = [v for v in _variants(runs) if v != baseline]
    fig, axes = new_figure(1, len(shown), width=max(4.2 * len(shown), 6.0),
                           height=1.4 + 0.5 * len(others))
    axes = np.atleast_1d(axes)
    for ax, metric in zip(axes, shown, strict=True):
        table = diffs[diffs["metric"] == metric].set_index("variant").reindex(others)
        scale = _scale(metric)
        y = np.arange(len(others))[::-1]
        mean = table["mean_diff"].to_numpy(float) * scale
        err = _yerr(table.rename(columns={"mean_diff": "mean"}), scale)
        clear = (table["ci_low"] > 0) | (table["ci_high"] < 0)
        colours = ["#d62728" if c else "#1f77b4" for c in clear.fillna(False)]
        for k in range(len(others)):
            ax.errorbar(mean[k], y[k], xerr=err[:, k : k + 1], fmt="o", color=colours[k],
                        capsize=4, lw=1.5, ms=5)
        ax.axvline(0, color="0.3", lw=1, ls="--")
        ax.set_yticks(y, others, fontsize=8)
        if kpis.is_percent(metric):  # a difference of two shares: percentage points
            name = kpis.label(metric)
            ax.set_xlabel(f"Δ {name} (percentage points)", fontsize=8)
            ax.xaxis.set_major_formatter(FuncFormatter(_pp_tick))
            low, high = ax.get_xlim()
            if high - low < MIN_PP_SPAN:  # no difference at all: ticks read "−0.0 pp, +0.0 pp …"
                mid = 0.5 * (low + high)
                ax.set_xlim(mid - MIN_PP_SPAN / 2, mid + MIN_PP_SPAN / 2)
        else:
            ax.set_xlabel(f"Δ {metric_label(metric)}", fontsize=8)
            _format_axis(ax, metric, "x")
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.set_title(metric_label(metric), fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(f"Paired differences vs baseline '{baseline}' (95 % CI; red: CI excludes 0)")
    return fig


# --------------------------------------------------------------------------- frontier


def arm_means(runs: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Mean of each metric per arm (variant × sweep point) over replicates."""
    summary = variant_summary(runs, list(metrics), by=("variant", "sample_id"))
    return summary.pivot_table(
        index=["variant", "sample_id"], columns="metric", values="mean", observed=True
    ).reset_index()


def cpa_conversion_frontier(runs: pd.DataFrame) -> Figure:
    """Every arm's CPA against its conversion rate; the Pareto frontier (nothing else both
    cheaper and converting more) joined and labelled."""
    x_m, y_m = "cost_per_acquisition", "conversion_rate"
    if len(_present(runs, (x_m, y_m))) < 2:
        raise FigureUnavailable("the runs hold no CPA and conversion values")
    arms = arm_means(runs, (x_m, y_m)).dropna(subset=[x_m, y_m])
    front = pareto_front(arms, x_m, y_m)
    fig, ax = new_figure(1, 1, width=8.0, height=5.0)
    variants = _variants(runs)
    for i, v in enumerate(variants):
        sel = (arms["variant"].astype(str) == v).to_numpy()
        ax.scatter(arms.loc[sel, x_m], 100 * arms.loc[sel, y_m], s=22, alpha=0.6,
                   color=PALETTE[i % len(PALETTE)], label=v)
    pf = arms[front].sort_values(x_m)
    ax.plot(pf[x_m], 100 * pf[y_m], color="black", lw=1.2, marker="o", mfc="none", ms=9,
            label=f"Pareto frontier ({len(pf)} arms)")
    if len(pf) <= 8:
        many = arms["sample_id"].nunique() > 1
        for row in pf.itertuples():
            text = f"{row.variant}#{row.sample_id}" if many else str(row.variant)
            ax.annotate(text, (getattr(row, x_m), 100 * getattr(row, y_m)), fontsize=7,
                        xytext=(5, 4), textcoords="offset points")
    ax.set_xlabel(metric_label(x_m) + " — lower is better")
    ax.set_ylabel(metric_label(y_m) + " — higher is better")
    _format_axis(ax, x_m, "x")
    _format_axis(ax, y_m, "y")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    ax.set_title("Cost per acquisition vs conversion (means over replicates per arm)")
    return fig


# --------------------------------------------------------------------------- retention


def retention_curves(daily: pd.DataFrame) -> Figure:
    """Share of customers ever won still not churned, per variant over days, with 95 % bands."""
    bands = retention_bands(daily)
    if bands.empty:
        raise FigureUnavailable("no daily tables stored for these runs")
    fig, ax = new_figure(1, 1, width=8.5, height=4.4)
    for i, (variant, df) in enumerate(bands.groupby("variant", sort=False, observed=True)):
        c = PALETTE[i % len(PALETTE)]
        ax.plot(df["day"], 100 * df["mean"], color=c, label=str(variant))
        low = np.clip(100 * df["ci_low"].to_numpy(float), 0, 100)  # a share stays in [0, 100]
        high = np.clip(100 * df["ci_high"].to_numpy(float), 0, 100)
        ax.fill_between(df["day"], low, high, color=c, alpha=0.2, lw=0)
    percent_axis(ax)
    ax.set_xlabel("day")
    ax.set_ylabel("customers won, not churned (%)")
    ax.set_title("Retention by variant (mean and 95 % band over replicates)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, title="variant")
    return fig


# --------------------------------------------------------------------------- sweeps


def param_columns(runs: pd.DataFrame) -> list[str]:
    """Swept parameters that actually vary (``param:<path>`` columns)."""
    cols = [c for c in runs.columns if c.startswith("param:")]
    return [c for c in cols if runs[c].nunique(dropna=True) > 1]


def _bins(values: pd.Series, max_levels: int) -> tuple[pd.Series, list[str]]:
    """Grid values as they are; continuous designs (LHS, Sobol) cut into quantile bins."""
    uniq = np.sort(values.dropna().unique())
    if len(uniq) <= max_levels:
        labels = [f"{v:.4g}" for v in uniq]
        return values.map(dict(zip(uniq, labels, strict=True))), labels
    cut = pd.qcut(values, max_levels, duplicates="drop")
    labels = [f"{iv.left:.3g}–{iv.right:.3g}" for iv in cut.cat.categories]
    return cut.cat.rename_categories(labels).astype(str), labels


def sweep_heatmap(
    runs: pd.DataFrame,
    metric: str = "conversion_rate",
    x_param: str | None = None,
    y_param: str | None = None,
    max_levels: int = 8,
) -> Figure:
    """Mean ``metric`` over a two-parameter sweep (the first two swept parameters by default).

    Cells average replicates and, for designs with more parameters, the other parameters too.
    """
    params = param_columns(runs)
    x_col = f"param:{x_param}" if x_param else (params[0] if len(params) >= 2 else None)
    y_col = f"param:{y_param}" if y_param else (params[1] if len(params) >= 2 else None)
    if x_col is None or y_col is None or x_col not in runs or y_col not in runs:
        raise FigureUnavailable("a heatmap needs a sweep over two parameters")
    done = runs[runs["status"] == "done"] if "status" in runs.columns else runs
    xb, x_labels = _bins(done[x_col].astype(float), max_levels)
    yb, y_labels = _bins(done[y_col].astype(float), max_levels)
    grid = (
        done.assign(_x=xb, _y=yb).groupby(["_y", "_x"])[metric].mean().unstack()
        .reindex(index=y_labels, columns=x_labels)
    )
    scale = _scale(metric)
    values = grid.to_numpy(float) * scale
    fig, ax = new_figure(1, 1, width=1.6 + 0.95 * len(x_labels), height=1.6 + 0.6 * len(y_labels))
    im = ax.imshow(values, origin="lower", aspect="auto", cmap="viridis")
    finite = values[np.isfinite(values)]
    mid = float(np.nanmean(finite)) if finite.size else 0.0
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            text = f"{v:.2f}%" if kpis.is_percent(metric) else (
                yuan(v) if kpis.is_money(metric) else f"{v:,.0f}")
            ax.text(j, i, text, ha="center", va="center", fontsize=7,
                    color="white" if v < mid else "black")
    ax.set_xticks(range(len(x_labels)), x_labels, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(y_labels)), y_labels, fontsize=8)
    ax.set_xlabel(x_col.removeprefix("param:"))
    ax.set_ylabel(y_col.removeprefix("param:"))
    bar = fig.colorbar(im, ax=ax)
    bar.set_label(metric_label(metric))
    ax.set_title(f"Mean {metric_label(metric)} over the sweep", fontsize=10)
    return fig


# --------------------------------------------------------------------------- sensitivity

#: Which index to bar for each method, and the secondary one drawn beside it.
_TORNADO = {"sobol": ("ST", "S1"), "morris": ("mu_star", None), "rbd_fast": ("S1", None)}


def sensitivity_tornado(sens: pd.DataFrame, variant: str | None = None) -> Figure:
    """Tornado chart of sensitivity indices (``analysis.sensitivity`` output), largest on top:
    Sobol total (ST) and first-order (S1) indices, Morris μ*, or RBD-FAST S1, with their
    confidence intervals."""
    if sens.empty:
        raise FigureUnavailable("no sensitivity indices (the sweep used no Sobol/Morris design)")
    if variant is None:
        variant = str(sens["variant"].iloc[0])
    table = sens[sens["variant"].astype(str) == variant]
    method = str(table["method"].iloc[0])
    main, second = _TORNADO.get(method, (str(table["index"].iloc[0]), None))
    metric = str(table["metric"].iloc[0])
    primary = table[table["index"] == main].set_index("parameter")
    order = primary["value"].sort_values().index.tolist()
    y = np.arange(len(order))
    fig, ax = new_figure(1, 1, width=8.0, height=1.5 + 0.45 * len(order))
    h = 0.38 if second else 0.6
    conf = np.nan_to_num(primary.loc[order, "conf"].to_numpy(float))
    ax.barh(y + (h / 2 if second else 0), primary.loc[order, "value"], height=h, xerr=conf,
            capsize=3, color="#1f77b4", label=f"{main} (total)" if main == "ST" else main)
    if second:
        sec = table[table["index"] == second].set_index("parameter").reindex(order)
        ax.barh(y - h / 2, sec["value"], height=h,
                xerr=np.nan_to_num(sec["conf"].to_numpy(float)), capsize=3, color="#ff7f0e",
                label=f"{second} (first order)")
    ax.set_yticks(y, order, fontsize=8)
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_xlabel(f"{method} index of {metric_label(metric)}")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(f"Sensitivity of {metric_label(metric)} ({method}, variant {variant})",
                 fontsize=10)
    return fig
