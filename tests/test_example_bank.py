"""The example bank dataset (scripts/make_example_bank.py) round-trips through the data-in path."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

from simulation.decide import calibrate as cal_mod
from simulation.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "bank"


def _script():
    spec = importlib.util.spec_from_file_location("make_example_bank",
                                                  ROOT / "scripts" / "make_example_bank.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_files_reload_and_reproduce_their_kpis(tmp_path: Path) -> None:
    bank = _script()
    bank.make(tmp_path, 600, seed=3)
    sc = load_scenario(tmp_path / "scenario.yaml")
    assert sc.population.size == 600
    kpis = pd.read_csv(tmp_path / "kpis.csv")
    assert set(kpis["channel"]) == {*bank.CHANNELS, "word_of_mouth", "all"}
    assert kpis["month"].max() == 12
    again = bank.world_kpis(tmp_path / "scenario.yaml")
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "kpis.csv"),
                                  pd.read_csv(_csv(again, tmp_path / "again.csv")))
    customers = pd.read_csv(tmp_path / "customers.csv")
    edges = pd.read_csv(tmp_path / "edges.csv")
    assert set(edges["src"]) | set(edges["dst"]) <= set(customers["customer_id"])
    assert set(edges["layer"]) == {"colleague", "referral", "neighbourhood"}


def _csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def test_shipped_example_matches_the_script_and_loads(tmp_path: Path) -> None:
    bank = _script()
    import numpy as np

    rng = np.random.default_rng(12)  # the script's default seed and size
    table = bank.customers(5000, rng)
    shipped = pd.read_csv(EXAMPLE / "data" / "customers.csv", keep_default_na=False)
    assert (shipped["customer_id"] == table["customer_id"]).all()
    assert (shipped["segment"] == table["segment"]).all()
    shipped_edges = pd.read_csv(EXAMPLE / "data" / "edges.csv")
    assert len(shipped_edges) == len(bank.edges(table, rng))
    cal = cal_mod.prepare(EXAMPLE / "scenario.yaml", EXAMPLE / "targets.yaml",
                          EXAMPLE / "params.yaml", tmp_path / "o")
    assert cal.base.population.size == 5000
    assert [t.name for t in cal.targets.targets][-1] == "call_to_wecom_adds"
    assert set(cal.names) == set(bank.TRUTH)
    # the shipped KPI sheet is what today's model makes of the shipped files at TRUTH (a model
    # change that moves them must regenerate them: python scripts/make_example_bank.py)
    now = pd.read_csv(_csv(bank.world_kpis(EXAMPLE / "scenario.yaml"), tmp_path / "now.csv"))
    pd.testing.assert_frame_equal(now, pd.read_csv(EXAMPLE / "data" / "kpis.csv"))
