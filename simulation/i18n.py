"""The interface language: English (default) or Chinese (``--lang zh`` / ``OPMATRIX_LANG=zh``).

One process-wide setting read by the CLI tables, the HTML reports, the figures and the dashboard.
:func:`tr` translates an interface phrase (English is the key, so a phrase without a translation
shows in English rather than as a blank); KPI names come from the KPI registry
(:func:`kpi_label`), which holds both languages.
"""

from __future__ import annotations

import os

LANGS = ("en", "zh")
_current: str | None = None


def normalise(lang: str | None) -> str | None:
    """``'zh'``, ``'zh_CN.UTF-8'``, ``'zh-cn'`` → ``'zh'``; ``'en*'`` → ``'en'``; else None."""
    if not lang:
        return None
    low = lang.strip().lower().replace("-", "_")
    for code in LANGS:
        if low == code or low.startswith(f"{code}_") or low.startswith(f"{code}."):
            return code
    return None


def set_lang(lang: str | None) -> str:
    """Set the language for this process (None: from ``OPMATRIX_LANG``, else English)."""
    global _current
    _current = normalise(lang) or normalise(os.environ.get("OPMATRIX_LANG")) or "en"
    return _current


def get_lang() -> str:
    if _current is None:
        return set_lang(None)
    return _current


def is_zh() -> bool:
    return get_lang() == "zh"


def tr(text: str, **values: object) -> str:
    """``text`` in the current language, with ``{name}`` fields filled from ``values``."""
    out = ZH.get(text, text) if is_zh() else text
    return out.format(**values) if values else out


def kpi_label(key: str, short: bool = False) -> str:
    """A KPI's display name in the current language, from the KPI registry
    (:mod:`simulation.kpis`: ``label``/``short`` in English, ``label_zh`` in Chinese)."""
    from simulation import kpis

    kpi = kpis.get(key)
    if is_zh() and kpi.label_zh:
        return kpi.label_zh
    return kpi.short if short else kpi.label


