"""The baseline: the core dynamics of ``benchmarks/scenarios/core_ws.yaml`` written plainly, the
way a Mesa 3.3 user would write them — one ``CellAgent`` per customer with a Python ``step()``,
``model.agents.shuffle_do("step")``, a networkx Watts–Strogatz graph as a
``mesa.discrete_space.Network``, and a ``DataCollector``.

Each day a prospect is reached by the paid channel with the scenario's ``daily_reach``; the
contact lands at a send hour drawn from the channel's send hours and responds fully inside the
customer's contact window, ``out_of_window_response`` times as well outside it, and
``exp(−response_drop × fatigue)`` times as well when tired (fatigue +``per_contact`` per contact,
halving every ``half_life_days``); a response converts with ``conversion_on_contact``.
Otherwise the prospect looks at its ties and adopts with ``imitation`` × share of ties who are
customers (word of mouth). A customer churns with ``churn_hazard`` a day, from the day after
it converted. The channel in core_ws is a "custom" channel (no opt-out), so opting out is not
modelled here either. Parameters are read from the same scenario YAML as opmatrix's, so the two
models run the same inputs (``tests/test_baseline_agreement.py`` checks they agree).

Run: ``python benchmarks/baseline_mesa.py --size 10000 --days 365 --seed 1``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import mesa
import networkx as nx
from mesa.discrete_space import CellAgent, Network

from simulation.scenario.load import load_scenario
from simulation.scenario.types import hours_mask
from simulation.strategies.registry import Scenario

CORE_SCENARIO = Path(__file__).resolve().parent / "scenarios" / "core_ws.yaml"

PROSPECT, CUSTOMER, CHURNED = 0, 1, 2


@dataclass(frozen=True)
class CoreParams:
    """The numbers the baseline needs, taken from an opmatrix scenario."""

    size: int
    days: int
    k: int
    rewire: float
    reach: float
    cost_per_contact: float
    conversion: float
    imitation: float
    churn: float
    initial_customers: float
    window_hours: frozenset[int]
    send_hours: tuple[int, ...]
    out_of_window: float
    fatigue_per_contact: float
    fatigue_decay: float
    response_drop: float

    @classmethod
    def from_scenario(cls, sc: Scenario) -> CoreParams:
        (seg,) = sc.population.segments.values()
        (channel_name, channel), = sc.channels.items()
        policy = sc.contact_policy
        send = ["0-24"] if policy is None else policy.send_hours.get(
            channel_name, policy.send_hours.get("default", ["8-22"])
        )
        window = hours_mask(seg.availability)
        sent = hours_mask(send)
        fatigue = policy.fatigue if policy is not None else None
        return cls(
            size=sc.population.size,
            days=sc.days,
            k=sc.graph.k,
            rewire=sc.graph.p,
            reach=float(channel.daily_reach),
            cost_per_contact=channel.cost_per_contact,
            conversion=float(channel.conversion_on_contact),
            imitation=sc.word_of_mouth.imitation,
            churn=seg.churn_hazard,
            initial_customers=seg.initial.converted,
            window_hours=frozenset(h for h in range(24) if window >> h & 1),
            send_hours=tuple(h for h in range(24) if sent >> h & 1),
            out_of_window=1.0 if policy is None else policy.out_of_window_response,
            fatigue_per_contact=0.0 if fatigue is None else fatigue.per_contact,
            fatigue_decay=1.0 if fatigue is None else 0.5 ** (1.0 / fatigue.half_life_days),
            response_drop=0.0 if fatigue is None else fatigue.response_drop,
        )


class Customer(CellAgent):
    """One customer: a prospect until converted (by the channel or its ties), then churns."""

    def __init__(self, model: CoreModel, state: int) -> None:
        super().__init__(model)
        self.state = state
        self.converted_day = 0 if state == CUSTOMER else -1
        self.via = "stock" if state == CUSTOMER else None
        self.fatigue = 0.0

    def step(self) -> None:
        model = self.model
        par = model.params
        self.fatigue *= par.fatigue_decay
        if self.state == CUSTOMER:
            if self.converted_day < model.day and self.random.random() < par.churn:
                self.state = CHURNED
            return
        if self.state == CHURNED:
            return
        if self.random.random() < par.reach:
            model.spend += par.cost_per_contact
            hour = self.random.choice(par.send_hours)
            response = 1.0 if hour in par.window_hours else par.out_of_window
            response *= math.exp(-par.response_drop * self.fatigue)
            self.fatigue += par.fatigue_per_contact
            if self.random.random() < par.conversion * response:
                self.convert("paid")
                return
        ties = list(self.cell.neighborhood.agents)
        if ties:
            customers = sum(1 for other in ties if other.state == CUSTOMER)
            if customers and self.random.random() < par.imitation * customers / len(ties):
                self.convert("word_of_mouth")

    def convert(self, via: str) -> None:
        self.state = CUSTOMER
        self.converted_day = self.model.day
        self.via = via


class CoreModel(mesa.Model):
    """Paid reach, word of mouth over a Watts–Strogatz graph, churn: one agent per customer."""

    def __init__(self, params: CoreParams, seed: int = 0) -> None:
        super().__init__(rng=seed)
        self.params = params
        self.day = 0
        self.spend = 0.0
        graph = nx.watts_strogatz_graph(params.size, params.k, params.rewire, seed=seed)
        self.grid = Network(graph, capacity=1, random=self.random)
        for cell in self.grid.all_cells:
            stock = self.random.random() < params.initial_customers
            agent = Customer(self, CUSTOMER if stock else PROSPECT)
            agent.cell = cell
        self.prospects_at_start = sum(1 for a in self.agents if a.state == PROSPECT)
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "customers": lambda m: sum(1 for a in m.agents if a.state == CUSTOMER),
                "acquisitions": lambda m: sum(1 for a in m.agents if a.converted_day >= 1),
                "spend": "spend",
            }
        )
        self.datacollector.collect(self)

    def step(self) -> None:
        self.day += 1
        self.agents.shuffle_do("step")
        self.datacollector.collect(self)

    def summary(self) -> dict[str, float | int]:
        acquired = [a for a in self.agents if a.converted_day >= 1]
        by_source: dict[str, int] = {}
        for a in acquired:
            by_source[a.via] = by_source.get(a.via, 0) + 1
        return {
            "acquisitions": len(acquired),
            "conversion_rate": len(acquired) / max(self.prospects_at_start, 1),
            "churned": sum(1 for a in self.agents if a.state == CHURNED),
            "spend": self.spend,
            "acquisitions_by_source": by_source,
        }


def run_baseline(params: CoreParams, seed: int) -> dict[str, float | int]:
    model = CoreModel(params, seed)
    for _ in range(params.days):
        model.step()
    return model.summary()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=CORE_SCENARIO)
    parser.add_argument("--size", type=int, default=None)
    parser.add_argument("--days", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    overrides = []
    if args.size is not None:
        overrides.append(f"population.size={args.size}")
    if args.days is not None:
        overrides.append(f"days={args.days}")
    params = CoreParams.from_scenario(load_scenario(args.scenario, overrides))
    start = time.perf_counter()
    summary = run_baseline(params, args.seed)
    wall = time.perf_counter() - start
    summary["wall_seconds"] = wall
    summary["agent_days_per_second"] = params.size * params.days / wall
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
