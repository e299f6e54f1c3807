"""Figures of one run. Each function takes a RunResult (the network snapshot: a model) and
returns a matplotlib Figure; callers save or embed it.

Figures a run's data cannot support (e.g. a results folder written before ring counts were
recorded) raise :class:`FigureUnavailable` with the reason, so a report can skip them politely.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from simulation.accounting import PRODUCT_CATEGORY, PRODUCT_ITEMS
from simulation.plots.style import (
    CATEGORY_COLOURS,
    PALETTE,
    RING_COLOURS,
    STAGE_COLOURS,
    money_axis,
    new_figure,
    note,
    percent_axis,
    save,
    yuan,
)
from simulation.population.stages import STAGE_NAMES
from simulation.result import RunResult

if TYPE_CHECKING:
    from simulation.model import OperatingMatrixModel

#: Funnel steps a channel may record in the ledger, in funnel order, with their axis labels.
FUNNEL_STEPS: tuple[tuple[str, str], ...] = (
    ("reach", "reached"),
    ("contacts", "contacted"),
    ("engaged", "engaged (private domain)"),
    ("leads", "leads"),
    ("screened_in", "screened in"),
    ("conversions", "converted"),
)
#: The step each funnel step is a share of: engaged, leads and conversions all come from
#: contacts (a contact may convert directly), screening from leads.
FUNNEL_PARENT = {
    "contacts": "reach",
    "engaged": "contacts",
    "leads": "contacts",
    "screened_in": "leads",
    "conversions": "contacts",
}
RING_COLUMNS = ("ring_outer", "ring_middle", "ring_inner")


class FigureUnavailable(ValueError):
    """The run's tables do not hold what this figure needs (the message says what)."""


def _title(result: RunResult) -> str:
    name = result.provenance.get("scenario", {}).get("name", "")
    return f"{name} — seed {result.provenance.get('seed')}"


# ------------------------------------------------------------------------------------ funnel


def _compact(value: float, _pos: int | None = None) -> str:
    """Axis counts that never run into each other: 950, 12k, 1.2M."""
    if abs(value) >= 1e6:
        return f"{value / 1e6:g}M"
    if abs(value) >= 1e3:
        return f"{value / 1e3:g}k"
    return f"{value:g}"


def funnel_table(ledger: pd.DataFrame) -> pd.DataFrame:
    """Totals of each funnel step per channel (rows: items with contacts or reach)."""
    steps = [s for s, _ in FUNNEL_STEPS if s in ledger.columns]
    if not steps or not {"reach", "contacts"} & set(steps):
        return pd.DataFrame(columns=["item", "spend", *steps])
    totals = ledger.groupby("item", sort=False)[["spend", *steps]].sum()
    entry = totals[[s for s in ("reach", "contacts") if s in steps]].max(axis=1)
    totals = totals[entry > 0].sort_values("spend", ascending=False)
    return totals.reset_index()


