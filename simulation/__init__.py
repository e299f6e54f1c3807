"""opmatrix: agent-based simulation and strategy testing for a bank's online operating matrix."""

from simulation.api import run
from simulation.errors import ScenarioError
from simulation.model import OperatingMatrixModel
from simulation.population.customer import Customer
from simulation.population.stages import Ring, Stage
from simulation.result import RunResult
from simulation.scenario.load import load_scenario, scenario_from_dict
from simulation.scenario.schema import Scenario

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
