"""``RunResult``: what one simulation run produces, as tidy tables with provenance.

The simulation produces data only; writing files and drawing plots live elsewhere.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
import pandas as pd

from simulation.accounting import acquisitions_by_source, kpis, retention_curve
from simulation.money.kpis import budget_kpis, money_kpis
from simulation.population.stages import N_STAGES, Ring, Stage

DAILY_COLUMNS = (
    "day",
    "segment",
    "customers",
    "unaware",
    "aware",
    "engaged",
    "new_conversions",
    "converted_cumulative",
    "active",
    "at_risk",
    "dormant",
    "churned_cumulative",
    "spend_cumulative",
    "value_cumulative",
    "ring_outer",
    "ring_middle",
    "ring_inner",
    "aum",
    "loans_outstanding",
    "gmv_cumulative",
    "expected_loss_cumulative",
)


def package_version() -> str:
    try:
        return version("opmatrix")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


def stable_hash(content: Any, length: int = 16) -> str:
    """SHA-256 of canonical JSON: the same content gives the same hash on every machine."""
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def scenario_hash(resolved: dict[str, Any]) -> str:
    return stable_hash(resolved)


class _BuiltOnRead:
    """A table field given as a frame or as a function that builds it on first read.

    Why: a sweep's worker keeps only a run's summary and daily table, and building the ledger
    table (pandas, one frame per item) was ~10 % of a quickstart 10k × 180 run's CPU
    (benchmarks/bench_sweep.py) spent on a table every sweep threw away. Whoever reads it —
    ``opmatrix run`` writing ledger.parquet, the plots — gets the same frame, built once.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self._slot = f"_{name}_table"

    def __get__(self, obj: Any, owner: type | None = None) -> pd.DataFrame:
        if obj is None:  # read on the class: the dataclass field has no default
            raise AttributeError(self._slot)
        value = obj.__dict__[self._slot]
        if callable(value):
            value = obj.__dict__[self._slot] = value()
        return value

    def __set__(self, obj: Any, value: pd.DataFrame | Callable[[], pd.DataFrame]) -> None:
        obj.__dict__[self._slot] = value


@dataclass
class RunResult:
    """Daily tidy table, cost ledger, summary KPIs and provenance of one run.

    ``ledger`` may be given as a function of no arguments; it is called on the first read."""

    summary: dict[str, Any]
    daily: pd.DataFrame
    ledger: pd.DataFrame = _BuiltOnRead()  # type: ignore[assignment]
    retention: pd.DataFrame
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_json_dict(self) -> dict[str, Any]:
        return {**self.provenance, "kpis": self.summary}


def daily_table(model: Any) -> pd.DataFrame:
    """One row per day × segment; summing over segments gives the totals."""
    pop = model.population
    rec = model.recorder
    days = model.day
    segs = pop.segment_names
    s = len(segs)
    counts = rec.stage_counts[: days + 1]  # (T+1, S, stages)
    rings = rec.ring_counts[: days + 1]  # (T+1, S, rings): customers won, not lost
    ever = np.zeros((days + 1, s), dtype=np.int64)
    conv = pop.converted_day
    ok = conv >= 0
    np.add.at(ever, (conv[ok], pop.segment[ok]), 1)
    ever = np.cumsum(ever, axis=0)
    churned = counts[:, :, Stage.CHURNED]
    spend = np.cumsum(model.ledger.spend_by_segment_per_day()[: days + 1], axis=0)
    value = np.cumsum(rec.value[: days + 1], axis=0)
    series = model.money.series
    new = np.diff(ever, axis=0, prepend=0)
    new[0] = 0
    day_idx = np.repeat(np.arange(days + 1), s)
    frame = {
        "day": day_idx.astype(np.int32),
        "segment": pd.Categorical(np.tile(np.array(segs, dtype=object), days + 1), categories=segs),
        "customers": counts.sum(axis=2).ravel(),
        "unaware": counts[:, :, Stage.UNAWARE].ravel(),
        "aware": counts[:, :, Stage.AWARE].ravel(),
        "engaged": counts[:, :, Stage.ENGAGED].ravel(),
        "new_conversions": new.ravel(),
        "converted_cumulative": ever.ravel(),
        "active": (counts[:, :, Stage.CONVERTED] + counts[:, :, Stage.ACTIVE]).ravel(),
        "at_risk": counts[:, :, Stage.AT_RISK].ravel(),
        "dormant": counts[:, :, Stage.DORMANT].ravel(),
        "churned_cumulative": churned.ravel(),
        "spend_cumulative": spend.ravel(),
        "value_cumulative": value.ravel(),
        "ring_outer": rings[:, :, Ring.OUTER].ravel(),
        "ring_middle": rings[:, :, Ring.MIDDLE].ravel(),
        "ring_inner": rings[:, :, Ring.INNER].ravel(),
        "aum": series["aum"][: days + 1].ravel(),
        "loans_outstanding": series["loans_outstanding"][: days + 1].ravel(),
        "gmv_cumulative": np.cumsum(series["gmv_flow"][: days + 1], axis=0).ravel(),
        "expected_loss_cumulative": np.cumsum(
            series["expected_loss_flow"][: days + 1], axis=0
        ).ravel(),
    }
    assert counts.shape[2] == N_STAGES
    return pd.DataFrame(frame, columns=list(DAILY_COLUMNS))


