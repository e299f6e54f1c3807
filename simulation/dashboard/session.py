"""``TrainingSession``: the Mesa model the dashboard drives — strategy A, and optionally a
strategy B that differs in one lever, stepped together on the same seed.

Same seed means common random numbers (every module draws from its own named stream), so a gap
between A and B is the lever's effect, not luck — the point a trainer wants to show.
"""

from __future__ import annotations

from typing import Any

import mesa
import networkx as nx
import numpy as np

from simulation.accounting import retention_curve
from simulation.dashboard.levers import COMPARE_OFF, apply_levers, compare_values, levers_for
from simulation.errors import ScenarioError
from simulation.incremental import (
    active_levers,
    attributed_kpis,
    incremental_kpis,
    switch_off,
    world_summary,
)
from simulation.model import OperatingMatrixModel
from simulation.plots.run_plots import sample_network
from simulation.scenario.load import scenario_from_dict
from simulation.strategies.registry import Scenario

NETWORK_SAMPLE = 300


class TrainingSession(mesa.Model):
    """One dashboard session. ``kwargs`` are the sidebar levers (``Lever.key`` → value).

    Keyword-only parameters, because Mesa's SolaraViz re-creates the model on Reset as
    ``TrainingSession(**model_params)``.
    """

    def __init__(
        self,
        base: Scenario | None = None,
        seed: int = 0,
        compare: str = COMPARE_OFF,
        compare_factor: float = 2.0,
        **kwargs: Any,
    ) -> None:
        # Mesa's SolaraViz only accepts extra parameters through a ``**kwargs`` named exactly so.
        lever_values = kwargs
        super().__init__(rng=int(seed))
        if base is None:
            raise ValueError("TrainingSession needs the base scenario (base=...)")
        self.base = base
        self.seed = int(seed)
        self.levers = levers_for(base)
        self.lever_values = dict(lever_values)
        self.messages: list[str] = []
        self.compare_label = "" if compare == COMPARE_OFF else f"{compare} × {compare_factor:g}"
        scenario_a = self._scenario(lever_values, "A")
        self.strategies: dict[str, OperatingMatrixModel] = {
            "A": OperatingMatrixModel(scenario_a, self.seed, share_world=True)
        }
        # The counterfactual (every lever off) on A's customers and seed, stepped alongside:
        # incremental KPIs of A and B are measured against it (simulation/incremental.py).
        a = self.strategies["A"]
        self.counterfactual = OperatingMatrixModel(
            switch_off(scenario_a, active_levers(scenario_a)), self.seed, world=a.world
        )
        if compare != COMPARE_OFF:
            values_b = compare_values(self.levers, lever_values, compare, compare_factor)
            self.strategies["B"] = OperatingMatrixModel(self._scenario(values_b, "B"), self.seed)
        self.network_sample, self.network_layout = self._layout()

    def _scenario(self, values: dict[str, Any], which: str) -> Scenario:
        """The lever values applied to the base scenario; invalid combinations fall back to the
        base scenario and leave a message for the page (never a crash mid-session)."""
        try:
            return scenario_from_dict(
                apply_levers(self.base, self.levers, values), f"strategy {which}"
            )
        except ScenarioError as exc:
            self.messages.append(f"{exc} — strategy {which} runs the scenario as loaded")
            return self.base

    def _layout(self) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        """Positions for a sample of customers, fixed for the session (A and B share them)."""
        a = self.strategies["A"]
        g = sample_network(a, NETWORK_SAMPLE, seed=self.seed)
        pos = nx.spring_layout(g, seed=1, iterations=30)
        return np.array(sorted(g.nodes()), dtype=np.int64), pos

    def changed_levers(self) -> list[tuple[str, Any]]:
        """(label, value) of strategy A's levers set away from the scenario's own values."""
        return [
            (lv.label, self.lever_values[lv.key])
            for lv in self.levers
            if lv.key in self.lever_values and self.lever_values[lv.key] != lv.value
        ]

    @property
    def day(self) -> int:
        return self.strategies["A"].day

    @property
    def horizon(self) -> int:
        return self.strategies["A"].days

    def step(self) -> None:
        """One simulated day for every strategy."""
        for m in self.strategies.values():
            m.step()
        self.counterfactual.step()
        self.running = any(m.running for m in self.strategies.values())

    # --------------------------------------------------------------------- what the page shows

    def kpis(self) -> dict[str, dict[str, Any]]:
        """Headline, money, attributed and incremental KPIs so far, per strategy."""
        none = world_summary(self.counterfactual)
        out = {}
        for k, m in self.strategies.items():
            summary = {**world_summary(m), "day": m.day}
            summary.update(attributed_kpis(summary))
            summary.update(incremental_kpis(summary, none))
            out[k] = summary
        return out

    def series(self, which: str) -> dict[str, np.ndarray]:
        """Daily series so far for one strategy: acquisitions, conversion %, spend, CPA."""
        m = self.strategies[which]
        pop = m.population
        day = m.day
        conv = pop.converted_day
        acquired = np.cumsum(np.bincount(conv[conv >= 1], minlength=day + 1)[: day + 1])
        prospects = max(int(pop.n - (conv == 0).sum()), 1)
        spend = np.cumsum(m.ledger.spend_by_segment_per_day()[: day + 1].sum(axis=1))
        with np.errstate(divide="ignore", invalid="ignore"):
            cpa = np.where(acquired > 0, spend / np.maximum(acquired, 1), np.nan)
        return {
            "day": np.arange(day + 1),
            "acquisitions": acquired,
            "conversion_pct": 100.0 * acquired / prospects,
            "spend": spend,
            "cpa": cpa,
        }

    def retention(self, which: str) -> np.ndarray:
        """Share (%) of customers still not churned by days since conversion."""
        m = self.strategies[which]
        return 100.0 * retention_curve(m.population.converted_day, m.population.churned_day, m.day)

    def stage_counts(self, which: str) -> np.ndarray:
        return self.strategies[which].stage_counts()
