"""The scenario schema: every lever and trait a scenario YAML may set, validated once at load.

Rules (DESIGN.md): unknown keys are errors that list the valid ones; probabilities live in
[0, 1]; shares sum to 1; money and sizes are non-negative; every segment or channel a field
names must exist. Cross-reference problems are raised as :class:`CrossReferenceError` with the
exact field path so the loader can point at the YAML line.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic_core import PydanticCustomError

from simulation.population.stages import Stage

# ---------------------------------------------------------------------------- basic types


def _probability(v: float) -> float:
    if not (0.0 <= v <= 1.0) or math.isnan(v):
        raise PydanticCustomError(
            "probability", "must be a probability in [0, 1], got {value}", {"value": v}
        )
    return v


def _non_negative(v: float) -> float:
    if v < 0 or math.isnan(v):
        raise PydanticCustomError("non_negative", "must be ≥ 0, got {value}", {"value": v})
    return v


def _positive(v: float) -> float:
    if v <= 0 or math.isnan(v):
        raise PydanticCustomError("positive", "must be > 0, got {value}", {"value": v})
    return v


Probability = Annotated[float, AfterValidator(_probability)]
NonNegative = Annotated[float, AfterValidator(_non_negative)]
Positive = Annotated[float, AfterValidator(_positive)]
Yuan = NonNegative
#: A value per segment: one number for all, or ``{segment: value, default: value}``.
PerSegmentProbability = Probability | dict[str, Probability]
PerSegmentNonNegative = NonNegative | dict[str, NonNegative]

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class CrossReferenceError(Exception):
    """Problems that need the whole scenario to see (unknown segment, shares not summing to 1).

    Deliberately *not* a ValueError, so pydantic lets it through with its exact paths intact.
    """

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, p))}: {m}" for p, m in problems))
        self.problems = problems


class StrictModel(BaseModel):
    """Frozen, no unknown keys; an unknown key's error names the valid ones."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            valid = list(cls.model_fields)
            for key in data:
                if key not in cls.model_fields:
                    raise PydanticCustomError(
                        "unknown_key",
                        "unknown key '{key}'; valid: {valid}",
                        {"key": str(key), "valid": ", ".join(valid)},
                    )
        return data


# ---------------------------------------------------------------------------- population


class Beta01(StrictModel):
    """A trait in [0, 1] drawn from a Beta distribution with this mean and standard deviation."""

    mean: Probability = 0.5
    sd: NonNegative = 0.0

    @model_validator(mode="after")
    def _feasible(self) -> Beta01:
        limit = math.sqrt(self.mean * (1.0 - self.mean))
        if self.sd > 0 and self.sd >= limit:
            raise PydanticCustomError(
                "beta_sd",
                "sd {sd} too large for mean {mean}: a Beta needs sd < sqrt(mean·(1−mean)) = {lim}",
                {"sd": self.sd, "mean": self.mean, "lim": round(limit, 4)},
            )
        return self


class LogNormalValue(StrictModel):
    """Money per month, log-normal: ``median`` yuan, ``sigma`` the log-scale spread."""

    median: NonNegative = 0.0
    sigma: NonNegative = 0.0


_HOUR_RANGE = re.compile(r"^\s*(\d{1,2})\s*-\s*(\d{1,2})\s*$")


def _hour_ranges(v: list[str]) -> list[str]:
    if not v:
        raise PydanticCustomError("hours", "needs at least one hour range such as '9-11'", {})
    for item in v:
        m = _HOUR_RANGE.match(str(item))
        if not m or not (0 <= int(m[1]) < int(m[2]) <= 24):
            raise PydanticCustomError(
                "hours",
                "'{item}' is not an hour range 'start-end' with 0 ≤ start < end ≤ 24",
                {"item": item},
            )
    return v


HourRanges = Annotated[list[str], AfterValidator(_hour_ranges)]


def hours_mask(ranges: list[str]) -> int:
    """24-bit mask of the hours covered by ranges like ``['9-11', '14-17']`` (end exclusive)."""
    mask = 0
    for item in ranges:
        m = _HOUR_RANGE.match(item)
        assert m is not None  # validated by HourRanges
        for h in range(int(m[1]), int(m[2])):
            mask |= 1 << h
    return mask


class InitialState(StrictModel):
    """Where a segment's customers stand on day 0 (e.g. stock customers already converted)."""

    aware: Probability = 0.0
    engaged: Probability = 0.0
    converted: Probability = 0.0

    @model_validator(mode="after")
    def _sum(self) -> InitialState:
        total = self.aware + self.engaged + self.converted
        if total > 1.0 + 1e-9:
            raise PydanticCustomError(
                "initial_sum", "aware + engaged + converted must be ≤ 1, got {t}", {"t": total}
            )
        return self


