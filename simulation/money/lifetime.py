"""Customer lifetime value beyond the horizon: what the customers a run ends with are still worth
after it, from the money layer's end-of-run margins and each segment's end-of-run churn hazard,
discounted (docs/kpis.md, "Lifetime value beyond the horizon").

Why: a one-year horizon books a retention programme's whole cost but only its first year of
margin, so payroll, branch and elderly operations whose articles claim *assets that stay*
(「留存率的提高可以带来亿级的资产提升」 [001]) look like pure losses. Valuing the customers held at
the horizon with the textbook constant-margin, constant-retention formula (Gupta & Lehmann 2003,
"Customers as assets": CLV = m · r ÷ (1 + i − r); in continuous time m ÷ (i_c + h)) shows the
value that stays, beside the in-horizon loss, never instead of it.

Per world (a run and its counterfactual alike, so the incremental figure is a difference on
the same seeds and customers):

- **margin** m of each customer alive at the horizon (not churned) = what it earned in the run's
  last ``money.lifetime.window_days`` (a pay cycle; fewer for customers won inside the window,
  over the days they had) × 365 ÷ those days: deposit margin, wealth fees, card income net of
  expected charge-offs, the flat relationship margin, value multipliers — everything the money
  layer booked, except loans, less the upkeep of a card won during the run
  (``card.maintenance_per_year``, charged as spend inside the horizon and going on beyond it);
- **loans** are not extrapolated from their last month: a loan amortises, so its value beyond
  the horizon is (interest − funding − PD × LGD) on the outstanding principal as it runs off
  linearly to the end of its term, discounted with the same survival;
- **how long it stays**: from the customer's stage at the horizon (active, at risk, dormant),
  its own lapse hazard (its sampled ``churn_hazard`` × its ring's multiplier) and the
  lifecycle's follow-on hazards and recoveries (at risk → dormant → churned), the discounted
  expected years it is still a customer, (I − βQ)⁻¹ βQ 1 of the daily lapse chain Q with
  β = (1 + i)^(−1/365) — the exact discrete-time form of 1 ÷ (r + h), which it is when the
  path is a single constant hazard h. The levers stop at the horizon: their churn
  multipliers (advisers, referral ties) and recalls do not act beyond it, so a retention
  lever is valued by the customers it has kept *until* the horizon. ``churn_hazard_end``
  reports the constant hazard with the same discounted stay (customers ÷ Σ years − r). (An
  observed hazard — churn events ÷ customer-years in the run — would understate it: the lapse
  path takes months to fill, so a 180-day run sees about half the long-run churn.)
- CLV = Σ m × discounted years + Σ loan value, with i the annual ``discount_rate``, valued at
  the horizon; ``lifetime_roi`` discounts it to day 0 by
  (1 + i)^(−T/365) and adds it to the value earned within the horizon.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from simulation import kernels
from simulation.population.kernels import alive_rows, segment_ranks, sparse_sum
from simulation.population.stages import StageCode

DAYS_PER_YEAR = 365.0
#: The payback search stops here: a programme that has not paid back in 30 years is "never".
PAYBACK_MAX_YEARS = 30.0


def continuous_rate(annual: float) -> float:
    """The continuous discount rate of an annual rate ``annual`` (1 yuan in a year is worth
    1 ÷ (1 + annual) today)."""
    return math.log1p(annual)


def perpetuity_with_hazard(margin: float | np.ndarray, rate: float,
                           hazard: float | np.ndarray) -> float | np.ndarray:
    """Present value of a margin flow ``margin`` a year kept while an exponential survival
    with ``hazard`` a year lasts, discounted continuously at ``rate``: m ÷ (rate + hazard)."""
    return margin / (rate + hazard)


def runoff_annuity(remaining_years: np.ndarray, a: float | np.ndarray) -> np.ndarray:
    """∫₀^R (1 − t/R) e^(−a t) dt: the present value of one yuan a year on a principal that
    amortises linearly to zero over R years, with discount-plus-hazard rate ``a`` (a number
    or one per loan)."""
    r = np.asarray(remaining_years, dtype=np.float64)
    rate = np.broadcast_to(np.asarray(a, dtype=np.float64), r.shape)
    out = np.zeros_like(r)
    ok = r > 0
    x = rate[ok] * r[ok]
    ra = rate[ok]
    with np.errstate(divide="ignore", invalid="ignore"):
        full = (-np.expm1(-x)) / ra - (1.0 - np.exp(-x) * (1.0 + x)) / (ra * ra * r[ok])
    series = r[ok] / 2.0 - ra * r[ok] ** 2 / 6.0  # small a·R: the series, exact to O(x²)
    out[ok] = np.where(x < 1e-4, series, full)
    return out


def daily_chain(lapse: np.ndarray, cfg: Any) -> np.ndarray:
    """One day of the lifecycle's lapse path as a transient-state matrix per customer, shape
    (n, 3, 3) over (active, at risk, dormant), with the day's cascade of
    strategies/lifecycle.py: lapse (active → at risk, ``lapse``), then at risk → dormant
    (b) or back to active (ρ), then dormant → churned (c) or back (δ); what is missing from a
    row's sum is the day's churn."""
    a = np.asarray(lapse, dtype=np.float64)
    b, rho = cfg.at_risk_to_dormant, cfg.at_risk_recovery
    c, delta = cfg.dormant_to_churned, cfg.dormant_recovery
    q = np.zeros((a.size, 3, 3))
    r_to = np.array([(1 - b) * rho + b * (1 - c) * delta, (1 - b) * (1 - rho),
                     b * (1 - c) * (1 - delta)])  # from at risk, after its own step
    q[:, 0, 0] = 1 - a + a * r_to[0]
    q[:, 0, 1] = a * r_to[1]
    q[:, 0, 2] = a * r_to[2]
    q[:, 1, :] = r_to
    q[:, 2, 0] = (1 - c) * delta
    q[:, 2, 2] = (1 - c) * (1 - delta)
    return q


def discounted_alive_days(lapse: np.ndarray, start: np.ndarray, cfg: Any,
                          annual_discount: float) -> np.ndarray:
    """Σ_{t ≥ 1} β^t P(still a customer at the end of day t | stage ``start`` today) per
    customer (β = (1 + i)^(−1/365)): the discounted days it stays, from its own lapse hazard
    ``lapse`` (a day) and the lifecycle's follow-on hazards — v = (I − βQ)⁻¹ βQ 1 for the day's
    chain Q of :func:`daily_chain`. ``start``: 0 active, 1 at risk, 2 dormant.

    Solved in closed form (elementwise, O(n) memory): only the active row of Q depends on the
    customer, so v_D = D0 + D1·v_A and v_R = R0 + R1·v_A with constants of the lifecycle, and
    v_A follows from the active row."""
    a = np.asarray(lapse, dtype=np.float64)
    beta = (1.0 + annual_discount) ** (-1.0 / DAYS_PER_YEAR)
    b, rho = cfg.at_risk_to_dormant, cfg.at_risk_recovery
    c, delta = cfg.dormant_to_churned, cfg.dormant_recovery
    q_a = (1 - b) * rho + b * (1 - c) * delta  # from at risk, after its own step
    q_r, q_d = (1 - b) * (1 - rho), b * (1 - c) * (1 - delta)
    d_a, d_d = (1 - c) * delta, (1 - c) * (1 - delta)
    d0 = beta * (d_a + d_d) / (1 - beta * d_d)
    d1 = beta * d_a / (1 - beta * d_d)
    r0 = (beta * (q_a + q_r + q_d) + beta * q_d * d0) / (1 - beta * q_r)
    r1 = (beta * q_a + beta * q_d * d1) / (1 - beta * q_r)
    q_aa, q_ar, q_ad = 1 - a + a * q_a, a * q_r, a * q_d
    stay = q_aa + q_ar + q_ad
    v_a = beta * (stay + q_ar * r0 + q_ad * d0) / (1 - beta * (q_aa + q_ar * r1 + q_ad * d1))
    return np.where(start == 2, d0 + d1 * v_a, np.where(start == 1, r0 + r1 * v_a, v_a))


def _alive_positions(idx: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each population row of ``rows`` sits among the sorted alive rows ``idx`` (not
    empty), and whether it is one of them: the one lookup the loans, the cards' upkeep and its
    value beyond the horizon all make from their own books into :func:`lifetime_arrays`' rows."""
    pos = np.minimum(np.searchsorted(idx, rows), idx.size - 1)
    return pos, idx[pos] == rows


