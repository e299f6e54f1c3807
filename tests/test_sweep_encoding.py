"""A sweep's workers encode each run's files (Parquet bytes, JSON record, checksums) and the
sweep process only writes them: the stored run must be the one the parent would have written.
And a worker never builds the tables a sweep does not store (the ledger table)."""

from __future__ import annotations

import dataclasses
import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import simulation.result as result_mod
from simulation.runner import ResultStore, expand, load_experiment
from simulation.runner.experiment import Experiment
from simulation.runner.specs import RunSpec
from simulation.runner.store import encode_run
from simulation.runner.worker import RunOutcome, execute, execute_batch

REPO = Path(__file__).resolve().parents[1]

# set by the clock, not by the run
VOLATILE = ("finished_at", "seconds", "integrity")


def _spec(tmp_path: Path) -> tuple[Experiment, RunSpec]:
    path = tmp_path / "exp.yaml"
    path.write_text(f"scenario: {REPO / 'scenarios' / 'quickstart.yaml'}\n" + textwrap.dedent("""
        name: encoded
        days: 30
        overrides: {population.size: 2000}
        replicates: 1
        seed: 3
        variants: {baseline: {}}
        """))
    exp = load_experiment(path)
    return exp, expand(exp)[0]


def _record(store: ResultStore, run_id: str) -> dict:
    rec, problem = store.load(run_id)
    assert problem is None and rec is not None
    return {k: v for k, v in rec.items() if k not in VOLATILE}


def test_worker_encoded_run_is_stored_as_the_parent_would_store_it(tmp_path: Path) -> None:
    exp, spec = _spec(tmp_path)
    plain = execute(spec)
    (encoded,) = execute_batch([spec], encode=True)
    assert plain.status == encoded.status == "done"
    assert encoded.daily is None and encoded.encoded is not None  # one copy of the table
    parent = ResultStore.for_experiment(exp, tmp_path / "parent")
    worker = ResultStore.for_experiment(exp, tmp_path / "worker")
    for store, outcome in ((parent, plain), (worker, encoded)):
        store.open()
        store.write(spec, outcome)
    a, b = parent.parquet_path(spec.run_id), worker.parquet_path(spec.run_id)
    assert a.read_bytes() == b.read_bytes()
    assert _record(parent, spec.run_id) == _record(worker, spec.run_id)
    assert _record(worker, spec.run_id)["table"]["size"] == b.stat().st_size
    assert not list(worker.runs_dir.glob(".*"))  # nothing half-written left behind


def test_a_failed_outcome_encodes_without_a_table(tmp_path: Path) -> None:
    exp, spec = _spec(tmp_path)
    failed = RunOutcome(spec.run_id, "failed", error="ValueError: boom")
    enc = encode_run(spec, failed)
    assert enc.table is None and json.loads(enc.record)["status"] == "failed"
    store = ResultStore.for_experiment(exp, tmp_path / "r")
    store.open()
    store.write_encoded(enc)
    assert store.status([spec.run_id]) == {spec.run_id: "failed"}
    assert not store.parquet_path(spec.run_id).exists()
    other = RunOutcome("another-run", "failed", error="x")
    other.encoded = encode_run(dataclasses.replace(spec, run_id="another-run"), other)
    with pytest.raises(ValueError, match="stored as"):
        store.write(spec, other)


def test_a_sweep_worker_never_builds_the_ledger_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from simulation.api import run_model
    from simulation.incremental import worlds_needed
    from simulation.model import OperatingMatrixModel

    _, spec = _spec(tmp_path)
    calls: list[int] = []
    real = result_mod._ledger_frame
    monkeypatch.setattr(result_mod, "_ledger_frame", lambda *a: calls.append(1) or real(*a))
    (outcome,) = execute_batch([spec], encode=True)
    assert outcome.status == "done" and calls == []
    scenario = spec.scenario
    assert scenario is not None
    model = OperatingMatrixModel(
        scenario, spec.seed, share_world=worlds_needed(scenario) > 0
    )
    result = run_model(model, scenario, spec.seed)
    assert calls == []
    ledger = result.ledger  # built on the first read, once, the same table as before
    assert result.ledger is ledger and calls == [1]
    pd.testing.assert_frame_equal(ledger, result_mod.ledger_table(model), check_exact=True)
    assert len(ledger) > 0 and {"day", "item", "category", "segment", "spend"} <= set(ledger)
