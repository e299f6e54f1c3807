"""The KPI registry is the one place a KPI's name, labels, format and direction come from."""

from __future__ import annotations

import pytest

from simulation import kpis, load_scenario, run
from simulation.cli.common import summary_table
from simulation.formatting import fmt_kpi
from simulation.plots.experiment_plots import metric_label
from simulation.runner.experiment import DEFAULT_OUTCOMES, KPI_COLUMNS
from tests.conftest import REPO

NOT_KPIS = {"represents_customers", "scale"}  # provenance of the run, not outcomes


@pytest.fixture(scope="module")
def summary() -> dict:
    scenario = load_scenario(REPO / "scenarios" / "quickstart.yaml",
                             ["population.size=1000", "days=40"])
    return run(scenario, seed=3).summary


def test_every_scalar_summary_value_is_a_registered_kpi_and_back(summary: dict) -> None:
    scalars = {k for k, v in summary.items() if not isinstance(v, dict)} - NOT_KPIS
    # per-lever contributions appear only with incrementality.contributions (test_incremental)
    optional = {n for n in kpis.names() if n.startswith(("loo_", "loi_", "interaction_"))}
    # the groups' operator KPIs appear only when groups.operators is declared (test_groups)
    optional |= {"group_members_per_operator", "groups_run_share"}
    assert scalars == set(kpis.names()) - optional, "register new KPIs in simulation/kpis.py"
    for seg in summary["segments"].values():
        assert set(seg) <= set(kpis.names())


def test_every_kpi_is_fully_described() -> None:
    for k in kpis.all_kpis():
        assert k.label and k.short and k.label_zh and k.description, k.name
        assert k.format in {"int", "pct", "money", "days", ""}


def test_views_read_the_registry() -> None:
    assert kpis.names("runs") == KPI_COLUMNS
    assert kpis.names("outcome") == DEFAULT_OUTCOMES
    assert metric_label("conversion_rate") == "conversion rate (%)"
    assert metric_label("cost_per_acquisition") == "cost per acquisition (¥)"
    assert metric_label("no_such_metric") == "no such metric"
    assert fmt_kpi("conversion_rate", 0.1234) == "12.3%"
    assert fmt_kpi("cost_per_acquisition", 1234.4) == "¥1,234"
    assert kpis.label("conversion_rate", "zh") == "转化率"


def test_direction_drives_ranking() -> None:
    assert not kpis.maximise("cost_per_acquisition")
    assert kpis.maximise("conversion_rate")
    assert kpis.maximise("customers")  # neutral: maximised, as an objective always was


def test_registering_is_one_call_and_twice_is_an_error() -> None:
    extra = kpis.KPI("test_only_kpi", "test KPI", "测试", "test", "money", "lower",
                     frozenset({"table"}), description="a KPI registered by this test")
    try:
        kpis.register(extra)
        assert kpis.names("table")[-1] == "test_only_kpi"
        assert kpis.axis_label("test_only_kpi") == "test KPI (¥)"
        table = summary_table({"test_only_kpi": 12345.0, "segments": {}}, "t")
        cells = table.display() if table.view is None else table.view.cells
        assert "test KPI" in [row[0] for row in cells]
        assert "¥12,345" in [row[1] for row in cells]
        with pytest.raises(ValueError, match="registered already"):
            kpis.register(extra)
        with pytest.raises(ValueError, match="unknown group"):
            kpis.register(kpis.KPI("x", "x", "", "x", "count", "higher", frozenset({"nope"})))
    finally:
        kpis._REGISTRY.pop("test_only_kpi", None)
