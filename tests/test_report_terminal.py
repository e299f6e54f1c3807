"""What the terminal shows at 80 columns: a run's KPI table split into parts without rows of
dashes, and compare's paired differences signed, with its note in the right number."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from simulation.cli.output import Column, OutTable, emit

SEGMENTS = ["credit_card", "payroll", "social_security_elderly", "branch_neighbourhood"]


def _render(table: OutTable, width: int = 80) -> str:
    buf = io.StringIO()
    emit(table, "table", Console(file=buf, width=width, no_color=True, legacy_windows=False))
    return buf.getvalue()


def test_a_split_kpi_table_leaves_out_the_rows_its_part_has_no_value_for() -> None:
    """A run table (total + 4 segments): KPIs defined for the total only (incremental ones)
    show in the total's part, not as rows of dashes in every segment's part, and the shorter
    labels let two segments share a part."""
    cols = [Column("kpi", "KPI", align="left"), Column("total", "total")]
    cols += [Column(s, s) for s in SEGMENTS]
    both = [[f"AUM of acquired customers {i}", "¥10,470,244", *(["¥1,440,860"] * 4)]
            for i in range(5)]
    total_only = [["CPA over the product's life, incremental", "¥199", *(["—"] * 4)],
                  ["ROI, incremental lifetime", "687.8%", *(["—"] * 4)]]
    text = _render(OutTable.of_cells("quickstart · seed 0", cols, both + total_only))
    assert max(len(line) for line in text.splitlines()) <= 80
    parts = text.split("quickstart · seed 0 (table ")[1:]
    assert len(parts) == 3  # total + credit_card | payroll + elderly | branch
    assert "CPA over the product's life, incremental" in parts[0]
    assert "payroll" in parts[1] and "social_security_elderly" in parts[1]
    for part in parts[1:]:
        assert "incremental" not in part and "—" not in part
        assert "2 rows without a value in these columns left out" in part
    assert "left out" not in parts[0]
    # a table that fits keeps every row, dashes included
    small = OutTable.of_cells("t", cols[:3], [r[:3] for r in both + total_only])
    assert "left out" not in _render(small) and "—" in _render(small)


def test_paired_differences_are_signed_and_the_note_counts_one_variant() -> None:
    """"Δ acquisitions 180 [158, 203]" read as a level next to "+1.8 pp": every difference is
    signed; the multiple-testing note says "of one variant", not "× 1 variants"."""
    from simulation.cli.commands_sweep import _diff_table

    diffs = pd.DataFrame({
        "variant": ["b"] * 3,
        "metric": ["acquisitions", "cost_per_acquisition", "conversion_rate"],
        "n_pairs": [10] * 3,
        "mean_diff": [180.0, -426.0, 0.018], "ci_low": [158.0, -465.0, 0.016],
        "ci_high": [203.0, -387.0, 0.020], "p_value": [0.001] * 3, "p_holm": [0.003] * 3,
    })
    table = _diff_table(diffs, "a")
    cells = table.view.cells[0]
    assert cells[1] == "+180 [+158, +203]*†"
    assert cells[2] == "\u2212¥426 [\u2212¥465, \u2212¥387]*†"
    assert cells[3] == "+1.8 pp [+1.6 pp, +2.0 pp]*†"
    assert table.notes[0].startswith("p-values of 3 tests (3 metrics of one variant)")


def test_searched_parameters_read_as_a_user_writes_them() -> None:
    """optimize's recommended parameters: a budget searched as a parameter in yuan (it was
    '4.219e+04', and left out of the report's table altogether), integers whole."""
    from simulation.decide.report import param_text

    assert param_text("perks.budget", 42194.92) == "¥42,195"
    assert param_text("channels.branch.cost_per_contact", 2.5) == "¥2.50"
    assert param_text("referral.cap_per_referrer", 12) == "12"
    assert param_text("groups.posts_per_week", 14.0) == "14"
    assert param_text("referral.invite_rate", 0.037056855833694106) == "0.03706"


def test_an_experiment_whose_runs_are_of_another_code_version_says_so(tmp_path) -> None:
    """Runs are keyed by the model's code version: after a code change `compare` finds none of
    them. "No stored runs; run sweep first" puzzled a user whose folder held 20; the message
    says whose code made them and that a sweep recomputes them."""
    import json

    from simulation.report.stale import no_runs_message
    from simulation.runner.specs import code_version

    root = tmp_path / "exp"
    assert no_runs_message(root).startswith(f"no stored runs in {root}")
    (root / "runs").mkdir(parents=True)
    for i in range(3):
        (root / "runs" / f"r{i}.json").write_text(json.dumps({"code_version": "0.1.0+old"}))
    text = no_runs_message(root)
    assert text.startswith(f"none of the 3 runs stored in {root} is of this code version "
                           f"({code_version()}): they were made by 0.1.0+old")
    assert "opmatrix sweep <experiment.yaml>" in text
    for i in range(3):
        (root / "runs" / f"r{i}.json").write_text(json.dumps({"code_version": code_version()}))
    assert "as it is defined now" in no_runs_message(root)


