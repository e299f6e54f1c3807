"""Budgets that cannot bind: an upper bound on what a lever can spend, for ``validate``/``run``.

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
depend on one are not checked.

The other levers' budgets, bounded the same way (every customer counted as a target, at the
highest probability the scenario allows, expected counts):

- ``perks.budget``: every perk shown to ``offer_rate`` of everyone on its weekdays, claimed with
  ``claim_rate`` × the segment's appeal × 1.5 (the most ``0.5 + price_sensitivity`` can be) ×
  the urgency multiplier, within the daily stock, redeemed at the perk's redemption rate, each
  redemption paying ``unit_cost``;
- ``push.budget``: ``daily_send_rate`` of everyone sent a push a day, never more than
  ``per_week`` a customer in a calendar week, at ``cost_per_push``;
- ``lifecycle_operations.operations.<name>.budget``: the operation's ``reach`` of everyone a
  day (only within ``after_payday`` of the segment's payday when set), each contact paying
  ``cost_per_contact`` and ``reward_on_success`` × the segment's ``success``.

- ``flows.routes.<name>.budget``: every contact of every channel whose ``route`` it is counted
  as a responder entering the first step (responders are a part of the contacts); each step's
  entries are the previous step's passes at its highest ``pass_rate`` (× the landing path's
  completion), within its ``daily_capacity``, each paying ``cost_per_entry`` and each pass
  ``cost_per_pass``. A route no channel hands responders to can spend nothing.

The referral lever has no budget (it pays its reward schedule for every successful referral,
capped per referrer), so there is nothing to check.
"""

from __future__ import annotations

import math
from typing import Any

from simulation.i18n import tr
from simulation.scenario.types import DAYS_PER_MONTH, WEEKDAYS, resolve_per_segment

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


def route_spend_bound(scenario: Any, name: str) -> float | None:
    """Most the route ``name`` can spend over the horizon (yuan), or None when a channel that
    feeds it has no bound (handed-over customers, matched traffic, a customer table)."""
    people = _customers(scenario)
    if people is None:
        return None
    entering = 0.0  # customers a day who can enter the first step: the feeders' contacts
    for channel, cfg in scenario.channels.items():
        if cfg.route != name:
            continue
        if channel_spend_bound(scenario, channel) is None:
            return None
        entering += _contacts_per_day(scenario, channel, cfg, people)
    per_day = 0.0
    for step in scenario.flows.routes[name].steps:
        if step.daily_capacity is not None:  # a capacity in customers a day
            entering = min(entering, float(step.daily_capacity))
        passing = entering * min(1.0, max(resolve_per_segment(step.pass_rate, list(people)))
                                 * step.path_completion)
        per_day += entering * step.cost_per_entry + passing * step.cost_per_pass
        if step.kind == "apply":  # those who apply convert: no one walks on
            break
        entering = passing
    return per_day * scenario.days


def _days_on(scenario: Any, weekdays: list[str] | None) -> int:
    """Days of the horizon (1 … days) that fall on one of ``weekdays`` (None: every day);
    day d is weekday (start_weekday + d − 1) mod 7, as the model counts."""
    days = scenario.days
    if weekdays is None:
        return days
    first = WEEKDAYS.index(scenario.start_weekday)
    wanted = {WEEKDAYS.index(w) for w in weekdays}
    return sum(1 for d in range(1, days + 1) if (first + d - 1) % 7 in wanted)


def perks_spend_bound(scenario: Any) -> float | None:
    """Most the perks catalogue can spend over the horizon (yuan), or None (customer table).

    Claims and redemptions are random, so the expected spend is not a maximum: a stock-bound
    perk's redemptions scatter around it and exceed it on about half the seeds (ccb_credit_card
    at 20,000 × 365 spent ¥27,210 against an expected ¥26,822). Each perk's expected
    redemptions R get four standard deviations of a Poisson count on top (R + 4√R; Poisson's
    spread is at least the binomial one of a stock-bound perk), so a run spends more than this
    with a probability below one in ten thousand per perk."""
    people = _customers(scenario)
    perks = getattr(scenario, "perks", None)
    if people is None or perks is None:
        return None
    total = 0.0
    for name, perk in perks.catalogue.items():
        if perk.offer_rate <= 0 or perk.cost <= 0:
            continue
        urgency = perk.urgency_multiplier if perk.daily_stock is not None else 1.0
        claims = 0.0
        for s, n in people.items():
            appeal = scenario.population.segments[s].perk_appeal.get(name, 0.0)
            claims += n * perk.offer_rate * min(1.0, perk.claim_rate * appeal * 1.5 * urgency)
        if perk.daily_stock is not None:  # the stock counts simulated customers' claims
            claims = min(claims, perk.daily_stock * scenario.population.scale)
        redeemed = claims * perk.redemption * _days_on(scenario, perk.weekdays)
        total += (redeemed + 4.0 * math.sqrt(redeemed)) * perk.cost
    return total


