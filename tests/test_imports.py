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
        " 'scipy.spatial') if n in sys.modules and type(sys.modules[n]).__name__ != '_Deferred'))\n"
        "import mesa\n"
        "from mesa.discrete_space import OrthogonalMooreGrid\n"
        "print(mesa.space.MultiGrid.__name__, OrthogonalMooreGrid.__module__,"
        " mesa.experimental.devs.__name__, type(sys.modules['mesa.space']).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout.splitlines()
    assert out[0] == "[]"  # none of them (nor scipy.spatial) imported by a run's modules
    assert out[1] == "MultiGrid mesa.discrete_space.grid mesa.experimental.devs module"
