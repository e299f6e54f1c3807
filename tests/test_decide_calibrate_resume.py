"""A calibration folder made by another code version is refused with a clear error.

Runs are stored under their code version, so after a model change a resumed ``opmatrix
calibrate`` found none of its trials' runs and failed summarising the best one with a
``TypeError`` (``'NoneType' object is not subscriptable``). It now says which versions differ
and what to do, before anything runs."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from simulation.decide.calibrate import check_resumable
from simulation.errors import ScenarioError
from simulation.runner.specs import code_version


def _cal(root: Path) -> SimpleNamespace:
    return SimpleNamespace(root=root, fingerprint=lambda method: f"fp-{method}",
                           scenario_path=root / "s.yaml", targets=SimpleNamespace(source="t"),
                           params_path=root / "p.yaml")


def test_a_calibration_of_another_code_version_is_not_resumed(tmp_path: Path) -> None:
    cal = _cal(tmp_path / "cal")
    check_resumable(cal, "optuna")  # a fresh folder: written with this code version
    state = json.loads((cal.root / "calibration.json").read_text())
    assert state["code_version"] == code_version()
    check_resumable(cal, "optuna")  # the same code resumes
    state["code_version"] = "0.1.0+old"
    (cal.root / "calibration.json").write_text(json.dumps(state))
    with pytest.raises(ScenarioError) as err:
        check_resumable(cal, "optuna")
    assert str(err.value) == (
        f"error in {cal.root}: holds a calibration made by another code version (0.1.0+old; "
        f"this is {code_version()}): its trials are not mixed with this model's; give another "
        "--out, or delete the folder to start over")
    del state["code_version"]  # written before the version was recorded: resumed as before
    (cal.root / "calibration.json").write_text(json.dumps(state))
    check_resumable(cal, "optuna")
