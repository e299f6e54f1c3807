"""Experiment figures drawn from real stored runs (small sweeps run here with the serial
executor), checked against the runner's own analysis tables."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.container import ErrorbarContainer
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle

from simulation.plots import experiment_plots as ep
from simulation.plots.run_plots import FigureUnavailable
from simulation.runner import ResultStore, load_experiment
from simulation.runner.analysis import (
    paired_differences,
    pareto_front,
    sensitivity,
    variant_summary,
)
from simulation.runner.executors import SerialExecutor
from simulation.runner.sweep import run_sweep

QUICKSTART = Path("scenarios/quickstart.yaml").resolve()

VARIANTS = f"""
name: plot_variants
scenario: {QUICKSTART}
days: 90
overrides: {{population.size: 800}}
replicates: 3
variants:
  baseline: {{}}
  more_branch: {{channels.branch.daily_reach: 0.006}}
  no_douyin: {{channels.douyin_ads.daily_reach: 0.0}}
baseline: baseline
"""
GRID = f"""
name: plot_grid
scenario: {QUICKSTART}
days: 60
overrides: {{population.size: 600}}
sweep:
  sampler: grid
  parameters:
    channels.branch.daily_reach: {{low: 0.001, high: 0.005, levels: 3}}
    word_of_mouth.imitation: {{values: [0.0, 0.004]}}
"""
SOBOL = """
name: plot_sobol
model: ishigami
sweep:
  sampler: sobol
  samples: 64
  seed: 1
  parameters:
    x1: {low: -3.141592653589793, high: 3.141592653589793}
    x2: {low: -3.141592653589793, high: 3.141592653589793}
    x3: {low: -3.141592653589793, high: 3.141592653589793}