#: English interface phrase → Chinese. Terms follow the source articles' usage where they have
#: one (转化率, 留存率, 获客成本, 客户终身价值, 投资回报率, 私域, 企业微信).
ZH: dict[str, str] = {
    # tables and notes
    "KPI": "指标",
    "total": "合计",
    "variant": "策略",
    "metric": "指标",
    "n": "次数",
    "rank": "排名",
    "feasible": "满足约束",
    "pareto": "帕累托",
    "yes": "是",
    "no": "否",
    "parameter": "参数",
    "method": "方法",
    "index": "指数",
    "value": "值",
    "± conf": "± 置信",
    "pairs": "配对数",
    "p-value": "p 值",
    "Holm p": "Holm 校正 p",
    "legend": "图例",
    "{seed_title} · seed {seed} · {days} days": "{seed_title} · 随机种子 {seed} · {days} 天",
    "results written to {path}": "结果已写入 {path}",
    "{n} row(s)": "{n} 行",
    "mean [95 % CI] over replicates (and sweep points, if any)":
        "重复运行（及扫描点）的均值 [95% 置信区间]",
    "paired difference vs {baseline} (same seeds), mean [95 % CI]; * CI excludes 0":
        "相对 {baseline} 的配对差（相同随机种子），均值 [95% 置信区间]；* 置信区间不含 0",
    "ranking by {objective} ({rule}); pareto = yes: no other arm has both a lower CPA and a "
    "higher conversion":
        "按{objective}排名（{rule}）；帕累托为“是”：没有其他策略获客成本更低且转化率更高",
    "no constraint": "无约束",
    "sensitivity of {metric} (SALib)": "{metric}的敏感性（SALib）",
    "{done} done, {failed} failed, {missing} not run of {expected} runs":
        "共 {expected} 次运行：{done} 次完成，{failed} 次失败，{missing} 次未运行",
    "p-values of {tests} tests ({metrics} metrics × {variants} variants): about {expect} would "
    "fall below 0.05 by chance alone; the Holm column controls the family-wise error rate":
        "共 {tests} 项检验（{metrics} 个指标 × {variants} 个策略）：即使没有真实差异，也约有 "
        "{expect} 项 p 值会偶然低于 0.05；Holm 列控制了族系错误率",
    "p-values of {tests} tests ({metrics} metrics of one variant): about {expect} would fall "
    "below 0.05 by chance alone; the Holm column controls the family-wise error rate":
        "共 {tests} 项检验（1 个策略的 {metrics} 个指标）：即使没有真实差异，也约有 "
        "{expect} 项 p 值会偶然低于 0.05；Holm 列控制了族系错误率",
    "{metric}: undefined in {k} of {n} run(s) (a horizon shorter than the window, or no "
    "acquisition for a CPA); the mean is over the rest":
        "{metric}：{n} 次运行中有 {k} 次无定义（模拟期短于统计窗口，或无获客时的获客成本）；"
        "均值按其余运行计算",
    "{label} (table {i} of {n})": "{label}（表 {i}/{n}）",
    "{n} rows without a value in these columns left out": "此表中无数值的 {n} 行已省略",
    "1 row without a value in these columns left out": "此表中无数值的 1 行已省略",
    "{tests} tests at once: about {expect} p-values below 0.05 are expected by chance alone "
    "even with no real difference; the Holm column adjusts for that (family-wise error rate).":
        "同时进行 {tests} 项检验：即使没有真实差异，也约有 {expect} 个 p 值会偶然低于 0.05；"
        "Holm 列对此做了校正（族系错误率）。",
    " († Holm-adjusted p < 0.05)": "（† Holm 校正后 p < 0.05）",
    "n_pairs": "配对数",
    "mean_diff": "均值差",
    "ci_low": "置信下限",
    "ci_high": "置信上限",
    "p_value": "p 值",
    "p_holm": "Holm 校正 p",
    "sample_id": "扫描点",
    "[green]ok[/green] scenario {name}: {size} customers, {segments} segments, {channels} "
    "channels, {days} days":
        "[green]通过[/green] 场景 {name}：{size} 名客户，{segments} 个分群，{channels} 个渠道，"
        "{days} 天",
    "[yellow]warning[/yellow] in {file}: {path}{at}: {message}":
        "[yellow]警告[/yellow]：{file}：{path}{at}：{message}",
    "a share's interval is cut at 0 % and 100 %, the values a share can take":
        "占比的区间截断在 0% 与 100% 之间（占比只能取这些值）",
    # dashboard
    "day": "天",
    "seed (A and B share it)": "随机种子（A 与 B 相同）",
    "strategy B = A with this lever changed": "策略 B = A 改动这个杠杆",
    "B: lever multiplied by": "B：杠杆乘以",
    "B = A with {lever}": "B = A，{lever}",
    "KPI · day {day} of {days}": "指标 · 第 {day} 天（共 {days} 天）",
    "Move a lever, then **Reset** to apply it; **▶** plays, **Step** advances {days} days. "
    "Strategy B, when chosen, runs on the same seed.":
        "调整杠杆后点 **Reset** 生效；**▶** 连续播放，**Step** 前进 {days} 天。"
        "选择策略 B 时，它与 A 使用相同的随机种子。",
    "Strategy and KPIs": "策略与指标",
    "Social network": "社交网络",
    "Run": "运行",
    "Levers": "策略杠杆",
    "Information": "信息",
    "Play speed: pause between steps (ms)": "播放速度：每步间隔（毫秒）",
    "Each step advances {days} days; the charts redraw after each.":
        "每一步前进 {days} 天，图表随之刷新。",
    "reach multiplier": "触达倍数",
    "cost multiplier": "成本倍数",
    "budget (¥)": "预算（¥）",
    "face value (¥)": "面值（¥）",
    "stock per day": "每日库存",
    "contact windows and caps on": "启用接触时间窗与频次上限",
    "schedule contacts into customer windows": "按客户时间窗安排接触",
    "invitations per customer-day": "每客户每天邀请数",
    "tier rewards multiplier": "阶梯奖励倍数",
    "members per group": "每群成员数",
    "capacity": "服务容量",
    "count": "人数",
    "population size": "客户规模",
    "customers simulated": "模拟客户数",
    "imitation per day": "每日模仿率",
    "word of mouth": "口碑",
    "referral": "推荐",
    "groups": "社群",
    "advisers": "客户经理",
    "perks": "权益",
    "push": "推送",
    "employers": "代发企业",
    "min staff": "最少员工数",
    "contact policy": "接触策略",
    "daily reach multiplier": "每日触达倍数",
    "daily send rate multiplier": "每日发送率倍数",
    "budget": "预算",
    "cap": "上限",
    "imitation": "模仿率",
    "invite rate": "邀请率",
    "per week": "每周上限",
    "reward": "奖励",
    "daily stock": "每日库存",
    "enabled": "启用",
    "face value": "面值",
    "out of window response": "时间窗外响应率",
    "schedule = customer windows": "按客户时间窗安排",
    # budget warnings (simulation/scenario/budgets.py): field names, KPI columns (budget_used),
    # channel and route names stay as written
    "'{lang}' is not a language; choose one of {langs}": "'{lang}' 不是可用的语言；可选：{langs}",
    "all of it": "全部",
    "more than {share}%": "超过 {share}% ",
    "at least {share}%": "至少 {share}% ",
    "CPA and ROI count only what is spent (budget_used shows the rest); lower the budget, or "
    "raise the reach or the population it is meant for":
        "获客成本和投资回报率只计入实际花费（budget_used 显示未花的部分）；请调低预算，"
        "或提高触达率、扩大它所面向的客户群",
    "¥{budget} cannot bind: the channel can spend at most ¥{bound} in {days} days (reaching "
    "every customer it can at its prices, fixed costs included), so {unspent} of it stays "
    "unspent; {advice}":
        "¥{budget} 的预算起不到约束作用：该渠道 {days} 天内最多只能花 ¥{bound}（按其价格触达它能"
        "触达的每一位客户，含固定成本），因此{unspent}的预算花不出去；{advice}",
    "¥{budget} cannot bind: every channel and route together can spend at most ¥{bound} in "
    "{days} days, so {unspent} of it stays unspent; {advice}":
        "¥{budget} 的预算起不到约束作用：所有渠道和路径合计 {days} 天内最多只能花 ¥{bound}，"
        "因此{unspent}的预算花不出去；{advice}",
    "¥{budget} cannot bind: no channel hands responders to this route (no channel's route is "
    "'{name}'), so all of it stays unspent; set a channel's route and respond_on_contact, or "
    "remove the budget":
        "¥{budget} 的预算起不到约束作用：没有渠道把响应客户交给这条路径（没有哪个渠道的 route "
        "是 '{name}'），因此全部预算都花不出去；请为某个渠道设置 route 和 "
        "respond_on_contact，或删除这项预算",
    "¥{budget} cannot bind: the route can spend at most ¥{bound} in {days} days (every "
    "contact of {fed} entering it and passing each step at its highest pass rate, within the "
    "steps' capacities), so {unspent} of it stays unspent; {advice}":
        "¥{budget} 的预算起不到约束作用：该路径 {days} 天内最多只能花 ¥{bound}（{fed} 的每次"
        "接触都进入该路径，并在各步容量之内以最高通过率通过每一步），因此{unspent}的预算花不"
        "出去；{advice}",
    "the perks can pay for at most ¥{bound} in {days} days (every customer shown every perk at "
    "its offer rate, claiming at the most their segment's appeal allows, within the daily "
    "stock)":
        "权益 {days} 天内最多只能支付 ¥{bound}（每位客户都按展示率看到每项权益，并按其分群"
        "吸引力允许的最高比例领取，受每日库存限制）",
    "the pushes can cost at most ¥{bound} in {days} days (every customer sent pushes at the "
    "send rate, within {per_week} a week, at ¥{price} a push)":
        "推送 {days} 天内最多只能花 ¥{bound}（每位客户都按发送率收到推送，每周不超过 "
        "{per_week} 条，每条 ¥{price}）",
    "the operation can spend at most ¥{bound} in {days} days (every customer reached at its "
    "reach, each contact paying its cost and the reward of its success rate)":
        "该运营动作 {days} 天内最多只能花 ¥{bound}（每位客户都按其触达率被触达，每次接触支付"
        "接触成本，并按成功率支付奖励）",
    "¥{budget} cannot bind: {reason}, so {unspent} of it stays unspent; CPA and ROI count only "
    "what is spent, and no KPI reports this budget's unspent part; lower the budget, or raise "
    "the rates it pays for":
        "¥{budget} 的预算起不到约束作用：{reason}，因此{unspent}的预算花不出去；获客成本和投资"
        "回报率只计入实际花费，且没有指标报告这项预算未花的部分；请调低预算，或提高它所支付的"
        "各项比率",
}


