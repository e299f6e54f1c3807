"""Experiments: variants × sweep samples × replicates, run on any executor, stored and analysed.

``load_experiment`` (YAML → :class:`Experiment`), ``expand`` (→ :class:`RunSpec` list),
``open_executor`` / ``run_sweep`` (execute and store), :class:`ResultStore` (Parquet + DuckDB),
and ``simulation.runner.analysis`` (CIs, paired differences, ranking, Sobol/Morris).
"""

from simulation.runner.experiment import Experiment, load_experiment
from simulation.runner.specs import RunSpec, expand
from simulation.runner.store import ResultStore

__all__ = ["Experiment", "ResultStore", "RunSpec", "expand", "load_experiment"]
