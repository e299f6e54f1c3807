"""Honesty checks of ``opmatrix calibrate`` (issue 12): Bass recovery, parameter recovery with
coverage, a mis-specified model flagged by its fit table, resume after kill -9, clear errors.

Kept small (a few hundred customers, R ≤ 2, tens of trials) so the whole file stays within its
CPU budget; benchmarks/bench_calibrate.py measures the full-size calibration."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import die_while_asking

from simulation.cli.commands_calibrate import calibrate_files
from simulation.decide import calibrate as cal_mod
from simulation.decide.calibrate_outputs import draws_rows, summarize_abc
from simulation.errors import ScenarioError
from simulation.runner.executors import SerialExecutor
from simulation.scenario.load import load_scenario

BASS = Path(__file__).resolve().parents[1] / "scenarios" / "validation" / "bass.yaml"
P_TRUE, Q_TRUE = 0.004, 0.05
PARAMS = {
    "channels.mass_media.daily_reach": {"low": 0.001, "high": 0.02, "prior": "log_uniform"},
    "word_of_mouth.imitation": {"low": 0.0, "high": 0.15},
}


def bass_counts(n: int, weeks: int, p: float = P_TRUE, q: float = Q_TRUE) -> list[int]:
    """Bass (1969) adopters per week: N·(F(t_k) − F(t_k−1)), F(t) as in bass.yaml."""
    t = 7.0 * np.arange(weeks + 1)
    e = np.exp(-(p + q) * t)
    f = (1 - e) / (1 + (q / p) * e)
    return [round(float(v)) for v in np.diff(n * f)]


def write(folder: Path, name: str, data: dict) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def small_bass(folder: Path, size: int, days: int) -> Path:
    data = yaml.safe_load(BASS.read_text(encoding="utf-8"))
    data["population"]["size"] = size
    data["days"] = days
    return write(folder, "bass.yaml", data)


def bass_files(
    tmp_path: Path, customers: int, weeks: int, name: str, optuna: dict, *,
    q: float = Q_TRUE, replicates: int = 2, parameters: dict | None = None,
) -> tuple[Path, Path, Path]:
    """The small Bass scenario, its weekly adopters as a Poisson flow target, and the params
    file (``PARAMS`` unless ``parameters``): the set-up every Optuna test here shares."""
    scenario = small_bass(tmp_path, customers, 7 * weeks)
    targets = write(tmp_path, "targets.yaml", {
        "name": name, "grid": {"unit": "week"},
        "targets": {"adopters": {"observable": "acquisitions", "kind": "flow",
                                 "values": bass_counts(customers, weeks, q=q),
                                 "likelihood": "poisson"}},
    })
    params = write(tmp_path, "params.yaml", {
        "replicates": replicates, "parameters": parameters or PARAMS, "optuna": optuna,
    })
    return scenario, targets, params


def test_bass_special_case_recovers_p_and_q(tmp_path: Path) -> None:
    scenario, targets, params = bass_files(
        tmp_path, 1000, 18, "bass_fit", {"trials": 40, "batch": 4, "startup_trials": 8})
    out = tmp_path / "out"
    _, summary, paths = calibrate_files(scenario, targets, params, "optuna", out, "serial", 1)
    p_hat = summary.estimate["channels.mass_media.daily_reach"]
    q_hat = summary.estimate["word_of_mouth.imitation"]
    assert abs(p_hat - P_TRUE) / P_TRUE < 0.3, p_hat
    assert abs(q_hat - Q_TRUE) / Q_TRUE < 0.2, q_hat
    assert summary.verdicts["adopters"][2] == "ok"
    # the calibrated scenario is a scenario: it loads, and carries the fitted values, marked
    calibrated = load_scenario(paths["calibrated"])
    assert calibrated.word_of_mouth.imitation == pytest.approx(q_hat, rel=1e-5)
    assert "(tuned: calibrated to targets.yaml" in paths["calibrated"].read_text()
    fit = pd.read_csv(paths["fit"])
    assert list(fit["observed"]) == bass_counts(1000, 18)
    assert (fit["lo95"] <= fit["simulated"]).all() and (fit["simulated"] <= fit["hi95"]).all()
    html = paths["report"].read_text()
    assert "Fit by target" in html and "data:image/png;base64" in html and "http" not in html
    assert (out / "figures" / "fit_adopters.png").is_file()
    # draws for `optimize --robust` (robust: {posterior: out}): parameter paths as columns,
    # the confidence set's trials (one at least: the best)
    draws = pd.read_csv(paths["draws"])
    assert list(draws.columns) == ["draw", *PARAMS] and len(draws) >= 1
    assert ((draws[list(PARAMS)] >= 0).all()).all()


def test_misspecified_model_is_flagged_by_its_fit_table(tmp_path: Path) -> None:
    """Word-of-mouth data (an S-curve) fitted with paid reach alone (q fixed at 0)."""
    scenario, targets, params = bass_files(
        tmp_path, 1000, 18, "no_wom", {"trials": 16, "batch": 4, "startup_trials": 6},
        q=0.08, replicates=1,
        parameters={"channels.mass_media.daily_reach": PARAMS["channels.mass_media.daily_reach"]},
    )
    _, summary, paths = calibrate_files(scenario, targets, params, "optuna", tmp_path / "o",
                                        "serial", 1, overrides=["word_of_mouth.imitation=0"])
    _, p_value, verdict = summary.verdicts["adopters"]
    assert verdict == "poor fit" and p_value < 1e-3
    assert set(pd.read_csv(paths["fit"])["verdict"]) == {"poor fit"}


def test_abc_posterior_covers_the_true_parameters(tmp_path: Path) -> None:
    """Parameter recovery: data simulated at known (p, q) on a seed the calibration never uses;
    the ABC-SMC 95 % intervals must contain the truth (coverage over repeated small runs)."""
    from simulation.api import run

    scenario = small_bass(tmp_path, 400, 84)
    truths = [(0.004, 0.05), (0.006, 0.04), (0.003, 0.07)]
    covered = 0
    widths = []
    for k, (p, q) in enumerate(truths):
        sc = load_scenario(scenario, [f"channels.mass_media.daily_reach={p}",
                                      f"word_of_mouth.imitation={q}"])
        daily = run(sc, seed=10_000 + k).daily.groupby("day")["converted_cumulative"].sum()
        weekly = np.diff(daily.to_numpy()[::7]).astype(int).tolist()
        targets = write(tmp_path, f"t{k}.yaml", {
            "name": f"rec{k}", "grid": {"unit": "week"},
            "targets": {"adopters": {"observable": "acquisitions", "kind": "flow",
                                     "values": weekly, "likelihood": "poisson"}},
        })
        params = write(tmp_path, f"p{k}.yaml", {
            "replicates": 1, "seed": 0, "parameters": PARAMS,
            "abc": {"population_size": 40, "generations": 2},
        })
        cal = cal_mod.prepare(scenario, targets, params, tmp_path / f"o{k}")
        cal_mod.check_resumable(cal, "abc")
        runner = cal_mod.TrialRunner(cal, SerialExecutor(), 1)
        summary = summarize_abc(cal, cal_mod.run_abc(cal, runner))
        header, rows = draws_rows(cal, summary)  # posterior draws for optimize --robust
        assert header == ["draw", *PARAMS] and len(rows) == 100
        for row in rows:
            assert all(PARAMS[n]["low"] <= float(v) <= PARAMS[n]["high"]
                       for n, v in zip(PARAMS, row[1:], strict=True))
        for name, truth in zip(PARAMS, (p, q), strict=True):
            lo, hi = summary.interval[name]
            covered += lo <= truth <= hi
            widths.append((hi - lo) / (PARAMS[name]["high"] - PARAMS[name]["low"]))
    assert covered >= 5, f"{covered} of 6 true values inside their 95 % intervals"
    assert np.mean(widths) < 0.8  # and the data did narrow the prior


def test_resume_after_kill_gives_the_uninterrupted_result(tmp_path: Path) -> None:
    scenario, targets, params = bass_files(
        tmp_path, 300, 8, "resume", {"trials": 12, "batch": 4, "startup_trials": 4})
    reference = tmp_path / "reference"
    calibrate_files(scenario, targets, params, "optuna", reference, "serial", 1)
    killed = tmp_path / "killed"
    cmd = [sys.executable, "-m", "simulation", "calibrate", str(scenario), "-t", str(targets),
           "-p", str(params), "--out", str(killed), "--executor", "serial", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list((killed / "runs").glob("*.json"))) >= 6:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "report.html").exists()  # nothing final was written half-way
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    state = json.loads((killed / "calibration.json").read_text())
    reference_state = json.loads((reference / "calibration.json").read_text())
    # The kill may land mid-batch (stored runs of asked trials are reused) or just after a batch
    # was told (then nothing is "reused", its trials are simply not asked again): either way the
    # resumed command computes fewer runs than a fresh one, and stores no run twice.
    assert state["status"] == "done"
    assert state["timing"]["runs"] < reference_state["timing"]["runs"]
    assert len(list((killed / "runs").glob("*.json"))) == len(
        list((reference / "runs").glob("*.json"))
    )
    ref = pd.read_csv(reference / "trials.csv")
    got = pd.read_csv(killed / "trials.csv")
    cols = [*PARAMS, "objective"]
    pd.testing.assert_frame_equal(
        ref[cols].reset_index(drop=True), got[cols].reset_index(drop=True)
    )


def test_a_kill_while_a_batch_is_told_resumes_to_the_uninterrupted_trials(
    tmp_path: Path, monkeypatch
) -> None:
    """Deterministic companion of the kill test: the process dies after 6 of 8 tells (batch 2
    half told); the resumed study finishes telling that batch from the stored runs instead of
    re-asking with another seed, so its trials equal an uninterrupted run's and no run is
    added (the flaky outcome main's full suite saw: 26 stored runs against 24)."""
    scenario, targets, params = bass_files(
        tmp_path, 300, 8, "resume", {"trials": 8, "batch": 4, "startup_trials": 4})
    calibrate_files(scenario, targets, params, "optuna", tmp_path / "ref", "serial", 1)

    class Killed(BaseException):
        pass

    record, told = cal_mod._record, []

    def dying(study, number, res):
        if len(told) == 6:
            raise Killed
        told.append(number)
        record(study, number, res)

    monkeypatch.setattr(cal_mod, "_record", dying)
    with pytest.raises(Killed):
        calibrate_files(scenario, targets, params, "optuna", tmp_path / "k", "serial", 1)
    monkeypatch.setattr(cal_mod, "_record", record)
    calibrate_files(scenario, targets, params, "optuna", tmp_path / "k", "serial", 1)
    cols = [*PARAMS, "objective"]
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "ref" / "trials.csv")[cols],
                                  pd.read_csv(tmp_path / "k" / "trials.csv")[cols])
    assert len(list((tmp_path / "k" / "runs").glob("*.json"))) == 16


