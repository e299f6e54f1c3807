"""What a calibration compares: level series recorded per run, and the likelihood of the data.

Every run records the same **level series** (``OBSERVABLES`` of ``simulation/data/targets.py``):
stocks (customers, active, at risk…) as counts per day, flows (acquisitions per source, ledger
events, spend, value, churned) as running totals. A target then reads them on its own grid:
a stock at each period's end, a flow as the difference over each period — so the same stored
runs serve any targets file.

Likelihoods (per target, weighted, summed): ``poisson``; ``negative_binomial`` with dispersion
α (variance μ + αμ²) for over-dispersed counts; ``normal`` with ``sd`` or ``cv`` (relative to
the observed value) plus the Monte-Carlo variance of the replicate mean; for proportions
(x of n) ``binomial`` or ``beta_binomial`` with intra-class correlation ρ. The simulated mean μ
is the average over the trial's R replicates (common seeds), scaled by ``population.scale``.
Fits are compared through the **deviance** 2·(ℓ_saturated − ℓ): ≥ 0, 0 for a perfect fit, and
roughly χ² with one degree of freedom per observed number when the model is right — which is
what lets the fit table flag a model the data reject.
"""

from __future__ import annotations

import base64
import time
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from simulation.data.targets import SEGMENTED, Target
from simulation.population.stages import CUSTOMER_STAGES, Stage
from simulation.runner.specs import RunSpec
from simulation.runner.worker import RunOutcome, _describe, _finite

#: Bump when the recorded series change (it enters every calibration run's id).
OBSERVE_VERSION = 4  # 4: levels packed (pack_levels), not JSON lists
#: Smallest simulated mean a count likelihood uses (a zero mean would make any count impossible).
MU_FLOOR = 1e-3
P_CLIP = 1e-9
#: Deviance of a trial whose scenario is invalid or whose runs failed (finite, so samplers cope).
PENALTY = 1e12
#: Money-layer series recorded (True: a stock level; False: a daily flow, summed to a running
#: total) and the observable names they get.
MONEY_LEVELS = {"aum": True, "wealth": True, "loans_outstanding": True, "gmv_flow": False,
                "inflow_flow": False, "loans_disbursed_flow": False}
MONEY_NAMES = {"aum": "aum", "wealth": "wealth", "loans_outstanding": "loans_outstanding",
               "gmv_flow": "card_gmv", "inflow_flow": "inflows",
               "loans_disbursed_flow": "loans_disbursed"}


# ---------------------------------------------------------------------------- recording


def record_levels(model: Any) -> dict[str, list[float]]:
    """Every level series of a finished run, day 0..T, totals and per segment."""
    rec = model.recorder
    pop = model.population
    horizon = model.day
    counts = rec.stage_counts[: horizon + 1].astype(np.int64)
    segs = pop.segment_names
    by_stage = {
        "customers": counts[:, :, list(CUSTOMER_STAGES)].sum(axis=2),
        "active": counts[:, :, Stage.CONVERTED] + counts[:, :, Stage.ACTIVE],
        "at_risk": counts[:, :, Stage.AT_RISK],
        "dormant": counts[:, :, Stage.DORMANT],
        "churned": counts[:, :, Stage.CHURNED],
    }
    conv = pop.converted_day
    won = conv >= 1
    # represented customers: each row counts its population weight, as the recorder and the
    # ledger count (issue 14's weights), so no series is multiplied by the scale again later
    weight = getattr(pop, "weight", None)
    w = np.ones(pop.n) if weight is None else np.asarray(weight, dtype=float)
    per_seg = np.zeros((horizon + 1, len(segs)), dtype=float)
    np.add.at(per_seg, (conv[won], pop.segment[won]), w[won])
    by_stage["acquisitions"] = np.cumsum(per_seg, axis=0)
    out: dict[str, list[float]] = {}
    for name, arr in by_stage.items():
        out[name] = arr.sum(axis=1).tolist()
        for s, seg in enumerate(segs):
            out[f"{name}@{seg}"] = arr[:, s].tolist()
    via = pop.acquired_via
    for code, source in enumerate(pop.sources):
        sel = won & (via == code)
        daily = np.bincount(conv[sel], weights=w[sel], minlength=horizon + 1)[: horizon + 1]
        out[f"acquisitions:{source}"] = np.cumsum(daily).tolist()
    for (item, event), arr in model.ledger.events.items():
        out[f"event:{item}.{event}"] = np.cumsum(arr[: horizon + 1].sum(axis=1)).tolist()
    money = getattr(model, "money", None)
    series = getattr(money, "series", None) or {}
    for name, level in MONEY_LEVELS.items():  # the money layer (simulation/money/), yuan
        if name in series:
            arr = np.asarray(series[name][: horizon + 1], dtype=float)
            if not level:
                arr = np.cumsum(arr, axis=0)
            out[MONEY_NAMES[name]] = arr.sum(axis=1).tolist()
            for s, seg in enumerate(segs):
                out[f"{MONEY_NAMES[name]}@{seg}"] = arr[:, s].tolist()
    spend = model.ledger.spend_by_segment_per_day()[: horizon + 1].sum(axis=1)
    out["spend"] = np.cumsum(spend).tolist()
    out["value"] = np.cumsum(rec.value[: horizon + 1].sum(axis=1)).tolist()
    return out


