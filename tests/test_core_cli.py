"""End-to-end: the real ``opmatrix`` command on small scenarios, as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml

from tests.conftest import REPO, opmatrix, small_scenario_dict


def scenario_file(tmp_path: Path, **changes) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(small_scenario_dict(**changes), sort_keys=False))
    return path


def test_run_writes_results_and_prints_summary(tmp_path: Path) -> None:
    out = tmp_path / "try1"
    proc = opmatrix(
        "run", str(scenario_file(tmp_path)), "--seed", "7", "--days", "40",
        "--set", "population.size=1500", "--out", str(out),
    )
    assert proc.returncode == 0, proc.stderr
    for label in ("conversion rate", "retention 30 d", "cost per acquisition", "spend", "LTV"):
        assert label in proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 7 and summary["days"] == 40
    assert summary["scenario"]["population"]["size"] == 1500
    assert summary["version"]
    daily = pd.read_parquet(out / "daily.parquet")
    required = {"day", "segment", "customers", "converted_cumulative", "active",
                "churned_cumulative", "spend_cumulative"}
    assert required <= set(daily.columns)
    assert len(daily) == 41 * 2
    assert daily.groupby("day")["customers"].sum().eq(1500).all()
    final = daily[daily.day == 40]
    assert final["spend_cumulative"].sum() == summary["kpis"]["spend"]
    png = out / "conversion_retention.png"
    assert png.stat().st_size > 10_000
    assert not list(tmp_path.glob(".tmp-*"))


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, days=30)
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        proc = opmatrix("run", str(path), "--seed", "3", "--out", str(out), "-q", "--no-plots")
        assert proc.returncode == 0, proc.stderr
    a, b = (json.loads((o / "summary.json").read_text()) for o in outs)
    assert a == b
    pd.testing.assert_frame_equal(
        pd.read_parquet(outs[0] / "daily.parquet"), pd.read_parquet(outs[1] / "daily.parquet")
    )


def test_bad_input_is_three_lines_exit_2_no_traceback(tmp_path: Path) -> None:
    path = scenario_file(tmp_path)
    out = tmp_path / "never"
    proc = opmatrix(
        "run", str(path), "--set", "channels.ads.conversion_on_contact=1.3", "--out", str(out)
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 3
    assert str(path) in lines[0] and "channels.ads.conversion_on_contact" in lines[0]
    assert "probability in [0, 1]" in lines[0]
    assert not out.exists()


def test_validate_ok_and_bad(tmp_path: Path) -> None:
    proc = opmatrix("validate", str(scenario_file(tmp_path)))
    assert proc.returncode == 0 and "ok" in proc.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\npopulation: {size: -3, segments: {}}\n")
    proc = opmatrix("validate", str(bad))
    assert proc.returncode == 2 and "population" in proc.stderr and "Traceback" not in proc.stderr


def test_bass_validation_scenario_takes_p_and_q(tmp_path: Path) -> None:
    out = tmp_path / "bass"
    proc = opmatrix(
        "run", "scenarios/validation/bass.yaml",
        "--set", "channels.mass_media.daily_reach=0.02", "--set", "word_of_mouth.imitation=0.2",
        "--set", "population.size=3000", "--days", "60", "--out", str(out), "-q",
    )
    assert proc.returncode == 0, proc.stderr
    kpis = json.loads((out / "summary.json").read_text())["kpis"]
    assert kpis["conversion_rate"] > 0.95  # p + q this large saturates within 60 days


def test_scenarios_lists_presets() -> None:
    proc = opmatrix("scenarios")
    assert proc.returncode == 0
    assert "quickstart" in proc.stdout


def test_quickstart_preset_is_valid() -> None:
    proc = opmatrix("validate", str(REPO / "scenarios" / "quickstart.yaml"))
    assert proc.returncode == 0, proc.stderr


def test_unknown_preset_lists_the_presets() -> None:
    proc = opmatrix("run", "no_such_preset")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "no such file or preset" in proc.stderr and "quickstart" in proc.stderr


def test_out_never_replaces_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "important.txt").write_text("x")
    path = scenario_file(tmp_path, days=10)
    proc = opmatrix("run", str(path), "--out", str(keep), "-q", "--no-plots")
    assert proc.returncode == 2 and "not an earlier run folder" in proc.stderr
    assert (keep / "important.txt").read_text() == "x"
    run_dir = tmp_path / "run"
    for _ in range(2):  # an earlier run's folder is replaced in one rename
        proc = opmatrix("run", str(path), "--out", str(run_dir), "-q", "--no-plots")
        assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
