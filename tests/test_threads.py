"""Randomness that is keyed per customer slot and per block, and kernels whose results do not
depend on the number of threads (issue 14).

Kernels pick their parallel twin only above ``PARALLEL_MIN_WORK`` elements; these tests lower
it to 0 so that small populations (several 65,536-customer blocks) go through the parallel code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from simulation import OperatingMatrixModel, kernels, load_scenario
from simulation.rng import SlotDraws, quantize_up

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "benchmarks" / "scenarios" / "core_ws.yaml"
PRESET = REPO / "scenarios" / "operating_matrix.yaml"


def _state(model: OperatingMatrixModel) -> dict[str, np.ndarray]:
    pop = model.population
    return {
        "stage": pop.stage.copy(),
        "ring": pop.ring.copy(),
        "converted_day": pop.converted_day.copy(),
        "churned_day": pop.churned_day.copy(),
        "acquired_via": pop.acquired_via.copy(),
        "value_accrued": pop.value_accrued.copy(),
        "recorder_value": model.recorder.value.copy(),
        "stage_counts": model.recorder.stage_counts.copy(),
    }


def _run(path: Path, n: int, days: int, threads: int) -> dict[str, np.ndarray]:
    kernels.set_threads(threads)
    sc = load_scenario(path, [f"population.size={n}", f"days={days}"])
    model = OperatingMatrixModel(sc, seed=5)
    model.run()
    return _state(model)


@pytest.mark.parametrize(("path", "n", "days"), [(CORE, 140_000, 20), (PRESET, 140_000, 12)])
def test_one_and_two_threads_give_identical_runs(parallel_always, path, n, days) -> None:
    if kernels.available_threads() < 2:
        pytest.skip("one core: numba's pool has a single thread")
    one = _run(path, n, days, 1)
    two = _run(path, n, days, 2)
    for key in one:
        assert np.array_equal(one[key], two[key]), key
    assert one["converted_day"].max() > 0  # something happened


@pytest.mark.parametrize(
    ("path", "n", "days"),
    # core_ws: the population-wide kernels; operating_matrix: groups' and advisers' scans
    # too, and its counterfactual world beside the run (16 threads) or after it (1 thread)
    [(CORE, 140_000, 10), (PRESET, 100_000, 5)],
)
def test_sixteen_threads_in_a_fresh_process_give_the_same_summary(
    tmp_path, path, n, days
) -> None:
    """The CLI with --threads 16 (numba's pool forced to 16 on any machine) and --threads 1."""
    summaries = []
    for threads in (1, 16):
        out = tmp_path / f"t{threads}"
        env = {
            **os.environ,
            "NUMBA_NUM_THREADS": "16",
            # the population-wide kernels go parallel; tiny ones stay serial (16 threads on a
            # loaded 2-core machine make every parallel call wait for a time slice)
            "OPMATRIX_PARALLEL_MIN_WORK": "100000",
            "OPMATRIX_CACHE": "off",
        }
        subprocess.run(
            [sys.executable, "-m", "simulation", "run", str(path), "--quiet", "--no-plots",
             "--threads", str(threads), "--out", str(out),
             "--set", f"population.size={n}", "--days", str(days)],
            check=True, env=env, cwd=REPO, capture_output=True,
        )
        summaries.append(json.loads((out / "summary.json").read_text()))
    assert summaries[0] == summaries[1]


def test_block_bernoulli_is_thread_invariant_and_exact_in_distribution(parallel_always) -> None:
    d = SlotDraws(3, "test")
    n, p = 1_000_003, 0.003  # 16 blocks, the last one partial
    kernels.set_threads(1)
    one = d.bernoulli("x", 7, n, p)
    kernels.set_threads(kernels.available_threads())
    many = d.bernoulli("x", 7, n, p)
    assert np.array_equal(one, many)
    assert np.all(np.diff(one) > 0) and one[0] >= 0 and one[-1] < n
    # count: Binomial(n, p) (4 sd); gaps inside a block: Geometric(p) (KS)
    assert abs(one.size - n * p) < 4 * np.sqrt(n * p * (1 - p))
    block = one // kernels.BLOCK_SIZE
    gaps = np.diff(one)[block[1:] == block[:-1]]
    assert gaps.size > 2000
    assert stats.kstest(gaps, stats.geom(p).cdf).pvalue > 1e-3
    # the dense path (p > 0.25) too
    kernels.set_threads(1)
    dense1 = d.bernoulli("y", 7, n, 0.4)
    kernels.set_threads(kernels.available_threads())
    assert np.array_equal(dense1, d.bernoulli("y", 7, n, 0.4))
    assert abs(dense1.size / n - 0.4) < 0.002


def test_tiny_probabilities_terminate_with_no_success() -> None:
    """Gaps beyond int64 (p down to subnormals) end the block: found by hypothesis, where
    ``math.floor`` of a huge float overflowed numba's int64 and the walk never ended."""
    for p in (1e-9, 1e-17, 1e-300, 5e-324):
        assert kernels.bernoulli_slots(7, 600, p).size == 0


def test_slot_uniforms_are_per_slot_and_uniform() -> None:
    d = SlotDraws(11, "lifecycle")
    full = d.uniform("lapse", 40, np.arange(200_000))
    sub = np.sort(np.random.default_rng(0).choice(200_000, 5_000, replace=False))
    # a customer's number does not depend on who else is drawn for (common random numbers)
    assert np.array_equal(d.uniform("lapse", 40, sub), full[sub])
    assert stats.kstest(full, "uniform").pvalue > 1e-3
    assert abs(np.corrcoef(full[:-1], full[1:])[0, 1]) < 0.01
    # other decisions, days, modules and seeds are different numbers
    for other in (
        d.uniform("lapse", 41, np.arange(200_000)),
        d.uniform("ring", 40, np.arange(200_000)),
        SlotDraws(11, "groups").uniform("lapse", 40, np.arange(200_000)),
        SlotDraws(12, "lifecycle").uniform("lapse", 40, np.arange(200_000)),
    ):
        assert abs(np.corrcoef(full, other)[0, 1]) < 0.01
        assert not np.array_equal(full[:10], other[:10])


def test_thinning_hits_each_slots_probability() -> None:
    d = SlotDraws(2, "t")
    n = 400_000
    probs = np.where(np.arange(n) % 2 == 0, 0.01, 0.0025)
    hits = np.zeros(n)
    for day in range(30):
        hits[d.thinned("thin", day, n, 0.01, lambda c: probs[c])] += 1
    for value in (0.01, 0.0025):
        sel = probs == value
        rate = hits[sel].sum() / (30 * sel.sum())
        assert abs(rate - value) < 4 * np.sqrt(value / (30 * sel.sum()))


def test_quantize_up_is_a_power_of_two_bound() -> None:
    for p in (1e-9, 0.0008, 0.0024, 0.25, 0.3, 0.999):
        q = quantize_up(p)
        assert p <= q <= min(1.0, 2 * p) and np.log2(q) == round(np.log2(q))
    assert quantize_up(0.0) == 0.0 and quantize_up(1.5) == 1.0


def test_bad_thread_settings_are_refused(monkeypatch) -> None:
    monkeypatch.setenv(kernels.THREADS_ENV, "many")
    with pytest.raises(ValueError, match="OPMATRIX_THREADS"):
        kernels.default_threads()
    monkeypatch.setenv(kernels.THREADS_ENV, "0")
    with pytest.raises(ValueError, match="at least 1"):
        kernels.default_threads()
    monkeypatch.setenv(kernels.THREADS_ENV, "64")
    assert kernels.default_threads() == kernels.available_threads()


def test_worlds_beside_the_run_give_the_same_summary() -> None:
    """With more than one kernel thread a run's counterfactual and leave-one-out worlds step
    on background threads beside it (incremental.WorldsAhead): the summary, contributions
    included, is the same as one world after another on one thread."""
    from simulation.api import run

    if kernels.available_threads() < 2:
        pytest.skip("one core: numba's pool has a single thread")
    sc = load_scenario(
        REPO / "scenarios" / "quickstart.yaml",
        ["population.size=6000", "days=40", "incrementality.contributions=leave_one_out"],
    )
    before = kernels.threads()
    try:
        kernels.set_threads(1)
        one = run(sc, 3).summary
        kernels.set_threads(kernels.available_threads())
        many = run(sc, 3).summary
    finally:
        kernels.set_threads(before)
    assert json.dumps(one, sort_keys=True, default=str) == json.dumps(
        many, sort_keys=True, default=str
    )
    assert "contributions" in one and one["organic_acquisitions"] is not None


@pytest.mark.parametrize("n", [0, 1, 65_535, 65_537, 200_003])
def test_block_scans_equal_numpy_on_any_thread_count(parallel_always, n) -> None:
    """The block-parallel population scans (where_equal / where_at_least / changed_slots /
    replace_value, value accrual's unit-weight path) give numpy's answer, whatever the
    threads, across block edges."""
    rng = np.random.default_rng(n)
    stage = rng.integers(0, 8, n).astype(np.int8)
    prev = stage.copy()
    prev[::7] = 0
    ring = rng.integers(0, 3, n).astype(np.int8)
    prev_ring = ring.copy()
    prev_ring[::5] = 2
    group = np.where(rng.random(n) < 0.3, rng.integers(0, 9, n), -1).astype(np.int32)
    daily = rng.random(n)
    segment = rng.integers(0, 3, n).astype(np.int16)
    for threads in (1, 2):
        kernels.set_threads(threads)
        assert np.array_equal(kernels.where_equal(stage, np.int8(3)), np.flatnonzero(stage == 3))
        assert np.array_equal(
            kernels.where_at_least(group, np.int32(0)), np.flatnonzero(group >= 0)
        )
        assert np.array_equal(
            kernels.changed_slots(stage, prev, ring, prev_ring),
            np.flatnonzero((stage != prev) | (ring != prev_ring)),
        )
        a, b = stage.copy(), stage.copy()
        kernels.replace_value(a, np.int8(3), np.int8(4))
        b[b == 3] = 4
        assert np.array_equal(a, b)
        v1, v2 = np.zeros(n), np.zeros(n)
        s1 = kernels.accrue_value(stage, 3, 6, daily, segment, np.ones(n), v1, 3, True)
        s2 = kernels.accrue_value(stage, 3, 6, daily, segment, np.ones(n), v2, 3, False)
        assert np.array_equal(s1, s2) and np.array_equal(v1, v2)


@pytest.mark.parametrize("n", [1, 65_537, 200_003])
def test_population_passes_equal_numpy_on_any_thread_count(parallel_always, n) -> None:
    """The daily passes over every customer that left numpy (the data collector's count,
    contact fatigue's decay, the lifecycle's thinning bound, word of mouth's advocate
    recount and hazard) give numpy's bits on 1 and 2 threads, across block edges."""
    rng = np.random.default_rng(n)
    converted = np.where(rng.random(n) < 0.4, rng.integers(-1, 50, n), -1).astype(np.int32)
    fatigue = rng.random(n).astype(np.float32)
    hazard = rng.random(n).astype(np.float32)
    stage = rng.integers(0, 8, n).astype(np.int8)
    yesterday = (np.roll(stage, 3) >= 3) & (np.roll(stage, 3) <= 5)
    decay = np.float32(0.5 ** (1 / 3))
    for threads in (1, 2):
        kernels.set_threads(threads)
        assert kernels.count_at_least(converted, 1) == np.count_nonzero(converted >= 1)
        a, b = fatigue.copy(), fatigue.copy()
        kernels.scale_inplace(a, decay)
        b *= decay
        assert a.dtype == np.float32 and a.tobytes() == b.tobytes()
        c = hazard.astype(np.float64)
        kernels.scale_inplace(c, 0.3)  # a Python float: numpy's in-place product
        assert c.tobytes() == (hazard.astype(np.float64) * 0.3).tobytes()
        adv = yesterday.copy()
        now, changed, sign = kernels.advocate_changes(stage, adv, 3, 5)
        want = (stage >= 3) & (stage <= 5)
        assert np.array_equal(now, want)
        assert np.array_equal(changed, np.flatnonzero(want != yesterday))
        assert np.array_equal(sign, np.where(want[changed], 1, -1).astype(np.int32))
        cand = np.flatnonzero(rng.random(n) < 0.5)  # 2 blocks of candidates at n = 200,003
        inv_degree = 1.0 / rng.integers(1, 20, n)
        for counts in (rng.integers(0, 9, n).astype(np.int32), rng.random(n) * 5):
            want_h = np.where(stage[cand] <= 2, 0.01 * counts[cand] * inv_degree[cand], 0.0)
            for p_max in (0.01, 0.005):  # the bound and below it (some always kept)
                keep = kernels.uniform_at(99, cand) * p_max < want_h
                got = kernels.wom_adopt(cand, counts, inv_degree, stage, 0.01, 2, 99, p_max)
                assert got.dtype == np.int64 and np.array_equal(got, cand[keep])


def test_group_kernels_are_thread_invariant_across_blocks(parallel_always) -> None:
    """Groups' member passes (mutes, sentiment mixing, posts) on ~3 blocks of members: the
    parallel twins on 2 threads give the serial pass's members, in order, and its values."""
    rng = np.random.default_rng(7)
    n = 400_000
    members = np.flatnonzero(rng.random(n) < 0.5)
    n_groups = 40
    group = np.full(n, -1, dtype=np.int32)
    group[members] = rng.integers(0, n_groups, members.size)
    muted0 = rng.random(n) < 0.3
    adviser = np.where(rng.random(n) < 0.2, 1, -1).astype(np.int32)
    koc = rng.random(n) < 0.05
    sent0 = np.where(rng.random(n) < 0.5, rng.random(n), 0.0).astype(np.float32)
    stage = rng.integers(0, 8, n).astype(np.int8)
    segment = rng.integers(0, 3, n).astype(np.int16)
    k = kernels.count_false(members, muted0)
    u, u2 = rng.random(k), rng.random(k)
    p_conv = np.array([0.1, 0.3, 0.5])

    def once(threads: int, min_work: int):
        kernels.PARALLEL_MIN_WORK = min_work
        kernels.set_threads(threads)
        muted, sent = muted0.copy(), sent0.copy()
        mutes = kernels.group_mutes(members, muted, adviser, True, False, 0.2, 0.5, u)
        moved, s = kernels.group_sentiment(members, group, sent, koc, n_groups, 0.3, 0.7, 0.95)
        k2 = kernels.count_false(members, muted)
        won, back = kernels.group_post_effects(
            members, muted, sent, stage, segment, p_conv, 0.2, u[:k2], u2[:k2], 3, 6, 7
        )
        return mutes, muted, moved, s, sent, won, back

    serial = once(1, 1 << 40)
    parallel = once(2, 0)
    assert serial[2] and serial[0].size > 0 and serial[5].size > 0 and serial[6].size > 0
    for a, b in zip(serial, parallel, strict=True):
        assert np.array_equal(a, b)


def _book(m: int, n: int, rng: np.random.Generator) -> dict:
    """Random money accounts of ``m`` customers of an ``n``-customer population."""
    f = lambda: rng.random(m) * 1000.0  # noqa: E731
    loan_a = f()
    return {
        "idx": rng.permutation(n)[:m].astype(np.int64), "savings": f(), "pool": f(),
        "target": f(), "salary": f(), "wealth_w": rng.random(m) * 1e-4,
        "wshare": rng.random(m), "card_spend": f(), "loan_a": loan_a,
        "loan_b": loan_a / rng.integers(30, 400, m), "default_int": rng.integers(0, 60, m),
        "log_keep": np.zeros(m), "int_sav": np.zeros(m), "int_pool": np.zeros(m),
        "int_spend": np.zeros(m), "int_out": np.zeros(m), "losses": np.zeros(m),
        "s_in": np.zeros(m), "p_in": np.zeros(m),
    }


@pytest.mark.parametrize("vm_mode", [0, 2, 3])
def test_money_accounts_are_thread_invariant_and_summed_in_block_order(
    parallel_always, monkeypatch, vm_mode
) -> None:
    """The money layer's account pass on several blocks of accounts: 1 and 2 threads give
    the same accounts and totals; every total is the blocks' sequential sums added in block
    order; per account the numbers do not depend on the blocks; two multipliers read at the
    customer (mode 3) equal numpy's product of the two gathers (mode 2)."""
    monkeypatch.setattr(kernels, "BLOCK_SIZE", 1000)
    rng = np.random.default_rng(vm_mode)
    n, m, day = 9000, 3501, 20
    stage = rng.integers(0, 8, n).astype(np.int8)
    ring = rng.integers(0, 4, n).astype(np.int8)
    keep = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.97, 0.9, 0.0])
    vm1, vm2 = 1.0 + rng.random(n) * 0.2, 1.0 + rng.random(n) * 0.1
    book0 = _book(m, n, rng)

    def once(threads: int, mode: int) -> tuple:
        kernels.set_threads(threads)
        b = {k: v.copy() for k, v in book0.items()}
        vm = {0: np.zeros(0), 2: vm1[b["idx"]] * vm2[b["idx"]], 3: vm1}[mode]
        tot = kernels.money_book_day(
            b["idx"], stage, ring, keep, np.log(np.maximum(keep, 1e-300)),
            np.linspace(0.5, 1.0, 8), np.array([0.0, 0.8, 1.0, 1.3]), b["savings"],
            b["pool"], b["target"], b["salary"], b["wealth_w"], b["wshare"],
            b["card_spend"], b["loan_a"], b["loan_b"], b["default_int"], b["log_keep"],
            b["int_sav"], b["int_pool"], b["int_spend"], b["int_out"], b["losses"],
            b["s_in"], b["p_in"], day, True, True, True, True, True, 0.4, 0.05, 0.98, 0.6,
            vm, mode, 0.02, vm2 if mode == 3 else None,
        )
        return tot, b

    tot1, b1 = once(1, vm_mode)
    tot2, b2 = once(2, vm_mode)
    assert tot1 == tot2 and tot1[8] > 0  # defaults happened
    for k in b1:
        assert b1[k].tobytes() == b2[k].tobytes(), k

    def block_order(x: np.ndarray) -> float:
        total = 0.0
        for lo in range(0, m, 1000):
            total += float(np.cumsum(x[lo:lo + 1000])[-1])  # the block's sequential sum
        return total

    names = kernels.MONEY_TOTALS
    assert tot1[names.index("sav_total")] == block_order(b1["savings"])
    assert tot1[names.index("pool_total")] == block_order(b1["pool"])
    assert tot1[names.index("loans_v")] == block_order(b1["int_out"])  # started at 0
    monkeypatch.setattr(kernels, "BLOCK_SIZE", 1 << 16)  # one block: the sequential pass
    tot_one, b_one = once(2, vm_mode)
    for k in b1:
        assert b1[k].tobytes() == b_one[k].tobytes(), k
    assert np.allclose(tot1, tot_one, rtol=1e-12, atol=0.0)
    assert tot_one[names.index("sav_total")] == float(np.cumsum(b_one["savings"])[-1])
    if vm_mode == 3:
        monkeypatch.setattr(kernels, "BLOCK_SIZE", 1000)
        tot_g, b_g = once(2, 2)
        assert tot_g == tot1
        for k in b1:
            assert b1[k].tobytes() == b_g[k].tobytes(), k


def test_openmp_threads_wait_passively_unless_told_otherwise() -> None:
    """kernels sets OMP_WAIT_POLICY=PASSIVE before numba loads libgomp (spinning threads took
    the busy machine's cores: docs/performance.md); a value the user set is kept."""
    code = "import os, simulation.kernels; print(os.environ['OMP_WAIT_POLICY'])"
    for given, want in ((None, "PASSIVE"), ("ACTIVE", "ACTIVE")):
        env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
        if given is not None:
            env["OMP_WAIT_POLICY"] = given
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True)
        assert out.stdout.strip() == want
