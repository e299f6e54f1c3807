"""Figures and the HTML reports of ``optimize`` and ``discover`` (built on ``simulation.report``).

Every figure is a pure function of the result dictionary the command wrote (``result.json``),
so a report can be rebuilt from the folder alone; figures are also saved as PNG beside it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from simulation.decide.selection import score_formula
from simulation.formatting import fmt_ci, fmt_diff_ci, within
from simulation.i18n import kpi_label
from simulation.plots.style import PALETTE, money_axis, new_figure, save
from simulation.report.render import Report, Table, fmt, write_html


def _num(v: Any) -> float:
    return math.nan if v is None else float(v)


# ---------------------------------------------------------------------------- optimize


def convergence_figure(result: dict[str, Any]) -> Figure:
    """Each candidate's objective (replicate mean) and the best feasible so far."""
    kpi = result["objectives"][0]["kpi"]
    maximize = result["objectives"][0]["direction"] == "maximize"
    rows = sorted(
        (r for r in result["trials"] if r["summary"].get(kpi)), key=lambda r: r["number"]
    )
    fig, ax = new_figure(width=8, height=3.8)
    xs = [r["number"] for r in rows]
    ys = [_num(r["summary"][kpi]["mean"]) for r in rows]
    ok = [r["feasible"] for r in rows]
    ax.scatter(
        [x for x, f in zip(xs, ok, strict=True) if f],
        [y for y, f in zip(ys, ok, strict=True) if f],
        s=14, color=PALETTE[0], label="feasible candidate",
    )
    ax.scatter(
        [x for x, f in zip(xs, ok, strict=True) if not f],
        [y for y, f in zip(ys, ok, strict=True) if not f],
        s=14, color="#bbbbbb", label="violates a constraint",
    )
    best, line = None, []
    for y, f in zip(ys, ok, strict=True):
        if f and math.isfinite(y):
            best = y if best is None else (max(best, y) if maximize else min(best, y))
        line.append(np.nan if best is None else best)
    ax.step(xs, line, where="post", color=PALETTE[1], label="best so far")
    base = result["baseline"].get(kpi, {}).get("mean")
    if base is not None:
        ax.axhline(base, color="#555", ls=":", lw=1, label="baseline")
    ax.set_xlabel("candidate (trial number)")
    ax.set_ylabel(kpi)
    ax.set_title(f"Search convergence ({result['sampler']})")
    ax.legend(fontsize=8)
    return fig


def split_figure(result: dict[str, Any]) -> Figure:
    rec = result["recommended"]["budgets"]
    bounds = {b["name"]: b for b in result["allocation"]["bounds"]}
    names = list(rec)
    fig, ax = new_figure(width=8, height=3.6)
    x = np.arange(len(names))
    ax.bar(x - 0.2, [bounds[n]["current"] for n in names], 0.4, color="#bbbbbb", label="current")
    ax.bar(x + 0.2, [rec[n] for n in names], 0.4, color=PALETTE[0], label="recommended")
    for i, n in enumerate(names):
        lo, hi = bounds[n]["low"], bounds[n]["high"]
        ax.plot([i + 0.2, i + 0.2], [lo, hi], color="#333", lw=0.8)
    ax.set_xticks(x, names, rotation=20, ha="right")
    money_axis(ax)
    ax.set_title("Budget split (line: the search bounds)")
    ax.legend(fontsize=8)
    return fig


def curves_figure(result: dict[str, Any]) -> Figure:
    curves = result["response_curves"]
    n = len(curves)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = new_figure(rows, cols, width=4 * cols, height=3.2 * rows)
    axes = np.atleast_1d(axes).ravel()
    for ax, curve in zip(axes, curves, strict=False):
        pts = curve["points"]
        xs = [p["budget"] for p in pts]
        m = [_num(p["incremental_acquisitions"][0]) for p in pts]
        lo = [_num(p["incremental_acquisitions"][1]) for p in pts]
        hi = [_num(p["incremental_acquisitions"][2]) for p in pts]
        ax.plot(xs, m, marker="o", color=PALETTE[0])
        ax.fill_between(xs, lo, hi, color=PALETTE[0], alpha=0.2)
        ax.axvline(curve["recommended"], color=PALETTE[1], lw=1, label="recommended")
        sat = curve["saturation"]["budget"]
        if sat is not None:
            ax.axvline(sat, color="#a00", ls="--", lw=1, label="saturation")
        ax.set_title(curve["budget"], fontsize=10)
        ax.set_xlabel("budget (yuan)")
        ax.set_ylabel("incremental acquisitions")
        money_axis(ax, "x")
        ax.legend(fontsize=7)
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.suptitle("Response curves (vs that budget at zero, others at the recommendation)")
    return fig


