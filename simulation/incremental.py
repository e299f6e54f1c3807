"""Incrementality on common random numbers: every run beside its counterfactual.

Marketing-mix models can only estimate incrementality from history; a simulation can run the
counterfactual itself. The counterfactual world is the same scenario with every strategy lever
switched **off** (each lever's declared ``off``, simulation/strategies/registry.py), the same
seed, and the same population and social graph (built once, shared in one process:
:class:`SharedWorld`). What remains on is the world itself:
the lifecycle (stock customers, private-domain nurture of those already engaged on day 0),
organic word of mouth and the money layer. Then

- ``organic_acquisitions`` = acquisitions of the counterfactual world;
- ``incremental_acquisitions`` = acquisitions − organic acquisitions;
- ``incremental_value`` = value earned (all customers, money included) − counterfactual value;
- ``incremental_cpa`` = incremental spend ÷ incremental acquisitions;
- ``incremental_roi`` = (incremental value − incremental spend) ÷ incremental spend;

beside the attributed (last-touch) numbers: ``attributed_acquisitions`` are acquisitions whose
last touch was a paid lever (a channel, referral, a group, an adviser …) rather than word of
mouth or private-domain nurture, and ``attributed_cpa`` = spend ÷ those. Last touch credits a
lever with every customer it touched last, including customers who would have come anyway;
the incremental numbers credit it only with customers who would not.

Per-lever contributions (``contributions``) by ablation on the same seed and world:
leave-one-out LOO(L) = KPI(all levers) − KPI(all but L); leave-one-in LOI(L) = KPI(only L) −
KPI(no lever). By construction KPI(all) = KPI(none) + Σ_L LOO(L) + interaction, where
``interaction`` = (KPI(all) − KPI(none)) − Σ_L LOO(L) is reported: positive when levers
reinforce each other (more together than the sum of their last-added effects), negative when
they compete for the same customers.
"""

from __future__ import annotations

import copy
import gc
from collections.abc import Callable
from typing import Any

from simulation.accounting import FREE_SOURCES
from simulation.network.social import SocialNetwork
from simulation.population.state import PopulationState
from simulation.scenario.schema import Scenario
from simulation.strategies.registry import active_strategy_levers, counterfactual_scenario


def active_levers(scenario: Scenario) -> list[str]:
    """The bank's levers this scenario switches on, in declaration order: the lever contract's
    :func:`~simulation.strategies.registry.active_strategy_levers` (every switchable lever but
    the world's own, organic word of mouth)."""
    return list(active_strategy_levers(scenario))


def switch_off(scenario: Scenario, levers: list[str] | tuple[str, ...]) -> Scenario:
    """``scenario`` with ``levers`` off, each by its declared ``off`` (the lever contract:
    :func:`~simulation.strategies.registry.counterfactual_scenario`), so a counterfactual here
    is the same world the contract's harness checks against "section left out"."""
    return counterfactual_scenario(scenario, levers)


def only(scenario: Scenario, lever: str) -> Scenario:
    """``scenario`` with every lever but ``lever`` off (the channel mix stays on for contact
    policy, which has nothing to act on without it)."""
    keep = {lever} | ({"channels"} if lever == "contact_policy" else set())
    return switch_off(scenario, [n for n in active_levers(scenario) if n not in keep])


class SharedWorld:
    """The population sample and social graph of one (scenario, seed), built once and handed to
    every world of a comparison: each world gets a fresh copy of the day-0 population, so the
    same customer has the same traits, ties and money in all of them."""

    def __init__(self, population: PopulationState, network: SocialNetwork) -> None:
        self._population = copy.deepcopy(population)
        self.network = network

    def fresh_population(self) -> PopulationState:
        return copy.deepcopy(self._population)


def _acq(summary: dict[str, Any]) -> float:
    return float(summary["acquisitions"])


def _ratio(a: float, b: float) -> float | None:
    return None if b <= 0 else a / b