# ------------------------------------------------------------------------------- error messages
# Bad input is reported as "error in <file>: <field path> (line N): <what is wrong>; <what is
# allowed>" (simulation/errors.py). Under --lang zh the framing and the recurring phrases of the
# message are translated here; file names, field paths, keys, quoted names and numbers stay as
# written, so the user can still search the file for them. A phrase without a translation stays
# English (never a blank).

#: The framing of ScenarioError / Problem (errors.py).
ERROR_FRAMING_ZH: dict[str, str] = {
    "error in {source}: ": "错误：{source}：",
    " (line {line})": "（第 {line} 行）",
    "{path}{at}: {message}": "{path}{at}：{message}",
    "also ": "另外 ",
    "and {n} more problem(s)": "另有 {n} 个问题",
    "invalid input": "输入无效",
}

#: What a field path or a row/column location says about itself.
_PATH_ZH: tuple[tuple[str, str], ...] = (
    (r" \(from --set\)$", "（来自 --set）"),
    (r" \(from --set (.+), not in the file\)$", r"（来自 --set \1，文件中原本没有）"),
    (r" \(from --set (.+)\)$", r"（来自 --set \1）"),
    (r"^rows ([\d, ]+) \(and (\d+) more\), column ", r"第 \1 行（另有 \2 行），列 "),
    (r"^rows? ([\d, ]+), column ", r"第 \1 行，列 "),
    (r"^rows? ([\d, ]+) \(and (\d+) more\)$", r"第 \1 行（另有 \2 行）"),
    (r"^rows? ([\d, ]+)$", r"第 \1 行"),
    (r"^column ", "列 "),
)

