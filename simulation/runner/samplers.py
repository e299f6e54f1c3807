"""Sweep samplers: grid, random, Latin hypercube, Sobol (Saltelli) and Morris.

The Sobol and Morris designs come from SALib's own samplers, so SALib's analysers
(``simulation.runner.analysis.sensitivity``) read the runs back in exactly the order and
structure they expect: point ``i`` of the design is ``sample_id == i``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulation.runner.experiment import SweepConfig, grid_points


def salib_problem(sweep: SweepConfig) -> dict[str, Any]:
    """SALib's problem dictionary for the swept ranges (uniform on ``[low, high]``)."""
    names = list(sweep.parameters)
    bounds = [[float(sweep.parameters[n].low or 0.0), float(sweep.parameters[n].high or 0.0)]
              for n in names]
    return {"num_vars": len(names), "names": names, "bounds": bounds}


def design_matrix(sweep: SweepConfig) -> np.ndarray:
    """The sampler's raw points (rows) over the swept ranges, before integer rounding."""
    problem = salib_problem(sweep)
    n = int(sweep.samples or 0)
    if sweep.sampler == "random":
        rng = np.random.default_rng(sweep.seed)
        lows, highs = np.array(problem["bounds"]).T
        return lows + rng.random((n, problem["num_vars"])) * (highs - lows)
    if sweep.sampler == "lhs":
        from SALib.sample import latin

        return latin.sample(problem, n, seed=sweep.seed)
    if sweep.sampler == "sobol":
        from SALib.sample import sobol

        return sobol.sample(problem, n, calc_second_order=False, scramble=True, seed=sweep.seed)
    if sweep.sampler == "morris":
        from SALib.sample import morris

        return morris.sample(problem, n, num_levels=sweep.morris_levels, seed=sweep.seed)
    raise ValueError(f"no design matrix for the {sweep.sampler} sampler")


def sample_points(sweep: SweepConfig) -> list[dict[str, Any]]:
    """Every point of the sweep as ``{parameter path: value}``, in design order."""
    if sweep.sampler == "grid":
        return grid_points(sweep.parameters)
    names = list(sweep.parameters)
    matrix = design_matrix(sweep)
    return [
        {name: sweep.parameters[name].cast(float(row[j])) for j, name in enumerate(names)}
        for row in matrix
    ]
