"""Ranking and selection on common random numbers: Kim–Nelson (KN) and OCBA.

A search treats the best *observed* mean as the best; with noisy simulations that is the
candidate with the luckiest draw. The selection stage re-runs the top candidates on more common
seeds until a procedure with a stated guarantee picks one:

- **Kim–Nelson** (Kim & Nelson 2001, *ACM TOMACS* 11:251–273, procedure KN): fully sequential;
  after ``n0`` seeds it estimates the variance of every pairwise difference (so common random
  numbers *help*: correlated candidates have small difference variances), then eliminates a
  candidate as soon as it falls below another by more than a shrinking triangular boundary.
  Under normal observations it selects the best with probability ≥ 1 − α whenever the best is at
  least δ better than the others (indifference zone). Checking the boundary only every few
  seeds (a batch) only delays eliminations, so the guarantee keeps holding.
- **OCBA** (Chen, Lin, Yücesan & Chick 2000, *DEDS* 10:251–270): allocates further seeds in the
  asymptotically optimal ratios ``N_i ∝ (σ_i / d_i)²``, ``N_b = σ_b √(Σ N_i² / σ_i²)`` (with the
  paired-difference σ and ``d_i = max(mean gap, δ)``, so δ only bounds the effort spent on
  near-ties), stopping when the Bonferroni estimate ``1 − Σ_i Φ(−d̄_bi / se_bi)`` of P(the
  selected is the best) reaches 1 − α. That estimate is approximate (plug-in variances,
  optional stopping), unlike KN's guarantee, and near-ties run to the replicate cap; the
  report says so.

**Several objectives.** A guarantee about "the best" needs one order. Two honest ways
(:func:`screen_objectives`, :func:`scalarised`):

- *per-objective screening* (default): the procedure runs on each objective separately, with
  that objective's own indifference zone δ_j (its units) and α/m (Bonferroni over m
  objectives). With probability ≥ 1 − α, *jointly*, on every objective whose best candidate is
  at least δ_j better than each other one, that candidate is the one named (for KN). A
  candidate eliminated on objective j is *separated* on j; the survivors at the cap are not
  (within δ_j, or too noisy to tell). OCBA allocates each objective's seeds by that objective's
  own ratios and stops it at an estimated P(correct selection) P̂_j ≥ 1 − α/m; it eliminates no
  one, so what it offers jointly is the Bonferroni combination of its estimates,
  1 − Σ_j (1 − P̂_j) (:func:`joint_pcs_estimate`) — an estimate (plug-in variances, optional
  stopping), not KN's guarantee. The recommendation is the first (primary) objective's choice —
  the other objectives are reported, not traded off;
- *a declared scalarisation* (``weights``): score = Σ_j w_j · x_j, minimised objectives
  counting negatively, computed per seed, so the procedure's guarantee holds exactly for that
  score (δ in the score's units). The trade-off is the user's, stated in the report.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

#: ``observe({candidate: n})`` → ``{candidate: the first n observations on seeds 0..n−1}``.
Observe = Callable[[dict[int, int]], dict[int, np.ndarray]]


@dataclass
class SelectionResult:
    """What the procedure chose, how sure it is, and what it cost."""

    method: str
    best: int
    survivors: list[int]
    replicates: dict[int, int]
    alpha: float
    delta: float
    resolved: bool  # True: the procedure ended by its own rule (the guarantee applies)
    pcs_estimate: float | None = None
    eliminated_at: dict[int, int] = field(default_factory=dict)

    @property
    def stated_pcs(self) -> float:
        return 1.0 - self.alpha

    def describe(self) -> str:
        if self.method == "kim_nelson":
            if self.resolved:
                return (
                    f"Kim–Nelson: P(correct selection) ≥ {self.stated_pcs:.0%} when the best is "
                    f"≥ {self.delta:g} better (indifference zone)"
                )
            return (
                f"Kim–Nelson stopped at the replicate cap with {len(self.survivors)} candidates "
                f"left: they are not separated at δ = {self.delta:g}; the one with the best "
                "mean is reported, without the guarantee"
            )
        est = "—" if self.pcs_estimate is None else f"{self.pcs_estimate:.1%}"
        tail = "" if self.resolved else " (replicate cap reached before the target)"
        return (
            f"OCBA: estimated P(correct selection) = {est} (target {self.stated_pcs:.0%}, "
            f"allocation at δ = {self.delta:g}){tail}"
        )


def kn_h2(k: int, n0: int, alpha: float) -> float:
    """KN's constant h² = 2η(n0 − 1), with η = ½[(2α/(k − 1))^(−2/(n0 − 1)) − 1]."""
    eta = 0.5 * ((2 * alpha / (k - 1)) ** (-2.0 / (n0 - 1)) - 1.0)
    return 2.0 * eta * (n0 - 1)


