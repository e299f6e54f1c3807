"""Executing experiments: same numbers on every executor, failures recorded, resume after
SIGKILL, SQL over a real store, Sobol indices of a known function through the same machinery."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulation.api import run
from simulation.cli import main
from simulation.runner import ResultStore, expand, load_experiment
from simulation.runner.analysis import paired_differences, sensitivity, variant_summary
from simulation.runner.executors import SerialExecutor, open_executor
from simulation.runner.experiment import KPI_COLUMNS
from simulation.runner.sweep import run_sweep
from simulation.runner.testmodels import ISHIGAMI_S1, ISHIGAMI_ST

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "scenarios" / "quickstart.yaml"
CLI = [sys.executable, "-c", "from simulation.cli import main; main()"]


def write_experiment(folder: Path, body: str, name: str = "exp.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"scenario: {QUICKSTART}\n" + textwrap.dedent(body).lstrip())
    return path


def cli(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the real ``opmatrix`` entry point in this process; (exit code, stdout, stderr)."""
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def two_variant_experiment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 variants × 3 replicates of quickstart at 2,000 customers × 60 days.

    The variant only changes a price, so with common random numbers every customer meets the
    same contacts and makes the same choices: the paired difference in acquisitions is exactly 0.
    """
    return write_experiment(tmp_path_factory.mktemp("exp"), """
        name: ads_off
        days: 60
        overrides: {population.size: 2000}
        replicates: 3
        seed: 11
        variants:
          baseline: {}
          free_douyin: {channels.douyin_ads.cost_per_contact: 0.0}
        """)


@pytest.fixture(scope="module")
def serial_store(
    two_variant_experiment: Path, tmp_path_factory: pytest.TempPathFactory
) -> ResultStore:
    exp = load_experiment(two_variant_experiment)
    store = ResultStore.for_experiment(exp, tmp_path_factory.mktemp("serial"))
    report = run_sweep(store, SerialExecutor())
    assert (report.done, report.failed) == (6, 0)
    return store


def _numbers(store: ResultStore) -> tuple[pd.DataFrame, pd.DataFrame]:
    runs = store.runs_frame().sort_values(["variant", "replicate"]).reset_index(drop=True)
    return runs[["run_id", "variant", "replicate", "seed", *KPI_COLUMNS]], store.daily_frame()


def test_same_numbers_from_every_executor(
    two_variant_experiment: Path, serial_store: ResultStore, tmp_path: Path
) -> None:
    exp = load_experiment(two_variant_experiment)
    ref_runs, ref_daily = _numbers(serial_store)
    assert len(ref_runs) == 6 and ref_daily["day"].max() == 60
    for kind, workers in (("local", 1), ("local", 2), ("dask-local", 2)):
        store = ResultStore.for_experiment(exp, tmp_path / f"{kind}-{workers}")
        with open_executor(kind, workers) as pool:
            # every worker has the simulation imported before its first task (a forked
            # worker from this process; Dask's from the preloaded forkserver)
            loaded = pool.submit(eval, "'simulation.api' in __import__('sys').modules")
            assert loaded.result(), kind
            report = run_sweep(store, pool, workers=workers)
        assert (report.done, report.failed) == (6, 0), kind
        assert report.simulate_cpu_seconds > 0, kind  # the workers' own clocks came back
        runs, daily = _numbers(store)
        pd.testing.assert_frame_equal(runs, ref_runs, check_exact=True)
        pd.testing.assert_frame_equal(daily, ref_daily, check_exact=True)


FORKED_SWEEP = """
import gc, sys
from simulation.runner import ResultStore, load_experiment
from simulation.runner.executors import open_executor
from simulation.runner.sweep import run_sweep
store = ResultStore.for_experiment(load_experiment(sys.argv[1]), sys.argv[2])
with open_executor("local", 2, threads_per_run=1) as pool:
    assert pool._mp_context.get_start_method() == "fork", pool._mp_context
    # the heap was frozen while the workers forked (their first collection skips it) and
    # is collectable here again
    assert pool.submit(gc.get_freeze_count).result() > 10_000
    assert gc.get_freeze_count() == 0
    report = run_sweep(store, pool, workers=2)
