"""The KPI registry: every KPI's name, labels, kind and direction, declared once.

The CLI tables, the HTML reports, the experiment plots, the runner's outcome columns and the
dashboard all read what a KPI is called, how it is printed and whether higher is better from
here, so a new KPI is one :func:`register` call (an entry in ``_BUILTIN`` below, or a call from
the module that computes it) and shows up everywhere it is asked for.

What a KPI *means* (its formula) lives with the code that computes it:
``simulation/accounting.py`` for the funnel, retention and cost KPIs, docs/kpis.md in words.

Kinds and how they print (:func:`simulation.formatting.fmt`):

- ``count``: customers or events, ``12,345``;
- ``share``: a fraction of customers in [0, 1], printed as ``12.3%``; a difference of two shares
  is printed in percentage points;
- ``ratio``: an unbounded ratio such as ROI, printed as ``%`` too (−100 % = lost everything);
- ``money``: yuan, ``¥1,234``;
- ``days``: a duration in days;
- ``number``: anything else, printed with a few significant digits.

Groups say where a KPI appears by default:

- ``table``: the headline KPI table of ``opmatrix run`` and the run report, in registry order;
- ``dashboard``: the dashboard's KPI panel;
- ``outcome``: the outcomes an experiment analyses when it names none;
- ``runs``: always a (float) column of an experiment's runs table, even when no run is done.

Every scalar KPI is a valid experiment outcome and constraint, whatever its groups.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from simulation.strategies.registry import strategy_levers

Kind = Literal["count", "share", "ratio", "money", "days", "number"]
Direction = Literal["higher", "lower", "neutral"]
Group = Literal["table", "dashboard", "outcome", "runs"]
GROUPS: tuple[str, ...] = ("table", "dashboard", "outcome", "runs")

#: The :func:`simulation.formatting.fmt` format code of each kind.
FORMAT_OF_KIND: dict[str, str] = {
    "count": "int",
    "share": "pct",
    "ratio": "pct",
    "money": "money",
    "days": "days",
    "number": "",
}
#: The unit an axis label carries when a KPI gives none of its own.
UNIT_OF_KIND: dict[str, str] = {
    "count": "customers",
    "share": "%",
    "ratio": "%",
    "money": "¥",
    "days": "days",
    "number": "",
}


@dataclass(frozen=True)
class KPI:
    """One KPI as every view shows it.

    ``label`` is the English label of tables and plots, ``label_zh`` the Chinese one (``--lang
    zh``), ``short`` a column header a strategy team reads at a glance. ``unit`` overrides the
    kind's axis unit (e.g. "¥ per acquisition"). ``direction`` is what an optimiser or a Pareto
    front should prefer; ``neutral`` KPIs (population sizes) are maximised by default, since
    maximising is what an objective without a direction has always meant.
    """

    name: str
    label: str
    label_zh: str
    short: str
    kind: Kind
    direction: Direction
    groups: frozenset[str] = field(default_factory=frozenset)
    unit: str = ""
    description: str = ""
    #: The values the KPI can take, when narrower than any number: a ``share`` is in [0, 1]
    #: unless it says otherwise (an incremental share is negative when the levers lose
    #: customers). Intervals are shown clipped to it (:func:`simulation.formatting.within`).
    bounds: tuple[float, float] | None = None

    @property
    def value_range(self) -> tuple[float, float] | None:
        """``bounds``, or [0, 1] for a share that declares none; None: unbounded."""
        if self.bounds is not None:
            return self.bounds
        return (0.0, 1.0) if self.kind == "share" else None

    @property
    def format(self) -> str:
        """The :func:`simulation.formatting.fmt` format code."""
        return FORMAT_OF_KIND[self.kind]

    @property
    def is_percent(self) -> bool:
        """Stored as a fraction, shown ×100 with a % sign."""
        return self.kind in ("share", "ratio")

    @property
    def maximise(self) -> bool:
        return self.direction != "lower"

    def axis_label(self, lang: str = "en") -> str:
        """``conversion rate (%)``: the label with its unit, for plot axes."""
        unit = self.unit or UNIT_OF_KIND[self.kind]
        text = self.text(lang)
        return f"{text} ({unit})" if unit else text

    def text(self, lang: str = "en") -> str:
        """The label in ``lang`` (``en`` or ``zh``); English where no Chinese label exists."""
        if lang == "zh" and self.label_zh:
            return self.label_zh
        return self.label


_REGISTRY: dict[str, KPI] = {}


def register(kpi: KPI, *, replace: bool = False) -> KPI:
    """Add ``kpi`` to the registry (one call per KPI; order of registration = order of tables).

    Registering a name twice is a programming error unless ``replace`` is given, so two modules
    cannot silently disagree about what a KPI is.
    """
    if kpi.kind not in FORMAT_OF_KIND:
        raise ValueError(f"KPI {kpi.name!r}: unknown kind {kpi.kind!r}")
    if kpi.direction not in ("higher", "lower", "neutral"):
        raise ValueError(f"KPI {kpi.name!r}: unknown direction {kpi.direction!r}")
    unknown = set(kpi.groups) - set(GROUPS)
    if unknown:
        raise ValueError(f"KPI {kpi.name!r}: unknown group(s) {sorted(unknown)}")
    if kpi.name in _REGISTRY and not replace:
        raise ValueError(f"KPI {kpi.name!r} is registered already")
    _REGISTRY[kpi.name] = kpi
    return kpi


def get(name: str) -> KPI:
    """The registered KPI, or a plain stand-in for a name nobody registered (a test model's
    outcome, a ``param:`` column): labelled by its name, neutral, printed as a number."""
    found = _REGISTRY.get(name)
    if found is not None:
        return found
    return KPI(name, name.replace("_", " "), "", name, "number", "neutral")


def is_registered(name: str) -> bool:
    return name in _REGISTRY


def all_kpis() -> tuple[KPI, ...]:
    return tuple(_REGISTRY.values())


def names(group: str | None = None) -> tuple[str, ...]:
    """Registered KPI names in registry order, optionally only those of ``group``."""
    if group is not None and group not in GROUPS:
        raise ValueError(f"unknown KPI group {group!r}; groups: {', '.join(GROUPS)}")
    return tuple(k.name for k in _REGISTRY.values() if group is None or group in k.groups)


def in_group(group: str) -> tuple[KPI, ...]:
    return tuple(get(n) for n in names(group))


def label(name: str, lang: str = "en") -> str:
    return get(name).text(lang)


def short_label(name: str) -> str:
    return get(name).short


def axis_label(name: str, lang: str = "en") -> str:
    return get(name).axis_label(lang)


def format_of(name: str) -> str:
    return get(name).format


def is_percent(name: str) -> bool:
    return get(name).is_percent


def is_money(name: str) -> bool:
    return get(name).kind == "money"


def maximise(name: str) -> bool:
    return get(name).maximise


def _builtin(
    name: str, label: str, label_zh: str, short: str, kind: Kind, direction: Direction,
    groups: Iterable[str] = (), unit: str = "", description: str = "",
    bounds: tuple[float, float] | None = None,
) -> None:
    register(KPI(name, label, label_zh, short, kind, direction, frozenset(groups), unit,
                 description, bounds))


# The funnel, retention and cost KPIs of simulation/accounting.py, in the order a strategy team
# reads them. Chinese labels follow the articles' own terms (获客 acquisition, 留存 retention,
# 获客成本 CPA) where the articles use one.
_builtin("customers", "customers", "客户数", "customers", "count", "neutral", ["table"],
         description="customers simulated (the population size)")
_builtin("stock_customers", "stock customers (day 0)", "存量客户（第0天）", "stock", "count",
         "neutral", ["table"], description="customers already converted on day 0")
_builtin("acquisitions", "acquisitions", "获客数", "acquisitions", "count", "higher",
         ["table", "dashboard", "runs"],
         description="customers converted during the run (day ≥ 1)")
_builtin("conversion_rate", "conversion rate", "转化率", "conversion", "share", "higher",
         ["table", "dashboard", "outcome", "runs"],
         description="acquisitions / customers who were prospects on day 0")
for _d in (30, 90, 180):
    _builtin(f"retention_{_d}d", f"retention {_d} d", f"{_d}天留存率", f"ret. {_d} d", "share",
             "higher", ["table", "dashboard", "outcome", "runs"],
             description=f"share of customers converted ≥ {_d} days before the horizon who "
             f"had not churned {_d} days after converting")
_builtin("active", "active customers", "活跃客户", "active", "count", "higher", ["dashboard"],
         description="customers won and active on the last day")
_builtin("at_risk", "at-risk customers", "流失风险客户", "at risk", "count", "lower",
         description="customers at risk of lapsing on the last day")
_builtin("dormant", "dormant customers", "沉睡客户", "dormant", "count", "lower",
         description="dormant customers on the last day")
_builtin("churned", "churned", "流失客户", "churned", "count", "lower", ["table", "dashboard"],
         description="customers churned by the last day")
_builtin("spend", "spend", "营销投入", "spend", "money", "lower",
         ["table", "dashboard", "runs"], description="total cost booked in the ledger (yuan)")
_builtin("cost_per_acquisition", "cost per acquisition", "获客成本", "CPA", "money", "lower",
         ["table", "dashboard", "outcome", "runs"], description="spend / acquisitions")
_builtin("ltv", "LTV", "客户价值（LTV）", "LTV",
         "money", "higher", ["table", "outcome", "runs"], unit="¥ per acquisition",
         description="value earned within the horizon per acquired customer")
_builtin("value_acquired", "value acquired", "获客价值", "value", "money", "higher",
         description="value earned within the horizon by the acquired customers (yuan)")
_builtin("roi", "ROI", "投资回报率", "ROI", "ratio", "higher", ["table", "outcome", "runs"],
         description="(value acquired − spend) / spend")
# Lifetime value beyond the horizon (simulation/money/lifetime.py; docs/kpis.md "Lifetime value
# beyond the horizon"): the customers a run ends with, valued with their end-of-run margin, their
# segment's end-of-run churn hazard and money.lifetime.discount_rate. 客户终身价值 CLV, 回收期
# payback. Shown beside the in-horizon ROI, never instead of it.
_builtin("margin_rate_end", "margin a year at horizon", "期末年化收益", "margin/yr", "money",
         "higher", description="margin a year of the customers alive at the horizon: their "
         "last window's value × 365 ÷ its days, plus loans' margin on what is outstanding")
_builtin("churn_hazard_end", "churn hazard at horizon (per year)", "期末年流失率", "hazard/yr",
         "number", "lower", description="churn events ÷ customer-years over the horizon's "
         "second half")
_builtin("clv_beyond", "CLV beyond the horizon", "期后客户终身价值", "CLV after", "money",
         "higher", ["runs"], description="Σ margin ÷ (discount + hazard) + loans on their "
         "remaining schedule: what the customers held at the horizon are still worth, valued "
         "at the horizon")
_builtin("clv_beyond_acquired", "CLV beyond the horizon, acquired", "新客期后终身价值",
         "CLV new", "money", "higher", description="clv_beyond of the customers acquired in "
         "the run")
_builtin("lifetime_value_acquired", "lifetime value acquired", "新客终身价值", "lifetime value",
         "money", "higher", description="value earned within the horizon by acquired customers "
         "+ their CLV beyond it discounted to day 0")
_builtin("lifetime_roi", "ROI, lifetime", "终身投资回报率", "ROI life", "ratio", "higher",
         ["table", "outcome", "runs"],
         description="(lifetime value acquired − spend) / spend, beside the in-horizon ROI")
# A card's cost over its life (docs/kpis.md "Lifetime value beyond the horizon"): the cited ≥ ¥100
# a card counts making, mailing, marketing and upkeep (管理维护, docs/sources.md §2.5), which a
# one-year CPA counts only within the year.
_builtin("card_upkeep_beyond", "card upkeep after the horizon", "期后卡片维护成本",
         "upkeep after", "money", "lower",
         description="maintenance_per_year × discounted stay of the won cards whose customers "
         "are alive at the horizon, discounted to day 0")
_builtin("card_upkeep_beyond_free", "card upkeep after the horizon, free acquisitions",
         "期后卡片维护成本（零成本获客）", "upkeep after free", "money", "neutral",
         description="card_upkeep_beyond of the cards of customers won through word of mouth "
         "or private-domain nurture")
_builtin("lifetime_cost_per_acquisition", "CPA over the product's life",
         "全生命周期获客成本", "CPA life", "money", "lower", ["table", "runs"],
         description="(spend + card upkeep after the horizon) / acquisitions, beside the CPA")

# Money (simulation/money/; formulas in docs/kpis.md "Money"): state at the horizon and flows
# over it. 资产 assets, 留存 retention, 贷款 loans, 预期损失 expected loss, 消费额 spend.
_builtin("value_total", "value earned (all customers)", "客户创造价值（全部）", "value",
         "money", "higher", ["table", "runs"],
         description="every ledger value item over the horizon: margins, fees, interest, "
         "minus credit losses, all customers (stock included)")
_builtin("aum", "AUM at horizon", "期末管理资产（AUM）", "AUM", "money", "higher",
         ["table", "dashboard", "runs"], description="savings + payroll pool of every account")
_builtin("aum_acquired", "AUM of acquired customers", "新客资产", "AUM new", "money", "higher",
         ["table"], description="AUM held by customers acquired during the run")
for _d in (7, 30, 90):
    _builtin(f"asset_retention_{_d}d", f"asset retention {_d} d", f"{_d}天资产留存率",
             f"asset ret. {_d} d", "share", "higher",
             ["table", "runs"] if _d != 7 else ["table"],
             description=f"share of payroll inflow still held {_d} days after payday")
_builtin("payroll_inflow", "payroll inflow", "代发入账", "payroll in", "money", "higher",
         description="salary paid into accounts over the horizon")
_builtin("outflow_kept", "payday outflow kept", "留存的代发外流资金", "kept", "money", "higher",
         ["runs"],
         description="salary that would have moved out after payday and stayed, because a "
         "retention operation (lifecycle_operations keeps_outflow) kept that share of the "
         "customer's own outflow")
_builtin("loan_volume", "loan volume (acquired)", "新增贷款额", "loans", "money", "higher",
         ["table", "runs"], description="principal drawn by customers acquired in the run")
_builtin("loans_outstanding", "loans outstanding", "贷款余额", "loans out", "money", "higher",
         description="outstanding principal at the horizon")
_builtin("expected_loss", "expected credit loss", "预期信用损失", "EL", "money", "lower",
         ["table", "runs"], description="Σ outstanding × daily PD hazard × LGD (+ expected "
         "card charge-offs)")
_builtin("credit_losses", "credit losses (realised)", "实际信用损失", "losses", "money", "lower",
         ["table"], description="realised loan default losses and card charge-offs")
_builtin("risk_adjusted_margin", "risk-adjusted margin", "风险调整后收益", "RAM", "money",
         "higher", ["table", "outcome", "runs"],
         description="value earned + realised losses − expected loss")
_builtin("gmv", "card spend (GMV)", "信用卡消费额", "GMV", "money", "higher", ["table", "runs"],
         description="card spend over the horizon")

# Budgets (simulation/money/kpis.py budget_kpis): what a declared budget bought.
_builtin("budget_total", "budget", "预算", "budget", "money", "neutral",
         description="the mix budget (flows.budget), else the sum of channel budgets")
_builtin("budget_unspent", "budget unspent", "未使用预算", "unspent", "money", "neutral",
         ["table", "runs"], description="budget left at the horizon (a budget that did not bind)")
_builtin("budget_used", "budget used", "预算使用率", "used", "share", "neutral", ["table"],
         description="share of the budget spent")

# Group operators (strategies/groups.py ``groups.operators``; only in runs that declare them):
# 人效 output per head, 「几个人的部门运营几百万的私域用户」 [001].
_builtin("group_members_per_operator", "group members per operator", "人均运营社群用户",
         "members/operator", "number", "higher",
         description="mean daily group members / full-time-equivalent group operators "
         "(headcount × time_share)")
_builtin("groups_run_share", "share of live groups run by operators", "社群有人运营占比",
         "groups run", "share", "higher",
         description="group-days the operators ran (posted in) / live group-days")

# Attributed (last touch) and incremental (against the counterfactual on the same seed and
# customers, every lever off): simulation/incremental.py, docs/kpis.md. 增量 incremental,
# 自然 organic, 归因 attributed (last touch).
_builtin("attributed_acquisitions", "acquisitions, last-touch paid", "归因获客（末次触点）",
         "attributed", "count", "higher", ["runs"],
         description="acquisitions whose last touch was a paid lever (not word of mouth or "
         "private-domain nurture)")
_builtin("attributed_cpa", "CPA, attributed (last touch)", "归因获客成本", "CPA attr.", "money",
         "lower", ["table", "dashboard", "outcome", "runs"],
         description="attributed spend / last-touch paid acquisitions")
_builtin("attributed_spend", "spend, attributed", "归因投入", "spend attr.", "money", "lower",
         description="spend − free_product_spend: the levers' spend and the product costs "
         "(card issuance and upkeep, loan origination) of the attributed acquisitions only")
_builtin("free_product_spend", "product costs of free acquisitions", "零成本获客的产品成本",
         "free prod. cost", "money", "neutral",
         description="card issuance and upkeep and loan origination of customers won through "
         "word of mouth or private-domain nurture (part of spend)")
_builtin("attributed_lifetime_cost_per_acquisition",
         "CPA over the product's life, attributed", "归因全生命周期获客成本",
         "CPA life attr.", "money", "lower",
         description="(attributed spend + the attributed cards' upkeep after the horizon) / "
         "attributed acquisitions")
_builtin("free_acquisitions", "acquisitions at no cost", "零成本获客", "free", "count",
         "neutral", description="acquisitions through word of mouth or private-domain nurture")
_builtin("free_share", "share of acquisitions at no cost", "零成本获客占比", "free share",
         "share", "neutral", ["table", "runs"],
         description="free acquisitions / acquisitions")
_builtin("organic_acquisitions", "organic acquisitions (counterfactual)", "自然获客（反事实）",
         "organic", "count", "neutral", ["table", "runs"],
         description="acquisitions of the counterfactual world, every lever off")
_builtin("incremental_acquisitions", "incremental acquisitions", "增量获客", "incr. acq.",
         "count", "higher", ["table", "dashboard", "outcome", "runs"],
         description="acquisitions − organic acquisitions")
_builtin("incremental_share", "incremental share of acquisitions", "增量获客占比", "incr. share",
         "share", "higher", description="incremental / all acquisitions",
         bounds=(float("-inf"), 1.0))  # negative when the levers lose customers
_builtin("incremental_spend", "incremental spend", "增量投入", "incr. spend", "money", "lower",
         description="spend − counterfactual spend")
_builtin("incremental_value", "incremental value", "增量价值", "incr. value", "money", "higher",
         ["table", "outcome", "runs"],
         description="value earned − counterfactual value earned (all customers)")
_builtin("incremental_cpa", "CPA, incremental", "增量获客成本", "CPA incr.", "money", "lower",
         ["table", "dashboard", "outcome", "runs"],
         description="incremental spend / incremental acquisitions")
_builtin("incremental_lifetime_cost_per_acquisition",
         "CPA over the product's life, incremental", "增量全生命周期获客成本",
         "CPA life incr.", "money", "lower", ["table", "runs"],
         description="(incremental spend + card upkeep after the horizon − the "
         "counterfactual's) / incremental acquisitions")
_builtin("incremental_roi", "ROI, incremental", "增量投资回报率", "ROI incr.", "ratio", "higher",
         ["table", "dashboard", "outcome", "runs"],
         description="(incremental value − incremental spend) / incremental spend")
# incremental lifetime value (simulation/incremental.py lifetime_increments)
_builtin("incremental_clv", "incremental CLV beyond the horizon", "增量期后终身价值",
         "incr. CLV", "money", "higher", ["runs"],
         description="clv_beyond − counterfactual clv_beyond (same seeds and customers)")
_builtin("incremental_lifetime_value", "incremental lifetime value", "增量终身价值",
         "incr. lifetime value", "money", "higher",
         description="incremental value + incremental CLV discounted to day 0")
_builtin("incremental_lifetime_roi", "ROI, incremental lifetime", "增量终身投资回报率",
         "ROI incr. life", "ratio", "higher", ["table", "outcome", "runs"],
         description="(incremental lifetime value − incremental spend) / incremental spend")
_builtin("incremental_payback_days", "payback (incremental)", "增量回收期", "payback",
         "days", "lower", ["table", "runs"],
         description="days from day 0 until the incremental value, in the horizon and "
         "projected beyond it (undiscounted), covers the incremental spend; — if not within "
         "30 years after the horizon")

_builtin("counterfactual_value", "value earned, counterfactual", "反事实价值", "cf. value",
         "money", "neutral", description="value earned in the counterfactual world")
_builtin("counterfactual_aum", "AUM, counterfactual", "反事实资产", "cf. AUM", "money",
         "neutral", description="AUM at the horizon in the counterfactual world")
_builtin("incremental_aum", "incremental AUM", "增量资产", "incr. AUM", "money", "higher",
         ["table", "runs"], description="AUM − counterfactual AUM")

# Per-lever contributions (incrementality.contributions; simulation/incremental.py): for each
# lever that an ablation can switch off, leave-one-out and leave-one-in differences of four KPIs,
# and the interaction term; experiments report them with CIs like any KPI. The lever names are
# the lever contract's strategy levers (simulation/strategies/registry.py: every switchable lever
# but organic word of mouth, which the counterfactual keeps on).
ABLATION_LEVERS: tuple[str, ...] = strategy_levers()
_CONTRIBUTED = {"acquisitions": ("acquisitions", "获客数", "count"),
                "value_total": ("value earned", "客户创造价值", "money"),
                "spend": ("spend", "营销投入", "money"),
                "aum": ("AUM", "管理资产", "money")}
for _k, (_label, _zh, _kind) in _CONTRIBUTED.items():
    _builtin(f"interaction_{_k}", f"interaction of levers, {_label}", f"杠杆交互效应（{_zh}）",
             f"interaction {_label}", _kind, "neutral",
             description="(all levers − no lever) − Σ leave-one-out contributions")
    for _lever in ABLATION_LEVERS:
        _builtin(f"loo_{_k}__{_lever}", f"{_lever}: leave-one-out {_label}",
                 f"{_lever}：留一法贡献（{_zh}）", f"LOO {_lever}", _kind, "higher",
                 description=f"{_label} with every lever − with every lever but {_lever}")
        _builtin(f"loi_{_k}__{_lever}", f"{_lever}: leave-one-in {_label}",
                 f"{_lever}：单独贡献（{_zh}）", f"LOI {_lever}", _kind, "higher",
                 description=f"{_label} with only {_lever} − with no lever")


# ---------------------------------------------------------------------------- valid outcomes
# One answer, for `opmatrix validate` (experiment outcomes) and `opmatrix compare` (stored runs),
# to "which KPI names can an experiment analyse?": every registered KPI but the per-lever
# contributions, which a run reports only when it simulates the ablation worlds for them
# (simulation/incremental.py run_comparisons). Before, validate accepted every registered name
# and compare refused the contributions the runs never computed.


def is_contribution(name: str) -> bool:
    """A per-lever contribution or interaction KPI (reported only on request)."""
    return name.startswith(("loo_", "loi_", "interaction_")) and name in _REGISTRY


def reported_by(scenario: object) -> tuple[str, ...]:
    """The KPI names a run of ``scenario`` reports, in registry order: every KPI, and the
    contribution KPIs only where ``incrementality.contributions`` asks for them (leave-one-out
    for each lever the scenario has on, leave-one-in too with ``both``; a single lever gets
    both, its alone world being the run itself)."""
    from simulation.strategies.registry import active_strategy_levers

    inc = getattr(scenario, "incrementality", None)
    wanted: set[str] = set()
    if inc is not None and inc.counterfactual and inc.contributions != "none":
        levers = active_strategy_levers(scenario)  # type: ignore[arg-type]
        kinds = ("loo", "loi") if inc.contributions == "both" or len(levers) == 1 else ("loo",)
        if levers:
            wanted.update(f"interaction_{k}" for k in _CONTRIBUTED)
        wanted.update(f"{kind}_{k}__{lv}" for kind in kinds for k in _CONTRIBUTED for lv in levers)
    return tuple(n for n in _REGISTRY if not is_contribution(n) or n in wanted)


def outcome_problem(name: str, available: Iterable[str], what: str = "outcome") -> str | None:
    """Why ``name`` is not an outcome these runs have (None if it is): a contribution KPI the
    scenario does not compute says what switches it on; any other name gets the closest valid
    names and the list of what is allowed (per-lever contributions summarised as a pattern).
    ``what`` names the thing in the message ("metric" for ``compare --constraint``)."""
    import difflib

    have = list(dict.fromkeys(available))
    if name in have:
        return None
    if is_contribution(name):
        lever = name.split("__", 1)[1] if "__" in name else ""
        kind = "leave-one-in" if name.startswith("loi_") else "leave-one-out"
        need = "both" if name.startswith("loi_") else "leave_one_out (or both)"
        on = f" and the {lever} lever on" if lever else ""
        return (f"'{name}' is a {kind} contribution: runs report it only with "
                f"incrementality.contributions: {need}{on} (in the scenario or the "
                "experiment's overrides)")
    plain = [n for n in have if not is_contribution(n)]
    close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
    levers = ", ".join(ABLATION_LEVERS)
    return (f"unknown {what} '{name}'; {hint}valid: {', '.join(plain)}; and with "
            f"incrementality.contributions: loo_<kpi>__<lever>, loi_<kpi>__<lever>, "
            f"interaction_<kpi> (kpi: {', '.join(_CONTRIBUTED)}; lever: {levers})")
