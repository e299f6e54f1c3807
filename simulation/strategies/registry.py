"""The lever declaration: every strategy module, its scenario section(s) and how it is shown,
costed and switched off, declared once. Everything else is derived from this list:

- the :class:`Scenario` schema (one field per declared section, on top of
  :class:`~simulation.scenario.schema.ScenarioCore`);
- the daily module order (declaration order; see below);
- acquisition-source codes (declaration order, then each module's own ``sources``);
- ledger-category colours of the plots (:data:`CATEGORY_COLOURS`);
- dashboard controls (``controls``: field paths; their widget and range come from the config's
  field types and bounds, ``simulation/dashboard/levers.py``);
- counterfactuals and ablations (:func:`counterfactual_scenario` with each lever's ``off``);
- the shared test harness (tests/test_lever_contract.py), which runs over every lever.

Adding a lever = one module file (config class + module class) + one ``Lever(...)`` line in
:data:`LEVERS` + a test that uses the harness fixtures. docs/architecture.md walks through it.

Module order (DESIGN.md), and why: lifecycle first (yesterday's conversions become active,
lapses happen before anyone is contacted today) → contact planning (windows, caps and fatigue
must be set before a channel sends) → channel exposure & funnel → perks → referrals and word
of mouth (they read today's customers, including today's conversions) → groups and advisers
(private-domain operations on who is in the domain by now) → lifecycle operations (recall the
customers whose state changed today) → push notifications; accounting runs in the model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import Field, create_model

from simulation.scenario.schema import ScenarioCore, register_scenario_model
from simulation.scenario.types import Problems
from simulation.strategies.advisers import Advisers, AdvisersConfig
from simulation.strategies.base import StrategyModule
from simulation.strategies.channel_config import ChannelConfig, FlowsConfig, check_channels
from simulation.strategies.channels import Channels
from simulation.strategies.contact_windows import ContactPolicyConfig, ContactWindows
from simulation.strategies.employers import Employers, EmployersConfig
from simulation.strategies.groups import Groups, GroupsConfig
from simulation.strategies.lifecycle import Lifecycle, LifecycleConfig
from simulation.strategies.lifecycle_ops import LifecycleOperations, LifecycleOperationsConfig
from simulation.strategies.perks import Perks, PerksConfig
from simulation.strategies.push import Push, PushConfig
from simulation.strategies.referral import Referral, ReferralConfig
from simulation.strategies.word_of_mouth import WordOfMouth, WordOfMouthConfig

Off = Callable[[Any], Any]


def set_fields(**values: Any) -> Off:
    """An ``off`` that sets fields of the section's JSON form, e.g. ``invite_rate=0``."""

    def off(section: Any) -> Any:
        return {**(section or {}), **values}

    return off


def each_entry(field: str, **values: Any) -> Off:
    """An ``off`` that sets fields of every entry of a mapping inside the section (or of the
    section itself when ``field`` is empty), e.g. every perk's ``offer_rate``."""

    def off(section: Any) -> Any:
        section = dict(section or {})
        entries = section if not field else section.get(field) or {}
        new = {name: {**entry, **values} for name, entry in entries.items()}
        if not field:
            return new
        section[field] = new
        return section

    return off


def to_default(default: Any) -> Off:
    """An ``off`` that puts the section back to its default (absent)."""
    return lambda _section: default


@dataclass(frozen=True)
class Section:
    """A scenario section a lever owns: its YAML ``name``, its type and its default."""

    name: str
    annotation: Any
    default: Any = None
    default_factory: Callable[[], Any] | None = None

    def field(self) -> tuple[Any, Any]:
        if self.default_factory is not None:
            return (self.annotation, Field(default_factory=self.default_factory))
        return (self.annotation, self.default)