def pareto_figure(result: dict[str, Any]) -> Figure:
    (k1, k2) = [o["kpi"] for o in result["objectives"][:2]]
    fig, ax = new_figure(width=7, height=4.2)
    front = set(result["pareto_front"])
    for r in result["trials"]:
        s = r["summary"]
        if k1 not in s or k2 not in s:
            continue
        on = r["number"] in front
        x, y = _num(s[k1]["mean"]), _num(s[k2]["mean"])
        if on:  # a share's interval stops at 0 and 100 % (formatting.within)
            xl, xh, _ = within(k1, _num(s[k1]["low"]), _num(s[k1]["high"]))
            yl, yh, _ = within(k2, _num(s[k2]["low"]), _num(s[k2]["high"]))
            xe = [[x - xl], [xh - x]]
            ye = [[y - yl], [yh - y]]
            ax.errorbar(x, y, xerr=xe, yerr=ye, fmt="o", color=PALETTE[1], ms=5, lw=0.8)
        else:
            ax.scatter(x, y, s=10, color="#bbbbbb" if not r["feasible"] else PALETTE[0])
    ax.set_xlabel(k1)
    ax.set_ylabel(k2)
    ax.set_title("Pareto front (orange, 95% CIs over the search seeds)")
    return fig


def write_optimize_report(result: dict[str, Any], root: Path) -> Path:
    """report.html + PNG figures in ``root`` (the optimize folder)."""
    rec = result["recommended"]
    sel = result.get("selection")
    facts = [
        ("objectives", ", ".join(f"{o['direction']} {o['kpi']}" for o in result["objectives"])),
        ("constraints", "; ".join(result["constraints"]) or "none"),
        ("search", f"{result['sampler']}, {len(result['trials'])} candidates × "
                   f"{len(result['seeds'])} seeds (common random numbers)"),
        ("worlds", ", ".join(result["worlds"])
         + (f" (robust score: {result['robust_score']})" if result.get("robust_score") else "")),
        ("recommended", f"{rec['label']} on {rec['replicates']} seeds"),
        ("selection", sel["description"] if sel else "fewer than two feasible candidates"),
        ("runs computed", f"{result['runs_computed']} ({result['seconds']:.0f} s)"),
        ("optimiser overhead", f"{result['overhead_per_candidate_ms']:.1f} ms per candidate"),
    ]
    report = Report(
        title=f"Optimisation: {result['experiment']}",
        subtitle="Search on common random numbers, then ranking-and-selection on the top "
        "candidates",
        facts=facts,
    )
    if rec["budgets"]:
        total = sum(rec["budgets"].values()) or 1.0
        bounds = {b["name"]: b for b in result["allocation"]["bounds"]}
        report.tables.append(
            Table(
                "Budget split",
                ["budget", "current", "recommended", "share", "bounds"],
                [
                    [
                        n, fmt(bounds[n]["current"], "money"), fmt(v, "money"),
                        f"{v / total:.1%}",
                        "fixed" if bounds[n]["fixed"] else (
                            f"{fmt(bounds[n]['low'], 'money')} – "
                            f"{fmt(bounds[n]['high'], 'money')}"
                        ),
                    ]
                    for n, v in rec["budgets"].items()
                ],
            )
        )
    if rec["point"]:
        # the allocation's budgets are in the budget split; any other budget searched as a
        # parameter (perks.budget …) is a parameter like the rest
        split = {b["path"] for b in (result.get("allocation") or {}).get("bounds", [])}
        others = {k: v for k, v in rec["point"].items() if k not in split}
        if others:
            report.tables.append(
                Table("Recommended parameters", ["path", "value"],
                      [[k, param_text(k, v)] for k, v in others.items()])
            )
    report.tables.append(
        Table(
            "Recommended vs baseline (paired on common seeds, 95% CI)",
            ["KPI", "recommended", "baseline", "difference", "seeds"],
            [
                [kpi_label(k), fmt(d["candidate"], _kind(k)), fmt(d["baseline"], _kind(k)),
                 fmt_diff_ci(d["diff"], d["low"], d["high"], _kind(k)), str(d["n"])]
                for k, d in rec["vs_baseline"].items()
            ],
        )
    )
    if sel:
        report.tables.append(
            Table(
                "Selection stage",
                ["candidate", "seeds", "outcome"],
                [
                    [lab, str(n), "selected" if lab == rec["label"] else (
                        "survivor" if lab in sel["survivors"]
                        else f"eliminated at {sel['eliminated_at'].get(lab, '—')} seeds")]
                    for lab, n in sel["replicates"].items()
                ],
                note=sel["description"],
            )
        )
    if sel and sel.get("objectives") and sel["method"] == "ocba":
        # OCBA eliminates no one: what it has per objective is its estimate, and jointly
        # their Bonferroni combination (simulation/decide/selection.py)
        joint = sel.get("joint_pcs_estimate")
        report.tables.append(
            Table(
                "Selection per objective (OCBA on each, α/m)",
                ["objective", "δ", "best", "estimated P(CS)", "target", "seeds of the best"],
                [
                    [f"{o['direction']} {o['kpi']}", fmt(o["delta"]), o["best"],
                     fmt(o["pcs_estimate"], "pct"), fmt(1 - o["alpha"], "pct"),
                     str(o["replicates"].get(o["best"], "—"))]
                    for o in sel["objectives"]
                ],
                note="Each objective's seeds are allocated by its own OCBA ratios. Jointly, by "
                f"Bonferroni, the estimated P(every objective's best is named) ≥ "
                f"1 − Σ(1 − P̂) = {fmt(joint, 'pct')}: an estimate, not a guarantee. The "
                "recommendation is the first objective's best.",
            )
        )
    elif sel and sel.get("objectives"):
        # several objectives screened one by one: which candidates each one separates
        report.tables.append(
            Table(
                "Selection per objective (each with its own indifference zone, α/m)",
                ["objective", "δ", "best", "separated (shown worse)", "not separated"],
                [
                    [f"{o['direction']} {o['kpi']}", fmt(o["delta"]), o["best"],
                     ", ".join(o["separated"]) or "—",
                     ", ".join(x for x in o["not_separated"] if x != o["best"]) or "—"]
                    for o in sel["objectives"]
                ],
                note="A candidate is separated on an objective when the procedure shows it "
                "worse there; the recommendation is the first objective's best.",
            )
        )
    if result["marginals"]:
        report.tables.append(
            Table(
                "Marginal returns at the recommendation (finite differences, common seeds)",
                ["budget", "at", "+Δ", "extra spend", "acquisitions per ¥1000", "marginal CPA",
                 "value per yuan"],
                [
                    [m["budget"], fmt(m["at"], "money"), fmt(m["step"], "money"),
                     fmt(m["extra_spend"], "money"),
                     fmt_ci(*map(_num, m["acquisitions_per_1000"])),
                     "saturated" if m["saturated"] else fmt_ci(*map(_num, m["marginal_cpa"]),
                                                               "money"),
                     fmt_ci(*map(_num, m["marginal_value_per_yuan"]))]
                    for m in result["marginals"]
                ],
                note="Marginal CPA = extra spend / extra acquisitions; 'saturated' = the extra "
                "budget is not spent (reach, caps or capacity bind).",
            )
        )
    if result["response_curves"]:
        report.tables.append(
            Table(
                "Saturation points",
                ["budget", "saturates at", "why"],
                [
                    [c["budget"],
                     fmt(c["saturation"]["budget"], "money")
                     if c["saturation"]["budget"] is not None else "—",
                     c["saturation"]["reason"]]
                    for c in result["response_curves"]
                ],
            )
        )
    if result.get("regret"):
        report.tables.append(_regret_table(result))
    figures = [("Search convergence", "Replicate means; grey = violates a constraint.",
                convergence_figure(result), "convergence.png")]
    if rec["budgets"]:
        figures.append(("Budget split", "Current spend vs the recommendation.",
                        split_figure(result), "budget_split.png"))
    if result["response_curves"]:
        figures.append(("Response curves", "Incremental acquisitions with 95% CIs.",
                        curves_figure(result), "response_curves.png"))
    if len(result["objectives"]) > 1:
        figures.append(("Pareto front", "Non-dominated feasible candidates.",
                        pareto_figure(result), "pareto_front.png"))
    for title, caption, fig, name in figures:
        report.add_figure(title, caption, fig)
        save(fig, root / name)
    return write_html(report, root / "report.html")


