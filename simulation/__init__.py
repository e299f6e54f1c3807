"""opmatrix: agent-based simulation and strategy testing for a bank's online operating matrix.

Importing it switches Python's cyclic garbage collector off until its imports are done, then
back on (as it was): the imports (Mesa, pandas, numba, pydantic's schemas) allocate ~300k
objects and almost none of them is garbage, yet the collector walked them ~230 times on the way
(0.15–0.20 CPU-s of ~1.1, measured with ``gc.callbacks``). Nothing is freed any later or
sooner than it would have been: what an import leaves behind is collected by the next pass.
"""

import gc as _gc

_gc_was_on = _gc.isenabled()
_gc.disable()

try:
    # Mesa first, without its import-time stack walk (~0.35 s of every command; see the module).
    from simulation import _mesa_import  # noqa: F401, I001  (must come first)
    # The lever declaration assembles the Scenario schema; import it before anything that loads
    # or validates a scenario (scenario/ itself never imports strategy code).
    from simulation.strategies import registry as _registry  # noqa: F401  (must come first)
    from simulation.api import run
    from simulation.errors import ScenarioError
    from simulation.model import OperatingMatrixModel
    from simulation.population.customer import Customer
    from simulation.population.stages import Ring, Stage
    from simulation.result import RunResult
    from simulation.scenario.load import load_scenario, scenario_from_dict
    from simulation.strategies.registry import Scenario
finally:
    if _gc_was_on:
        _gc.enable()

__all__ = [
    "Customer",
    "OperatingMatrixModel",
    "Ring",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "Stage",
    "load_scenario",
    "run",
    "scenario_from_dict",
]
