"""Every keyed draw uses its (decision label, day) for one purpose (review, issue 14 / CRN).

Why: :class:`~simulation.rng.SlotDraws` gives the same number to the same (label, day, slot),
so two draws that share a label on one day are one draw. Two decisions that reuse a label, or
one decision that draws a label twice for the same customer on one day, are correlated by
accident (a customer who failed one fails the other), which no distribution test sees. This
runs the presets that switch on most levers, records every keyed draw per world (the
counterfactual world draws the same labels on purpose) and checks:

- a label a Bernoulli draw used (it implicitly draws every slot) is used by nothing else that
  day;
- a label's uniforms are drawn at most once per customer slot a day, over all its call sites
  (a key taken raw, ``SlotDraws.key``, for a kernel that evaluates the uniforms itself — the
  ring of each day's new customers in ``model.convert``, a tie generator — is recorded but its
  slots are not visible here: it is only kept apart from the Bernoulli labels);
- no two distinct labels of one module share a key (the label's crc32).

New labels (the modules converted to keyed draws) are checked as they come.
"""

from __future__ import annotations

import collections
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest

from simulation import OperatingMatrixModel, load_scenario
from simulation.rng import SlotDraws

REPO = Path(__file__).resolve().parents[1]
PRESETS = ("operating_matrix", "payroll")


@pytest.fixture
def recorded(monkeypatch):
    """(world id, module, label, day) → list of (kind, slots) of every keyed draw."""
    calls: dict[tuple, list] = collections.defaultdict(list)
    inside = threading.local()
    key, uniform, bernoulli = SlotDraws.key, SlotDraws.uniform, SlotDraws.bernoulli

    def rec_key(self, decision, day):
        if not getattr(inside, "on", False):
            calls[(id(self), self.module, decision, int(day))].append(("key", None))
        return key(self, decision, day)

    def wrap(fn, kind):
        def call(self, decision, day, *args):
            inside.on = True
            try:
                out = fn(self, decision, day, *args)
            finally:
                inside.on = False
            slots = np.asarray(args[0]) if kind == "uniform" else None
            calls[(id(self), self.module, decision, int(day))].append((kind, slots))
            return out
        return call

    monkeypatch.setattr(SlotDraws, "key", rec_key)
    monkeypatch.setattr(SlotDraws, "uniform", wrap(uniform, "uniform"))
    monkeypatch.setattr(SlotDraws, "bernoulli", wrap(bernoulli, "bernoulli"))
    return calls


@pytest.mark.parametrize("preset", PRESETS)
def test_each_keyed_label_serves_one_draw_a_day(recorded, preset) -> None:
    sc = load_scenario(REPO / "scenarios" / f"{preset}.yaml",
                       ["population.size=1000", "days=20"])
    OperatingMatrixModel(sc, seed=2).run()
    assert recorded, "no keyed draw was made"
    labels: dict[tuple, set] = collections.defaultdict(set)
    for (world, module, label, day), uses in recorded.items():
        labels[(world, module)].add(label)
        kinds = [kind for kind, _ in uses]
        if "bernoulli" in kinds:
            assert len(uses) == 1, (module, label, day, kinds)
            continue
        drawn = [s for kind, s in uses if kind == "uniform"]
        if not drawn:
            continue
        slots = np.concatenate(drawn)
        repeated = slots.size - np.unique(slots).size
        assert repeated == 0, f"{module}:{label} day {day}: {repeated} slots drawn twice"
    for (_, module), names in labels.items():
        crcs = collections.Counter(zlib.crc32(n.encode("utf-8")) for n in names)
        assert max(crcs.values()) == 1, (module, sorted(names))
