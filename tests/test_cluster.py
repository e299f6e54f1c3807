"""A real multi-process Dask cluster on loopback, as docs/cluster.md sets one up on several hosts:
a ``dask scheduler`` and two ``dask worker`` processes, a sweep sent through ``opmatrix sweep
--executor dask --address``, one worker killed (SIGKILL) mid-sweep. Every run must be stored
exactly once, with the same numbers as a local sweep.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from simulation.runner import ResultStore, load_experiment, preload
from simulation.runner.executors import SerialExecutor
from simulation.runner.sweep import run_sweep

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "scenarios" / "quickstart.yaml"
BIN = Path(sys.executable).parent
RUNS = 8


def _experiment(folder: Path) -> Path:
    path = folder / "cluster.yaml"
    path.write_text(textwrap.dedent(f"""
        name: cluster_check
        scenario: {QUICKSTART}
        days: 60
        overrides: {{population.size: 20000}}
        replicates: {RUNS // 2}
        seed: 21
        variants:
          baseline: {{}}
          more_ads: {{channels.douyin_ads.daily_reach: 0.004}}
    """).lstrip())
    return path


def _spawn(args: list[str], log: Path, extra: dict[str, str] | None = None) -> subprocess.Popen:
    env = {**os.environ, "OPMATRIX_THREADS": "1", "PYTHONUNBUFFERED": "1", **(extra or {})}
    return subprocess.Popen(
        args, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, cwd=REPO,
        start_new_session=True,
    )


def _wait_for(check, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.slow
def test_sweep_on_a_real_cluster_survives_a_killed_worker(tmp_path: Path) -> None:
    exp_path = _experiment(tmp_path)
    info = tmp_path / "scheduler.json"
    procs: list[subprocess.Popen] = []
    try:
        procs.append(_spawn(
            [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
             "--no-dashboard", "--scheduler-file", str(info)],
            tmp_path / "scheduler.log",
        ))
        _wait_for(lambda: info.exists() and info.stat().st_size > 0, 60, "the scheduler")
        address = json.loads(info.read_text())["address"]
        for name in ("w1", "w2"):
            # --no-nanny: the worker is the process we kill (a nanny would restart it)
            procs.append(_spawn(
                [str(BIN / "dask"), "worker", address, "--nthreads", "1", "--no-nanny",
                 "--name", name, "--no-dashboard", "--death-timeout", "60"],
                tmp_path / f"{name}.log", preload.ENV,  # the preload, as docs/cluster.md sets it
            ))
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
            # the preload ran in each worker: the simulation is imported before any task
            loaded = client.run(lambda: "simulation.runner.worker" in sys.modules)
            assert list(loaded.values()) == [True, True]
        results = tmp_path / "results"
        sweep = subprocess.Popen(
            [str(BIN / "opmatrix"), "sweep", str(exp_path), "--executor", "dask",
             "--address", address, "--workers", "2", "--results", str(results), "--quiet"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO,
            env={**os.environ, "OPMATRIX_THREADS": "1"},
        )
        runs_dir = results / "cluster_check" / "runs"

        def stored() -> int:
            return len(list(runs_dir.glob("*.json"))) if runs_dir.exists() else 0

        _wait_for(lambda: stored() >= 1 or sweep.poll() is not None, 240, "the first runs")
        at_kill = stored()
        os.killpg(procs[1].pid, signal.SIGKILL)  # worker w1, mid-sweep
        procs[1].wait()
        out, _ = sweep.communicate(timeout=300)
        assert sweep.returncode == 0, out
        assert at_kill < RUNS, "the sweep ended before the worker was killed"
        # every run done once (the report counts each stored outcome), none failed
        assert f"{RUNS} done, 0 failed, 0 already stored" in out, out
    finally:
        for proc in reversed(procs):
            _stop(proc)

    exp = load_experiment(exp_path)
    cluster = ResultStore.for_experiment(exp, results)
    assert len(list(cluster.runs_dir.glob("*.json"))) == RUNS
    assert set(cluster.status().values()) == {"done"}
    local = ResultStore.for_experiment(exp, tmp_path / "local")
    run_sweep(local, SerialExecutor(), workers=1)
    cols = ["run_id", "acquisitions", "spend", "value_acquired", "conversion_rate"]
    a = cluster.runs_frame()[cols].sort_values("run_id").reset_index(drop=True)
    b = local.runs_frame()[cols].sort_values("run_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
