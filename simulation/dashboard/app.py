"""The training dashboard: a Mesa SolaraViz page over :class:`TrainingSession`.

Started by ``opmatrix dashboard`` as ``solara run simulation.dashboard.app:Page``; the CLI
passes the scenario file, ``--set`` overrides and seed in environment variables (the only way
into a page that Solara builds per browser session), read when a page opens — not at import.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import solara
from matplotlib.figure import Figure
from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter

from simulation import kpis
from simulation.dashboard.charts import (
    conversion_cpa_chart,
    funnel_chart,
    network_chart,
    retention_chart,
)
from simulation.dashboard.levers import COMPARE_OFF, comparable, levers_for
from simulation.dashboard.session import TrainingSession
from simulation.scenario.load import load_scenario
from simulation.strategies.registry import Scenario

ENV_SCENARIO = "OPMATRIX_DASHBOARD_SCENARIO"
ENV_OVERRIDES = "OPMATRIX_DASHBOARD_SET"
ENV_SEED = "OPMATRIX_DASHBOARD_SEED"
DEFAULT_SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "quickstart.yaml"

CELL = "text-align:right;padding:1px 10px"
#: (label, KPI key, format) rows of the KPI panel: the day, then the registry's dashboard KPIs.
KPI_ROWS: tuple[tuple[str, str, str], ...] = (
    ("day", "day", "int"),
    *((k.label, k.name, k.format) for k in kpis.in_group("dashboard")),
)


def base_scenario() -> tuple[Scenario, int]:
    """The scenario and seed the CLI asked for (quickstart and seed 0 by default)."""
    path = os.environ.get(ENV_SCENARIO) or str(DEFAULT_SCENARIO)
    overrides = json.loads(os.environ.get(ENV_OVERRIDES) or "[]")
    return load_scenario(path, overrides), int(os.environ.get(ENV_SEED) or 0)


def model_params(base: Scenario, seed: int) -> dict[str, Any]:
    """SolaraViz ``model_params``: fixed base scenario, seed, A-vs-B choice, then the levers."""
    levers = levers_for(base)
    params: dict[str, Any] = {
        "base": base,
        "seed": {"type": "SliderInt", "label": "seed (A and B share it)", "value": seed,
                 "min": 0, "max": 99, "step": 1},
        "compare": {"type": "Select", "label": "strategy B = A with this lever changed",
                    "value": COMPARE_OFF, "values": [COMPARE_OFF, *comparable(levers)]},
        "compare_factor": {"type": "SliderFloat", "label": "B: lever multiplied by",
                           "value": 2.0, "min": 0.0, "max": 5.0, "step": 0.1},
    }
    params.update({lv.key: lv.param() for lv in levers})
    return params


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "pct":
        return f"{100 * value:.2f}%"
    if kind == "money":
        return f"¥{value:,.0f}" if abs(value) >= 100 else f"¥{value:,.2f}"
    return f"{int(value):,}"


def kpi_html(session: TrainingSession) -> str:
    """The KPI table; each value cell carries ``data-kpi``/``data-strategy`` for tests and
    screen readers."""
    table = session.kpis()
    head = "".join(f'<th style="{CELL}">{html.escape(k)}</th>' for k in table)
    rows = []
    for label, key, kind in KPI_ROWS:
        cells = "".join(
            f'<td data-kpi="{key}" data-strategy="{k}" style="{CELL}">'
            f"{_fmt(v.get(key), kind)}</td>"
            for k, v in table.items()
        )
        rows.append(f'<tr><td style="padding:1px 12px 1px 0">{html.escape(label)}</td>{cells}</tr>')
    caption = f"B = A with {html.escape(session.compare_label)}" if session.compare_label else ""
    changed = session.changed_levers()
    if changed:
        caption += ("<br>" if caption else "") + "A: " + html.escape(
            ", ".join(f"{label} = {value:g}" if not isinstance(value, bool) else
                      f"{label} = {'on' if value else 'off'}" for label, value in changed)
        )
    return (
        '<div class="opmatrix-kpis"><table style="border-collapse:collapse;font-size:14px">'
        f"<caption style='text-align:left;caption-side:top;padding-bottom:4px'>{caption}"
        "</caption>"
        f"<tr><th>KPI · day {session.day} of {session.horizon}</th>{head}</tr>"
        + "".join(rows)
        + "</table></div>"
    )


@solara.component
def KpiPanel(model: TrainingSession) -> None:
    update_counter.get()
    for message in model.messages:
        solara.Warning(message)
    solara.Markdown(
        "Move a lever, then **Reset** to apply it; **▶** plays, **Step** advances "
        "(render interval) days. Strategy B, when chosen, runs on the same seed."
    )
    solara.HTML(tag="div", unsafe_innerHTML=kpi_html(model))


def chart(fn: Callable[[TrainingSession], Figure], title: str) -> Any:
    """A SolaraViz component that redraws ``fn`` only when the day or the session changes."""

    @solara.component
    def Chart(model: TrainingSession) -> None:
        update_counter.get()
        key = [id(model), model.day]
        fig = solara.use_memo(lambda: fn(model), dependencies=key)
        with solara.Column(classes=[f"opmatrix-chart-{title}"]):
            solara.FigureMatplotlib(fig, format="png", dependencies=key)

    Chart.__name__ = f"{title.title()}Chart"
    return Chart


COMPONENTS = [
    (KpiPanel, 0),
    (chart(funnel_chart, "funnel"), 0),
    (chart(conversion_cpa_chart, "conversion"), 0),
    (chart(retention_chart, "retention"), 0),
    (chart(network_chart, "network"), 1),
]


@solara.component
def Page() -> None:
    """One browser session: its own TrainingSession built from the CLI's scenario."""
    base, seed = solara.use_memo(base_scenario, dependencies=[])
    params = solara.use_memo(lambda: model_params(base, seed), dependencies=[])
    model = solara.use_memo(lambda: TrainingSession(base=base, seed=seed), dependencies=[])
    SolaraViz(
        model,
        components=COMPONENTS,
        model_params=params,
        name=f"opmatrix · {base.name}",
        play_interval=50,
        render_interval=5,
    )
