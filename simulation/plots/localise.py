"""Figures in the interface language: Chinese text on a CJK font, or a clear English fallback.

Every figure leaves through :func:`simulation.plots.style.save` / ``png_bytes`` (files and HTML
reports) or the dashboard's chart component; each calls :func:`localise` first. With ``--lang
zh`` it translates the figure's texts (titles, axis labels, tick labels, legends, annotations)
phrase by phrase — KPI names from the KPI registry, the rest from :data:`FIGURE_ZH` and
:data:`PATTERNS` — and sets a CJK font. Names the user chose (segments, channels, variants) stay
as written. Without a CJK font (none installed, none bundled), Chinese would print as empty
boxes, so the figure keeps its English labels and one warning says how to get the font
(Debian: ``apt-get install fonts-noto-cjk``).
"""

from __future__ import annotations

import glob
import re
import sys
from functools import lru_cache

from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.text import Text

from simulation.i18n import is_zh

#: CJK families tried in order (Debian/Ubuntu Noto, Adobe's Source Han, WenQuanYi, Windows,
#: macOS).
CJK_FAMILIES = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN",
    "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Microsoft YaHei", "SimHei", "PingFang SC",
    "Heiti SC", "Hiragino Sans GB", "Arial Unicode MS",
)
#: Where font files of those families usually are (a font cache built before the fonts were
#: installed does not list them; they are added from here).
CJK_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/**/NotoSansCJK*.ttc",
    "/usr/share/fonts/**/NotoSansSC*.otf",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)