def pack_levels(levels: dict[str, list[float]]) -> dict[str, Any]:
    """Level series as one zlib-compressed float64 block (base64) for the run record.

    Why: ~100 series × 366 days as JSON lists (the store writes records indented) cost the
    calibrating process ~40 ms of CPU per run to encode — most of its per-trial overhead on a
    2-core machine (benchmarks/bench_calibrate.py); one string encodes in ~1 ms, exactly
    (float64 bytes), and is ~3× smaller on disk."""
    names = list(levels)
    block = np.asarray([levels[n] for n in names], dtype="<f8")
    return {"encoding": "zlib-f8-base64", "names": names, "shape": list(block.shape),
            "data": base64.b64encode(zlib.compress(block.tobytes(), 1)).decode("ascii")}


def unpack_levels(packed: dict[str, Any]) -> dict[str, np.ndarray]:
    """The inverse of :func:`pack_levels` (plain ``{name: list}`` records pass through)."""
    if packed.get("encoding") != "zlib-f8-base64":
        return {k: np.asarray(v, dtype=float) for k, v in packed.items()}
    raw = zlib.decompress(base64.b64decode(packed["data"]))
    block = np.frombuffer(raw, dtype="<f8").reshape(packed["shape"])
    return dict(zip(packed["names"], block, strict=True))


def observe(spec: RunSpec) -> RunOutcome:
    """Run one calibration spec (in a worker) and return its KPIs and level series."""
    start = time.perf_counter()
    cpu = time.process_time()
    try:
        from simulation.model import OperatingMatrixModel

        assert spec.scenario is not None
        model = OperatingMatrixModel(spec.scenario, spec.seed)
        model.run()
        kpis = {
            k: _finite(v)
            for k, v in model.summary().items()
            if v is None or isinstance(v, int | float)
        }
        outcome = RunOutcome(spec.run_id, "done", kpis=kpis,
                             details={"levels": pack_levels(record_levels(model))})
    except Exception as exc:  # a failing run is recorded, never raised into the calibration
        outcome = RunOutcome(spec.run_id, "failed", error=_describe(exc))
    outcome.seconds = time.perf_counter() - start
    # CPU seconds too: on a shared machine wall seconds measure the load, not the work
    outcome.details["cpu_seconds"] = time.process_time() - cpu
    return outcome


# ---------------------------------------------------------------------------- comparing


def simulated(target: Target, runs: list[dict[str, list[float]]], scale: float) -> np.ndarray:
    """The target's simulated numbers per replicate: (R, periods), or (R, 2) [x, n] counts."""
    rows = []
    b = target.bounds
    for levels in runs:
        cols = []
        for name in target.series:
            if name not in levels:
                base = name.partition("@")[0].partition(":")[0]
                if base in SEGMENTED or name.startswith(("acquisitions:", "event:")):
                    level = np.zeros(len(next(iter(levels.values()))))  # never happened: 0
                else:
                    raise KeyError(name)
            else:
                level = np.asarray(levels[name], dtype=float)
            if target.kind == "stock":
                cols.append(level[b[1:]] * scale)
            else:  # flows and proportions: differences of the running total
                cols.append((level[b[1:]] - level[b[:-1]]) * scale)
    # ``scale`` is 1 for runs recorded in represented customers (population weights)
        rows.append(np.concatenate(cols) if target.kind == "proportion" else cols[0])
    return np.asarray(rows, dtype=float)


def _normal_sigma(target: Target, sims: np.ndarray) -> np.ndarray:
    cfg = target.config
    obs_sd = cfg.sd + cfg.cv * np.abs(target.observed)
    mc_var = sims.var(axis=0, ddof=1) / sims.shape[0] if sims.shape[0] > 1 else 0.0
    return np.sqrt(np.maximum(obs_sd**2 + mc_var, 1e-12))


def _nb(mu: np.ndarray, alpha: float) -> Any:
    size = 1.0 / alpha
    return stats.nbinom(size, size / (size + mu))


def point_loglik(target: Target, mu: np.ndarray, sims: np.ndarray) -> np.ndarray:
    """Log-likelihood of each observed number given the simulated mean ``mu``."""
    cfg = target.config
    obs = target.observed
    lik = cfg.likelihood_name
    if target.kind == "proportion":
        x, n = obs
        p = float(np.clip(mu[0] / mu[1], P_CLIP, 1 - P_CLIP)) if mu[1] > 0 else P_CLIP
        if lik == "beta_binomial" and cfg.overdispersion > 0:
            rho = cfg.overdispersion
            k = (1 - rho) / rho
            return np.array([stats.betabinom.logpmf(x, n, p * k, (1 - p) * k)])
        return np.array([stats.binom.logpmf(x, n, p)])
    mu = np.maximum(mu, MU_FLOOR)
    if lik == "normal":
        return stats.norm.logpdf(obs, mu, _normal_sigma(target, sims))
    if lik == "negative_binomial" and cfg.dispersion > 0:
        return _nb(mu, cfg.dispersion).logpmf(obs)
    return stats.poisson.logpmf(obs, mu)


