"""Money KPIs of a finished (or running) model, from the ledger's value items and the money
layer's daily state series; docs/kpis.md gives each formula."""

from __future__ import annotations

from typing import Any

import numpy as np

from simulation import kernels
from simulation.money.layer import RETENTION_WINDOWS
from simulation.money.lifetime import card_upkeep_beyond, lifetime_kpis

LOSS_ITEMS = ("card_losses", "loan_losses")


def money_kpis(model: Any, segment: int | None = None) -> dict[str, float | None]:
    """AUM, asset retention, loans, expected and realised credit losses, risk-adjusted margin,
    card GMV and the lifetime value beyond the horizon (simulation/money/lifetime.py), over all
    segments or one (``segment`` index)."""
    layer = model.money
    layer.flush()
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
    # the acquired rows (of the segment) in population order: the same values, and so the
    # same sums, as a population-length boolean mask would pick, without two or three passes
    # over the population for the mask
    acquired = kernels.where_at_least(pop.converted_day, 1)
    if segment is not None:
        acquired = acquired[pop.segment[acquired] == segment]
    out: dict[str, float | None] = {
        "value_total": value,
        "aum": float(series["aum"][d, cols].sum()),
        "aum_acquired": float(arrays["aum"][acquired].sum()),
    }
    for w in RETENTION_WINDOWS:
        out[f"asset_retention_{w}d"] = layer.asset_retention(w, segment)
    out["payroll_inflow"] = total(series["inflow_flow"])
    out["outflow_kept"] = total(series["outflow_kept_flow"])
    out["loan_volume"] = float(series["loans_disbursed_flow"][1 : d + 1, cols].sum())
    out["loans_outstanding"] = float(series["loans_outstanding"][d, cols].sum())
    out["expected_loss"] = expected_loss
    out["credit_losses"] = losses
    out["risk_adjusted_margin"] = value + losses - expected_loss
    out["gmv"] = total(series["gmv_flow"])
    # part of ``spend``: the products' costs of the customers won for free (attributed CPA)
    out["free_product_spend"] = float(layer.free_product_spend[cols].sum())
    out.update(lifetime_kpis(model, segment))
    # a card's cost over its life: the run's spend plus the upkeep still to come of the won
    # cards held at the horizon, discounted to day 0 as lifetime_roi discounts their margin
    upkeep, upkeep_free = card_upkeep_beyond(model, segment)
    discount = (1.0 + model.scenario.money.lifetime.discount_rate) ** (-d / 365.0)
    out["card_upkeep_beyond"] = discount * upkeep
    out["card_upkeep_beyond_free"] = discount * upkeep_free
    n_acq = float(pop.weight[acquired].sum() if pop.weight is not None else acquired.size)
    # the CPA's numerator (simulation/accounting.py kpis), over all segments or one
    spend = (ledger.total_spend() if segment is None
             else float(sum(a[:, segment].sum() for a in ledger.spend.values())))
    out["lifetime_cost_per_acquisition"] = (
        None if n_acq <= 0 else (spend + out["card_upkeep_beyond"]) / n_acq
    )
    return out


def budget_kpis(model: Any) -> dict[str, Any]:
    """What each declared budget bought: spent, unspent, and whether it bound (≥ 99 % spent).

    Channel budgets are the channel's own spend; the mix budget (``flows.budget``) covers every
    channel and route item. A budget that does not bind is reported as unspent, so a low CPA
    from a barely spent budget is visible as such.
    """
    sc = model.scenario
    ledger = model.ledger
    spent_of = {k: float(v.sum()) for k, v in ledger.spend.items()}
    budgets: dict[str, dict[str, float | bool]] = {}
    for name, ch in sc.channels.items():
        if ch.budget is not None:
            spent = spent_of.get(name, 0.0)
            budgets[name] = _budget_row(float(ch.budget), spent)
    if sc.flows.budget is not None:
        mix = sum(
            v for k, v in spent_of.items()
            if ledger.items.get(k) is not None and ledger.items[k].category in ("channel", "route")
        )
        budgets["flows"] = _budget_row(float(sc.flows.budget), mix)
    total_budget = sum(float(r["budget"]) for k, r in budgets.items() if k == "flows") or sum(
        float(r["budget"]) for r in budgets.values()
    )
    unspent = (
        float(budgets["flows"]["unspent"]) if "flows" in budgets
        else sum(float(r["unspent"]) for r in budgets.values())
    )
    return {
        "budgets": budgets,
        "budget_total": total_budget if budgets else None,
        "budget_unspent": unspent if budgets else None,
        "budget_used": (1.0 - unspent / total_budget) if budgets and total_budget > 0 else None,
    }


def _budget_row(budget: float, spent: float) -> dict[str, float | bool]:
    return {
        "budget": budget,
        "spent": spent,
        "unspent": max(0.0, budget - spent),
        "binding": spent >= 0.99 * budget,
    }
