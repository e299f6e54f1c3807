"""How much common random numbers narrow the confidence interval of incremental KPIs.

Each replicate r runs a preset and its counterfactual (every bank lever off) two ways:

- **CRN** (what every run does, simulation/incremental.py): the counterfactual on the same seed
  and the same population and graph, so incremental = factual(r) − counterfactual(r);
- **independent**: the counterfactual on another seed (its own population, graph and draws),
  incremental = factual(r) − counterfactual(r + 1000), as two separately seeded runs would give.

Printed per KPI: mean, standard deviation over replicates and the 95 % t-interval half-width of
the mean for both, and the ratio independent ÷ CRN (how many times wider the interval is
without common random numbers; its square is how many more replicates the same precision
needs). Numbers in docs/experiments.md ("Common random numbers: how much they narrow the CI").

    .venv/bin/python scripts/crn_variance.py quickstart cgb_pilot --size 5000 --days 180 --reps 10
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from scipy import stats

from simulation import load_scenario, run
from simulation.incremental import active_levers, switch_off

REPO = Path(__file__).resolve().parents[1]
KPIS = ("incremental_acquisitions", "incremental_value", "incremental_cpa")


def _increments(factual: dict, counterfactual: dict) -> dict[str, float]:
    acq = float(factual["acquisitions"]) - float(counterfactual["acquisitions"])
    spend = float(factual["spend"]) - float(counterfactual["spend"])
    return {
        "incremental_acquisitions": acq,
        "incremental_value": float(factual["value_total"]) - float(counterfactual["value_total"]),
        "incremental_cpa": spend / acq if acq > 0 else math.nan,
    }


def measure(preset: str, size: int, days: int, reps: int) -> dict[str, dict[str, float]]:
    """Per KPI: mean, sd and CI half-width with CRN and with independent seeds."""
    sc = load_scenario(
        REPO / "scenarios" / f"{preset}.yaml", [f"population.size={size}", f"days={days}"]
    )
    cf_sc = switch_off(sc, active_levers(sc)).model_copy(
        update={"incrementality": sc.incrementality.model_copy(update={"counterfactual": False})}
    )
    crn: dict[str, list[float]] = {k: [] for k in KPIS}
    ind: dict[str, list[float]] = {k: [] for k in KPIS}
    for r in range(reps):
        s = run(sc, seed=r).summary
        for k in KPIS:
            crn[k].append(float(s[k]) if s[k] is not None else math.nan)
        other = run(cf_sc, seed=1000 + r).summary
        for k, v in _increments(s, other).items():
            ind[k].append(v)
    t = float(stats.t.ppf(0.975, reps - 1))
    out = {}
    for k in KPIS:
        a, b = np.array(crn[k]), np.array(ind[k])
        sa, sb = float(np.nanstd(a, ddof=1)), float(np.nanstd(b, ddof=1))
        out[k] = {
            "crn_mean": float(np.nanmean(a)), "crn_sd": sa, "crn_half": t * sa / math.sqrt(reps),
            "ind_mean": float(np.nanmean(b)), "ind_sd": sb, "ind_half": t * sb / math.sqrt(reps),
            "ratio": sb / sa if sa > 0 else math.inf,
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("presets", nargs="+")
    ap.add_argument("--size", type=int, default=5000)
    ap.add_argument("--days", type=int, default=180)
    ap.add_argument("--reps", type=int, default=10)
    args = ap.parse_args()
    print(f"{args.size} customers, {args.days} days, {args.reps} replicates each way")
    print("| preset | KPI | CRN mean ± 95 % half-width | independent mean ± half-width | "
          "CI width ratio (independent ÷ CRN) |")
    print("|---|---|---|---|---|")
    for preset in args.presets:
        for k, r in measure(preset, args.size, args.days, args.reps).items():
            print(f"| {preset} | `{k}` | {r['crn_mean']:,.1f} ± {r['crn_half']:,.1f} | "
                  f"{r['ind_mean']:,.1f} ± {r['ind_half']:,.1f} | {r['ratio']:.1f}× |")


if __name__ == "__main__":
    main()
