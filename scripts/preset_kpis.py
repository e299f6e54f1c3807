"""Regenerate the KPI tables of docs/presets.md by running every preset.

Each preset in ``scenarios/*.yaml`` is run at its default size and horizon through the real
``opmatrix run`` command (seed 0, no plots). Its summary.json gives two tables:

- the headline table (conversion, retention at 90 days, CPA, LTV, CPU time of the command);
- the economics table (CPA, ROI, attributed and incremental CPA, incremental ROI, the share of
  acquisitions that cost nothing in last-touch accounting, budget used), the numbers a strategy
  team reads to decide where money goes (issue 10) and the ones the presets' cited ranges are
  checked against.

Each table replaces the block between its markers in docs/presets.md (``kpis:start`` /
``kpis:end`` and ``econ:start`` / ``econ:end``). ``--json FILE`` also writes every preset's flat
KPIs, so a before/after comparison does not need to rerun anything.

Usage: .venv/bin/python scripts/preset_kpis.py [--seed N] [--check] [--json FILE] [names...]
(``--check`` prints the tables without writing the file; names restrict the presets run, and
then the document is not rewritten.)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "presets.md"
BLOCKS = {"kpis": ("<!-- kpis:start -->", "<!-- kpis:end -->"),
          "econ": ("<!-- econ:start -->", "<!-- econ:end -->"),
          "lifetime": ("<!-- lifetime:start -->", "<!-- lifetime:end -->")}


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_preset(name: str, seed: int, out: Path) -> tuple[dict, float]:
    """Run one preset via the CLI; return its summary.json and the CPU seconds it took.

    CPU seconds (user + system of the child) rather than wall time: the machine the tables are
    made on is shared, and CPU time is what does not depend on the load.
    """
    before = _child_cpu()
    proc = subprocess.run(
        [sys.executable, "-m", "simulation", "run", name, "--seed", str(seed),
         "--no-plots", "--quiet", "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, check=False,
    )
    cpu = _child_cpu() - before
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed:\n{proc.stderr}")
    return json.loads((out / "summary.json").read_text()), cpu


def pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:,.1f} %"


def pct0(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:,.0f} %"


def yuan(v: float | None) -> str:
    if v is None:
        return "–"
    return f"¥{v:,.2f}" if abs(v) < 100 else f"¥{v:,.0f}"


def headline_row(name: str, summary: dict, cpu: float) -> str:
    k = summary["kpis"]
    return (f"| `{name}` | {k['customers']:,} | {summary['days']} "
            f"| {pct(k['conversion_rate'])} | {pct(k['retention_90d'])} "
            f"| {yuan(k['cost_per_acquisition'])} | {yuan(k['ltv'])} | {cpu:.1f} s |")


def econ_row(name: str, summary: dict) -> str:
    k = summary["kpis"]
    organic = k.get("organic_acquisitions")
    org = "–" if organic is None else f"{organic:,.0f} of {k['acquisitions']:,.0f}"
    return (f"| `{name}` | {yuan(k['cost_per_acquisition'])} | {pct0(k['roi'])} "
            f"| {yuan(k.get('attributed_cpa'))} | {yuan(k.get('incremental_cpa'))} "
            f"| {pct0(k.get('incremental_roi'))} | {pct0(k.get('free_share'))} | {org} "
            f"| {pct0(k.get('budget_used'))} |")


def payback(v: float | None, spend: float | None) -> str:
    if spend is None or spend <= 0:
        return "–"
    if v is None:
        return "not in 30 yr"
    return f"{v / 365:.1f} yr" if v > 365 else f"{v:.0f} d"


def lifetime_row(name: str, summary: dict) -> str:
    k = summary["kpis"]
    h = k.get("churn_hazard_end")
    return (f"| `{name}` | {summary['days']} | {pct0(k.get('incremental_roi'))} "
            f"| {pct0(k.get('incremental_lifetime_roi'))} "
            f"| {payback(k.get('incremental_payback_days'), k.get('incremental_spend'))} "
            f"| {yuan(k.get('incremental_value'))} | {yuan(k.get('incremental_clv'))} "
            f"| {yuan(k.get('incremental_spend'))} | {pct0(k['roi'])} "
            f"| {pct0(k.get('lifetime_roi'))} | {'–' if h is None else f'{h:.2f}'} "
            f"| {yuan(k.get('cost_per_acquisition'))} "
            f"| {yuan(k.get('lifetime_cost_per_acquisition'))} "
            f"| {yuan(k.get('incremental_cpa'))} "
            f"| {yuan(k.get('incremental_lifetime_cost_per_acquisition'))} |")


LIFETIME = ["| preset | days | incremental ROI (in horizon) | incremental lifetime ROI | payback "
            "| incremental value (in horizon) | incremental CLV beyond | incremental spend "
            "| ROI (in horizon) | lifetime ROI | churn hazard / yr at end "
            "| CPA (in horizon) | CPA over the card's life "
            "| incremental CPA | incremental CPA over the card's life |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
HEADLINE = ["| preset | customers | days | conversion | retention 90 d | CPA | LTV | CPU time |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
ECON = ["| preset | CPA | ROI | attributed CPA | incremental CPA | incremental ROI | free share "
        "| organic (counterfactual) acquisitions | budget used |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]


def run_all(seed: int, names: list[str]) -> tuple[dict[str, str], dict[str, dict]]:
    """Run the presets; return the two tables and every preset's flat KPIs."""
    head, econ, flat = list(HEADLINE), list(ECON), {}
    life = list(LIFETIME)
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            summary, cpu = run_preset(name, seed, Path(tmp) / name)
            head.append(headline_row(name, summary, cpu))
            econ.append(econ_row(name, summary))
            life.append(lifetime_row(name, summary))
            flat[name] = {key: v for key, v in summary["kpis"].items()
                          if not isinstance(v, (dict, list))}
            flat[name]["days"] = summary["days"]
            flat[name]["cpu_s"] = round(cpu, 2)
            print(head[-1], flush=True)
            print(econ[-1], flush=True)
            print(life[-1], flush=True)
    return {"kpis": "\n".join(head), "econ": "\n".join(econ), "lifetime": "\n".join(life)}, flat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check", action="store_true", help="print only, do not write")
    parser.add_argument("--json", type=Path, help="also write every preset's flat KPIs here")
    parser.add_argument("names", nargs="*", help="presets to run (default: all)")
    args = parser.parse_args()
    every = sorted(p.stem for p in (REPO / "scenarios").glob("*.yaml"))
    names = args.names or every
    unknown = sorted(set(names) - set(every))
    if unknown:
        parser.error(f"unknown preset(s): {', '.join(unknown)}; allowed: {', '.join(every)}")
    tables, flat = run_all(args.seed, names)
    if args.json:
        args.json.write_text(json.dumps(flat, indent=1, sort_keys=True), encoding="utf-8")
    if args.check or args.names:
        return
    text = DOC.read_text(encoding="utf-8")
    note = (f"\n_seed {args.seed}, default size; regenerate with "
            "`.venv/bin/python scripts/preset_kpis.py`_\n\n")
    for block, (start, end) in BLOCKS.items():
        if start not in text:
            raise SystemExit(f"{DOC}: marker {start} missing")
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{start}{note}{tables[block]}\n{end}{tail}"
    DOC.write_text(text, encoding="utf-8")
    print(f"updated {DOC.relative_to(REPO)}")


if __name__ == "__main__":
    main()