def funnel_by_channel(result: RunResult) -> Figure:
    """One small funnel per channel: reach → contact → engaged → converted, with the share of
    the previous step kept, so a trainer sees where each channel leaks."""
    table = funnel_table(result.ledger)
    if table.empty:
        raise FigureUnavailable("the ledger records no channel contacts")
    steps = [(s, label) for s, label in FUNNEL_STEPS if s in table.columns]
    n = len(table)
    ncols = min(3, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = new_figure(nrows, ncols, width=4.3 * ncols, height=0.5 + 2.3 * nrows)
    axes = np.atleast_1d(axes).ravel()
    for ax, (_, row) in zip(axes, table.iterrows(), strict=False):
        shown = [(s, label) for s, label in steps if row[s] > 0 or s == "conversions"]
        values = np.array([float(row[s]) for s, _ in shown])
        ypos = np.arange(len(shown))[::-1]
        colours = [PALETTE[i % len(PALETTE)] for i in range(len(shown))]
        ax.barh(ypos, values, color=colours, height=0.7)
        top = max(float(values.max()), 1.0)
        labels = dict(steps)
        for (step, _), y, v in zip(shown, ypos, values, strict=True):
            text = f"{int(v):,}"
            parent = FUNNEL_PARENT.get(step)
            if parent in row.index and row[parent] > 0 and parent != step:
                short = labels[parent].split(" (")[0]
                text += f"  ({100 * v / float(row[parent]):.3g}% of {short})"
            ax.text(v + 0.02 * top, y, text, va="center", fontsize=8)
        ax.set_yticks(ypos, [label for _, label in shown], fontsize=8)
        ax.set_xlim(0, top * 2.2)
        ax.set_xlabel("customers (sum over the horizon)", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.xaxis.set_major_formatter(FuncFormatter(_compact))
        won = float(row.get("conversions", 0))
        cpa = f"CPA {yuan(row['spend'] / won)}" if won > 0 else "no conversions"
        ax.set_title(f"{row['item']}\n{yuan(row['spend'])} spent · {cpa}", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.suptitle(f"Funnel by channel (% = share of the step it comes from) · {_title(result)}")
    return fig


# ------------------------------------------------------------------- conversion and retention


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
        percent_axis(ax)
    handles, labels = ax_c.get_legend_handles_labels()
    if not handles:
        handles, labels = ax_r.get_legend_handles_labels()
    ax_r.legend(handles, labels, title="segment", loc="lower left", fontsize=8)
    fig.suptitle(_title(result))
    return fig


# ----------------------------------------------------------------------------------- costs


def categorised(ledger: pd.DataFrame) -> pd.DataFrame:
    """The ledger with each item under the category it is shown under
    (:func:`~simulation.accounting.ledger_category`: a product cost that a run stored before the
    ``product`` category existed is shown as a product, not as ``other``)."""
    if ledger.empty or "category" not in ledger.columns:
        return ledger
    stale = ledger["item"].isin(PRODUCT_ITEMS) & (ledger["category"] == "other")
    if not stale.any():
        return ledger
    out = ledger.copy()
    out["category"] = out["category"].astype(object)
    out.loc[stale, "category"] = PRODUCT_CATEGORY
    return out


def cost_table(result: RunResult) -> pd.DataFrame:
    """Spend, acquisitions and CPA per ledger item (channel, perk, referral …), largest first.

    ``cpa`` is the item's own (spend ÷ the customers it won), ``NaN`` when it won none;
    ``cpa_part`` is its part of the run's CPA (spend ÷ all acquisitions): the parts add up to
    the CPA. A product cost (category ``product``: cards, loans) wins no one by itself, so only
    its part of the CPA says what it costs per customer won."""
    ledger = categorised(result.ledger)
    if ledger.empty or "spend" not in ledger.columns:
        return pd.DataFrame(
            columns=["item", "category", "spend", "acquisitions", "cpa", "cpa_part"]
        )
    table = ledger.groupby(["item", "category"], sort=False)["spend"].sum().reset_index()
    by_source = result.summary.get("acquisitions_by_source", {})
    table["acquisitions"] = [int(by_source.get(i, 0)) for i in table["item"]]
    with np.errstate(divide="ignore", invalid="ignore"):
        table["cpa"] = np.where(
            table["acquisitions"] > 0, table["spend"] / table["acquisitions"].clip(lower=1), np.nan
        )
    won = float(result.summary.get("acquisitions") or 0)
    table["cpa_part"] = table["spend"] / won if won > 0 else np.nan
    return table.sort_values("spend", ascending=False, ignore_index=True)


def _cost_label(row, cpa: float | None) -> str:
    """The text beside one bar: spend, then what it bought (a lever: the customers it won and
    its own CPA; a product cost: its part of the run's CPA)."""
    spend = yuan(row.spend)
    if row.category == PRODUCT_CATEGORY:
        if cpa is None or not np.isfinite(row.cpa_part):
            return f"{spend} · product cost"
        return f"{spend} · product cost: {yuan(row.cpa_part)} of the {yuan(cpa)} CPA"
    if row.acquisitions > 0:
        return f"{spend} · {row.acquisitions:,} won · CPA {yuan(row.cpa)}"
    return f"{spend} · none won"


def cost_breakdown(result: RunResult) -> Figure:
    """Left: spend per item coloured by category (channel / perk / referral … / product) with
    the customers it won and its CPA (a product cost: its part of the run's CPA). Right:
    cumulative spend per category over the horizon."""
    table = cost_table(result)
    table = table[table["spend"] > 0]
    fig, (ax_b, ax_t) = new_figure(1, 2, width=12.0, height=0.9 + max(3.0, 0.42 * len(table)))
    if table.empty:
        note(ax_b, "no spend recorded in this run")
        note(ax_t, "no spend recorded in this run")
        fig.suptitle(f"Cost breakdown · {_title(result)}")
        return fig
    cpa = result.summary.get("cost_per_acquisition")
    ypos = np.arange(len(table))[::-1]
    colours = [CATEGORY_COLOURS.get(c, CATEGORY_COLOURS["other"]) for c in table["category"]]
    ax_b.barh(ypos, table["spend"], color=colours, height=0.7)
    top = float(table["spend"].max())
    for y, row in zip(ypos, table.itertuples(), strict=True):
        ax_b.text(row.spend + 0.02 * top, y, _cost_label(row, cpa), va="center", fontsize=8)
    ax_b.set_yticks(ypos, table["item"], fontsize=9)
    ax_b.set_xlim(0, top * 1.9)
    money_axis(ax_b, "x")
    ax_b.set_xlabel("spend over the horizon (¥)")
    ax_b.set_title("Spend by item")
    ax_b.grid(axis="x", alpha=0.3)
    cats = list(dict.fromkeys(table["category"]))
    colour_of = {c: CATEGORY_COLOURS.get(c, CATEGORY_COLOURS["other"]) for c in cats}
    ax_b.legend(
        handles=[Patch(color=colour_of[c], label=c) for c in cats],
        title="category",
        loc="lower right",
        fontsize=8,
    )
    per_day = (
        categorised(result.ledger).groupby(["day", "category"])["spend"].sum()
        .unstack(fill_value=0.0)
    )
    days = np.arange(int(result.daily["day"].max()) + 1)
    per_day = per_day.reindex(days, fill_value=0.0).cumsum()
    for c in cats:
        ax_t.plot(days, per_day[c], color=CATEGORY_COLOURS.get(c, "0.5"), label=c)
    ax_t.plot(days, per_day[cats].sum(axis=1), color="black", ls="--", lw=1, label="total")
    money_axis(ax_t)
    ax_t.set_xlabel("day")
    ax_t.set_ylabel("cumulative spend (¥)")
    ax_t.set_title("Spend over time by category")
    ax_t.grid(alpha=0.3)
    ax_t.legend(fontsize=8, loc="upper left")
    fig.suptitle(f"Cost breakdown · {_title(result)}")
    return fig


# ------------------------------------------------------------------------------------ rings


def ring_migration(result: RunResult) -> Figure:
    """Left: share of won customers in the outer / middle / inner ring ([004]) over time —
    operations succeed when the inner band grows. Right: ring mix per segment, first vs last day."""
    daily = result.daily
    missing = [c for c in RING_COLUMNS if c not in daily.columns]
    if missing:
        raise FigureUnavailable(f"the daily table has no ring counts ({', '.join(missing)})")
    total = daily.groupby("day")[list(RING_COLUMNS)].sum()
    n = total.sum(axis=1).replace(0, np.nan)
    share = 100.0 * total.div(n, axis=0)
    fig, (ax_s, ax_b) = new_figure(1, 2, width=12.0, height=4.4)
    names = [c.removeprefix("ring_") for c in RING_COLUMNS]
    ax_s.stackplot(
        share.index,
        *(share[c].fillna(0.0) for c in RING_COLUMNS),
        labels=names,
        colors=[RING_COLOURS[r] for r in names],
    )
    ax_s.set_xlim(share.index.min(), share.index.max())
    ax_s.set_ylim(0, 100)
    percent_axis(ax_s)
    ax_s.set_xlabel("day")
    ax_s.set_ylabel("share of won customers (%)")
    ax_s.set_title("Ring mix over time (outer → inner)")
    ax_s.legend(loc="lower left", fontsize=8, title="ring")
    first, last = int(daily["day"].min()), int(daily["day"].max())
    by_seg = daily[daily["day"].isin((first, last))].groupby(["segment", "day"], observed=True)[
        list(RING_COLUMNS)
    ].sum()
    segs = list(dict.fromkeys(daily["segment"].astype(str)))
    y = np.arange(len(segs))[::-1]
    h = 0.38
    for off, d, hatch in ((h / 2, first, "//"), (-h / 2, last, "")):
        left = np.zeros(len(segs))
        rows = by_seg.xs(d, level="day").reindex(segs, fill_value=0)
        sums = rows.sum(axis=1).replace(0, np.nan).to_numpy()
        for c, r in zip(RING_COLUMNS, names, strict=True):
            pct = np.nan_to_num(100.0 * rows[c].to_numpy() / sums)
            ax_b.barh(y + off, pct, left=left, height=h, color=RING_COLOURS[r], hatch=hatch,
                      edgecolor="white", linewidth=0.5)
            left += pct
    ax_b.set_yticks(y, segs, fontsize=9)
    ax_b.set_xlim(0, 100)
    percent_axis(ax_b, "x")
    ax_b.set_xlabel("share of the segment's won customers (%)")
    ax_b.set_title(f"Ring mix per segment: day {first} (hatched, upper) vs day {last}")
    fig.suptitle(f"Ring migration · {_title(result)}")
    return fig


def money_over_time(result: RunResult) -> Figure:
    """Left: AUM and loans outstanding over time (money is state). Right: cumulative value by
    ledger item — margins, fees and interest up, credit losses down (value is a flow) — beside
    cumulative spend, with the attributed and incremental CPA in the title."""
    daily = result.daily
    ledger = result.ledger
    if "aum" not in daily.columns or "value" not in ledger.columns or not (
        (daily["aum"] > 0).any() or (daily.get("loans_outstanding", 0) > 0).any()
    ):
        raise FigureUnavailable("the run has no money (no money section in the scenario)")
    fig, (ax_s, ax_v) = new_figure(1, 2, width=12.0, height=4.4)
    state = daily.groupby("day")[["aum", "loans_outstanding"]].sum()
    for col, label in (("aum", "AUM (savings + payroll pool)"), ("loans_outstanding",
                                                                  "loans outstanding")):
        if (state[col] > 0).any():
            ax_s.plot(state.index, state[col], label=label)
    ax_s.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: yuan(v)))
    ax_s.set_xlabel("day")
    ax_s.set_ylabel("yuan")
    ax_s.set_title("Money held at the bank")
    ax_s.legend(fontsize=8)
    value = ledger[ledger["value"] != 0].groupby(["day", "item"])["value"].sum().unstack(
        fill_value=0.0).sort_index().cumsum()
    for item in value.columns:
        ax_v.plot(value.index, value[item], label=item.replace("_", " "))
    spend = ledger.groupby("day")["spend"].sum().sort_index().cumsum()
    ax_v.plot(spend.index, spend, color="black", linestyle="--", label="spend (cumulative)")
    ax_v.axhline(0, color="grey", linewidth=0.5)
    ax_v.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: yuan(v)))
    ax_v.set_xlabel("day")
    ax_v.set_ylabel("cumulative yuan")
    s = result.summary
    cpa = s.get("cost_per_acquisition")
    inc = s.get("incremental_cpa")
    att = s.get("attributed_cpa")
    parts = [f"CPA {yuan(cpa)}" if cpa else None,
             f"attributed {yuan(att)}" if att else None,
             f"incremental {yuan(inc)}" if inc else None]
    ax_v.set_title("Value by ledger item vs spend · " + " · ".join(p for p in parts if p),
                   fontsize=9)
    ax_v.legend(fontsize=7, ncol=2)
    fig.suptitle(f"Money · {_title(result)}")
    return fig