"""


def make_store(root: Path, name: str, text: str) -> ResultStore:
    path = root / f"{name}.yaml"
    path.write_text(text)
    store = ResultStore.for_experiment(load_experiment(path), root / "results")
    report = run_sweep(store, SerialExecutor())
    assert report.failed == 0, report.errors
    return store


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("experiments")
    return {
        "variants": make_store(root, "variants", VARIANTS),
        "grid": make_store(root, "grid", GRID),
        "sobol": make_store(root, "sobol", SOBOL),
    }


@pytest.fixture(autouse=True)
def _close_figures():
    """The figures these tests inspect are never saved, so nothing closes them (pyplot warns
    after 20 open figures in a later test of the same worker): close them after each test."""
    yield
    plt.close("all")


def _bars(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def test_variant_comparison_bars_are_the_means(stores):
    runs = stores["variants"].runs_frame()
    fig = ep.variant_comparison(runs, ("conversion_rate", "cost_per_acquisition"))
    ax_conv, ax_cpa = fig.axes
    means = runs.groupby("variant", sort=False)["conversion_rate"].mean()
    heights = [b.get_height() for b in _bars(ax_conv)]
    assert heights == pytest.approx((100 * means).to_list())
    assert [t.get_text() for t in ax_conv.get_xticklabels()] == ["baseline", "more_branch",
                                                                  "no_douyin"]
    assert ax_conv.get_ylabel() == "conversion rate (%)"
    assert ax_cpa.get_ylabel() == "cost per acquisition (¥)"
    assert "n = 3 replicates" in ax_conv.get_title()
    summary = variant_summary(runs, ["conversion_rate"]).set_index("variant")
    errorbars = next(c for c in ax_conv.containers if isinstance(c, ErrorbarContainer))
    segments = errorbars.lines[2][0].get_segments()
    drawn = np.array([(seg[0][1], seg[1][1]) for seg in segments])
    assert drawn == pytest.approx(100 * summary[["ci_low", "ci_high"]].to_numpy())


def test_forest_rows_match_paired_differences(stores):
    runs = stores["variants"].runs_frame()
    fig = ep.paired_forest(runs, "baseline", ("conversion_rate",))
    ax = fig.axes[0]
    diffs = paired_differences(runs, "baseline", ["conversion_rate"]).set_index("variant")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["more_branch", "no_douyin"]
    xs = [line.get_xdata()[0] for line in ax.get_lines() if line.get_marker() == "o"]
    assert xs == pytest.approx((100 * diffs.loc[["more_branch", "no_douyin"], "mean_diff"])
                               .to_list())
    zero = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert zero and zero[0].get_xdata()[0] == 0
    with pytest.raises(FigureUnavailable, match="baseline"):
        ep.paired_forest(runs, "no_such_variant", ("conversion_rate",))


def test_a_forest_panel_with_no_difference_reads_zero(stores):
    """Variants that do not move a share (here set equal): the panel spans at least 1 pp and
    its ticks read 0 pp and ±0.5 pp, not "-0.0 pp, +0.0 pp, +0.0 pp" from a range of nothing."""
    runs = stores["variants"].runs_frame().copy()
    runs["retention_90d"] = 0.98
    fig = ep.paired_forest(runs, "baseline", ("retention_90d",))
    fig.canvas.draw()
    ax = fig.axes[0]
    low, high = ax.get_xlim()
    assert high - low >= ep.MIN_PP_SPAN
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert "0 pp" in ticks and len(ticks) == len(set(ticks)) and "0.0" not in " ".join(ticks)
    assert ep._pp_tick(-0.4) == "\u22120.4 pp" and ep._pp_tick(1.25) == "+1.2 pp"


def test_frontier_highlights_the_undominated_arms(stores):
    runs = stores["grid"].runs_frame()
    arms = ep.arm_means(runs, ("cost_per_acquisition", "conversion_rate")).dropna()
    expected = int(pareto_front(arms).sum())
    fig = ep.cpa_conversion_frontier(runs)
    ax = fig.axes[0]
    frontier = [line for line in ax.get_lines() if line.get_label().startswith("Pareto")]
    assert len(frontier) == 1
    assert len(frontier[0].get_xdata()) == expected
    assert frontier[0].get_label() == f"Pareto frontier ({expected} arms)"
    assert np.all(np.diff(frontier[0].get_xdata()) >= 0)  # drawn cheapest first
    dots = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert sum(len(c.get_offsets()) for c in dots) == len(arms) == 6
    assert "lower is better" in ax.get_xlabel()


def test_retention_curves_have_a_band_per_variant(stores):
    fig = ep.retention_curves(stores["variants"].daily_frame())
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["baseline", "more_branch",
                                                            "no_douyin"]
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 3
    for band in bands:
        ys = band.get_paths()[0].vertices[:, 1]
        assert ys.max() <= 100.0 + 1e-9 and ys.min() >= 0.0


def test_heatmap_cells_are_the_grid_means(stores):
    runs = stores["grid"].runs_frame()
    fig = ep.sweep_heatmap(runs, "conversion_rate")
    ax = fig.axes[0]
    image = next(a for a in ax.get_children() if isinstance(a, AxesImage))
    grid = image.get_array()
    assert grid.shape == (2, 3)  # imitation (rows) × branch reach (columns)
    x_col, y_col = "param:channels.branch.daily_reach", "param:word_of_mouth.imitation"
    means = runs.groupby([y_col, x_col])["conversion_rate"].mean().unstack()
    assert np.asarray(grid) == pytest.approx(100 * means.to_numpy())
    assert ax.get_xlabel() == "channels.branch.daily_reach"
    assert ax.get_ylabel() == "word_of_mouth.imitation"
    assert len(ax.texts) == 6 and all(t.get_text().endswith("%") for t in ax.texts)
    with pytest.raises(FigureUnavailable, match="two parameters"):
        ep.sweep_heatmap(stores["variants"].runs_frame())


def test_tornado_orders_parameters_by_total_index(stores):
    sens = sensitivity(stores["sobol"], "y")
    fig = ep.sensitivity_tornado(sens)
    ax = fig.axes[0]
    st_ = sens[sens["index"] == "ST"].set_index("parameter")["value"]
    assert [t.get_text() for t in ax.get_yticklabels()] == st_.sort_values().index.to_list()
    assert len(_bars(ax)) == 6  # ST and S1 for three parameters
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["ST (total)", "S1 (first order)"]
    assert "sobol index" in ax.get_xlabel()
    with pytest.raises(FigureUnavailable):
        ep.sensitivity_tornado(sens.iloc[0:0])


def test_heatmap_bins_continuous_designs_by_quantile():
    rng = np.random.default_rng(0)
    n = 400
    runs = pd.DataFrame({
        "variant": "base", "status": "done", "sample_id": np.arange(n),
        "param:a": rng.uniform(0, 1, n), "param:b": rng.uniform(10, 20, n),
    })
    runs["conversion_rate"] = 0.1 * runs["param:a"] + 0.001 * runs["param:b"]
    fig = ep.sweep_heatmap(runs, "conversion_rate", max_levels=4)
    ax = fig.axes[0]
    grid = next(a for a in ax.get_children() if isinstance(a, AxesImage)).get_array()
    assert grid.shape == (4, 4)
    assert np.all(np.diff(np.asarray(grid), axis=1) > 0)  # rises with a along every row
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert len(labels) == 4 and all("–" in label for label in labels)