# ---------------------------------------------------------------------------- discover


def tradeoff_figure(result: dict[str, Any]) -> Figure:
    traj = result["prim"]["trajectory"]
    fig, ax = new_figure(width=6.5, height=4.2)
    cov = [t["coverage"] for t in traj]
    den = [t["density"] for t in traj]
    sc = ax.scatter(cov, den, c=[t["res_dim"] for t in traj], cmap="viridis", s=18)
    fig.colorbar(sc, ax=ax, label="restricted dimensions")
    chosen = result["prim"]["chosen"]
    ax.scatter([cov[chosen]], [den[chosen]], s=80, facecolors="none", edgecolors="red",
               label="chosen box")
    ax.set_xlabel("coverage (share of failure probability inside)")
    ax.set_ylabel("density (mean failure probability inside)")
    ax.set_title("PRIM peeling/pasting trajectory")
    ax.legend(fontsize=8)
    return fig


def importance_figure(result: dict[str, Any]) -> Figure:
    scores = result["scores"]
    names = [s["parameter"] for s in scores]
    fig, axes = new_figure(1, 2, width=10, height=3.6)
    y = np.arange(len(names))
    et = [s["extra_trees"] for s in scores]
    et_sd = [s["extra_trees_noise_sd"] for s in scores]
    axes[0].barh(y, et, xerr=et_sd, color=PALETTE[0])
    axes[0].set_yticks(y, names)
    axes[0].set_title("Extra-trees (± replicate noise)")
    dl = [_num(s.get("delta")) for s in scores]
    dl_ci = [_num(s.get("delta_conf")) for s in scores]
    axes[1].barh(y, dl, xerr=dl_ci, color=PALETTE[2])
    axes[1].set_yticks(y, names)
    axes[1].set_title("SALib delta (± conf.)")
    return fig


