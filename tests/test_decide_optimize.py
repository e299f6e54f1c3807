"""``opmatrix optimize``: the closed-form budget split, resume after kill -9, bad specs.

The closed-form case (scenarios/validation/two_channel_budget.yaml): channel i contacts each of
its N customers with probability r_i a day at c_i yuan, converting a prospect with
probability p_i, and keeps contacting converted customers, so it spends s_i = c_i r_i N a day
and, with budget x, runs min(x, s_i T)/s_i days:
    A_i(x) = N (1 − (1 − r_i p_i)^(min(x, s_i T)/s_i)),
concave with a kink at its spend cap s_i T. The best split of a total B maximises
A_a(x) + A_b(B − x); by concavity it is the stationary point of the uncapped curves clipped to
the caps, computed below from the scenario file's own numbers.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, die_while_asking, opmatrix
from ruamel.yaml import YAML

from simulation.decide.optimize import Optimization
from simulation.decide.spec import load_optimization
from simulation.errors import ScenarioError
from simulation.runner.executors import SerialExecutor

EXPERIMENT = REPO / "experiments" / "validation" / "two_channel_budget.yaml"
SCENARIO = REPO / "scenarios" / "validation" / "two_channel_budget.yaml"


def closed_form_split(total: float) -> float:
    """The optimal budget of channel_a (yuan) from the scenario's parameters."""
    sc = YAML(typ="safe").load(SCENARIO.read_text(encoding="utf-8"))
    n_total, days = sc["population"]["size"], sc["days"]
    segs = sc["population"]["segments"]
    n = {
        "channel_a": n_total * segs["north"]["share"],
        "channel_b": n_total * segs["south"]["share"],
    }
    k, s = {}, {}
    for name in ("channel_a", "channel_b"):
        ch = sc["channels"][name]
        r, p, c = ch["daily_reach"], ch["conversion_on_contact"], ch["cost_per_contact"]
        s[name] = c * r * n[name]  # spend per day
        k[name] = -math.log(1 - r * p) / s[name]  # A(x) = N (1 − e^{−k x}) below the cap
    na, nb, ka, kb = n["channel_a"], n["channel_b"], k["channel_a"], k["channel_b"]
    stationary = (math.log(na * ka / (nb * kb)) + kb * total) / (ka + kb)
    low = max(0.0, total - s["channel_b"] * days)
    high = min(total, s["channel_a"] * days)
    return min(max(stationary, low), high)


def test_closed_form_case_is_sharp() -> None:
    # the optimum sits at channel_a's spend cap, ¥7,200 of ¥20,000
    assert closed_form_split(20000) == pytest.approx(7200)


def test_optimize_lands_within_5_percent_of_the_closed_form_split(tmp_path: Path) -> None:
    spec = load_optimization(EXPERIMENT)
    opt = Optimization(spec, tmp_path, SerialExecutor(), workers=1)
    result = opt.run()
    best = result["recommended"]["budgets"]
    total = sum(best.values())
    assert total == pytest.approx(20000, abs=0.01)
    optimum = closed_form_split(total)
    assert abs(best["channel_a"] - optimum) <= 0.05 * total, best
    # the selection stage ran and states its procedure
    assert result["selection"]["method"] == "kim_nelson"
    assert result["recommended"]["replicates"] >= spec.config.selection.initial_replicates
    # beating the 50/50 baseline, paired on common seeds, with a CI excluding 0
    diff = result["recommended"]["vs_baseline"]["acquisitions"]
    assert diff["low"] > 0
    # channel_a's response curve saturates at its spend cap (reach × horizon)
    curve = next(c for c in result["response_curves"] if c["budget"] == "channel_a")
    assert curve["saturation"]["budget"] == pytest.approx(7200, rel=0.05)
    # marginal CPA of channel_b at the optimum: extra money still buys customers
    marg = {m["budget"]: m for m in result["marginals"]}
    assert marg["channel_b"]["acquisitions_per_1000"][0] > 0
    assert (tmp_path / "two_channel_budget" / "optimize" / "recommended.yaml").is_file()
    # a second call reuses every stored run and told trial
    again = Optimization(spec, tmp_path, SerialExecutor(), workers=1).run()
    assert again["runs_computed"] == 0
    assert again["recommended"]["budgets"] == best


