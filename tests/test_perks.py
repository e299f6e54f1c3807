"""Perks: stock and complaints, claim vs redemption vs exposure, face value and geography,
lifecycle red packets, cost in the ledger within budget, and the catalogue cross-reference."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulation import ScenarioError, load_scenario, run, scenario_from_dict
from simulation.model import OperatingMatrixModel
from simulation.strategies.perks import PerkConfig
from tests.conftest import REPO, small_scenario_dict


def with_perks(catalogue: dict[str, dict], days: int = 30, budget: float | None = None,
               appeal: float = 0.8) -> dict[str, Any]:  # fmt: skip
    data = small_scenario_dict(days=days)
    data["word_of_mouth"] = {"imitation": 0.0}
    data["channels"] = {}
    for seg in data["population"]["segments"].values():
        seg["perk_appeal"] = {name: appeal for name in catalogue}
    data["perks"] = {"budget": budget, "catalogue": catalogue}
    return data


def events(model: OperatingMatrixModel, perk: str, event: str) -> np.ndarray:
    arr = model.ledger.events.get((f"perk:{perk}", event))
    return np.zeros(model.days + 1, dtype=np.int64) if arr is None else arr.sum(axis=1)


def test_redemption_rises_with_face_value() -> None:
    rates = [PerkConfig(face_value=v).redemption for v in (2, 5, 10, 20, 50)]
    assert rates == sorted(rates) and rates[0] < rates[-1]
    assert PerkConfig(face_value=10).redemption == pytest.approx(0.08)


def test_stock_outs_raise_negative_sentiment_and_claims_stay_within_stock() -> None:
    cat = {"voucher": {"offer_rate": 0.5, "daily_stock": 5, "claim_rate": 0.5, "complaint": 0.3}}
    model = OperatingMatrixModel(scenario_from_dict(with_perks(cat, days=10)), 1)
    model.run()
    assert events(model, "voucher", "claims")[1:].max() == 5
    refused = events(model, "voucher", "stock_outs").sum()
    assert refused > 0
    sentiment = model.sentiment.values
    assert 0 < sentiment.max() <= 1.0
    assert (sentiment > 0).sum() <= refused


def test_urgency_raises_claims_while_stock_is_limited() -> None:
    base = {"offer_rate": 0.2, "claim_rate": 0.1}
    limited = {**base, "daily_stock": 100000}
    # ~160 claims per run: one seed's ratio has an sd of ~0.14, so pool four seeds (sd ~0.066)
    # and allow 3 sd
    unlimited = stocked = 0
    for seed in range(2, 6):
        a = OperatingMatrixModel(scenario_from_dict(with_perks({"v": base})), seed)
        b = OperatingMatrixModel(scenario_from_dict(with_perks({"v": limited})), seed)
        a.run()
        b.run()
        unlimited += events(a, "v", "claims").sum()
        stocked += events(b, "v", "claims").sum()
    assert stocked / unlimited == pytest.approx(1.3, rel=0.15)  # +30 % "while stocks last" [000]


def test_offline_perks_redeem_only_where_merchants_are() -> None:
    cat = {"meal": {"offer_rate": 0.5, "claim_rate": 0.8, "redemption_rate": 0.5,
                    "merchant_cities": 1, "unit_cost": 1.0}}  # fmt: skip
    model = OperatingMatrixModel(scenario_from_dict(with_perks(cat, days=10)), 3)
    model.run()
    assert events(model, "meal", "redemptions").sum() > 0
    # City 0 is the largest; the ledger's redemptions equal the yuan spent, so check via cost.
    claims = events(model, "meal", "claims").sum()
    share_city0 = (model.population.city == 0).mean()
    redeemed = events(model, "meal", "redemptions").sum()
    assert redeemed / claims == pytest.approx(0.5 * share_city0, rel=0.25)


def test_exposure_effect_without_redemption() -> None:
    """Venkatesan & Farris (2012): being shown a coupon engages, even when nobody redeems."""
    cat = {"ad": {"offer_rate": 0.2, "exposure_engage": 0.1, "redemption_rate": 0.0}}
    # 60 days: 165 engaged on average, sd 15 (seeds 1–20, lowest 128), so "> 100" holds in
    # expectation by 4 sd, not by one seed's luck. At 30 days the mean was 108, sd 9–10, with
    # the old sequential draws as with the keyed ones, and seed 4 gave 91 once the perks'
    # draws were keyed per customer slot.
    model = OperatingMatrixModel(scenario_from_dict(with_perks(cat, days=60)), 4)
    model.run()
    assert events(model, "ad", "redemptions").sum() == 0
    assert events(model, "ad", "engaged").sum() > 100
    assert model.ledger.spend["perk:ad"].sum() == 0


def test_lifecycle_red_packets() -> None:
    cat = {
        "first_order": {"trigger": "first_order", "offer_rate": 0.2, "claim_rate": 0.9,
                        "redemption_rate": 0.5, "convert_on_redeem": 0.5, "unit_cost": 5.0},
        "recall": {"trigger": "recall", "offer_rate": 0.5, "claim_rate": 0.9,
                   "redemption_rate": 0.5, "recall_on_redeem": 1.0, "unit_cost": 2.0},
        "fission": {"trigger": "fission", "offer_rate": 0.2, "claim_rate": 0.9,
                    "redemption_rate": 0.5, "share_on_redeem": 1.0, "share_effect": "engage",
                    "unit_cost": 1.0},
    }  # fmt: skip
    data = with_perks(cat, days=40)
    for seg in data["population"]["segments"].values():
        seg["churn_hazard"] = 0.02
    model = OperatingMatrixModel(scenario_from_dict(data), 5)
    model.run()
    pop = model.population
    via_perk = pop.acquired_via == pop.sources.index("perk:first_order")
    assert via_perk.sum() == events(model, "first_order", "conversions").sum() > 0
    assert events(model, "recall", "recalled").sum() > 0
    assert events(model, "fission", "shared_to").sum() > 0
    assert model.ledger.items["perk:recall"].category == "perk"


def test_unknown_perk_in_appeal_is_a_cross_reference_error() -> None:
    data = with_perks({"voucher": {"offer_rate": 0.1}})
    data["population"]["segments"]["payroll"]["perk_appeal"] = {"yacht": 0.5}
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data)
    text = str(info.value)
    assert "population.segments.payroll.perk_appeal.yacht" in text
    assert "unknown perk 'yacht'" in text and "voucher" in text


def test_bad_perk_values_are_rejected() -> None:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(with_perks({"v": {"trigger": "birthday"}}))
    assert "perks.catalogue.v.trigger" in str(info.value) and "recall" in str(info.value)
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(with_perks({"v": {"daily_stock": -3}}))
    assert "perks.catalogue.v.daily_stock" in str(info.value)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    stock=st.one_of(st.none(), st.integers(0, 20)),
    offer=st.floats(0.0, 0.5),
    claim=st.floats(0.0, 1.0),
    cost=st.floats(0.0, 10.0),
    budget=st.one_of(st.none(), st.floats(0.0, 500.0)),
)
def test_stock_and_budget_hold(
    stock: int | None, offer: float, claim: float, cost: float, budget: float | None
) -> None:
    cat = {"v": {"offer_rate": offer, "claim_rate": claim, "daily_stock": stock,
                 "unit_cost": cost, "redemption_rate": 0.5}}  # fmt: skip
    model = OperatingMatrixModel(scenario_from_dict(with_perks(cat, days=10, budget=budget)), 6)
    model.run()
    claims = events(model, "v", "claims")
    if stock is not None:
        assert claims.max() <= stock  # stock left never negative
    assert (claims >= 0).all()
    spend = model.ledger.spend["perk:v"].sum() if "perk:v" in model.ledger.spend else 0.0
    if budget is not None:
        assert spend <= budget + 1e-6
    assert spend == pytest.approx(events(model, "v", "redemptions").sum() * cost)


def test_elderly_preset_coupon_redemption_inside_published_range() -> None:
    """Group-coupon redemption stays inside 1–15 % (docs/sources.md §2.6)."""
    model = OperatingMatrixModel(
        load_scenario(REPO / "scenarios/social_security_elderly.yaml", ["days=120"]), 1
    )
    model.run()
    claims = events(model, "supermarket_voucher", "claims").sum()
    redeemed = events(model, "supermarket_voucher", "redemptions").sum()
    assert claims > 100
    assert 0.01 <= redeemed / claims <= 0.15
    summary = run(
        load_scenario(REPO / "scenarios/social_security_elderly.yaml", ["days=30"]), 1
    ).summary
    assert summary["spend_by_item"]["perk:supermarket_voucher"] > 0
