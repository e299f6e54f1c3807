"""Content format (``channels.<c>.format``) and each segment's preference for it
(``population.segments.<s>.format_preference``): the elderly find video "more intuitive and
friendly" [001]. No format, or a preference of 1, leaves every response exactly as before."""

from __future__ import annotations

import numpy as np
import pytest

from simulation import ScenarioError, scenario_from_dict
from simulation.model import OperatingMatrixModel
from simulation.strategies.channels import Channels, format_preference
from tests.conftest import opmatrix, small_scenario_dict


def plans(data: dict) -> dict:
    model = OperatingMatrixModel(scenario_from_dict(data), 0)
    channels = model.module(Channels)
    assert isinstance(channels, Channels)
    return {p.name: p for p in channels.plans}


def test_no_format_or_a_neutral_preference_changes_nothing() -> None:
    base = plans(small_scenario_dict())["ads"]
    data = small_scenario_dict(channels__ads__format="video")
    data["population"]["segments"]["credit_card"]["format_preference"] = {"video": 1.0}
    sc = scenario_from_dict(data)
    assert format_preference(sc, sc.channels["ads"]) is None
    same = plans(data)["ads"]
    for rate in ("convert", "engage", "respond", "retain"):
        assert np.array_equal(getattr(base, rate), getattr(same, rate))


def test_a_preferred_format_scales_every_response_of_that_segment() -> None:
    base = plans(small_scenario_dict())["ads"]
    data = small_scenario_dict(channels__ads__format="text")
    data["population"]["segments"]["credit_card"]["format_preference"] = {"text": 0.5}
    data["population"]["segments"]["payroll"]["format_preference"] = {"video": 3.0}
    got = plans(data)
    ads = got["ads"]  # segment order: credit_card, payroll
    assert ads.convert[0] == pytest.approx(0.5 * base.convert[0])
    assert ads.engage[0] == pytest.approx(0.5 * base.engage[0])
    assert ads.convert[1] == base.convert[1] and ads.engage[1] == base.engage[1]  # no text pref
    assert np.array_equal(got["wecom"].convert, plans(small_scenario_dict())["wecom"].convert)
    data["channels"]["ads"]["format"] = "video"
    data["channels"]["ads"]["engage_on_contact"] = 0.5
    assert plans(data)["ads"].engage[1] == 1.0  # × 3 capped at a probability


@pytest.mark.parametrize(
    ("where", "value", "path"),
    [
        ("channel", "gif", "channels.ads.format"),
        ("segment", {"gif": 1.0}, "population.segments.payroll.format_preference.gif"),
        ("segment", {"video": -1.0}, "population.segments.payroll.format_preference.video"),
    ],
)
def test_bad_formats_are_refused_with_their_path(where: str, value: object, path: str) -> None:
    data = small_scenario_dict()
    if where == "channel":
        data["channels"]["ads"]["format"] = value
    else:
        data["population"]["segments"]["payroll"]["format_preference"] = value
    with pytest.raises(ScenarioError, match=path.replace(".", r"\.")):
        scenario_from_dict(data)


def test_bad_new_fields_exit_2_on_the_command_line() -> None:
    """One CLI call for this round's new fields (content format and the referral ladder's
    goal-gradient weight, tests/test_referral.py): each refused with its path and what is
    allowed, exit 2, no traceback."""
    proc = opmatrix(
        "validate", "scenarios/cmb_credit_card.yaml",
        "--set", "channels.channels_live.format=gif", "--set", "referral.ladder_weight=2",
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "channels.channels_live.format" in proc.stderr
    assert "'video'" in proc.stderr and "'text'" in proc.stderr
    assert "referral.ladder_weight" in proc.stderr and "must be in [0, 1]" in proc.stderr
