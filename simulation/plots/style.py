"""Shared figure conventions: headless backend, sizes, palettes and axis formatters.

Every figure function returns a :class:`~matplotlib.figure.Figure` and never shows it; callers
save it (``save``) or embed it (``png_bytes``). The Agg backend keeps everything headless.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=False)

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from simulation.strategies.registry import CATEGORY_COLOURS as _DECLARED_COLOURS

PALETTE = plt.get_cmap("tab10").colors

#: Lifecycle stage colours, cold (prospects) → green (customers) → red (lost).
STAGE_COLOURS: dict[str, str] = {
    "unaware": "#c7c7c7",
    "aware": "#9ecae1",
    "engaged": "#3182bd",
    "converted": "#74c476",
    "active": "#238b45",
    "at_risk": "#fd8d3c",
    "dormant": "#a1662f",
    "churned": "#de2d26",
}

#: CMB rings ([004]): outer = APP only … inner = APP + debit card.
RING_COLOURS: dict[str, str] = {"outer": "#c6dbef", "middle": "#6baed6", "inner": "#08519c"}

#: Ledger categories (accounting.LedgerItem.category) → colour, declared with each lever
#: (simulation/strategies/registry.py); ``other`` for anything undeclared.
CATEGORY_COLOURS: dict[str, str] = dict(_DECLARED_COLOURS)


def new_figure(nrows: int = 1, ncols: int = 1, width: float = 10.0, height: float = 4.2):
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), layout="constrained")
    return fig, axes


def save(fig: Figure, path: Path | str) -> None:
    """Write ``fig`` in the interface language (``--lang``; see plots/localise.py), close it."""
    from simulation.plots.localise import localise

    localise(fig).savefig(path, dpi=110)
    plt.close(fig)


def png_bytes(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (for HTML reports and the dashboard), in the interface
    language; closes the figure."""
    from simulation.plots.localise import localise

    buf = io.BytesIO()
    localise(fig).savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()


def yuan(value: float, _pos: int | None = None) -> str:
    """Axis label for money: ¥1.25M, ¥35k, ¥12.5k, ¥120, −¥1.45 (the sign before the currency).

    Thousands keep one decimal when they have one (ticks at ¥12,500 and ¥17,500 read "¥12k"
    and "¥18k" with none); each tier starts where the one below would round into it (¥999.99
    is "¥1k", not "¥1000")."""
    a = abs(value)
    sign = "\u2212" if value < 0 else ""
    if a >= 999_500:
        m = a / 1e6
        return f"{sign}¥{_trim(m, 2 if m < 10 else 1)}M"
    if a >= 99_950:
        return f"{sign}¥{a / 1e3:.0f}k"
    if a >= 999.5:
        return f"{sign}¥{_trim(a / 1e3, 1)}k"
    return f"{sign}¥{a:.0f}" if a >= 9.995 or value == 0 else f"{sign}¥{a:.2f}"


def _trim(x: float, decimals: int) -> str:
    """``x`` with at most ``decimals`` decimals, trailing zeros dropped (12.50 → 12.5, 2.0 → 2)."""
    text = f"{x:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text

def money_axis(ax: Axes, axis: str = "y") -> None:
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(FuncFormatter(yuan))


def percent_axis(
    ax: Axes, axis: str = "y", xmax: float = 100.0, decimals: int | None = None
) -> None:
    """Values already in percent (0–100) shown with a % sign."""
    fmt = PercentFormatter(xmax=xmax, decimals=decimals)
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def note(ax: Axes, text: str) -> None:
    """A centred message on an empty axes (e.g. 'no perk spend in this run')."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])