def lifetime_arrays(model: Any) -> dict[str, np.ndarray]:
    """For the customers alive at the horizon (``idx``, sorted rows: won and not churned):
    each one's margin a year kept beyond the horizon (loans excluded), its loans' margin a
    year at the horizon and their remaining term, in represented yuan (× the row's weight),
    the discounted years it stays (:func:`discounted_alive_days` ÷ 365) and its weight
    (``alive``). Computed once per finished day (the per-segment KPIs reuse it).

    Only the alive rows are kept: every other customer's figures are zero, and keeping five
    population-length arrays (plus their temporaries) cost ~100 bytes a customer at result
    time (107 MB at 1M). Each alive row's numbers are computed by the same operations as
    before, so :func:`lifetime_kpis` sums the same arrays."""
    layer = model.money
    layer.flush()
    cached = getattr(layer, "_lifetime_cache", None)
    if cached is not None and cached[0] == model.day:
        return cached[1]
    pop = model.population
    horizon = model.day
    start = layer.window_start
    snap = layer.value_snapshot
    idx = alive_rows(pop.converted_day, pop.stage)  # won and not churned, sorted
    k = idx.size
    earned = pop.value_accrued[idx] - (snap[idx].astype(np.float64) if snap is not None else 0.0)
    since = np.maximum(pop.converted_day[idx].astype(np.int64), start if snap is not None else 0)
    days = np.clip(horizon - since, 0, None)
    w = pop.weight[idx] if pop.weight is not None else np.ones(k)
    loan_window = np.zeros(k)  # loan interest − default losses inside the window, per row
    outstanding = np.zeros(k)
    remaining = np.zeros(k)
    loan_k = np.zeros(k)  # (interest − funding − PD × LGD) per yuan outstanding a year
    for book in layer.books.values():
        m = book.m
        if m == 0 or book.cfg.loan is None or k == 0:
            continue
        accounts = book.idx[:m]
        pos, mine = _alive_positions(idx, accounts)  # accounts of alive customers
        at = pos[mine]
        now = book.k_loan * book.int_out[:m] - book.losses[:m]
        before = np.zeros(m)
        j = min(book.snap_m, m) if snap is not None else 0
        before[:j] = book.snap_loan[:j]
        loan_window[at] = ((now - before) / book.weight[:m])[mine]
        outstanding[at] = np.maximum(book.loan_a[:m] - book.loan_b[:m] * horizon, 0.0)[mine]
        remaining[at] = (np.maximum(book.loan_end[:m] - horizon, 0.0) / DAYS_PER_YEAR)[mine]
        loan_k[at] = (book.k_loan - book.k_el) * DAYS_PER_YEAR
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(days > 0, (earned - loan_window) / np.maximum(days, 1), 0.0)
    margin = rate * DAYS_PER_YEAR * w
    # a won card's upkeep (money…card.maintenance_per_year) goes on while its customer stays,
    # and the run charges it as spend inside the horizon: the margin kept beyond it is net of
    # it, so a sleeping card's customer is worth less than nothing, as its cost says
    for s, per_day in layer.maintenance.items():
        cards = layer.won_cards[s]
        if k == 0 or cards.size == 0:
            continue
        pos, alive = _alive_positions(idx, cards)
        kept = pos[alive]  # the alive rows holding a won card
        margin[kept] -= per_day * DAYS_PER_YEAR * w[kept]
    loans = outstanding * loan_k  # represented: balances are × w
    # how long each alive customer stays: its own lapse hazard (trait × ring; the levers'
    # churn multipliers stop with the programme) through the lifecycle's lapse path
    lc = model.lifecycle
    lapse = np.minimum(
        pop.churn_hazard[idx].astype(np.float64) * lc.ring_multiplier[pop.ring[idx]], 1.0
    )
    stage = pop.stage[idx]
    begin = np.where(stage == StageCode.AT_RISK, 1, np.where(stage == StageCode.DORMANT, 2, 0))
    years = discounted_alive_days(
        lapse, begin, lc.cfg, model.scenario.money.lifetime.discount_rate
    ) / DAYS_PER_YEAR
    out = {"idx": idx, "margin": margin, "loan_margin": loans, "remaining_years": remaining,
           "years": years, "alive": w}
    layer._lifetime_cache = (model.day, out)
    return out