def kim_nelson(
    observe: Observe,
    k: int,
    delta: float,
    alpha: float = 0.05,
    n0: int = 10,
    n_max: int = 100,
    step: int = 1,
    maximize: bool = True,
) -> SelectionResult:
    """Procedure KN on ``k`` candidates (0..k−1); larger is better unless ``maximize=False``."""
    if k == 1:
        return SelectionResult("kim_nelson", 0, [0], {0: 0}, alpha, delta, True)
    sign = 1.0 if maximize else -1.0
    h2 = kn_h2(k, n0, alpha)
    obs = {i: sign * v for i, v in observe({i: n0 for i in range(k)}).items()}
    x0 = np.vstack([obs[i][:n0] for i in range(k)])
    diff = x0[:, None, :] - x0[None, :, :]
    s2 = diff.var(axis=2, ddof=1)  # S²_il of the paired differences
    alive = list(range(k))
    used = {i: n0 for i in range(k)}
    eliminated: dict[int, int] = {}
    r = n0
    while True:
        means = {i: float(obs[i][:r].mean()) for i in alive}
        keep = []
        for i in alive:
            ok = True
            for j in alive:
                if j == i:
                    continue
                w = max(0.0, delta / (2 * r) * (h2 * s2[i, j] / delta**2 - r))
                if means[i] < means[j] - w:
                    ok = False
                    break
            if ok:
                keep.append(i)
        for i in set(alive) - set(keep):
            eliminated[i] = r
        alive = keep
        if len(alive) == 1:
            return SelectionResult(
                "kim_nelson", alive[0], alive, used, alpha, delta, True,
                eliminated_at=eliminated,
            )
        if r >= n_max:
            best = max(alive, key=lambda i: means[i])
            return SelectionResult(
                "kim_nelson", best, alive, used, alpha, delta, False, eliminated_at=eliminated
            )
        r = min(n_max, r + step)
        more = observe({i: r for i in alive})
        for i in alive:
            obs[i] = sign * more[i]
            used[i] = r


