"""Issue 15, tracebacks and hangs: every malformed input is a clear error (≤ 3 lines, exit 2)
naming the file and field — bounded before parsing, strict numbers, sizes that fit."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from simulation.errors import ScenarioError
from simulation.scenario.limits import resource_problems
from simulation.scenario.load import MAX_BYTES, scenario_from_dict
from tests.conftest import run_cli, small_scenario_dict


def _refused(*args: str) -> str:
    code, out, err = run_cli(*args)
    assert code == 2, (args, out, err)
    assert "Traceback" not in err and 1 <= len(err.strip().splitlines()) <= 3, err
    return err


def _bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_big_files_and_special_files_are_refused_fast(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("name: x\n" + _bomb())
    exp_bomb = tmp_path / "exp.yaml"
    exp_bomb.write_text("scenario: quickstart\nreplicates: 1\n" + _bomb())
    for args in (("validate", str(bomb)), ("run", str(bomb)), ("sweep", str(exp_bomb))):
        assert "alias" in _refused(*args)
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# padding\n" * (MAX_BYTES // 10 + 1))
    assert "bytes" in _refused("validate", str(big))
    many = tmp_path / "many.yaml"
    many.write_text("".join(f"k{i}: {i}\n" for i in range(30_000)))
    assert "nodes" in _refused("validate", str(many))
    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 200 + "]" * 200 + "\n")
    assert "nested" in _refused("validate", str(deep))
    pipe = tmp_path / "pipe.yaml"
    os.mkfifo(pipe)
    assert "named pipe" in _refused("validate", str(pipe))
    for dev in ("/dev/zero", "/dev/urandom"):
        assert "device" in _refused("run", dev)
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(tmp_path / "loop2.yaml")
    (tmp_path / "loop2.yaml").symlink_to(loop)
    assert "symlink loop" in _refused("validate", str(loop))
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"name: x\x00\x01")
    assert "not a text file" in _refused("validate", str(binary))


BAD_VALUES = [
    # booleans where numbers are meant
    ("channels__ads__daily_reach", True, "boolean"),
    ("channels__ads__cost_per_contact", True, "boolean"),
    ("population__size", True, "boolean"),
    ("days", True, "boolean"),
    ("advisers__count", True, "boolean"),
    ("advisers__add_rate", True, "boolean"),
    ("channels__wecom__daily_reach", {"payroll": True, "default": 0.1}, "boolean"),
    # non-finite and absurd money and rates
    ("channels__ads__budget", float("inf"), "finite"),
    ("channels__ads__cost_per_contact", 1e308, "±1e+12"),
    ("population__scale", 1e308, "±1e+12"),
    ("advisers__capacity", 10**20, "±1e+12"),
    # sizes that cannot be built
    ("population__cities__count", 10**9, "cities"),
    ("advisers__count", 10**12, "advisers"),
    ("graph__k", 2000, "k ≤"),
]


@pytest.mark.parametrize("path, value, words", BAD_VALUES)
def test_bad_numbers_are_refused_with_the_field_and_bound(path: str, value, words: str) -> None:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(small_scenario_dict(**{path: value}))
    text = str(info.value)
    assert path.replace("__", ".") in text and words in text, text


def test_sizes_and_memory_are_estimated_before_a_run(monkeypatch: pytest.MonkeyPatch) -> None:
    d = small_scenario_dict()
    d["population"]["size"] = 500
    d["graph"] = {"kind": "watts_strogatz", "k": 498, "p": 1.0}  # cannot be rewired
    with pytest.raises(ScenarioError, match="cannot be rewired"):
        scenario_from_dict(d)
    d["graph"] = {"kind": "watts_strogatz", "k": 6, "weak_ties": {"mean_degree": 1e9}}
    with pytest.raises(ScenarioError, match="weak ties"):
        scenario_from_dict(d)
    d = small_scenario_dict()
    d["population"]["scale"] = 1e9  # 2000 × 1e9 people: more than live in China
    with pytest.raises(ScenarioError, match="China"):
        scenario_from_dict(d)
    monkeypatch.setattr("simulation.scenario.limits.available_memory", lambda: 10**13)
    sc = scenario_from_dict(small_scenario_dict(population__size=100_000_000))
    monkeypatch.setattr("simulation.scenario.limits.available_memory", lambda: 8 * 10**9)
    with pytest.raises(ScenarioError, match=r"population\.size: a run needs about \d+\.\d GB"):
        scenario_from_dict(small_scenario_dict(population__size=100_000_000))
    problems = resource_problems(sc, memory=8 * 10**9)
    assert problems and "GB of memory" in problems[0][1] and "8.0 GB free" in problems[0][1]
    assert resource_problems(sc, memory=10**12) == []


def _experiment(tmp_path: Path, body: str) -> Path:
    sc = small_scenario_dict()
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(sc))
    path = tmp_path / "exp.yaml"
    path.write_text("scenario: small.yaml\n" + ("" if "replicates" in body else
                                                 "replicates: 1\n") + body)
    return path


@pytest.mark.parametrize("body, words", [
    ("replicates: 1000000000\n", "runs; an experiment may have at most"),
    ("replicates: true\n", "boolean"),
    ("sweep:\n  sampler: lhs\n  samples: 100000000\n  parameters:\n"
     "    channels.ads.daily_reach: {low: 0, high: 0.1}\n", "lhs points"),
    ("sweep:\n  sampler: sobol\n  samples: 1073741824\n  parameters:\n"
     "    channels.ads.daily_reach: {low: 0, high: 0.1}\n", "sobol points"),
    ("sweep:\n  sampler: morris\n  samples: 100000000\n  parameters:\n"
     "    channels.ads.daily_reach: {low: 0, high: 0.1}\n", "morris points"),
    ("sweep:\n  parameters:\n    channels.ads.daily_reach: {low: 0, high: 0.1, levels: 1000000}\n"
     "    channels.ads.cost_per_contact: {low: 0, high: 1, levels: 1000}\n", "grid points"),
    ("outcomes: []\n", "no outcome"),
    ("variants:\n  '': {}\n", "variant name"),
    ("variants:\n  a: {channels.ads.budget: .inf}\n", "finite"),
    ("variants:\n  a: {channels.adz.daily_reach: 0.1}\n", "did you mean 'ads'"),
    ("variants:\n  a: {channels.wecom_x: {daily_reach: 0.1}}\n", "kind"),
])
def test_bad_experiments_are_refused_before_expanding(
    tmp_path: Path, body: str, words: str
) -> None:
    path = _experiment(tmp_path, body)
    err = _refused("validate", str(path))
    assert words in err and str(path) in err, err


def test_typo_in_a_map_override_is_refused_with_the_closest_match(tmp_path: Path) -> None:
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(small_scenario_dict()))
    err = _refused("validate", str(path), "--set", "channels.wecom_1.daily_reach=0.05")
    assert "did you mean 'wecom'" in err and "existing: ads, wecom" in err
    err = _refused("validate", str(path), "--set", "population.segments.payrol.share=0.4")
    assert "did you mean 'payroll'" in err
    # adding a channel is fine when it says so: with its kind
    code, out, err = run_cli("validate", str(path), "--set", "channels.new.kind=custom",
                             "--set", "channels.new.daily_reach=0.01")
    assert code == 0 and "3 channels" in out, err


def test_other_tracebacks_are_clear_errors(tmp_path: Path) -> None:
    exp = _experiment(tmp_path, "variants:\n  a: {}\n")
    err = _refused("sweep", str(exp), "--executor", "dask", "--address", "not a url",
                   "--results", str(tmp_path / "r"))
    assert "address" in err
    run_dir = tmp_path / "run"
    small = small_scenario_dict(days=3)
    small["population"]["size"] = 200
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(small))
    assert run_cli("run", str(tmp_path / "tiny.yaml"), "-q", "--no-plots", "--out",
                   str(run_dir))[0] == 0
    good = json.loads((run_dir / "summary.json").read_text())
    bad = {"[]": ("", "JSON object"),
           "kpis list": ("kpis", "mapping"),
           "kpis string": ("kpis.spend", "number"),
           "scenario string": ("scenario", "mapping"),
           "seed 1.5": ("seed", "integer")}
    for case, (field, words) in bad.items():
        data = json.loads(json.dumps(good))
        if case == "[]":
            data = []
        elif case == "kpis list":
            data["kpis"] = [1, 2]
        elif case == "kpis string":
            data["kpis"]["spend"] = "12"
        elif case == "scenario string":
            data["scenario"] = "x"
        else:
            data["seed"] = 1.5
        (run_dir / "summary.json").write_text(json.dumps(data))
        err = _refused("report", str(run_dir), "--no-network")
        assert f"summary.json: {field}" in err.replace(": :", ":") and words in err, (case, err)


def test_dashboard_port_in_use_is_a_clear_error() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        err = _refused("dashboard", "quickstart", "--port", str(port))
    assert f"port {port} is already in use" in err


def test_list_items_are_set_by_position_never_appended(tmp_path: Path) -> None:
    """``referral.tiers.1.reward`` sets the second tier (overrides, sweeps, optimize), and a
    position past the end is refused with the allowed range instead of growing the list."""
    from simulation.runner.experiment import apply_paths
    from simulation.scenario.load import load_scenario

    cmb = str(Path(__file__).parents[1] / "scenarios" / "cmb_credit_card.yaml")
    scenario = load_scenario(cmb, overrides=["referral.tiers.1.reward=80"])
    assert [t.reward for t in scenario.referral.tiers][1] == 80
    err = _refused("validate", cmb, "--set", "referral.tiers.7.reward=80")
    assert "'7' is not a position in the list referral.tiers (allowed: 0 to 2)" in err
    err = _refused("validate", cmb, "--set", "referral.tiers.1.rewrd=80")
    assert "rewrd" in err and "reward" in err
    data = {"referral": {"tiers": [{"reward": 30}, {"reward": 60}]}}
    assert apply_paths(data, {"referral.tiers.0.reward": 45})["referral"]["tiers"][0] == {
        "reward": 45}
    assert data["referral"]["tiers"][0] == {"reward": 30}  # a copy: the base is untouched


def test_validate_checks_an_experiments_optimize_section(tmp_path: Path) -> None:
    """A decision variable naming list item 5 of a 3-item list fails at `validate`, before any
    run; the same spec with an existing position (a referral tier's reward) is accepted."""
    repo = Path(__file__).parents[1]
    text = (repo / "experiments" / "cmb_groups_perks_referral.yaml").read_text()
    text = text.replace("scenario: ../scenarios", f"scenario: {repo / 'scenarios'}")
    text = text.replace(
        "    groups.posts_per_week:",
        "    referral.tiers.5.reward: {low: 100, high: 300}\n    groups.posts_per_week:",
    )
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    err = _refused("validate", str(path))
    assert "optimize.parameters.referral.tiers.5.reward" in err and "list of 3" in err
    path.write_text(text.replace("tiers.5.reward", "tiers.2.reward"))
    code, out, err = run_cli("validate", str(path))
    assert code == 0 and "ok experiment" in out, err


def test_memory_estimate_counts_the_worlds_alive_beside_the_run(monkeypatch) -> None:
    """Leave-one-out worlds step beside the run on spare threads (one after another on one
    thread): the estimate counts those alive at once, and the refusal says so and how to
    need less."""
    from simulation.scenario import limits
    from simulation.scenario.load import load_scenario

    monkeypatch.setattr(limits, "available_memory", lambda: 10**18)
    preset = Path(__file__).resolve().parents[1] / "scenarios" / "operating_matrix.yaml"
    sc = load_scenario(preset, ["population.size=100000000",
                                "incrementality.contributions=leave_one_out"])
    plain = load_scenario(preset, ["population.size=100000000",
                                   "incrementality.counterfactual=false"])
    worlds = limits.extra_worlds(sc)
    assert worlds == 1 + 7  # the counterfactual + one per active lever (7 in this preset)
    assert [limits.live_worlds(sc, t) for t in (1, 2, 4, 16)] == [1, 1, 3, worlds]
    assert limits.live_worlds(plain, 16) == 0
    est = {t: limits.estimate_bytes(sc, t) for t in (1, 2, 4, 16)}
    assert est[1] == est[2] < est[4] < est[16]
    per_world = (est[16] - est[1]) / (worlds - 1) / 100_000_000
    assert per_world == limits.BYTES_PER_CUSTOMER_WORLD
    assert limits.estimate_bytes(plain, 16) < est[1]
    # Fits on one thread, not with every world at once on 16.
    memory = int((est[1] + est[16]) / 2 / limits.MEMORY_LIMIT)
    assert limits.resource_problems(sc, memory=memory, threads=1) == []
    problems = limits.resource_problems(sc, memory=memory, threads=16)
    assert problems and problems[0][0] == ("population", "size")
    msg = problems[0][1]
    assert f"the run and {worlds} of its {worlds} counterfactual/ablation worlds alive" in msg
    assert "with --threads 1 the extra worlds run one after another" in msg
    assert "population.scale" in msg


def test_a_set_value_is_blamed_on_the_set_not_on_a_line_of_the_file(tmp_path: Path) -> None:
    """``--set`` on a field under a section the file lacks used to show the parent section's
    line (``money:``), and on a field the file has, the line of the value it replaced. Either
    way the mistake is the override: the message says so and shows no line; a bad value written
    in the file still gets its line."""
    payroll = str(Path(__file__).parents[1] / "scenarios" / "payroll.yaml")
    err = _refused("validate", payroll, "--set", "money.lifetime.window_days=0")
    assert "money.lifetime.window_days (from --set): input should be greater than or equal " \
           "to 1, got 0" in err and "(line" not in err
    err = _refused("validate", payroll, "--set", "population.size=-5", "--set", "days=30")
    assert "population.size (from --set):" in err and "(line" not in err
    err = _refused("validate", payroll, "--set", "money.lifetime={window_days: 0}")
    assert "money.lifetime.window_days (from --set money.lifetime={window_days: 0})" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(payroll).read_text(encoding="utf-8").replace(
        "  size: 20000", "  size: -5", 1), encoding="utf-8")
    err = _refused("validate", str(bad), "--set", "days=30")
    assert "population.size (line " in err and "--set" not in err


