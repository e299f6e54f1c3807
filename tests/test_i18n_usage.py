"""Under ``--lang zh`` the two English leftovers of the interface speak Chinese: the budget
warnings' explanations (simulation/scenario/budgets.py) and typer's own usage errors (an
unknown option or command, a missing argument, a value its type rejects). Field, option,
command and channel names, the values typed and file paths stay as written; usage errors keep
exit code 2; English is unchanged."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from simulation import scenario_from_dict
from simulation.i18n import set_lang
from tests.conftest import run_cli
from tests.test_budgets import lever_budgets, routed

QUICKSTART = Path(__file__).resolve().parents[1] / "scenarios" / "quickstart.yaml"


def _warnings_zh() -> dict[str, str]:
    from simulation.scenario.budgets import idle_budget_warnings

    data = routed(1e6, spare_budget=500.0)
    data["channels"]["ads"]["budget"] = 1e6  # a channel's, and the mix's, that cannot bind
    data["flows"]["budget"] = 1e7
    scenarios = [scenario_from_dict(data), scenario_from_dict(lever_budgets(1e6))]
    set_lang("zh")
    try:
        return {p: m for sc in scenarios for p, _, m in idle_budget_warnings(sc)}
    finally:
        set_lang(None)


def test_every_budget_warning_is_chinese_around_the_names_it_quotes() -> None:
    warned = _warnings_zh()
    assert set(warned) == {
        "channels.ads.budget", "flows.budget", "flows.routes.callback.budget",
        "flows.routes.unused.budget", "perks.budget", "push.budget",
        "lifecycle_operations.operations.recall.budget"}
    # the only Latin words left are names from the file and KPI / field names
    allowed = {"budget_used", "route", "respond_on_contact", "wecom", "unused"}
    for path, message in warned.items():
        assert set(re.findall(r"[A-Za-z_]{3,}", message)) <= allowed, (path, message)
        assert message.startswith("¥") and "的预算起不到约束作用：" in message, (path, message)
    assert "至少 98% 的预算" in warned["flows.routes.callback.budget"]
    assert "超过 99.8% 的预算" in warned["perks.budget"]
    assert "没有哪个渠道的 route 是 'unused'" in warned["flows.routes.unused.budget"]
    assert "每周不超过 2 条" in warned["push.budget"]  # the push's own figures filled in


def test_validate_under_zh_shows_the_warning_in_chinese_and_english_is_unchanged() -> None:
    code, out, err = run_cli("--lang", "zh", "validate", "quickstart")
    assert code == 0 and out.startswith("通过 场景 quickstart")
    assert err.startswith(f"警告：{QUICKSTART}：channels.douyin_ads.budget（第 80 行）："
                          "¥100,000 的预算起不到约束作用：该渠道 365 天内最多只能花 ¥")
    assert "budget_used" in err and "cannot bind" not in err
    code, _, err = run_cli("validate", "quickstart")
    assert code == 0 and "¥100,000 cannot bind: the channel can spend at most ¥" in err


@pytest.mark.parametrize(("args", "expected"), [
    (["run", "quickstart", "--sedd", "3"], "没有选项 --sedd（可用的选项：--seed, --set）"),
    (["run"], "缺少参数 'scenario'。"),
    (["frobnicate"], "没有命令 'frobnicate'。"),  # raised before the --lang callback runs
    (["run", "quickstart", "--days", "0"], "'--days' 的值无效：应大于或等于 1"),
    (["run", "quickstart", "--seed", "x"], "'--seed' 的值无效：应为整数"),
    (["run", "quickstart", "--seed"], "选项 '--seed' 需要一个值。"),
    (["run", "quickstart", "a", "b"], "多余的参数：a b"),
])
def test_usage_errors_under_zh_exit_2_in_chinese(args: list[str], expected: str) -> None:
    code, out, err = run_cli("--lang", "zh", *args)
    assert code == 2 and out == ""
    assert expected in err and "╭─ 错误 " in err, err
    assert not re.search(r"Usage|Error|Try |No such|Missing|Invalid|Option ", err), err
    if args != ["run", "quickstart", "--seed"]:  # typer shows no usage line for that one
        assert "用法：opmatrix" in err and "查看帮助。" in err


def test_usage_errors_stay_english_without_zh_and_follow_opmatrix_lang(monkeypatch) -> None:
    code, out, err = run_cli("run", "quickstart", "--sedd", "3")
    assert code == 2 and out == ""
    assert "Usage: opmatrix run" in err and "No such option: --sedd" in err
    assert "Try 'opmatrix run --help' for help." in err
    monkeypatch.setenv("OPMATRIX_LANG", "zh")
    try:  # a --lang the CLI does not know: the message comes in $OPMATRIX_LANG's language
        code, _, err = run_cli("--lang", "fr", "run")
    finally:
        monkeypatch.delenv("OPMATRIX_LANG")
        set_lang(None)
    assert code == 2 and "值无效：'fr' 不是可用的语言；可选：en, zh" in err
