"""The levers a trainer moves on the dashboard, derived from whatever the scenario defines.

A :class:`Lever` names one place in the scenario (``channels.douyin_ads.budget``) and how a
control value changes it: ``set`` writes the value, ``scale`` multiplies what the scenario says
(used for per-segment mappings such as ``daily_reach``, so one slider moves every segment in
proportion). Levers are built from the scenario itself, so a preset with perks, groups or
referral sections gets controls for them without the dashboard knowing their schema.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from simulation.strategies.registry import Scenario

LeverKind = Literal["SliderInt", "SliderFloat", "Checkbox"]

#: Sections with hand-written levers above; any other section gets an on/off box if it has one.
CORE_SECTIONS = frozenset(
    {"name", "description", "days", "start_weekday", "population", "graph", "lifecycle",
     "channels", "word_of_mouth"}
)
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


def _core_levers(sc: Scenario) -> list[Lever]:
    size = sc.population.size
    levers = [
        Lever(
            "population_size", "customers simulated", "SliderInt", ("population", "size"), "set",
            size, 500, max(20_000, size), 500,
        )
    ]
    for name, ch in sc.channels.items():
        levers.append(
            Lever(
                _key("reach", name), f"{name}: reach multiplier", "SliderFloat",
                ("channels", name, "daily_reach"), "scale", 1.0, 0.0, 5.0, 0.1,
            )
        )
        if ch.budget is not None:
            levers.append(_budget_lever(_key("budget", name), f"{name}: budget (¥)",
                                        ("channels", name, "budget"), ch.budget))
    imitation = float(sc.word_of_mouth.imitation)
    levers.append(
        Lever(
            "word_of_mouth", "word of mouth: imitation per day", "SliderFloat",
            ("word_of_mouth", "imitation"), "set", imitation, 0.0,
            round(max(0.02, 3 * imitation), 4), 0.0005,
        )
    )
    return levers


def _budget_lever(key: str, label: str, path: tuple[str, ...], budget: float) -> Lever:
    top = max(3 * float(budget), 10_000.0)
    return Lever(key, label, "SliderInt", path, "set", int(budget), 0, int(top),
                 max(int(top // 100), 1))


def _section_levers(data: dict[str, Any]) -> list[Lever]:
    """Levers of the strategy sections (perks, contact windows, referral, groups, advisers),
    read from the scenario data so the dashboard needs none of their classes."""
    out: list[Lever] = []
    perks = data.get("perks")
    if isinstance(perks, dict):
        if perks.get("budget") is not None:
            out.append(_budget_lever("perks_budget", "perks: budget (¥)", ("perks", "budget"),
                                     perks["budget"]))
        for name, perk in (perks.get("catalogue") or {}).items():
            face = perk.get("face_value")
            if isinstance(face, int | float):
                out.append(Lever(_key("perk_value", name), f"perk {name}: face value (¥)",
                                 "SliderFloat", ("perks", "catalogue", name, "face_value"), "set",
                                 float(face), 0.0, float(max(50.0, 3 * face)), 0.5))
            stock = perk.get("daily_stock")
            if isinstance(stock, int):
                out.append(Lever(_key("perk_stock", name), f"perk {name}: stock per day",
                                 "SliderInt", ("perks", "catalogue", name, "daily_stock"), "set",
                                 stock, 0, max(100, 3 * stock), 1))
    policy = data.get("contact_policy")
    if isinstance(policy, dict) and isinstance(policy.get("enabled"), bool):
        out.append(Lever("contact_windows", "contact windows and caps on", "Checkbox",
                         ("contact_policy", "enabled"), "set", policy["enabled"]))
        # The strategy lever: schedule contacts into each customer's good hours [001].
        scheduled = policy.get("schedule") == "customer_windows"
        out.append(Lever("schedule_windows", "schedule contacts into customer windows",
                         "Checkbox", ("contact_policy", "schedule"), "choose", scheduled,
                         options=("channel_hours", "customer_windows")))
    referral = data.get("referral")
    if isinstance(referral, dict):
        rate = referral.get("invite_rate")
        if isinstance(rate, int | float):
            out.append(Lever("referral_invites", "referral: invitations per customer-day",
                             "SliderFloat", ("referral", "invite_rate"), "set", float(rate), 0.0,
                             round(max(0.05, 3 * rate), 4), 0.001))
        if referral.get("tiers"):
            out.append(Lever("referral_rewards", "referral: tier rewards multiplier",
                             "SliderFloat", ("referral", "tiers", "*", "reward"), "scale",
                             1.0, 0.0, 5.0, 0.1))
    groups = data.get("groups")
    if isinstance(groups, dict) and isinstance(groups.get("cap"), int):
        # 200 passive-scan members per WeCom group [004]; external groups up to 500 (§2.4).
        top = 500 if groups.get("external") else 200
        out.append(Lever("groups_cap", "groups: members per group", "SliderInt",
                         ("groups", "cap"), "set", groups["cap"], 10, top, 10))
    for section, words in (("advisers", ("capacity", "count")),):
        cfg = data.get(section)
        if not isinstance(cfg, dict):
            continue
        for field, value in cfg.items():
            if isinstance(value, int) and not isinstance(value, bool) and value > 0 and any(
                w in field for w in words
            ):
                out.append(Lever(_key(section, field), f"{section}: {field.replace('_', ' ')}",
                                 "SliderInt", (section, field), "set", value, 1,
                                 max(500, 3 * value), 1))
    for section, cfg in data.items():
        if section in CORE_SECTIONS or section == "contact_policy" or not isinstance(cfg, dict):
            continue
        if isinstance(cfg.get("enabled"), bool):
            out.append(Lever(_key(section, "enabled"), f"{section.replace('_', ' ')} on",
                             "Checkbox", (section, "enabled"), "set", cfg["enabled"]))
    return out


def levers_for(scenario: Scenario) -> list[Lever]:
    """Every lever the dashboard shows for ``scenario``, core levers first."""
    data = scenario.model_dump(mode="json")
    return _core_levers(scenario) + _section_levers(data)


def _update(node: Any, path: tuple[str, ...], fn: Callable[[Any], Any]) -> None:
    """Replace the value at ``path`` by ``fn(value)``; ``*`` walks every item of a list."""
    head, rest = path[0], path[1:]
    keys = range(len(node)) if head == "*" else [head]
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
