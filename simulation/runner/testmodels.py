"""Analytic test functions that run through the same runner as the simulation.

They exist to check the experiment machinery (samplers → executors → store → SALib analysis)
against known answers, the way ``scenarios/validation/bass.yaml`` checks the simulation against
Bass's closed form. Write ``model: ishigami`` in an experiment instead of ``scenario:``.

Ishigami (Ishigami & Homma 1990; Saltelli et al. 2008, *Global Sensitivity Analysis*, §4.8):
``y = sin x1 + a sin² x2 + b x3⁴ sin x1`` with x ~ U(−π, π)³, a = 7, b = 0.1, whose variance-based
indices are S1 = (0.3139, 0.4424, 0), ST = (0.5576, 0.4424, 0.2437).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class TestModel:
    """A named pure function of numeric inputs returning named outcomes."""

    parameters: dict[str, float]  # name → default value
    outcomes: tuple[str, ...]
    evaluate: Callable[[dict[str, float]], dict[str, float]]


def ishigami(x: dict[str, float]) -> dict[str, float]:
    a, b = x["a"], x["b"]
    x1, x2, x3 = x["x1"], x["x2"], x["x3"]
    return {"y": math.sin(x1) + a * math.sin(x2) ** 2 + b * x3**4 * math.sin(x1)}


#: Known first-order and total indices of Ishigami at a = 7, b = 0.1 (Saltelli et al. 2008).
ISHIGAMI_S1 = {"x1": 0.3139, "x2": 0.4424, "x3": 0.0}
ISHIGAMI_ST = {"x1": 0.5576, "x2": 0.4424, "x3": 0.2437}

MODELS: dict[str, TestModel] = {
    "ishigami": TestModel(
        parameters={"x1": 0.0, "x2": 0.0, "x3": 0.0, "a": 7.0, "b": 0.1},
        outcomes=("y",),
        evaluate=ishigami,
    ),
}


def evaluate(model: str, inputs: dict[str, float]) -> dict[str, float]:
    """Evaluate the test model ``model`` at ``inputs`` (missing inputs take their defaults)."""
    toy = MODELS[model]
    return toy.evaluate({**toy.parameters, **inputs})