def push_spend_bound(scenario: Any) -> float | None:
    """Most the app pushes can spend over the horizon (yuan), or None (customer table)."""
    people = _customers(scenario)
    push = getattr(scenario, "push", None)
    if people is None or push is None:
        return None
    rates = resolve_per_segment(push.daily_send_rate, list(people))
    sends = sum(n * r for n, r in zip(people.values(), rates, strict=True)) * scenario.days
    first = WEEKDAYS.index(scenario.start_weekday)
    weeks = (first + scenario.days - 1) // 7 + 1  # calendar weeks the horizon touches
    sends = min(sends, sum(people.values()) * push.per_week * weeks)
    return sends * push.cost_per_push


def operation_spend_bound(scenario: Any, name: str) -> float | None:
    """Most the lifecycle operation ``name`` can spend over the horizon (yuan), or None."""
    from simulation.money.layer import days_since_payday

    people = _customers(scenario)
    if people is None:
        return None
    op = scenario.lifecycle_operations.operations[name]
    segments = list(people)
    reach = resolve_per_segment(op.reach, segments)
    success = resolve_per_segment(op.success, segments)
    money = getattr(scenario, "money", None)
    total = 0.0
    for s, n, r, p in zip(segments, people.values(), reach, success, strict=True):
        days = scenario.days
        if op.after_payday is not None:  # only within the window after the segment's payday
            book = None if money is None else money.segments.get(s)
            payroll = None if book is None else book.payroll
            days = 0 if payroll is None else sum(
                1 for d in range(1, scenario.days + 1)
                if days_since_payday(d, payroll.payday) <= op.after_payday
            )
        total += n * r * (op.cost_per_contact + op.reward_on_success * p) * days
    return total


def _unspent(bound: float, budget: float) -> str:
    """'at least 62%' of the budget stays unspent ('all of it' at a bound of 0; never a
    rounded-up '100%' while something can be spent), in the interface language."""
    if bound <= 0:
        return tr("all of it")
    share = 1 - bound / budget
    if share >= 0.995:  # rounded down: 99.995 % unspent is "more than 99.9%", never "100.0%"
        return tr("more than {share}%", share=f"{math.floor(share * 1000) / 10:.1f}")
    return tr("at least {share}%", share=f"{math.floor(share * 100):.0f}")