#: The names an "unknown …" message gives the thing it did not find.
_THING_ZH: dict[str, str] = {
    "key": "键", "segment": "分群", "channel": "渠道", "route": "路径", "perk": "权益",
    "parameter": "参数", "outcome": "结果指标", "KPI": "指标", "variant": "策略",
    "executor": "执行器", "method": "方法", "stage": "阶段", "ring": "圈层", "lever": "杠杆",
    "observable": "观测量", "interest": "兴趣", "ledger item": "账目", "host": "主机",
    "acquisition source": "获客来源", "graph kind": "网络类型", "KPI group": "指标分组",
    "customer id": "客户编号", "customer field": "客户字段", "edge field": "边字段",
}

#: Recurring phrases of the messages, in the order they are tried (longer phrases first).
_MESSAGE_ZH: tuple[tuple[str, str], ...] = (
    (r"^required field is missing$", "缺少必填字段"),
    (r"^file not found$", "文件不存在"),
    (r"^(.+) file not found$", r"\1文件不存在"),
    (r"^scenario file '([^']*)' not found", r"场景文件 '\1' 不存在"),
    (r"^no such file or preset", "没有这个文件或预设"),
    (r"input should be greater than or equal to ", "应大于或等于 "),
    (r"input should be greater than ", "应大于 "),
    (r"input should be less than or equal to ", "应小于或等于 "),
    (r"input should be less than ", "应小于 "),
    (r"input should be a valid number, unable to parse string as a number",
     "应为数字（无法把这段文字读成数字）"),
    (r"input should be a valid integer, unable to parse string as an integer",
     "应为整数（无法把这段文字读成整数）"),
    (r"input should be a valid (number|integer)", lambda m: "应为数字" if m[1] == "number"
     else "应为整数"),
    (r"input should be a whole number", "应为整数"),
    (r"input should be a valid boolean(, unable to interpret input)?", "应为 true 或 false"),
    (r"input should be a mapping \(key: value lines\)", "应为映射（key: value 形式的若干行）"),
    (r"input should be a valid dictionary", "应为映射（key: value）"),
    (r"input should be a valid list", "应为列表"),
    (r"input should be a valid string", "应为文字"),
    (r"input should be a finite number", "应为有限的数"),
    (r"input should be ('[^']*'(?:, '[^']*')*) or ('[^']*')", r"应为 \1 或 \2 之一"),
    (r"input should be ", "应为 "),
    (r", got an empty value", "，实际为空值"),
    (r", got a mapping", "，实际为映射"),
    (r", got a list", "，实际为列表"),
    (r", got ", "，实际为 "),
    (r"^unknown (ledger item|acquisition source|graph kind|KPI group|customer id|customer field|"
     r"edge field|key|segment|channel|route|perk|parameter|outcome|KPI|variant|executor|method|"
     r"stage|ring|lever|observable|interest|host)\b",
     lambda m: f"未知的{_THING_ZH[m[1]]}"),
    (r"'([^']*)' is not in ([\w.]+) \(existing: ([^)]*)\)", r"'\1' 不在 \2 中（已有：\3）"),
    (r" — to add a new one, also set its kind \(([^)]*)\)",
     r"——要新增一个，请同时设置它的 kind（\1）"),
    (r" — to add a new one, also set its kind", "——要新增一个，请同时设置它的 kind"),
    (r"; did you mean '([^']*)'\?", r"；是否想写 '\1'？"),
    (r"; did you mean ([^?]+)\?", r"；是否想写 \1？"),
    (r"; (?:valid|allowed): ", "；可用："),
    (r"; presets: ", "；可用预设："),
    (r"; (?:defined )?channels: ", "；已有渠道："),
    (r"; (?:the scenario's )?segments: ", "；已有分群："),
    (r"; variants: ", "；已有策略："),
    (r"; levers: ", "；已有杠杆："),
    (r"; this scenario's: ", "；本场景中有："),
    (r"\bmust be a probability in \[0, 1\]", "必须是 [0, 1] 内的概率"),
    (r"\bmust be a finite number", "必须是有限的数"),
    (r"\bmust be a whole number", "必须是整数"),
    (r"\bmust be a non-negative integer", "必须是非负整数"),
    (r"\bmust be in \[0, 1\]", "必须在 [0, 1] 内"),
    (r"\bmust be ≥ ", "必须 ≥ "),
    (r"\bmust be ≤ ", "必须 ≤ "),
    (r"\bmust be > ", "必须 > "),
    (r"\bmust be < ", "必须 < "),
    (r"\bmust be at least ", "至少应为 "),
    (r"\bmust be ", "必须是 "),
    (r"\(first on row (\d+)\)", r"（首次出现在第 \1 行）"),
    (r"\bduplicate customer id ", "重复的客户编号 "),
    (r"^not a readable run folder: ", "不是可读取的运行结果文件夹："),
)


