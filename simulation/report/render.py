"""One self-contained HTML file: figures embedded as base64 PNG, inline CSS, no script and no
link to anything outside the file, so it opens offline and can be mailed as one attachment."""

from __future__ import annotations

import base64
import io
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape
from matplotlib.figure import Figure
from ruamel.yaml import YAML

from simulation.formatting import fmt as format_kpi
from simulation.plots.style import png_bytes


@dataclass
class Table:
    """A small table of already formatted strings."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""


@dataclass
class EmbeddedFigure:
    title: str
    caption: str
    data_uri: str


@dataclass
class Report:
    """Everything a report page shows, in order."""

    title: str
    subtitle: str
    facts: list[tuple[str, str]]
    tables: list[Table] = field(default_factory=list)
    figures: list[EmbeddedFigure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    scenario_yaml: str = ""
    extra_yaml: list[tuple[str, str]] = field(default_factory=list)

    def add_figure(self, title: str, caption: str, fig: Figure) -> None:
        data = base64.b64encode(png_bytes(fig, dpi=96)).decode("ascii")
        self.figures.append(EmbeddedFigure(title, caption, f"data:image/png;base64,{data}"))


def fmt(value: Any, kind: str = "") -> str:
    """Report numbers: as the CLI's, with two decimals on shares."""
    return format_kpi(value, kind, pct_digits=2)


def to_yaml(data: Any) -> str:
    buf = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False
    yaml.dump(data, buf)
    return buf.getvalue()


TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ r.title }}</title>
<style>
body { font-family: system-ui, "Segoe UI", "Noto Sans", sans-serif; margin: 2rem auto;
       max-width: 1150px; color: #222; line-height: 1.4; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } .subtitle { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.7rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f5f8; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 0.15rem 1rem; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; }
figure { margin: 1rem 0 2rem; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9rem; }
pre { background: #f6f8fa; padding: 0.8rem; overflow-x: auto; font-size: 0.8rem; }
.note { color: #555; font-size: 0.85rem; } .warn { color: #a15c00; }
summary { cursor: pointer; color: #555; }
</style></head>
<body>
<h1>{{ r.title }}</h1>
<p class="subtitle">{{ r.subtitle }}</p>
<dl class="facts">
{% for k, v in r.facts %}<dt>{{ k }}</dt><dd>{{ v }}</dd>
{% endfor %}</dl>
{% for n in r.notes %}<p class="warn">{{ n }}</p>{% endfor %}
{% for t in r.tables %}
<h2>{{ t.title }}</h2>
<table><tr>{% for c in t.columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for row in t.rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% if t.note %}<p class="note">{{ t.note }}</p>{% endif %}
{% endfor %}
{% if r.figures %}<h2>Figures</h2>{% endif %}
{% for f in r.figures %}
<figure><h3>{{ f.title }}</h3><img src="{{ f.data_uri }}" alt="{{ f.title }}">
<figcaption>{{ f.caption }}</figcaption></figure>
{% endfor %}
{% for title, text in r.extra_yaml %}<h2>{{ title }}</h2><pre>{{ text }}</pre>{% endfor %}
{% if r.scenario_yaml %}<h2>Resolved scenario</h2><details><summary>{{
r.scenario_yaml.count("\n") }} lines of YAML — show</summary><pre>{{ r.scenario_yaml }}</pre>
</details>{% endif %}
<p class="note">Generated {{ generated }} by opmatrix.</p>
</body></html>
"""


#: Report phrases → Chinese (``--lang zh``); KPI names come from the KPI registry and figure
#: phrases from plots/localise.py. A phrase missing here stays English, never blank.
REPORT_ZH: dict[str, str] = {
    "Run report": "运行报告",
    "Experiment report": "实验报告",
    "run folder": "运行目录",
    "seed": "随机种子",
    "days": "天数",
    "customers simulated": "模拟客户数",
    "scenario hash": "场景哈希",
    "opmatrix version": "opmatrix 版本",
    "experiment": "实验",
    "results folder": "结果目录",
    "variants": "策略",
    "runs": "运行次数",
    "seeds (replicates, shared by every variant)": "随机种子（重复运行，各策略共用）",
    "sweep": "参数扫描",
    "KPIs": "关键指标",
    "KPI": "指标",
    "total": "合计",
    "Acquisitions by source": "按来源的获客",
    "source": "来源",
    "share": "占比",
    "Spend by item": "各项费用",
    "item": "项目",
    "spend": "费用",
    "share of spend": "费用占比",
    "customers won": "获客数",
    "own CPA": "自身获客成本",
    "part of the CPA": "占获客成本",
    "own CPA = the item's spend ÷ the customers it won (last touch); part of the CPA = its "
    "spend ÷ all acquisitions, so the parts add up to the run's CPA. Product costs (a won "
    "customer's card issuance and upkeep, loan origination) win no one by themselves: only "
    "their part of the CPA is shown. docs/kpis.md.":
        "自身获客成本 = 该项费用 ÷ 其获得的客户（末次触达）；占获客成本 = 该项费用 ÷ 全部获客，"
        "各项之和即本次运行的获客成本。产品成本（获得客户的发卡与卡片维护、贷款发放）本身不获客："
        "只列其占获客成本的部分。见 docs/kpis.md。",
    "variant": "策略",
    "metric": "指标",
    "pairs": "配对数",
    "mean difference [95 % CI]": "均值差 [95% 置信区间]",
    "p-value": "p 值",
    "Holm p": "Holm 校正 p",
    "Failed runs": "失败的运行",
    "run": "运行",
    "error": "错误",
    "KPIs by variant: mean [95 % CI]": "各策略关键指标：均值 [95% 置信区间]",
    "Student-t intervals over replicates (and sweep points, for a sweep).":
        "按重复运行（及扫描点）计算的 Student-t 区间。",
    "Student-t intervals over replicates (and sweep points, for a sweep); a share's interval "
    "is cut at 0 % and 100 %, the values a share can take.":
        "按重复运行（及扫描点）计算的 Student-t 区间；占比的区间截断在 0% 与 100% 之间"
        "（占比只能取这些值）。",
    "Each variant's run minus the baseline's run on the same seed: common random numbers "
    "cancel the noise both share.":
        "每个策略的运行减去基准在相同随机种子下的运行：共同随机数抵消了两者共有的噪声。",
    "Funnel by channel": "各渠道漏斗",
    "Conversion and retention by segment": "各客群的转化与留存",
    "Cost breakdown": "费用构成",
    "Ring migration": "圈层迁移",
    "Social network by lifecycle stage": "按生命周期阶段的社交网络",
    "Variants compared": "策略对比",
    "Paired differences (forest plot)": "配对差（森林图）",
    "CPA vs conversion with the Pareto frontier": "获客成本与转化率及帕累托前沿",
    "Retention curves": "留存曲线",
    "Figures": "图表",
    "Resolved scenario": "解析后的场景",
    "What each variant changes (vs the baseline scenario)": "各策略的改动（相对基准场景）",
    "Definitions: docs/kpis.md. One run, so no confidence interval: run an experiment with "
    "replicates (opmatrix sweep) for CIs.":
        "定义见 docs/kpis.md。单次运行没有置信区间："
        "请用重复运行的实验（opmatrix sweep）获得置信区间。",
    "Mean of each KPI per variant with its 95 % confidence interval.":
        "各策略每个指标的均值及其 95% 置信区间。",
}


def _zh(text: str) -> str:
    from simulation.plots.localise import translate

    if text in REPORT_ZH:
        return REPORT_ZH[text]
    if " · " in text:
        return " · ".join(_zh(t) for t in text.split(" · "))
    return translate(text)


def localise_report(report: Report) -> Report:
    """The report's own texts in Chinese when the interface is (figures are translated as
    they are embedded); user names and numbers stay as they are."""
    from simulation.i18n import is_zh

    if not is_zh():
        return report
    return Report(
        title=_zh(report.title),
        subtitle=report.subtitle,
        facts=[(_zh(k), v) for k, v in report.facts],
        tables=[Table(_zh(t.title), [_zh(c) for c in t.columns],
                      [[_zh(r[0]) if r else r, *r[1:]] for r in t.rows], _zh(t.note))
                for t in report.tables],
        figures=[EmbeddedFigure(_zh(f.title), _zh(f.caption), f.data_uri)
                 for f in report.figures],
        notes=[_zh(n) for n in report.notes],
        scenario_yaml=report.scenario_yaml,
        extra_yaml=[(_zh(t), y) for t, y in report.extra_yaml],
    )


def render_html(report: Report) -> str:
    from simulation.i18n import get_lang

    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lang = get_lang()
    template = TEMPLATE
    if lang == "zh":
        template = (template.replace('<html lang="en">', '<html lang="zh-CN">')
                    .replace("<h2>Figures</h2>", "<h2>图表</h2>")
                    .replace("<h2>Resolved scenario</h2>", "<h2>解析后的场景</h2>")
                    .replace(" lines of YAML — show</summary>", " 行 YAML — 展开</summary>")
                    .replace("Generated {{ generated }} by opmatrix.",
                             "由 opmatrix 生成于 {{ generated }}。")
                    .replace('"Noto Sans", sans-serif', '"Noto Sans", "Noto Sans CJK SC", '
                             '"PingFang SC", "Microsoft YaHei", sans-serif'))
    return env.from_string(template).render(r=localise_report(report), generated=stamp)


def write_html(report: Report, path: Path) -> Path:
    """Write atomically (temp file + rename) so a reader never sees half a report."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(render_html(report), encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
