"""Building blocks every schema section uses: strict models, probabilities, money, per-segment
values, hour ranges. Strategy modules import these (never ``schema.py``) to declare their own
configuration sections without import cycles.
"""

from __future__ import annotations

import math
import re
import types
import typing
from typing import Annotated, Any, Literal

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

#: The form a channel's content takes (``channels.<c>.format``), which segments may prefer
#: (``population.segments.<s>.format_preference``): the elderly find video "more intuitive and
#: friendly" (「视频化的内容输出更加直观友好」 [001]). No format, no preference: factor 1.
ContentFormat = Literal["video", "live", "image_text", "text", "voice", "in_person"]

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


#: Largest magnitude any number in a scenario or experiment may have: ¥1 trillion, 10¹²
#: customers or contacts — (inf.) more than any bank has (the largest Chinese banks' yearly
#: revenue is below ¥1 trillion; China has 1.4·10⁹ people). Beyond it a value is a typo
#: (``1e308``), and float arithmetic on it overflows into nonsense KPIs.
MAX_MAGNITUDE = 1e12
#: Fields exempt from the magnitude bound (random seeds are labels, not quantities).
_UNBOUNDED = frozenset({"seed"})


def _admits_bool(annotation: Any) -> bool:
    """Whether a field annotation accepts a YAML ``true``/``false`` as such."""
    if annotation is bool or annotation is Any or annotation is object:
        return True
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _admits_bool(typing.get_args(annotation)[0])
    if origin is typing.Literal:
        return any(isinstance(a, bool) for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return any(_admits_bool(a) for a in typing.get_args(annotation))
    return False


def _items_type(annotation: Any, container: type) -> Any | None:
    """The item (value) type of a ``list[...]``/``dict[..., ...]`` branch of ``annotation``."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _items_type(typing.get_args(annotation)[0], container)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _items_type(arg, container)
            if found is not None:
                return found
        return None
    if origin is container:
        args = typing.get_args(annotation)
        return args[-1] if args else Any
    return None


def number_problem(annotation: Any, value: Any, field: str) -> tuple[str, str] | None:
    """(relative path, message) if ``value`` is a boolean where a number is meant, or a
    non-finite or absurdly large number; None if fine. Nested models check themselves."""
    if isinstance(value, bool):
        if _admits_bool(annotation):
            return None
        return "", f"expected a number, got a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return "", f"must be a finite number, got {value}"
        if field not in _UNBOUNDED and abs(value) > MAX_MAGNITUDE:
            return "", (
                f"{value:.3g} is beyond any bank's scale; numbers must be within "
                f"±{MAX_MAGNITUDE:.0e} (yuan, customers, contacts)"
            )
        return None
    if isinstance(value, dict):
        inner = _items_type(annotation, dict)
        if inner is None or _is_model(inner):
            return None
        for key, item in value.items():
            found = number_problem(inner, item, field)
            if found:
                return (f"{key}.{found[0]}".rstrip("."), found[1])
    elif isinstance(value, list):
        inner = _items_type(annotation, list)
        if inner is None or _is_model(inner):
            return None
        for i, item in enumerate(value):
            found = number_problem(inner, item, field)
            if found:
                return (f"{i}.{found[0]}".rstrip("."), found[1])
    return None


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


class StrictModel(BaseModel):
    """Frozen, no unknown keys; an unknown key's error names the valid ones.

    Numbers are strict: a boolean is never read as 1 or 0 where a number is meant (``add_rate:
    true``), and a number must be finite and within :data:`MAX_MAGNITUDE` — for every field of
    every section, including per-segment and per-channel mappings.
    """

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
            for key, value in data.items():
                found = number_problem(cls.model_fields[key].annotation, value, str(key))
                if found:
                    sub, message = found
                    raise PydanticCustomError(
                        "strict_number", "{message}",
                        {"key": f"{key}.{sub}" if sub else str(key), "message": message},
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


