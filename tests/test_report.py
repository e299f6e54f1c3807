"""`opmatrix report` end to end: a run folder and an experiment, each to one HTML file that
embeds its figures and opens offline (checked in headless Chromium)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
from typer.testing import CliRunner

from simulation.cli import _register, app
from simulation.runner import ResultStore, load_experiment
from simulation.runner.executors import SerialExecutor
from simulation.runner.sweep import run_sweep

QUICKSTART = Path("scenarios/quickstart.yaml").resolve()
CHROMIUM = Path("/usr/bin/chromium")
EXPERIMENT = f"""
name: report_variants
scenario: {QUICKSTART}
days: 60
overrides: {{population.size: 600}}
replicates: 3
variants:
  baseline: {{}}
  more_branch: {{channels.branch.daily_reach: 0.006}}
baseline: baseline
"""


@pytest.fixture(scope="module")
def cli():
    _register()
    return CliRunner()


@pytest.fixture(scope="module")
def run_report(cli, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "r1"
    res = cli.invoke(app, ["run", "quickstart", "--days", "60", "--seed", "4", "-q",
                           "--set", "population.size=1200", "--out", str(out)])
    assert res.exit_code == 0, res.output
    res = cli.invoke(app, ["report", str(out)])
    assert res.exit_code == 0, res.output
    assert "report written to" in res.output
    return out, out / "report.html"


@pytest.fixture(scope="module")
def experiment_report(cli, tmp_path_factory):
    root = tmp_path_factory.mktemp("exp")
    path = root / "exp.yaml"
    path.write_text(EXPERIMENT)
    results = root / "results"
    run_sweep(ResultStore.for_experiment(load_experiment(path), results), SerialExecutor())
    html = root / "report.html"
    res = cli.invoke(app, ["report", str(path), "--results", str(results), "--out", str(html)])
    assert res.exit_code == 0, res.output
    return results / "report_variants", html


def _external_refs(text: str) -> list[str]:
    refs = re.findall(r'(?:src|href)="([^"]+)"', text)
    return [r for r in refs if not r.startswith("data:")]


def test_run_report_holds_kpis_figures_scenario_and_seed(run_report):
    run_dir, html = run_report
    text = html.read_text(encoding="utf-8")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert f"{summary['kpis']['acquisitions']:,}" in text
    assert f"{100 * summary['kpis']['conversion_rate']:.2f}%" in text
    # funnel, conversion/retention, cost breakdown, ring migration and the network snapshot
    assert text.count("data:image/png;base64,") == 6  # 5 run figures (money included) + network
    assert "re-simulation reproduced the recorded KPIs exactly" in text
    table = text[text.index("Spend by item"):text.index("Figures")]
    assert re.search(r"<td>card_issuance</td>\s*<td>product</td>", table)  # not "other"
    assert "Resolved scenario" in text and "word_of_mouth:" in text
    assert re.search(r"<details><summary>\d+ lines of YAML — show</summary><pre>", text)
    assert f"<dd>{summary['seed']}</dd>" in text
    assert f"<dd>{summary['version']}</dd>" in text
    assert _external_refs(text) == []


def test_experiment_report_has_cis_and_paired_differences(experiment_report):
    _store_root, html = experiment_report
    text = html.read_text(encoding="utf-8")
    assert "KPIs by variant: mean [95 % CI]" in text
    assert re.search(r"\d+\.\d\d% \[\d+\.\d\d%, \d+\.\d\d%\]", text), "mean [low, high]"
    assert "Paired differences vs &#39;baseline&#39;" in text
    assert re.search(r"[+-]\d+\.\d\d pp \[", text), "differences of shares in points"
    assert "channels.branch.daily_reach: 0.006" in text  # what the variant changes
    assert "<dd>0, 1, 2</dd>" in text  # seeds shared by every variant
    # variants, forest, frontier, retention (no sweep: no heatmap, no tornado)
    assert text.count("data:image/png;base64,") == 4
    assert _external_refs(text) == []


def test_report_of_a_bad_target_is_a_short_error(tmp_path):
    opmatrix = Path(sys.executable).parent / "opmatrix"
    empty = tmp_path / "empty"
    empty.mkdir()
    res = subprocess.run([str(opmatrix), "report", str(empty)], capture_output=True, text=True)
    assert res.returncode == 2
    assert "neither a run folder (summary.json) nor an experiment folder" in res.stderr
    assert len(res.stderr.strip().splitlines()) <= 3


def test_an_error_while_the_report_is_built_is_its_first_line(tmp_path):
    """A run folder whose summary.json is broken fails inside the report's progress bar; off a
    terminal that bar left an empty line, so the error was the second line of the output."""
    from tests.conftest import run_cli

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "summary.json").write_text("{ not json", encoding="utf-8")
    code, out, err = run_cli("report", str(bad), "--no-network")
    assert code == 2 and out == ""
    assert err.startswith(f"error in {bad}: not a readable run folder: ")
    assert len(err.strip().splitlines()) <= 3


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium")
def test_reports_open_offline_in_chromium(run_report, experiment_report, tmp_path):
    from playwright.sync_api import sync_playwright

    requested: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                    args=["--no-sandbox", "--disable-gpu", "--no-first-run",
                                          "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("request", lambda r: requested.append(r.url))
        for name, (_, html) in (("run", run_report), ("experiment", experiment_report)):
            page.goto(html.as_uri())
            images = page.locator("figure img")
            assert images.count() >= 4
            loaded = page.evaluate(
                "() => Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
            )
            assert loaded, f"{name} report: an embedded figure did not decode"
            shot = tmp_path / f"{name}_report.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 50_000
        browser.close()
    outside = [u for u in requested if urlparse(u).scheme not in ("file", "data")]
    assert outside == [], outside
