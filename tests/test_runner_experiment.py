"""Experiment YAMLs: expansion counts, common random numbers, content hashes, samplers, errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulation.errors import ScenarioError
from simulation.runner import expand, load_experiment
from simulation.runner.samplers import sample_points

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "scenarios" / "quickstart.yaml"


def write(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def small(tmp_path: Path, body: str, name: str = "exp.yaml") -> Path:
    head = f"""
    scenario: {QUICKSTART}
    days: 30
    overrides: {{population.size: 500}}
    """
    return write(tmp_path, textwrap.dedent(head) + textwrap.dedent(body), name)


def error_of(path: Path) -> str:
    with pytest.raises(ScenarioError) as info:
        load_experiment(path)
    text = str(info.value)
    assert len(text.splitlines()) <= 3
    return text


# ---------------------------------------------------------------------------- expansion


def test_variants_times_points_times_replicates(tmp_path: Path) -> None:
    exp = load_experiment(small(tmp_path, """
        replicates: 4
        variants:
          baseline: {}
          cheap_ads: {channels.douyin_ads.cost_per_contact: 0.01}
          no_branch: {channels.branch.daily_reach: 0}
        sweep:
          sampler: grid
          parameters:
            channels.wecom_1to1.daily_reach: {values: [0.01, 0.02, 0.03]}
            word_of_mouth.imitation: {low: 0.0, high: 0.004, levels: 2}
        """))
    specs = expand(exp)
    assert exp.n_runs() == 3 * (3 * 2) * 4 == len(specs)
    assert len(exp.points) == 6
    assert {s.variant for s in specs} == {"baseline", "cheap_ads", "no_branch"}
    assert sorted({s.sample_id for s in specs}) == list(range(6))
    assert exp.baseline == "baseline"
    # Every combination appears once per replicate.
    keys = {(s.variant, s.sample_id, s.replicate) for s in specs}
    assert len(keys) == len(specs)
    assert "3 variant(s) × 6 grid point(s)" in exp.describe()


def test_common_random_numbers_pair_by_replicate(tmp_path: Path) -> None:
    exp = load_experiment(small(tmp_path, """
        replicates: 3
        seed: 100
        variants:
          a: {}
          b: {channels.douyin_ads.daily_reach: 0.02}
        """))
    specs = expand(exp)
    by_rep: dict[int, set[int]] = {}
    for s in specs:
        by_rep.setdefault(s.replicate, set()).add(s.seed)
    assert by_rep == {0: {100}, 1: {101}, 2: {102}}
    # Replicate-major order: an interrupted sweep holds complete pairs first.
    assert [s.replicate for s in specs] == [0, 0, 1, 1, 2, 2]


def test_run_id_hashes_resolved_scenario_and_seed(tmp_path: Path) -> None:
    exp = load_experiment(small(tmp_path, """
        replicates: 2
        variants:
          baseline: {}
          same_as_default: {channels.douyin_ads.daily_reach: 0.01}
          different: {channels.douyin_ads.daily_reach: 0.02}
        """))
    ids = {(s.variant, s.replicate): s.run_id for s in expand(exp)}
    # Setting a value to what the scenario already says resolves to the same run.
    assert ids["baseline", 0] == ids["same_as_default", 0]
    assert ids["baseline", 0] != ids["different", 0]
    assert ids["baseline", 0] != ids["baseline", 1]
    # Stable across loads (content, not object identity or time).
    again = {(s.variant, s.replicate): s.run_id for s in expand(load_experiment(exp.source))}
    assert again == ids


def test_variant_names_do_not_enter_the_hash(tmp_path: Path) -> None:
    one = load_experiment(small(tmp_path, "variants: {x: {lifecycle.forget: 0.01}}\n", "a.yaml"))
    two = load_experiment(small(tmp_path, "variants: {y: {lifecycle.forget: 0.01}}\n", "b.yaml"))
    assert [s.run_id for s in expand(one)] == [s.run_id for s in expand(two)]


@settings(max_examples=15, deadline=None)
@given(
    n_variants=st.integers(1, 4),
    n_values=st.integers(1, 3),
    replicates=st.integers(1, 4),
    seed=st.integers(0, 10_000),
)
def test_expansion_counts_property(
    tmp_path_factory: pytest.TempPathFactory, n_variants: int, n_values: int, replicates: int,
    seed: int,
) -> None:
    tmp = tmp_path_factory.mktemp("prop")
    variants = ", ".join(
        f"v{i}: {{lifecycle.forget: {0.001 * (i + 1)}}}" for i in range(n_variants)
    )
    values = ", ".join(str(0.001 * j) for j in range(n_values))
    exp = load_experiment(small(tmp, f"""
        replicates: {replicates}
        seed: {seed}
        variants: {{{variants}}}
        sweep: {{parameters: {{word_of_mouth.imitation: {{values: [{values}]}}}}}}
        """))
    specs = expand(exp)
    assert len(specs) == n_variants * n_values * replicates
    for s in specs:
        assert s.seed == seed + s.replicate
    # Within a replicate every (variant, point) is distinct and shares the seed.
    assert len({(s.variant, s.sample_id, s.seed) for s in specs}) == len(specs)


# ---------------------------------------------------------------------------- samplers


@pytest.mark.parametrize(
    ("sampler", "samples", "expected"),
    [("random", 7, 7), ("lhs", 10, 10), ("sobol", 8, 8 * (2 + 2)), ("morris", 5, 5 * (2 + 1))],
)
def test_sampler_sizes_and_bounds(
    tmp_path: Path, sampler: str, samples: int, expected: int
) -> None:
    exp = load_experiment(small(tmp_path, f"""
        sweep:
          sampler: {sampler}
          samples: {samples}
          parameters:
            channels.douyin_ads.budget: {{low: 0, high: 200000}}
            channels.branch.daily_reach: {{low: 0.0005, high: 0.004}}
        """))
    assert len(exp.points) == expected
    budgets = np.array([p["channels.douyin_ads.budget"] for p in exp.points])
    reach = np.array([p["channels.branch.daily_reach"] for p in exp.points])
    assert budgets.min() >= 0 and budgets.max() <= 200000
    assert reach.min() >= 0.0005 and reach.max() <= 0.004
    assert expand(exp)[0].scenario is not None


def test_latin_hypercube_hits_every_stratum_once(tmp_path: Path) -> None:
    exp = load_experiment(small(tmp_path, """
        sweep:
          sampler: lhs
          samples: 20
          seed: 3
          parameters:
            lifecycle.forget: {low: 0.0, high: 0.02}
            word_of_mouth.imitation: {low: 0.0, high: 0.01}
        """))
    forget = np.array([p["lifecycle.forget"] for p in exp.points])
    strata = np.floor(forget / 0.02 * 20).astype(int)
    assert sorted(strata) == list(range(20))
    again = sample_points(exp.config.sweep)  # same seed → same design
    assert again == exp.points


def test_integer_parameters_are_rounded(tmp_path: Path) -> None:
    exp = load_experiment(small(tmp_path, """
        sweep:
          sampler: random
          samples: 6
          parameters:
            population.size: {low: 300, high: 900, integer: true}
        """))
    sizes = [p["population.size"] for p in exp.points]
    assert all(isinstance(s, int) and 300 <= s <= 900 for s in sizes)
    assert [s.scenario.population.size for s in expand(exp)] == sizes


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("body", "must_contain"),
    [
        (
            "variants:\n  a: {channels.douyin_ads.budjet: 5}\n",
            ["variants.a.channels.douyin_ads.budjet", "unknown parameter 'budjet'", "budget",
             "(line "],
        ),
        (
            "variants:\n  a: {channels.tiktok.budget: 5}\n",
            ["'tiktok' is not in channels", "douyin_ads"],
        ),
        (
            "variants:\n  a: {channels.branch.conversion_on_contact: 1.5}\n",
            ["variants.a.channels.branch.conversion_on_contact", "probability in [0, 1]"],
        ),
        (
            "sweep:\n  sampler: lhs\n  samples: 5\n  parameters:\n"
            "    lifecycle.forget: {low: 0.01, high: 0.01}\n",
            ["sweep.parameters.lifecycle.forget", "empty range"],
        ),
        ("replicates: 0\n", ["replicates", "greater than or equal to 1"]),
        (
            "variants: {a: {}}\nbaseline: b\n",
            ["baseline", "unknown variant 'b'", "variants: a"],
        ),
        (
            "sweep:\n  sampler: sobol\n  samples: 100\n  parameters:\n"
            "    lifecycle.forget: {low: 0, high: 0.01}\n",
            ["sweep.samples", "power of two"],
        ),
        (
            "sweep:\n  sampler: lhs\n  samples: 4\n  parameters:\n"
            "    lifecycle.forget: {values: [0.1, 0.2]}\n",
            ["values list works with the grid sampler only"],
        ),
        (
            "sweep:\n  sampler: lhs\n  parameters:\n    lifecycle.forget: {low: 0, high: 0.1}\n",
            ["sweep.samples", "required for the lhs sampler"],
        ),
        (
            "sweep:\n  parameters:\n    lifecycle.forget: {low: 0, high: 1.5}\n",
            ["sweep.parameters.lifecycle.forget", "at 1.5", "probability"],
        ),
        ("outcomes: [conversion, roi]\n", ["outcomes.0", "unknown outcome 'conversion'"]),
        ("replicate: 3\n", ["unknown key 'replicate'", "replicates"]),
        ("variants:\n  a: {days.x: 3}\n", ["variants.a.days.x", "no field 'x'"]),
    ],
)
def test_bad_experiment_errors(tmp_path: Path, body: str, must_contain: list[str]) -> None:
    path = small(tmp_path, body)
    text = error_of(path)
    assert text.startswith(f"error in {path}")
    for fragment in must_contain:
        assert fragment in text, text


def test_missing_scenario_file(tmp_path: Path) -> None:
    path = write(tmp_path, "scenario: nowhere.yaml\nreplicates: 2\n")
    text = error_of(path)
    assert "scenario (line 1): scenario file 'nowhere.yaml' not found" in text


def test_scenario_relative_to_experiment_file(tmp_path: Path) -> None:
    (tmp_path / "scen").mkdir()
    (tmp_path / "scen" / "q.yaml").write_text(QUICKSTART.read_text())
    (tmp_path / "exps").mkdir()
    path = write(tmp_path / "exps", "scenario: ../scen/q.yaml\nreplicates: 2\n")
    exp = load_experiment(path)
    assert exp.scenario_path == (tmp_path / "scen" / "q.yaml").resolve()
    assert exp.name == "exp" and exp.n_runs() == 2


def test_test_model_parameters_are_checked(tmp_path: Path) -> None:
    path = write(tmp_path, """
        model: ishigami
        sweep:
          sampler: sobol
          samples: 8
          parameters:
            x1: {low: -3, high: 3}
            x9: {low: -3, high: 3}
        """)
    text = error_of(path)
    assert "sweep.parameters.x9" in text and "valid: x1, x2, x3, a, b" in text


def test_a_variant_may_name_its_own_scenario(tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(QUICKSTART.read_text().replace("name: quickstart", "name: other"))
    exp = load_experiment(small(tmp_path, f"""
        replicates: 2
        variants:
          here: {{}}
          there: {{scenario: {other}, lifecycle.forget: 0.01}}
        """))
    specs = {(s.variant, s.replicate): s for s in expand(exp)}
    there = specs["there", 0].scenario
    assert there is not None and there.name == "other"
    assert there.lifecycle.forget == 0.01 and there.days == 30  # experiment overrides apply too
    assert there.population.size == 500
    assert specs["here", 0].scenario.name == "quickstart"  # type: ignore[union-attr]
    assert specs["here", 0].seed == specs["there", 0].seed
    text = error_of(small(tmp_path, "variants:\n  a: {scenario: missing.yaml}\n", "bad.yaml"))
    assert "variants.a.scenario" in text and "'missing.yaml' not found" in text


@pytest.mark.parametrize("path", sorted((REPO / "experiments").rglob("*.yaml")), ids=str)
def test_shipped_experiments_validate(path: Path) -> None:
    exp = load_experiment(path)
    assert exp.n_runs() >= 2 and exp.describe()
