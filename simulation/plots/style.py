"""Shared figure conventions: headless backend, sizes, and a palette per segment."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg", force=False)

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

PALETTE = plt.get_cmap("tab10").colors


def new_figure(nrows: int = 1, ncols: int = 1, width: float = 10.0, height: float = 4.2):
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), layout="constrained")
    return fig, axes


def save(fig: Figure, path) -> None:
    fig.savefig(path, dpi=110)
    plt.close(fig)