def write_discover_report(result: dict[str, Any], root: Path) -> Path:
    box = result["prim"]["box"]
    facts = [
        ("failure", result["fail"]),
        ("points × replicates", f"{result['n_points']} × {result['replicates']}"),
        ("runs failing", f"{result['failure_share']:.1%}"),
        ("replicate-noise share", f"{result['noise_share']:.1%} of the variance of a run's "
                                   "failure indicator is within-point noise"),
        ("PRIM box", f"coverage {box['coverage']:.2f}, density {box['density']:.2f}, "
                     f"mass {box['mass']:.2f}"),
    ]
    report = Report(
        title=f"Scenario discovery: {result['experiment']}",
        subtitle="Where in the swept space does the strategy fail? (PRIM, CART, feature scores)",
        facts=facts,
    )
    report.tables.append(
        Table(
            "PRIM box",
            ["parameter", "low", "high", "swept range", "quasi-p", "bootstrap reproduce"],
            [
                [lim["parameter"], f"{lim['low']:.4g}", f"{lim['high']:.4g}",
                 f"{lim['min']:.4g} – {lim['max']:.4g}",
                 f"{_num(lim.get('qp')):.3g}", f"{_num(lim.get('reproduce')):.0f}%"]
                for lim in box["limits"]
            ],
            note="quasi-p: binomial test that the restriction raises the density (EMA "
            "Workbench); bootstrap reproduce: share of resamples whose box restricts it too.",
        )
    )
    conf = result.get("confirmation")
    if conf:
        report.tables.append(
            Table(
                "Confirmation runs (new points, common seeds)",
                ["where", "points", "failure probability (95% CI)"],
                [
                    ["inside the box", str(conf["n_inside"]), fmt_ci(*conf["inside"], "pct")],
                    ["outside the box", str(conf["n_outside"]), fmt_ci(*conf["outside"], "pct")],
                    ["difference", "", fmt_ci(*conf["difference"], "pp")],
                ],
            )
        )
    report.tables.append(
        Table(
            "Feature scores",
            ["parameter", "extra-trees", "noise sd", "noise share", "SALib delta", "delta conf",
             "S1"],
            [
                [s["parameter"], f"{s['extra_trees']:.3f}", f"{s['extra_trees_noise_sd']:.3f}",
                 f"{s['noise_share']:.0%}", f"{_num(s.get('delta')):.3f}",
                 f"{_num(s.get('delta_conf')):.3f}", f"{_num(s.get('S1')):.3f}"]
                for s in result["scores"]
            ],
            note="noise sd: spread of the importance when each point's label is recomputed from "
            "resampled replicates; noise share = noise sd / importance.",
        )
    )
    report.extra_yaml.append(("CART rules (failure probability)", result["cart"]["rules"]))
    figures = [
        ("PRIM trade-off", "Coverage vs density along the trajectory.",
         tradeoff_figure(result), "prim_tradeoff.png"),
        ("Feature scores", "Which parameters drive failure.",
         importance_figure(result), "feature_scores.png"),
    ]
    for title, caption, fig, name in figures:
        report.add_figure(title, caption, fig)
        save(fig, root / name)
    return write_html(report, root / "report.html")


