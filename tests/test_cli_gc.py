"""``opmatrix``'s entry point freezes its imports out of the garbage collector only as the real
command: a caller that runs commands in its own process must not have each call's garbage made
permanent (review S1: a dead 200k-customer model stayed alive)."""

from __future__ import annotations

import gc
from pathlib import Path

from simulation.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_main_with_argv_leaves_the_collector_unfrozen() -> None:
    before = gc.get_freeze_count()
    try:
        main(["validate", str(ROOT / "scenarios" / "quickstart.yaml")])
    except SystemExit as stop:  # a command may end with an explicit exit code
        assert stop.code in (0, None)
    assert gc.get_freeze_count() == before