def ocba(
    observe: Observe,
    k: int,
    delta: float,
    alpha: float = 0.05,
    n0: int = 10,
    n_max: int = 100,
    step: int = 4,
    maximize: bool = True,
) -> SelectionResult:
    """OCBA with paired differences; stops at estimated P(CS within δ) ≥ 1 − α or the cap."""
    sign = 1.0 if maximize else -1.0
    n = {i: n0 for i in range(k)}
    obs = {i: sign * v for i, v in observe(n).items()}
    cap = n_max * k
    while True:
        means = np.array([obs[i][: n[i]].mean() for i in range(k)])
        b = int(np.argmax(means))
        se, sd = np.zeros(k), np.zeros(k)
        for i in range(k):
            m = min(n[i], n[b])
            d = obs[b][:m] - obs[i][:m]
            sd[i] = float(d.std(ddof=1)) if m > 1 else math.inf
            se[i] = sd[i] / math.sqrt(m) if m > 1 else math.inf
        gap = means[b] - means
        terms = [
            stats.norm.cdf(-gap[i] / se[i]) if se[i] > 0 else float(gap[i] <= 0)
            for i in range(k)
            if i != b
        ]
        pcs = 1.0 - float(sum(terms))
        if pcs >= 1 - alpha or sum(n.values()) >= cap:
            return SelectionResult(
                "ocba", b, [b], dict(n), alpha, delta, pcs >= 1 - alpha, pcs_estimate=pcs
            )
        # OCBA ratios on the paired-difference spreads; the best's own spread is that of the
        # hardest rival's difference (the largest (σ_i / d_i)²: what limits telling them
        # apart). Not the smallest spread: a rival whose difference to the best barely varies
        # would then starve the best of seeds, and a paired difference only shrinks when both
        # sides get them, so the procedure would stall at the cap.
        d_i = np.maximum(gap, delta)
        ratio = np.zeros(k)
        for i in range(k):
            if i != b:
                ratio[i] = (max(sd[i], 1e-12) / d_i[i]) ** 2
        others = [i for i in range(k) if i != b]
        sd_b = max(sd[max(others, key=lambda i: ratio[i])], 1e-12)
        ratio[b] = sd_b * math.sqrt(sum(ratio[i] ** 2 / max(sd[i], 1e-12) ** 2 for i in others))
        total = sum(n.values()) + step * k
        target = ratio / ratio.sum() * total
        want = {i: max(0.0, target[i] - n[i]) for i in range(k)}
        budget = step * k
        order = sorted(range(k), key=lambda i: -want[i])
        new_n = dict(n)
        for i in order:
            if budget <= 0:
                break
            add = min(budget, math.ceil(want[i]), n_max - n[i])
            if add > 0:
                new_n[i] = n[i] + add
                budget -= add
        if new_n == n:  # nothing more to allocate under the caps
            return SelectionResult(
                "ocba", b, [b], dict(n), alpha, delta, False, pcs_estimate=pcs
            )
        grow = {i: new_n[i] for i in range(k) if new_n[i] > n[i]}
        more = observe(grow)
        for i, v in more.items():
            obs[i] = sign * v
        n = new_n


def paired_ci(
    a: np.ndarray, b: np.ndarray, level: float = 0.95
) -> tuple[float, float, float, int]:
    """Mean of ``a − b`` over the seeds both have, with its t interval: (mean, low, high, n)."""
    m = min(a.size, b.size)
    d = a[:m] - b[:m]
    d = d[np.isfinite(d)]
    n = int(d.size)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(d.mean())
    if n < 2:
        return mean, math.nan, math.nan, n
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * d.std(ddof=1) / math.sqrt(n))
    return mean, mean - half, mean + half, n