def saturated_loglik(target: Target, sims: np.ndarray) -> np.ndarray:
    """The best any model could do: the likelihood with the mean at the data."""
    obs = target.observed
    if target.kind == "proportion":
        return point_loglik(target, np.array([obs[0], obs[1]]), sims)
    return point_loglik(target, obs.astype(float), sims)


def target_deviance(target: Target, sims: np.ndarray) -> np.ndarray:
    """Per observed number: 2·(ℓ_saturated − ℓ(μ)), μ the replicate mean (≥ 0)."""
    mu = sims.mean(axis=0)
    if target.kind == "proportion":
        mu = sims.sum(axis=0)  # ratio of sums over replicates: x/n pooled
    ll = point_loglik(target, mu, sims)
    sat = saturated_loglik(target, sims)
    dev = 2.0 * (sat - ll)
    dev = np.where(np.isfinite(dev), np.maximum(dev, 0.0), PENALTY)
    return dev


def total_deviance(targets: list[Target], sims: list[np.ndarray]) -> float:
    """Σ over targets of weight × deviance: the objective a point fit minimises."""
    total = 0.0
    for t, s in zip(targets, sims, strict=True):
        total += t.config.weight * float(target_deviance(t, s).sum())
    return min(total, PENALTY)


# ---------------------------------------------------------------------------- predicting


def predictive_draws(
    target: Target, sims: np.ndarray, draws: int, rng: np.random.Generator
) -> np.ndarray:
    """Draws of what the data could have been: each replicate's numbers with observation noise.

    Returns (draws, periods) — for a proportion, draws of the observed share x/n."""
    cfg = target.config
    lik = cfg.likelihood_name
    per = max(1, draws // sims.shape[0])
    out = []
    for row in sims:
        if target.kind == "proportion":
            n = int(target.observed[1])
            p = float(np.clip(row[0] / row[1], P_CLIP, 1 - P_CLIP)) if row[1] > 0 else P_CLIP
            if lik == "beta_binomial" and cfg.overdispersion > 0:
                k = (1 - cfg.overdispersion) / cfg.overdispersion
                p = rng.beta(p * k, (1 - p) * k, size=per)
            out.append((rng.binomial(n, p, size=per) / max(n, 1))[:, None])
            continue
        mu = np.maximum(row, MU_FLOOR)
        if lik == "normal":
            sd = cfg.sd + cfg.cv * np.abs(target.observed)
            out.append(rng.normal(mu, np.maximum(sd, 1e-12), size=(per, mu.size)))
        elif lik == "negative_binomial" and cfg.dispersion > 0:
            size = 1.0 / cfg.dispersion
            out.append(rng.negative_binomial(size, size / (size + mu), size=(per, mu.size)))
        else:
            out.append(rng.poisson(mu, size=(per, mu.size)))
    return np.concatenate(out, axis=0).astype(float)


@dataclass
class FitRow:
    target: str
    period: int
    day: int
    observed: float
    simulated: float
    lo: float
    hi: float
    deviance: float


def fit_rows(
    target: Target, sims: np.ndarray, draws: np.ndarray, central: float = 0.95
) -> list[FitRow]:
    """Observed vs simulated (replicate mean) with the predictive interval, per period."""
    a = (1 - central) / 2
    lo = np.quantile(draws, a, axis=0)
    hi = np.quantile(draws, 1 - a, axis=0)
    dev = target_deviance(target, sims)
    if target.kind == "proportion":
        tot = sims.sum(axis=0)
        share = tot[0] / tot[1] if tot[1] > 0 else float("nan")
        obs = target.observed[0] / max(target.observed[1], 1)
        return [FitRow(target.name, 1, int(target.bounds[1]), float(obs), float(share),
                       float(lo[0]), float(hi[0]), float(dev[0]))]
    mean = sims.mean(axis=0)
    return [
        FitRow(target.name, k + 1, int(target.bounds[k + 1]), float(target.observed[k]),
               float(mean[k]), float(lo[k]), float(hi[k]), float(dev[k]))
        for k in range(target.observed.size)
    ]


def fit_verdict(rows: list[FitRow], central: float = 0.95) -> tuple[float, float, str]:
    """(share of points inside the interval, χ² tail probability of the deviance, verdict).

    The verdict is 'poor fit' when the data reject the model: fewer points inside the predictive
    interval than a right model would give (binomial test at 1 %), or a deviance whose χ² tail
    probability is below 0.1 %. Such a target is flagged, never hidden."""
    inside = np.array([r.lo <= r.observed <= r.hi for r in rows])
    share = float(inside.mean()) if inside.size else float("nan")
    dev = float(sum(r.deviance for r in rows))
    p_dev = float(stats.chi2.sf(dev, df=max(len(rows), 1)))
    p_cover = float(stats.binom.cdf(int(inside.sum()), inside.size, central))
    poor = p_dev < 1e-3 or (inside.size >= 3 and p_cover < 0.01)
    return share, p_dev, "poor fit" if poor else "ok"
