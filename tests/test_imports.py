"""Import-time shortcuts (issue 14: ~2.5 s of every run is imports) keep what they replace."""

from __future__ import annotations

import inspect
import logging

import mesa
import mesa.mesa_logging

import simulation  # noqa: F401  (imports mesa through simulation._mesa_import)
from simulation import _mesa_import


def test_mesa_imported_without_the_stack_walk_names_its_loggers_as_before(caplog) -> None:
    # the real inspect functions are back
    assert inspect.stack is not _mesa_import._stack
    assert inspect.getouterframes is not _mesa_import._frames
    assert inspect.getmodule is _mesa_import._real_getmodule
    # mesa.model's module logger got its module's name, as inspect.stack() would have found
    assert mesa.mesa_logging._module_loggers["mesa.model"].name == "MESA.mesa.model"
    # and method_logger found the class name ("Model") from the outer frames
    with caplog.at_level(logging.DEBUG, logger="MESA.mesa.model"):
        mesa.Model(rng=1)
    assert any(r.getMessage().startswith("calling Model.__init__") for r in caplog.records)


def test_the_cheap_frame_functions_match_inspects_frames_and_names() -> None:
    def probe():
        return _mesa_import._stack(), inspect.stack(0)

    cheap, real = probe()
    assert [(f.frame, f.function, f.lineno) for f in cheap] == \
        [(f.frame, f.function, f.lineno) for f in real]
    frame = inspect.currentframe()
    assert _mesa_import._getmodule(frame) is inspect.getmodule(frame)


def test_mesa_subpackages_a_run_never_uses_load_on_first_use() -> None:
    import subprocess
    import sys

    code = (
        "import sys, simulation.cli.commands_run, simulation.api, simulation.model\n"
        "print(sorted(n for n in ('mesa.space', 'mesa.experimental', 'mesa.discrete_space',"
        " 'scipy.spatial') if n in sys.modules\n"
        "       and type(sys.modules[n]).__name__ != '_LazyModule'))\n"
        "import mesa\n"
        "from mesa.discrete_space import OrthogonalMooreGrid\n"
        "print(mesa.space.MultiGrid.__name__, OrthogonalMooreGrid.__module__,"
        " mesa.experimental.devs.__name__, type(sys.modules['mesa.space']).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout.splitlines()
    assert out[0] == "[]"  # none of them (nor scipy.spatial) imported by a run's modules
    assert out[1] == "MultiGrid mesa.discrete_space.grid mesa.experimental.devs module"


#: what a run never needs (mesa's DEFERRED subpackages bring the first three; network/social.py
#: imports networkx and scipy.sparse, money/lifetime.py scipy.optimize, only where they are used)
NEVER_LOADED = ("networkx", "scipy.sparse", "scipy.spatial", "scipy.optimize", "matplotlib")

_PROBE = r"""
import json, sys
import simulation
from simulation import _mesa_import

def state():
    return {
        "lazy": {n: type(sys.modules[n]).__name__ for n in _mesa_import.DEFERRED},
        "loaded": sorted(n for n in NEVER_LOADED if n in sys.modules),
    }

after_import = state()
# A run imports scipy.optimize (and the scipy.sparse/.spatial it brings) only when a payback
# root is bracketed (money/lifetime.py), which depends on the run's numbers: the spy records
# what was loaded just before that import, and the test allows those three after it.
from simulation.money import lifetime
real_payback, before_root = lifetime.payback_years_beyond, []

def spy(net_at_horizon, flows):
    loaded = sorted(n for n in NEVER_LOADED if n in sys.modules)
    out = real_payback(net_at_horizon, flows)
    if "scipy.optimize" in sys.modules and not before_root:
        before_root.append(loaded)
    return out

lifetime.payback_years_beyond = spy
scenario = simulation.load_scenario("scenarios/quickstart.yaml",
                                    ["population.size=300", "days=3"])
result = simulation.run(scenario, seed=1)
after_run = state()
lifetime.payback_years_beyond = real_payback

# every lazy module works when something does use it
import mesa
import mesa.experimental.devs
from mesa.discrete_space import OrthogonalMooreGrid
from mesa.experimental.continuous_space import ContinuousSpace

grid = mesa.space.MultiGrid(3, 3, torus=False)
cells = OrthogonalMooreGrid((3, 3), random=__import__("random").Random(1))
space = ContinuousSpace([[0, 1], [0, 1]], random=__import__("random").Random(1))
signals = mesa.experimental.mesa_signals.__name__  # a name of mesa.experimental's own
model = simulation.OperatingMatrixModel(scenario, 1)
model.run()
frame = model.datacollector.get_model_vars_dataframe()
print(json.dumps({
    "after_import": after_import,
    "after_run": after_run,
    "kpis": len(result.summary),
    "used": {n: type(sys.modules[n]).__name__ for n in _mesa_import.DEFERRED},
    "grid": [grid.width, grid.height], "cells": len(cells.all_cells),
    "space": space.size.tolist(), "frame_rows": len(frame),
    "networkx": "networkx" in sys.modules, "signals": signals,
    "before_root": before_root,
}))
"""


def test_import_and_a_small_run_skip_what_a_run_never_uses_and_it_still_works() -> None:
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    code = f"NEVER_LOADED = {NEVER_LOADED!r}\n" + _PROBE
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                         text=True, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    lazy = dict.fromkeys(_mesa_import.DEFERRED, "_LazyModule")  # importlib.util.LazyLoader's
    assert got["after_import"] == {"lazy": lazy, "loaded": []}
    assert got["after_run"]["lazy"] == lazy
    if got["before_root"]:  # the run bracketed a payback root: brentq's imports, only those
        assert got["before_root"] == [[]]
        assert got["after_run"]["loaded"] == ["scipy.optimize", "scipy.sparse", "scipy.spatial"]
    else:
        assert got["after_run"]["loaded"] == []
    assert got["kpis"] > 0
    # used, each lazy module is a plain module again and works as Mesa wrote it
    assert got["used"] == dict.fromkeys(_mesa_import.DEFERRED, "module")
    assert got["grid"] == [3, 3] and got["cells"] == 9 and got["space"] == [1, 1]
    assert got["frame_rows"] == 4  # day 0 + 3 days
    assert got["networkx"]  # mesa.space imported it once it was used
    assert got["signals"] == "mesa.experimental.mesa_signals"