def attributed_kpis(summary: dict[str, Any]) -> dict[str, float | None]:
    """Last-touch numbers of one run: acquisitions a paid lever touched last, their CPA, and
    the share of acquisitions that cost nothing (word of mouth, private-domain nurture).

    The CPA's numerator is the spend less the product costs (card issuance and upkeep, loan
    origination) of the free acquisitions (``free_product_spend``, booked apart by the money
    layer): the bank bears those whether or not any paid lever runs, so charging them to the
    paid acquisitions would inflate the attributed CPA by costs no lever caused."""
    by_source = summary.get("acquisitions_by_source", {})
    free = sum(int(by_source.get(s, 0)) for s in FREE_SOURCES)
    acq = _acq(summary)
    attributed = acq - free
    spend = float(summary["spend"]) - float(summary.get("free_product_spend", 0.0))
    out: dict[str, float | None] = {}
    if "card_upkeep_beyond" in summary:  # the paid cards' upkeep after the horizon too
        upkeep = float(summary["card_upkeep_beyond"]) - float(summary["card_upkeep_beyond_free"])
        out["attributed_lifetime_cost_per_acquisition"] = _ratio(spend + upkeep, attributed)
    return out | {
        "attributed_acquisitions": attributed,
        "attributed_spend": spend,
        "attributed_cpa": _ratio(spend, attributed),
        "free_acquisitions": float(free),
        "free_share": _ratio(free, acq),
    }


def incremental_kpis(
    factual: dict[str, Any], counterfactual: dict[str, Any]
) -> dict[str, float | None]:
    """Organic and incremental acquisitions, value, CPA and ROI from the two worlds' summaries."""
    organic = _acq(counterfactual)
    inc_acq = _acq(factual) - organic
    inc_spend = float(factual["spend"]) - float(counterfactual["spend"])
    inc_value = float(factual["value_total"]) - float(counterfactual["value_total"])
    out: dict[str, float | None] = {}
    if "card_upkeep_beyond" in factual and "card_upkeep_beyond" in counterfactual:
        # the added cards' upkeep after the horizon (the counterfactual's free cards cost too)
        upkeep = float(factual["card_upkeep_beyond"]) - float(counterfactual["card_upkeep_beyond"])
        out["incremental_lifetime_cost_per_acquisition"] = (
            _ratio(inc_spend + upkeep, inc_acq) if inc_acq > 0 else None
        )
    return out | {
        "organic_acquisitions": organic,
        "incremental_acquisitions": inc_acq,
        "incremental_share": _ratio(inc_acq, _acq(factual)),
        "incremental_spend": inc_spend,
        "incremental_value": inc_value,
        "incremental_cpa": _ratio(inc_spend, inc_acq) if inc_acq > 0 else None,
        "incremental_roi": _ratio(inc_value - inc_spend, inc_spend),
        "counterfactual_value": float(counterfactual["value_total"]),
        "counterfactual_aum": float(counterfactual["aum"]),
        "incremental_aum": float(factual["aum"]) - float(counterfactual["aum"]),
    }


#: KPIs whose per-lever contributions are reported.
CONTRIBUTION_KPIS = ("acquisitions", "value_total", "spend", "aum")