def test_validate_warns_when_a_declared_budget_cannot_bind(tmp_path: Path) -> None:
    """quickstart's Douyin budget (¥100,000) is far beyond what its reach can spend at 20,000
    customers, operating_matrix's mix budget beyond what all its channels and routes can:
    validate says so as a warning (exit 0, file, field path and line) — a budget that fits
    gets none. The bound is an upper bound: no channel, and not the mix, spends more in a run."""
    from simulation import load_scenario
    from simulation.model import OperatingMatrixModel
    from simulation.scenario.budgets import channel_spend_bound, mix_spend_bound

    repo = Path(__file__).parents[1]
    quickstart = str(repo / "scenarios" / "quickstart.yaml")
    code, out, err = run_cli("validate", quickstart)
    assert code == 0 and out.startswith("ok scenario quickstart")
    assert f"warning in {quickstart}: channels.douyin_ads.budget (line " in err
    assert "¥100,000 cannot bind: the channel can spend at most ¥1,883 in 365 days" in err
    code, _, err = run_cli("validate", quickstart, "--set", "channels.douyin_ads.budget=1500")
    assert code == 0 and "warning" not in err
    # run says it too before simulating (not with --quiet), so a user who never validates sees it
    small = ["--set", "population.size=300", "--days", "5", "--no-plots"]
    code, _, err = run_cli("run", quickstart, *small, "--out", str(tmp_path / "run"))
    assert code == 0 and f"warning in {quickstart}: channels.douyin_ads.budget (line " in err
    code, _, err = run_cli("run", quickstart, *small, "--quiet", "--out", str(tmp_path / "q"))
    assert code == 0 and "warning" not in err
    matrix = repo / "scenarios" / "operating_matrix.yaml"
    code, _, err = run_cli("validate", str(matrix))
    assert code == 0 and "flows.budget (line " in err and "channel and route" in err
    sc = load_scenario(matrix, ["population.size=3000", "days=60", "flows.budget=1e9"])
    model = OperatingMatrixModel(sc, 1)
    model.run()
    spent = {k: float(v.sum()) for k, v in model.ledger.spend.items()}
    for name in sc.channels:
        bound = channel_spend_bound(sc, name)
        assert bound is not None and spent.get(name, 0.0) <= bound, name
    mix = sum(v for k, v in spent.items()
              if model.ledger.items[k].category in ("channel", "route"))
    assert 0 < mix <= mix_spend_bound(sc)


def test_validate_takes_a_preset_name_as_run_does() -> None:
    """`opmatrix run webank_sme` works; `opmatrix validate webank_sme` said "file not found"."""
    code, out, _ = run_cli("validate", "webank_sme")
    assert code == 0 and out.startswith("ok scenario webank_sme")
    code, out, err = run_cli("validate", "webank_smee")
    assert code == 2 and out == ""
    assert err.startswith("error in webank_smee: no such file or preset; presets: ")
    assert "webank_sme" in err