def test_display_only_modules_leave_the_code_version_alone(tmp_path, monkeypatch) -> None:
    """Rewording a message (formatting.py, i18n.py) must not make every stored sweep "of
    another code version"; editing a model module must."""
    import shutil

    from simulation.runner import specs

    src = Path(specs.__file__).resolve().parents[1]
    copy = tmp_path / "simulation"
    shutil.copytree(src, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    monkeypatch.setattr(specs, "__file__", str(copy / "runner" / "specs.py"))
    fingerprint = specs.code_version.__wrapped__
    before = fingerprint()
    assert before == specs.code_version()  # the copy fingerprints as the package does
    for name in ("formatting.py", "i18n.py"):
        (copy / name).write_text((copy / name).read_text() + "\n# reworded\n")
    assert fingerprint() == before
    (copy / "kernels.py").write_text((copy / "kernels.py").read_text() + "\n# changed\n")
    assert fingerprint() != before


def test_every_negative_number_has_the_same_minus_sign() -> None:
    """Levels printed "-67.2%" (a hyphen) beside "−¥1.45" (a minus sign): one sign now, in
    levels, intervals and differences (the dashboard's KPI cells: test_dashboard_session)."""
    from simulation.formatting import MINUS, fmt, fmt_ci, fmt_diff_ci

    assert MINUS == "\u2212"
    assert [fmt(-0.672, "pct"), fmt(-1.45, "money"), fmt(-3.0, "int"), fmt(-20.0, "days"),
            fmt(-3382.0, "days"), fmt(-0.004, "pp"), fmt(-0.25)] == [
        "−67.2%", "−¥1.45", "−3", "−20 d", "−9.3 yr", "−0.4 pp", "−0.25"]
    assert fmt_ci(-0.25, -0.4, -0.1, "pct") == "−25.0% [−40.0%, −10.0%]"
    assert fmt_diff_ci(5.0, -2.0, 12.0, "int") == "+5 [−2, +12]"
    assert fmt_diff_ci(-0.01, -0.02, 0.001, "pct") == "−1.0 pp [−2.0 pp, +0.1 pp]"
    assert fmt(99.996, "money") == "¥100"  # not "¥100.00"
    assert fmt(0.0, "money") == "¥0" and fmt(0.004, "money") == "¥0.00"
    texts = [fmt(v, k) for v in (-0.5, -12.0, -1e6) for k in ("pct", "money", "int", "days", "")]
    assert not [t for t in texts if "-" in t]


def test_a_share_interval_stops_at_100_percent_and_says_so() -> None:
    """Three replicates of a 30-day retention of 99.5–100 %: the Student-t interval reads
    "[99.35%, 100.34%]"; a share cannot pass 100 %, so compare's table, the experiment
    report's figure and the Pareto plot cut it there and the table says so. A share that can
    be negative (the incremental share) keeps its lower end; a ratio (ROI) is not cut."""
    from matplotlib.container import ErrorbarContainer

    from simulation.cli.commands_sweep import _summary_table
    from simulation.formatting import CLIPPED_NOTE, within
    from simulation.plots import experiment_plots as ep
    from simulation.runner.analysis import variant_summary

    runs = pd.DataFrame({"variant": ["a"] * 3 + ["b"] * 3, "status": "done",
                         "retention_30d": [0.995, 1.0, 0.9998, 0.5, 0.52, 0.51],
                         "roi": [-0.5, 1.5, 3.0, 0.1, 0.2, 0.3],
                         "incremental_share": [-0.2, 0.05, 0.3, 0.98, 0.99, 1.0]})
    metrics = ["retention_30d", "roi", "incremental_share"]
    summary = variant_summary(runs, metrics)
    raw = summary.set_index(["variant", "metric"])
    assert raw.loc[("a", "retention_30d"), "ci_high"] > 1.0  # the t-interval passes 100 %
    assert raw.loc[("b", "incremental_share"), "ci_high"] > 1.0
    table = _summary_table(summary, metrics)
    assert table.view.notes == [CLIPPED_NOTE] and table.notes == [CLIPPED_NOTE]
    a, b = table.view.cells
    assert a[2].endswith(", 100.0%]") and not b[2].endswith(", 100.0%]")
    assert a[3] == "{} [{}, {}]".format(*(
        f"{100 * v:.1f}%".replace("-", "\u2212") for v in raw.loc[("a", "roi")][
            ["mean", "ci_low", "ci_high"]]))  # ROI: as computed
    assert a[4].startswith("5.0% [\u2212") and b[4].endswith(", 100.0%]")
    row_a = dict(zip([c.key for c in table.columns], table.rows[0], strict=True))
    assert row_a["retention_30d_ci_high"] == 1.0  # csv/json say what the table shows
    plain = _summary_table(summary[summary["variant"] == "b"].assign(
        ci_high=lambda f: f["ci_high"].clip(upper=0.99)), metrics)
    assert plain.view.notes == []
    assert within("conversion_rate", float("nan"), float("nan"))[2] is False

    fig = ep.variant_comparison(runs, ["retention_30d"])
    ax = fig.axes[0]
    bars = next(c for c in ax.containers if isinstance(c, ErrorbarContainer))
    tops = bars.lines[2][0].get_segments()
    assert max(seg[:, 1].max() for seg in tops) == pytest.approx(100.0)
    assert ax.get_title().endswith("(CI cut at 100 %)")
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_a_number_that_prints_as_zero_has_no_sign() -> None:
    """compare showed "Δ ret. 30 d  +0.0 pp [−0.0 pp, +0.0 pp]" for a difference of a few
    thousandths of a point: a printed zero carries no sign; anything else keeps its own."""
    from simulation.formatting import fmt, fmt_diff_ci

    assert fmt_diff_ci(0.00003, -0.00004, 0.00008, "pct") == "0.0 pp [0.0 pp, 0.0 pp]"
    assert [fmt(-0.0004, "pct"), fmt(-0.001, "money"), fmt(-0.3, "int"), fmt(-0.004, "pp")] == [
        "0.0%", "¥0.00", "0", "\u22120.4 pp"]
    assert fmt_diff_ci(0.001, -0.002, 4.0, "money") == "¥0.00 [¥0.00, +¥4.00]"