def error_text(text: str) -> str:
    """An error message's recurring phrases in the interface language (see above)."""
    if not is_zh() or not text:
        return text
    import re

    for pattern, repl in _MESSAGE_ZH:
        text = re.sub(pattern, repl, text)
    return text


def error_path(path: str) -> str:
    """A field path or row/column location in the interface language: the path itself stays
    as written, what is said around it ("(from --set …)", "row 4, column") is translated."""
    if not is_zh() or not path:
        return path
    import re

    for pattern, repl in _PATH_ZH:
        path = re.sub(pattern, repl, path)
    return path


def error_frame(text: str, **values: object) -> str:
    """One piece of the error framing (:data:`ERROR_FRAMING_ZH`) in the interface language."""
    out = ERROR_FRAMING_ZH.get(text, text) if is_zh() else text
    return out.format(**values) if values else out


# ------------------------------------------------------------------------------- usage errors
# Typer's (click's) own usage errors — an unknown option or command, a missing argument, a value
# the option's type rejects — are English strings built by the library. Under --lang zh the
# CLI (simulation/cli/usage.py) shows them through these phrases: option, command and argument
# names and the values the user typed stay as written.

#: The pieces around the message (typer.rich_utils' panel, click's usage line).
USAGE_FRAMING_ZH: dict[str, str] = {
    "Usage:": "用法：",
    "Try '{command} {option}' for help.": "输入 '{command} {option}' 查看帮助。",
    "Error": "错误",
    "Aborted!": "已中止！",
}