def mean_ci(x: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if x.size < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return mean, mean - half, mean + half


@dataclass
class ObjectiveScreen:
    """One objective's own selection run (per-objective screening)."""

    kpi: str
    direction: str
    delta: float
    result: SelectionResult

    def separated(self) -> list[int]:
        """Candidates shown worse on this objective (eliminated), in candidate order."""
        return sorted(self.result.eliminated_at)


def screen_objectives(
    observe_kpi: Callable[[str, dict[int, int]], dict[int, np.ndarray]],
    kpis: list[str],
    directions: list[str],
    deltas: list[float],
    procedure: Callable[..., SelectionResult],
    alpha: float,
    **kw: object,
) -> list[ObjectiveScreen]:
    """Run ``procedure`` (:func:`kim_nelson` or :func:`ocba`) on each objective separately, at
    α/m each (Bonferroni: jointly ≥ 1 − α), each with its own δ and direction."""
    m = len(kpis)
    out = []
    for kpi, way, delta in zip(kpis, directions, deltas, strict=True):
        def observe(want: dict[int, int], kpi: str = kpi) -> dict[int, np.ndarray]:
            return observe_kpi(kpi, want)

        res = procedure(observe, delta=delta, alpha=alpha / m, maximize=way == "maximize", **kw)
        out.append(ObjectiveScreen(kpi, way, delta, res))
    return out


def scalarised(
    per_kpi: dict[str, np.ndarray], weights: dict[str, float], directions: dict[str, str]
) -> np.ndarray:
    """Σ_j w_j · x_j per seed, minimised objectives counting negatively (larger is better)."""
    total: np.ndarray | None = None
    for kpi, w in weights.items():
        if w == 0:
            continue
        sign = 1.0 if directions[kpi] == "maximize" else -1.0
        term = sign * w * np.asarray(per_kpi[kpi], dtype=float)
        total = term if total is None else total + term
    assert total is not None, "at least one weight > 0 (checked when the spec is loaded)"
    return total


def score_formula(weights: dict[str, float], directions: dict[str, str]) -> str:
    """The declared score as text, e.g. ``1 × acquisitions − 20 × cost_per_acquisition``."""
    parts = []
    for kpi, w in weights.items():
        if w == 0:
            continue
        neg = directions[kpi] != "maximize"
        op = ("− " if neg else "") if not parts else ("− " if neg else "+ ")
        parts.append(f"{op}{w:g} × {kpi}")
    return " ".join(parts)


def joint_pcs_estimate(screens: list[ObjectiveScreen]) -> float | None:
    """OCBA's estimate that every objective's named candidate is its best, jointly: by
    Bonferroni, at least 1 − Σ_j (1 − P̂_j) over the objectives' own estimates P̂_j (0 at worst).
    Each P̂_j is a plug-in estimate, so this is one too. None when a screen has no estimate
    (Kim–Nelson, whose guarantee is stated instead)."""
    if not screens or any(s.result.pcs_estimate is None for s in screens):
        return None
    miss = sum(1.0 - float(s.result.pcs_estimate) for s in screens)  # type: ignore[arg-type]
    return max(0.0, 1.0 - miss)


def describe_screens(screens: list[ObjectiveScreen], labels: list[str], method: str) -> str:
    """What per-objective screening found and what it guarantees (for the report)."""
    m = len(screens)
    alpha = screens[0].result.alpha * m
    name = "Kim–Nelson" if method == "kim_nelson" else "OCBA"
    zones = ", ".join(f"{s.kpi} {s.delta:g}" for s in screens)
    if method == "kim_nelson":
        claim = (f"with probability ≥ {1 - alpha:.0%}, jointly, every objective whose best "
                 "candidate is at least its δ better than the others has that candidate named")
    else:
        joint = joint_pcs_estimate(screens)
        est = "—" if joint is None else f"{joint:.1%}"
        unresolved = [s.kpi for s in screens if not s.result.resolved]
        short = (f"; below the target because {', '.join(unresolved)} reached the replicate "
                 "cap first" if unresolved else "")
        claim = (f"each objective's seeds are allocated by its own OCBA ratios until its "
                 f"estimated P(correct selection) reaches {1 - alpha / m:.1%}; jointly, by "
                 f"Bonferroni, the estimated P(every objective's best is named) ≥ "
                 f"1 − Σ(1 − P̂_j) = {est} (target {1 - alpha:.0%}{short}) — an estimate "
                 "(plug-in variances, optional stopping), not a guarantee, and OCBA separates "
                 "no candidate")
    per = []
    for s in screens:
        r = s.result
        text = f"{s.kpi} ({s.direction}): {labels[r.best]}"
        if not r.resolved:
            tied = ", ".join(labels[i] for i in r.survivors if i != r.best)
            text += f" (not separated from {tied}: replicate cap)" if tied else " (cap)"
        if r.pcs_estimate is not None:
            text += f", estimated P(CS) {r.pcs_estimate:.1%}"
        per.append(text)
    first = screens[0]
    return (
        f"{name} on each objective separately at α/{m} = {alpha / m:.2%} (δ: {zones}): {claim}. "
        f"Best per objective — {'; '.join(per)}. Recommended: {labels[first.result.best]}, the "
        f"best on the first objective ({first.kpi}); the others are reported, not traded off "
        "(declare selection.weights to rank by a trade-off)"
    )
