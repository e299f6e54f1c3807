"""Common random numbers through the contact policy (contact_windows.py).

Why: the contact policy serves every channel. Its send-hour and opt-out draws came from the one
sequential ``contact_windows`` stream in channel order, so a channel that was switched off (or
reached fewer customers) no longer consumed its draws and every later channel's contacts landed
at other hours and opted out on other numbers, even with the channels' own draws keyed per slot
(tests/test_qs_channel_crn.py). Now each draw is keyed per customer slot and by the channel's
name. As there, a channel that cannot change anyone (it contacts active customers only, who
neither convert nor engage, and it cannot be left) is switched off: every event of the other
channel must stay equal, day by day, on both schedules (the hour drawn from the channel's send
hours, and the hour drawn inside the customer's window).
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import assert_same_events, crn_dict, inert_channel, model_of


def _events(reach_of_inert: float, schedule: str) -> dict[str, np.ndarray]:
    data = crn_dict(days=10)
    data["channels"] = {
        # first in declaration order; contacts only active customers: no possible effect
        "inert": inert_channel(reach_of_inert),
        # a channel customers can leave (WeCom): fatigue makes them opt out
        "worker": {"kind": "wecom_1to1", "daily_reach": 0.1, "cost_per_contact": 1.0,
                   "targets": ["unaware", "aware", "engaged"],
                   "conversion_on_contact": 0.05, "engage_on_contact": 0.3},
    }
    data["contact_policy"] = {
        "schedule": schedule,
        "send_hours": {"default": ["8-22"], "inert": ["6-23"]},
        "fatigue": {"opt_out_threshold": 0.5, "opt_out_per_contact": 0.3},
    }
    model = model_of(data, seed=7)
    model.run()
    ev = model.ledger.events
    return {k: ev[("worker", k)].sum(axis=1) for w, k in ev if w == "worker"}


@pytest.mark.parametrize("schedule", ["channel_hours", "customer_windows"])
def test_switching_off_an_inert_channel_leaves_others_hours_and_opt_outs_unchanged(
    schedule: str,
) -> None:
    on, off = _events(0.2, schedule), _events(0.0, schedule)
    assert_same_events(on, off)
    # the check bites: contacts land out of window, customers opt out, and some convert
    assert on["opt_outs"].sum() > 0 and on["conversions"].sum() > 0
    if schedule == "channel_hours":
        assert on["out_of_window"].sum() > 0
