"""The shared lever harness: the checks every declared lever must pass.

:class:`LeverContract` holds the checks; a lever's test subclasses it, naming the lever and
giving one example scenario in which the lever is on (tests/test_lever_contract.py does so for
every preset-backed lever, tests/test_push.py for the push lever). The checks:

- declared once: its section is a field of the assembled Scenario, its ledger categories have
  colours, its state names are unique;
- off by default: the section's default leaves the module disabled; switching the lever off
  in the example is the same run as the example without the section (same seed), or — for a
  lever whose sections other sections refer to (channels) — books no spend and converts no one;
- same seed ⇒ identical run;
- costs never exceed the lever's budget;
- every customer is counted once (one source per acquisition, one stage per customer), and its
  declared state is allocated as declared and read-only to other modules;
- unknown segment and channel names in its section are caught at load, with the field path;
- it can be swept by the runner and is shown by the dashboard.
"""

from __future__ import annotations

import copy
import json
import types
import typing
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from pydantic import BaseModel
from ruamel.yaml import YAML

from simulation import OperatingMatrixModel, ScenarioError, run, scenario_from_dict
from simulation.dashboard.levers import levers_for
from simulation.plots.style import CATEGORY_COLOURS
from simulation.population.stages import N_STAGES
from simulation.strategies.registry import LEVERS, Scenario, lever

SIZE = 1200
DAYS = 30
SEED = 5


def _spend_of(summary_ledger: Any, categories: set[str]) -> float:
    return float(summary_ledger.loc[summary_ledger["category"].isin(categories), "spend"].sum())


def _name_maps(annotation: Any, data: Any, path: tuple) -> list[tuple[tuple, Any]]:
    """(path, value) of every field under ``data`` whose type maps names to plain values
    (``dict[str, number | list]``, alone or in a union with a number): the fields that refer
    to segments or channels by name. Mappings of models (channel or perk definitions) are
    walked into, not counted."""
    out: list[tuple[tuple, Any]] = []
    if data is None:
        return out
    alts = _alternatives(annotation)
    for alt in alts:
        if isinstance(alt, type) and issubclass(alt, BaseModel) and isinstance(data, dict):
            for name, info in type.__getattribute__(alt, "model_fields").items():
                if name in data:
                    out += _name_maps(info.annotation, data[name], (*path, name))
            return out
    for alt in alts:
        if typing.get_origin(alt) is dict:
            value_type = typing.get_args(alt)[1]
            models = [v for v in _alternatives(value_type)
                      if isinstance(v, type) and issubclass(v, BaseModel)]
            if models and isinstance(data, dict):
                for key, entry in data.items():
                    out += _name_maps(value_type, entry, (*path, key))
                return out
            return [(path, data)]
        if typing.get_origin(alt) is list and isinstance(data, list):
            item = typing.get_args(alt)[0]
            for i, entry in enumerate(data):
                out += _name_maps(item, entry, (*path, i))
            return out
    return out


