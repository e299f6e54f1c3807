"""Analysis rules on hand-made run tables: t-intervals, pairing, Pareto front, ranking, bands."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from simulation.errors import ScenarioError
from simulation.runner.analysis import (
    paired_differences,
    pareto_front,
    parse_constraint,
    rank,
    retention_bands,
    t_interval,
    variant_summary,
)


def runs_table(values: dict[str, list[float]], metric: str = "conversion_rate") -> pd.DataFrame:
    rows = []
    for variant, xs in values.items():
        for rep, x in enumerate(xs):
            rows.append({"variant": variant, "replicate": rep, "seed": 100 + rep, "sample_id": 0,
                         "status": "done", metric: x})
    return pd.DataFrame(rows)


def test_t_interval_matches_scipy() -> None:
    x = [0.10, 0.12, 0.11, 0.15, 0.09]
    n, mean, low, high = t_interval(x)
    ref = stats.t.interval(0.95, 4, loc=np.mean(x), scale=stats.sem(x))
    assert (n, mean) == (5, pytest.approx(0.114))
    assert (low, high) == (pytest.approx(ref[0]), pytest.approx(ref[1]))
    assert np.isnan(t_interval([1.0])[2])
    assert t_interval([np.nan, 2.0, 4.0])[:2] == (2, 3.0)  # missing values (None KPIs) skipped


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=30))
def test_t_interval_contains_its_mean(xs: list[float]) -> None:
    n, mean, low, high = t_interval(xs)
    assert n == len(xs)
    assert low <= mean + 1e-6 * (1 + abs(mean)) and mean - 1e-6 * (1 + abs(mean)) <= high


def test_variant_summary_skips_failed_runs() -> None:
    runs = runs_table({"a": [0.1, 0.2, 0.3], "b": [0.5, 0.7]})
    runs.loc[2, "status"] = "failed"
    out = variant_summary(runs, ["conversion_rate"]).set_index("variant")
    assert out.loc["a", "n"] == 2 and out.loc["a", "mean"] == pytest.approx(0.15)
    assert out.loc["b", "mean"] == pytest.approx(0.6)
    assert list(out.columns) == ["metric", "n", "mean", "ci_low", "ci_high"]


def test_pairing_removes_the_shared_noise() -> None:
    # The replicates differ a lot (seed noise); the variant adds exactly +0.01 in every pair.
    base = [0.10, 0.30, 0.20, 0.50]
    runs = runs_table({"base": base, "better": [b + 0.01 for b in base]})
    diff = paired_differences(runs, "base", ["conversion_rate"]).iloc[0]
    assert diff["n_pairs"] == 4
    assert diff["mean_diff"] == pytest.approx(0.01)
    assert diff["ci_high"] - diff["ci_low"] < 1e-9
    unpaired = variant_summary(runs, ["conversion_rate"]).set_index("variant")
    assert unpaired.loc["base", "ci_high"] > unpaired.loc["better", "ci_low"]  # overlapping


def test_pairs_match_on_seed_not_row_order() -> None:
    runs = runs_table({"base": [1.0, 2.0, 3.0], "v": [2.0, 3.0, 4.0]})
    runs = runs.iloc[[5, 0, 3, 1, 4, 2]].reset_index(drop=True)
    diff = paired_differences(runs, "base", ["conversion_rate"]).iloc[0]
    assert diff["mean_diff"] == pytest.approx(1.0) and diff["ci_low"] == pytest.approx(1.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=25))
def test_pareto_front_is_exactly_the_undominated_rows(points: list[tuple[int, int]]) -> None:
    df = pd.DataFrame(points, columns=["cost_per_acquisition", "conversion_rate"], dtype=float)
    mask = pareto_front(df)
    xs, ys = df["cost_per_acquisition"].to_numpy(), df["conversion_rate"].to_numpy()
    for i in range(len(df)):
        dominated = any(
            xs[j] <= xs[i] and ys[j] >= ys[i] and (xs[j] < xs[i] or ys[j] > ys[i])
            for j in range(len(df))
        )
        assert mask[i] == (not dominated)
    assert mask.any()


def test_rank_with_constraints() -> None:
    rows = []
    for variant, conv, cpa in (("a", 0.30, 250.0), ("b", 0.25, 150.0), ("c", 0.20, 90.0)):
        for rep in range(2):
            rows.append({"variant": variant, "seed": rep, "sample_id": 0, "status": "done",
                         "conversion_rate": conv, "cost_per_acquisition": cpa})
    runs = pd.DataFrame(rows)
    c = parse_constraint("cost_per_acquisition<=200", ["cost_per_acquisition"])
    table = rank(runs, "conversion_rate", [c])
    assert table["variant"].tolist() == ["b", "c", "a"]
    assert table["feasible"].tolist() == [True, True, False]
    assert rank(runs, "conversion_rate")["variant"].tolist() == ["a", "b", "c"]
    assert rank(runs, "cost_per_acquisition")["variant"].tolist() == ["c", "b", "a"]  # minimised


@pytest.mark.parametrize(
    ("text", "message"),
    [("cpa<=3", "unknown metric 'cpa'"), ("roi ~ 3", "expected metric<=number"),
     ("roi<=1.2.3", "is not a number")],
)
def test_bad_constraints(text: str, message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_constraint(text, ["roi", "ltv"])
    assert message in str(info.value)


def test_retention_bands() -> None:
    daily = pd.DataFrame({
        "variant": ["a"] * 4,
        "replicate": [0, 0, 1, 1],
        "day": [0, 1, 0, 1],
        "converted_cumulative": [0.0, 10.0, 0.0, 20.0],
        "churned_cumulative": [0.0, 1.0, 0.0, 4.0],
    })
    bands = retention_bands(daily).set_index("day")
    assert bands.loc[0, "n"] == 0  # nobody won yet
    assert bands.loc[1, "mean"] == pytest.approx((0.9 + 0.8) / 2)
    assert bands.loc[1, "ci_low"] < 0.85 < bands.loc[1, "ci_high"]