#: Runs ``opmatrix calibrate`` and kills the process (SIGKILL, as ``kill -9``) inside the ask
#: loop: while trial 4 (the second of the second batch) draws its first parameter.
DIE_IN_ASK = die_while_asking(4)


def test_a_kill_inside_the_ask_loop_resumes_to_the_uninterrupted_cmaes_trials(
    tmp_path: Path,
) -> None:
    """A real ``opmatrix calibrate`` process killed -9 while asking a batch resumes to exactly
    the uninterrupted CMA-ES trials: the half-asked batch never reached the journal, so it is
    asked again under the same trial numbers (CMA-ES seeds each proposal with its number;
    closing the batch as failed and asking it again under new numbers proposed other points)."""
    scenario, targets, params = bass_files(
        tmp_path, 300, 6, "askkill",
        {"trials": 6, "batch": 3, "startup_trials": 1, "sampler": "cmaes"})
    calibrate_files(scenario, targets, params, "optuna", tmp_path / "ref", "serial", 1)
    script = tmp_path / "die_in_ask.py"
    script.write_text(DIE_IN_ASK, encoding="utf-8")
    killed = tmp_path / "killed"
    proc = subprocess.run(
        [sys.executable, str(script), "calibrate", str(scenario), "-t", str(targets),
         "-p", str(params), "--out", str(killed), "--executor", "serial", "-q"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert len(list((killed / "runs").glob("*.json"))) == 6  # batch 1's runs only
    calibrate_files(scenario, targets, params, "optuna", killed, "serial", 1)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "ref" / "trials.csv"),
                                  pd.read_csv(killed / "trials.csv"))
    assert len(list((killed / "runs").glob("*.json"))) == 12


