"""Budgets that cannot bind: an upper bound on what the channels can spend, for ``validate``.

Why: a channel budget larger than anything the channel can spend (its daily reach of the
whole population at its prices, every day of the horizon) never limits anything. The run is
still right — CPA and ROI count what was spent, and ``budget_used`` shows the unspent share —
but a user reading "budget ¥100,000" next to a CPA thinks the budget bought those
acquisitions, and a sweep or an optimisation over such a budget moves nothing. quickstart's
Douyin budget (¥100,000; at most ≈ ¥2,200 can be spent by 20,000 customers in 365 days) is
the case. ``opmatrix validate`` warns (a warning, not an error: the scenario is valid).

The bound, per channel and day (an upper bound on the expected spend, so a warning is never
wrong): every customer of every segment counted as a target, reached with the segment's
probability min(1, ``daily_reach`` × the segment's ``channel_affinity`` × (1 − throttling)),
at most the channel's daily contact limit, each paying ``cost_per_impression`` (× the
frequency cap for an evenly paced impression budget) and ``cost_per_contact``, plus the fixed
and staff costs; the mix budget (``flows.budget``) adds every route's step costs for every
contact of the channels feeding it. A channel other channels hand customers to, or with
``traffic_match``, has no such bound (its audience depends on the others): budgets that
depend on one are not checked. Other budgets (perks, referral, lifecycle operations, push) are
not checked either.
"""

from __future__ import annotations

from typing import Any

from simulation.scenario.types import DAYS_PER_MONTH, resolve_per_segment

#: Expected spend within this share of a budget counts as able to bind (sampling noise).
MARGIN = 0.95


def _customers(scenario: Any) -> dict[str, float] | None:
    """Customers represented per segment (size × scale × share); None for a customer table,
    whose segment mix is the file's."""
    pop = scenario.population
    if pop.source is not None:
        return None
    return {name: pop.size * pop.scale * seg.share for name, seg in pop.segments.items()}


def _pool(scenario: Any, name: str, cfg: Any, people: dict[str, float]) -> float:
    """Most customers the channel can reach a day (expected), before its contact limit."""
    segments = list(people)
    reach = resolve_per_segment(cfg.daily_reach, segments)
    pool = 0.0
    for s, r in zip(segments, reach, strict=True):
        affinity = scenario.population.segments[s].channel_affinity.get(name, 1.0)
        pool += people[s] * min(1.0, r * affinity * (1.0 - cfg.throttle))
    return pool


def _contacts_per_day(scenario: Any, name: str, cfg: Any, people: dict[str, float]) -> float:
    """Most customers the channel can contact a day: its pool, within its contact limit."""
    pool = _pool(scenario, name, cfg, people)
    limit = cfg.daily_limit
    return pool if limit is None else min(pool, float(limit))


def channel_spend_bound(scenario: Any, name: str) -> float | None:
    """Most the channel ``name`` can spend over the horizon (yuan), or None when unbounded
    here (customers handed over by other channels, matched traffic, a customer table)."""
    people = _customers(scenario)
    cfg = scenario.channels[name]
    fed = any(name in other.hand_over for other in scenario.channels.values())
    if people is None or fed or cfg.traffic_match > 0:
        return None
    contacts = _contacts_per_day(scenario, name, cfg, people)
    per_day = contacts * cfg.cost_per_contact
    if cfg.pacing == "even" and cfg.cost_per_impression > 0:
        # an evenly paced budget buys impressions up to the frequency cap on the whole pool
        per_day += (_pool(scenario, name, cfg, people) * cfg.cost_per_impression
                    * cfg.max_frequency_per_day)
    else:
        per_day += contacts * cfg.cost_per_impression
    staff = 0.0 if cfg.staff is None else cfg.staff.cost
    per_day += cfg.fixed_per_month / DAYS_PER_MONTH + staff
    return per_day * scenario.days


def mix_spend_bound(scenario: Any) -> float | None:
    """Most the whole channel mix (every channel and route item) can spend, or None."""
    people = _customers(scenario)
    if people is None:
        return None
    total = 0.0
    for name, cfg in scenario.channels.items():
        bound = channel_spend_bound(scenario, name)
        if bound is None:
            return None
        total += bound
        if cfg.route is not None and cfg.route in scenario.flows.routes:
            steps = scenario.flows.routes[cfg.route].steps
            per_entry = sum(s.cost_per_entry + s.cost_per_pass for s in steps)
            total += _contacts_per_day(scenario, name, cfg, people) * per_entry * scenario.days
    return total


def idle_budget_warnings(scenario: Any) -> list[tuple[str, float, str]]:
    """(field path, budget, message) for each declared channel or mix budget that cannot
    bind: the most the channels can spend is below :data:`MARGIN` of it."""
    out: list[tuple[str, float, str]] = []
    days = scenario.days
    advice = ("CPA and ROI count only what is spent (budget_used shows the rest); lower the "
              "budget, or raise the reach or the population it is meant for")
    for name, cfg in scenario.channels.items():
        if cfg.budget is None or cfg.budget <= 0:
            continue
        bound = channel_spend_bound(scenario, name)
        if bound is not None and bound < MARGIN * cfg.budget:
            out.append((f"channels.{name}.budget", float(cfg.budget),
                        f"¥{cfg.budget:,.0f} cannot bind: the channel can spend at most "
                        f"¥{bound:,.0f} in {days} days (reaching every customer it can at its "
                        f"prices, fixed costs included), so at least "
                        f"{1 - bound / cfg.budget:.0%} of it stays unspent; {advice}"))
    budget = scenario.flows.budget
    if budget is not None and budget > 0:
        bound = mix_spend_bound(scenario)
        if bound is not None and bound < MARGIN * budget:
            out.append(("flows.budget", float(budget),
                        f"¥{budget:,.0f} cannot bind: every channel and route together can "
                        f"spend at most ¥{bound:,.0f} in {days} days, so at least "
                        f"{1 - bound / budget:.0%} of it stays unspent; {advice}"))
    return out