def contributions(
    full: dict[str, Any],
    none: dict[str, Any],
    without: dict[str, dict[str, Any]],
    alone: dict[str, dict[str, Any]] | None = None,
    alone_base: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Leave-one-out (and leave-one-in) contribution table from the worlds' summaries.

    ``without[L]`` is the run with every lever but L, ``alone[L]`` the run with only L, compared
    with ``alone_base[L]`` (default: the run with no lever; contact policy, which acts on the
    channels, is compared with the channels alone). Returns
    ``{"levers": {L: {"loo_<kpi>": …, "loi_<kpi>": …}}, "organic": {kpi}, "interaction":
    {kpi}}``, with ``organic + Σ loo + interaction = full`` for every KPI.
    """
    table: dict[str, dict[str, float]] = {}
    interaction: dict[str, float] = {}
    organic = {k: float(none[k]) for k in CONTRIBUTION_KPIS}
    for lever, summary in without.items():
        row = {f"loo_{k}": float(full[k]) - float(summary[k]) for k in CONTRIBUTION_KPIS}
        if alone is not None and lever in alone:
            base = (alone_base or {}).get(lever, none)
            row.update(
                {f"loi_{k}": float(alone[lever][k]) - float(base[k]) for k in CONTRIBUTION_KPIS}
            )
        table[lever] = row
    for k in CONTRIBUTION_KPIS:
        total = float(full[k]) - organic[k]
        interaction[k] = total - sum(row[f"loo_{k}"] for row in table.values())
    return {"levers": table, "organic": organic, "interaction": interaction}


# ---------------------------------------------------------------------------- running worlds

#: One line shown beside the two kinds of numbers in tables, reports and the dashboard.
EXPLANATION = (
    "attributed = last touch: every customer a paid lever touched last, including those who "
    "would have come anyway; incremental = this run minus its counterfactual (same seed and "
    "customers, every lever off): only the customers the levers added"
)


def world_summary(model: Any, payback: bool = False) -> dict[str, Any]:
    """The headline and money KPIs of one finished world (what the comparisons need); with
    ``payback`` also its value − spend curve and per-segment lifetime figures under the
    private keys ``_net_curve`` and ``_lifetime_segments``, which only
    :func:`lifetime_increments` reads."""
    from simulation.accounting import acquisitions_by_source, kpis
    from simulation.money.kpis import money_kpis
    from simulation.money.lifetime import lifetime_kpis, net_curve

    model.money.flush()
    out: dict[str, Any] = dict(kpis(model.population, model.ledger, model.day))
    out.update(money_kpis(model))
    out["acquisitions_by_source"] = acquisitions_by_source(model.population)
    if not payback:
        return out
    out["_net_curve"] = net_curve(model)
    out["_lifetime_segments"] = [
        _segment_lifetime(lifetime_kpis(model, s))
        for s in range(len(model.population.segment_names))
    ]
    return out


def _segment_lifetime(k: dict[str, Any]) -> tuple[float, float]:
    return float(k["margin_rate_end"]), float(k["clv_beyond"])


def lifetime_increments(
    factual: dict[str, Any], counterfactual: dict[str, Any], scenario: Scenario,
    factual_curve: Any = None,
) -> dict[str, float | None]:
    """Incremental value beyond the horizon and the lifetime ROI and payback it gives
    (docs/kpis.md "Lifetime value beyond the horizon"): the run's CLV of every customer it ends
    with minus the counterfactual's, discounted to day 0 and added to the in-horizon
    incremental value; payback in days from day 0."""
    from simulation.money.lifetime import continuous_rate, incremental_payback_days

    cfg = scenario.money.lifetime
    days = scenario.days
    inc_clv = float(factual["clv_beyond"]) - float(counterfactual["clv_beyond"])
    discount = (1.0 + cfg.discount_rate) ** (-days / 365.0)
    inc_value = float(factual["value_total"]) - float(counterfactual["value_total"])
    inc_spend = float(factual["spend"]) - float(counterfactual["spend"])
    lifetime = inc_value + discount * inc_clv
    segs = factual.get("segments")
    f_segments = (
        [_segment_lifetime(v) for v in segs.values()] if isinstance(segs, dict)
        else factual.get("_lifetime_segments", [])
    )
    payback = None
    if inc_spend > 0:
        payback = incremental_payback_days(
            factual_curve, counterfactual.get("_net_curve"), inc_value - inc_spend, days,
            continuous_rate(cfg.discount_rate), f_segments,
            counterfactual.get("_lifetime_segments", []),
        )
    return {
        "incremental_clv": inc_clv,
        "incremental_lifetime_value": lifetime,
        "incremental_lifetime_roi": _ratio(lifetime - inc_spend, inc_spend),
        "incremental_payback_days": payback,
    }


def run_world(
    scenario: Scenario, seed: int, world: SharedWorld, on_day: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """Simulate ``scenario`` on ``world``'s population and graph; its summary."""
    from simulation.model import OperatingMatrixModel

    model = OperatingMatrixModel(scenario, seed, world=world)
    try:
        model.run(on_day)
        return world_summary(model, payback=True)
    finally:
        # A model is a web of reference cycles (modules ↔ model, Mesa's agent registry), so it
        # is only freed by the cyclic garbage collector, which numpy-heavy code rarely
        # triggers: without this, every finished world of a leave-one-out run stayed in memory
        # (measured: operating_matrix 300k with 8 extra worlds on one thread peaked at 1.07 GB
        # against 0.62 GB with one). Freeing it changes no number.
        del model
        gc.collect()


def world_plan(scenario: Scenario) -> list[tuple[str, str | None, Scenario]]:
    """The extra worlds a run of ``scenario`` simulates beside itself, in their fixed order:
    ``("none", None, counterfactual)``, then ``("without", lever, …)`` for leave-one-out and
    ``("alone", lever, …)`` for leave-one-in ablations when asked for."""
    cfg = scenario.incrementality
    levers = active_levers(scenario)
    if not cfg.counterfactual or not levers:
        return []
    plan: list[tuple[str, str | None, Scenario]] = [("none", None, switch_off(scenario, levers))]
    if cfg.contributions != "none" and len(levers) > 1:
        plan += [("without", lever, switch_off(scenario, [lever])) for lever in levers]
        if cfg.contributions == "both":
            plan += [("alone", lever, only(scenario, lever)) for lever in levers]
    return plan


def worlds_needed(scenario: Scenario) -> int:
    """How many extra worlds a run of ``scenario`` simulates beside itself."""
    return len(world_plan(scenario))


class _Cancelled(Exception):
    """Raised inside a background world when the run it belongs to has stopped."""


class WorldsAhead:
    """The extra worlds of one run, simulated on background threads while the factual world
    runs (:func:`start_worlds`).

    Every world is its own model with its own random streams on its own copy of the day-0
    population, so the results are the same bits as running them one after another; only the
    wall time changes (numpy, the random generators and the compiled kernels release the GIL
    for their array work, so two worlds share two cores). ``close`` stops worlds still
    running (their next day raises) when the run fails."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        world: SharedWorld,
        workers: int,
        on_world_day: Callable[[int, int], None] | None = None,
    ) -> None:
        import threading
        from concurrent.futures import ThreadPoolExecutor

        self.plan = world_plan(scenario)
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="world")
        self._futures = [
            self._pool.submit(self._run, sc, seed, world, w, on_world_day)
            for w, (_, _, sc) in enumerate(self.plan, start=1)
        ]

    def _run(self, scenario, seed, world, w, on_world_day) -> dict[str, Any]:
        from simulation import kernels

        kernels.set_threads(1)  # the threads are the worlds here; same bits for any count

        def on_day(day: int) -> None:
            if self._stop.is_set():
                raise _Cancelled
            if on_world_day is not None:
                on_world_day(w, day)

        if self._stop.is_set():
            raise _Cancelled
        return run_world(scenario, seed, world, on_day)

    def results(self) -> list[dict[str, Any]]:
        """Every world's summary, in plan order (waits; re-raises a world's error)."""
        try:
            return [f.result() for f in self._futures]
        finally:
            self.close()

    def close(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)


def start_worlds(
    scenario: Scenario,
    seed: int,
    world: SharedWorld | None,
    on_world_day: Callable[[int, int], None] | None = None,
) -> WorldsAhead | None:
    """Start the extra worlds of a run on ``threads() − 1`` background threads (None when
    the run has none, or runs on one thread: then :func:`add_incrementality` simulates them
    after the run, one after another, as before)."""
    from simulation import kernels

    spare = kernels.threads() - 1
    if world is None or spare < 1 or not world_plan(scenario):
        return None
    return WorldsAhead(scenario, seed, world, spare, on_world_day)


def add_incrementality(
    summary: dict[str, Any],
    scenario: Scenario,
    seed: int,
    world: SharedWorld,
    on_world_day: Callable[[int, int], None] | None = None,
    ahead: WorldsAhead | None = None,
    factual_curve: Any = None,
) -> None:
    """Run the counterfactual (and ablations the scenario asks for) on ``world`` — or take
    them from ``ahead``, where they ran beside the run — and add attributed, incremental,
    lifetime and contribution KPIs to the factual run's ``summary`` (``factual_curve``: the
    run's cumulative value − spend by day, :func:`simulation.money.lifetime.net_curve`, for a
    payback inside the horizon)."""
    summary.update(attributed_kpis(summary))
    cfg = scenario.incrementality
    levers = active_levers(scenario)
    if not cfg.counterfactual:
        return
    plan = world_plan(scenario)
    if ahead is not None:
        done = ahead.results()
    else:
        done = []
        for w, (_, _, sc) in enumerate(plan, start=1):
            on_day = None
            if on_world_day is not None:
                on_day = (lambda k: (lambda day: on_world_day(k, day)))(w)
            done.append(run_world(sc, seed, world, on_day))
    by_key = {(kind, lever): res for (kind, lever, _), res in zip(plan, done, strict=True)}
    # nothing to switch off: the run is its own counterfactual
    none = by_key[("none", None)] if levers else summary
    summary.update(incremental_kpis(summary, none))
    summary.update(lifetime_increments(summary, none, scenario, factual_curve))
    summary["counterfactual"] = {
        k: none[k]
        for k in ("acquisitions", "spend", "value_total", "aum", "loan_volume", "gmv",
                  "clv_beyond", "acquisitions_by_source")
    }
    summary["incrementality"] = {"levers_on": list(levers), "note": EXPLANATION}
    if cfg.contributions == "none" or len(levers) < 1:
        return
    if len(levers) == 1:
        without = {levers[0]: none}
        alone = {levers[0]: summary}
    else:
        without = {lever: by_key[("without", lever)] for lever in levers}
        alone = None
        if cfg.contributions == "both":
            alone = {lever: by_key[("alone", lever)] for lever in levers}
    base = {}
    if alone is not None and "contact_policy" in alone and "channels" in alone:
        base["contact_policy"] = alone["channels"]
    table = contributions(summary, none, without, alone, base)
    summary["contributions"] = table
    for lever, row in table["levers"].items():
        for key, value in row.items():
            summary[f"{key}__{lever}"] = value
    for key, value in table["interaction"].items():
        summary[f"interaction_{key}"] = value