def idle_budget_warnings(scenario: Any) -> list[tuple[str, float, str]]:
    """(field path, budget, message) for each declared budget (a channel's, the mix's, the
    perks', the pushes', a lifecycle operation's) that cannot bind: the most it can pay for is
    below :data:`MARGIN` of it. The message is in the interface language (``--lang zh``:
    :mod:`simulation.i18n`; field names, KPI columns and names from the file stay as written)."""
    out: list[tuple[str, float, str]] = []
    days = scenario.days
    advice = tr("CPA and ROI count only what is spent (budget_used shows the rest); lower the "
                "budget, or raise the reach or the population it is meant for")
    for name, cfg in scenario.channels.items():
        if cfg.budget is None or cfg.budget <= 0:
            continue
        bound = channel_spend_bound(scenario, name)
        if bound is not None and bound < MARGIN * cfg.budget:
            out.append((f"channels.{name}.budget", float(cfg.budget), tr(
                "¥{budget} cannot bind: the channel can spend at most ¥{bound} in {days} days "
                "(reaching every customer it can at its prices, fixed costs included), so "
                "{unspent} of it stays unspent; {advice}", budget=f"{cfg.budget:,.0f}",
                bound=f"{bound:,.0f}", days=days, unspent=_unspent(bound, cfg.budget),
                advice=advice)))
    budget = scenario.flows.budget
    if budget is not None and budget > 0:
        bound = mix_spend_bound(scenario)
        if bound is not None and bound < MARGIN * budget:
            out.append(("flows.budget", float(budget), tr(
                "¥{budget} cannot bind: every channel and route together can spend at most "
                "¥{bound} in {days} days, so {unspent} of it stays unspent; {advice}",
                budget=f"{budget:,.0f}", bound=f"{bound:,.0f}", days=days,
                unspent=_unspent(bound, budget), advice=advice)))
    for name, route in scenario.flows.routes.items():
        if route.budget is None or route.budget <= 0:
            continue
        bound = route_spend_bound(scenario, name)
        if bound is not None and bound < MARGIN * route.budget:
            fed = [c for c, cfg in scenario.channels.items() if cfg.route == name]
            if not fed:
                out.append((f"flows.routes.{name}.budget", float(route.budget), tr(
                    "¥{budget} cannot bind: no channel hands responders to this route (no "
                    "channel's route is '{name}'), so all of it stays unspent; set a channel's "
                    "route and respond_on_contact, or remove the budget",
                    budget=f"{route.budget:,.0f}", name=name)))
                continue
            out.append((f"flows.routes.{name}.budget", float(route.budget), tr(
                "¥{budget} cannot bind: the route can spend at most ¥{bound} in {days} days "
                "(every contact of {fed} entering it and passing each step at its highest pass "
                "rate, within the steps' capacities), so {unspent} of it stays unspent; "
                "{advice}", budget=f"{route.budget:,.0f}", bound=f"{bound:,.0f}", days=days,
                fed=", ".join(fed), unspent=_unspent(bound, route.budget), advice=advice)))
    out += _lever_budget_warnings(scenario)
    return out


def _lever_budget_warnings(scenario: Any) -> list[tuple[str, float, str]]:
    """The perks', the pushes' and the lifecycle operations' budgets that cannot bind."""
    days = scenario.days
    # (field path, budget, bound, what the bound says: a phrase of i18n.ZH, its values)
    checks: list[tuple[str, float | None, float | None, str, dict[str, object]]] = []
    perks = getattr(scenario, "perks", None)
    if perks is not None and perks.catalogue:
        checks.append(("perks.budget", perks.budget, perks_spend_bound(scenario),
                       "the perks can pay for at most ¥{bound} in {days} days (every customer "
                       "shown every perk at its offer rate, claiming at the most their "
                       "segment's appeal allows, within the daily stock)", {}))
    push = getattr(scenario, "push", None)
    if push is not None and any(resolve_per_segment(push.daily_send_rate,
                                                    scenario.segment_names)):
        checks.append(("push.budget", push.budget, push_spend_bound(scenario),
                       "the pushes can cost at most ¥{bound} in {days} days (every customer "
                       "sent pushes at the send rate, within {per_week} a week, at ¥{price} a "
                       "push)", {"per_week": push.per_week, "price": f"{push.cost_per_push:g}"}))
    ops = getattr(scenario, "lifecycle_operations", None)
    for name, op in ({} if ops is None else ops.operations).items():
        checks.append((f"lifecycle_operations.operations.{name}.budget", op.budget,
                       operation_spend_bound(scenario, name), "the operation can spend at "
                       "most ¥{bound} in {days} days (every customer reached at its reach, "
                       "each contact paying its cost and the reward of its success rate)", {}))
    out: list[tuple[str, float, str]] = []
    for path, budget, bound, what, values in checks:
        if budget is None or budget <= 0 or bound is None or bound >= MARGIN * budget:
            continue
        out.append((path, float(budget), tr(
            "¥{budget} cannot bind: {reason}, so {unspent} of it stays unspent; CPA and ROI "
            "count only what is spent, and no KPI reports this budget's unspent part; lower "
            "the budget, or raise the rates it pays for", budget=f"{budget:,.0f}",
            reason=tr(what, bound=f"{bound:,.0f}", days=days, **values),
            unspent=_unspent(bound, budget))))
    return out