def param_text(path: str, value: Any) -> str:
    """A searched parameter's value as a user writes it: yuan for a budget or a cost, whole
    numbers as integers, else up to four significant digits ("4.219e+04" read badly)."""
    leaf = path.rsplit(".", 1)[-1]
    if isinstance(value, int | float) and not isinstance(value, bool):
        if leaf == "budget" or leaf.startswith("cost") or leaf.endswith("_cost"):
            return fmt(value, "money")
        if float(value).is_integer():
            return f"{int(value):,}"
        return f"{value:.4g}"
    return str(value)


def _kind(kpi: str) -> str:
    """A KPI's number format (a plain number for the declared score or an unknown name)."""
    from simulation import kpis

    return kpis.format_of(kpi)


def _regret_table(result: dict[str, Any]) -> Table:
    """Minimax regret across worlds: one column per objective (or the declared score)."""
    rows = result["regret"]
    measures = list(rows[0].get("regrets") or {"max regret": None})
    sel = result.get("selection") or {}
    weights = sel.get("weights")
    if weights:
        ways = {o["kpi"]: o["direction"] for o in result["objectives"]}
        heads = [f"max regret of {score_formula(weights, ways)}"]
    else:
        heads = [f"max regret: {k}" for k in measures] if rows[0].get("regrets") else [
            "max regret"]
    several = len(measures) > 1
    body = []
    for r in rows:
        values = ([r["regrets"][k] for k in measures] if r.get("regrets")
                  else [r["max_regret"]])
        cells = [str(r["trial"]), *(fmt(v, _kind(k)) for k, v in zip(measures, values,
                                                                    strict=True))]
        if several:
            cells.append(", ".join(r.get("minimax_on") or []) or "—")
        body.append(cells)
    note = ("Regret in a world = the best candidate's replicate mean there − this one's (each "
            "objective turned so that larger is better, in its own units); max over the worlds. "
            "From the search's means, without confidence intervals: the recommendation comes "
            "from the selection stage.")
    if several:
        note += (" No order across the objectives is declared, so rows are sorted by the first "
                 "objective's regret and each objective's minimax candidate is kept ('minimax "
                 "on'); declare selection.weights to rank by one score.")
    return Table("Minimax regret across worlds", ["trial", *heads, *(["minimax on"] if several
                                                                      else [])], body, note=note)
