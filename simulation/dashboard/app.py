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
from mesa.visualization.solara_viz import ModelController, ModelCreator, ShowSteps
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
from simulation.formatting import fmt
from simulation.i18n import kpi_label, set_lang, tr
from simulation.incremental import EXPLANATION
from simulation.plots.localise import localise
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
        "seed": {"type": "SliderInt", "label": tr("seed (A and B share it)"), "value": seed,
                 "min": 0, "max": 99, "step": 1},
        "compare": {"type": "Select", "label": tr("strategy B = A with this lever changed"),
                    "value": COMPARE_OFF, "values": [COMPARE_OFF, *comparable(levers)]},
        "compare_factor": {"type": "SliderFloat", "label": tr("B: lever multiplied by"),
                           "value": 2.0, "min": 0.0, "max": 5.0, "step": 0.1},
    }
    for lv in levers:
        spec = lv.param()
        spec["label"] = lever_label(spec.get("label", lv.key))
        params[lv.key] = spec
    return params


def lever_label(label: str) -> str:
    """A lever's label in the interface language: ``<name>: <what>`` keeps the channel or
    section name the scenario chose and translates what the lever does."""
    name, sep, what = label.rpartition(": ")
    if not sep:
        return tr(label)
    if tr(what) == what:
        return label
    return f"{tr(name)}：{tr(what)}"


def _fmt(value: Any, kind: str) -> str:
    """A KPI cell as the CLI and the reports print it (one minus sign: "−¥1,234", "−67.20%";
    this printed "¥-1,234" and "-67.20%")."""
    if value is None:
        return "—"
    if kind in ("pct", "money"):
        return fmt(value, kind, 2)
    return fmt(int(value), "int")


def kpi_html(session: TrainingSession) -> str:
    """The KPI table; each value cell carries ``data-kpi``/``data-strategy`` for tests and
    screen readers."""
    table = session.kpis()
    head = "".join(f'<th style="{CELL}">{html.escape(k)}</th>' for k in table)
    rows = []
    for _label, key, kind in KPI_ROWS:
        label = tr("day") if key == "day" else kpi_label(key)
        cells = "".join(
            f'<td data-kpi="{key}" data-strategy="{k}" style="{CELL}">'
            f"{_fmt(v.get(key), kind)}</td>"
            for k, v in table.items()
        )
        rows.append(f'<tr><td style="padding:1px 12px 1px 0">{html.escape(label)}</td>{cells}</tr>')
    caption = (tr("B = A with {lever}", lever=html.escape(session.compare_label))
               if session.compare_label else "")
    changed = session.changed_levers()
    if changed:
        caption += ("<br>" if caption else "") + "A: " + html.escape(
            ", ".join(f"{label} = {value:g}" if not isinstance(value, bool) else
                      f"{label} = {'on' if value else 'off'}" for label, value in changed)
        )
    note = (
        f"<tr><td colspan='{len(table) + 1}' style='font-size:11px;color:#555;"
        f"padding-top:4px'>{html.escape(EXPLANATION)}</td></tr>"
    )
    return (
        '<div class="opmatrix-kpis"><table style="border-collapse:collapse;font-size:14px">'
        f"<caption style='text-align:left;caption-side:top;padding-bottom:4px'>{caption}"
        "</caption>"
        f"<tr><th>{tr('KPI · day {day} of {days}', day=session.day, days=session.horizon)}"
        f"</th>{head}</tr>"
        + "".join(rows)
        + note
        + "</table></div>"
    )


@solara.component
def KpiPanel(model: TrainingSession) -> None:
    update_counter.get()
    for message in model.messages:
        solara.Warning(message)
    solara.Markdown(tr(
        "Move a lever, then **Reset** to apply it; **▶** plays, **Step** advances "
        "{days} days. Strategy B, when chosen, runs on the same seed.", days=RENDER_INTERVAL
    ))
    solara.HTML(tag="div", unsafe_innerHTML=kpi_html(model))


def chart(fn: Callable[[TrainingSession], Figure], title: str) -> Any:
    """A SolaraViz component that redraws ``fn`` only when the day or the session changes."""

    @solara.component
    def Chart(model: TrainingSession) -> None:
        update_counter.get()
        key = [id(model), model.day]
        fig = solara.use_memo(lambda: localise(fn(model)), dependencies=key)
        with solara.Column(classes=[f"opmatrix-chart-{title}"]):
            solara.FigureMatplotlib(fig, format="png", dependencies=key)

    Chart.__name__ = f"{title.title()}Chart"
    return Chart


#: Days one Step (and one redraw while playing) advances: a training group watches weeks go by,
#: not single days. Fixed, so Mesa's "Render Interval" slider is not shown.
RENDER_INTERVAL = 5

#: (tab title, components) in tab order.
TABS: tuple[tuple[str, tuple[Any, ...]], ...] = (
    ("Strategy and KPIs", (KpiPanel, chart(funnel_chart, "funnel"),
                           chart(conversion_cpa_chart, "conversion"),
                           chart(retention_chart, "retention"))),
    ("Social network", (chart(network_chart, "network"),)),
)
#: The (component, page) list in Mesa's SolaraViz format (page = tab index).
COMPONENTS = [(c, i) for i, (_title, comps) in enumerate(TABS) for c in comps]


@solara.component
def TrainingViz(model: TrainingSession, model_params: dict[str, Any], name: str) -> None:
    """Mesa's SolaraViz layout for a training room: the same model controller (Reset, ▶,
    Step) and lever form, named tabs instead of "Page 0 / Page 1", and none of the developer
    controls a trainer does not need (Mesa's "Use Threads" and "Render Interval": the model is
    stepped on one thread, :data:`RENDER_INTERVAL` days per redraw)."""
    reactive_model = solara.use_reactive(model)
    parameters = solara.use_reactive({})
    play_interval = solara.use_reactive(50)
    render_interval = solara.use_reactive(RENDER_INTERVAL)  # Mesa's controller reads .value
    use_threads = solara.use_reactive(False)
    with solara.AppBar():
        solara.AppBarTitle(name)
    with solara.Sidebar(), solara.Column():
        with solara.Card(tr("Run")):
            solara.SliderInt(label=tr("Play speed: pause between steps (ms)"),
                             value=play_interval, min=1, max=500, step=10)
            solara.Text(tr("Each step advances {days} days; the charts redraw after each.",
                           days=RENDER_INTERVAL), style={"font-size": "0.85em"})
            ModelController(reactive_model, model_parameters=parameters,
                            play_interval=play_interval, render_interval=render_interval,
                            use_threads=use_threads)
        with solara.Card(tr("Levers")):
            ModelCreator(reactive_model, model_params, model_parameters=parameters)
        with solara.Card(tr("Information")):
            ShowSteps(reactive_model.value)
    with solara.lab.Tabs():
        for title, comps in TABS:
            with solara.lab.Tab(tr(title)), solara.Column():
                for comp in comps:
                    comp(reactive_model.value)


@solara.component
def Page() -> None:
    """One browser session: its own TrainingSession built from the CLI's scenario."""
    set_lang(os.environ.get("OPMATRIX_LANG"))
    base, seed = solara.use_memo(base_scenario, dependencies=[])
    params = solara.use_memo(lambda: model_params(base, seed), dependencies=[])
    model = solara.use_memo(lambda: TrainingSession(base=base, seed=seed), dependencies=[])
    TrainingViz(model, params, f"opmatrix · {base.name}")
