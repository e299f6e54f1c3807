"""Common random numbers for app push (push.py).

Why: push drew its daily numbers from one sequential stream sized by who was eligible that day
(targeted, not opted out, under the weekly cap), so any other lever that changed some
customers' stage shifted every later customer's send, open and conversion numbers. Now each
draw is keyed per customer slot. A channel that reaches only the credit-card segment is
switched off: it changes those customers (they convert), so the credit-card segment's push
events may move, but the payroll segment's push events (nobody there is touched, word of mouth
is off, the push budget does not bind) must stay equal, day by day.
"""

from __future__ import annotations

import numpy as np

from tests.conftest import assert_same_events, crn_dict, model_of


def _events(reach_of_other: float) -> dict[str, np.ndarray]:
    data = crn_dict(days=21)
    data["population"]["segments"]["payroll"]["initial"] = {"aware": 0.5, "converted": 0.1}
    data["channels"] = {
        "cards_only": {"daily_reach": {"credit_card": reach_of_other, "default": 0.0},
                       "cost_per_contact": 0.5, "conversion_on_contact": 0.3},
    }
    data["push"] = {"daily_send_rate": {"credit_card": 0.4, "default": 0.3}, "per_week": 3,
                    "open_rate": 0.1, "conversion_on_open": 0.2, "recall_on_open": 0.5,
                    "cost_per_push": 0.01}
    model = model_of(data, seed=4)
    model.run()
    payroll = model.scenario.segment_names.index("payroll")
    ev = model.ledger.events
    return {k: ev[("push", k)][:, payroll] for w, k in ev if w == "push"}


def test_a_channel_on_another_segment_leaves_push_events_of_this_one_unchanged() -> None:
    on, off = _events(0.2), _events(0.0)
    assert_same_events(on, off)
    # the check bites: pushes are sent, opened, opt customers out and convert in this segment
    assert on["opt_outs"].sum() > 0 and on["conversions"].sum() > 0