def lifetime_kpis(model: Any, segment: int | None = None) -> dict[str, float | None]:
    """Margin kept, churn hazard and CLV beyond the horizon over all segments or one, and the
    lifetime ROI of the acquired customers (docs/kpis.md).

    Per customer the figures are computed on the alive rows (:func:`lifetime_arrays`); each
    sum is numpy's pairwise sum of the population-length array (zeros where not alive)
    restricted to the segment, replayed on the alive rows alone
    (:func:`simulation.population.kernels.sparse_sum`: the same bits, no population-length
    buffer), with every row's place in those selections from one pass for all segments
    (:func:`simulation.population.kernels.segment_ranks`, kept with the arrays)."""
    pop = model.population
    cfg = model.scenario.money.lifetime
    horizon = model.day
    arr = lifetime_arrays(model)
    w = pop.weight if pop.weight is not None else np.ones(pop.n)
    alive_rows = arr["idx"]
    ranks = arr.get("ranks")
    if ranks is None:
        ranks = arr["ranks"] = segment_ranks(pop.segment, pop.converted_day,
                                             len(pop.segment_names), alive_rows)
    # Where each alive row of the segment sits in the segment's rows and in its acquired rows
    # (population order): each sum below is over that population-length selection with zeros
    # where a customer is not alive (same arrays, same bits as the boolean compress of a
    # population-length array that this once was).
    if segment is None:
        mine = slice(None)
        at_all, size_all = alive_rows, pop.n
        at_acq, size_acq = ranks["acq"], int(ranks["acq_size"])
    else:
        mine = pop.segment[alive_rows] == segment
        at_all, size_all = ranks["seg"][mine], int(ranks["seg_size"][segment])
        at_acq, size_acq = ranks["acq_seg"][mine], int(ranks["acq_seg_size"][segment])
    is_acq = at_acq >= 0
    at_acq = at_acq[is_acq]

    def total(values: np.ndarray, acquired_only: bool = False) -> float:
        """Σ over the segment's population-length array of ``values`` (one per alive row of
        the segment, zero elsewhere), or over its acquired entries."""
        if acquired_only:
            return sparse_sum(size_acq, at_acq, values[is_acq])
        return sparse_sum(size_all, at_all, values)

    years = arr["years"][mine]
    loan_margin = arr["loan_margin"][mine]
    margin = arr["margin"][mine]
    # loans run off on their schedule, discounted at the rate a the customer's stay implies
    # (∫ e^(−a t) dt = years)
    loan_pv = np.zeros(years.size)
    held = (years > 0) & (loan_margin != 0)
    if held.any():
        loan_pv[held] = loan_margin[held] * runoff_annuity(
            arr["remaining_years"][mine][held], 1.0 / years[held])
    clv = margin * years + loan_pv
    alive_w = total(arr["alive"][mine])
    stay = total(arr["alive"][mine] * years)  # customer-years, discounted
    # the constant hazard with the same discounted stay, against the chain's own daily rate
    daily = DAYS_PER_YEAR * ((1.0 + cfg.discount_rate) ** (1.0 / DAYS_PER_YEAR) - 1.0)
    hazard = None if stay <= 0 else max(0.0, alive_w / stay - daily)
    clv_all = total(clv)
    clv_acq = total(clv, acquired_only=True)
    discount = (1.0 + cfg.discount_rate) ** (-horizon / DAYS_PER_YEAR)
    # the segment's acquired rows in population order: the same arrays as masking by the
    # segment first and by ``converted_day >= 1`` second
    acq = kernels.where_at_least(pop.converted_day, 1)
    if segment is not None:
        acq = acq[pop.segment[acq] == segment]
    value_acq = float((pop.value_accrued[acq] * w[acq]).sum())
    spend = (model.ledger.total_spend() if segment is None
             else float(sum(x[:, segment].sum() for x in model.ledger.spend.values())))
    margin_total = float(np.float64(total(margin)) + np.float64(total(loan_margin)))
    return {
        "margin_rate_end": margin_total,  # yuan a year, loans included
        "churn_hazard_end": hazard,
        "clv_beyond": clv_all,
        "clv_beyond_acquired": clv_acq,
        "lifetime_value_acquired": value_acq + discount * clv_acq,
        "lifetime_roi": None if spend <= 0 else (value_acq + discount * clv_acq - spend) / spend,
    }


