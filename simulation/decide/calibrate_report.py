"""Figures and the self-contained HTML report of a calibration (``simulation/report/render``).

Figures: one posterior-predictive band per target (observed points over the 95 % interval of
what the calibrated model could have produced), the parameters (ABC: weighted posterior
histograms over the prior's bounds; Optuna: objective against each parameter over all trials,
a profile that shows flat directions) and the pairwise correlations.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from simulation.plots.style import PALETTE, new_figure, png_bytes
from simulation.report.render import EmbeddedFigure, Report, Table, fmt, to_yaml, write_html
from simulation.runner.store import atomic_write


def fit_figure(name: str, rows: list[Any], kind: str, unit: str) -> Figure:
    fig, ax = new_figure(width=8.0, height=3.4)
    x = np.array([r.period for r in rows])
    obs = np.array([r.observed for r in rows])
    lo = np.array([r.lo for r in rows])
    hi = np.array([r.hi for r in rows])
    sim = np.array([r.simulated for r in rows])
    if x.size > 1:
        ax.fill_between(x, lo, hi, color=PALETTE[0], alpha=0.25, label="95 % predictive")
        ax.plot(x, sim, color=PALETTE[0], label="simulated (replicate mean)")
    else:
        ax.errorbar(x, sim, yerr=[sim - lo, hi - sim], fmt="s", color=PALETTE[0],
                    capsize=6, label="simulated, 95 % predictive")
    inside = (obs >= lo) & (obs <= hi)
    ax.scatter(x[inside], obs[inside], color="black", zorder=3, s=18, label="observed")
    if (~inside).any():
        ax.scatter(x[~inside], obs[~inside], color="#d62728", marker="x", zorder=3, s=30,
                   label="observed, outside")
    ax.set_title(f"{name} ({kind})")
    ax.set_xlabel(unit)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # periods are whole: no "0.96"
    ax.legend(fontsize=8, loc="best")
    return fig


def parameters_figure(cal: Any, summary: Any) -> Figure:
    names = cal.names
    cols = min(3, len(names))
    nrows = (len(names) + cols - 1) // cols
    fig, axes = new_figure(nrows, cols, width=3.6 * cols, height=2.8 * nrows)
    axes = np.atleast_1d(axes).ravel()
    for i, n in enumerate(names):
        ax = axes[i]
        p = cal.params.parameters[n]
        if summary.method == "abc" and summary.samples is not None:
            ax.hist(summary.samples[:, i], bins=20, range=(p.low, p.high),
                    weights=summary.sample_weights, color=PALETTE[1], alpha=0.8)
            ax.set_ylabel("posterior weight")
        else:
            xs = np.array([pt[n] for pt, _ in summary.profile])
            ys = np.array([obj for _, obj in summary.profile])
            ax.scatter(xs, ys - ys.min() + 1e-3, s=8, color=PALETTE[1], alpha=0.7)
            ax.set_yscale("log")
            ax.set_ylabel("objective − best")
        ax.axvline(summary.estimate[n], color="black", lw=1)
        ax.axvspan(*summary.interval[n], color="grey", alpha=0.15)
        ax.set_xlim(p.low, p.high)
        ax.set_title(n, fontsize=8)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    return fig


def correlation_figure(names: list[str], corr: np.ndarray) -> Figure:
    size = max(3.5, 0.9 * len(names) + 2)
    fig, ax = new_figure(width=size, height=size * 0.85)
    im = ax.imshow(corr, vmin=-1, vmax=1, cmap="RdBu_r")
    short = [n.split(".")[-1] if len(n) > 18 else n for n in names]
    ax.set_xticks(range(len(names)), short, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(names)), short, fontsize=7)
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, f"{corr[i, j]:+.2f}", ha="center", va="center", fontsize=7)
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_title("pairwise correlation")
    return fig


def write_report(cal: Any, summary: Any, timing: Any, path: Path, fig_dir: Path) -> Path:
    """figures/*.png and report.html (figures embedded), both written atomically."""
    fig_dir.mkdir(parents=True, exist_ok=True)
    by_target: dict[str, list[Any]] = defaultdict(list)
    for r in summary.fit:
        by_target[r.target].append(r)
    capacity = timing.wall * max(timing.workers, 1)
    overhead = 1 - timing.simulate / capacity if timing.runs and capacity > 0 else float("nan")
    report = Report(
        title=f"Calibration: {cal.targets.name}",
        subtitle=f"{cal.scenario_path.name} fitted to {cal.targets.source.name} "
        f"({summary.method})",
        facts=[
            ("Scenario", str(cal.scenario_path)),
            ("Targets", f"{cal.targets.source} ({len(cal.targets.targets)} targets)"),
            ("Parameters", f"{cal.params_path} ({len(cal.names)})"),
            ("Method", summary.method),
            ("Replicates per trial", f"{cal.params.replicates} on common seeds "
             f"{cal.seeds[0]}…{cal.seeds[-1]}"),
            ("Best objective (deviance − 2 log prior)", f"{summary.objective:.4g}"),
            # a resumed call whose trials were all told evaluates none: 0 / 0 and 0 s
            ("Trial runs this call: simulated / reused from the store",
             f"{timing.runs} / {timing.stored}"),
            ("Trial evaluation time this call", f"{timing.wall:.1f} s"),
        ],
        notes=[*summary.warnings],
    )
    report.tables.append(Table(
        "Parameters", ["parameter", "estimate", "95 % interval", "prior", "bounds"],
        [[n, f"{summary.estimate[n]:.4g}",
          # one trial in the confidence set gives no interval ("x – x" read as certain)
          "—" if summary.interval[n][0] == summary.interval[n][1] else
          f"{summary.interval[n][0]:.4g} – {summary.interval[n][1]:.4g}",
          cal.params.parameters[n].prior,
          f"{cal.params.parameters[n].low:g} – {cal.params.parameters[n].high:g}"]
         for n in cal.names],
        note=" ".join(summary.notes),
    ))
    report.tables.append(Table(
        "Fit by target", ["target", "kind", "points", "inside 95 %", "deviance", "χ² p",
                          "verdict"],
        [[t.name, t.kind, str(t.periods()),
          fmt(summary.verdicts[t.name][0], "pct"),
          f"{sum(r.deviance for r in by_target[t.name]):.3g}",
          f"{summary.verdicts[t.name][1]:.3g}", summary.verdicts[t.name][2]]
         for t in cal.targets.targets],
        note="A 'poor fit' target is one the calibrated model cannot reproduce within its "
        "predictive noise: the model (not only its parameters) needs a change there.",
    ))
    report.tables.append(Table(
        "Fit table (observed vs simulated)",
        ["target", "period", "day", "observed", "simulated", "95 % predictive"],
        [[r.target, str(r.period), str(r.day), f"{r.observed:.4g}", f"{r.simulated:.4g}",
          f"{r.lo:.4g} – {r.hi:.4g}"] for r in summary.fit],
    ))
    for t in cal.targets.targets:
        unit = "period" if t.kind == "proportion" else (t.config.grid or _grid(cal)).unit
        fig = fit_figure(t.name, by_target[t.name], t.kind, unit)
        band = ("95 % posterior-predictive band" if summary.method == "abc" else
                "95 % predictive band (the best fit's replicate seeds; a point fit, so the "
                "parameters' own uncertainty is not in it)")
        save_copy(fig, fig_dir / f"fit_{t.name}.png", report, f"Fit: {t.name}",
                  f"Observed (points) against the calibrated model's {band}; red crosses fall "
                  "outside it.")
    save_copy(parameters_figure(cal, summary), fig_dir / "parameters.png", report,
              "Parameters", "Estimate (line) and interval (shaded) over each parameter's bounds.")
    if summary.corr is not None and len(cal.names) > 1:
        save_copy(correlation_figure(cal.names, summary.corr), fig_dir / "correlations.png",
                  report, "Pairwise correlations", "|r| > 0.8: the data identify only a "
                  "combination of the two parameters.")
    report.extra_yaml.append(("Parameters file", to_yaml(cal.params.model_dump(mode="json"))))
    if not np.isnan(overhead):
        report.facts.append(("Worker time not spent simulating (of wall × workers)",
                             f"{max(overhead, 0):.1%}"))
    return write_html(report, path)


def _grid(cal: Any) -> Any:
    from simulation.data.targets import Grid

    return Grid()


def save_copy(fig: Figure, path: Path, report: Report, title: str, caption: str) -> None:
    """Render ``fig`` once: the same PNG is embedded in the report and saved (atomically)."""
    data = png_bytes(fig, dpi=96)  # closes the figure
    report.figures.append(EmbeddedFigure(
        title, caption, f"data:image/png;base64,{base64.b64encode(data).decode('ascii')}"
    ))
    atomic_write(path, lambda p: p.write_bytes(data))