def test_abc_shrinks_its_tolerance_and_resumes_to_the_uninterrupted_posterior(
    tmp_path: Path,
) -> None:
    """ABC-SMC runs one generation per call: each starts from abc.db alone in a fresh ABCSMC.
    Before, one object served every generation and pyabc's cached calibration sample (the
    prior's) set every generation's epsilon to generation 0's, while a resumed process (a new
    object) computed it from the last population — so the tolerance never shrank, and a resumed
    calibration differed from an uninterrupted one. Now epsilon falls generation by generation,
    and a process dying in the middle of generation 1 resumes to the same particles."""
    scenario, targets, params = bass_files(tmp_path, 300, 6, "abcresume", {"trials": 2},
                                           replicates=1)
    data = yaml.safe_load(params.read_text(encoding="utf-8"))
    data.pop("optuna")
    data["abc"] = {"population_size": 8, "generations": 2}
    params.write_text(yaml.safe_dump(data), encoding="utf-8")

    class Killed(BaseException):
        pass

    def abc(out: Path, die_at: int | None = None) -> cal_mod.AbcResult:
        cal = cal_mod.prepare(scenario, targets, params, out)
        runner = cal_mod.TrialRunner(cal, SerialExecutor(), 1)
        if die_at is not None:
            evaluate, calls = runner.evaluate, []

            def dying(points, first_id=0):
                calls.append(1)
                if len(calls) == die_at:
                    raise Killed
                return evaluate(points, first_id)

            runner.evaluate = dying
        return cal_mod.run_abc(cal, runner)

    reference = abc(tmp_path / "ref")
    assert reference.epsilons[0] > reference.epsilons[1]
    with pytest.raises(Killed):
        abc(tmp_path / "k", die_at=12)  # generation 0 takes 8 particles; 12 is in generation 1
    resumed = abc(tmp_path / "k")
    np.testing.assert_array_equal(resumed.particles, reference.particles)
    np.testing.assert_array_equal(resumed.weights, reference.weights)
    assert resumed.epsilons == reference.epsilons


