"""Common random numbers across perks (perks.py).

Why: every perk drew from the one sequential ``perks`` stream in catalogue order (who is shown
the offer, exposure, claims, who gets the day's stock, redemption, the budget's subset, and what
redeeming does), so a perk that was switched off no longer consumed its draws and every later
perk's customers claimed, redeemed and converted on other numbers. Now each draw is keyed per
customer slot and by the perk's name. A perk that cannot change anyone (shown to active
customers, nobody claims it) is switched off: every event of the other perk must stay equal,
day by day, through a daily stock and a budget that both bind.
"""

from __future__ import annotations

import numpy as np

from tests.conftest import assert_same_events, crn_dict, model_of


def _events(offer_of_inert: float) -> dict[str, np.ndarray]:
    data = crn_dict(days=12)
    for seg in data["population"]["segments"].values():
        seg["perk_appeal"] = {"worker": 1.0}
    data["perks"] = {"budget": 900.0, "catalogue": {
        # first in catalogue order; shown to active customers only, and nobody claims it
        "inert": {"offer_rate": offer_of_inert, "claim_rate": 0.0, "targets": ["active"]},
        "worker": {"offer_rate": 0.05, "claim_rate": 0.6, "daily_stock": 20,
                   "redemption_rate": 0.6, "face_value": 10.0, "merchant_cities": 3,
                   "exposure_engage": 0.2, "convert_on_redeem": 0.3, "recall_on_redeem": 0.5,
                   "share_on_redeem": 0.3,
                   "targets": ["unaware", "aware", "engaged", "at_risk", "dormant"]},
    }}
    model = model_of(data, seed=9)
    model.run()
    ev = model.ledger.events
    return {k: ev[("perk:worker", k)].sum(axis=1) for w, k in ev if w == "perk:worker"}


def test_switching_off_an_inert_perk_leaves_the_other_perks_events_unchanged() -> None:
    on, off = _events(0.3), _events(0.0)
    assert_same_events(on, off)
    # the check bites: the stock runs out, the budget runs out, and redeeming acts
    assert on["stock_outs"].sum() > 0 and on["conversions"].sum() > 0
    assert on["shared_to"].sum() > 0 and on["redemptions"][-1] == 0  # budget spent
