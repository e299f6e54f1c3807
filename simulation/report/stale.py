"""What to tell a user whose experiment finds no stored runs.

Stored runs are keyed by what their numbers depend on, the model's code version included
(``runner.specs.run_content``), so after any change to the model's code an experiment's runs
are no longer found and a sweep recomputes them instead of mixing two models. "No stored runs;
run `opmatrix sweep` first" is then a puzzle to a user whose results folder holds runs: this
says which case it is.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

#: How many run records are read to name the code versions they were made by.
SAMPLE = 200


def no_runs_message(root: Path | str) -> str:
    """Why the experiment stored at ``root`` has no usable runs, and what to do."""
    from simulation.runner.specs import code_version

    root = Path(root)
    files = sorted((root / "runs").glob("*.json"))
    if not files:
        return f"no stored runs in {root}; run `opmatrix sweep <experiment.yaml>` first"
    versions: Counter[str] = Counter()
    for path in files[:SAMPLE]:
        try:
            versions[str(json.loads(path.read_text(encoding="utf-8")).get("code_version"))] += 1
        except (OSError, ValueError):
            continue
    now = code_version()
    older = [v for v, _ in versions.most_common() if v != now]
    if older:
        made = ", ".join(older[:2]) + (" …" if len(older) > 2 else "")
        return (f"none of the {len(files):,} runs stored in {root} is of this code version "
                f"({now}): they were made by {made}, and the model's code has changed since, so "
                "they are not mixed with its results; run `opmatrix sweep <experiment.yaml>` "
                "to recompute them")
    return (f"none of the {len(files):,} runs stored in {root} is one of this experiment's "
            "runs as it is defined now (its scenario, variants, sweep or seeds changed); run "
            "`opmatrix sweep <experiment.yaml>` for them")