#: click's messages (typer 0.12-0.29 and click 8), tried in order; a phrase without a match
#: stays English.
_USAGE_ZH: tuple[tuple[str, object], ...] = (
    (r"^No such option: (\S+)", r"没有选项 \1"),
    (r"^No such option '([^']*)'\.?", r"没有选项 '\1'"),
    (r"\s*Did you mean (\S+?)\?$", r"；是否想写 \1？"),
    (r"\s*\(Possible options: (.+)\)$", r"（可用的选项：\1）"),
    (r"^No such command '([^']*)'\.", r"没有命令 '\1'。"),
    (r"^Missing argument '([^']*)'\.", r"缺少参数 '\1'。"),
    (r"^Missing option '([^']*)'\.", r"缺少选项 '\1'。"),
    (r"^Missing parameter: (.+)$", r"缺少参数：\1"),
    (r"^Missing command\.$", "缺少命令。"),
    (r"^Option '([^']*)' requires an argument\.$", r"选项 '\1' 需要一个值。"),
    (r"^Option '([^']*)' requires (\d+) arguments\.$", r"选项 '\1' 需要 \2 个值。"),
    (r"^Option '([^']*)' does not take a value\.$", r"选项 '\1' 不接受值。"),
    (r"^Argument '([^']*)' takes (\d+) values\.$", r"参数 '\1' 需要 \2 个值。"),
    (r"^Got unexpected extra arguments?(?:\(s\))? \((.*)\)$", r"多余的参数：\1"),
    (r"^Invalid value for (.+?): (.*)$", lambda m: f"{m[1]} 的值无效：{_value_text(m[2])}"),
    (r"^Invalid value: (.*)$", lambda m: f"值无效：{_value_text(m[1])}"),
)


def _value_text(text: str) -> str:
    """Why a value was rejected: typer's pydantic-style "Input should be …" (lower-cased into
    :data:`_MESSAGE_ZH`'s phrases) or click's own "'x' is not a valid integer." / range text."""
    import re

    text = re.sub(r"^Input should", "input should", text)
    text = re.sub(r"^'([^']*)' is not a valid (integer|float|boolean)\.$",
                  lambda m: f"'{m[1]}' 不是有效的"
                  + {"integer": "整数", "float": "数", "boolean": "布尔值"}[m[2]], text)
    text = re.sub(r"^(\S+) is not in the range (.+?)\.$", r"\1 不在范围 \2 内", text)
    return error_text(text)


def usage_text(text: str) -> str:
    """A usage error's message (click's English) in the interface language."""
    if not is_zh() or not text:
        return text
    import re

    for pattern, repl in _USAGE_ZH:
        text = re.sub(pattern, repl, text)  # type: ignore[arg-type]
    return text


def usage_frame(text: str, **values: object) -> str:
    """One piece of a usage error's framing (:data:`USAGE_FRAMING_ZH`)."""
    out = USAGE_FRAMING_ZH.get(text, text) if is_zh() else text
    return out.format(**values) if values else out
