"""opmatrix: agent-based simulation and strategy testing for a bank's online operating matrix."""

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