def _alternatives(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _alternatives(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [a for arg in typing.get_args(annotation) for a in _alternatives(arg)]
    return [annotation]


def _sample(value: Any) -> Any:
    """A value of the same kind as the mapping's values (or the scalar it replaces)."""
    if isinstance(value, dict):
        return next(iter(value.values()), 0.0)
    return value if value is not None else 0.0


class LeverContract:
    """Subclass with ``lever_name`` and ``example()`` (a scenario dict with the lever on)."""

    lever_name: ClassVar[str]

    def example(self) -> dict[str, Any]:
        raise NotImplementedError

    # ------------------------------------------------------------------ helpers
    @property
    def lever(self):
        return lever(self.lever_name)

    def data(self) -> dict[str, Any]:
        data = copy.deepcopy(self.example())
        data["days"] = DAYS
        data["population"]["size"] = SIZE
        return data

    def scenario(self, data: dict[str, Any] | None = None):
        return scenario_from_dict(self.data() if data is None else data)

    # ------------------------------------------------------------------ the checks
    def test_declared_once(self) -> None:
        lv = self.lever
        assert sum(x is lv for x in LEVERS) == 1
        for sec in lv.sections:
            assert sec.name in Scenario.model_fields
        for category in lv.categories:
            assert CATEGORY_COLOURS[category] == lv.categories[category]
        names = [s.name for other in LEVERS for s in other.module.states]
        assert len(names) == len(set(names))
        assert lv.module.enabled(self.scenario()), "the example must switch the lever on"

    def test_off_by_default_and_off_means_absent(self) -> None:
        lv = self.lever
        data = self.data()
        if lv.off is None:
            pytest.skip(f"{lv.name} is the population's own dynamics: it has no off")
        sc = self.scenario(data)
        defaults = {sec.name: type(sc).model_fields[sec.name].get_default(
            call_default_factory=True) for sec in lv.sections}
        assert not lv.module.enabled(sc.model_copy(update=defaults)), "default must be off"
        off = self.scenario(lv.switch_off(data))
        result_off = run(off, SEED)
        sources = set(lv.module.sources(off))
        assert sum(result_off.summary["acquisitions_by_source"].get(s, 0) for s in sources) == 0
        assert _spend_of(result_off.ledger, set(lv.categories)) == 0.0
        absent = {k: v for k, v in data.items() if k != lv.section}
        try:
            without = scenario_from_dict(absent)
        except ScenarioError:
            return  # other sections name things in this one (perk appeal → perks): no "absent"
        if not lv.module.enabled(off):
            # Off is the same run as without the lever (its own stream is never drawn from).
            assert run(without, SEED).summary == result_off.summary

    def test_same_seed_same_run(self) -> None:
        sc = self.scenario()
        a, b = run(sc, SEED), run(sc, SEED)
        assert a.summary == b.summary
        assert a.ledger.equals(b.ledger)

    def test_costs_within_budget(self) -> None:
        lv = self.lever
        if lv.budget is None:
            pytest.skip(f"{lv.name} has no budget")
        full = run(self.scenario(), SEED)
        spent = _spend_of(full.ledger, set(lv.categories))
        assert spent > 0, "the example must spend something for the budget check to bite"
        cap = spent / 3
        data = self.data()
        node = data
        for p in lv.budget[:-1]:
            node = node.setdefault(p, {})
        node[lv.budget[-1]] = cap
        capped = run(self.scenario(data), SEED)
        assert _spend_of(capped.ledger, set(lv.categories)) <= cap + 1e-6

    def test_every_customer_counted_once(self) -> None:
        model = OperatingMatrixModel(self.scenario(), SEED)
        model.run()
        pop = model.population
        summary = model.summary()
        by_source = np.bincount(pop.acquired_via[pop.converted_day >= 1],
                                minlength=len(pop.sources))
        assert by_source.sum() == summary["acquisitions"]
        assert ((pop.acquired_via >= 0) == (pop.converted_day >= 1)).all()
        assert model.recorder.stage_counts[model.day].sum() == pop.n
        assert model.recorder.stage_counts.shape[-1] == N_STAGES
        module = model.module(self.lever.module)
        for spec in type(module).states:
            arr = pop.extra[spec.name]
            assert arr.dtype == np.dtype(spec.dtype) and arr.shape == (pop.n,)
            view = model.read_state(spec.name)
            with pytest.raises(ValueError):
                view[:1] = view[:1]  # read-only for everyone but the owner

    def test_unknown_names_caught_at_load(self) -> None:
        """Every field of the section that maps names to values (a per-segment value, caps per
        channel…) refuses a name that is neither a segment nor a channel, with its path."""
        lv = self.lever
        sc = self.scenario()
        dumped = sc.model_dump(mode="json")
        checked = 0
        for sec in lv.sections:
            annotation = type(sc).model_fields[sec.name].annotation
            for path, value in _name_maps(annotation, dumped.get(sec.name), (sec.name,)):
                as_map = value if isinstance(value, dict) else {"default": _sample(value)}
                try:  # the mapping form itself must be valid here (a per-segment response
                    scenario_from_dict(_with(dumped, path, as_map))  # may also need a route)
                except ScenarioError:
                    continue
                bad = _with(dumped, path, {**as_map, "no_such_name": _sample(value)})
                with pytest.raises(ScenarioError, match="no_such_name"):
                    scenario_from_dict(bad)
                checked += 1
        if not checked:
            pytest.skip(f"{lv.name}'s section has no field keyed by segment or channel names")

    def test_sweepable_and_shown(self, tmp_path: Path) -> None:
        from simulation.runner import ResultStore, load_experiment
        from simulation.runner.executors import SerialExecutor
        from simulation.runner.sweep import run_sweep

        lv = self.lever
        sc = self.scenario()
        controls = [c for c in levers_for(sc) if c.path[0] == lv.section]
        if not lv.controls:
            pytest.skip(f"{lv.name} declares no dashboard controls")
        assert controls, f"the dashboard shows no control of {lv.section}"
        dumped = sc.model_dump(mode="json")
        numbers = [(c, _get(dumped, c.path)) for c in controls if c.kind != "Checkbox"]
        numbers = [(c, v) for c, v in numbers
                   if isinstance(v, int | float) and not isinstance(v, bool)
                   and not any(p.isdigit() for p in c.path)]  # runner paths: no list items
        if not numbers:
            pytest.skip(f"{lv.name} has no numeric control to sweep in its example")
        control, value = numbers[0]
        if isinstance(value, int):
            values = [value, value - 1] if value > 1 else [value, value + 1]
        else:
            values = [value, value / 2 or 0.01]
        yaml = YAML(typ="safe", pure=True)
        scen = tmp_path / "example.yaml"
        with scen.open("w", encoding="utf-8") as fh:
            yaml.dump(json.loads(json.dumps(self.data(), default=str)), fh)
        path = ".".join(control.path)
        exp = tmp_path / "sweep.yaml"
        with exp.open("w", encoding="utf-8") as fh:
            yaml.dump({"name": "contract", "scenario": str(scen), "replicates": 1,
                       "sweep": {"sampler": "grid", "parameters": {path: {"values": values}}}},
                      fh)
        store = ResultStore.for_experiment(load_experiment(exp), tmp_path / "results")
        report = run_sweep(store, SerialExecutor())
        assert report.done == 2 and report.failed == 0, report.errors
        assert f"param:{path}" in store.runs_frame().columns


def _with(data: dict, path: tuple, value: Any) -> dict:
    out = copy.deepcopy(data)
    node = out
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return out


def _get(node: Any, path: tuple) -> Any:
    for p in path:
        node = node[int(p)] if isinstance(node, list) else node[p]
    return node
