"""Figures of one run. Each function takes a RunResult and returns a matplotlib Figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from simulation.plots.style import PALETTE, new_figure, save
from simulation.result import RunResult


def conversion_retention(result: RunResult) -> Figure:
    """Left: share of each segment's day-0 prospects converted, over time. Right: share of each
    segment's ever-converted customers not churned, over time."""
    daily = result.daily
    fig, (ax_c, ax_r) = new_figure(1, 2, width=11.0, height=4.2)
    for i, (seg, df) in enumerate(daily.groupby("segment", observed=True)):
        df = df.sort_values("day")
        stock = int(df["converted_cumulative"].iloc[0])
        prospects = int(df["customers"].iloc[0]) - stock
        acquired = df["converted_cumulative"] - stock
        color = PALETTE[i % len(PALETTE)]
        if prospects > 0:
            ax_c.plot(df["day"], 100.0 * acquired / prospects, color=color, label=str(seg))
        ever = df["converted_cumulative"].to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            kept = np.where(ever > 0, 100.0 * (ever - df["churned_cumulative"]) / ever, np.nan)
        ax_r.plot(df["day"], kept, color=color, label=str(seg))
    ax_c.set_title("Conversion of day-0 prospects")
    ax_c.set_xlabel("day")
    ax_c.set_ylabel("converted (% of prospects)")
    ax_r.set_title("Customers retained (not churned)")
    ax_r.set_xlabel("day")
    ax_r.set_ylabel("retained (% of ever converted)")
    ax_r.set_ylim(0, 102)
    for ax in (ax_c, ax_r):
        ax.grid(alpha=0.3)
    handles, labels = ax_c.get_legend_handles_labels()
    if not handles:
        handles, labels = ax_r.get_legend_handles_labels()
    ax_r.legend(handles, labels, title="segment", loc="lower left", fontsize=8)
    name = result.provenance.get("scenario", {}).get("name", "")
    fig.suptitle(f"{name} — seed {result.provenance.get('seed')}")
    return fig


RUN_FIGURES = {"conversion_retention": conversion_retention}


def save_run_figures(result: RunResult, out: Path) -> list[Path]:
    """Render every per-run figure into ``out`` as PNG; returns the paths."""
    paths = []
    for name, fn in RUN_FIGURES.items():
        path = Path(out) / f"{name}.png"
        save(fn(result), path)
        paths.append(path)
    return paths
