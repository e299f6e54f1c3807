"""Every declared lever passes the shared harness (tests/lever_harness.py), each on the first
preset that switches it on; a lever no preset uses brings its own test (tests/test_push.py)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from simulation.scenario.load import read_yaml
from simulation.strategies.registry import LEVERS
from tests.conftest import REPO
from tests.lever_harness import LeverContract


@cache
def preset_using(lever_name: str) -> dict[str, Any] | None:
    """The first preset (alphabetical) whose scenario switches the lever on, as plain data."""
    from simulation import load_scenario

    lv = next(x for x in LEVERS if x.name == lever_name)
    for path in sorted((REPO / "scenarios").glob("*.yaml")):
        if lv.module.enabled(load_scenario(path)):
            data, _ = read_yaml(path)
            # Plain floats and strings, not YAML scalars and dates.
            return json.loads(json.dumps(_plain(data), default=str))
    return None


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


PRESET_LEVERS = [lv.name for lv in LEVERS if preset_using(lv.name) is not None]


def test_every_lever_is_covered_by_the_harness() -> None:
    """A lever no preset switches on brings its own harness test: tests/test_<name>.py with a
    ``LeverContract`` subclass for it."""
    for lv in LEVERS:
        if lv.name in PRESET_LEVERS:
            continue
        own = REPO / "tests" / f"test_{lv.name}.py"
        assert own.is_file(), f"{lv.name}: no preset uses it and {own.name} does not exist"
        text = own.read_text(encoding="utf-8")
        assert "LeverContract" in text and f'lever_name = "{lv.name}"' in text, own.name


@pytest.fixture(params=PRESET_LEVERS)
def lever_name(request: pytest.FixtureRequest) -> str:
    return request.param


class TestPresetLevers(LeverContract):
    @pytest.fixture(autouse=True)
    def _bind(self, lever_name: str) -> None:
        self.lever_name = lever_name

    def example(self) -> dict[str, Any]:
        found = preset_using(self.lever_name)
        assert found is not None
        return found
