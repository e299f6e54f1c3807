"""Issue 15, everyday use: tables that fit 80 columns, machine-readable formats, money and
p-values a strategy team can read, and the Chinese interface of the CLI tables."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
from rich.console import Console

from simulation.cli.output import Column, OutTable, emit
from simulation.formatting import fmt, fmt_ci
from simulation.i18n import kpi_label, set_lang, tr
from simulation.runner.analysis import holm
from tests.conftest import run_cli

METRICS = ["conversion_rate", "retention_30d", "retention_90d", "retention_180d",
           "cost_per_acquisition", "ltv", "roi"]
VARIANTS = ["preset_baseline_long_name", "preset_more_douyin_budget", "no_branch", "b4"]


def _compare_like() -> OutTable:
    cols = [Column("variant", "variant", align="left"), Column("n", "n")]
    cols += [Column(m, kpi_label(m, short=True)) for m in METRICS]
    cells = [[v, "10", *(["12.3% [11.0%, 13.5%]"] * 4), "¥1,234 [¥1,100, ¥1,350]",
              "¥98.50 [¥90.00, ¥107.00]", "−25.0% [−40.0%, −10.0%]"] for v in VARIANTS]
    return OutTable.of_cells("mean [95 % CI]", cols, cells)


def _render(table: OutTable, width: int = 80) -> str:
    buf = io.StringIO()
    emit(table, "table", Console(file=buf, width=width, no_color=True, legacy_windows=False))
    return buf.getvalue()


def test_wide_tables_fit_80_columns_without_cutting_names() -> None:
    text = _render(_compare_like())
    assert max(len(line) for line in text.splitlines()) <= 80
    for name in [*VARIANTS, "conversion", "CPA", "ROI", "¥1,234 [¥1,100, ¥1,350]"]:
        assert name in text, name
    assert "…" not in text
    # one CI is one line: no cell wrapped onto a second line
    assert text.count("12.3% [11.0%, 13.5%]") == 4 * len(VARIANTS)


def test_machine_readable_formats(capsys: pytest.CaptureFixture[str]) -> None:
    cols = [Column("variant", "variant", align="left"), Column("spend", "spend", "money")]
    table = OutTable("t", cols, [["a", 1.5], ["b|c", float("nan")]], notes=["a note"])
    emit(table, "csv")
    out = capsys.readouterr()
    assert out.out == "variant,spend\na,1.5\nb|c,\n" and "a note" in out.err
    emit(table, "json")
    data = json.loads(capsys.readouterr().out)
    assert data["rows"] == [{"variant": "a", "spend": 1.5}, {"variant": "b|c", "spend": None}]
    emit(table, "markdown")
    md = capsys.readouterr().out
    assert "| a | ¥1.50 |" in md and "b\\|c" in md and "|:---|---:|" in md


def test_money_sign_and_holm_adjusted_p_values() -> None:
    assert fmt(-1.45, "money") == "\u2212¥1.45" and fmt(-1234.0, "money") == "\u2212¥1,234"
    assert fmt(1.45, "money") == "¥1.45"
    # a payback: whole days within a year, years beyond, as docs/presets.md writes them
    assert (fmt(306.4, "days"), fmt(1214.3, "days"), fmt(None, "days")) == ("306 d", "3.3 yr", "—")
    assert fmt_ci(590.0, -3382.0, 4526.0, "days") == "1.6 yr [\u22129.3 yr, 12.4 yr]"
    adjusted = holm(np.array([0.01, 0.04, 0.03, np.nan]))
    assert np.allclose(adjusted[:3], [0.03, 0.06, 0.06]) and np.isnan(adjusted[3])


def test_chinese_labels_come_from_the_kpi_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    from simulation import kpis

    try:
        set_lang("zh")
        for k in kpis.all_kpis():
            assert re.search("[\u4e00-\u9fff]", kpi_label(k.name)), k.name
        assert kpi_label("cost_per_acquisition") == kpis.get("cost_per_acquisition").label_zh
        assert tr("{n} row(s)", n=3) == "3 行"
        monkeypatch.setenv("OPMATRIX_LANG", "en")
        set_lang(None)
        assert kpi_label("cost_per_acquisition", short=True) == "CPA"
        monkeypatch.setenv("OPMATRIX_LANG", "zh_CN.UTF-8")
        set_lang(None)
        assert kpi_label("conversion_rate") == "转化率"
    finally:
        set_lang("en")


def test_bad_language_is_a_clear_error() -> None:
    code, _, err = run_cli("--lang", "fr", "scenarios")
    assert code == 2 and "not a language" in err