assert (report.done, report.failed) == (6, 0), report.errors
"""


def test_a_forked_pool_gives_the_same_numbers(
    two_variant_experiment: Path, serial_store: ResultStore, tmp_path: Path
) -> None:
    """A fresh process forks its workers (simulation/runner/executors.py, start_method): the
    stored numbers are those of the serial executor, bit for bit."""
    done = subprocess.run(
        [sys.executable, "-c", FORKED_SWEEP, str(two_variant_experiment), str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    store = ResultStore.for_experiment(load_experiment(two_variant_experiment), tmp_path)
    runs, daily = _numbers(store)
    ref_runs, ref_daily = _numbers(serial_store)
    pd.testing.assert_frame_equal(runs, ref_runs, check_exact=True)
    pd.testing.assert_frame_equal(daily, ref_daily, check_exact=True)


def test_fork_only_when_nothing_speaks_against_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from simulation.errors import ScenarioError
    from simulation.runner import executors

    stop = threading.Event()
    helper = threading.Thread(target=stop.wait, name="a-helper")
    helper.start()
    try:
        assert "a-helper" in (executors.fork_unsafe(1) or "")
        assert executors.start_method(1) == "forkserver"
    finally:
        stop.set()
        helper.join()
    monkeypatch.setattr(executors.threading, "active_count", lambda: 1)
    assert executors.fork_unsafe(1) is None  # one kernel thread a run: numba's pool is moot
    monkeypatch.setenv(executors.START_METHOD_ENV, "forkserver")
    assert executors.start_method(1) == "forkserver"
    monkeypatch.setenv(executors.START_METHOD_ENV, "fork")
    assert executors.start_method(1) == "fork"
    monkeypatch.setenv(executors.START_METHOD_ENV, "vfork")
    with pytest.raises(ScenarioError, match="not a start method"):
        executors.start_method(1)


def test_stored_run_equals_a_direct_run(serial_store: ResultStore) -> None:
    spec = serial_store.specs()[1]
    direct = run(spec.scenario, spec.seed)
    record = serial_store.record(spec.run_id)
    assert record is not None and record["status"] == "done"
    for key in KPI_COLUMNS:
        assert record["kpis"][key] == direct.summary[key]
    table = pd.read_parquet(serial_store.parquet_path(spec.run_id))
    assert table["converted_cumulative"].tolist() == direct.daily["converted_cumulative"].tolist()
    assert (table["run_id"] == spec.run_id).all()


def test_common_random_numbers_make_pairs_exact(serial_store: ResultStore) -> None:
    runs = serial_store.runs_frame()
    assert (runs.groupby("replicate")["seed"].nunique() == 1).all()
    assert runs.groupby("variant")["seed"].apply(sorted).tolist() == [[11, 12, 13]] * 2
    diffs = paired_differences(runs, "baseline", ["spend", "acquisitions"]).set_index("metric")
    assert set(diffs["variant"]) == {"free_douyin"}
    acq = diffs.loc["acquisitions"]
    assert (acq["n_pairs"], acq["mean_diff"], acq["ci_low"], acq["ci_high"]) == (3, 0, 0, 0)
    spend = diffs.loc["spend"]
    assert spend["ci_high"] < 0  # the Douyin contacts are now free
    summary = variant_summary(runs, ["spend", "acquisitions"]).set_index(["variant", "metric"])
    gap = summary.loc[("free_douyin", "spend"), "mean"] - summary.loc[("baseline", "spend"), "mean"]
    assert spend["mean_diff"] == pytest.approx(gap)
    # Unpaired, the acquisitions vary across seeds; paired, the noise cancels completely.
    assert summary.loc[("baseline", "acquisitions"), "ci_high"] > summary.loc[
        ("baseline", "acquisitions"), "ci_low"
    ]


def test_query_and_compare_on_a_real_store(
    two_variant_experiment: Path, serial_store: ResultStore, capsys: pytest.CaptureFixture[str]
) -> None:
    results = str(serial_store.root.parent)
    sql = "SELECT variant, count(*) AS n, avg(cpa) AS cpa FROM runs GROUP BY 1 ORDER BY 1"
    code, out, _ = cli("query", str(two_variant_experiment), sql, "--csv", "--results", results,
                       capsys=capsys)
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0] == "variant,n,cpa"
    runs = serial_store.runs_frame()
    expected = runs.groupby("variant")["cost_per_acquisition"].mean()
    for line in lines[1:]:
        variant, n, cpa = line.split(",")
        assert int(n) == 3
        assert float(cpa) == pytest.approx(expected[variant], rel=1e-12)
    code, out, _ = cli("query", str(serial_store.root),
                       "SELECT max(day) AS last FROM daily", "--csv", capsys=capsys)
    assert (code, out.strip().splitlines()[-1]) == (0, "60")
    code, out, err = cli("query", str(two_variant_experiment), "SELEC 1", "--results", results,
                         capsys=capsys)
    assert code == 2 and err.startswith("error in query:") and len(err.splitlines()) <= 3
    code, out, _ = cli("compare", str(two_variant_experiment), "--results", results,
                       "-c", "cost_per_acquisition<=1e9", capsys=capsys)
    assert code == 0
    assert "paired difference vs baseline" in out and "free_douyin" in out
    assert "ranking by conversion (cost_per_acquisition<=1e+09)" in out
    code, _, err = cli("compare", str(two_variant_experiment), "--results", results,
                       "-c", "cpa<=5", capsys=capsys)
    assert code == 2 and "unknown metric 'cpa'" in err
    # a typo gets the closest names; a contribution KPI the runs lack says what switches it on
    for text, fragment in (
        ("cost_per_acqusition<=5", "did you mean 'cost_per_acquisition'"),
        ("loo_acquisitions__referral>=1", "runs report it only with "
         "incrementality.contributions: leave_one_out (or both) and the referral lever on"),
    ):
        code, out, err = cli("compare", str(two_variant_experiment), "--results", results,
                             "-c", text, capsys=capsys)
        assert code == 2 and "Traceback" not in err and fragment in err, err
        assert err.startswith(f"error in --constraint: {text}: ")


def test_failing_runs_are_recorded_and_do_not_stop_the_sweep(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # k = 6 passes validation but (patched here: validation now refuses every graph that
    # cannot be built, issue 15) fails when the graph is built; the (0.7, 0.7) grid point
    # breaks "aware + converted ≤ 1" and is recorded without running.
    from simulation.network import builders

    real = builders.watts_strogatz_edges

    def failing(n, k, p, rng):  # type: ignore[no-untyped-def]
        if k == 6:
            raise RuntimeError("could not rewire Watts–Strogatz graph (test)")
        return real(n, k, p, rng)

    monkeypatch.setattr(builders, "watts_strogatz_edges", failing)
    path = write_experiment(tmp_path, """
        name: failing
        days: 20
        overrides: {population.size: 2000}
        replicates: 2
        sweep:
          parameters:
            graph.k: {values: [4, 6]}
            population.segments.payroll.initial.aware: {values: [0.1, 0.7]}
            population.segments.payroll.initial.converted: {values: [0.1, 0.7]}
        """)
    exp = load_experiment(path)
    store = ResultStore.for_experiment(exp, tmp_path / "results")
    report = run_sweep(store, SerialExecutor())
    assert report.total == 16
    runs = store.runs_frame()
    failed = runs[runs["status"] == "failed"]
    # Per replicate: 3 valid points with k = 6 fail at build, (0.7, 0.7) is invalid twice.
    assert len(failed) == report.failed == 2 * (3 + 2)
    assert len(runs[runs["status"] == "done"]) == 6
    assert failed["error"].str.contains("Watts").sum() == 6
    assert failed["error"].str.contains("must be ≤ 1").sum() == 4
    assert failed["conversion_rate"].isna().all()
    assert not any(store.parquet_path(r).exists() for r in failed["run_id"])
    # Resume skips everything; --retry-failed reruns exactly the failed ones.
    assert run_sweep(store, SerialExecutor()).ran == 0
    before = {r: store.record(r)["finished_at"] for r in runs["run_id"]}  # type: ignore[index]
    retry = run_sweep(store, SerialExecutor(), retry_failed=True)
    assert (retry.ran, retry.failed, retry.skipped) == (10, 10, 6)
    done_ids = runs.loc[runs["status"] == "done", "run_id"]
    assert all(store.record(r)["finished_at"] == before[r] for r in done_ids)  # type: ignore[index]
    # The CLI says so and exits 1 once everything else is stored.
    code, out, err = cli("sweep", str(path), "--retry-failed", "--executor", "serial",
                         "--results", str(tmp_path / "results"), capsys=capsys)
    assert code == 1
    assert "0 done, 10 failed, 6 already stored" in out
    assert "10 run(s) failed, first: " in err and "--retry-failed" in err


def _descendants(pid: int) -> dict[int, int]:
    """pid → depth below ``pid`` for every live descendant process."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    depth: dict[int, int] = {}
    frontier = [pid]
    level = 0
    while frontier:
        level += 1
        frontier = [c for c, p in parents.items() if p in frontier]
        depth.update({c: level for c in frontier})
    return depth


