"""The scenario schema: every lever and trait a scenario YAML may set, validated once at load.

Rules (DESIGN.md): unknown keys are errors that list the valid ones; probabilities live in
[0, 1]; shares sum to 1; money and sizes are non-negative; every segment or channel a field
names must exist. Cross-reference problems are raised as :class:`CrossReferenceError` with the
exact field path so the loader can point at the YAML line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import Discriminator, Field, Tag, model_validator
from pydantic_core import PydanticCustomError

from simulation.data import hooks as data_hooks
from simulation.money.config import IncrementalityConfig, MoneyConfig
from simulation.population.stages import Stage
from simulation.scenario.types import (  # noqa: F401 - re-exported for users of the schema
    WEEKDAYS,
    Beta01,
    ContentFormat,
    CrossReferenceError,
    HourRanges,
    NonNegative,
    PerSegmentNonNegative,
    PerSegmentProbability,
    Positive,
    Probability,
    Problems,
    StrictModel,
    Yuan,
    hours_mask,
    per_segment_problems,
    resolve_per_segment,
)

# ---------------------------------------------------------------------------- population


class LogNormalValue(StrictModel):
    """Money per month, log-normal: ``median`` yuan, ``sigma`` the log-scale spread."""

    median: NonNegative = 0.0
    sigma: NonNegative = 0.0


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
    #: × every response (conversion, engagement, call to action, win-back) to a contact from a
    #: channel whose ``format`` is the key; formats not listed (and channels without one): × 1
    format_preference: dict[ContentFormat, NonNegative] = Field(default_factory=dict)
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
    """Who the customers are: ``size`` drawn from ``segments``, or a bank's own table.

    ``source`` (a CSV/Parquet customer table, docs/calibrate.md) replaces the draw for the
    columns it has (``columns`` maps customer fields to file columns); ``size`` and
    ``source_sha256`` are then filled in from the file (simulation/data/customers.py)."""

    # No fixed cap below a country (a bank's whole base is 10⁷–10⁸ customers): validation
    # checks the memory a run needs instead (simulation/scenario/limits.py).
    size: Annotated[int, Field(ge=1, le=1_410_000_000)]
    scale: Positive = 1.0
    cities: CitiesConfig = CitiesConfig()
    segments: dict[str, SegmentConfig]
    source: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    ignore_columns: list[str] = Field(default_factory=list)
    source_sha256: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_source(cls, data: object) -> object:
        return data_hooks.prepare_population(data)

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
        data_hooks.check_population(self)
        return self

    def cross_problems(self, scenario: Any, path: tuple[str, ...]) -> Problems:
        """A customer table's balance columns need the money products they feed."""
        return data_hooks.check_money(scenario)


# ---------------------------------------------------------------------------- social graph


class WeakTieLayer(StrictModel):
    """A second, weak-tie layer of acquaintances beside the strong ties (Goldenberg, Libai &
    Muller 2001: 5–29 weak ties per person, DOMAIN.md §2.2), random across the population,
    optionally ``within_city_odds`` times likelier within one city. Referral invitations may
    travel along either layer."""

    mean_degree: Positive = 10.0
    within_city_odds: Annotated[float, Field(ge=1.0)] = 1.0


class _LayeredGraph(StrictModel):
    """A materialised graph; ``weak_ties`` (optional) adds the weak-tie layer."""

    weak_ties: WeakTieLayer | None = None


class CompleteGraph(StrictModel):
    """Well mixed: everyone is everyone's tie, computed as a mean field (no N² edges)."""

    kind: Literal["complete"]


class WattsStrogatzGraph(_LayeredGraph):
    kind: Literal["watts_strogatz"]
    k: Annotated[int, Field(ge=2)] = 10
    p: Probability = 0.1

    @model_validator(mode="after")
    def _even(self) -> WattsStrogatzGraph:
        if self.k % 2:
            raise PydanticCustomError("even_k", "k must be even, got {k}", {"k": self.k})
        return self


class BarabasiAlbertGraph(_LayeredGraph):
    kind: Literal["barabasi_albert"]
    m: Annotated[int, Field(ge=1)] = 5


class BlockModelGraph(_LayeredGraph):
    """Stochastic block model over (segment, city) blocks with homophily.

    A tie is ``within_segment_odds`` times likelier between two customers of the same segment
    and ``within_city_odds`` times likelier within one city; ``mean_degree`` sets the density.
    """

    kind: Literal["sbm"]
    mean_degree: Positive = 10.0
    within_segment_odds: Annotated[float, Field(ge=1.0)] = 4.0
    within_city_odds: Annotated[float, Field(ge=1.0)] = 20.0


