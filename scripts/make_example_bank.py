"""Make the example bank dataset: a customer table, a tie list and 12 months of channel KPIs.

    python scripts/make_example_bank.py                       # the shipped small version
    python scripts/make_example_bank.py --customers 100000 --out /tmp/bank   # full size
    opmatrix calibrate /tmp/bank/scenario.yaml -t /tmp/bank/targets.yaml -p /tmp/bank/params.yaml

The customers and ties are drawn here (seeded); the KPIs are what the example scenario
(examples/bank/scenario.yaml) produces on them when the parameters take their hidden "true"
values :data:`TRUTH` — different from the scenario's first guesses — on a seed no calibration
uses. ``opmatrix calibrate`` on examples/bank/ must therefore find values near TRUTH; the test
suite and docs/calibrate.md use the shipped 5,000-customer version (data/), and the round trip
(files → scenario → same KPIs) is tests/test_example_bank.py.

Why synthetic: no bank's real table can be shipped. The magnitudes are illustrative (inf.);
the structure (segments, cities by Zipf, payroll colleagues, past referrals, neighbourhood weak
ties, stock customers in rings) follows the articles' operating matrix ([001][004]).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "bank"
#: The hidden "true" values the KPIs are generated with (each (inf.): illustrative).
TRUTH: dict[str, float] = {
    "channels.wecom_adviser.conversion_on_contact": 0.006,
    "channels.outbound_call.engage_on_contact": 0.45,
    "channels.douyin_ads.conversion_on_contact": 0.0004,
    "word_of_mouth.imitation": 0.004,
    "population.segments.payroll.churn_hazard": 0.0025,
}
#: Seed of the "real world" run: calibrations use seeds 0, 1, … and never this one.
WORLD_SEED = 20_261_201
CITIES = ["Shenzhen", "Shanghai", "Guangzhou", "Wuhan", "Chengdu", "Hangzhou", "Xi'an", "Nanjing"]
SEGMENTS = {  # share, age bands (probabilities), digital affinity (mean, sd), value (median, σ)
    "mass": (0.5, {"18-30": 0.5, "31-45": 0.5}, (0.75, 0.12), (40.0, 0.8)),
    "payroll": (0.3, {"18-30": 0.4, "31-45": 0.6}, (0.65, 0.15), (60.0, 0.9)),
    "elderly": (0.2, {"55-65": 0.6, "66-80": 0.4}, (0.30, 0.12), (80.0, 0.7)),
}
STOCK_SHARE = {"mass": 0.15, "payroll": 0.30, "elderly": 0.10}  # already customers on day 0
CHANNELS = ("wecom_adviser", "outbound_call", "douyin_ads", "branch")


def _beta(rng: np.random.Generator, mean: float, sd: float, n: int) -> np.ndarray:
    k = mean * (1 - mean) / sd**2 - 1
    return rng.beta(mean * k, (1 - mean) * k, size=n)


def customers(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """One row per customer: id, segment, city, age band, stage, ring, traits, branch."""
    names = list(SEGMENTS)
    seg = rng.choice(len(names), size=n, p=[SEGMENTS[s][0] for s in names])
    city_p = 1.0 / np.arange(1, len(CITIES) + 1)
    city = rng.choice(len(CITIES), size=n, p=city_p / city_p.sum())
    age = np.empty(n, dtype=object)
    digital = np.empty(n)
    value = np.empty(n)
    stage = np.full(n, "unaware", dtype=object)
    ring = np.full(n, "", dtype=object)
    for s, name in enumerate(names):
        idx = np.flatnonzero(seg == s)
        _, bands, (dm, ds), (vm, vs) = SEGMENTS[name]
        age[idx] = rng.choice(list(bands), size=idx.size, p=list(bands.values()))
        digital[idx] = _beta(rng, dm, ds, idx.size)
        value[idx] = vm * rng.lognormal(0.0, vs, size=idx.size)
        u = rng.random(idx.size)
        stock = u < STOCK_SHARE[name]
        aware = (u >= STOCK_SHARE[name]) & (u < STOCK_SHARE[name] + 0.2)
        stage[idx[stock]] = "active"
        stage[idx[aware]] = "aware"
        ring[idx[stock]] = rng.choice(["outer", "middle", "inner"], size=int(stock.sum()),
                                      p=[0.4, 0.35, 0.25])
    return pd.DataFrame({
        "customer_id": [f"C{i:07d}" for i in range(1, n + 1)],
        "segment": np.array(names, dtype=object)[seg],
        "city": np.array(CITIES, dtype=object)[city],
        "age_band": age,
        "stage": stage,
        "ring": ring,
        "digital_affinity": np.round(digital, 4),
        "monthly_value": np.round(value, 2),
        "branch_id": [f"B{c:02d}{b}" for c, b in zip(city, rng.integers(0, 5, size=n),
                                                     strict=True)],
    })


def edges(table: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Colleague ties among payroll customers of one city (work groups of ~8), past referrals
    from stock customers, and neighbourhood (weak) ties within a city."""
    n = len(table)
    ids = table["customer_id"].to_numpy()
    city = pd.factorize(table["city"])[0]
    rows: list[tuple[np.ndarray, np.ndarray, str]] = []
    payroll = np.flatnonzero(table["segment"].to_numpy() == "payroll")
    order = payroll[np.lexsort((rng.random(payroll.size), city[payroll]))]
    group = np.arange(order.size) // 8
    for offset in (1, 2):  # each colleague tied to the next one or two in the group
        a, b = order[:-offset], order[offset:]
        same = (group[:-offset] == group[offset:]) & (city[a] == city[b])
        rows.append((a[same], b[same], "colleague"))
    stock = np.flatnonzero(table["stage"].to_numpy() == "active")
    referrer = stock[rng.random(stock.size) < 0.3]
    invitee = rng.integers(0, n, size=referrer.size)
    rows.append((referrer, invitee, "referral"))
    src = rng.integers(0, n, size=2 * n)
    by_city = np.argsort(city, kind="stable")
    sizes = np.bincount(city, minlength=len(CITIES))
    starts = np.concatenate([[0], np.cumsum(sizes)])
    c = city[src]
    dst = by_city[starts[c] + (rng.random(src.size) * sizes[c]).astype(np.int64)]
    rows.append((src, dst, "neighbourhood"))
    frames = []
    for a, b, layer in rows:
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        keep = lo != hi
        frames.append(pd.DataFrame({"src": lo[keep], "dst": hi[keep], "layer": layer}))
    out = pd.concat(frames, ignore_index=True).drop_duplicates(["src", "dst", "layer"])
    weight = np.where(out["layer"] == "colleague", 1.0, np.where(out["layer"] == "referral",
                                                                  2.0, 0.5))
    return pd.DataFrame({"src": ids[out["src"]], "dst": ids[out["dst"]],
                         "layer": out["layer"].to_numpy(), "weight": weight})