@dataclass(frozen=True)
class Lever:
    """One lever as the rest of the code sees it.

    ``sections``: the scenario sections it reads (the first is its own name). ``module``: the
    strategy module that acts on it. ``categories``: ledger category → plot colour of the
    spend it books. ``off``: section JSON → the same section with the lever switched off (the
    counterfactual of "without this lever"; ``None`` for the population's own dynamics, which
    cannot be switched off); the other sections are kept. ``controls``: dotted field paths
    inside the first section the dashboard shows (``*`` = every entry of a mapping).
    ``budget``: the scenario path of a total budget that caps this lever's spend, if any.
    ``check``: a whole-scenario check for a section that is a plain mapping.
    ``world``: the lever is part of the world the bank acts in rather than a bank lever (organic
    word of mouth): a leave-one-out can switch it off, but the counterfactual of "without the
    bank's levers" keeps it on — switching it off would count every organic acquisition as
    bought (:func:`strategy_levers`).
    """

    module: type[StrategyModule]
    sections: tuple[Section, ...]
    categories: dict[str, str]
    off: Off | None
    controls: tuple[str, ...] = ()
    budget: tuple[str, ...] | None = None
    check: Callable[[Any], Problems] | None = None
    world: bool = False

    @property
    def name(self) -> str:
        return self.module.name

    @property
    def section(self) -> str:
        return self.sections[0].name

    def switch_off(self, data: dict[str, Any]) -> dict[str, Any]:
        """Scenario JSON with this lever off (a copy; other sections untouched)."""
        if self.off is None:
            raise ValueError(f"lever {self.name!r} cannot be switched off")
        out = dict(data)
        out[self.section] = self.off(data.get(self.section))
        return out


# fmt: off
#: Every lever, in daily module order.
LEVERS: tuple[Lever, ...] = (
    Lever(Lifecycle, (Section("lifecycle", LifecycleConfig, LifecycleConfig()),), {}, None),
    Lever(Employers, (Section("employers", EmployersConfig, EmployersConfig()),), {},
          set_fields(segments={}), ("screen.min_staff",), world=True),
    Lever(ContactWindows, (Section("contact_policy", ContactPolicyConfig | None, None),), {},
          to_default(None), ("enabled", "schedule", "out_of_window_response")),
    Lever(Channels,
          (Section("channels", dict[str, ChannelConfig], default_factory=dict),
           Section("flows", FlowsConfig, FlowsConfig())),
          {"channel": "#1f77b4", "route": "#17becf"},
          each_entry("", daily_reach=0.0, fixed_per_month=0.0, staff=None),
          ("*.daily_reach", "*.budget"), ("flows", "budget"), check_channels),
    Lever(Perks, (Section("perks", PerksConfig, PerksConfig()),), {"perk": "#ff7f0e"},
          each_entry("catalogue", offer_rate=0.0),
          ("budget", "catalogue.*.face_value", "catalogue.*.daily_stock"), ("perks", "budget")),
    Lever(Referral, (Section("referral", ReferralConfig, ReferralConfig()),),
          {"referral": "#2ca02c"}, set_fields(invite_rate=0.0),
          ("invite_rate", "tiers.*.reward")),
    Lever(WordOfMouth, (Section("word_of_mouth", WordOfMouthConfig, WordOfMouthConfig()),),
          {"organic": "#7f7f7f"}, set_fields(imitation=0.0), ("imitation",), world=True),
    Lever(Groups, (Section("groups", GroupsConfig, GroupsConfig()),), {"group": "#8c564b"},
          set_fields(join_rate=0.0), ("cap",)),
    Lever(Advisers, (Section("advisers", AdvisersConfig, AdvisersConfig()),),
          {"adviser": "#9467bd"}, set_fields(count=0), ("count", "capacity")),
    Lever(LifecycleOperations,
          (Section("lifecycle_operations", LifecycleOperationsConfig,
                   LifecycleOperationsConfig()),),
          {"lifecycle_operations": "#e377c2"}, set_fields(operations={}),
          ("operations.*.reach", "operations.*.budget")),
    Lever(Push, (Section("push", PushConfig, PushConfig()),), {"push": "#e7ba52"},
          set_fields(daily_send_rate=0.0), ("daily_send_rate", "per_week"), ("push", "budget")),
)
# fmt: on

MODULE_ORDER: tuple[type[StrategyModule], ...] = tuple(lv.module for lv in LEVERS)
#: Plot colour of each ledger category (``other``: anything a lever did not declare).
CATEGORY_COLOURS: dict[str, str] = {
    **{cat: colour for lv in LEVERS for cat, colour in lv.categories.items()},
    # the products' own costs (accounting.PRODUCT_CATEGORY): red, not the groups' brown
    "product": "#d62728",
    "other": "#c7c7c7",  # light grey: the olive it was read as the pushes' mustard
}


