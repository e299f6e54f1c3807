"""The two calls most users need: build a model, or run a scenario to a RunResult."""

from __future__ import annotations

from collections.abc import Callable

from simulation.model import OperatingMatrixModel
from simulation.result import RunResult, collect_result
from simulation.strategies.registry import Scenario


def run(
    scenario: Scenario, seed: int = 0, on_day: Callable[[int], None] | None = None
) -> RunResult:
    """Simulate ``scenario`` with ``seed`` to its horizon. A pure function of its inputs."""
    model = OperatingMatrixModel(scenario, seed)
    model.run(on_day)
    return collect_result(model)
