"""The two calls most users need: build a model, or run a scenario to a RunResult."""

from __future__ import annotations

from collections.abc import Callable

from simulation.incremental import add_incrementality, start_worlds, worlds_needed
from simulation.model import OperatingMatrixModel
from simulation.result import RunResult, collect_result
from simulation.strategies.registry import Scenario


def run(
    scenario: Scenario,
    seed: int = 0,
    on_day: Callable[[int], None] | None = None,
    on_world_day: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Simulate ``scenario`` with ``seed`` to its horizon, then its counterfactual (and the
    ablations ``scenario.incrementality`` asks for) on the same population and graph. A pure
    function of its inputs. ``on_day(day)`` follows the run itself, ``on_world_day(world,
    day)`` each further world (1, 2, …; :func:`simulation.incremental.worlds_needed` says how
    many). With more than one kernel thread the further worlds run beside the run on
    background threads (same results, less wall time)."""
    model = OperatingMatrixModel(scenario, seed, share_world=worlds_needed(scenario) > 0)
    return run_model(model, scenario, seed, on_day, on_world_day)


def run_model(
    model: OperatingMatrixModel,
    scenario: Scenario,
    seed: int,
    on_day: Callable[[int], None] | None = None,
    on_world_day: Callable[[int, int], None] | None = None,
) -> RunResult:
    """:func:`run` for a model already built from ``scenario`` and ``seed`` (the CLI builds it
    first, to name the file in a build error and to size its progress bar)."""
    ahead = start_worlds(scenario, seed, model.world, on_world_day)
    try:
        model.run(on_day)
        result = collect_result(model)
    except BaseException:
        if ahead is not None:
            ahead.close()  # no background world outlives a failed run
        raise
    from simulation.money.lifetime import net_curve

    add_incrementality(result.summary, scenario, seed, model.world, on_world_day, ahead,
                       factual_curve=net_curve(model))
    return result