def _check_declaration(levers: Iterable[Lever]) -> None:
    """Programming errors in the declaration fail at import, not in a user's run."""
    seen_sections: dict[str, str] = {}
    seen_names: set[str] = set()
    for lv in levers:
        if lv.name in seen_names:
            raise RuntimeError(f"two levers named {lv.name!r}")
        seen_names.add(lv.name)
        for sec in lv.sections:
            if sec.name in ScenarioCore.model_fields or sec.name in seen_sections:
                raise RuntimeError(f"section {sec.name!r} declared twice ({lv.name})")
            seen_sections[sec.name] = lv.name


def assemble_scenario(levers: Iterable[Lever]) -> type[ScenarioCore]:
    """The Scenario model: :class:`ScenarioCore` plus one field per declared section."""
    levers = tuple(levers)
    _check_declaration(levers)
    fields = {sec.name: sec.field() for lv in levers for sec in lv.sections}
    model = create_model(  # type: ignore[call-overload]
        "Scenario",
        __base__=ScenarioCore,
        __module__=__name__,
        __doc__="A whole operating-matrix scenario: population, graph, lifecycle and levers.",
        **fields,
    )
    model.section_checks = tuple(lv.check for lv in levers if lv.check is not None)
    return model


Scenario = assemble_scenario(LEVERS)
register_scenario_model(Scenario)

LEVER_BY_NAME: dict[str, Lever] = {lv.name: lv for lv in LEVERS}
LEVER_BY_SECTION: dict[str, Lever] = {lv.section: lv for lv in LEVERS}


def lever(name: str) -> Lever:
    """The lever called ``name`` (module name or section name)."""
    found = LEVER_BY_NAME.get(name) or LEVER_BY_SECTION.get(name)
    if found is None:
        raise KeyError(f"unknown lever {name!r}; levers: {', '.join(switchable())}")
    return found


def switchable() -> tuple[str, ...]:
    """Names of the levers a counterfactual can switch off."""
    return tuple(lv.name for lv in LEVERS if lv.off is not None)


def active_levers(scenario: ScenarioCore) -> tuple[str, ...]:
    """The switchable levers this scenario actually uses (its module is enabled)."""
    return tuple(
        lv.name for lv in LEVERS if lv.off is not None and lv.module.enabled(scenario)
    )


def strategy_levers() -> tuple[str, ...]:
    """The bank's own levers, by section name (what the YAML and the contribution KPIs call
    them; :func:`lever` accepts either name): switchable and not part of the world
    (``world``). The counterfactual, leave-one-out and leave-one-in ablations of
    incrementality (simulation/incremental.py) and their contribution KPIs are over these."""
    return tuple(lv.section for lv in LEVERS if lv.off is not None and not lv.world)


def active_strategy_levers(scenario: ScenarioCore) -> tuple[str, ...]:
    """The bank's levers this scenario uses (:func:`strategy_levers` whose module is on): the
    counterfactual switches off exactly these."""
    return tuple(
        name for name in strategy_levers() if lever(name).module.enabled(scenario)
    )


def counterfactual_scenario(scenario: ScenarioCore, levers_off: Iterable[str]) -> ScenarioCore:
    """``scenario`` with the named levers switched off, everything else (population, graph,
    other levers, horizon) unchanged. Run it with the same seed for the counterfactual: each
    module draws from its own named stream, so switching one lever off leaves the other
    modules' random numbers where they were (common random numbers).

    Leave-one-out: ``counterfactual_scenario(s, [name])`` for each of
    ``active_strategy_levers(s)``; the no-strategy baseline (organic word of mouth stays on):
    ``counterfactual_scenario(s, active_strategy_levers(s))``; everything off, the world's own
    dynamics included: ``counterfactual_scenario(s, active_levers(s))``."""
    data = scenario.model_dump(mode="json")
    for name in levers_off:
        data = lever(name).switch_off(data)
    return type(scenario).model_validate(data)
