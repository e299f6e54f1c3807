"""Validation figures: simulated adoption overlaid on the Bass closed form."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from simulation.plots.style import PALETTE, new_figure
from simulation.result import RunResult


def bass_F(t: np.ndarray, p: float, q: float) -> np.ndarray:
    """Bass (1969): F(t) = (1 − e^{−(p+q)t}) / (1 + (q/p) e^{−(p+q)t})."""
    e = np.exp(-(p + q) * t)
    return (1 - e) / (1 + (q / p) * e)


def adoption_share(result: RunResult) -> np.ndarray:
    totals = result.daily.groupby("day")[["converted_cumulative", "customers"]].sum()
    return (totals["converted_cumulative"] / totals["customers"]).to_numpy()


def bass_overlay(runs: list[tuple[float, float, RunResult]]) -> Figure:
    """One line pair per (p, q): simulated share (solid) and closed form (dashed)."""
    fig, ax = new_figure(1, 1, width=8.0, height=4.6)
    for i, (p, q, result) in enumerate(runs):
        sim = adoption_share(result)
        t = np.arange(sim.size, dtype=float)
        color = PALETTE[i % len(PALETTE)]
        err = np.max(np.abs(sim - bass_F(t, p, q)))
        ax.plot(t, 100 * sim, color=color, lw=2.2,
                label=f"simulated p={p:g}, q={q:g} (max |error| {100 * err:.2f} pp)")
        ax.plot(t, 100 * bass_F(t, p, q), color="black", lw=1.0, ls="--")
    ax.plot([], [], color="black", lw=1.0, ls="--", label="Bass closed form F(t)")
    ax.set_xlabel("day")
    ax.set_ylabel("adopted (% of population)")
    ax.set_ylim(0, 101)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Well-mixed opmatrix run vs the Bass diffusion curve")
    return fig
