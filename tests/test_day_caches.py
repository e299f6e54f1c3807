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