_warned = False


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The family name of an installed CJK font, or None."""
    def known() -> str | None:
        names = {f.name for f in font_manager.fontManager.ttflist}
        return next((n for n in CJK_FAMILIES if n in names), None)

    found = known()
    if found:
        return found
    for pattern in CJK_FILES:
        for path in glob.glob(pattern, recursive=True):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue
    return known()


#: Exact figure phrases → Chinese.
FIGURE_ZH: dict[str, str] = {
    "Conversion of day-0 prospects": "第0天潜在客户的转化",
    "Conversion": "转化",
    "Cost per acquisition vs conversion (means over replicates per arm)":
        "获客成本与转化率（各策略重复运行的均值）",
    "Cost per acquisition": "获客成本",
    "Customers retained (not churned)": "留存客户（未流失）",
    "Retention by variant (mean and 95 % band over replicates)":
        "各策略的留存（重复运行的均值与 95% 区间）",
    "Ring mix over time (outer → inner)": "客户圈层随时间的构成（外圈 → 内圈）",
    "Spend by item": "各项费用",
    "Spend over time by category": "各类费用随时间的累计",
    "Well-mixed opmatrix run vs the Bass diffusion curve": "充分混合的模拟与 Bass 扩散曲线",
    "Strategies compared": "策略对比",
    "customers (sum over the horizon)": "客户数（模拟期内合计）",
    "customers": "客户数",
    "day": "天",
    "days since conversion": "转化后天数",
    "share of the segment's won customers (%)": "占该客群已获客户的比例（%）",
    "spend over the horizon (¥)": "模拟期内费用（¥）",
    "CPA (¥)": "获客成本（¥）",
    "adopted (% of population)": "已采纳（占人群 %）",
    "converted (% of day-0 prospects)": "已转化（占第0天潜在客户 %）",
    "converted (% of prospects)": "已转化（占潜在客户 %）",
    "cumulative spend (¥)": "累计费用（¥）",
    "customers won, not churned (%)": "已获且未流失的客户（%）",
    "not churned (%)": "未流失（%）",
    "retained (% of ever converted)": "留存（占曾转化客户 %）",
    "share of won customers (%)": "占已获客户的比例（%）",
    "Bass closed form F(t)": "Bass 解析解 F(t)",
    "total": "合计",
    "unaware": "未知晓",
    "aware": "已知晓",
    "engaged": "已互动",
    "engaged (private domain)": "已进入私域",
    "customers (active)": "客户（活跃）",
    "converted": "已转化",
    "active": "活跃",
    "at risk": "流失风险",
    "at_risk": "流失风险",
    "dormant": "沉睡",
    "churned": "已流失",
    "reach": "触达",
    "reached": "已触达",
    "contacts": "接触",
    "contacted": "已接触",
    "leads": "线索",
    "screened in": "通过筛选",
    "conversions": "转化",
    "acquisitions": "获客",
    "strategy": "策略",
    "outer": "外圈",
    "middle": "中圈",
    "inner": "内圈",
    "channel": "渠道",
    "perk": "权益",
    "referral": "推荐",
    "adviser": "客户经理",
    "group": "社群",
    "organic": "自然",
    "route": "转化路径",
    "lifecycle_operations": "生命周期运营",
    "push": "推送",
    "product": "产品成本",
    "product cost": "产品成本",
    "other": "其他",
    "no acquisitions": "无获客",
    "none won": "无获客",
    "no conversions": "无转化",
    "no spend recorded in this run": "本次运行没有费用记录",
    "snowball sample": "雪球抽样",
    "stage (sampled)": "阶段（抽样）",
    "seed": "随机种子",
    "segment": "客群",
    "category": "类别",
    "ring": "圈层",
    "stage": "阶段",
    "variant": "策略",
    "mean": "均值",
}
#: Templates for texts with numbers or names in them: (regex, Chinese with \\1 … groups).
PATTERNS: tuple[tuple[str, str], ...] = (
    (r"^Funnel on day (\d+)$", r"第 \1 天的漏斗"),
    (r"^Retention by customer age \(day (\d+)\)$", r"按客户年龄的留存（第 \1 天）"),
    (r"^day (\d+)$", r"第 \1 天"),
    (r"^([\d,]+) won$", r"获客 \1"),
    (r"^product cost: (.+) of the (.+) CPA$", r"产品成本：占获客成本 \2 中的 \1"),
    (r"^Funnel by channel \(% = share of the step it comes from\)$",
     "各渠道漏斗（% = 占上一步的比例）"),
    (r"^Cost breakdown$", "费用构成"),
    (r"^Ring migration$", "圈层迁移"),
    (r"^Social network: (\d+) sampled customers$", r"社交网络：抽样 \1 位客户"),
    (r"^Ring mix per segment: day (\d+) \(hatched, upper\) vs day (\d+)$",
     r"各客群圈层构成：第 \1 天（斜线，上）与第 \2 天"),
    (r"^seed (\d+)$", r"随机种子 \1"),
    (r"^(.*) — seed (\d+)$", r"\1 — 随机种子 \2"),
    (r"^(\d+) days$", r"\1 天"),
    (r"^(.*) spent$", r"已花费 \1"),
    (r"^Paired differences vs baseline '(.*)' \(95 % CI; red: CI excludes 0\)$",
     r"相对基准“\1”的配对差（95% 置信区间；红色：不含 0）"),
    (r"^mean ± 95 % CI, n = (\d+) replicates$", r"均值 ± 95% 置信区间，n = \1 次重复"),
    (r"^mean ± 95 % CI, n = (\d+) replicates \(CI cut at 100 %\)$",
     r"均值 ± 95% 置信区间，n = \1 次重复（区间截断于 100%）"),
    (r"^Pareto frontier \((\d+) arms\)$", r"帕累托前沿（\1 个策略）"),
    (r"^Mean (.*) over the sweep$", r"扫描范围内的平均\1"),
    (r"^Sensitivity of (.*) \((.*), variant (.*)\)$", r"\1的敏感性（\2，策略 \3）"),
    (r"^Δ (.*) \(percentage points\)$", r"Δ \1（百分点）"),
    (r"^(.*) \(total\)$", r"\1（总效应）"),
    (r"^(.*) \(first order\)$", r"\1（一阶）"),
    (r"^(.*) index of (.*)$", r"\2的 \1 指数"),
)
_COMPILED = tuple((re.compile(p), r) for p, r in PATTERNS)


def _kpi_phrases() -> dict[str, str]:
    from simulation import kpis

    out: dict[str, str] = {}
    for k in kpis.all_kpis():
        if k.label_zh:
            out[k.label] = k.label_zh
            out[k.short] = k.label_zh
            out[k.axis_label("en")] = k.axis_label("zh")
    return out


def translate(text: str) -> str:
    """One figure text in Chinese, piece by piece (lines, then ' · ' parts)."""
    if not text or not re.search("[A-Za-z]", text):
        return text
    if "\n" in text:
        return "\n".join(translate(t) for t in text.split("\n"))
    table = {**_kpi_phrases(), **FIGURE_ZH}
    if text in table:
        return table[text]
    if " · " in text:
        return " · ".join(translate(t) for t in text.split(" · "))
    for regex, repl in _COMPILED:
        m = regex.match(text)
        if m:
            return regex.sub(repl, text)
    m = re.match(r"^(.*?)\s*\(([\d.,]+%) of (.+)\)$", text)  # "1,122  (26.6% of contacted)"
    if m:
        return f"{m[1]}（占{translate(m[3])} {m[2]}）"
    for prefix in ("Δ ", "B: "):
        if text.startswith(prefix):
            return prefix + translate(text[len(prefix):])
    return text


def localise(fig: Figure) -> Figure:
    """Translate ``fig``'s texts and set a CJK font when the interface is Chinese."""
    if not is_zh():
        return fig
    family = cjk_font()
    if family is None:
        _warn_no_font()
        return fig
    import functools

    from matplotlib.ticker import FixedFormatter, FuncFormatter

    for ax in fig.axes:  # category tick labels (stage names …) are drawn from the formatter
        for axis in (ax.xaxis, ax.yaxis):
            formatter = axis.get_major_formatter()
            if isinstance(formatter, FixedFormatter):
                formatter.seq = [translate(str(t)) for t in formatter.seq]
            elif isinstance(formatter, FuncFormatter) and isinstance(
                formatter.func, functools.partial
            ) and formatter.func.args and isinstance(formatter.func.args[0], dict):
                # set_ticks(..., labels): matplotlib keeps {position: label} in a partial
                labels = formatter.func.args[0]
                for key in list(labels):
                    labels[key] = translate(str(labels[key]))
    for artist in fig.findobj(Text):
        text = artist.get_text()
        new = translate(text)
        if new != text:
            artist.set_text(new)
        artist.set_fontfamily([family, "DejaVu Sans"])
    return fig


def _warn_no_font() -> None:
    global _warned
    if not _warned:
        _warned = True
        print("note: no CJK font found, so figures keep English labels (install one, e.g. "
              "Debian/Ubuntu: apt-get install fonts-noto-cjk)", file=sys.stderr)
