"""The calendar (``contact_policy.calendar``): dated events and paydays on the right days, a
start date that disagrees with ``start_weekday`` refused at load."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from simulation.errors import ScenarioError
from simulation.scenario.load import load_scenario
from simulation.strategies.contact_windows import CalendarEvent, event_days
from tests.claims import REPO


def test_dates_recur_every_year_and_last_their_days() -> None:
    start = dt.date(2024, 1, 1)
    mask = event_days(CalendarEvent(dates=["05-20"], days=2), start, 800)
    days = np.flatnonzero(mask)
    # 2024-05-20 is day 141; 2025-05-20 is 365 days later (no 29 February between).
    assert list(days) == [141, 142, 141 + 365, 142 + 365]


def test_monthly_paydays() -> None:
    mask = event_days(CalendarEvent(monthly=[10]), dt.date(2024, 1, 1), 91)
    assert list(np.flatnonzero(mask)) == [10, 41, 70]  # 10 Jan, 10 Feb, 10 Mar 2024


def test_a_start_date_on_another_weekday_is_refused() -> None:
    with pytest.raises(ScenarioError, match="start_weekday"):
        load_scenario(REPO / "scenarios" / "cmb_credit_card.yaml",
                      ["contact_policy.start_date=2024-01-03"])


def test_an_event_without_dates_is_refused() -> None:
    with pytest.raises(ScenarioError, match="dates"):
        load_scenario(REPO / "scenarios" / "cmb_credit_card.yaml",
                      ["contact_policy.calendar.festival_520.dates=[]"])
