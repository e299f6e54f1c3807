"""Cost ledger, daily snapshots and the KPI definitions (conversion, retention, CPA, LTV, ROI).

Definitions (docs/kpis.md says the same in words):

- ``acquisitions``: customers converted during the run (day ≥ 1); stock customers (converted on
  day 0) are not acquisitions.
- ``conversion_rate`` = acquisitions / customers who were prospects on day 0.
- ``retention_{d}d``: among customers converted at least ``d`` days before the horizon ends
  (stock customers included, converted on day 0), the share not churned ``d`` days after their
  conversion. ``None`` when no such customer exists (the horizon is too short).
- ``cost_per_acquisition`` (CPA) = total spend / acquisitions.
- ``ltv``: value (monthly value while active or at risk, accrued daily) earned within the
  horizon per acquired customer; ``roi`` = (that value − spend) / spend.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulation import kernels
from simulation.population.kernels import cell_counts, population_counts
from simulation.population.stages import (
    CUSTOMER_STAGES,
    N_STAGES,
    Ring,
    StageCode,
)
from simulation.population.state import PopulationState

RETENTION_DAYS = (30, 90, 180)
N_RINGS = len(Ring)


#: Acquisition sources that no lever paid for (the organic background): last-touch attribution
#: credits no lever with them, and the money layer books the product costs of their customers
#: apart (``MoneyLayer.free_product_spend``), so attributed CPA can leave those costs out.
FREE_SOURCES = ("word_of_mouth", "private_domain")

#: Ledger category of the products' own costs, which the money layer books for the customers
#: a run wins: a card's making, mailing and activation, its upkeep, a loan's origination. They
#: are part of every CPA and ROI like any spend, but no lever spends them to reach anyone, so
#: no customer is won "through" them: figures and tables show them apart from the levers'
#: categories (channel, perk …) rather than as an item that won no one.
PRODUCT_CATEGORY = "product"
#: The ledger items of :data:`PRODUCT_CATEGORY` (runs stored before the category existed
#: filed them under ``other``; :func:`ledger_category` reads those as products too).
PRODUCT_ITEMS = ("card_issuance", "card_maintenance", "loan_origination")


def ledger_category(item: str, category: str) -> str:
    """The category ``item`` is shown under: a stored ledger's own, except that a product
    cost stored under ``other`` (runs written before :data:`PRODUCT_CATEGORY`) is a product."""
    return PRODUCT_CATEGORY if item in PRODUCT_ITEMS and category == "other" else category


@dataclass(frozen=True)
class LedgerItem:
    name: str
    #: spend: a lever's (channel | route | perk | referral | adviser | group | push |
    #: lifecycle_operations), ``product`` (:data:`PRODUCT_CATEGORY`) or ``other``;
    #: value: margin | fee | interest | loss
    category: str


class Ledger:
    """Spend, value and event counts per (item, day, segment); by segment they add up to the
    total. Spend is what the strategy pays; value (margins, fees, interest, and credit losses as
    negative value) is what customers earn the bank — money is state, value is a flow."""

    def __init__(self, days: int, n_segments: int, count_dtype: type = np.int64) -> None:
        self.days = days
        self.n_segments = n_segments
        #: int64, or float64 when population weights are fractional (represented counts)
        self.count_dtype = count_dtype
        self.items: dict[str, LedgerItem] = {}
        self.spend: dict[str, np.ndarray] = {}
        self.revenue: dict[str, np.ndarray] = {}
        self.events: dict[tuple[str, str], np.ndarray] = {}

    def register(self, item: str, category: str) -> None:
        if item not in self.items:
            self.items[item] = LedgerItem(item, category)
            self.spend[item] = np.zeros((self.days + 1, self.n_segments), dtype=np.float64)

    def register_revenue(self, item: str, category: str) -> None:
        """Register a value item (``margin``, ``fee``, ``interest``, ``loss``): :meth:`book`."""
        if item not in self.revenue:
            self.items[item] = LedgerItem(item, category)
            self.revenue[item] = np.zeros((self.days + 1, self.n_segments), dtype=np.float64)

    def book(self, item: str, day: int, per_segment: np.ndarray) -> None:
        """Add value (yuan per segment; negative for a loss) to ``item`` on ``day``."""
        self.revenue[item][day] += per_segment

    def total_revenue(self, segment_index: int | None = None) -> float:
        if segment_index is None:
            return float(sum(a.sum() for a in self.revenue.values()))
        return float(sum(a[:, segment_index].sum() for a in self.revenue.values()))

    def charge(self, item: str, day: int, per_segment: np.ndarray) -> None:
        """Add spend (yuan, one value per segment) to ``item`` on ``day``."""
        self.spend[item][day] += per_segment

    def count(self, item: str, event: str, day: int, per_segment: np.ndarray) -> None:
        key = (item, event)
        arr = self.events.get(key)
        if arr is None:
            arr = self.events[key] = np.zeros(
                (self.days + 1, self.n_segments), dtype=self.count_dtype
            )
        arr[day] += per_segment

    def total_spend(self, upto_day: int | None = None) -> float:
        end = self.days + 1 if upto_day is None else upto_day + 1
        return float(sum(a[:end].sum() for a in self.spend.values()))

    def spend_by_segment_per_day(self) -> np.ndarray:
        out = np.zeros((self.days + 1, self.n_segments))
        for arr in self.spend.values():
            out += arr
        return out


class DailyRecorder:
    """End-of-day snapshots: stage counts and value earned, per segment."""

    def __init__(self, days: int, n_segments: int, count_dtype: type = np.int64) -> None:
        self.stage_counts = np.zeros((days + 1, n_segments, N_STAGES), dtype=count_dtype)
        self.value = np.zeros((days + 1, n_segments), dtype=np.float64)
        #: Customers won and not lost (CUSTOMER_STAGES) per ring, for the ring-migration plot.
        self.ring_counts = np.zeros((days + 1, n_segments, N_RINGS), dtype=count_dtype)
        self.last_day = -1
        # Counts per (segment, stage, ring), kept up to date from yesterday's stage and ring:
        # only customers whose stage or ring changed are recounted (O(changes), exact integers).
        self._cells: np.ndarray | None = None
        self._prev_stage: np.ndarray | None = None
        self._prev_ring: np.ndarray | None = None

    @staticmethod
    def _cell(segment: np.ndarray, stage: np.ndarray, ring: np.ndarray) -> np.ndarray:
        return (segment.astype(np.int64) * N_STAGES + stage) * N_RINGS + ring

    def record(self, day: int, pop: PopulationState) -> None:
        # One bincount over (segment, stage, ring) gives both tables; traits (segment) are fixed
        # after sampling, so after the first day only changed rows need recounting. Counts are
        # represented customers (population weights); fractional weights are recounted in full
        # every day, since adding and removing fractions incrementally would drift.
        s = len(pop.segment_names)
        size = s * N_STAGES * N_RINGS
        w = None if pop.unit_weights else pop.weight

        def count(cells: np.ndarray) -> np.ndarray:  # fractional weights: floats
            return np.bincount(cells, weights=w, minlength=size)

        prev_stage, prev_ring = self._prev_stage, self._prev_ring
        if self._cells is None or prev_stage is None or prev_ring is None or (
            prev_stage.shape != pop.stage.shape
        ) or not pop.integral_weights:
            if pop.integral_weights:  # exact integers: one block-parallel pass
                self._cells = cell_counts(pop.segment, pop.stage, pop.ring, w, N_STAGES,
                                          N_RINGS, s)
            else:
                self._cells = count(self._cell(pop.segment, pop.stage, pop.ring))
            self._prev_stage = pop.stage.copy()
            self._prev_ring = pop.ring.copy()
        else:  # whole-number weights: today's changes moved between cells, exact integers
            self._cells += kernels.recount_changed(
                pop.segment, pop.stage, prev_stage, pop.ring, prev_ring, w, N_STAGES, N_RINGS, s
            )
        full = self._cells.reshape(s, N_STAGES, N_RINGS)
        self.stage_counts[day] = full.sum(axis=2)
        self.ring_counts[day] = full[:, list(CUSTOMER_STAGES), :].sum(axis=1)
        self.last_day = day


def retention(
    converted_day: np.ndarray,
    churned_day: np.ndarray,
    horizon: int,
    d: int,
    weight: np.ndarray | None = None,
) -> float | None:
    """Share of customers converted ≥ ``d`` days before ``horizon`` not churned ``d`` days on
    (weighted by ``weight``, the population weights, when given)."""
    cohort = (converted_day >= 0) & (converted_day <= horizon - d)
    if not cohort.any():
        return None
    c = churned_day[cohort]
    c0 = converted_day[cohort]
    kept = (c < 0) | (c - c0 > d)
    if weight is None:
        return float(kept.mean())
    wc = weight[cohort]
    return float(wc[kept].sum() / wc.sum())


def retention_curve(converted_day: np.ndarray, churned_day: np.ndarray, horizon: int) -> np.ndarray:
    """Retention at every age 0..horizon (NaN where no customer is old enough), vectorised.

    A customer converted on day c0 is observed at ages 0..horizon−c0; one churned at age a is
    lost at every observed age ≥ a. Same numbers as :func:`retention` at each age.
    """
    conv = converted_day >= 0
    c0 = converted_day[conv].astype(np.int64)
    max_age = horizon - c0
    churn = churned_day[conv]
    churned = churn >= 0
    age = (churn[churned] - c0[churned]).astype(np.int64)
    length = horizon + 2
    observed = np.cumsum(np.bincount(max_age, minlength=length)[::-1])[::-1][: horizon + 1]
    lost_from = np.cumsum(np.bincount(age, minlength=length))[: horizon + 1]
    lost_gone = np.concatenate(
        [[0], np.cumsum(np.bincount(max_age[churned], minlength=length))[:horizon]]
    )
    lost = lost_from - lost_gone
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(observed > 0, (observed - lost) / np.maximum(observed, 1), np.nan)
    return out


def _ratio(a: float, b: float) -> float | None:
    return None if b == 0 else float(a) / float(b)


def kpis(
    pop: PopulationState,
    ledger: Ledger,
    horizon: int,
    mask: np.ndarray | None = None,
    segment_index: int | None = None,
) -> dict[str, float | int | None]:
    """Headline KPIs over all customers, or over ``mask`` (spend of ``segment_index`` only).

    Counts are represented customers (population weights: ``pop.weight``); shares and ratios
    are weighted. With every weight 1 they are plain row counts (ints), counted in one
    block-parallel pass (:func:`simulation.population.kernels.population_counts`: exact, so
    the same numbers as the masks they replace, without copying the population's arrays)."""
    if segment_index is None:
        spend = ledger.total_spend()
    else:
        spend = float(sum(a[:, segment_index].sum() for a in ledger.spend.values()))
    if not pop.unit_weights:
        return _weighted_kpis(pop, horizon, mask, spend)
    counts, cohorts = population_counts(
        pop.converted_day, pop.churned_day, pop.stage, mask, horizon, RETENTION_DAYS
    )
    n_acq = counts["acquisitions"]
    # value of the acquired rows in population order: the same array (and sum) as masking
    # by ``mask`` first and by ``converted_day >= 1`` second
    acq = kernels.where_at_least(pop.converted_day, 1)
    if mask is not None:
        acq = acq[mask[acq]]
    value_acq = float(pop.value_accrued[acq].sum())
    out: dict[str, float | int | None] = {
        "customers": counts["customers"],
        "stock_customers": counts["stock"],
        "acquisitions": n_acq,
        "conversion_rate": _ratio(n_acq, counts["prospects"]),
        "active": counts["active"],
        "at_risk": counts["at_risk"],
        "dormant": counts["dormant"],
        "churned": counts["churned"],
    }
    for d, (cohort, kept) in zip(RETENTION_DAYS, cohorts, strict=True):
        # kept / cohort is what ``kept.mean()`` of the boolean mask gives (an exact sum)
        out[f"retention_{d}d"] = None if cohort == 0 else kept / cohort
    return _money_part(out, spend, n_acq, value_acq)


def _money_part(
    out: dict[str, float | int | None], spend: float, n_acq: float | int, value_acq: float
) -> dict[str, float | int | None]:
    out["spend"] = spend
    out["cost_per_acquisition"] = _ratio(spend, n_acq)
    out["ltv"] = _ratio(value_acq, n_acq)
    out["value_acquired"] = value_acq
    out["roi"] = _ratio(value_acq - spend, spend)
    return out


def _weighted_kpis(
    pop: PopulationState, horizon: int, mask: np.ndarray | None, spend: float
) -> dict[str, float | int | None]:
    """:func:`kpis` with population weights: represented counts and weighted shares."""
    sel = np.ones(pop.n, dtype=bool) if mask is None else mask
    conv_day = pop.converted_day[sel]
    churn_day = pop.churned_day[sel]
    stage = pop.stage[sel]
    acquired = conv_day >= 1
    w = pop.weight[sel]

    def count(rows: np.ndarray) -> float | int:
        total = float(w[rows].sum())
        return round(total) if pop.integral_weights else total

    n_acq = count(acquired)
    prospects_start = count(conv_day != 0)
    value = pop.value_accrued[sel][acquired]
    value_acq = float((value * w[acquired]).sum())
    out: dict[str, float | int | None] = {
        "customers": count(np.ones(stage.size, dtype=bool)),
        "stock_customers": count(conv_day == 0),
        "acquisitions": n_acq,
        "conversion_rate": _ratio(n_acq, prospects_start),
        "active": count((stage == StageCode.CONVERTED) | (stage == StageCode.ACTIVE)),
        "at_risk": count(stage == StageCode.AT_RISK),
        "dormant": count(stage == StageCode.DORMANT),
        "churned": count(stage == StageCode.CHURNED),
    }
    for d in RETENTION_DAYS:
        out[f"retention_{d}d"] = retention(conv_day, churn_day, horizon, d, w)
    return _money_part(out, spend, n_acq, value_acq)


def acquisitions_by_source(pop: PopulationState) -> dict[str, float | int]:
    """Acquisitions per source, in represented customers."""
    acquired = pop.converted_day >= 1
    codes = pop.acquired_via[acquired]
    if not pop.unit_weights:
        w = pop.weight[acquired]
        out = {name: float(w[codes == code].sum()) for code, name in enumerate(pop.sources)}
        if pop.integral_weights:
            return {k: round(v) for k, v in out.items()}
        return out
    return {
        name: int((codes == code).sum())
        for code, name in enumerate(pop.sources)
    }