def _stored(runs_dir: Path) -> dict[str, float]:
    return {p.name: p.stat().st_mtime_ns for p in runs_dir.glob("*") if not p.name.startswith(".")}


def _wait_for(runs_dir: Path, proc: subprocess.Popen, at_least: int) -> None:
    deadline = time.monotonic() + 120
    while len(list(runs_dir.glob("*.json"))) < at_least:
        if proc.poll() is not None:
            raise AssertionError(f"the sweep ended before it was interrupted: {proc.stderr}")
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError(f"fewer than {at_least} runs stored after 120 s")
        time.sleep(0.01)


def _check_store(store: ResultStore) -> set[str]:
    """No temp file left visible, every record parses, every done record has its table."""
    ids = set()
    for rec_path in store.runs_dir.glob("*.json"):
        rec = json.loads(rec_path.read_text())
        assert rec["status"] == "done", rec.get("error")
        pd.read_parquet(store.parquet_path(rec["run_id"]))
        ids.add(rec["run_id"])
    return ids


@pytest.mark.slow
def test_resume_after_sigkill_of_a_worker_and_of_the_sweep(tmp_path: Path) -> None:
    path = write_experiment(tmp_path, """
        name: killed
        days: 90
        overrides: {population.size: 4000}
        replicates: 14
        variants:
          baseline: {}
          no_branch: {channels.branch.daily_reach: 0.0}
        """)
    exp = load_experiment(path)
    store = ResultStore.for_experiment(exp, tmp_path / "results")
    expected = {s.run_id for s in expand(exp)}
    assert len(expected) == 28
    command = [*CLI, "sweep", str(path), "--workers", "2", "--results", str(tmp_path / "results"),
               "--quiet"]
    env = {**os.environ, "NO_COLOR": "1"}

    # 1. SIGKILL one pool worker mid-sweep: the sweep stops cleanly, stored runs stay valid.
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    _wait_for(store.runs_dir, proc, 3)
    # `opmatrix sweep` forks its workers (no other thread, one kernel thread a run): they are
    # the sweep's own children, not a forkserver's
    workers = [p for p, d in _descendants(proc.pid).items() if d == 1]
    assert len(workers) == 2, f"expected 2 forked pool workers, found {workers}"
    os.kill(workers[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert "a worker process died" in err and "rerun the same command to resume" in err
    first = _check_store(store)
    assert 3 <= len(first) < 28 and first <= expected
    kept = _stored(store.runs_dir)

    # 2. Rerun and SIGKILL the whole sweep (the writer itself) mid-way.
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    _wait_for(store.runs_dir, proc, len(first) + 3)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    second = _check_store(store)
    assert first < second < expected
    now = _stored(store.runs_dir)
    assert all(now[name] == mtime for name, mtime in kept.items())  # finished runs not redone

    # 3. Rerun to completion: nothing missing, nothing duplicated, nothing redone.
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"{28 - len(second)} done, 0 failed, {len(second)} already stored" in done.stdout
    assert _check_store(store) == expected
    final = _stored(store.runs_dir)
    assert len(final) == 2 * 28  # one JSON + one Parquet per run, no strays
    assert all(final[name] == mtime for name, mtime in now.items())
    assert not list(store.runs_dir.glob(".*"))
    assert len(store.runs_frame()) == 28


def test_ishigami_sobol_indices_through_the_runner(tmp_path: Path) -> None:
    path = tmp_path / "ishigami.yaml"
    text = (REPO / "experiments" / "validation" / "ishigami.yaml").read_text()
    path.write_text(text.replace("samples: 1024", "samples: 512"))
    exp = load_experiment(path)
    store = ResultStore.for_experiment(exp, tmp_path / "results")
    report = run_sweep(store, SerialExecutor())
    assert report.done == 512 * 5
    indices = sensitivity(store, "y").set_index(["index", "parameter"])["value"]
    for name in ("x1", "x2", "x3"):
        assert indices["S1", name] == pytest.approx(ISHIGAMI_S1[name], abs=0.06)
        assert indices["ST", name] == pytest.approx(ISHIGAMI_ST[name], abs=0.06)
    assert np.argmax([indices["ST", n] for n in ("x1", "x2", "x3")]) == 0


def test_morris_screening_ranks_the_inert_parameter_last(tmp_path: Path) -> None:
    path = tmp_path / "morris.yaml"
    path.write_text(textwrap.dedent("""
        model: ishigami
        sweep:
          sampler: morris
          samples: 40
          seed: 2
          parameters:
            x1: {low: -3.14159, high: 3.14159}
            x2: {low: -3.14159, high: 3.14159}
            x3: {low: -3.14159, high: 3.14159}
            b: {low: 0.0, high: 0.0001}
        """))
    store = ResultStore.for_experiment(load_experiment(path), tmp_path / "results")
    run_sweep(store, SerialExecutor())
    res = sensitivity(store, "y")
    mu = res[res["index"] == "mu_star"].set_index("parameter")["value"]
    assert set(res["method"]) == {"morris"}
    assert mu.idxmin() == "b" and mu["b"] < 0.05 * mu.max()


@pytest.mark.parametrize("command", ["validate", "sweep", "compare"])
def test_cli_rejects_a_bad_experiment_with_exit_2(
    tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_experiment(tmp_path, """
        replicates: 2
        variants:
          a: {}
          b: {channels.wecom_1to1.daily_reech: 0.1}
        """)
    extra = [] if command == "validate" else ["--results", str(tmp_path)]
    code, out, err = cli(command, str(path), *extra, capsys=capsys)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert 1 <= len(lines) <= 3
    assert lines[0].startswith(f"error in {path}: variants.b.channels.wecom_1to1.daily_reech")
    assert "(line 5)" in lines[0] and "unknown parameter 'daily_reech'" in lines[0]
    assert "daily_reach" in lines[0]
    assert not (tmp_path / "exp").exists()  # nothing stored for a rejected experiment


def test_cli_rejects_an_unknown_executor(
    two_variant_experiment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli("sweep", str(two_variant_experiment), "--executor", "ray",
                       "--results", str(tmp_path), capsys=capsys)
    assert code == 2 and "unknown executor 'ray'; valid: local, dask, dask-local, serial" in err


def test_dask_executor_connects_to_a_scheduler_address(tmp_path: Path) -> None:
    import dask
    from distributed import LocalCluster

    path = tmp_path / "grid.yaml"
    path.write_text("model: ishigami\nsweep:\n  parameters:\n"
                    "    x1: {low: -1, high: 1, levels: 3}\n    x2: {values: [0.0, 1.0]}\n")
    exp = load_experiment(path)
    serial = ResultStore.for_experiment(exp, tmp_path / "serial")
    run_sweep(serial, SerialExecutor())
    with (
        dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}),
        LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster,
        open_executor("dask", address=cluster.scheduler_address) as pool,
    ):
        store = ResultStore.for_experiment(exp, tmp_path / "remote")
        report = run_sweep(store, pool, workers=1)
    assert report.done == 6
    a, b = serial.runs_frame(), store.runs_frame()
    assert a["y"].tolist() == b["y"].tolist()
    assert b["param:x1"].tolist() == [-1.0, -1.0, 0.0, 0.0, 1.0, 1.0]


def test_latin_hypercube_gives_rbd_fast_first_order_indices(tmp_path: Path) -> None:
    path = tmp_path / "lhs.yaml"
    bounds = "{low: -3.14159, high: 3.14159}"
    path.write_text(f"model: ishigami\nsweep:\n  sampler: lhs\n  samples: 400\n  seed: 5\n"
                    f"  parameters:\n    x1: {bounds}\n    x2: {bounds}\n    x3: {bounds}\n")
    store = ResultStore.for_experiment(load_experiment(path), tmp_path / "results")
    run_sweep(store, SerialExecutor())
    s1 = sensitivity(store, "y").set_index("parameter")["value"]
    for name in ("x1", "x2", "x3"):
        assert s1[name] == pytest.approx(ISHIGAMI_S1[name], abs=0.1)


def test_validate_and_compare_agree_on_contribution_outcomes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A leave-one-out outcome validates, sweeps and compares when the runs compute it; a
    misspelt one, or one the runs do not compute, is refused by validate and compare alike
    (same line: file, outcomes.<i>, what is allowed; exit 2). Before, validate accepted every
    registered name and compare refused the contributions as 'unknown metric'."""
    body = """
        name: {name}
        days: 5
        overrides: {{population.size: 300{extra}}}
        replicates: 1
        outcomes: [acquisitions, {outcome}]
        """
    on = ", incrementality.contributions: leave_one_out"
    good = write_experiment(tmp_path / "good", body.format(
        name="loo_ok", extra=on, outcome="loo_acquisitions__channels"))
    results = str(tmp_path / "res")
    assert cli("validate", str(good), capsys=capsys)[0] == 0
    assert cli("sweep", str(good), "--results", results, "--workers", "1", capsys=capsys)[0] == 0
    code, out, _ = cli("compare", str(good), "--results", results, capsys=capsys)
    assert code == 0 and "LOO channels" in out
    code, _, err = cli("compare", str(good), "--results", results,
                       "-m", "loo_acquisitons__channels", capsys=capsys)
    assert code == 2 and "did you mean 'loo_acquisitions__channels'" in err
    cases = {
        "loo_acquisitons__channels": "did you mean 'loo_acquisitions__channels'",
        "loo_acquisitions__referral": "incrementality.contributions: leave_one_out (or both) "
        "and the referral lever on",
    }
    for i, (outcome, fragment) in enumerate(cases.items()):
        for extra in (on, ""):
            bad = write_experiment(tmp_path / f"bad{i}{bool(extra)}", body.format(
                name=f"bad{i}", extra=extra, outcome=outcome))
            errors = []
            for command in ("validate", "compare"):
                args = [] if command == "validate" else ["--results", results]
                code, out, err = cli(command, str(bad), *args, capsys=capsys)
                assert code == 2 and out == "" and "Traceback" not in err
                errors.append(err)
            assert errors[0] == errors[1]
            assert errors[0].startswith(f"error in {bad}: outcomes.1 (line 6): ")
            assert fragment in errors[0]
    unswitched = write_experiment(tmp_path / "off", body.format(
        name="off", extra="", outcome="loo_acquisitions__channels"))
    code, _, err = cli("validate", str(unswitched), capsys=capsys)
    assert code == 2 and "runs report it only with incrementality.contributions" in err
