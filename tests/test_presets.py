"""Every preset in scenarios/ runs through the real ``opmatrix`` CLI (short horizon, small
population) and writes consistent outputs; ``opmatrix scenarios`` lists each with a description;
each preset's header cites its sources."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from simulation import load_scenario
from tests.conftest import REPO, opmatrix

PRESETS = sorted(p.stem for p in (REPO / "scenarios").glob("*.yaml"))
DAYS = 20
SIZE = 1500


def test_all_issue_presets_exist() -> None:
    wanted = {
        "cmb_credit_card", "ccb_credit_card", "cgb_pilot", "payroll", "social_security_elderly",
        "branch_neighbourhood", "webank_sme", "mybank_sme", "webank_public_to_private",
        "operating_matrix",
    }
    assert wanted <= set(PRESETS)


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_runs_through_the_cli(preset: str, tmp_path: Path) -> None:
    out = tmp_path / preset
    proc = opmatrix(
        "run", preset, "--days", str(DAYS), "--set", f"population.size={SIZE}",
        "--no-plots", "--quiet", "--out", str(out),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    kpis = summary["kpis"]
    assert summary["scenario"]["name"] == load_scenario(REPO / "scenarios" / f"{preset}.yaml").name
    assert summary["days"] == DAYS
    assert kpis["customers"] == SIZE
    assert 0 <= kpis["acquisitions"] <= SIZE - kpis["stock_customers"]
    assert kpis["spend"] >= 0
    assert sum(kpis["acquisitions_by_source"].values()) == kpis["acquisitions"]
    daily = pd.read_parquet(out / "daily.parquet")
    n_segments = daily["segment"].nunique()
    assert len(daily) == (DAYS + 1) * n_segments
    last = daily[daily["day"] == DAYS]
    assert last["customers"].sum() == SIZE
    ledger = pd.read_parquet(out / "ledger.parquet")
    assert ledger["spend"].sum() == pytest.approx(kpis["spend"], rel=1e-9, abs=1e-6)


def test_scenarios_command_lists_every_preset() -> None:
    proc = opmatrix("scenarios")
    assert proc.returncode == 0, proc.stderr
    assert "invalid" not in proc.stdout
    for preset in PRESETS:
        sc = load_scenario(REPO / "scenarios" / f"{preset}.yaml")
        assert sc.description, f"{preset} has no description"
        assert preset in proc.stdout


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_header_cites_its_sources(preset: str) -> None:
    text = (REPO / "scenarios" / f"{preset}.yaml").read_text(encoding="utf-8")
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    assert re.search(r"\[00[0-4]\]", header), f"{preset}: header cites no source"
    assert "docs/sources.md" in header, f"{preset}: header does not point to docs/sources.md"
