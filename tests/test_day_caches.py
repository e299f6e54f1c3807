"""Sets the daily step keeps instead of rescanning the population (groups' members, advisers'
served customers, the accounts whose value multiplier is raised): after every day they equal
the scan."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simulation import OperatingMatrixModel, load_scenario

PRESET = Path(__file__).resolve().parents[1] / "scenarios" / "operating_matrix.yaml"


def test_kept_member_sets_equal_a_scan_every_day() -> None:
    sc = load_scenario(PRESET, ["population.size=6000", "days=90", "advisers.holdings_uplift=0.1"])
    model = OperatingMatrixModel(sc, seed=3)
    groups = next(m for m in model.modules if m.name == "groups")
    advisers = next(m for m in model.modules if m.name == "advisers")
    seen = [0, 0]
    for _ in range(model.days):
        model.step()
        assert np.array_equal(groups.members(), np.flatnonzero(groups.group >= 0))
        assert np.array_equal(advisers.served(), np.flatnonzero(advisers.adviser >= 0))
        up = advisers.value_mult
        want = np.where(advisers.adviser >= 0, 1.0 + advisers.cfg.holdings_uplift, 1.0)
        assert advisers.cfg.holdings_uplift > 0 and np.array_equal(up, want)
        seen[0] = max(seen[0], groups.members().size)
        seen[1] = max(seen[1], advisers.served().size)
    assert min(seen) > 0  # both sets were non-trivial


def test_sorted_set_kernels_equal_numpy() -> None:
    """The merge passes that keep those sets: drop = setdiff1d, merge = union1d, and the
    lifecycle's paired scan = two flatnonzero."""
    from simulation import kernels

    rng = np.random.default_rng(4)
    for n in (0, 1, 1000, 70_001):
        a = np.flatnonzero(rng.random(n) < 0.4)
        b = a[rng.random(a.size) < 0.3]
        c = np.setdiff1d(np.arange(n), a)[:: 3]
        assert np.array_equal(kernels.drop_sorted(a, b), np.setdiff1d(a, b))
        assert np.array_equal(kernels.drop_sorted(a, c), a)  # absent ones are ignored
        assert np.array_equal(kernels.merge_sorted(a, c), np.union1d(a, c))
        stage = rng.integers(0, 8, n).astype(np.int8)
        one, two = kernels.where_equal_pair(stage, np.int8(5), np.int8(6))
        assert np.array_equal(one, np.flatnonzero(stage == 5))
        assert np.array_equal(two, np.flatnonzero(stage == 6))
