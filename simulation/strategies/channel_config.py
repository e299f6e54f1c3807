"""Scenario sections of the operating matrix: ``channels`` (one :class:`ChannelConfig` each) and
``flows`` (the routes a channel sends its responders along, and the budget of the whole mix).

Imports only ``scenario/types.py`` so the schema can import it without a cycle. Every new field
defaults to "off" (or to the channel's catalogue entry when a ``kind`` is given), so scenarios
written before these fields existed behave exactly as before.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from simulation.scenario.types import (
    ContentFormat,
    NonNegative,
    PerSegmentProbability,
    Probability,
    Problems,
    StrictModel,
    Yuan,
    per_segment_problems,
)
from simulation.strategies.channel_catalogue import CATALOGUE, CatalogueEntry, ChannelKind, Role

#: Stages a channel may contact. Prospects are converted or engaged; customers (active, at
#: risk, dormant) can only be retained.
TargetStage = Literal["unaware", "aware", "engaged", "active", "at_risk", "dormant"]
PROSPECTS: tuple[str, ...] = ("unaware", "aware", "engaged")
RETENTION_TARGETS: tuple[str, ...] = ("engaged", "active", "at_risk", "dormant")

Count = Annotated[int, Field(ge=0)]
PositiveCount = Annotated[int, Field(ge=1)]


class MessageCaps(StrictModel):
    """Most messages one customer may receive from the channel per day / week / 30-day month."""

    per_day: PositiveCount | None = None
    per_week: PositiveCount | None = None
    per_month: PositiveCount | None = None


class StaffCapacity(StrictModel):
    """A staffed channel (outbound calls, branch, event team): reach, quality and cost come from
    people. Capacity = ``headcount`` × ``contacts_per_day`` × ``time_share`` contacts a day;
    cost = ``headcount`` × ``cost_per_day`` × ``time_share`` a day (paid whether or not the
    capacity is used); every response of their contacts (conversion, engagement, call-to-action,
    win-back) × ``productivity``.

    Why: the articles contrast a central, dedicated team with part-time branch staff — CMB's
    card centre runs its private domain centrally ("a few people run millions of users" [001]),
    CCB's WeCom managers are "mostly part-time" (「目前以兼职为主」 [001]). Part-time staff give
    the channel a share of their day (``time_share``: fewer contacts, the same share of their
    cost) and, untrained and unsupported, convert less per contact (``productivity`` < 1); a
    trained central team converts more (> 1). Defaults (1, 1) are the staff as before.
    """

    headcount: Count
    contacts_per_day: NonNegative  # per staff member, full time
    cost_per_day: Yuan = 0.0  # per staff member, full time
    time_share: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0  # share of their day on this channel
    productivity: Annotated[float, Field(gt=0.0, le=10.0)] = 1.0  # × every response of a contact

    @property
    def capacity(self) -> int:
        """Contacts a day the staff can make."""
        return int(self.headcount * self.contacts_per_day * self.time_share)

    @property
    def cost(self) -> float:
        """Staff cost a day (yuan)."""
        return self.headcount * self.cost_per_day * self.time_share


class ChannelConfig(StrictModel):
    """One channel of the operating matrix: who it reaches, what it costs, what a contact does.

    Daily funnel: ``reach`` (impressions: ``daily_reach`` × segment affinity × (1 − platform
    throttling), within message caps and capacity) → ``contacts`` (``open_rate`` of the reach
    read or watch) → each contact converts (``conversion_on_contact`` × completion of the
    channel's conversion path), joins the private domain (``engage_on_contact``), responds to a
    call to action and enters ``route`` (``respond_on_contact``), or — for at-risk and dormant
    customers — is retained (``retain_on_contact``).

    Traffic between channels (a graph; every edge off by default). ``hand_over``: each of today's
    contacts who is still a prospect after responding is handed to channel X with rate r and is
    among X's contacts tomorrow (X's caps, windows, capacity and contact price apply; it skips
    X's reach draw) — public platforms → private domain → mini program/app [002][001].
    ``audience: group_members`` draws the channel's reach among members of a WeCom group only
    (the groups sending their members into a live room [001]; nobody while groups are off, as
    in a counterfactual or a leave-one-out of the groups); ``audience: screened_employers``
    among the staff of employers that pass the employers' screen (an enterprise visit to the
    employers the bank chose, 代发进企 [001]); with ``hand_over`` back to a
    group-joining channel this is live room ↔ groups. ``traffic_match``: for every customer
    handed in (by ``hand_over`` or from the groups), the platform shows the channel to that many
    customers of its public audience the same day — Channels' one-for-one public traffic for
    private traffic sent in (「以公私域1：1的标准为视频号直播间导流（假如从私域导流直播间1万人，
    视频号会给到1万人的公域推荐流量）」 [001]: ``traffic_match: 1``).

    Budgets: with ``pacing: asap`` (the default) the channel reaches ``daily_reach`` of its
    audience a day and pays for it until the budget (its own, or ``flows.budget``) is gone. With
    ``pacing: even`` the **budget buys the reach**: each day it spends (budget left ÷ days left)
    on impressions (``cost_per_impression``) or contacts (``cost_per_contact``), and reaches
    ``daily_reach`` × a saturation share of its audience: impressions fall at random on the
    pool the platform can show (audience × daily_reach), so unique reach = pool × (1 − e^(−I ÷
    pool)) — diminishing returns as the pool is exhausted; contacts (calls) reach one customer
    each, min(I, pool). At most ``max_frequency_per_day`` × pool impressions a day are sold (the
    platform's frequency cap); budget left at the horizon is reported unspent.
    """

    kind: ChannelKind = "custom"
    role: Role | None = None  # default: the catalogue's
    daily_reach: PerSegmentProbability = 0.0
    open_rate: PerSegmentProbability = 1.0
    cost_per_impression: Yuan = 0.0
    cost_per_contact: Yuan = 0.0
    fixed_per_month: Yuan = 0.0
    staff: StaffCapacity | None = None
    daily_capacity: Count | None = None
    budget: Yuan | None = None
    pacing: Literal["asap", "even"] = "asap"
    max_frequency_per_day: Annotated[float, Field(ge=1.0)] = 3.0
    conversion_on_contact: PerSegmentProbability = 0.0
    engage_on_contact: PerSegmentProbability = 0.0
    respond_on_contact: PerSegmentProbability = 0.0
    retain_on_contact: PerSegmentProbability = 0.0
    route: str | None = None
    funnel_steps: Count | None = None  # default: the catalogue's
    drop_off_per_step: Probability | None = None  # default: the catalogue's
    caps: MessageCaps | None = None  # default: the catalogue's platform caps
    finance_throttle: Probability | None = None  # default: the catalogue's
    targets: list[TargetStage] | None = None  # default: prospects, or customers if retention
    hand_over: dict[str, Probability] = Field(default_factory=dict)  # channel → rate (graph)
    audience: Literal["everyone", "group_members", "screened_employers"] = "everyone"
    traffic_match: NonNegative = 0.0  # public impressions per customer handed in
    #: what the content is (video, text, …): every response of a contact × the contacted
    #: segment's ``format_preference`` for it (none: × 1, today's numbers)
    format: ContentFormat | None = None

    #: Per-segment fields checked here (the schema checks daily_reach, conversion_on_contact
    #: and engage_on_contact itself).
    _per_segment: ClassVar[tuple[str, ...]] = (
        "open_rate",
        "respond_on_contact",
        "retain_on_contact",
    )

    @model_validator(mode="after")
    def _paced_needs_a_price(self) -> ChannelConfig:
        if self.pacing == "even" and self.cost_per_impression <= 0 and self.cost_per_contact <= 0:
            raise PydanticCustomError(
                "pacing_price",
                "pacing 'even' buys reach with the budget: set cost_per_impression or "
                "cost_per_contact > 0",
                {},
            )
        return self

    @model_validator(mode="after")
    def _route_needs_response(self) -> ChannelConfig:
        responds = isinstance(self.respond_on_contact, dict) or self.respond_on_contact > 0
        if responds and self.route is None:
            raise PydanticCustomError(
                "route_missing",
                "respond_on_contact sends responders along a route: set 'route' to one of "
                "flows.routes",
                {},
            )
        return self

    # --- catalogue-resolved values (what the simulation uses)
    @property
    def entry(self) -> CatalogueEntry:
        return CATALOGUE[self.kind]

    @property
    def effective_role(self) -> Role:
        return self.role or self.entry.role

    @property
    def effective_targets(self) -> tuple[str, ...]:
        if self.targets is not None:
            return tuple(self.targets)
        return RETENTION_TARGETS if self.effective_role == "retention" else PROSPECTS

    @property
    def effective_caps(self) -> MessageCaps:
        if self.caps is not None:
            return self.caps
        e = self.entry
        return MessageCaps(
            per_day=e.cap_per_day, per_week=e.cap_per_week, per_month=e.cap_per_month
        )

    @property
    def path_completion(self) -> float:
        """Share of those who start the conversion path who finish it: (1 − drop)^steps."""
        steps = self.entry.funnel_steps if self.funnel_steps is None else self.funnel_steps
        drop = (
            self.entry.drop_off_per_step
            if self.drop_off_per_step is None
            else self.drop_off_per_step
        )
        return float((1.0 - drop) ** steps)

    @property
    def throttle(self) -> float:
        if self.finance_throttle is None:
            return self.entry.finance_throttle
        return self.finance_throttle

    @property
    def daily_limit(self) -> int | None:
        """Most contacts a day: the explicit capacity and the staff's, whichever is lower."""
        limits = [c for c in (self.daily_capacity,) if c is not None]
        if self.staff is not None:
            limits.append(self.staff.capacity)
        return min(limits) if limits else None

    def problems(self, name: str, segments: list[str], routes: list[str]) -> Problems:
        out: Problems = []
        for field_name in self._per_segment:
            out += per_segment_problems(
                getattr(self, field_name), segments, ("channels", name, field_name)
            )
        for target in self.hand_over:
            if target == name:
                out.append((("channels", name, "hand_over", target),
                            "a channel cannot hand customers over to itself"))
        if self.route is not None and self.route not in routes:
            out.append(
                (
                    ("channels", name, "route"),
                    f"unknown route '{self.route}'; flows.routes: {', '.join(routes) or '(none)'}",
                )
            )
        return out


# ---------------------------------------------------------------------------- flows

StepKind = Literal[
    "lead_capture", "call", "screening", "redirect", "landing", "wecom_add", "group_join",
    "branch_visit", "apply",
]

STEP_EVENTS: dict[str, str] = {
    "lead_capture": "leads",
    "call": "calls_connected",
    "screening": "screened_in",
    "redirect": "redirected",
    "landing": "path_completed",
    "wecom_add": "engaged",
    "group_join": "group_joins",
    "branch_visit": "branch_visits",
    "apply": "conversions",
}


class RouteStep(StrictModel):
    """One step responders pass (``pass_rate``) or leave at; what a pass means is its ``kind``:

    - ``lead_capture``: leaves a phone number (a *lead*; e.g. the credit-limit check form [000]);
    - ``call``: an outbound call reaches the lead;
    - ``screening``: the bank's risk screen; the same customer gets the same answer every time
      (one eligibility draw per customer), so screening early or late changes who is a lead,
      not who is creditworthy;
    - ``redirect``: an external platform (e.g. Alipay [000]) with its own conversion;
    - ``landing``: a conversion path: ``path`` names a catalogue kind (mini_program, h5, app)
      whose steps and drop-off apply, times ``pass_rate``;
    - ``wecom_add``: joins the private domain (engaged); outbound call → WeCom add ≥ 60 % [001];
    - ``group_join``: scans the group code and joins a WeCom group today (engaged; the groups
      lever seats them — its ``join_rate`` and ``join_stages`` do not apply to an invitation;
      with groups off it is a plain join of the private domain);
    - ``branch_visit``: comes to the branch (e.g. to collect a prize: ``cost_per_pass``);
    - ``apply``: applies and draws down (or opens the account): converts.

    A **chained route** is such a list across touch points, each with its own pass rate, e.g.
    the branch article's event → group → prize collected at the branch → new customer
    (「活动当天引导用户进群，通过进店领取比赛奖品，当天成功转化新客户多名」 [001]): ``group_join``,
    ``branch_visit`` with the prize as ``cost_per_pass``, ``apply``. Conversions are
    attributed to the channel that started the route.
    """

    kind: StepKind
    pass_rate: PerSegmentProbability = 1.0
    cost_per_entry: Yuan = 0.0
    cost_per_pass: Yuan = 0.0  # paid for each customer who passes (a prize handed over)
    daily_capacity: Count | None = None
    path: ChannelKind | None = None

    @model_validator(mode="after")
    def _landing_path(self) -> RouteStep:
        if (self.kind == "landing") != (self.path is not None):
            raise PydanticCustomError(
                "landing_path",
                "'path' (mini_program, h5, app, …) goes with kind 'landing' and only there",
                {},
            )
        return self

    @property
    def path_completion(self) -> float:
        if self.path is None:
            return 1.0
        e = CATALOGUE[self.path]
        return float((1.0 - e.drop_off_per_step) ** e.funnel_steps)


class RouteConfig(StrictModel):
    """An ordered list of steps; survivors of the last ``apply`` step convert."""

    description: str = ""
    steps: list[RouteStep]
    budget: Yuan | None = None

    @model_validator(mode="after")
    def _has_steps(self) -> RouteConfig:
        if not self.steps:
            raise PydanticCustomError("no_steps", "a route needs at least one step", {})
        return self


class FlowsConfig(StrictModel):
    """The channel mix as a whole: a total budget over every channel and route, and the routes."""

    budget: Yuan | None = None
    routes: dict[str, RouteConfig] = Field(default_factory=dict)

    def cross_problems(self, scenario, path: tuple[str | int, ...]) -> Problems:
        """Channels' per-segment values and route names; routes' per-segment pass rates."""
        segments = list(scenario.population.segments)
        routes = list(self.routes)
        out: Problems = []
        for name, ch in scenario.channels.items():
            out += ch.problems(name, segments, routes)
        for r_name, route in self.routes.items():
            for i, step in enumerate(route.steps):
                out += per_segment_problems(
                    step.pass_rate, segments, (*path, "routes", r_name, "steps", i, "pass_rate")
                )
        return out


#: Per-segment fields of a channel checked against the segment names (the others check
#: themselves in ``ChannelConfig``).
_PER_SEGMENT_FIELDS: tuple[str, ...] = ("daily_reach", "conversion_on_contact", "engage_on_contact")


def check_channels(scenario) -> Problems:
    """Whole-scenario checks of the ``channels`` mapping: segments' ``channel_affinity`` keys
    name defined channels, and per-segment channel values name defined segments."""
    problems: Problems = []
    channels = list(scenario.channels)
    segments = scenario.segment_names
    for seg_name, seg in scenario.population.segments.items():
        for ch in seg.channel_affinity:
            if ch not in scenario.channels:
                problems.append(
                    (
                        ("population", "segments", seg_name, "channel_affinity", ch),
                        f"unknown channel '{ch}'; defined channels: "
                        f"{', '.join(channels) or '(none)'}",
                    )
                )
    for ch_name, ch in scenario.channels.items():
        for target in ch.hand_over:
            if target not in scenario.channels:
                problems.append(
                    (
                        ("channels", ch_name, "hand_over", target),
                        f"unknown channel '{target}'; defined channels: {', '.join(channels)}",
                    )
                )
        for field_name in _PER_SEGMENT_FIELDS:
            problems += per_segment_problems(
                getattr(ch, field_name), segments, ("channels", ch_name, field_name)
            )
    return problems
