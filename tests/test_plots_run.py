"""Per-run figures drawn on a small real run, checked for what they show."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.patches import Rectangle

from simulation.model import OperatingMatrixModel
from simulation.plots import run_plots as rp
from simulation.plots.style import STAGE_COLOURS
from simulation.population.stages import STAGE_NAMES
from simulation.result import collect_result
from simulation.scenario.load import load_scenario

OVERRIDES = ["population.size=1500", "days=90"]


@pytest.fixture(autouse=True)
def _close_figures():
    """A figure a test draws to inspect is never saved, so nothing closes it: pyplot keeps it
    until the process ends and warns "More than 20 figures have been opened" in whichever later
    test of the same xdist worker opens the 21st. Close them after each test."""
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("scenarios/quickstart.yaml", OVERRIDES)


@pytest.fixture(scope="module")
def finished(scenario):
    model = OperatingMatrixModel(scenario, 5)
    model.run()
    return model, collect_result(model)


def _bars(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def test_funnel_has_one_panel_per_channel_with_the_ledger_totals(finished):
    _, result = finished
    table = rp.funnel_table(result.ledger)
    fig = rp.funnel_by_channel(result)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == len(table) == 5  # the five quickstart channels
    for ax, row in zip(panels, table.itertuples(), strict=True):
        assert ax.get_title().startswith(row.item)
        steps = [(s, label) for s, label in rp.FUNNEL_STEPS
                 if s in table.columns and (getattr(row, s) > 0 or s == "conversions")]
        widths = [b.get_width() for b in _bars(ax)]
        assert widths == [getattr(row, s) for s, _ in steps]  # the ledger totals, in order
        assert widths[-1] == row.conversions
        labels = [t.get_text() for t in ax.get_yticklabels()]
        assert labels == [label for _, label in steps]
        assert labels[-1] == "converted"
        assert ax.get_xlabel() == "customers (sum over the horizon)"


def test_funnel_unavailable_without_contacts(finished):
    _, result = finished
    empty = type(result)(result.summary, result.daily, result.ledger.iloc[0:0], result.retention)
    with pytest.raises(rp.FigureUnavailable):
        rp.funnel_by_channel(empty)


def test_conversion_retention_one_line_per_segment(finished, scenario):
    _, result = finished
    fig = rp.conversion_retention(result)
    ax_c, ax_r = fig.axes
    assert len(ax_c.get_lines()) == len(ax_r.get_lines()) == len(scenario.segment_names)
    assert "%" in ax_c.get_ylabel() and "%" in ax_r.get_ylabel()
    legend = [t.get_text() for t in ax_r.get_legend().get_texts()]
    assert legend == scenario.segment_names


def test_cost_breakdown_bars_are_the_spend_per_item(finished):
    _, result = finished
    fig = rp.cost_breakdown(result)
    ax_b, ax_t = fig.axes
    spend = result.ledger.groupby("item")["spend"].sum()
    spend = spend[spend > 0].sort_values(ascending=False)
    widths = [b.get_width() for b in _bars(ax_b)]
    assert widths == pytest.approx(spend.to_list())
    assert [t.get_text() for t in ax_b.get_yticklabels()] == spend.index.to_list()
    texts = [t.get_text() for t in ax_b.texts]
    assert all("CPA ¥" in t or "none won" in t or "product cost" in t for t in texts)
    total_line = ax_t.get_lines()[-1]
    assert total_line.get_label() == "total"
    assert total_line.get_ydata()[-1] == pytest.approx(result.summary["spend"])
    assert ax_t.get_ylabel() == "cumulative spend (¥)"


def test_product_costs_have_their_own_category_and_their_part_of_the_cpa(finished):
    """A card's issuance and upkeep win no one by themselves: they are ``product`` costs, shown
    with their part of the run's CPA (the parts of every item add up to the CPA), never as an
    item that won no acquisitions; a ledger stored under ``other`` (older runs) reads the same."""
    model, result = finished
    assert {model.ledger.items[i].category for i in ("card_issuance", "card_maintenance")} == {
        "product"}
    table = rp.cost_table(result)
    assert table["cpa_part"].sum() == pytest.approx(result.summary["cost_per_acquisition"])
    product = table[table["category"] == "product"]
    assert set(product["item"]) == {"card_issuance", "card_maintenance"}
    bars = rp.cost_breakdown(result).axes[0]
    # each bar's label sits at its bar's y, and the y tick there names the item: look labels up
    # by item (two items can share a spend text, e.g. '¥24')
    item_at = {tick.get_position()[1]: tick.get_text() for tick in bars.get_yticklabels()}
    texts = {item_at[t.get_position()[1]]: t.get_text() for t in bars.texts}
    cpa = rp.yuan(result.summary["cost_per_acquisition"])
    for row in product.itertuples():
        label = texts[row.item]
        assert label.startswith(rp.yuan(row.spend) + " · ")
        assert label.endswith(f"product cost: {rp.yuan(row.cpa_part)} of the {cpa} CPA")
        assert "won" not in label
    stale = result.ledger.copy()
    stale["category"] = stale["category"].astype(object)
    stale.loc[stale["item"].isin(product["item"]), "category"] = "other"
    old = type(result)(result.summary, result.daily, stale, result.retention)
    pd.testing.assert_frame_equal(rp.cost_table(old), table, check_dtype=False)
    legend = [t.get_text() for t in rp.cost_breakdown(old).axes[0].get_legend().get_texts()]
    assert "product" in legend and "other" not in legend


def test_ring_migration_shares_and_missing_columns(finished):
    _, result = finished
    fig = rp.ring_migration(result)
    ax_s, ax_b = fig.axes
    layers = [c for c in ax_s.collections if isinstance(c, PolyCollection)]
    assert len(layers) == 3
    assert [t.get_text() for t in ax_s.get_legend().get_texts()] == ["outer", "middle", "inner"]
    # Each segment's bars (first and last day) stack to 100 %.
    lefts = [b.get_x() + b.get_width() for b in _bars(ax_b)]
    assert max(lefts) == pytest.approx(100.0)
    old = type(result)(result.summary, result.daily.drop(columns=list(rp.RING_COLUMNS)),
                       result.ledger, result.retention)
    with pytest.raises(rp.FigureUnavailable, match="ring counts"):
        rp.ring_migration(old)
    assert "ring_migration" not in rp.run_figures(old)


def test_ring_counts_are_the_customers_won_and_not_lost(finished):
    _, result = finished
    d = result.daily
    rings = d[list(rp.RING_COLUMNS)].sum(axis=1)
    assert (rings == d["active"] + d["at_risk"] + d["dormant"]).all()


def test_network_snapshot_samples_and_colours_by_stage(finished):
    model, _ = finished
    fig = rp.network_snapshot(model, max_nodes=200)
    ax = fig.axes[0]
    dots = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert sum(len(c.get_offsets()) for c in dots) == 200
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert all(label.split(" (")[0] in STAGE_NAMES for label in labels)
    assert sum(int(label.split("(")[1].rstrip(")")) for label in labels) == 200
    assert "of 1,500 customers" in ax.get_title()
    g = rp.sample_network(model, 200)
    assert g.number_of_edges() > 100  # a snowball sample keeps ties, not isolated dots
    assert set(STAGE_COLOURS) == set(STAGE_NAMES)


def test_drawing_the_network_does_not_touch_the_model_streams(scenario):
    a = OperatingMatrixModel(scenario, 11)
    b = OperatingMatrixModel(scenario, 11)
    for _ in range(30):
        a.step()
        b.step()
    rp.network_snapshot(a, max_nodes=150)
    a.run()
    b.run()
    assert a.summary() == b.summary()


@settings(max_examples=15, deadline=None)
@given(max_nodes=st.integers(min_value=1, max_value=400), seed=st.integers(0, 10_000))
def test_sample_size_never_exceeds_the_cap(finished, max_nodes, seed):
    model, _ = finished
    g = rp.sample_network(model, max_nodes, seed=seed)
    assert g.number_of_nodes() == max_nodes
    nodes = np.array(list(g.nodes()))
    assert nodes.min() >= 0 and nodes.max() < model.population.n


def test_save_run_figures_writes_every_figure(finished, tmp_path):
    _, result = finished
    paths = rp.save_run_figures(result, tmp_path)
    assert sorted(p.name for p in paths) == sorted(f"{n}.png" for n in rp.RUN_FIGURES)
    assert all(p.stat().st_size > 10_000 for p in paths)
    assert plt.get_fignums() == []  # every figure it drew is closed once written
    old = type(result)(result.summary, result.daily.drop(columns=list(rp.RING_COLUMNS)),
                       result.ledger, result.retention)
    with pytest.raises(rp.FigureUnavailable):
        rp.ring_migration(old)
    assert plt.get_fignums() == []  # a figure the tables do not support opens nothing


def test_ledger_category_colours_tell_apart() -> None:
    """Every two ledger categories differ by a perceptual distance ΔE ≥ 18 (CAM02-UCS) in the
    cost breakdown's bars and lines. The products' #ad494a and the groups' brown were 11 apart
    and read as one colour; the olive of "other" and the pushes' mustard 13."""
    from itertools import combinations

    import colorspacious
    from matplotlib.colors import to_rgb

    from simulation.plots.style import CATEGORY_COLOURS

    for a, b in combinations(CATEGORY_COLOURS, 2):
        distance = colorspacious.deltaE(to_rgb(CATEGORY_COLOURS[a]), to_rgb(CATEGORY_COLOURS[b]),
                                        input_space="sRGB1")
        assert distance >= 18, (a, b, round(float(distance), 1))


def test_money_ticks_never_round_up_into_the_next_unit() -> None:
    """¥999.99 printed "¥1000" beside "¥1.0k" bars, and ticks at ¥12,500 and ¥17,500 read
    "¥12k" and "¥18k": every tier starts where the one below would round into it, and
    thousands keep the decimal they have."""
    assert [rp.yuan(v) for v in (999.4, 999.99, 9_960, 12_500, 17_500, 20_000, 999_499,
                                 999_500, 1_250_000, 13_717_665)] == [
        "¥999", "¥1k", "¥10k", "¥12.5k", "¥17.5k", "¥20k", "¥999k", "¥1M", "¥1.25M", "¥13.7M"]
    assert [rp.yuan(v) for v in (9.99, 9.996, -0.5, -1_500)] == [
        "¥9.99", "¥10", "\u2212¥0.50", "\u2212¥1.5k"]
