"""Building blocks every schema section uses: strict models, probabilities, money, per-segment
values, hour ranges. Strategy modules import these (never ``schema.py``) to declare their own
configuration sections without import cycles.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

Path = tuple[str | int, ...]
Problems = list[tuple[Path, str]]

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

#: Average days per month: monthly fees and values become daily amounts with it.
DAYS_PER_MONTH = 365.25 / 12

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
                ((*path, key), f"unknown segment '{key}'; segments: {', '.join(segments)}")
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