class EdgeListGraph(_LayeredGraph):
    """A bank's own ties from an edge list (``graph: {source: edges.csv}``; see
    simulation/data/edges.py): layers named in ``weak_layers`` become the weak-tie layer;
    ``synthetic`` adds a generated strong layer, ``weak_ties`` a generated weak one."""

    kind: Literal["file"] = "file"
    source: str
    columns: dict[str, str] = Field(default_factory=dict)
    ignore_columns: list[str] = Field(default_factory=list)
    weak_layers: list[str] = Field(default_factory=list)
    synthetic: Annotated[
        WattsStrogatzGraph | BarabasiAlbertGraph | BlockModelGraph, Field(discriminator="kind")
    ] | None = None
    source_sha256: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_source(cls, data: object) -> object:
        return data_hooks.prepare_graph(data)

    def cross_problems(self, scenario: Scenario, path: tuple[str, ...]) -> Problems:
        """Every tie's ends must be customers of the population (file, rows, column)."""
        return data_hooks.check_graph(scenario)


def _graph_kind(value: object) -> str | None:
    """The graph's ``kind``; a mapping with a ``source`` and no kind is an edge list."""
    if isinstance(value, dict):
        kind = value.get("kind")
        return "file" if kind is None and "source" in value else kind
    return getattr(value, "kind", None)


GraphConfig = Annotated[
    Annotated[CompleteGraph, Tag("complete")]
    | Annotated[WattsStrogatzGraph, Tag("watts_strogatz")]
    | Annotated[BarabasiAlbertGraph, Tag("barabasi_albert")]
    | Annotated[BlockModelGraph, Tag("sbm")]
    | Annotated[EdgeListGraph, Tag("file")],
    Discriminator(
        _graph_kind,
        custom_error_type="graph_kind",
        custom_error_message="unknown graph kind; valid: complete, watts_strogatz, "
        "barabasi_albert, sbm, file (or give a source: edge list)",
    ),
]


# ---------------------------------------------------------------------------- scenario


class ScenarioCore(StrictModel):
    """What every scenario has whatever its levers: name, horizon, population and graph.

    The full :class:`Scenario` class adds one field per lever section and is assembled from the
    lever declaration (``simulation/strategies/registry.py``), which sits above this package:
    ``scenario/`` never imports strategy code. Code below the strategies (population, network,
    loading) only needs this base class or :func:`scenario_model`.
    """

    name: str
    description: str = ""
    days: Annotated[int, Field(ge=1, le=3650)] = 365
    start_weekday: Literal[WEEKDAYS] = "monday"  # type: ignore[valid-type]
    population: PopulationConfig
    graph: GraphConfig = WattsStrogatzGraph(kind="watts_strogatz")
    #: The world's economics (simulation/money/): not a lever, present in every world.
    money: MoneyConfig = MoneyConfig()
    incrementality: IncrementalityConfig = IncrementalityConfig()

    #: Whole-scenario checks of lever sections that are not models themselves (e.g. the
    #: ``channels`` mapping): ``check(scenario) -> problems``, set by the assembly.
    section_checks: ClassVar[tuple[Callable[[Any], Problems], ...]] = ()

    @model_validator(mode="after")
    def _cross_references(self) -> ScenarioCore:
        problems: Problems = []
        # Each section checks its own references: a section value with a
        # ``cross_problems(scenario, path)`` method is asked for its problems, then the
        # declaration's checks of the sections that are plain mappings run.
        for field_name in type(self).model_fields:
            hook = getattr(getattr(self, field_name), "cross_problems", None)
            if callable(hook):
                problems += hook(self, (field_name,))
        for check in type(self).section_checks:
            problems += check(self)
        if not problems:  # sizes that cannot be built or do not fit in memory (issue 15)
            from simulation.scenario.limits import resource_problems

            problems += resource_problems(self)
        if problems:
            raise CrossReferenceError(problems)
        return self

    @property
    def segment_names(self) -> list[str]:
        return list(self.population.segments)

    @property
    def channel_names(self) -> list[str]:
        return list(getattr(self, "channels", {}) or {})


_ASSEMBLED: list[type[ScenarioCore]] = []


def register_scenario_model(model: type[ScenarioCore]) -> None:
    """Install the assembled scenario class (called once by the lever declaration)."""
    _ASSEMBLED[:] = [model]


def scenario_model() -> type[ScenarioCore]:
    """The full scenario class, assembled from the declared levers.

    Importing :mod:`simulation` assembles it (its ``__init__`` imports the declaration first),
    so every entry point — CLI, API, runner workers, tests — finds it installed.
    """
    if not _ASSEMBLED:
        raise RuntimeError(
            "the scenario schema is assembled from the lever declaration: import simulation "
            "(or simulation.strategies.registry) first"
        )
    return _ASSEMBLED[0]


def __getattr__(name: str) -> Any:
    # ``from simulation.scenario.schema import Scenario`` keeps working: the name resolves to
    # the assembled class without this module importing strategy code.
    if name == "Scenario":
        return scenario_model()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if TYPE_CHECKING:
    from simulation.strategies.registry import Scenario


def stage_code(name: str) -> int:
    return int(Stage[name.upper()])