# ---------------------------------------------------------------------------------- network


def sample_network(model: OperatingMatrixModel, max_nodes: int, seed: int = 0) -> nx.Graph:
    """A snowball sample (whole neighbourhoods around a few random customers) of at most
    ``max_nodes`` customers, so the drawing shows real ties rather than isolated dots.

    The sampler has its own generator: drawing never consumes the model's random streams.
    """
    net = model.network
    n = model.population.n
    rng = np.random.default_rng(seed)
    if net.is_complete or n <= max_nodes:
        nodes = np.sort(rng.choice(n, size=min(n, max_nodes), replace=False))
    else:
        chosen: dict[int, None] = {}
        frontier: list[int] = []
        order = rng.permutation(n)
        next_start = 0
        while len(chosen) < max_nodes:
            if not frontier:
                start = int(order[next_start])
                next_start += 1
                if start in chosen:
                    continue
                chosen[start] = None
                frontier.append(start)
                continue
            node = frontier.pop(0)
            for nb in net.neighbours(node).tolist():
                if nb not in chosen and len(chosen) < max_nodes:
                    chosen[nb] = None
                    frontier.append(nb)
        nodes = np.array(sorted(chosen), dtype=np.int64)
    g = nx.Graph()
    g.add_nodes_from(nodes.tolist())
    if not net.is_complete:
        inside = np.zeros(n, dtype=bool)
        inside[nodes] = True
        owner, nb = net.neighbours_of(nodes)
        src = nodes[owner]
        keep = inside[nb] & (src < nb)
        g.add_edges_from(zip(src[keep].tolist(), nb[keep].tolist(), strict=True))
    return g


