"""The levers a trainer moves on the dashboard, derived from the lever declaration.

A :class:`Lever` names one place in the scenario (``channels.douyin_ads.budget``) and how a
control value changes it: ``set`` writes the value, ``scale`` multiplies what the scenario says
(used for per-segment mappings such as ``daily_reach``, so one slider moves every segment in
proportion), ``choose`` picks one of two values. Which fields get a control is declared with
each lever (``Lever.controls`` in simulation/strategies/registry.py); the widget and its range
come from the field's type and bounds (:func:`control_lever`), so no section is written here
by hand and a new lever gets its controls from its declaration line.
"""

from __future__ import annotations

import copy
import math
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from simulation.strategies.registry import LEVERS, Scenario

LeverKind = Literal["SliderInt", "SliderFloat", "Checkbox"]

COMPARE_OFF = "off (single strategy)"


@dataclass(frozen=True)
class Lever:
    """One dashboard control bound to a scenario path."""

    key: str  # model-parameter name (a Python identifier)
    label: str
    kind: LeverKind
    path: tuple[str, ...]
    mode: Literal["set", "scale", "choose"]
    value: float | int | bool
    low: float | int = 0
    high: float | int = 1
    step: float | int = 1
    #: For ``choose`` checkboxes: the scenario value written when unticked, and when ticked.
    options: tuple[Any, Any] = (False, True)

    def param(self) -> dict[str, Any]:
        """The Mesa SolaraViz ``model_params`` entry for this lever."""
        spec: dict[str, Any] = {"type": self.kind, "label": self.label, "value": self.value}
        if self.kind != "Checkbox":
            spec.update(min=self.grid_low(), max=self.high, step=self.step)
        return spec

    def grid_low(self) -> float | int:
        """The slider minimum, nudged so the scenario's value lies on the step grid: a browser
        slider snaps its value to ``min + k·step`` on load, which would silently change the
        strategy (¥100,000 budget on a ¥3,000 grid becomes ¥99,000)."""
        offset = (float(self.value) - float(self.low)) % float(self.step)
        if math.isclose(offset, 0.0, abs_tol=1e-9 * float(self.step)) or math.isclose(
            offset, float(self.step), rel_tol=1e-9
        ):
            return self.low
        low = float(self.low) + offset
        return round(low) if self.kind == "SliderInt" else low


def _key(*parts: str) -> str:
    return "__".join(re.sub(r"\W", "_", p) for p in parts)


def _words(name: str) -> str:
    return name.replace("_", " ")


# ---------------------------------------------------------------- controls from field types


def _unwrap(annotation: Any) -> list[Any]:
    """The alternatives of a (possibly Optional / union / Annotated) annotation."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        out: list[Any] = []
        for arg in typing.get_args(annotation):
            out += _unwrap(arg)
        return out
    return [annotation]


def _bounds(info: FieldInfo) -> tuple[float | None, float | None]:
    """(low, high) a field accepts: ``Field(ge=…, le=…)`` bounds and the probability /
    non-negative validators of scenario/types.py."""
    low: float | None = None
    high: float | None = None
    metadata = list(info.metadata)
    for arg in typing.get_args(info.annotation):  # bounds inside a union's Annotated branch
        metadata += list(getattr(arg, "__metadata__", ()))
    for m in metadata:
        if isinstance(m, annotated_types.Ge | annotated_types.Gt):
            low = float(m.ge if isinstance(m, annotated_types.Ge) else m.gt)
        elif isinstance(m, annotated_types.Le | annotated_types.Lt):
            high = float(m.le if isinstance(m, annotated_types.Le) else m.lt)
        func = getattr(getattr(m, "func", None), "__name__", "")
        if "probability" in func:
            low, high = 0.0, 1.0
        elif "non_negative" in func or "positive" in func:
            low = 0.0 if low is None else low
    return low, high


def _field_at(annotation: Any, path: tuple[str, ...]) -> FieldInfo | None:
    """The pydantic field a concrete data path leads to from a section's type (mapping keys
    and list indices included)."""
    info: FieldInfo | None = None
    for part in path:
        cls = next((a for a in _unwrap(annotation) if isinstance(a, type)
                    and issubclass(a, BaseModel)), None)
        if cls is not None and part in cls.model_fields:
            info = cls.model_fields[part]
            annotation = info.annotation
            continue
        mapping = next((a for a in _unwrap(annotation) if typing.get_origin(a) in (dict, list)),
                       None)
        if mapping is None:
            return None
        annotation = typing.get_args(mapping)[-1]  # a mapping's value / a list's item type
    return info


def _expand(data: Any, path: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Concrete paths of a control path (``*`` = every key of a mapping / item of a list)."""
    if not path:
        return [()]
    head, rest = path[0], path[1:]
    if head == "*":
        keys = list(data) if isinstance(data, dict) else (
            [str(i) for i in range(len(data))] if isinstance(data, list) else [])
    else:
        keys = [head] if isinstance(data, dict) and head in data else []
    out = []
    for k in keys:
        child = data[int(k)] if isinstance(data, list) else data[k]
        out += [(k, *sub) for sub in _expand(child, rest)]
    return out


