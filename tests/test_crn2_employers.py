"""Common random numbers inside the employers module (helper crn2, 2026-12-02).

Why: the employers' sizes, pay stabilities, outflow multipliers, the staff's employer and each
payday's "does it pay" came from the module's one sequential stream, in that order: switching
the outflow spread on or off (``outflow_sigma: 0`` draws nothing) sent the staff to other
employers and made other employers miss a payday, so a paired comparison of two payroll
set-ups differed by noise in who works where. With the screen not reading the outflow, the
spread changes only the employers' outflow multipliers: who works where, each employer's pay
stability and every payday's missed salaries must stay the same. Only the employers module
steps (the money layer would move other balances). Before the draws were keyed this failed at
set-up.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simulation import load_scenario
from simulation.model import OperatingMatrixModel
from simulation.strategies.base import Day
from simulation.strategies.employers import Employers

PRESET = Path(__file__).resolve().parent.parent / "scenarios" / "payroll.yaml"


def _run(outflow_sigma: float) -> tuple[Employers, np.ndarray, np.ndarray]:
    sc = load_scenario(PRESET, ["population.size=3000", "days=75",
                                f"employers.outflow_sigma={outflow_sigma}",
                                "employers.pay_stability.mean=0.8",  # paydays are missed
                                "employers.screen.min_outflow_multiplier=0"])
    model = OperatingMatrixModel(sc, 9)
    employers = model.module(Employers)
    assert isinstance(employers, Employers)
    missed = np.zeros((76, model.population.n), dtype=bool)
    for d in range(1, 76):
        employers.step(Day(d, (d - 1) % 7))
        missed[d] = employers.missed
    return employers, model.population.extra["employer"].copy(), missed


def test_the_outflow_spread_leaves_who_works_where_and_who_is_paid_unchanged() -> None:
    spread, employer_a, missed_a = _run(0.3)
    flat, employer_b, missed_b = _run(0.0)
    assert np.array_equal(employer_a, employer_b)
    assert np.array_equal(spread.stability, flat.stability)
    assert np.array_equal(spread.passes, flat.passes)
    assert np.array_equal(missed_a, missed_b)
    # the check bites: the spread is on in one world, and salaries are missed on paydays
    assert flat.outflow.std() == 0 and spread.outflow.std() > 0
    assert missed_b.any(axis=1).sum() >= 2
