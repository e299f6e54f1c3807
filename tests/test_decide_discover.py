"""``opmatrix discover``: PRIM recovers a planted box; failure expressions; end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, opmatrix

from simulation.decide.discover import failure_mask, in_box, point_labels, run_prim
from simulation.errors import ScenarioError

SCENARIO = REPO / "scenarios" / "validation" / "two_channel_budget.yaml"


def test_prim_recovers_a_planted_box() -> None:
    rng = np.random.default_rng(11)
    n, reps = 200, 6
    x = pd.DataFrame(rng.uniform(0, 1, (n, 4)), columns=["a", "b", "c", "d"])
    truth = x["a"].between(0.2, 0.6) & x["b"].between(0.5, 0.9)
    # each point's label is the failure share of its replicates, not one draw
    p_true = np.where(truth, 0.9, 0.05)
    p = rng.binomial(reps, p_true) / reps
    result = run_prim(x, p, target_density=0.8, bootstrap=2)
    lims = pd.DataFrame(result["box"]["lims"])
    fresh = pd.DataFrame(rng.uniform(0, 1, (20000, 4)), columns=["a", "b", "c", "d"])
    found = in_box(fresh, lims)
    planted = (fresh["a"].between(0.2, 0.6) & fresh["b"].between(0.5, 0.9)).to_numpy()
    coverage = (found & planted).sum() / planted.sum()
    density = (found & planted).sum() / found.sum()
    assert coverage >= 0.8 and density >= 0.8, (coverage, density)
    restricted = {lim["parameter"] for lim in result["box"]["limits"]}
    assert {"a", "b"} <= restricted
    # the planted dimensions reproduce in every bootstrap resample
    reproduce = {lim["parameter"]: lim["reproduce"] for lim in result["box"]["limits"]}
    assert reproduce["a"] == reproduce["b"] == 100.0
    traj = result["trajectory"]
    assert traj[0]["coverage"] == pytest.approx(1.0) and traj[0]["mass"] == 1.0


def test_failure_expression_and_labels() -> None:
    runs = pd.DataFrame(
        {
            "sample_id": [0, 0, 1, 1],
            "param:x": [0.1, 0.1, 0.9, 0.9],
            "cost_per_acquisition": [200.0, 100.0, 90.0, np.nan],
            "conversion_rate": [0.2, 0.05, 0.3, 0.3],
        }
    )
    fail = failure_mask(runs, "cpa > 150 or conversion_rate < 0.1")
    assert fail.tolist() == [True, True, False, False]  # undefined CPA compares false
    _x, p, n = point_labels(runs, ["x"], fail)
    assert p.tolist() == [1.0, 0.0] and n.tolist() == [2, 2]
    with pytest.raises(ScenarioError, match="unknown KPI 'cpaa'"):
        failure_mask(runs, "cpaa > 1")
    with pytest.raises(ScenarioError, match="not a condition"):
        failure_mask(runs, "conversion_rate + 1")


def test_discover_end_to_end_on_a_stored_sweep(tmp_path: Path) -> None:
    exp = tmp_path / "disc.yaml"
    exp.write_text(
        f"name: disc\nscenario: {SCENARIO}\nreplicates: 2\n"
        "overrides: {days: 40, population.size: 3000}\n"
        "sweep:\n  sampler: lhs\n  samples: 16\n  seed: 3\n  parameters:\n"
        "    channels.channel_a.budget: {low: 0, high: 10000}\n"
        "    channels.channel_b.budget: {low: 0, high: 10000}\n",
        encoding="utf-8",
    )
    res = str(tmp_path / "results")
    swept = opmatrix("sweep", str(exp), "--executor", "serial", "--results", res, "-q", timeout=600)
    assert swept.returncode == 0, swept.stderr
    out = opmatrix(
        "discover", str(exp), "--fail", "cost_per_acquisition > 20", "--executor", "serial",
        "--results", res, "--confirm", "2", "--bootstrap", "2", "-q", timeout=600,
    )
    assert out.returncode == 0, out.stderr
    folder = next((tmp_path / "results" / "disc" / "discover").glob("*/result.json")).parent
    result = json.loads((folder / "result.json").read_text(encoding="utf-8"))
    assert (folder / "report.html").is_file() and (folder / "prim_tradeoff.png").is_file()
    assert result["n_points"] == 16 and result["replicates"] == 2
    assert result["confirmation"]["n_inside"] == 2
    names = {s["parameter"] for s in result["scores"]}
    assert names == {"channels.channel_a.budget", "channels.channel_b.budget"}
    assert all(s["extra_trees_noise_sd"] >= 0 for s in result["scores"])
    assert "channels.channel_" in result["cart"]["rules"]
    bad = opmatrix("discover", str(exp), "--fail", "cpx > 1", "--results", res, timeout=600)
    assert bad.returncode == 2 and "unknown KPI 'cpx'" in bad.stderr