def _get(data: Any, path: tuple[str, ...]) -> Any:
    for p in path:
        data = data[int(p)] if isinstance(data, list) else data[p]
    return data


def _label(section: str, path: tuple[str, ...], control: tuple[str, ...]) -> str:
    """``branch: daily reach`` for a mapping entry, ``referral tier 2: reward`` for a list
    item, ``referral: invite rate`` for a plain field."""
    where: list[str] = []
    fields: list[str] = []
    for i, (p, c) in enumerate(zip(path, control, strict=True)):
        if c != "*":
            fields.append(_words(p))
        elif p.isdigit():  # a list item: "<section> <list, singular> <n>"
            item = control[i - 1].rstrip("s") if i else section
            where = [_words(section), _words(item), str(int(p) + 1)]
            fields = []
        else:  # a mapping entry: its own name
            where = [p]
            fields = []
    return f"{' '.join(where or [_words(section)])}: {' '.join(fields)}"


def control_lever(
    section: str, annotation: Any, data: Any, control: str, scale_label: str = "multiplier"
) -> list[Lever]:
    """Dashboard controls of one declared control path of a section, derived from the field's
    type and bounds: a bool → checkbox; a two-valued ``Literal`` → checkbox between them; a
    per-segment value (number or mapping) → a multiplier slider ×0–5 over every segment; an int
    → integer slider within its bounds; a float → slider within its bounds (a probability
    0–1, else 0 to 3× the value). A field left unset (``None``) gets no control."""
    parts = tuple(control.split("."))
    out: list[Lever] = []
    for path in _expand(data, parts):
        full = (section, *path)
        info = _field_at(annotation, path)
        value = _get(data, path)
        if info is None or value is None:
            continue
        key, label = _key(*full), _label(section, path, parts)
        kinds = _unwrap(info.annotation)
        literal = next((k for k in kinds if typing.get_origin(k) is typing.Literal), None)
        low, high = _bounds(info)
        if isinstance(value, bool):
            out.append(Lever(key, label, "Checkbox", full, "set", value))
        elif literal is not None and len(typing.get_args(literal)) == 2:
            options = typing.get_args(literal)
            out.append(Lever(key, f"{label} = {_words(str(options[1]))}", "Checkbox", full,
                             "choose", value == options[1], options=options))
        elif isinstance(value, dict) or any(typing.get_origin(k) is dict for k in kinds):
            out.append(Lever(key, f"{label} {scale_label}", "SliderFloat", full, "scale",
                             1.0, 0.0, 5.0, 0.1))
        elif isinstance(value, int):
            lo = int(low) if low is not None else 0
            hi = int(high) if high is not None else max(lo + 10, 3 * value, 100)
            hi = max(hi, value)
            step = max(1, (hi - lo) // 100)
            out.append(Lever(key, label, "SliderInt", full, "set", value, lo, hi, step))
        elif isinstance(value, float):
            lo = low if low is not None else 0.0
            top = 1.0 if high == 1.0 else (high if high is not None else math.inf)
            hi = min(top, max(3 * value, 10 * value if value < 0.01 else 0.0, 0.02))
            if value > 100:  # money: whole yuan
                out.append(Lever(key, label, "SliderInt", full, "set", round(value), int(lo),
                                 round(hi), max(round(hi) // 100, 1)))
                continue
            out.append(Lever(key, label, "SliderFloat", full, "set", value, lo, round(hi, 6),
                             _step(hi - lo)))
    return out


def _step(span: float) -> float:
    """A round step giving about 100–1000 positions over ``span``."""
    if span <= 0:
        return 0.001
    return float(10 ** math.floor(math.log10(span / 100)))


def _population_levers(sc: Scenario) -> list[Lever]:
    size = sc.population.size
    return [
        Lever(
            "population_size", "customers simulated", "SliderInt", ("population", "size"), "set",
            size, 500, max(20_000, size), 500,
        )
    ]


def levers_for(scenario: Scenario) -> list[Lever]:
    """Every lever the dashboard shows for ``scenario``: the population size, then each
    declared lever's ``controls`` (simulation/strategies/registry.py), in module order, with
    widgets and ranges derived from the config's field types and bounds."""
    data = scenario.model_dump(mode="json")
    out = _population_levers(scenario)
    for lv in LEVERS:
        section = data.get(lv.section)
        if section is None:
            continue
        annotation = type(scenario).model_fields[lv.section].annotation
        for control in lv.controls:
            out += control_lever(lv.section, annotation, section, control)
    return out


def _update(node: Any, path: tuple[str, ...], fn: Callable[[Any], Any]) -> None:
    """Replace the value at ``path`` by ``fn(value)``; ``*`` walks every item of a list, a
    number string indexes one."""
    head, rest = path[0], path[1:]
    if head == "*":
        keys: list[Any] = list(range(len(node)))
    else:
        keys = [int(head) if isinstance(node, list) else head]
    for k in keys:
        if rest:
            _update(node[k], rest, fn)
        else:
            node[k] = fn(node[k])


def _scaled(value: Any, factor: float, path: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        return {k: _scaled(v, factor, path) for k, v in value.items()}
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if path[-1] == "daily_reach":  # a probability
        return min(1.0, value * factor)
    if isinstance(value, int):
        return round(value * factor)
    return value * factor


def apply_levers(
    base: Scenario, levers: list[Lever], values: dict[str, Any]
) -> dict[str, Any]:
    """Scenario data with each lever's control value applied (levers not in ``values`` keep
    the scenario's own value). Validate the result with ``scenario_from_dict``."""
    data = copy.deepcopy(base.model_dump(mode="json"))
    for lever in levers:
        if lever.key not in values:
            continue
        v = values[lever.key]
        if lever.mode == "scale":
            _update(data, lever.path, lambda old, f=float(v), p=lever.path: _scaled(old, f, p))
        elif lever.mode == "choose":
            _update(data, lever.path, lambda _old, new=lever.options[int(bool(v))]: new)
        else:
            _update(data, lever.path, lambda _old, new=v: new)
    return data


def compare_values(
    levers: list[Lever], values: dict[str, Any], lever_label: str, factor: float
) -> dict[str, Any]:
    """Strategy B's control values: A's, with the lever labelled ``lever_label`` × ``factor``
    (a checkbox is flipped instead)."""
    out = dict(values)
    for lever in levers:
        if lever.label != lever_label:
            continue
        v = values.get(lever.key, lever.value)
        if lever.kind == "Checkbox":
            out[lever.key] = not bool(v)
        elif lever.kind == "SliderInt":
            out[lever.key] = round(v * factor)
        else:
            out[lever.key] = v * factor
    return out


def comparable(levers: list[Lever]) -> list[str]:
    """Labels a trainer can pick for the A vs B comparison (everything but population size)."""
    return [lv.label for lv in levers if lv.key != "population_size"]