def test_bad_targets_and_params_are_clear_errors(tmp_path: Path) -> None:
    scenario = small_bass(tmp_path, 300, 56)
    good_params = write(tmp_path, "params.yaml", {"parameters": PARAMS})
    kpis = tmp_path / "kpis.csv"
    pd.DataFrame({"month": [1, 2, 3], "new": [5, "x", 7]}).to_csv(kpis, index=False)

    def error(targets: dict, params: Path = good_params) -> str:
        path = write(tmp_path, "t.yaml", targets)
        with pytest.raises(ScenarioError) as info:
            cal_mod.prepare(scenario, path, params, tmp_path / "o")
        return str(info.value)

    series = {"observable": "acquisitions", "kind": "flow", "values": [1, 2]}
    assert "unknown observable 'adoptions'" in error(
        {"targets": {"a": {**series, "observable": "adoptions"}}})
    message = error({"targets": {"a": {**series, "observable": "acquisitions:tv"}}})
    assert "unknown acquisition source 'tv'; this scenario's: " in message
    assert "mass_media" in message and "word_of_mouth" in message
    assert "end on day 140, after the scenario's horizon of 56 days" in error(
        {"grid": {"unit": "week"}, "targets": {"a": {**series, "values": [1] * 20}}})
    assert "targets.a.kind" in error({"targets": {"a": {**series, "kind": "level"}}})
    assert "normal likelihood needs sd" in error(
        {"targets": {"a": {**series, "likelihood": "normal"}}})
    message = error({"data": "kpis.csv", "period_column": "month",
                     "targets": {"a": {"observable": "acquisitions", "kind": "flow",
                                       "column": "new"}}})
    assert f"error in {kpis.resolve()}: row 2, column 'new': not a number: 'x'" in message
    targets = write(tmp_path, "ok.yaml", {"grid": {"unit": "week"}, "targets": {"a": series}})
    bad = write(tmp_path, "bad.yaml", {"parameters": {"word_of_mouth.imitaton": {"low": 0,
                                                                               "high": 1}}})
    with pytest.raises(ScenarioError, match="unknown parameter 'imitaton'"):
        cal_mod.prepare(scenario, targets, bad, tmp_path / "o")
    bad = write(tmp_path, "bad2.yaml", {"parameters": {"word_of_mouth.imitation": {"low": 0,
                                                                                 "high": 2}}})
    with pytest.raises(ScenarioError, match="at 2"):
        cal_mod.prepare(scenario, targets, bad, tmp_path / "o")
    proc = subprocess.run(
        [sys.executable, "-m", "simulation", "calibrate", str(scenario), "-t",
         str(tmp_path / "t.yaml"), "-p", str(good_params), "--out", str(tmp_path / "o")],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "error in" in proc.stderr


def test_scenarios_with_a_yaml_date_calibrate() -> None:
    """A preset with an unquoted date (cmb_credit_card's ``contact_policy.start_date``) is made
    JSON-ready as its ISO string, which loads back to the same date."""
    import datetime

    from simulation.decide.calibrate import _plain

    doc = {"contact_policy": {"start_date": datetime.date(2024, 1, 1)}, "days": [1, 2]}
    assert _plain(doc) == {"contact_policy": {"start_date": "2024-01-01"}, "days": [1, 2]}