def payback_years_beyond(net_at_horizon: float, flows: list[tuple[float, float]]) -> float | None:
    """Years after the horizon until ``net_at_horizon`` (value − spend so far, < 0) plus the
    undiscounted flows Σ M (1 − e^(−a t)) ÷ a of ``flows`` = [(M a year at the horizon, decay
    rate a), …] (M may be negative: a counterfactual's flows enter with a minus sign) reach 0;
    None if not within :data:`PAYBACK_MAX_YEARS`."""

    def net(t: float) -> float:
        total = net_at_horizon
        for m, a in flows:
            total += m * t if a <= 0 else m * (-math.expm1(-a * t)) / a
        return total

    if net(0.0) >= 0:
        return 0.0
    grid = np.linspace(0.0, PAYBACK_MAX_YEARS, int(PAYBACK_MAX_YEARS * 12) + 1)
    values = [net(float(t)) for t in grid]
    for i in range(1, grid.size):
        if values[i] >= 0:
            # imported only when a root is bracketed: scipy.optimize imports scipy.sparse,
            # .spatial, .linalg and .special (~0.7 s), which short runs never need
            from scipy.optimize import brentq

            return float(brentq(net, grid[i - 1], grid[i]))
    return None


def decay_rate(margin: float, clv: float, rate: float) -> float:
    """The single exponential decay a of a segment's beyond-horizon flow that reproduces its
    CLV at ``rate`` (m ÷ (rate + a) = CLV): its churn hazard, plus its loans' run-off."""
    if clv <= 0 or margin <= 0:
        return 0.0
    return max(0.0, margin / clv - rate)


