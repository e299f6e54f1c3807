"""Bring-your-own data: customer tables and edge lists as population and graph (issue 12)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulation.errors import ScenarioError
from simulation.model import OperatingMatrixModel
from simulation.population.stages import Ring, Stage
from simulation.scenario.load import load_scenario

SEGMENTS = """\
  segments:
    young: {share: 0.5, age_bands: {"18-35": 1.0}, digital_affinity: {mean: 0.8, sd: 0.1}}
    old: {share: 0.5, age_bands: {"36-60": 0.5, "60+": 0.5}, rings: {outer: 0.0, inner: 1.0}}
"""


def customers_frame(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    seg = np.where(np.arange(n) % 2 == 0, "young", "old")
    return pd.DataFrame(
        {
            "cust": [f"c{i:03d}" for i in range(n)],
            "seg": seg,
            "city": rng.choice(["Shanghai", "Beijing", "Wuhan"], size=n, p=[0.5, 0.3, 0.2]),
            "age_band": np.where(seg == "young", "18-35", "60+"),
            "stage": np.where(np.arange(n) % 4 == 0, "active", "unaware"),
            "churn_hazard": 0.01,
            "note": "x",
        }
    )


def write_scenario(
    folder: Path, extra: str = "", columns: str = "{id: cust, segment: seg}"
) -> Path:
    text = (
        "name: byod\ndays: 5\npopulation:\n  source: customers.csv\n"
        f"  columns: {columns}\n  ignore_columns: [note]\n{SEGMENTS}{extra}"
    )
    path = folder / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return str(info.value)


def test_customer_table_becomes_the_population(tmp_path: Path) -> None:
    frame = customers_frame()
    frame.to_csv(tmp_path / "customers.csv", index=False)
    sc = load_scenario(write_scenario(tmp_path))
    assert sc.population.size == 40  # from the file
    assert sc.population.source == str((tmp_path / "customers.csv").resolve())
    assert sc.population.source_sha256
    pop = OperatingMatrixModel(sc, seed=3).population
    seg_names = np.array(pop.segment_names)[pop.segment]
    assert (seg_names == frame["seg"].to_numpy()).all()
    # cities coded by frequency: the most common city is 0
    assert (pop.city[frame["city"].to_numpy() == "Shanghai"] == 0).all()
    assert np.allclose(pop.churn_hazard, 0.01)
    active = frame["stage"].to_numpy() == "active"
    assert (pop.stage[active] == Stage.ACTIVE).all() and (pop.converted_day[active] == 0).all()
    assert (pop.stage[~active] == Stage.UNAWARE).all()
    # unmapped traits are drawn from the row's segment (young: mean 0.8; old: default 0.5)
    young = seg_names == "young"
    assert pop.digital_affinity[young].mean() > 0.7 > pop.digital_affinity[~young].mean()
    # rings of stock customers from the segment's shares (old → inner)
    assert (pop.ring[active & ~young] == Ring.INNER).all()


def test_parquet_and_relative_paths_from_another_folder(tmp_path: Path, monkeypatch) -> None:
    customers_frame().drop(columns=["note"]).to_parquet(tmp_path / "customers.parquet")
    text = write_scenario(tmp_path).read_text().replace("customers.csv", "customers.parquet")
    (tmp_path / "scenario.yaml").write_text(text.replace("[note]", "[]"))
    monkeypatch.chdir("/")
    sc = load_scenario(tmp_path / "scenario.yaml")
    assert sc.population.size == 40


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda f: f.assign(churn_hazard=["0.2"] * 39 + ["oops"]), "row 40, column 'churn_hazard'"),
        (lambda f: f.assign(churn_hazard=[0.2] * 38 + [1.5, 2.0]), "rows 39, 40, column 'churn"),
        (lambda f: f.assign(seg=["young"] * 39 + ["retired"]), "unknown segment 'retired'"),
        (lambda f: f.assign(stage=["active"] * 39 + ["churned"]), "'churned' rows cannot start"),
        (lambda f: f.assign(stage=["active"] * 39 + ["won"]), "unknown stage 'won'"),
        (lambda f: f.assign(cust=["c1"] * 40), "duplicate customer id 'c1' (first on row 1)"),
        (lambda f: f.assign(extra_col=1), "column 'extra_col': not mapped to a customer field"),
        (lambda f: f.assign(age_band="18-35"), "age band '18-35' is not one of segment 'old'"),
        (lambda f: f.iloc[:0], "has a header but no data rows"),
    ],
)
def test_bad_customer_tables_name_file_row_and_column(tmp_path: Path, edit, expected) -> None:
    edit(customers_frame()).to_csv(tmp_path / "customers.csv", index=False)
    message = error_of(write_scenario(tmp_path))
    assert message.startswith(f"error in {(tmp_path / 'customers.csv').resolve()}")
    assert expected in message


def test_mapping_errors_and_size_mismatch(tmp_path: Path) -> None:
    customers_frame().to_csv(tmp_path / "customers.csv", index=False)
    assert "population.columns.segment names column 'segment'" in error_of(
        write_scenario(tmp_path, columns="{id: cust, segment: segment}")
    )
    assert "unknown customer field 'tier'" in error_of(
        write_scenario(tmp_path, columns="{id: cust, segment: seg, tier: note}")
    )
    path = write_scenario(tmp_path)
    path.write_text(path.read_text().replace("  source:", "  size: 10\n  source:"))
    assert "has 40 customer rows but population.size is 10" in error_of(path)
    (tmp_path / "customers.csv").unlink()
    assert "customer table file not found" in error_of(write_scenario(tmp_path))


def test_a_pinned_digest_catches_changed_data(tmp_path: Path) -> None:
    customers_frame().to_csv(tmp_path / "customers.csv", index=False)
    path = write_scenario(tmp_path)
    digest = load_scenario(path).population.source_sha256
    path.write_text(path.read_text().replace("  source:", f"  source_sha256: {digest}\n  source:"))
    assert load_scenario(path).population.source_sha256 == digest
    customers_frame(41).to_csv(tmp_path / "customers.csv", index=False)
    assert "the file changed since population.source_sha256 was written" in error_of(path)


def test_weights_become_population_weights_and_their_mean_the_scale(tmp_path: Path) -> None:
    from simulation.model import OperatingMatrixModel

    customers_frame().assign(weight=250.0).to_csv(tmp_path / "customers.csv", index=False)
    assert load_scenario(write_scenario(tmp_path)).population.scale == 250.0
    customers_frame().assign(weight=np.arange(1, 41)).to_csv(
        tmp_path / "customers.csv", index=False
    )
    sc = load_scenario(write_scenario(tmp_path))
    assert sc.population.scale == 20.5
    pop = OperatingMatrixModel(sc, seed=1).population
    assert np.array_equal(pop.weight, np.arange(1, 41, dtype=np.float64))
    assert pop.integral_weights and not pop.unit_weights


def edges_frame() -> pd.DataFrame:
    ids = [f"c{i:03d}" for i in range(40)]
    src = ids[:-1]
    dst = ids[1:]
    layer = ["colleague" if i % 3 else "neighbourhood" for i in range(39)]
    return pd.DataFrame({"from": src, "to": dst, "layer": layer, "weight": 1.0})


GRAPH = (
    "graph:\n  source: edges.csv\n  columns: {src: from, dst: to}\n"
    "  weak_layers: [neighbourhood]\n"
)


def test_edge_list_with_layers_and_a_synthetic_layer(tmp_path: Path) -> None:
    customers_frame().to_csv(tmp_path / "customers.csv", index=False)
    edges = edges_frame()
    edges.to_csv(tmp_path / "edges.csv", index=False)
    sc = load_scenario(write_scenario(tmp_path, GRAPH))
    net = OperatingMatrixModel(sc, seed=1).network
    strong = int((edges["layer"] == "colleague").sum())
    assert net.n_edges == strong
    assert net.weak is not None and net.weak.n_edges == len(edges) - strong
    # c000–c001 is a neighbourhood (weak) tie, c001–c002 a colleague (strong) one
    assert 1 in net.weak.neighbours(0) and 2 in net.neighbours(1)
    combined = GRAPH + "  synthetic: {kind: watts_strogatz, k: 4, p: 0.0}\n"
    net2 = OperatingMatrixModel(load_scenario(write_scenario(tmp_path, combined)), 1).network
    assert net2.n_edges > strong  # the ring lattice adds ties; shared ones are counted once
    assert set(net.neighbours(1)) <= set(net2.neighbours(1))


def test_tie_weights_scale_word_of_mouth_and_where_invitations_go(tmp_path: Path) -> None:
    """Customer 0 has a strong tie (weight 3) to an advocate and a weak one (weight 1) to a
    prospect: its word-of-mouth share is 3/4, not 1/2, and a referral or a shared perk goes
    along the strong tie three times in four."""
    pd.DataFrame({"src": [0, 0, 3], "dst": [1, 2, 4], "weight": [3.0, 1.0, 1.0]}).to_csv(
        tmp_path / "e.csv", index=False
    )
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\ndays: 3\npopulation: {size: 5, segments: {a: {share: 1}}}\n"
        "graph: {source: e.csv}\nword_of_mouth: {imitation: 0.5}\n"
    )
    from simulation.network.social import SocialNetwork
    from simulation.strategies.word_of_mouth import WordOfMouth

    model = OperatingMatrixModel(load_scenario(path), 0)
    net = model.network
    assert net.weights is not None and np.allclose(net.strength, [4, 3, 1, 1, 1])
    ties = net.random_tie(np.zeros(40_000, dtype=np.int64), np.random.default_rng(5))
    assert abs((ties == 1).mean() - 0.75) < 0.01 and set(ties.tolist()) == {1, 2}
    pop = model.population
    pop.stage[:] = Stage.UNAWARE
    pop.stage[1] = Stage.ACTIVE
    wom = next(m for m in model.modules if isinstance(m, WordOfMouth))
    wom.setup()
    assert wom.counts[0] * wom.inv_degree[0] == pytest.approx(0.75)
    pop.stage[1] = Stage.CHURNED  # the advocate leaves: the incremental count follows
    pop.stage[2] = Stage.ACTIVE
    wom._refresh_counts()
    assert wom.counts[0] * wom.inv_degree[0] == pytest.approx(0.25)
    # all weights 1: exactly the unweighted network
    plain = SocialNetwork.from_edges(5, np.array([0, 0]), np.array([1, 2]), np.ones(2))
    assert plain.weights is None


MONEY = """\
money:
  segments:
    young:
      deposits: {balance: {median: 1000.0}, net_interest_margin: 0.02}
      wealth: {adoption: 0.5, share_of_balance: 0.3, fee_low_risk: 0.005, fee_high_risk: 0.015}
    old:
      deposits: {balance: {median: 5000.0}, net_interest_margin: 0.02}
      card: {adoption: 1.0, monthly_spend: {median: 2000.0}, interchange: 0.0045}
