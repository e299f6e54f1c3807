"""Population weights (issue 14): a sample whose rows each stand for w customers reproduces the
whole population's KPIs, with costs, budgets and capacities counted in represented customers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simulation import OperatingMatrixModel, load_scenario
from simulation.result import collect_result

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "scenarios" / "quickstart.yaml"
PRESET = REPO / "scenarios" / "operating_matrix.yaml"
KPIS = ("customers", "acquisitions", "spend", "value_acquired", "conversion_rate", "churned",
        "value_total", "aum", "gmv")  # money in represented yuan too (docs/kpis.md)


def _kpis(n: int, scale: float, seed: int) -> dict[str, float]:
    sc = load_scenario(
        QUICKSTART, [f"population.size={n}", f"population.scale={scale}", "days=120"]
    )
    model = OperatingMatrixModel(sc, seed)
    model.run()
    return {k: float(v) for k, v in collect_result(model).summary.items() if k in KPIS}


def test_a_ten_percent_weighted_sample_reproduces_the_full_population() -> None:
    seeds = range(6)
    full = [_kpis(10_000, 1.0, s) for s in seeds]
    sample = [_kpis(1_000, 10.0, 100 + s) for s in seeds]
    assert full[0]["customers"] == sample[0]["customers"] == 10_000
    for k in KPIS[1:]:
        a = np.array([r[k] for r in full])
        b = np.array([r[k] for r in sample])
        se = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
        # the douyin budget binds in both worlds only if costs are represented
        assert abs(a.mean() - b.mean()) <= 3 * se + 1e-9 * abs(a.mean()), (k, a.mean(), b.mean())
    spend_unweighted = _kpis(1_000, 1.0, 100)["spend"]
    assert np.mean([r["spend"] for r in sample]) > 5 * spend_unweighted


def test_weights_of_one_change_nothing() -> None:
    sc = load_scenario(QUICKSTART, ["population.size=3000", "days=40"])
    a = OperatingMatrixModel(sc, 3)
    b = OperatingMatrixModel(sc, 3)
    b.population.set_weights(np.ones(b.population.n))
    a.run()
    b.run()
    assert collect_result(a).summary == collect_result(b).summary


def test_unequal_weights_count_represented_customers(monkeypatch) -> None:
    """Unequal weights, as an imported customer table's ``weight`` column sets them."""
    import simulation.model

    sampled = simulation.model.sample_population
    w = np.where(np.arange(3000) % 3 == 0, 2.5, 0.75)

    def weighted(scenario, rng):
        pop = sampled(scenario, rng)
        pop.set_weights(w)
        return pop

    monkeypatch.setattr(simulation.model, "sample_population", weighted)
    sc = load_scenario(QUICKSTART, ["population.size=3000", "days=60"])
    model = OperatingMatrixModel(sc, 5)
    pop = model.population
    model.run()
    summary = collect_result(model).summary
    acquired = pop.converted_day >= 1
    assert summary["customers"] == pytest.approx(w.sum())
    assert summary["acquisitions"] == pytest.approx(w[acquired].sum())
    assert summary["value_acquired"] == pytest.approx((pop.value_accrued * w)[acquired].sum())
    # daily stage counts and the ledger count represented customers too
    assert model.recorder.stage_counts[-1].sum() == pytest.approx(w.sum())
    counted = {item for (item, event) in model.ledger.events if event == "conversions"}
    conversions = sum(model.ledger.events[(item, "conversions")].sum() for item in counted)
    codes = [pop.sources.index(item) for item in counted]
    assert conversions == pytest.approx(w[acquired & np.isin(pop.acquired_via, codes)].sum())


def test_group_and_adviser_capacities_are_in_represented_customers() -> None:
    sc = load_scenario(PRESET, ["population.size=4000", "population.scale=5", "days=30"])
    model = OperatingMatrixModel(sc, 2)
    model.run()
    groups = next(m for m in model.modules if m.name == "groups")
    advisers = next(m for m in model.modules if m.name == "advisers")
    assert groups.book.cap * 5 <= sc.groups.cap
    assert groups.group_sizes().max() * 5 <= sc.groups.cap
    assert advisers.load.max() * 5 <= sc.advisers.capacity


def test_bad_weights_are_refused() -> None:
    pop = OperatingMatrixModel(
        load_scenario(QUICKSTART, ["population.size=1000", "days=5"]), 0
    ).population
    for bad in (0.0, -1.0, np.nan):
        with pytest.raises(ValueError, match="finite and > 0"):
            pop.set_weights(bad)
