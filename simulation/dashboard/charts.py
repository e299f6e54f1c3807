"""Live dashboard charts: plain matplotlib ``Figure`` objects (no pyplot, so they are safe in
the server's worker threads), strategy A solid and strategy B dashed in every panel."""

from __future__ import annotations

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from simulation.dashboard.session import TrainingSession
from simulation.plots.style import STAGE_COLOURS, yuan
from simulation.population.stages import STAGE_NAMES, Stage

STRATEGY_STYLE = {"A": {"color": "#1f77b4", "ls": "-"}, "B": {"color": "#d62728", "ls": "--"}}
#: Funnel bars: prospects, then customers won, then the ones being lost.
FUNNEL_BARS: tuple[tuple[str, tuple[Stage, ...]], ...] = (
    ("unaware", (Stage.UNAWARE,)),
    ("aware", (Stage.AWARE,)),
    ("engaged (private domain)", (Stage.ENGAGED,)),
    ("customers (active)", (Stage.CONVERTED, Stage.ACTIVE)),
    ("at risk", (Stage.AT_RISK,)),
    ("dormant", (Stage.DORMANT,)),
    ("churned", (Stage.CHURNED,)),
)


def _figure(width: float = 6.0, height: float = 3.6) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def _label(session: TrainingSession, which: str) -> str:
    if which == "B":
        return f"B: {session.compare_label}"
    return "A" if len(session.strategies) > 1 else "strategy"


def funnel_chart(session: TrainingSession) -> Figure:
    """Customers per lifecycle stage today, A and B side by side."""
    fig = _figure(6.0, 3.8)
    ax = fig.subplots()
    names = [n for n, _ in FUNNEL_BARS]
    y = np.arange(len(names))[::-1]
    n_strat = len(session.strategies)
    h = 0.8 / n_strat
    for i, which in enumerate(session.strategies):
        counts = session.stage_counts(which)
        values = np.array([counts[list(codes)].sum() for _, codes in FUNNEL_BARS])
        offset = (n_strat - 1) / 2 * h - i * h
        bars = ax.barh(y + offset, values, height=h, color=STRATEGY_STYLE[which]["color"],
                       alpha=0.85 if which == "A" else 0.6, label=_label(session, which))
        ax.bar_label(bars, labels=[f"{int(v):,}" for v in values], fontsize=7, padding=2)
    ax.set_yticks(y, names, fontsize=8)
    ax.set_xlabel("customers")
    ax.set_xlim(0, max(1.0, ax.get_xlim()[1] * 1.15))
    ax.set_title(f"Funnel on day {session.day}", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    return fig


def conversion_cpa_chart(session: TrainingSession) -> Figure:
    """Conversion of day-0 prospects (%) and cost per acquisition (¥) over the days so far."""
    fig = _figure(6.0, 3.8)
    ax_c, ax_p = fig.subplots(1, 2)
    for which in session.strategies:
        s = session.series(which)
        style = STRATEGY_STYLE[which]
        ax_c.plot(s["day"], s["conversion_pct"], **style, label=_label(session, which))
        ax_p.plot(s["day"], s["cpa"], **style, label=_label(session, which))
    ax_c.set_ylim(bottom=0, top=max(ax_c.get_ylim()[1], 0.5))
    ax_c.set_title("Conversion", fontsize=10)
    ax_c.set_ylabel("converted (% of day-0 prospects)", fontsize=8)
    ax_c.yaxis.set_major_formatter(PercentFormatter(decimals=1))
    ax_p.set_title("Cost per acquisition", fontsize=10)
    ax_p.set_ylabel("CPA (¥)", fontsize=8)
    ax_p.yaxis.set_major_formatter(FuncFormatter(yuan))
    for ax in (ax_c, ax_p):
        ax.set_xlabel("day", fontsize=8)
        ax.set_xlim(0, max(session.day, 1))
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    ax_c.legend(fontsize=7, loc="upper left")
    return fig


def retention_chart(session: TrainingSession) -> Figure:
    """Retention by days since conversion (stock customers included)."""
    fig = _figure(6.0, 3.6)
    ax = fig.subplots()
    for which in session.strategies:
        curve = session.retention(which)
        ax.plot(np.arange(curve.size), curve, **STRATEGY_STYLE[which], label=_label(session, which))
    ax.set_ylim(0, 102)
    ax.set_xlim(0, max(session.day, 1))
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.set_xlabel("days since conversion")
    ax.set_ylabel("not churned (%)")
    ax.set_title(f"Retention by customer age (day {session.day})", fontsize=10)
    ax.legend(fontsize=7, loc="lower left")
    ax.grid(alpha=0.3)
    return fig


def network_chart(session: TrainingSession) -> Figure:
    """The sampled social network coloured by each customer's stage today, per strategy."""
    n_strat = len(session.strategies)
    fig = _figure(4.2 * n_strat + 1.6, 4.0)
    axes = np.atleast_1d(fig.subplots(1, n_strat))
    nodes = session.network_sample
    pos = session.network_layout
    xy = np.array([pos[int(v)] for v in nodes]) if nodes.size else np.zeros((0, 2))
    a = session.strategies["A"]
    edges = []
    if not a.network.is_complete and nodes.size:
        inside = np.zeros(a.population.n, dtype=bool)
        inside[nodes] = True
        owner, nb = a.network.neighbours_of(nodes)
        src = nodes[owner]
        keep = inside[nb] & (src < nb)
        edges = [(pos[int(s)], pos[int(t)]) for s, t in zip(src[keep], nb[keep], strict=True)]
    for ax, which in zip(axes, session.strategies, strict=True):
        stage = session.strategies[which].population.stage[nodes]
        if edges:
            ax.add_collection(LineCollection(edges, colors="0.75", linewidths=0.3, zorder=1))
        for code, name in enumerate(STAGE_NAMES):
            sel = stage == code
            if sel.any():
                ax.scatter(xy[sel, 0], xy[sel, 1], s=12, color=STAGE_COLOURS[name],
                           edgecolors="0.3", linewidths=0.2, label=name, zorder=2)
        ax.set_axis_off()
        ax.set_title(f"{_label(session, which)} · day {session.day}", fontsize=9)
    handles, labels = [], []
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    order = [labels.index(n) for n in STAGE_NAMES if n in labels]
    fig.legend([handles[i] for i in order], [labels[i] for i in order], loc="outside right upper",
               fontsize=7, title="stage")
    fig.suptitle(f"Social network: {nodes.size} sampled customers", fontsize=10)
    return fig