def network_snapshot(
    model: OperatingMatrixModel, max_nodes: int = 400, layout: dict | None = None
) -> Figure:
    """The social graph around a sample of customers, coloured by lifecycle stage today.

    ``layout`` (node → (x, y)) lets a live view keep positions fixed from day to day.
    """
    g = sample_network(model, max_nodes)
    pos = layout if layout is not None else nx.spring_layout(g, seed=1, iterations=40)
    nodes = np.array(list(g.nodes()), dtype=np.int64)
    stage = model.population.stage[nodes]
    fig, ax = new_figure(1, 1, width=7.5, height=6.2)
    if g.number_of_edges():
        nx.draw_networkx_edges(g, pos, ax=ax, width=0.4, alpha=0.35, edge_color="0.5")
    xy = np.array([pos[v] for v in nodes.tolist()])
    counts = np.bincount(stage, minlength=len(STAGE_NAMES))
    for code, name in enumerate(STAGE_NAMES):
        sel = stage == code
        if sel.any():
            ax.scatter(xy[sel, 0], xy[sel, 1], s=18, color=STAGE_COLOURS[name],
                       edgecolors="0.3", linewidths=0.3, label=f"{name} ({counts[code]})", zorder=2)
    ax.set_axis_off()
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, title="stage (sampled)")
    kind = "well-mixed graph: ties not drawn" if model.network.is_complete else "snowball sample"
    ax.set_title(
        f"Social network on day {model.day}: {len(nodes):,} of {model.population.n:,} customers "
        f"({kind})",
        fontsize=10,
    )
    return fig


# ---------------------------------------------------------------------------------- saving

RUN_FIGURES: dict[str, Callable[[RunResult], Figure]] = {
    "conversion_retention": conversion_retention,
    "funnel_by_channel": funnel_by_channel,
    "cost_breakdown": cost_breakdown,
    "ring_migration": ring_migration,
    "money": money_over_time,
}


def run_figures(result: RunResult) -> dict[str, Figure]:
    """Every per-run figure the result's tables support, by name."""
    out: dict[str, Figure] = {}
    for name, fn in RUN_FIGURES.items():
        try:
            out[name] = fn(result)
        except FigureUnavailable:
            continue
    return out


def save_run_figures(result: RunResult, out: Path) -> list[Path]:
    """Render every per-run figure into ``out`` as PNG; returns the paths."""
    paths = []
    for name, fig in run_figures(result).items():
        path = Path(out) / f"{name}.png"
        save(fig, path)
        paths.append(path)
    return paths