def world_kpis(scenario_path: Path, months: int = 12) -> pd.DataFrame:
    """The "real world": the scenario at TRUTH on WORLD_SEED, as a monthly KPI sheet."""
    from simulation.decide.calibrate_model import record_levels
    from simulation.model import OperatingMatrixModel
    from simulation.scenario.load import load_scenario
    from simulation.scenario.types import DAYS_PER_MONTH

    sc = load_scenario(scenario_path, [f"{k}={v}" for k, v in TRUTH.items()])
    model = OperatingMatrixModel(sc, WORLD_SEED)
    model.run()
    levels = {k: np.asarray(v) for k, v in record_levels(model).items()}
    bounds = [round(m * DAYS_PER_MONTH) for m in range(months + 1)]
    rows = []
    for m in range(months):
        a, b = bounds[m], bounds[m + 1]

        def flow(name: str, a: int = a, b: int = b) -> int:
            series = levels.get(name)
            return 0 if series is None else int(series[b] - series[a])

        for ch in (*CHANNELS, "word_of_mouth"):
            rows.append({
                "month": m + 1, "channel": ch,
                "new_customers": flow(f"acquisitions:{ch}"),
                "contacts": flow(f"event:{ch}.contacts"),
                "wecom_adds": flow(f"event:{ch}.engaged"),
                "active_customers": "", "churned": "",
            })
        rows.append({"month": m + 1, "channel": "all",
                     "new_customers": flow("acquisitions"), "contacts": "", "wecom_adds": "",
                     "active_customers": int(levels["active"][b]),
                     "churned": flow("churned")})
    return pd.DataFrame(rows)


def make(out: Path, n: int, seed: int, scenario: Path = EXAMPLE / "scenario.yaml") -> None:
    """Write customers.csv, edges.csv and kpis.csv into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    table = customers(n, rng)
    table.to_csv(out / "customers.csv", index=False)
    edges(table, rng).to_csv(out / "edges.csv", index=False)
    target = scenario
    if out.resolve() != (EXAMPLE / "data").resolve():
        # the scenario and targets read data/…: copies pointing at the new folder, so the
        # README's commands run on it as they are (`opmatrix calibrate OUT/scenario.yaml
        # -t OUT/targets.yaml -p OUT/params.yaml`), into results/example_bank_fit_<n>/
        text = scenario.read_text(encoding="utf-8").replace("data/", f"{out.resolve()}/")
        target = out / "scenario.yaml"
        target.write_text(text, encoding="utf-8")
        for name in ("targets.yaml", "params.yaml"):
            text = (EXAMPLE / name).read_text(encoding="utf-8")
            text = text.replace("data/", f"{out.resolve()}/")
            text = text.replace("name: example_bank_fit", f"name: example_bank_fit_{n}")
            (out / name).write_text(text, encoding="utf-8")
    world_kpis(target).to_csv(out / "kpis.csv", index=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--out", type=Path, default=EXAMPLE / "data")
    parser.add_argument("--reveal", action="store_true", help="print the hidden true values")
    args = parser.parse_args(argv)
    make(args.out, args.customers, args.seed)
    extra = "" if args.out.resolve() == (EXAMPLE / "data").resolve() else (
        ", scenario.yaml, targets.yaml, params.yaml")
    print(f"wrote {args.out}/customers.csv, edges.csv, kpis.csv{extra} "
          f"({args.customers:,} customers)")
    if args.reveal:
        for k, v in TRUTH.items():
            print(f"  {k} = {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