def net_curve(model: Any) -> np.ndarray:
    """Cumulative value earned − spend by day (day 0 … horizon), all customers: the in-horizon
    part of the payback."""
    value = model.recorder.value[: model.day + 1].sum(axis=1)
    spend = model.ledger.spend_by_segment_per_day()[: model.day + 1].sum(axis=1)
    return np.cumsum(value - spend)


def incremental_payback_days(factual_curve: np.ndarray | None, counterfactual_curve: np.ndarray
                             | None, net_at_horizon: float, horizon: int, rate: float,
                             factual_segments: list[tuple[float, float]],
                             counterfactual_segments: list[tuple[float, float]]) -> float | None:
    """Days from day 0 until the levers' cumulative incremental value (undiscounted, as the
    in-horizon ROI) covers their incremental spend: inside the horizon from the two worlds'
    daily curves, beyond it from each segment's margin kept at the horizon decaying at the
    rate that reproduces its CLV (:func:`decay_rate`), the run's flows minus the
    counterfactual's. ``*_segments`` = [(margin a year at the horizon, CLV), …]. None when it
    does not pay back within :data:`PAYBACK_MAX_YEARS` after the horizon."""
    if net_at_horizon >= 0:
        if factual_curve is None or counterfactual_curve is None:
            return None
        inc = factual_curve - counterfactual_curve
        below = np.flatnonzero(inc[1:] < 0)
        return 0.0 if below.size == 0 else float(below[-1] + 2)
    flows = [(m, decay_rate(m, c, rate)) for m, c in factual_segments]
    flows += [(-m, decay_rate(m, c, rate)) for m, c in counterfactual_segments]
    years = payback_years_beyond(net_at_horizon, flows)
    return None if years is None else horizon + years * DAYS_PER_YEAR


def card_upkeep_beyond(model: Any, segment: int | None = None) -> tuple[float, float]:
    """Upkeep still to come, valued at the horizon, of the cards won during the run whose
    customers are alive then: ``card.maintenance_per_year`` × weight × the customer's
    discounted years of stay (:func:`lifetime_arrays`), summed over all segments or one;
    returned as (all such cards, those whose customer came free).

    Why: a card's cost to the bank runs over its life (the cited ≥ ¥100 a card counts 「管理维护」
    with making, mailing and marketing, docs/sources.md §2.5), while the run charges upkeep only
    inside the horizon. The same discounted stay values the margin those customers keep
    (net of this upkeep), so a cost per card over its life and the lifetime ROI agree."""
    layer = model.money
    arr = lifetime_arrays(model)
    idx, years, w = arr["idx"], arr["years"], arr["alive"]
    k = idx.size
    total = free = 0.0
    for s, per_day in layer.maintenance.items():
        cards = layer.won_cards[s]
        if (segment is not None and s != segment) or k == 0 or cards.size == 0:
            continue
        pos, hit = _alive_positions(idx, cards)  # won cards whose customer is alive
        rows = pos[hit]
        pv = per_day * DAYS_PER_YEAR * w[rows] * years[rows]
        total += float(pv.sum())
        free += float(pv[layer.won_free[s][hit]].sum())
    return total, free