class RingShares(StrictModel):
    """Ring a newly converted customer lands in ([004]: outer APP-only, middle, inner)."""

    outer: Probability = 1.0
    middle: Probability = 0.0
    inner: Probability = 0.0

    @model_validator(mode="after")
    def _sum(self) -> RingShares:
        total = self.outer + self.middle + self.inner
        if abs(total - 1.0) > 1e-6:
            raise PydanticCustomError(
                "ring_sum", "outer + middle + inner must sum to 1, got {t}", {"t": round(total, 6)}
            )
        return self


class SegmentConfig(StrictModel):
    """One customer segment: its share of the population and the distributions of its traits."""

    share: Probability
    description: str = ""
    age_bands: dict[str, Probability] = Field(default_factory=lambda: {"all": 1.0})
    digital_affinity: Beta01 = Beta01(mean=0.5)
    price_sensitivity: Beta01 = Beta01(mean=0.5)
    monthly_value: LogNormalValue = LogNormalValue()
    channel_affinity: dict[str, NonNegative] = Field(default_factory=dict)
    perk_appeal: dict[str, Probability] = Field(default_factory=dict)
    availability: HourRanges = Field(default_factory=lambda: ["0-24"])
    referral_propensity: Beta01 = Beta01(mean=0.0)
    churn_hazard: Probability = 0.0
    churn_heterogeneity: NonNegative = 0.0
    initial: InitialState = InitialState()
    rings: RingShares = RingShares()

    @model_validator(mode="after")
    def _age_sum(self) -> SegmentConfig:
        total = sum(self.age_bands.values())
        if abs(total - 1.0) > 1e-6:
            raise PydanticCustomError(
                "age_sum", "age_bands shares must sum to 1, got {t}", {"t": round(total, 6)}
            )
        return self


class CitiesConfig(StrictModel):
    """Cities customers live in; sizes follow a Zipf law (rank^-zipf)."""

    count: Annotated[int, Field(ge=1)] = 1
    zipf: NonNegative = 1.0


class PopulationConfig(StrictModel):
    size: Annotated[int, Field(ge=1, le=20_000_000)]
    scale: Positive = 1.0
    cities: CitiesConfig = CitiesConfig()
    segments: dict[str, SegmentConfig]

    @model_validator(mode="after")
    def _shares(self) -> PopulationConfig:
        if not self.segments:
            raise PydanticCustomError("no_segments", "needs at least one segment", {})
        total = sum(s.share for s in self.segments.values())
        if abs(total - 1.0) > 1e-6:
            raise PydanticCustomError(
                "share_sum",
                "segment shares must sum to 1, got {t} ({parts})",
                {
                    "t": round(total, 6),
                    "parts": ", ".join(f"{k}={v.share}" for k, v in self.segments.items()),
                },
            )
        return self


# ---------------------------------------------------------------------------- social graph


class CompleteGraph(StrictModel):
    """Well mixed: everyone is everyone's tie, computed as a mean field (no N² edges)."""

    kind: Literal["complete"]


class WattsStrogatzGraph(StrictModel):
    kind: Literal["watts_strogatz"]
    k: Annotated[int, Field(ge=2)] = 10
    p: Probability = 0.1

    @model_validator(mode="after")
    def _even(self) -> WattsStrogatzGraph:
        if self.k % 2:
            raise PydanticCustomError("even_k", "k must be even, got {k}", {"k": self.k})
        return self


class BarabasiAlbertGraph(StrictModel):
    kind: Literal["barabasi_albert"]
    m: Annotated[int, Field(ge=1)] = 5


class BlockModelGraph(StrictModel):
    """Stochastic block model over (segment, city) blocks with homophily.

    A tie is ``within_segment_odds`` times likelier between two customers of the same segment
    and ``within_city_odds`` times likelier within one city; ``mean_degree`` sets the density.
    """

    kind: Literal["sbm"]
    mean_degree: Positive = 10.0
    within_segment_odds: Annotated[float, Field(ge=1.0)] = 4.0
    within_city_odds: Annotated[float, Field(ge=1.0)] = 20.0


GraphConfig = Annotated[
    CompleteGraph | WattsStrogatzGraph | BarabasiAlbertGraph | BlockModelGraph,
    Field(discriminator="kind"),
]


# ---------------------------------------------------------------------------- lifecycle


class RingUpgrades(StrictModel):
    outer_to_middle: Probability = 0.0
    middle_to_inner: Probability = 0.0


