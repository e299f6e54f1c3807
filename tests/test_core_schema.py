"""Every class of bad scenario input gives one clear ScenarioError: file, field path, line, rule."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from simulation import ScenarioError, load_scenario, scenario_from_dict
from tests.conftest import small_scenario_dict


def write(tmp_path: Path, data: object, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def error_text(path: Path, overrides: list[str] | None = None) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, overrides)
    text = str(info.value)
    assert len(text.splitlines()) <= 3
    assert str(path) in text
    return text


def test_valid_small_scenario_loads(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, small_scenario_dict()))
    assert sc.segment_names == ["credit_card", "payroll"]
    assert sc.channel_names == ["ads", "wecom"]


def test_unknown_key_names_valid_keys_and_line(tmp_path: Path) -> None:
    data = small_scenario_dict()
    data["channels"]["ads"]["budjet"] = 100
    text = error_text(write(tmp_path, data))
    assert "channels.ads.budjet" in text
    assert "unknown key 'budjet'" in text
    assert "budget" in text and "cost_per_contact" in text
    assert "(line " in text


def test_probability_out_of_range(tmp_path: Path) -> None:
    data = small_scenario_dict()
    data["channels"]["ads"]["conversion_on_contact"] = 1.3
    text = error_text(write(tmp_path, data))
    assert "channels.ads.conversion_on_contact" in text
    assert "probability in [0, 1], got 1.3" in text
    assert "dictionary" not in text  # one message, not one per union branch


def test_wrong_type(tmp_path: Path) -> None:
    data = small_scenario_dict()
    data["population"]["size"] = "many"
    text = error_text(write(tmp_path, data))
    assert "population.size" in text and "'many'" in text


def test_shares_not_summing_to_one(tmp_path: Path) -> None:
    data = small_scenario_dict()
    data["population"]["segments"]["payroll"]["share"] = 0.5
    text = error_text(write(tmp_path, data))
    assert "shares must sum to 1, got 1.1" in text


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        (("channels", "ads", "budget"), -5, "must be ≥ 0, got -5"),
        (("channels", "ads", "cost_per_contact"), -0.1, "must be ≥ 0, got -0.1"),
        (("population", "size"), -10, "population.size"),
    ],
)
def test_negative_money_and_size(tmp_path: Path, field: tuple, value: float, needle: str) -> None:
    data = small_scenario_dict()
    node = data
    for part in field[:-1]:
        node = node[part]
    node[field[-1]] = value
    text = error_text(write(tmp_path, data))
    assert needle in text
    assert ".".join(field) in text


def test_unknown_segment_referenced(tmp_path: Path) -> None:
    data = small_scenario_dict()
    data["channels"]["wecom"]["daily_reach"] = {"pensioners": 0.1, "default": 0.05}
    text = error_text(write(tmp_path, data))
    assert "channels.wecom.daily_reach.pensioners" in text
    assert "unknown segment 'pensioners'" in text and "credit_card" in text


def test_missing_segment_without_default(tmp_path: Path) -> None:
    data = small_scenario_dict()
    data["channels"]["wecom"]["daily_reach"] = {"payroll": 0.1}
    text = error_text(write(tmp_path, data))
    assert "no value for segment(s) credit_card" in text


def test_unknown_channel_referenced(tmp_path: Path) -> None:
    data = small_scenario_dict()
    data["population"]["segments"]["payroll"]["channel_affinity"] = {"tiktok": 2.0}
    text = error_text(write(tmp_path, data))
    assert "population.segments.payroll.channel_affinity.tiktok" in text
    assert "unknown channel 'tiktok'" in text and "ads, wecom" in text


def test_missing_required_field(tmp_path: Path) -> None:
    data = small_scenario_dict()
    del data["population"]["segments"]["payroll"]["share"]
    text = error_text(write(tmp_path, data))
    assert "population.segments.payroll.share" in text and "required" in text


def test_empty_file(tmp_path: Path) -> None:
    text = error_text(write(tmp_path, ""))
    assert "empty" in text


def test_not_yaml(tmp_path: Path) -> None:
    text = error_text(write(tmp_path, "name: [unclosed\n  population: {size: 3\n"))
    assert "not valid YAML" in text and "line" in text


def test_not_a_mapping(tmp_path: Path) -> None:
    text = error_text(write(tmp_path, "- just\n- a list\n"))
    assert "mapping" in text


def test_missing_file(tmp_path: Path) -> None:
    text = error_text(tmp_path / "nope.yaml")
    assert "file not found" in text


def test_bad_hour_range(tmp_path: Path) -> None:
    data = small_scenario_dict()
    data["population"]["segments"]["payroll"]["availability"] = ["14-9"]
    text = error_text(write(tmp_path, data))
    assert "availability" in text and "0 ≤ start < end ≤ 24" in text


def test_unknown_graph_kind(tmp_path: Path) -> None:
    data = small_scenario_dict()
    data["graph"] = {"kind": "small_world"}
    text = error_text(write(tmp_path, data))
    assert "graph" in text and "watts_strogatz" in text


def test_override_applies_and_is_validated(tmp_path: Path) -> None:
    path = write(tmp_path, small_scenario_dict())
    sc = load_scenario(path, ["channels.ads.daily_reach=0.3", "population.size=500"])
    assert sc.channels["ads"].daily_reach == 0.3
    assert sc.population.size == 500
    text = error_text(path, ["word_of_mouth.imitation=2"])
    assert "word_of_mouth.imitation" in text and "got 2" in text
    text = error_text(path, ["channels.ads.reach=0.1"])
    assert "unknown key 'reach'" in text
    text = error_text(path, ["justakey"])
    assert "path.to.field=value" in text


def test_more_than_two_problems_are_summarised(tmp_path: Path) -> None:
    data = small_scenario_dict()
    data["channels"]["ads"]["daily_reach"] = 3
    data["channels"]["ads"]["cost_per_contact"] = -1
    data["channels"]["wecom"]["cost_per_contact"] = -1
    text = error_text(write(tmp_path, data))
    assert "more problem" in text


def test_scenario_is_frozen() -> None:
    sc = scenario_from_dict(small_scenario_dict())
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        sc.days = 3  # type: ignore[misc]