RESUME = """
name: resume_check
scenario: {scenario}
replicates: 2
optimize:
  sampler: tpe
  trials: 10
  batch: 2
  objectives: [{{kpi: acquisitions}}]
  constraints: [{{kpi: cost_per_acquisition, max: 40}}]
  budget:
    total: 20000
    channels: {{channel_a: {{low: 0, high: 20000}}, channel_b: {{low_pct: -100, high_pct: 100}}}}
  selection: {{top_k: 2, delta: 20, initial_replicates: 2, max_replicates: 4}}
  marginal: {{replicates: 2}}
  response_curves: {{enabled: false}}
"""


def test_resume_after_kill_neither_repeats_nor_loses_evaluations(tmp_path: Path) -> None:
    exp = tmp_path / "resume_check.yaml"
    exp.write_text(RESUME.format(scenario=SCENARIO), encoding="utf-8")
    results = tmp_path / "results"
    runs = results / "resume_check" / "optimize" / "runs"
    cmd = [sys.executable, "-m", "simulation", "optimize", str(exp), "--executor", "serial",
           "--results", str(results), "--no-report", "-q"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 400  # generous: the CI machine may be loaded
    while time.monotonic() < deadline and proc.poll() is None:
        if runs.is_dir() and len(list(runs.glob("*.json"))) >= 9:  # baseline + some trials
            break
        time.sleep(0.05)
    assert proc.poll() is None, "finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {p.name for p in runs.glob("*.json")}
    done = opmatrix(*cmd[3:], timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads((runs.parent / "result.json").read_text(encoding="utf-8"))
    after = {p.name for p in runs.glob("*.json")}
    # not repeated: the second call computed exactly the runs that were not stored yet
    assert result["runs_computed"] == len(after - before)
    # not lost: every trial 0..9 was told exactly once, with its values
    numbers = sorted(t["number"] for t in result["trials"])
    complete = [t for t in result["trials"] if t["state"] == "COMPLETE"]
    assert len(complete) == 10
    assert len(set(numbers)) == len(numbers)


CMAES = """
name: ask_kill_check
scenario: {scenario}
replicates: 2
overrides: {{population.size: 1500}}
days: 30
optimize:
  sampler: cmaes
  trials: 8
  batch: 2
  objectives: [{{kpi: acquisitions}}]
  parameters:
    channels.channel_a.daily_reach: {{low: 0.001, high: 0.05}}
    channels.channel_b.daily_reach: {{low: 0.001, high: 0.05}}
  selection: {{top_k: 2, delta: 5, initial_replicates: 2, max_replicates: 2}}
  response_curves: {{enabled: false}}
"""

#: Runs ``opmatrix optimize`` and kills the process (SIGKILL, as ``kill -9``) inside the ask
#: loop: while trial 5 (the second of the third batch) draws its first parameter.
DIE_IN_ASK = die_while_asking(5)


def test_a_kill_inside_the_ask_loop_resumes_to_the_uninterrupted_proposals(
    tmp_path: Path,
) -> None:
    """A real ``opmatrix optimize`` process killed -9 while asking a batch, then resumed, makes
    every proposal of an uninterrupted run (same trial numbers, points and values) and the same
    recommendation. CMA-ES, because it seeds each proposal with its trial number: resuming by
    closing the half-asked batch and asking it again under new numbers proposed other points."""
    import optuna

    from simulation.decide.journal import journal_storage

    exp = tmp_path / "ask_kill_check.yaml"
    exp.write_text(CMAES.format(scenario=SCENARIO), encoding="utf-8")
    spec = load_optimization(exp)
    reference = Optimization(spec, tmp_path / "ref", SerialExecutor()).run()
    script = tmp_path / "die_in_ask.py"
    script.write_text(DIE_IN_ASK, encoding="utf-8")
    killed = tmp_path / "killed"
    proc = subprocess.run(
        [sys.executable, str(script), "optimize", str(exp), "--executor", "serial",
         "--results", str(killed), "--no-report", "-q"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    root = killed / "ask_kill_check" / "optimize"
    storage, _ = journal_storage(root / "study.journal")
    on_disk = optuna.load_study(study_name="opmatrix", storage=storage).get_trials()
    assert [t.number for t in on_disk] == [0, 1, 2, 3]  # the half-asked batch left no trace
    stored = len(list((root / "runs").glob("*.json")))
    resumed = Optimization(load_optimization(exp), killed, SerialExecutor()).run()

    def proposals(result: dict) -> list[tuple]:
        return [(t["number"], t["state"], t["point"], t["values"]) for t in result["trials"]]

    assert proposals(resumed) == proposals(reference)
    assert len(reference["trials"]) == 8
    for key in ("label", "point", "replicates", "vs_baseline"):
        assert resumed["recommended"][key] == reference["recommended"][key]
    assert resumed["selection"] == reference["selection"]
    # nothing stored was run again
    assert resumed["runs_computed"] == len(list((root / "runs").glob("*.json"))) - stored


ROBUST = """
name: robust_check
scenario: {scenario}
replicates: 2
overrides: {{population.size: 1500}}
days: 30
optimize:
  trials: 4
  batch: 2
  objectives: [{{kpi: acquisitions}}]
  budget:
    total: 4000
    channels: {{channel_a: {{low: 0, high: 4000}}, channel_b: {{low: 0, high: 4000}}}}
  selection: {{top_k: 2, delta: 5, initial_replicates: 2, max_replicates: 2}}
  marginal: {{replicates: 2}}
  response_curves: {{enabled: false}}
  robust: {{posterior: fit, draws: 2, score: p10}}
"""


def test_robust_over_a_calibrated_posterior(tmp_path: Path) -> None:
    """``robust: {posterior: <calibrate results folder>}`` scores each candidate in the base
    world and in each posterior draw (draws.csv as `opmatrix calibrate` writes it)."""
    (tmp_path / "fit").mkdir()
    path = "channels.channel_a.conversion_on_contact"
    (tmp_path / "fit" / "draws.csv").write_text(
        f"draw,{path}\n0,0.002\n1,0.05\n2,0.3\n", encoding="utf-8"
    )
    exp = tmp_path / "robust_check.yaml"
    exp.write_text(ROBUST.format(scenario=SCENARIO), encoding="utf-8")
    spec = load_optimization(exp, robust=True)
    assert [w.name for w in spec.worlds] == ["base", "draw0", "draw1"]  # the first 2 draws
    assert spec.worlds[2].data["channels"]["channel_a"]["conversion_on_contact"] == 0.05
    assert spec.worlds[2].data["population"]["size"] == 1500  # overrides kept
    result = Optimization(spec, tmp_path, SerialExecutor(), robust=True).run()
    assert result["worlds"] == ["base", "draw0", "draw1"] and result["robust_score"] == "p10"
    assert result["regret"] and result["regret"][0]["max_regret"] >= 0
    per_world = result["trials"][0]["summary"]["worlds"]
    assert per_world["draw1"]["acquisitions"] > per_world["draw0"]["acquisitions"]
    # a draws file naming no scenario parameter is refused with the file and column
    (tmp_path / "fit" / "draws.csv").write_text("draw,channels.channel_a.reech\n0,1\n")
    with pytest.raises(ScenarioError) as err:
        load_optimization(exp, robust=True)
    assert "optimize.robust.posterior" in str(err.value)
    assert "column 'channels.channel_a.reech'" in str(err.value)


TWO_OBJECTIVES = """
name: two_objectives
scenario: {scenario}
replicates: 2
optimize:
  trials: 4
  objectives: [{{kpi: acquisitions}}, {{kpi: cost_per_acquisition, direction: minimize}}]
  parameters: {{channels.channel_a.daily_reach: {{low: 0.001, high: 0.05}}}}
  selection: {{top_k: 3, delta: 5, {ranking}, initial_replicates: 4, max_replicates: 8}}
"""


@pytest.mark.parametrize(
    ("ranking", "best"),
    [("deltas: {cost_per_acquisition: 2}", 0),
     ("weights: {acquisitions: 1, cost_per_acquisition: 3}", 1)],
)
def test_several_objectives_are_selected_honestly(tmp_path: Path, ranking: str, best: int) -> None:
    """The selection stage of a two-objective optimisation on known per-seed KPIs (the runs
    replaced by fixed frames): trial 0 has the most acquisitions, trial 1 the lowest CPA, trial 2
    is worse on both. Screening names each objective's best, separates trial 2 on both and
    recommends the first objective's best; a declared score 1 × acquisitions − 3 × CPA
    recommends trial 1 (score 10 − 3·2 = 4 > 12 − 3·4 = 0) and says it ranked by that score."""
    import pandas as pd

    exp = tmp_path / "two.yaml"
    exp.write_text(TWO_OBJECTIVES.format(scenario=SCENARIO, ranking=ranking), encoding="utf-8")
    opt = Optimization(load_optimization(exp), tmp_path, SerialExecutor())
    means = {"trial-0": (12.0, 4.0), "trial-1": (10.0, 2.0), "trial-2": (6.0, 6.0)}
    noise = np.array([0.3, -0.2, 0.1, -0.4, 0.2, 0.0, -0.1, 0.3])

    def frames(cands, n):
        return {c.label: {"base": pd.DataFrame({
            "acquisitions": means[c.label][0] + noise[:n],
            "cost_per_acquisition": means[c.label][1] + 0.5 * noise[:n]})} for c in cands}

    opt._frames = frames
    rows = [{"number": i, "point": {"channels.channel_a.daily_reach": 0.01 * (i + 1)},
             "feasible": True, "values": [0.0, 0.0],
             "summary": {"acquisitions": {"mean": means[f"trial-{i}"][0]},
                         "cost_per_acquisition": {"mean": means[f"trial-{i}"][1]}}}
            for i in range(3)]
    top = opt.top_candidates(rows)
    selection, cands = opt.select(top)
    record = opt._selection_record(selection, cands)
    assert cands[selection.best].label == f"trial-{best}"
    if "deltas" in ranking:
        by = {o["kpi"]: o for o in record["objectives"]}
        assert by["acquisitions"]["best"] == "trial-0" and by["acquisitions"]["alpha"] == 0.025
        assert by["cost_per_acquisition"]["best"] == "trial-1"
        assert "trial-2" in by["acquisitions"]["separated"]
        assert "trial-2" in by["cost_per_acquisition"]["separated"]
        assert "the best on the first objective (acquisitions)" in record["description"]
    else:
        assert [r["number"] for r in top] == [1, 0, 2]  # ranked by the declared score
        assert record["objectives"] == [] and record["weights"] == {
            "acquisitions": 1.0, "cost_per_acquisition": 3.0}
        assert record["description"].startswith(
            "On the declared score 1 × acquisitions − 3 × cost_per_acquisition: Kim–Nelson")


def test_the_robust_p10_takes_each_objectives_bad_tail(tmp_path: Path) -> None:
    """``robust: {score: p10}`` scores a candidate by its bad tail over the worlds: the 10th
    percentile of acquisitions (maximised) and the 90th of a minimised CPA (the 10th — its
    optimistic tail — was taken for every objective after the first)."""
    import pandas as pd

    from simulation.decide.spec import RobustConfig

    exp = tmp_path / "two.yaml"
    exp.write_text(TWO_OBJECTIVES.format(scenario=SCENARIO,
                                         ranking="deltas: {cost_per_acquisition: 2}"))
    spec = load_optimization(exp)
    spec.config = spec.config.model_copy(
        update={"robust": RobustConfig(scenarios=["other.yaml"], score="p10")})
    opt = Optimization(spec, tmp_path, SerialExecutor())
    worlds = {f"w{i}": pd.DataFrame({"acquisitions": [10.0 * i], "cost_per_acquisition":
                                     [10.0 * i]}) for i in range(11)}
    assert opt._per_seed(worlds, "acquisitions")[0] == pytest.approx(10.0)
    assert opt._per_seed(worlds, "cost_per_acquisition")[0] == pytest.approx(90.0)


def _write(tmp_path: Path, optimize: str, extra: str = "") -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(
        f"name: bad\nscenario: {SCENARIO}\nreplicates: 2\n{extra}optimize:\n{optimize}",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    ("optimize", "where", "says"),
    [
        ("  objectives: [{kpi: acquisitons}]\n  selection: {delta: 1}\n"
         "  parameters: {channels.channel_a.daily_reach: {low: 0, high: 0.1}}\n",
         "optimize.objectives.0.kpi", "unknown KPI 'acquisitons'"),
        ("  objectives: [{kpi: acquisitions}]\n  selection: {delta: 1}\n",
         "optimize", "nothing to decide"),
        ("  objectives: [{kpi: acquisitions}]\n  selection: {delta: 1}\n"
         "  budget: {total: 1000, channels: {channel_a: {low: 800}, channel_b: {low: 800}}}\n",
         "optimize.budget.total", "lower bounds sum to 1,600 > total 1,000"),
        ("  objectives: [{kpi: acquisitions}]\n  selection: {delta: 1}\n"
         "  budget: {total: 1000, channels: {channel_z: {low: 0}}}\n",
         "optimize.budget.channels.channel_z", "unknown channel 'channel_z'"),
        ("  objectives: [{kpi: acquisitions}]\n  selection: {delta: 1}\n"
         "  parameters: {channels.channel_a.daily_rech: {low: 0, high: 0.1}}\n",
         "optimize.parameters.channels.channel_a.daily_rech", "unknown parameter 'daily_rech'"),
        ("  objectives: [{kpi: acquisitions}]\n  selection: {delta: 1}\n"
         "  parameters: {channels.channel_a.daily_reach: {low: 0, high: 3}}\n",
         "optimize.parameters.channels.channel_a.daily_reach", "at 3.0"),
        ("  objectives: [{kpi: acquisitions}, {kpi: spend}]\n  sampler: cmaes\n"
         "  selection: {delta: 1}\n"
         "  parameters: {channels.channel_a.daily_reach: {low: 0, high: 0.1}}\n",
         "optimize.sampler", "cmaes optimises one objective"),
        ("  objectives: [{kpi: acquisitions}]\n  selection: {delta: -1}\n"
         "  parameters: {channels.channel_a.daily_reach: {low: 0, high: 0.1}}\n",
         "optimize.selection.delta", "> 0"),
        ("  objectives: [{kpi: acquisitions}]\n  selection: {delta: 1}\n  trails: 5\n"
         "  parameters: {channels.channel_a.daily_reach: {low: 0, high: 0.1}}\n",
         "optimize.trails", ""),
        ("  objectives: [{kpi: acquisitions}, {kpi: cost_per_acquisition}]\n"
         "  selection: {delta: 1}\n"
         "  parameters: {channels.channel_a.daily_reach: {low: 0, high: 0.1}}\n",
         "optimize.selection", "deltas: {cost_per_acquisition: …}"),
        ("  objectives: [{kpi: acquisitions}, {kpi: cost_per_acquisition}]\n"
         "  selection: {delta: 1, weights: {acquisitons: 1, cost_per_acquisition: 2}}\n"
         "  parameters: {channels.channel_a.daily_reach: {low: 0, high: 0.1}}\n",
         "optimize.selection.weights.acquisitons", "did you mean 'acquisitions'?"),
        ("  objectives: [{kpi: acquisitions}]\n"
         "  selection: {delta: 1, deltas: {spend: 5}}\n"
         "  parameters: {channels.channel_a.daily_reach: {low: 0, high: 0.1}}\n",
         "optimize.selection.deltas", "deltas are for several objectives"),
        ("  objectives: [{kpi: acquisitions}]\n  selection: {delta: 1}\n"
         "  constraints: [{kpi: spend}]\n"
         "  parameters: {channels.channel_a.daily_reach: {low: 0, high: 0.1}}\n",
         "optimize.constraints.0", "give min, max or both"),
    ],
)
def test_bad_optimisation_specs_get_clear_errors(
    tmp_path: Path, optimize: str, where: str, says: str
) -> None:
    with pytest.raises(ScenarioError) as err:
        load_optimization(_write(tmp_path, optimize))
    text = str(err.value)
    assert where in text and says in text, text
    assert "(line " in text or where == "optimize"


def test_missing_section_and_cli_exit_code(tmp_path: Path) -> None:
    path = tmp_path / "none.yaml"
    path.write_text(f"name: none\nscenario: {SCENARIO}\n", encoding="utf-8")
    out = opmatrix("optimize", str(path), "--results", str(tmp_path), timeout=600)
    assert out.returncode == 2
    assert "no 'optimize:' section" in out.stderr
    assert "Traceback" not in out.stderr


def test_the_regret_table_covers_every_objective_or_the_declared_score(tmp_path: Path) -> None:
    """Minimax regret over two worlds with two objectives (acquisitions up, CPA down), known
    by hand: trial 1 is minimax on acquisitions (worst shortfall 2), trial 2 on CPA (0); rows
    sorted by the first objective's regret and each objective's minimax kept. With a declared
    score 1 × acquisitions − 3 × CPA the table is that score's regret (trial 2: 1)."""
    from simulation.decide.report import _regret_table

    worlds = {0: ({"acquisitions": 10, "cost_per_acquisition": 5},
                  {"acquisitions": 4, "cost_per_acquisition": 9}),
              1: ({"acquisitions": 8, "cost_per_acquisition": 6},
                  {"acquisitions": 8, "cost_per_acquisition": 6}),
              2: ({"acquisitions": 6, "cost_per_acquisition": 4},
                  {"acquisitions": 5, "cost_per_acquisition": 5})}
    rows = [{"number": n, "feasible": True, "summary": {"worlds": {"w0": a, "w1": b}}}
            for n, (a, b) in worlds.items()]
    for ranking, expect in (
        ("deltas: {cost_per_acquisition: 2}",
         [(1, {"acquisitions": 2, "cost_per_acquisition": 2}, ["acquisitions"]),
          (0, {"acquisitions": 4, "cost_per_acquisition": 4}, []),
          (2, {"acquisitions": 4, "cost_per_acquisition": 0}, ["cost_per_acquisition"])]),
        ("weights: {acquisitions: 1, cost_per_acquisition: 3}",
         [(2, {"score": 1}, ["score"]), (1, {"score": 5}, []), (0, {"score": 13}, [])]),
    ):
        exp = tmp_path / "two.yaml"
        exp.write_text(TWO_OBJECTIVES.format(scenario=SCENARIO, ranking=ranking))
        opt = Optimization(load_optimization(exp), tmp_path, SerialExecutor())
        table = opt.regret_table(rows)
        assert [(r["trial"], r["regrets"], r["minimax_on"]) for r in table] == expect
        assert [r["max_regret"] for r in table] == [next(iter(e[1].values())) for e in expect]
        weights = ({"acquisitions": 1.0, "cost_per_acquisition": 3.0} if "weights" in ranking
                   else None)
        html = _regret_table({"regret": table, "selection": {"weights": weights},
                              "objectives": [{"kpi": "acquisitions", "direction": "maximize"},
                                             {"kpi": "cost_per_acquisition",
                                              "direction": "minimize"}]})
        if weights:
            assert html.columns == ["trial", "max regret of 1 × acquisitions − 3 × "
                                    "cost_per_acquisition"]
        else:
            assert html.columns == ["trial", "max regret: acquisitions",
                                    "max regret: cost_per_acquisition", "minimax on"]
            assert html.rows[2] == ["2", "4", "¥0", "cost_per_acquisition"]
