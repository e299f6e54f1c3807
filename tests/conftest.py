"""Shared fixtures: small scenarios built in code, and the CLI runner."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

REPO = Path(__file__).resolve().parents[1]

os.environ.setdefault("MPLBACKEND", "Agg")

# The suite is deterministic: property tests draw the same examples on every machine (a fresh
# CI clone has no example database). Explore new examples with --hypothesis-profile=explore.
settings.register_profile("default", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, max_examples=300)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def small_scenario_dict(**changes: Any) -> dict[str, Any]:
    """A two-segment scenario small enough for unit tests (a fresh dict on every call)."""
    base: dict[str, Any] = {
        "name": "small",
        "days": 60,
        "population": {
            "size": 2000,
            "cities": {"count": 4},
            "segments": {
                "credit_card": {
                    "share": 0.6,
                    "digital_affinity": {"mean": 0.7, "sd": 0.1},
                    "monthly_value": {"median": 40.0, "sigma": 0.5},
                    "churn_hazard": 0.002,
                    "initial": {"aware": 0.2, "converted": 0.1},
                },
                "payroll": {
                    "share": 0.4,
                    "monthly_value": {"median": 60.0, "sigma": 0.5},
                    "churn_hazard": 0.004,
                    "availability": ["9-11", "14-17"],
                },
            },
        },
        "graph": {"kind": "watts_strogatz", "k": 6, "p": 0.1},
        "lifecycle": {"at_risk_to_dormant": 0.2, "dormant_to_churned": 0.2},
        "channels": {
            "ads": {
                "daily_reach": 0.02,
                "cost_per_contact": 0.5,
                "conversion_on_contact": 0.05,
                "engage_on_contact": 0.1,
            },
            "wecom": {
                "daily_reach": {"payroll": 0.1, "default": 0.05},
                "cost_per_contact": 1.0,
                "conversion_on_contact": 0.05,
                "targets": ["engaged"],
            },
        },
        "word_of_mouth": {"imitation": 0.05},
    }
    out = copy.deepcopy(base)
    for path, value in changes.items():
        node = out
        parts = path.split("__")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


def model_of(data: dict[str, Any], seed: int = 0, module: type | None = None) -> Any:
    """The model of scenario dict ``data`` (before day 1); with ``module`` (a strategy module
    class) the pair (model, that module or None when the scenario leaves it off). The one copy
    every test uses."""
    from simulation import OperatingMatrixModel, scenario_from_dict

    model = OperatingMatrixModel(scenario_from_dict(data), seed)
    if module is None:
        return model
    return model, model.module(module)


def crn_dict(days: int) -> dict[str, Any]:
    """The common-random-numbers tests' world: 3,000 customers and no word of mouth (so a
    lever's effect cannot spread), for ``days`` days. A test adds an inert lever and one that
    works, runs it with the inert one on and off, and compares (:func:`assert_same_events`)."""
    data = small_scenario_dict(days=days)
    data["population"]["size"] = 3000
    data["word_of_mouth"] = {"imitation": 0.0}
    return data


def inert_channel(reach: float) -> dict[str, Any]:
    """A channel with no possible effect (it contacts only active customers); declare it
    first, so that on a shared stream its draws would come before every other channel's."""
    return {"daily_reach": reach, "cost_per_contact": 0.01, "conversion_on_contact": 0.5,
            "targets": ["active"]}


def assert_same_events(on: dict[str, Any], off: dict[str, Any]) -> None:
    """Every event series of ``on`` equals ``off``'s, day by day (same keys)."""
    import numpy as np

    assert on.keys() == off.keys()
    for key in on:
        assert np.array_equal(on[key], off[key]), (key, on[key], off[key])


@pytest.fixture
def small_dict() -> dict[str, Any]:
    return small_scenario_dict()


def opmatrix(
    *args: str, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run the real ``opmatrix`` CLI in a subprocess (as a user would)."""
    return subprocess.run(
        [sys.executable, "-m", "simulation", *args],
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "160", "NO_COLOR": "1"},
    )


def run_cli(*args: str) -> tuple[int, str, str]:
    """Run the ``opmatrix`` CLI in this process: (exit code, stdout, stderr).

    Much cheaper than :func:`opmatrix` (no interpreter start, no re-import), for the many
    bad-input checks. An exception other than the CLI's own exit escapes, so a traceback fails
    the test that provoked it.
    """
    import contextlib
    import io

    from simulation.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    from simulation.i18n import set_lang

    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            set_lang(None)  # a --lang zh call must not leak into the next test
    return code, out.getvalue(), err.getvalue()


def die_while_asking(trial_number: int) -> str:
    """A Python script that runs the ``opmatrix`` CLI and kills its own process (SIGKILL, as
    ``kill -9``) when Optuna's trial ``trial_number`` draws its first parameter: a kill inside
    the ask loop, for optimize's and calibrate's resume tests."""
    return f"""
import os, signal, sys
import optuna
from simulation.cli import main
suggest = optuna.trial.Trial._suggest
def dying(self, name, distribution):
    if self.number == {trial_number}:
        os.kill(os.getpid(), signal.SIGKILL)
    return suggest(self, name, distribution)
optuna.trial.Trial._suggest = dying
main(sys.argv[1:])
"""


@pytest.fixture
def parallel_always(monkeypatch):
    """Every kernel call takes its parallel twin (no size threshold); the thread count is put
    back afterwards (shared by the thread and day-kernel tests)."""
    from simulation import kernels

    monkeypatch.setattr(kernels, "PARALLEL_MIN_WORK", 0)
    before = kernels.threads()
    yield
    kernels.set_threads(before)