"""


def test_balance_and_holding_columns_feed_the_money_layer(tmp_path: Path) -> None:
    frame = customers_frame().assign(
        balance=[float(100 * i) if i % 3 else "" for i in range(40)],
        wealth=[float(10 * i) if i % 3 and i % 2 == 0 else "" for i in range(40)],
        card_spend=[500.0 if i % 2 else "" for i in range(40)],
        stage=["active" if i % 4 < 2 else "unaware" for i in range(40)],
    )
    frame.to_csv(tmp_path / "customers.csv", index=False)
    model = OperatingMatrixModel(load_scenario(write_scenario(tmp_path, MONEY)), seed=2)
    money = model.money
    pop = model.population
    given = np.array([i % 3 != 0 for i in range(40)])
    stock = pop.stage == Stage.ACTIVE
    for s, book in money.books.items():
        m = book.m
        assert m >= 8
        idx = book.idx[:m]
        # a stock customer's day-0 savings are the table's balance where the row has one
        mine = given[idx]
        assert np.allclose(book.savings[:m][mine], 100.0 * idx[mine])
        assert not np.allclose(book.savings[:m][~mine], 100.0 * idx[~mine])  # drawn
        # … and the target gives it back through the ring multiplier
        ringf = book.ring_mult[pop.ring[idx]]
        assert np.allclose((book.target[:m] * ringf)[mine], 100.0 * idx[mine])
        if s == 0:  # young: wealth share = wealth / balance on the rows that give both
            both = mine & (idx % 2 == 0)
            assert np.allclose(book.wshare[:m][both], 0.1)
        else:  # old: the card spend column (odd rows are old)
            assert np.allclose(book.card_spend[:m], 500.0)
    assert stock.sum() == sum(b.m for b in money.books.values())


@pytest.mark.parametrize(
    ("edit", "extra", "expected"),
    [
        (lambda f: f.assign(balance=["-5", *["1"] * 39]), MONEY,
         "row 1, column 'balance': must be ≥ 0 yuan, got -5"),
        (lambda f: f.assign(balance=["lots", *["1"] * 39]), MONEY,
         "row 1, column 'balance': not a number: 'lots'"),
        (lambda f: f.assign(balance=10.0, wealth=[20.0, *[1.0] * 39]), MONEY,
         "row 1, column 'wealth': wealth 20 exceeds the row's balance 10"),
        (lambda f: f.assign(salary=3000.0), MONEY,
         "column 'salary': segment 'young' has no money.segments.young.payroll"),
        (lambda f: f.assign(balance=10.0), "",
         "balances and holdings are mapped, but the scenario has no money section"),
    ],
)
def test_bad_money_columns_name_file_row_and_column(tmp_path: Path, edit, extra,
                                                    expected) -> None:
    edit(customers_frame()).to_csv(tmp_path / "customers.csv", index=False)
    message = error_of(write_scenario(tmp_path, extra))
    assert (tmp_path / "customers.csv").name in message
    assert expected in message


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda f: f.assign(to=[*f["to"][:-1], "zz"]), "row 39, column 'to': unknown customer id"),
        (lambda f: f.assign(to=[*f["to"][:-1], "c038"]), "row 39, column 'from': self-loop"),
        (
            lambda f: pd.concat([f, f.iloc[[4]].rename(columns={"from": "to", "to": "from"})]),
            "row 40, column 'from': duplicate tie 'c005'–'c004' in layer 'colleague' (first on "
            "row 5",
        ),
        (lambda f: f.assign(weight=0.0), "column 'weight': must be > 0"),
        (lambda f: f.assign(layer="colleague"), "weak_layers names layer(s) neighbourhood"),
    ],
)
def test_bad_edge_lists(tmp_path: Path, edit, expected) -> None:
    customers_frame().to_csv(tmp_path / "customers.csv", index=False)
    edit(edges_frame()).to_csv(tmp_path / "edges.csv", index=False)
    message = error_of(write_scenario(tmp_path, GRAPH))
    assert message.startswith(f"error in {(tmp_path / 'edges.csv').resolve()}")
    assert expected in message


def test_edge_list_on_a_synthetic_population_uses_row_numbers(tmp_path: Path) -> None:
    pd.DataFrame({"src": [0, 1, 2], "dst": [1, 2, 3]}).to_csv(tmp_path / "e.csv", index=False)
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\ndays: 3\npopulation: {size: 5, segments: {a: {share: 1}}}\n"
        "graph: {source: e.csv}\n"
    )
    net = OperatingMatrixModel(load_scenario(path), 0).network
    assert net.n_edges == 3 and list(net.neighbours(1)) == [0, 2]
    pd.DataFrame({"src": [0, 7], "dst": [1, 2]}).to_csv(tmp_path / "e.csv", index=False)
    assert (
        "row 2, column 'src': unknown customer id '7' (a synthetic population's ids are its "
        "row numbers 0..4)"
    ) in error_of(path)


def test_cli_bad_data_exits_2_without_traceback(tmp_path: Path) -> None:
    customers_frame().assign(churn_hazard="high").to_csv(tmp_path / "customers.csv", index=False)
    path = write_scenario(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "simulation", "validate", str(path)],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "rows 1, 2, 3 (and 37 more), column 'churn_hazard': not a number: 'high'" in proc.stderr
