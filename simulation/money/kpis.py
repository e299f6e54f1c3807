"""Money KPIs of a finished (or running) model, from the ledger's value items and the money
layer's daily state series; docs/kpis.md gives each formula."""

from __future__ import annotations

from typing import Any

import numpy as np

from simulation.money.layer import RETENTION_WINDOWS

LOSS_ITEMS = ("card_losses", "loan_losses")


def money_kpis(model: Any, segment: int | None = None) -> dict[str, float | None]:
    """AUM, asset retention, loans, expected and realised credit losses, risk-adjusted margin
    and card GMV, over all segments or one (``segment`` index)."""
    layer = model.money
    ledger = model.ledger
    d = model.day
    cols = slice(None) if segment is None else slice(segment, segment + 1)

    def total(arr: np.ndarray, upto: int | None = None) -> float:
        return float(arr[: (d + 1) if upto is None else upto, cols].sum())

    value = sum(total(a) for a in ledger.revenue.values())
    losses = 0.0 - sum(total(ledger.revenue[k]) for k in LOSS_ITEMS if k in ledger.revenue)
    series = layer.series
    expected_loss = total(series["expected_loss_flow"])
    arrays = layer.account_arrays()
    pop = model.population
    acquired = pop.converted_day >= 1
    if segment is not None:
        acquired = acquired & (pop.segment == segment)
    out: dict[str, float | None] = {
        "value_total": value,
        "aum": float(series["aum"][d, cols].sum()),
        "aum_acquired": float(arrays["aum"][acquired].sum()),
    }
    for w in RETENTION_WINDOWS:
        out[f"asset_retention_{w}d"] = layer.asset_retention(w, segment)
    out["payroll_inflow"] = total(series["inflow_flow"])
    out["loan_volume"] = float(series["loans_disbursed_flow"][1 : d + 1, cols].sum())
    out["loans_outstanding"] = float(series["loans_outstanding"][d, cols].sum())
    out["expected_loss"] = expected_loss
    out["credit_losses"] = losses
    out["risk_adjusted_margin"] = value + losses - expected_loss
    out["gmv"] = total(series["gmv_flow"])
    return out
