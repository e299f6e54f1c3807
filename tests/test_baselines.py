"""Golden baselines: no preset's KPIs move without regenerating tests/baselines.yaml.

See tests/golden.py for the size, seed and tolerance, and scripts/update_baselines.py to
regenerate (with the reason in the commit message).
"""

from __future__ import annotations

import pytest

from tests import golden

STORED = golden.read_baselines()
PATHS = {golden.preset_key(p): p for p in golden.preset_paths()}


def test_every_preset_has_a_baseline() -> None:
    missing = sorted(set(PATHS) - set(STORED))
    stale = sorted(set(STORED) - set(PATHS))
    assert not missing, f"no baseline for {missing}: run scripts/update_baselines.py"
    assert not stale, f"baselines for presets that are gone: {stale}"


@pytest.mark.parametrize("preset", sorted(PATHS))
def test_preset_kpis_match_baseline(preset: str) -> None:
    if preset not in STORED:
        pytest.skip("no baseline yet (test_every_preset_has_a_baseline fails)")
    changes = golden.diff(STORED[preset], golden.compute_one(PATHS[preset]))
    assert not changes, (
        f"{preset}: KPIs moved against tests/baselines.yaml:\n  " + "\n  ".join(changes[:40])
        + "\nIf the move is intended, run scripts/update_baselines.py and state why in the commit."
    )


def test_diff_catches_a_moved_count_and_float() -> None:
    old = {"a": {"n": 3, "x": 0.5, "s": {"k": 1}}}
    assert golden.diff(old, {"a": {"n": 3, "x": 0.5 * (1 + 1e-12), "s": {"k": 1}}}) == []
    moved = golden.diff(old, {"a": {"n": 4, "x": 0.5 * (1 + 1e-6), "s": {"k": 1, "j": 2}}})
    assert len(moved) == 3
    assert any(line.startswith("~ a.n") for line in moved)
    assert any(line.startswith("+ a.s.j") for line in moved)
