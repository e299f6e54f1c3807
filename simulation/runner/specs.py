"""Expansion of an experiment into run specs, each keyed by a content hash.

``run_id`` hashes exactly what determines a run's numbers: the fully resolved scenario (every
default filled in), the seed, the model and the code version — the package version plus a hash
of the simulation's own source files (so an edited model in a development checkout never
resumes from numbers the old code produced). Two variants that resolve to the same scenario
therefore share one stored run, and renaming a variant redoes nothing.

Common random numbers: replicate ``i`` uses seed ``experiment.seed + i`` in every variant and at
every sweep point, so differences between variants are paired on identical random streams.
Specs are ordered replicate-major, so an interrupted sweep holds complete pairs first.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulation.result import package_version, stable_hash
from simulation.runner.experiment import Experiment
from simulation.strategies.registry import Scenario


@dataclass(frozen=True, eq=False)
class RunSpec:
    """One run: where it sits in the experiment, and everything needed to compute it."""

    run_id: str
    experiment: str
    variant: str
    replicate: int
    seed: int
    sample_id: int
    params: dict[str, Any]
    model: str = "opmatrix"
    scenario: Scenario | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    #: Set when the scenario at this sweep point does not validate: recorded as failed, not run.
    invalid: str | None = None

    def labels(self) -> dict[str, Any]:
        """The JSON-safe description of the spec (written beside its result)."""
        return {
            "run_id": self.run_id,
            "experiment": self.experiment,
            "variant": self.variant,
            "replicate": self.replicate,
            "seed": self.seed,
            "sample_id": self.sample_id,
            "params": self.params,
            "model": self.model,
        }


#: Package folders and modules that never change a run's numbers (left out of the code
#: fingerprint): how numbers are printed (formatting.py) and the interface language (i18n.py)
#: are display only, so rewording a message keeps every stored sweep current.
_NOT_MODEL = frozenset({"runner", "cli", "plots", "report", "dashboard", "decide",
                        "formatting.py", "i18n.py"})


@functools.cache
def code_version() -> str:
    """``<package version>+<hash of the simulation's model sources>`` (computed once)."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] in _NOT_MODEL:
            continue
        digest.update(str(rel).encode())
        digest.update(path.read_bytes())
    return f"{package_version()}+{digest.hexdigest()[:12]}"


def content_hash(content: dict[str, Any]) -> str:
    return stable_hash(content, length=20)


def run_content(
    model: str, scenario: Scenario | None, inputs: dict[str, Any], seed: int
) -> dict[str, Any]:
    """What a run's numbers depend on, as plain data (hashed into its ``run_id``)."""
    return {
        "model": model,
        "scenario": scenario.model_dump(mode="json") if scenario is not None else None,
        "inputs": inputs,
        "seed": seed,
        "version": code_version(),
    }


def expand(exp: Experiment) -> list[RunSpec]:
    """variants × sweep points × replicates → run specs (replicate-major order)."""
    arms = exp.arms()
    contents: list[dict[str, Any] | None] = []
    for arm in arms:
        base = None
        if arm.error is None:
            base = run_content(exp.model, arm.scenario, arm.inputs, 0)
        contents.append(base)
    specs: list[RunSpec] = []
    for replicate, seed in enumerate(exp.seeds):
        for arm, content in zip(arms, contents, strict=True):
            if content is None:
                key = {"invalid": arm.error, "variant": arm.variant, "params": arm.params}
                run_id = content_hash({**key, "seed": seed, "version": code_version()})
            else:
                run_id = content_hash({**content, "seed": seed})
            specs.append(
                RunSpec(
                    run_id=run_id,
                    experiment=exp.name,
                    variant=arm.variant,
                    replicate=replicate,
                    seed=seed,
                    sample_id=arm.sample_id,
                    params=arm.params,
                    model=exp.model,
                    scenario=arm.scenario,
                    inputs=arm.inputs,
                    invalid=arm.error,
                )
            )
    return specs