class RingChurnMultiplier(StrictModel):
    outer: NonNegative = 1.0
    middle: NonNegative = 1.0
    inner: NonNegative = 1.0


class LifecycleConfig(StrictModel):
    """Daily hazards between stages. The at-risk / dormant path turns a lapse into churn."""

    forget: Probability = 0.0
    engaged_conversion: PerSegmentProbability = 0.0
    at_risk_recovery: Probability = 0.0
    at_risk_to_dormant: Probability = 1.0
    dormant_recovery: Probability = 0.0
    dormant_to_churned: Probability = 1.0
    ring_upgrade: RingUpgrades = RingUpgrades()
    ring_churn_multiplier: RingChurnMultiplier = RingChurnMultiplier()


# ---------------------------------------------------------------------------- channels


ProspectStage = Literal["unaware", "aware", "engaged"]


class ChannelConfig(StrictModel):
    """A paid channel: who it reaches each day, what a contact costs, what a contact does."""

    daily_reach: PerSegmentProbability = 0.0
    cost_per_contact: Yuan = 0.0
    conversion_on_contact: PerSegmentProbability = 0.0
    engage_on_contact: PerSegmentProbability = 0.0
    budget: Yuan | None = None
    targets: list[ProspectStage] = Field(
        default_factory=lambda: ["unaware", "aware", "engaged"]
    )


class WordOfMouthConfig(StrictModel):
    """Imitation: hazard = ``imitation`` × share of a customer's ties who are customers (Bass q)."""

    imitation: Probability = 0.0
    effect: Literal["convert", "engage", "aware"] = "convert"


# ---------------------------------------------------------------------------- scenario


class Scenario(StrictModel):
    """A whole operating-matrix scenario: population, graph, lifecycle and strategy levers."""

    name: str
    description: str = ""
    days: Annotated[int, Field(ge=1, le=3650)] = 365
    start_weekday: Literal[WEEKDAYS] = "monday"  # type: ignore[valid-type]
    population: PopulationConfig
    graph: GraphConfig = WattsStrogatzGraph(kind="watts_strogatz")
    lifecycle: LifecycleConfig = LifecycleConfig()
    channels: dict[str, ChannelConfig] = Field(default_factory=dict)
    word_of_mouth: WordOfMouthConfig = WordOfMouthConfig()

    # Fields whose values are per-segment mappings, checked against the segment names.
    _per_segment_fields: ClassVar[tuple[str, ...]] = (
        "daily_reach",
        "conversion_on_contact",
        "engage_on_contact",
    )

    @model_validator(mode="after")
    def _cross_references(self) -> Scenario:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        segments = list(self.population.segments)
        channels = list(self.channels)
        for seg_name, seg in self.population.segments.items():
            for ch in seg.channel_affinity:
                if ch not in self.channels:
                    problems.append(
                        (
                            ("population", "segments", seg_name, "channel_affinity", ch),
                            f"unknown channel '{ch}'; defined channels: "
                            f"{', '.join(channels) or '(none)'}",
                        )
                    )
        for ch_name, ch in self.channels.items():
            for field_name in self._per_segment_fields:
                problems += per_segment_problems(
                    getattr(ch, field_name), segments, ("channels", ch_name, field_name)
                )
        problems += per_segment_problems(
            self.lifecycle.engaged_conversion, segments, ("lifecycle", "engaged_conversion")
        )
        if problems:
            raise CrossReferenceError(problems)
        return self

    @property
    def segment_names(self) -> list[str]:
        return list(self.population.segments)

    @property
    def channel_names(self) -> list[str]:
        return list(self.channels)


def per_segment_problems(
    value: float | dict[str, float], segments: list[str], path: tuple[str | int, ...]
) -> list[tuple[tuple[str | int, ...], str]]:
    """Problems with a per-segment mapping: unknown segments, or missing ones with no default."""
    if not isinstance(value, dict):
        return []
    out: list[tuple[tuple[str | int, ...], str]] = []
    for key in value:
        if key != "default" and key not in segments:
            out.append(
                (path + (key,), f"unknown segment '{key}'; segments: {', '.join(segments)}")
            )
    missing = [s for s in segments if s not in value]
    if missing and "default" not in value:
        out.append(
            (
                path,
                f"no value for segment(s) {', '.join(missing)}: list them or add a 'default'",
            )
        )
    return out


def resolve_per_segment(value: float | dict[str, float], segments: list[str]) -> list[float]:
    """One value per segment, in segment order (validated already)."""
    if isinstance(value, dict):
        default = value.get("default", 0.0)
        return [float(value.get(s, default)) for s in segments]
    return [float(value)] * len(segments)


def stage_code(name: str) -> int:
    return int(Stage[name.upper()])

