"""The app push-notification lever: the shared lever harness, then its own behaviour (weekly
cap, opt-outs by the Localytics tolerance bands, opens, conversions and recalls)."""

from __future__ import annotations

from typing import Any

import numpy as np

from simulation.population.stages import Stage
from simulation.strategies.base import Day
from simulation.strategies.push import NEVER, Push
from tests.conftest import model_of, small_scenario_dict
from tests.lever_harness import LeverContract


def push_dict(days: int = 35, **push: Any) -> dict[str, Any]:
    data = small_scenario_dict(days=days)
    data["push"] = {
        "daily_send_rate": {"credit_card": 0.4, "default": 0.2},
        "per_week": 3,
        "open_rate": 0.05,
        "conversion_on_open": 0.3,
        "recall_on_open": 0.5,
        "cost_per_push": 0.01,
        **push,
    }
    return data


class TestPushContract(LeverContract):
    lever_name = "push"

    def example(self) -> dict[str, Any]:
        return push_dict()


def test_weekly_cap_holds_every_day() -> None:
    model, push = model_of(push_dict(daily_send_rate=0.9, per_week=2), seed=3, module=Push)
    for _ in range(21):
        model.step()
        assert push.week_count.max() <= 2
    sent = model.ledger.events[("push", "sent")].sum(axis=1)
    # Mondays reset the count, so a week never sends more than 2 per customer.
    assert sent[1:8].sum() <= 2 * model.population.n


def test_tolerance_follows_the_survey_bands() -> None:
    """Localytics 2017: 10 % disable at 1 push/week, 37 % at 2–5, 33 % at 6–10."""
    data = push_dict()
    data["population"]["size"] = 20000
    _, push = model_of(data, seed=1, module=Push)
    t = push.tolerance
    shares = [np.mean(t == 1), np.mean((t >= 2) & (t <= 5)), np.mean((t >= 6) & (t <= 10)),
              np.mean(t == NEVER)]
    assert np.allclose(shares, [0.10, 0.37, 0.33, 0.20], atol=0.015)


def test_more_pushes_more_opt_outs_and_opens_at_the_open_rate() -> None:
    def run(per_week: int):
        model, push = model_of(push_dict(daily_send_rate=0.9, per_week=per_week, days=28),
                               seed=2, module=Push)
        model.run()
        return model, push

    _light, light_push = run(1)
    heavy, heavy_push = run(7)
    assert heavy_push.opted_out.mean() > 2 * light_push.opted_out.mean() > 0
    ev = heavy.ledger.events
    opens, sent = ev[("push", "opens")].sum(), ev[("push", "sent")].sum()
    assert abs(opens / sent - 0.05) < 0.01


def test_opted_out_customers_are_sent_nothing_more() -> None:
    model, push = model_of(push_dict(daily_send_rate=0.9, per_week=7, days=28), seed=2,
                           module=Push)
    for _ in range(14):  # two weeks (day 1 is a Monday)
        model.step()
    opted = push.opted_out.copy()
    assert opted.any()
    for _ in range(6):  # day 15 (Monday) resets the counts, then six days of sending
        model.step()
    assert (push.week_count[opted] == 0).all()
    assert push.week_count[~push.opted_out].max() > 0


def test_opened_pushes_convert_and_recall() -> None:
    model, push = model_of(push_dict(), seed=4, module=Push)
    pop = model.population
    lapsed = np.flatnonzero(pop.stage == Stage.ACTIVE)[:200]
    pop.stage[lapsed] = Stage.DORMANT
    push.step(Day(1, 0))
    model.run()
    summary = model.summary()
    assert model.ledger.events[("push", "conversions")].sum() > 0
    assert model.ledger.events[("push", "recalled")].sum() > 0
    assert summary["acquisitions"] >= model.ledger.events[("push", "conversions")].sum()
