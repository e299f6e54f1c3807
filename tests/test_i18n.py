"""Bad input under ``--lang zh``: the error framing and the recurring phrases in Chinese, with the
file, the field path (or row and column), the names and the numbers as written; exit 2."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.conftest import run_cli

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "scenarios" / "quickstart.yaml"

BAD = """\
name: bad
days: 30
population:
  size: 1000
  segments:
    a: {share: 0.5, churn_hazard: 2}
    b: {share: "half"}
channels:
  ads: {daily_reach: 0.1, cost_per_contact: -1, conversion_on_contact: 0.1, kind: tv}
"""


def test_a_bad_set_value_under_zh_names_the_field_and_what_is_allowed() -> None:
    code, out, err = run_cli("--lang", "zh", "run", "quickstart", "--days", "10",
                             "--set", "population.size=-5")
    assert code == 2 and out == ""
    assert err == f"错误：{QUICKSTART}：population.size（来自 --set）：应大于或等于 1，实际为 -5\n"
    code, _, err = run_cli("--lang", "zh", "run", "quickstart", "--set", "populaton.size=5")
    assert code == 2
    assert err.startswith(f"错误：{QUICKSTART}：populaton（来自 --set populaton.size=5，"
                          "文件中原本没有）：未知的键 'populaton'；可用：name, description, days,")
    code, _, err = run_cli("--lang", "zh", "run", "quickstrat")
    assert code == 2 and err.startswith("错误：quickstrat：没有这个文件或预设；可用预设：")
    assert "quickstart" in err


def test_a_bad_file_under_zh_keeps_lines_paths_and_the_count(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD, encoding="utf-8")
    code, out, err = run_cli("--lang", "zh", "validate", str(path))
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"错误：{path}：population.segments.a.churn_hazard（第 6 行）：必须是 [0, 1] 内的概率，"
        "实际为 2.0",
        "  另外 population.segments.b.share（第 7 行）：应为数字（无法把这段文字读成数字），"
        "实际为 'half'",
        "  另有 2 个问题",
    ]
    code, _, err = run_cli("validate", str(path))  # English as before
    assert code == 2 and err.splitlines()[0] == (
        f"error in {path}: population.segments.a.churn_hazard (line 6): must be a probability "
        "in [0, 1], got 2.0")
    assert err.splitlines()[2] == "  and 2 more problem(s)"


def test_a_bad_customer_table_under_zh_names_rows_and_column(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "name: byod\ndays: 5\npopulation:\n  source: customers.csv\n"
        "  columns: {id: cust, segment: seg}\n  segments:\n"
        "    young: {share: 0.5}\n    old: {share: 0.5}\n", encoding="utf-8")
    pd.DataFrame({"cust": [f"c{i}" for i in range(40)],
                  "seg": ["young", "old"] * 20,
                  "churn_hazard": [0.01] * 38 + [1.5, 2.0]}).to_csv(
        tmp_path / "customers.csv", index=False)
    code, _, err = run_cli("--lang", "zh", "validate", str(tmp_path / "s.yaml"))
    assert code == 2
    assert err == (f"错误：{(tmp_path / 'customers.csv').resolve()}：第 39, 40 行，列 "
                   "'churn_hazard'：必须 ≤ 1，实际为 1.5\n")


def test_budget_warnings_and_validate_speak_zh_around_the_field() -> None:
    code, out, err = run_cli("--lang", "zh", "validate", "quickstart")
    assert code == 0 and out.startswith("通过 场景 quickstart：20,000 名客户")
    assert err.startswith(f"警告：{QUICKSTART}：channels.douyin_ads.budget（第 80 行）：¥100,000 ")


def test_every_error_phrase_pattern_applies_only_under_zh() -> None:
    """The phrase tables never touch English output, and each of their patterns compiles."""
    import re

    from simulation import i18n

    for pattern, _ in (*i18n._MESSAGE_ZH, *i18n._PATH_ZH):
        re.compile(pattern)
    text = "unknown key 'x'; valid: a, b; did you mean 'a'?"
    assert i18n.error_text(text) == text
    try:
        i18n.set_lang("zh")
        assert i18n.error_text(text) == "未知的键 'x'；可用：a, b；是否想写 'a'？"
        assert i18n.error_path("rows 4, 9 (and 30 more), column 'stage'") == (
            "第 4, 9 行（另有 30 行），列 'stage'")
    finally:
        i18n.set_lang(None)
