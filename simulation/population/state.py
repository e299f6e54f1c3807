"""The population as a structure of numpy arrays: the hot state every module acts on at once.

One row per customer. ``Customer`` agents read and write through these arrays, so the Mesa view
and the vectorised modules never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simulation.population.stages import (
    ADVOCATE_STAGES,
    CUSTOMER_STAGES,
    Ring,
    Stage,
    StageCode,
)


@dataclass
class PopulationState:
    """Traits (fixed after sampling) and state (changing daily) of all customers."""

    segment_names: list[str]
    channel_names: list[str]
    perk_names: list[str]
    age_band_names: list[str]
    # --- traits
    segment: np.ndarray  # int16
    city: np.ndarray  # int32
    age_band: np.ndarray  # int16, index into age_band_names
    digital_affinity: np.ndarray  # float32 in [0,1]
    price_sensitivity: np.ndarray  # float32 in [0,1]
    monthly_value: np.ndarray  # float32, yuan per month while active
    channel_affinity: np.ndarray  # float32 (segments, channels): reach multiplier
    perk_appeal: np.ndarray  # float32 (segments, perks) in [0,1]
    availability: np.ndarray  # uint32 bitmask of good contact hours (bit h = hour h)
    referral_propensity: np.ndarray  # float32 in [0,1]
    churn_hazard: np.ndarray  # float32 daily hazard active → at-risk
    # --- state
    stage: np.ndarray  # int8 Stage
    ring: np.ndarray  # int8 Ring
    aware_day: np.ndarray  # int32, -1 = never
    engaged_day: np.ndarray  # int32
    converted_day: np.ndarray  # int32 (0 = stock customer at start)
    churned_day: np.ndarray  # int32
    acquired_via: np.ndarray  # int16: channel index, WOM, STOCK or NONE
    referrer: np.ndarray  # int32 customer index, -1 = none
    value_accrued: np.ndarray  # float64 yuan earned from this customer so far
    #: Population weights: how many real customers each row represents (float64, > 0).
    #: ``population.scale`` for every row by default, or an imported table's ``weight`` column;
    #: set it with :meth:`set_weights`. Counts, costs and capacities are in represented
    #: customers (docs/performance.md, "Population weights").
    weight: np.ndarray | None = None
    #: Names of acquisition sources; ``acquired_via`` holds an index into this list. The model
    #: fixes it from the modules' declared sources (``set_sources``) before any setup.
    sources: list[str] = field(default_factory=list)
    #: Per-customer arrays that strategy modules declare and own (fatigue, group id, adviser
    #: id…), allocated by the model from ``StrategyModule.states``. Only the owner writes one;
    #: others read through ``model.read_state`` (a read-only view).
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    # acquired_via codes that are not sources
    NONE = -1
    STOCK = -2

    def set_sources(self, names: list[str]) -> None:
        """Fix the acquisition sources (once, before any customer is converted)."""
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"acquisition sources declared twice: {dupes}")
        self.sources = list(names)

    def __post_init__(self) -> None:
        self.set_weights(1.0 if self.weight is None else self.weight)

    def set_weights(self, weight: np.ndarray | float) -> None:
        """Make every row represent ``weight`` customers (one number, or one per row, > 0)."""
        if np.ndim(weight) == 0:
            # One number for every row (``population.scale``, or 1): the checks on the number
            # itself, not on n copies of it (at 10M the array checks took ~0.15 s a call).
            v = float(weight)  # type: ignore[arg-type]
            if self.n and not (np.isfinite(v) and v > 0):
                raise ValueError("population weights must be finite and > 0")
            self.weight = np.full(self.n, v, dtype=np.float64)
            self.unit_weights = v == 1.0
            self.integral_weights = v == round(v)
            # n copies of a whole number sum exactly; otherwise the mean as the array's
            self.mean_weight = 1.0 if not self.n else (
                v if self.integral_weights else float(self.weight.mean())
            )
            return
        w = np.broadcast_to(np.asarray(weight, dtype=np.float64), (self.n,)).copy()
        if w.size and not (np.all(np.isfinite(w)) and w.min() > 0):
            raise ValueError("population weights must be finite and > 0")
        self.weight = w
        #: every row is one customer: counts stay plain row counts (the fast, exact path)
        self.unit_weights = bool(np.all(w == 1.0))
        #: whole-number weights: represented counts are exact integers
        self.integral_weights = bool(np.all(w == np.round(w)))
        #: the mean weight, which turns represented capacities into rows
        self.mean_weight = float(w.mean()) if w.size else 1.0

    def weights(self) -> np.ndarray | None:
        """The population weights, or ``None`` when every row is one customer."""
        return None if self.unit_weights else self.weight

    def segment_counts(self, idx: np.ndarray) -> np.ndarray:
        """Represented customers of ``idx`` per segment (int64 for whole-number weights)."""
        s = len(self.segment_names)
        if self.unit_weights:
            return np.bincount(self.segment[idx], minlength=s)
        out = np.bincount(self.segment[idx], weights=self.weight[idx], minlength=s)
        return np.rint(out).astype(np.int64) if self.integral_weights else out

    def represented(self, idx: np.ndarray) -> float:
        """Real customers the rows ``idx`` (indices or a boolean mask) stand for."""
        if self.unit_weights:
            return float(np.count_nonzero(idx) if idx.dtype == bool else idx.size)
        return float(self.weight[idx].sum())

    def rows_for(self, customers: float) -> int:
        """Rows that stand for ``customers`` real customers (a represented capacity → rows).

        Exact when every row has the same weight (``population.scale``); with unequal
        weights the mean weight is used (an approximation for capacities only)."""
        if self.unit_weights:
            return int(customers)
        return max(1, int(np.floor(customers / self.mean_weight + 1e-9)))

    def source_code(self, name: str) -> int:
        """The ``acquired_via`` code of a declared source."""
        try:
            return self.sources.index(name)
        except ValueError:
            raise KeyError(f"undeclared acquisition source {name!r}") from None

    def source_name(self, code: int) -> str | None:
        if code == self.NONE:
            return None
        if code == self.STOCK:
            return "stock"
        return self.sources[code]

    @property
    def n(self) -> int:
        return int(self.stage.shape[0])

    def in_stages(self, stages: tuple[Stage, ...]) -> np.ndarray:
        """Boolean mask of customers in any of ``stages`` (stage codes are small ints).

        Each run of consecutive codes is one range comparison on the int8 array: SIMD
        comparisons are ~10x faster than a lookup-table gather at 1M customers.
        """
        codes = sorted({int(s) for s in stages})
        mask: np.ndarray | None = None
        start = 0
        for i in range(1, len(codes) + 1):
            if i < len(codes) and codes[i] == codes[i - 1] + 1:
                continue
            lo, hi = codes[start], codes[i - 1]
            if lo == hi:
                part = self.stage == lo
            elif lo == 0:
                part = self.stage <= hi
            elif hi == len(Stage) - 1:
                part = self.stage >= lo
            else:
                part = (self.stage >= lo) & (self.stage <= hi)
            mask = part if mask is None else mask | part
            start = i
        return np.zeros(self.n, dtype=bool) if mask is None else mask

    def customers_mask(self) -> np.ndarray:
        return self.in_stages(CUSTOMER_STAGES)

    def advocates_mask(self) -> np.ndarray:
        return self.in_stages(ADVOCATE_STAGES)

    def mark_converted(self, idx: np.ndarray, day: int, via: int, ring_draw: np.ndarray) -> None:
        """Convert customers ``idx`` today through ``via`` (channel index or WOM)."""
        if idx.size == 0:
            return
        self.stage[idx] = StageCode.CONVERTED
        self.converted_day[idx] = day
        self.acquired_via[idx] = via
        self.ring[idx] = ring_draw
        first_aware = self.aware_day[idx] < 0
        self.aware_day[idx[first_aware]] = day

    def mark_aware(self, idx: np.ndarray, day: int) -> None:
        if idx.size == 0:
            return
        unaware = idx[self.stage[idx] == StageCode.UNAWARE]
        self.stage[unaware] = StageCode.AWARE
        self.aware_day[unaware] = day

    def mark_engaged(self, idx: np.ndarray, day: int) -> None:
        if idx.size == 0:
            return
        sel = idx[self.stage[idx] <= StageCode.AWARE]
        self.stage[sel] = StageCode.ENGAGED
        self.engaged_day[sel] = day
        new_aware = sel[self.aware_day[sel] < 0]
        self.aware_day[new_aware] = day


RING_CODES = np.array([Ring.OUTER, Ring.MIDDLE, Ring.INNER], dtype=np.int8)