def ledger_table(model: Any) -> pd.DataFrame:
    """Spend, value (margins, fees, interest; losses negative) and event counts per day × item ×
    segment (only non-zero rows)."""
    return _ledger_frame(model.ledger, model.population.segment_names)


def _ledger_frame(ledger: Any, segs: list[str]) -> pd.DataFrame:
    """:func:`ledger_table` from the ledger and the segment names alone (what a result keeps
    to build it later, instead of the whole model)."""
    rows: list[pd.DataFrame] = []
    metrics: dict[str, dict[str, np.ndarray]] = {}
    for item, arr in ledger.spend.items():
        metrics.setdefault(item, {})["spend"] = arr
    for item, arr in ledger.revenue.items():
        metrics.setdefault(item, {})["value"] = arr
    for (item, event), arr in ledger.events.items():
        metrics.setdefault(item, {})[event] = arr
    for item, cols in metrics.items():
        category = ledger.items[item].category if item in ledger.items else "other"
        shape = next(iter(cols.values())).shape
        d, s = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
        df = pd.DataFrame(
            {
                "day": d.ravel().astype(np.int32),
                "item": item,
                "category": category,
                "segment": np.array(segs, dtype=object)[s.ravel()],
            }
        )
        for name, arr in cols.items():
            df[name] = arr.ravel()
        value_cols = list(cols)
        df = df[(df[value_cols] != 0).any(axis=1)]
        rows.append(df)
    if not rows:
        return pd.DataFrame(columns=["day", "item", "category", "segment", "spend"])
    out = pd.concat(rows, ignore_index=True).fillna(0)
    for col in ("spend", "value"):
        if col not in out.columns:
            out[col] = 0.0
    for col in out.columns:
        if col not in ("day", "item", "category", "segment", "spend", "value"):
            out[col] = out[col].astype(np.int64)
    return out


def _operator_kpis(model: Any) -> dict[str, float | None]:
    """The groups' operator KPIs (members per operator, share of groups run), present only
    when the scenario declares ``groups.operators`` (so no other run's summary changes)."""
    from simulation.strategies.groups import Groups

    groups = model.module(Groups)
    return {} if groups is None else groups.operator_kpis()


def collect_result(model: Any) -> RunResult:
    """Package a finished model as a RunResult (KPIs in total and by segment)."""
    pop = model.population
    model.money.flush()
    summary: dict[str, Any] = dict(kpis(pop, model.ledger, model.day))
    summary.update(money_kpis(model))
    summary.update(budget_kpis(model))
    summary.update(_operator_kpis(model))
    summary["represents_customers"] = pop.n * model.scenario.population.scale
    summary["scale"] = model.scenario.population.scale
    summary["acquisitions_by_source"] = acquisitions_by_source(pop)
    summary["spend_by_item"] = {k: float(v.sum()) for k, v in model.ledger.spend.items()}
    summary["value_by_item"] = {k: float(v.sum()) for k, v in model.ledger.revenue.items()}
    summary["segments"] = {
        name: {**kpis(pop, model.ledger, model.day, pop.segment == i, i), **money_kpis(model, i)}
        for i, name in enumerate(pop.segment_names)
    }
    curve = retention_curve(pop.converted_day, pop.churned_day, model.day)
    retention = pd.DataFrame({"age_days": np.arange(curve.size), "retention": curve})
    resolved = model.scenario.model_dump(mode="json")
    provenance = {
        "scenario": resolved,
        "scenario_hash": scenario_hash(resolved),
        "seed": model.seed,
        "days": model.day,
        "version": package_version(),
    }
    return RunResult(
        summary=summary,
        daily=daily_table(model),
        # built when first read (a sweep never reads it), from the finished ledger only
        ledger=functools.partial(_ledger_frame, model.ledger, list(pop.segment_names)),
        retention=retention,
        provenance=provenance,
    )
