"""Report of one run folder written by ``opmatrix run`` (summary.json + Parquet tables).

The network snapshot needs the model itself, which a run folder does not hold; every run is a
pure function of (scenario, seed), so the report re-simulates it from the recorded scenario and
seed, and says whether the re-run reproduces the recorded KPIs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from simulation.accounting import PRODUCT_CATEGORY
from simulation.errors import ScenarioError
from simulation.kpis import in_group
from simulation.plots.run_plots import (
    FigureUnavailable,
    conversion_retention,
    cost_breakdown,
    cost_table,
    funnel_by_channel,
    money_over_time,
    network_snapshot,
    ring_migration,
)
from simulation.report.render import Report, Table, fmt, to_yaml
from simulation.result import RunResult

#: (task description, steps done, steps in total) — drives a progress bar.
Progress = Callable[[str, int, int], None]

RUN_FIGURES = (
    ("Funnel by channel", "Customers at each funnel step per channel over the horizon; % is "
     "the share of the step above.", funnel_by_channel),
    ("Conversion and retention by segment", "Left: share of each segment's day-0 prospects "
     "converted. Right: share of its customers ever won not churned.", conversion_retention),
    ("Cost breakdown", "Spend per ledger item (channel, perk, referral …) with the customers "
     "it won and its CPA; a product cost (cards, loans) with its part of the run's CPA; "
     "cumulative spend per category.", cost_breakdown),
    ("Ring migration", "Share of won customers in the outer / middle / inner ring ([004]) over "
     "time, and per segment on the first and last day.", ring_migration),
    ("Money", "AUM and loans outstanding over time; cumulative value by ledger item (margins, "
     "fees, interest; credit losses negative) against cumulative spend.", money_over_time),
)


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and (path / "summary.json").is_file()


def load_run(run_dir: Path) -> RunResult:
    """A RunResult back from the files ``opmatrix run`` wrote."""
    run_dir = Path(run_dir)
    try:
        data = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        tables = {
            name: pd.read_parquet(run_dir / f"{name}.parquet")
            for name in ("daily", "ledger", "retention")
        }
    except (OSError, ValueError) as exc:
        raise ScenarioError.single(str(run_dir), "", f"not a readable run folder: {exc}") from None
    problem = summary_problem(data)
    if problem:
        raise ScenarioError.single(str(run_dir / "summary.json"), problem[0], problem[1])
    summary = data.pop("kpis", {})
    return RunResult(summary=summary, provenance=data, **tables)


def summary_problem(data: Any) -> tuple[str, str] | None:
    """(field, what is wrong) when a summary.json is not what ``opmatrix run`` writes."""
    if not isinstance(data, dict):
        return "", f"expected a JSON object, got a {type(data).__name__}"
    kpis = data.get("kpis")
    if not isinstance(kpis, dict):
        return "kpis", f"expected a mapping of KPI names to numbers, got {type(kpis).__name__}"
    for key, value in kpis.items():
        if key == "segments":
            if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
                return "kpis.segments", "expected a mapping of segment names to KPI mappings"
        elif isinstance(value, bool) or not isinstance(value, int | float | dict | type(None)):
            return f"kpis.{key}", f"expected a number, got {value!r:.40}"
    if not isinstance(data.get("scenario"), dict):
        kind = type(data.get("scenario")).__name__
        return "scenario", f"expected the scenario as a mapping, got {kind}"
    seed = data.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        return "seed", f"expected a non-negative integer seed, got {seed!r:.40}"
    return None


def _kpi_table(summary: dict[str, Any]) -> Table:
    segments = summary.get("segments", {})
    rows = [
        [k.label, fmt(summary.get(k.name), k.format),
         *(fmt(segments[s].get(k.name), k.format) for s in segments)]
        for k in in_group("table")
    ]
    return Table("KPIs", ["KPI", "total", *segments], rows,
                 "Definitions: docs/kpis.md. One run, so no confidence interval: run an "
                 "experiment with replicates (opmatrix sweep) for CIs.")


def _attributed_vs_incremental(summary: dict[str, Any]) -> Table | None:
    """Last-touch and incremental CPA/ROI side by side, with the one-line explanation."""
    if "incremental_acquisitions" not in summary:
        return None
    rows = [
        ["acquisitions", fmt(summary.get("attributed_acquisitions"), "int"),
         fmt(summary.get("incremental_acquisitions"), "int"),
         fmt(summary.get("acquisitions"), "int")],
        ["CPA", fmt(summary.get("attributed_cpa"), "money"),
         fmt(summary.get("incremental_cpa"), "money"),
         fmt(summary.get("cost_per_acquisition"), "money")],
        ["ROI", "—", fmt(summary.get("incremental_roi"), "pct"), fmt(summary.get("roi"), "pct")],
        ["value", "—", fmt(summary.get("incremental_value"), "money"),
         fmt(summary.get("value_total"), "money")],
    ]
    organic = fmt(summary.get("organic_acquisitions"), "int")
    note = summary.get("incrementality", {}).get("note", "")
    return Table(
        "Attributed vs incremental", ["", "attributed (last touch)", "incremental", "all"], rows,
        f"{note}. Organic acquisitions (counterfactual): "
        f"{organic}; acquisitions at no cost (word of mouth, private domain): "
        f"{fmt(summary.get('free_acquisitions'), 'int')}. docs/kpis.md.",
    )


def _contribution_table(summary: dict[str, Any]) -> Table | None:
    """Leave-one-out (and leave-one-in) contribution of each lever, organic and interaction."""
    table = summary.get("contributions")
    if not table:
        return None
    levers = table["levers"]
    has_loi = any("loi_acquisitions" in row for row in levers.values())
    head = ["lever", "LOO acquisitions", "LOO value"] + (
        ["LOI acquisitions", "LOI value"] if has_loi else [])
    rows = [["organic (no lever)", fmt(table["organic"]["acquisitions"], "int"),
             fmt(table["organic"]["value_total"], "money")] + (["", ""] if has_loi else [])]
    for lever, row in levers.items():
        cells = [lever, fmt(row["loo_acquisitions"], "int"), fmt(row["loo_value_total"], "money")]
        if has_loi:
            cells += [fmt(row.get("loi_acquisitions"), "int"),
                      fmt(row.get("loi_value_total"), "money")]
        rows.append(cells)
    rows.append(["interaction", fmt(table["interaction"]["acquisitions"], "int"),
                 fmt(table["interaction"]["value_total"], "money")] + (["", ""] if has_loi else []))
    return Table(
        "Contributions by lever (ablation on the same seed)", head, rows,
        "LOO = all levers minus all but this one; LOI = this lever alone minus no lever. "
        "organic + Σ LOO + interaction = the run's total (docs/kpis.md).",
    )


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


def build_run_report(
    run_dir: Path, network: bool = True, progress: Progress | None = None
) -> Report:
    result = load_run(run_dir)
    prov = result.provenance
    scenario = prov.get("scenario", {})
    report = Report(
        title=f"Run report · {scenario.get('name', Path(run_dir).name)}",
        subtitle=scenario.get("description", ""),
        facts=[
            ("run folder", str(run_dir)),
            ("seed", str(prov.get("seed"))),
            ("days", str(prov.get("days"))),
            ("customers simulated", fmt(result.summary.get("customers"), "int")),
            ("scenario hash", str(prov.get("scenario_hash"))),
            ("opmatrix version", str(prov.get("version"))),
        ],
        scenario_yaml=to_yaml(scenario),
    )
    report.tables.append(_kpi_table(result.summary))
    side = _attributed_vs_incremental(result.summary)
    if side is not None:
        report.tables.append(side)
    contributions = _contribution_table(result.summary)
    if contributions is not None:
        report.tables.append(contributions)
    by_source = result.summary.get("acquisitions_by_source", {})
    if by_source:
        total = max(sum(by_source.values()), 1)
        report.tables.append(Table(
            "Acquisitions by source", ["source", "customers", "share"],
            [[k, fmt(v, "int"), fmt(v / total, "pct")] for k, v in by_source.items()],
        ))
    spend_table = _spend_table(result)
    if spend_table is not None:
        report.tables.append(spend_table)
    steps = len(RUN_FIGURES) + (1 if network else 0)
    for i, (title, caption, fn) in enumerate(RUN_FIGURES):
        if progress:
            progress(f"figure: {title}", i, steps)
        try:
            report.add_figure(title, caption, fn(result))
        except FigureUnavailable as exc:
            report.notes.append(f"{title} not drawn: {exc}.")
    if network:
        _add_network(report, result, progress, steps)
    if progress:
        progress("done", steps, steps)
    return report


def _spend_table(result: RunResult) -> Table | None:
    """Spend per ledger item: a lever's customers won and own CPA; a product cost (cards,
    loans: category ``product``) wins no one by itself, so it shows only its part of the CPA."""
    table = cost_table(result)
    table = table[table["spend"] > 0]
    if table.empty:
        return None
    total = float(table["spend"].sum())
    rows = []
    for row in table.itertuples():
        product = row.category == PRODUCT_CATEGORY
        rows.append([
            row.item, row.category, fmt(row.spend, "money"), fmt(row.spend / total, "pct"),
            "—" if product else fmt(row.acquisitions, "int"),
            "—" if product or row.acquisitions == 0 else fmt(row.cpa, "money"),
            fmt(row.cpa_part, "money"),
        ])
    return Table(
        "Spend by item",
        ["item", "category", "spend", "share of spend", "customers won", "own CPA",
         "part of the CPA"],
        rows,
        note="own CPA = the item's spend ÷ the customers it won (last touch); part of the CPA "
             "= its spend ÷ all acquisitions, so the parts add up to the run's CPA. Product "
             "costs (a won customer's card issuance and upkeep, loan origination) win no one "
             "by themselves: only their part of the CPA is shown. docs/kpis.md.",
    )


def _add_network(report: Report, result: RunResult, progress: Progress | None, steps: int) -> None:
    from simulation.model import OperatingMatrixModel
    from simulation.scenario.load import scenario_from_dict

    prov = result.provenance
    sc = scenario_from_dict(prov["scenario"], "summary.json scenario")
    model = OperatingMatrixModel(sc, int(prov["seed"]))
    days = int(prov.get("days") or sc.days)

    def tick(day: int) -> None:
        if progress and (day % 10 == 0 or day == days):
            progress(f"re-simulating for the network ({day}/{days} days)", steps - 1, steps)

    while model.day < days:
        model.step()
        tick(model.day)
    rerun = model.summary()
    keys = ("acquisitions", "spend", "conversion_rate", "churned")
    same = all(_same(rerun.get(k), result.summary.get(k)) for k in keys)
    check = ("the re-simulation reproduced the recorded KPIs exactly" if same else
             "the re-simulation did NOT reproduce the recorded KPIs (different code version?)")
    if not same:
        report.notes.append(f"Network snapshot: {check}.")
    report.add_figure(
        "Social network by lifecycle stage",
        f"A snowball sample of customers on the last day, coloured by stage; re-simulated from "
        f"the recorded scenario and seed ({check}).",
        network_snapshot(model),
    )
