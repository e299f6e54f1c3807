"""The money layer: per-customer balances, payroll flows, wealth, cards and loans, and the value
they earn, booked in the ledger every day.

Money is state, value is a flow (DESIGN.md, Phase 2). Each won customer opens an *account*
(a slot in compact per-segment arrays, in the order customers were won), so the daily work
scales with the bank's customers, not with the whole population, and per-segment ledger sums
are plain array sums. Per-customer traits (target balance, salary, risk appetite, card spend,
loan amount, time to default) are drawn once at setup for **every** customer slot of the
population, from the ``money`` stream, so two worlds that share the population (a run and its
counterfactual) give the same customer the same money: common random numbers that survive
changes in who converts.

Daily, after the lifecycle (so today's stage and ring are known), per segment:

1. new accounts of today's conversions (stock customers on day 0 arrive with their balance);
2. payday: salary in; ``savings_share`` joins the savings, the rest enters the payroll pool;
3. savings ramp towards the customer's target × ring multiplier while active; at-risk and
   dormant customers move ``outflow`` of their money out per day, churned customers all of it;
   the payroll pool also drains with the payday outflow hazard and daily spending;
4. value: net interest margin on savings and pool, wealth fees, card interchange and revolving
   interest (net of funding), loan interest (net of funding); losses: card charge-offs
   (expected) and loan defaults (drawn: the customer's time to default);
5. the ledger books each flow per segment; the customer's ``value_accrued`` gets the net value.

Represented customers (population weights, docs/kpis.md "Money and budgets on represented
customers"): a row of weight w stands for w customers, so its account holds w customers' money —
balances, salary, card spend and loan amount are × w when the account opens. Every flow, AUM,
loan volume and ledger value item is then in represented yuan, as spend already is; a customer's
``value_accrued`` stays per customer (the account's value ÷ w), which the KPIs weight by w like
the flat value. With every weight 1 nothing changes.

Value multipliers (declared states with role ``value_multiplier``, e.g. referral's decaying
margin uplift of referred customers) scale what an account *earns* — deposit margin, wealth
fees, card interchange and interest, loan interest — on the day it earns it; balances, spend,
GMV and credit losses are not uplifted (the uplift is a margin uplift).

Asset retention (payroll): the share of a payday's inflow still held 7 / 30 / 90 days later; every
yuan held decays with the same daily factors (stage outflow for savings, plus the pool hazard
for pool money), so a tranche's survival is the product of those factors, tracked as
cumulative logs per account (exact, no per-tranche arrays).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from simulation import kernels
from simulation.accounting import FREE_SOURCES, PRODUCT_CATEGORY
from simulation.money.config import Amount, MoneyConfig, SegmentMoney
from simulation.population.stages import Ring, Stage
from simulation.scenario.types import DAYS_PER_MONTH
from simulation.strategies.base import VALUE_MULTIPLIER

if TYPE_CHECKING:
    from simulation.model import OperatingMatrixModel
    from simulation.strategies.base import Day

DAYS_PER_YEAR = 365.0
MONTH_DAYS = 30  # paydays repeat every 30 days of the run, as the platform caps do (inf.)


def days_since_payday(day: int, payday: int) -> int:
    """Day of the pay cycle: 0 on payday, MONTH_DAYS − 1 on the eve of the next (one
    definition for the money layer, the employers and the lifecycle operations)."""
    return (day - payday) % MONTH_DAYS

#: Days after payday at which asset retention is read: 7 as the published definition (代发留存率,
#: docs/sources.md §2.5), 30 and 90 as the issue asks.
RETENTION_WINDOWS = (7, 30, 90)
_EMPTY = np.zeros(0)  # stand-in for the payday arrays on other days
_GONE = -1.0e4  # log of the keep factor of a churned account (exp → 0, differences stay finite)

#: Ledger revenue items: (item, category). Losses are booked as negative value.
REVENUE_ITEMS: tuple[tuple[str, str], ...] = (
    ("relationship_margin", "margin"),
    ("deposit_margin", "margin"),
    ("wealth_fees", "fee"),
    ("card_interchange", "fee"),
    ("card_interest", "interest"),
    ("loan_interest", "interest"),
    ("card_losses", "loss"),
    ("loan_losses", "loss"),
)
#: Daily state totals per segment the layer records (yuan; ``*_flow`` are per-day flows).
STATE_SERIES = ("aum", "wealth", "loans_outstanding", "gmv_flow", "expected_loss_flow",
                "inflow_flow", "loans_disbursed_flow", "outflow_kept_flow")


def draw_amount(rng: np.random.Generator, spec: Amount, n: int) -> np.ndarray:
    """``n`` log-normal amounts with the spec's median and log-scale sigma."""
    if spec.sigma > 0:
        return (spec.median * rng.lognormal(0.0, spec.sigma, size=n)).astype(np.float64)
    return np.full(n, spec.median, dtype=np.float64)


def _beta(rng: np.random.Generator, mean: float, sd: float, n: int) -> np.ndarray:
    if sd == 0.0 or mean in (0.0, 1.0):
        return np.full(n, mean)
    k = mean * (1.0 - mean) / (sd * sd) - 1.0
    return rng.beta(mean * k, (1.0 - mean) * k, size=n)


@dataclass
class _Cohort:
    """One payday's inflow, waiting to be checked 30 and 90 days later."""

    day: int
    savings_in: np.ndarray  # per account (accounts existing on that payday)
    pool_in: np.ndarray
    log_keep: np.ndarray  # cumulative log keep factor of each account on payday
    pool_log: float  # cumulative log of the pool's own keep factor on payday
    pool_corr: np.ndarray | None = None  # per-account log correction of it (employers' outflow)


class SegmentBook:
    """Compact money arrays of one segment's accounts (won customers, in order of winning)."""

    def __init__(self, s: int, cfg: SegmentMoney, members: np.ndarray,
                 rng: np.random.Generator, money: MoneyConfig, days: int,
                 imported: dict[str, np.ndarray] | None = None,
                 ring: np.ndarray | None = None) -> None:
        self.s = s
        self.cfg = cfg
        self.members = members  # population indices of the segment, ascending
        n = members.size
        self.capacity = n
        # --- traits of every member (drawn for all, in member order: CRN across worlds)
        dep, pay, wealth, card, loan = cfg.deposits, cfg.payroll, cfg.wealth, cfg.card, cfg.loan
        self.t_balance = draw_amount(rng, dep.balance, n) if dep else np.zeros(n)
        self.t_salary = draw_amount(rng, pay.salary, n) if pay else np.zeros(n)
        if wealth:
            holds = rng.random(n) < wealth.adoption
            appetite = _beta(rng, wealth.risk_appetite.mean, wealth.risk_appetite.sd, n)
            self.t_wshare = np.where(holds, wealth.share_of_balance, 0.0)
            spread = wealth.fee_high_risk - wealth.fee_low_risk
            self.t_wfee = wealth.fee_low_risk + spread * appetite
        else:
            self.t_wshare = np.zeros(n)
            self.t_wfee = np.zeros(n)
        if card:
            u = rng.random(n)
            spending = u < card.adoption * card.activation
            self.t_card = np.where(spending, draw_amount(rng, card.monthly_spend, n), 0.0)
            self.t_has_card = u < card.adoption  # holds the card (active or not)
        else:
            self.t_card = np.zeros(n)
            self.t_has_card = np.zeros(n, dtype=bool)
        if loan:
            takes = rng.random(n) < loan.adoption
            self.t_loan = np.where(takes, draw_amount(rng, loan.amount, n), 0.0)
            hazard = -np.log1p(-min(loan.pd, 1.0 - 1e-12)) / DAYS_PER_YEAR
            wait = rng.exponential(1.0, size=n)
            self.t_default = wait / hazard if hazard > 0 else np.full(n, np.inf)
            self.t_loan_age = rng.random(n)  # stock loans are part-way through their term
            self.loan_hazard = hazard
            self.term_days = loan.term_months * DAYS_PER_MONTH
        else:
            self.t_loan = np.zeros(n)
            self.loan_hazard = 0.0
            self.term_days = 1.0
        # --- accounts (compact, first ``m`` slots used)
        self.m = 0
        self.idx = np.zeros(n, dtype=np.int64)
        self.weight = np.ones(n)  # customers each account's row represents
        f = np.zeros
        self.savings = f(n)
        self.target = f(n)
        self.pool = f(n)
        self.salary = f(n)
        self.wshare = f(n)
        self.wfee = f(n)
        self.card_spend = f(n)
        self.loan_amount = f(n)
        self.loan_start = f(n)
        self.loan_end = f(n)
        self.default_day = f(n)
        self.log_keep = f(n)
        self.acquired = np.zeros(n, dtype=bool)  # won during the run (not stock)
        # linear amortisation as outstanding = max(loan_a − loan_b · day, 0); both are zeroed
        # on the default day, so a defaulted loan earns and risks nothing afterwards
        self.loan_a = f(n)
        self.loan_b = f(n)
        self.default_int = np.full(n, -1, dtype=np.int64)
        self.wealth_w = f(n)  # wealth share × fee rate ÷ 365: wealth fee per yuan of savings
        self.sav_k = f(n)  # value per yuan of savings a day: NIM on the deposit part + fee
        # per-account integrals over days (value = coefficients × integrals, see flush)
        self.int_sav = f(n)
        self.int_pool = f(n)
        self.int_spend = f(n)
        self.int_out = f(n)
        self.losses = f(n)
        self.flushed = f(n)
        # --- constants of the segment
        rm = money.ring_multiplier
        self.ring_mult = np.zeros(len(Ring))
        self.ring_mult[[Ring.OUTER, Ring.MIDDLE, Ring.INNER]] = (rm.outer, rm.middle, rm.inner)
        out = money.outflow
        keep = np.zeros(len(Stage))
        keep[[Stage.CONVERTED, Stage.ACTIVE]] = 1.0
        keep[Stage.AT_RISK] = 1.0 - out.at_risk
        keep[Stage.DORMANT] = 1.0 - out.dormant
        self.stage_keep = keep
        with np.errstate(divide="ignore"):
            self.stage_log_keep = np.where(keep > 0, np.log(np.maximum(keep, 1e-300)), _GONE)
        spend = np.zeros(len(Stage))
        spend[[Stage.CONVERTED, Stage.ACTIVE]] = 1.0
        spend[Stage.AT_RISK] = out.at_risk_spend
        self.stage_spend = spend
        self.ramp = 1.0 if dep is None or dep.ramp_days <= 0 else min(1.0, 1.0 / dep.ramp_days)
        self.nim_day = (dep.net_interest_margin if dep is not None else 0.0) / DAYS_PER_YEAR
        if card is not None:
            rev = card.revolving_share / DAYS_PER_YEAR
            self.k_interchange = card.interchange / DAYS_PER_MONTH  # per yuan of monthly spend
            self.k_card_interest = (card.interest_rate - card.funding_cost) * rev
            self.k_card_loss = card.charge_off * rev
        else:
            self.k_interchange = self.k_card_interest = self.k_card_loss = 0.0
        self.k_card = self.k_interchange + self.k_card_interest - self.k_card_loss
        if loan is not None:
            self.k_loan = (loan.interest_rate - loan.funding_cost) / DAYS_PER_YEAR
            self.k_el = self.loan_hazard * loan.lgd
            self.lgd = loan.lgd
        else:
            self.k_loan = self.k_el = self.lgd = 0.0
        self.pool_log = 0.0
        #: employers (strategies/employers.py): per-account outflow multiplier and the
        #: cumulative log correction of the pool's keep factor it causes (None: no employers)
        self.out_mult: np.ndarray | None = None
        self.pool_corr: np.ndarray | None = None
        self.cohorts: list[_Cohort] = []
        #: accounts and their loan value (interest − default losses) at the lifetime window's
        #: start (MoneyLayer._snapshot)
        self.snap_m = 0
        self.snap_loan = np.zeros(0)
        self.retained = {w: 0.0 for w in RETENTION_WINDOWS}
        self.inflow_checked = {w: 0.0 for w in RETENTION_WINDOWS}
        self.t_savings0 = self.t_balance  # savings of a stock account on day 0
        if imported:
            self._import(imported, ring)
        self.has_payroll = pay is not None and bool(self.t_salary.any())

    def _import(self, imported: dict[str, np.ndarray], ring: np.ndarray | None) -> None:
        """A customer table's balances and holdings (simulation/data/customers.py) replace the
        drawn traits where a cell is given (NaN: keep the draw, so the random streams are the
        same as without the table). ``balance`` is what the customer holds on day 0 and keeps
        while active: the target is the balance over its day-0 ring multiplier, so the ring
        multiplier gives it back (a later ring move scales it); ``wealth`` becomes the share
        of the balance in wealth products."""
        bal = imported.get("balance")
        if bal is not None:
            f = np.isfinite(bal)
            mult = self.ring_mult[ring] if ring is not None else np.ones(bal.size)
            target = np.where(mult > 0, bal / np.where(mult > 0, mult, 1.0), bal)
            self.t_balance = np.where(f, target, self.t_balance)
            self.t_savings0 = np.where(f, bal, self.t_balance)
            w = imported.get("wealth")
            if w is not None:
                fw = np.isfinite(w) & f
                share = np.where(bal > 0, w / np.where(bal > 0, bal, 1.0), 0.0)
                self.t_wshare = np.where(fw, share, self.t_wshare)
        for name, attr in (("salary", "t_salary"), ("card_spend", "t_card"), ("loan", "t_loan")):
            v = imported.get(name)
            if v is not None:
                setattr(self, attr, np.where(np.isfinite(v), v, getattr(self, attr)))

    # ------------------------------------------------------------------ accounts
    def open(self, new: np.ndarray, day: int, weight: np.ndarray,
             outflow: np.ndarray | None = None) -> None:
        """Open accounts for population indices ``new`` (all members of this segment), each
        holding the money of the ``weight`` customers its row represents."""
        k = new.size
        if k == 0:
            return
        pos = np.searchsorted(self.members, new)
        a, b = self.m, self.m + k
        self.idx[a:b] = new
        self.weight[a:b] = weight
        self.target[a:b] = self.t_balance[pos] * weight
        self.savings[a:b] = self.t_savings0[pos] * weight if day == 0 else 0.0
        self.salary[a:b] = self.t_salary[pos] * weight
        self.wshare[a:b] = self.t_wshare[pos]
        self.wfee[a:b] = self.t_wfee[pos]
        self.card_spend[a:b] = self.t_card[pos] * weight
        amount = self.t_loan[pos] * weight
        self.loan_amount[a:b] = amount
        if self.cfg.loan is not None:
            start = day - (self.t_loan_age[pos] * self.term_days if day == 0 else 0.0)
            self.loan_start[a:b] = start
            self.loan_end[a:b] = start + self.term_days
            default = start + self.t_default[pos]
            self.default_day[a:b] = default
            rate = amount / self.term_days
            self.loan_a[a:b] = amount + rate * start
            self.loan_b[a:b] = rate
            # the day the loan defaults, if before it is repaid (and not before today)
            fails = (default < start + self.term_days) & (amount > 0)
            self.default_int[a:b] = np.where(fails, np.floor(default), -1)
            gone = default < day  # a stock loan that defaulted before the run: closed
            self.loan_a[a:b][gone] = 0.0
            self.loan_b[a:b][gone] = 0.0
            self.default_int[a:b][gone] = -1
        w = self.wshare[a:b]
        self.wealth_w[a:b] = w * self.wfee[a:b] / DAYS_PER_YEAR
        self.sav_k[a:b] = self.nim_day * (1.0 - w) + self.wealth_w[a:b]
        self.acquired[a:b] = day >= 1
        if self.out_mult is not None and outflow is not None:
            self.out_mult[a:b] = outflow
        self.m = b

    def value(self) -> np.ndarray:
        """Net value each account earned so far (yuan): its daily flows are linear in its state,
        so value = Σ_days flows = coefficients × the state's integrals over days."""
        m = self.m
        return (
            self.sav_k[:m] * self.int_sav[:m]
            + self.nim_day * self.int_pool[:m]
            + self.k_card * self.int_spend[:m]
            + self.k_loan * self.int_out[:m]
            - self.losses[:m]
        )

    def pool_keep_by_account(self, day: int, pk: float,
                             kept: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Each account's pool keep factor today ÷ the segment's ``pk``, when its employer's
        staff move ``out_mult`` × the segment's outflow after payday out (employers), and
        the share of today's pool that moves out after payday (before spending).

        ``kept`` (per account, lifecycle operations' ``outflow_kept``): a retention contact
        keeps that share of each day's outflow until the next payday, so the day's outflow
        share q becomes q × (1 − kept) — what is kept is a share of the account's own
        outflow, so it is largest where the employer's staff move the most out."""
        pay = self.cfg.payroll
        assert pay is not None and self.out_mult is not None
        k = days_since_payday(day, pay.payday)
        base = pay.outflow_after_payday / max(1e-12, 1.0 - pay.savings_share)
        o = np.minimum(base * self.out_mult[: self.m], 1.0)
        e0, e1 = np.exp(-k / pay.outflow_days), np.exp(-(k + 1) / pay.outflow_days)
        stay = ((1.0 - o) + o * e1) / ((1.0 - o) + o * e0)
        out = 1.0 - stay
        if kept is not None:
            stay = stay + out * kept  # x + 0 = x exactly where nothing is kept
        keep = stay * (1.0 - pay.spend_per_day)
        return keep / pk, out

    def pool_keep(self, day: int) -> float:
        """Share of the payroll pool still here at the end of ``day`` relative to the day before:
        the payday outflow (e-folding ``outflow_days``) and daily spending."""
        pay = self.cfg.payroll
        if pay is None:
            return 1.0
        k = days_since_payday(day, pay.payday)
        out_share = pay.outflow_after_payday / max(1e-12, 1.0 - pay.savings_share)
        out_share = min(out_share, 1.0)

        def left(t: float) -> float:  # share of a payday's pool not yet moved out t days on
            return (1.0 - out_share) + out_share * np.exp(-t / pay.outflow_days)

        moved = left(k + 1) / left(k)
        return float(moved * (1.0 - pay.spend_per_day))


class MoneyLayer:
    """Every segment's money, stepped once a day after the lifecycle (see module docstring)."""

    def __init__(self, model: OperatingMatrixModel) -> None:
        self.model = model
        sc = model.scenario
        self.cfg: MoneyConfig = sc.money
        pop = model.population
        days = model.days
        s_count = len(pop.segment_names)
        rng = model.streams.get("money")
        from simulation.data.population import customer_table

        table = customer_table(sc.population)  # a bank's own balances, where it has them
        money_cols = table.money if table is not None else {}
        self.books: dict[int, SegmentBook] = {}
        for s, name in enumerate(pop.segment_names):
            seg_cfg = self.cfg.segments.get(name)
            if seg_cfg is None:
                continue
            members = np.flatnonzero(pop.segment == s)
            imported = {k: v[members] for k, v in money_cols.items()}
            self.books[s] = SegmentBook(s, seg_cfg, members, rng, self.cfg, days, imported,
                                        pop.ring[members])
        self.series = {k: np.zeros((days + 1, s_count)) for k in STATE_SERIES}
        ledger = model.ledger
        for item, category in REVENUE_ITEMS:
            ledger.register_revenue(item, category)
        self.has_account = np.zeros(pop.n, dtype=bool)
        #: value earned per customer when the lifetime window starts (None before)
        self.value_snapshot: np.ndarray | None = None
        #: read-only views of every value multiplier a module owns (empty: none is on)
        self.value_multipliers = model.states_with_role(VALUE_MULTIPLIER)
        # employers (a world module): per-employer outflow after payday and missed paydays
        self.employer_outflow = model.read_state("employer_outflow")
        self.salary_missed = model.read_state("salary_missed")
        # retention operations that keep a share of the outflow after payday
        # (strategies/lifecycle_ops.py ``keeps_outflow``): read only when one is configured,
        # so other scenarios keep the segment-level path bit for bit
        ops = sc.lifecycle_operations.operations.values()
        self.outflow_kept = (
            model.read_state("outflow_kept") if any(op.keeps_outflow > 0 for op in ops) else None
        )
        if self.employer_outflow is not None or self.outflow_kept is not None:
            for book in self.books.values():
                if book.has_payroll:
                    book.out_mult = np.ones(book.capacity)
                    book.pool_corr = np.zeros(book.capacity)
        #: per segment: yuan to make, mail and activate a won customer's card (0: not booked)
        self.issuance = {s: b.cfg.card.issuance_cost for s, b in self.books.items()
                         if b.cfg.card is not None and b.cfg.card.issuance_cost > 0}
        if self.issuance:
            ledger.register("card_issuance", PRODUCT_CATEGORY)
        #: per segment: yuan a day to keep a won customer's card while the customer stays
        #: (statements, alerts, card systems; 0: not booked), and the population indices of
        #: the cards won during the run, in order of winning
        self.maintenance = {s: b.cfg.card.maintenance_per_year / DAYS_PER_YEAR
                            for s, b in self.books.items()
                            if b.cfg.card is not None and b.cfg.card.maintenance_per_year > 0}
        self.won_cards = {s: np.zeros(0, np.int64) for s in self.maintenance}
        #: per segment, parallel to ``won_cards``: whether the card's customer came free
        self.won_free = {s: np.zeros(0, bool) for s in self.maintenance}
        if self.maintenance:
            ledger.register("card_maintenance", PRODUCT_CATEGORY)
        #: per segment: yuan to originate a won customer's loan (0: not booked)
        self.origination = {s: b.cfg.loan.origination_cost for s, b in self.books.items()
                            if b.cfg.loan is not None and b.cfg.loan.origination_cost > 0}
        if self.origination:
            ledger.register("loan_origination", PRODUCT_CATEGORY)
        #: the part of the product costs above (issuance, upkeep, origination) borne for
        #: customers whose acquisition was free (word of mouth, private-domain nurture), per
        #: segment: the bank pays it whether or not a paid lever runs, so the attributed CPA
        #: (simulation/incremental.py) charges paid acquisitions only with their own products'
        #: costs. Already inside the ledger's spend; this is a split of it, not more spend.
        self.free_product_spend = np.zeros(s_count)
        self._free_codes = np.array(
            [pop.source_code(name) for name in FREE_SOURCES if name in pop.sources], np.int64
        )
        if self.books:
            self._open_new(0)
            self._record_state(0)

    @property
    def enabled(self) -> bool:
        return bool(self.books)

    def _open_new(self, day: int) -> None:
        pop = self.model.population
        cd = pop.converted_day
        new = kernels.where_equal(cd, cd.dtype.type(day))  # one pass, no mask
        new = new[~self.has_account[new]]
        if new.size == 0:
            return
        self.has_account[new] = True
        seg = pop.segment[new]
        for s, book in self.books.items():
            mine = new[seg == s]
            if mine.size:
                out = None if self.employer_outflow is None else self.employer_outflow[mine]
                book.open(mine, day, pop.weight[mine], out)
                if day >= 1 and (s in self.issuance or s in self.maintenance):
                    held = mine[book.t_has_card[np.searchsorted(book.members, mine)]]
                    free = self._came_free(held)
                    if s in self.issuance:  # the card itself: made, mailed, activated
                        cost = np.zeros(len(pop.segment_names))
                        cost[s] = self.issuance[s] * float(pop.weight[held].sum())
                        self.model.ledger.charge("card_issuance", day, cost)
                        self.free_product_spend[s] += (
                            self.issuance[s] * float(pop.weight[held[free]].sum())
                        )
                    if s in self.maintenance:  # kept from today on (_charge_maintenance)
                        self.won_cards[s] = np.concatenate([self.won_cards[s], held])
                        self.won_free[s] = np.concatenate([self.won_free[s], free])
                if day >= 1 and book.cfg.loan is not None:
                    drawn = book.loan_amount[book.m - mine.size: book.m]
                    self.series["loans_disbursed_flow"][day, s] += float(drawn.sum())
                    if s in self.origination:  # the lender's cost of making each loan drawn
                        weight = book.weight[book.m - mine.size: book.m]
                        loans = float(weight[drawn > 0].sum())
                        cost = np.zeros(len(pop.segment_names))
                        cost[s] = self.origination[s] * loans
                        self.model.ledger.charge("loan_origination", day, cost)
                        free = (drawn > 0) & self._came_free(mine)
                        self.free_product_spend[s] += self.origination[s] * float(
                            weight[free].sum()
                        )

    def _came_free(self, idx: np.ndarray) -> np.ndarray:
        """Whether each of the customers ``idx`` was won through a free source (their
        ``acquired_via`` on the day they were won, when their product's cost is first booked)."""
        return np.isin(self.model.population.acquired_via[idx], self._free_codes)

    def step(self, day: Day) -> None:
        """Book today's value: the lifecycle's flat margin, then every segment's money; at the
        start of the lifetime window, keep what each customer has earned so far."""
        self._step(day)
        if day.index == self.window_start:
            self._snapshot()

    @property
    def window_start(self) -> int:
        """The day after which the run's last ``money.lifetime.window_days`` (at most half
        the horizon) begin: their margin is what the lifetime KPIs extrapolate."""
        days = self.model.days
        return days - min(self.cfg.lifetime.window_days, max(1, days // 2))

    def _snapshot(self) -> None:
        """Value earned by every customer up to the window's start (float32: a difference of
        a few hundred yuan over a sum of thousands loses < 0.01 yuan) and, per account, the
        loan interest and default losses so far (loans are valued on their remaining
        schedule instead of their last month, simulation/money/lifetime.py)."""
        self.flush()
        self.value_snapshot = kernels.to_float32(self.model.population.value_accrued)
        for book in self.books.values():
            m = book.m
            book.snap_m = m
            book.snap_loan = book.k_loan * book.int_out[:m] - book.losses[:m]

    def _step(self, day: Day) -> None:
        d = day.index
        model = self.model
        ledger = model.ledger
        ledger.book("relationship_margin", d, model.recorder.value[d])
        if not self.books:
            return
        self._open_new(d)
        if self.maintenance:
            self._charge_maintenance(d)
        pop = model.population
        s_count = len(pop.segment_names)
        flows = {item: np.zeros(s_count) for item, _ in REVENUE_ITEMS[1:]}
        series = self.series
        for s, book in self.books.items():
            if book.m:
                self._step_book(book, s, d, pop, flows, series)
        value_today = np.zeros(s_count)
        for item, arr in flows.items():
            ledger.book(item, d, arr)
            value_today += arr
        model.recorder.value[d] += value_today
        self._pending = True
        if d >= model.days or d % MONTH_DAYS == 0:
            self.flush()

    def _charge_maintenance(self, d: int) -> None:
        """A day's upkeep of every card won during the run whose customer has not churned
        (a churned customer's card is closed): ``maintenance_per_year`` ÷ 365 a card, in
        represented customers. Only cards won in the run are charged, as their issuance is:
        the stock's upkeep is the same with or without the strategies, and charging it would
        put the bank's whole portfolio into the cost of the cards the run wins."""
        pop = self.model.population
        cost = np.zeros(len(pop.segment_names))
        for s, per_day in self.maintenance.items():
            cards = self.won_cards[s]
            if cards.size:
                kept = pop.stage[cards] != Stage.CHURNED
                weight = pop.weight[cards]
                cost[s] = per_day * float(weight[kept].sum())
                self.free_product_spend[s] += per_day * float(
                    weight[kept & self.won_free[s]].sum()
                )
        if cost.any():
            self.model.ledger.charge("card_maintenance", d, cost)

    def _step_book(self, book: SegmentBook, s: int, d: int, pop, flows, series) -> None:
        """One day of segment ``s``'s accounts: payday inflow (savings share and payroll pool),
        savings moving in towards target × ring while active (never out), outflow by stage,
        the pool's post-payday drain, card spend, loan amortisation and defaults; the
        arithmetic per account is one fused pass (:func:`simulation.kernels.money_book_day`)."""
        m = book.m
        cfg = book.cfg
        payday = False
        s_in = p_in = _EMPTY
        if book.has_payroll:
            self._check_cohorts(book, d)  # tranches see the outflows of their days so far
            payday = (d - cfg.payroll.payday) % MONTH_DAYS == 0  # salary of every account
            if payday:
                s_in = np.zeros(m)
                p_in = np.zeros(m)
                log_keep_before = book.log_keep[:m].copy()
        pk = book.pool_keep(d) if book.has_payroll else 1.0
        loan = cfg.loan
        # what earns is × the value multiplier when a module owns one; balances stay as they
        # are. One multiplier is read inside the kernel (no daily gather); several are
        # multiplied here first, in the order the modules declare them.
        mults = self.value_multipliers
        vm2 = None
        if not mults:
            vm, vm_mode = _EMPTY, 0
        elif len(mults) == 1 and mults[0].dtype == np.float64:
            vm, vm_mode = mults[0], 1
        elif len(mults) == 2 and all(v.dtype == np.float64 for v in mults):
            # (e.g. advisers' and referral's uplifts): read both at each account's customer,
            # multiplied in declared order as numpy's gathers were (1.6 CPU-s a 1M × 365 run)
            vm, vm2, vm_mode = mults[0], mults[1], 3
        else:
            vm = np.asarray(self._value_multiplier(book.idx[:m]), dtype=np.float64)
            vm_mode = 2
        salary = book.salary
        if payday and self.salary_missed is not None:  # employers that did not pay today
            salary = book.salary[:m] * ~self.salary_missed[book.idx[:m]]
        (pay_sum, sav_total, pool_total, wealth_fee, wealth_total, card_total, loans_out,
         loss_sum, n_hit, sav_v_total, pool_v_total, wealth_v, card_v_total, loans_v,
         ) = kernels.money_book_day(
            book.idx[:m], pop.stage, pop.ring, book.stage_keep, book.stage_log_keep,
            book.stage_spend, book.ring_mult, book.savings, book.pool, book.target,
            salary, book.wealth_w, book.wshare, book.card_spend, book.loan_a, book.loan_b,
            book.default_int, book.log_keep, book.int_sav, book.int_pool, book.int_spend,
            book.int_out, book.losses, s_in, p_in, d, payday, book.has_payroll,
            cfg.deposits is not None, cfg.card is not None, loan is not None,
            cfg.payroll.savings_share if book.has_payroll else 0.0, float(book.ramp), pk,
            float(book.lgd), vm, vm_mode, float(book.k_card_loss), vm2,
        )
        if payday:
            series["inflow_flow"][d, s] += pay_sum
            corr = None if book.pool_corr is None else book.pool_corr[:m].copy()
            book.cohorts.append(_Cohort(d, s_in, p_in, log_keep_before, book.pool_log, corr))
        if book.has_payroll:
            book.pool_log += float(np.log(pk)) if pk > 0 else _GONE
        if book.pool_corr is not None and pk > 0:
            # employers' own outflow: correct the segment's pool keep factor per account
            kept = None
            if self.outflow_kept is not None:
                kept = self.outflow_kept[book.idx[:m]].astype(np.float64)
            corr, out = book.pool_keep_by_account(d, pk, kept)
            if kept is not None:  # yuan that would have left today and stayed
                series["outflow_kept_flow"][d, s] += float(
                    (book.pool[:m] / pk * out * kept).sum()
                )
            delta = book.pool[:m] * (corr - 1.0)
            book.pool[:m] += delta
            if vm_mode in (1, 3):  # read per customer: the accounts' products
                per_account = np.asarray(self._value_multiplier(book.idx[:m]), np.float64)
            else:
                per_account = vm
            delta_v = delta if vm_mode == 0 else delta * per_account
            book.int_pool[:m] += delta_v
            pool_total += float(delta.sum())
            pool_v_total += float(delta_v.sum())
            with np.errstate(divide="ignore"):
                book.pool_corr[:m] += np.where(corr > 0, np.log(np.maximum(corr, 1e-300)), _GONE)
        if vm_mode == 0:
            deposit_base = sav_total - wealth_total + pool_total
        else:
            deposit_base = sav_v_total - wealth_v + pool_v_total
        flows["deposit_margin"][s] = book.nim_day * deposit_base
        flows["wealth_fees"][s] = wealth_fee
        if cfg.card is not None:
            total = card_total
            flows["card_interchange"][s] = book.k_interchange * card_v_total
            flows["card_interest"][s] = book.k_card_interest * card_v_total
            flows["card_losses"][s] = -book.k_card_loss * total
            series["gmv_flow"][d, s] = total / DAYS_PER_MONTH
            series["expected_loss_flow"][d, s] += book.k_card_loss * total
        if loan is None:
            loans_out = 0.0
        else:
            if n_hit:
                flows["loan_losses"][s] = -loss_sum
            flows["loan_interest"][s] = book.k_loan * loans_v
            series["expected_loss_flow"][d, s] += book.k_el * loans_out
        series["aum"][d, s] = sav_total + pool_total
        series["wealth"][d, s] = wealth_total
        series["loans_outstanding"][d, s] = loans_out

    def _value_multiplier(self, idx: np.ndarray) -> np.ndarray | None:
        """Today's product of every value multiplier for the accounts' customers ``idx``, or
        None when no module owns one (the plain path, no gather)."""
        if not self.value_multipliers:
            return None
        vm = self.value_multipliers[0][idx]
        for mult in self.value_multipliers[1:]:
            vm = vm * mult[idx]
        return vm

    def flush(self) -> None:
        """Add what accounts earned since the last flush to their customers' ``value_accrued``
        (kept as integrals in between: a scatter per day would cost more than the money)."""
        if not getattr(self, "_pending", False):
            return
        pop = self.model.population
        for book in self.books.values():
            m = book.m
            if m == 0:
                continue
            total = book.value()
            # per customer: the account holds its row's represented customers' money
            pop.value_accrued[book.idx[:m]] += (total - book.flushed[:m]) / book.weight[:m]
            book.flushed[:m] = total
        self._pending = False

    def _record_state(self, d: int) -> None:
        for s, book in self.books.items():
            m = book.m
            self.series["aum"][d, s] = float(book.savings[:m].sum() + book.pool[:m].sum())
            self.series["wealth"][d, s] = float((book.wshare[:m] * book.savings[:m]).sum())

    def _check_cohorts(self, book: SegmentBook, d: int) -> None:
        """Asset retention: a cohort's inflow still held 30 and 90 days after its payday."""
        keep: list[_Cohort] = []
        for c in book.cohorts:
            age = d - c.day
            if age in RETENTION_WINDOWS:  # the tranche's factors of days c.day … d − 1
                k = c.savings_in.size
                dlog = book.log_keep[:k] - c.log_keep
                sav_left = np.exp(dlog)
                plog = book.pool_log - c.pool_log
                if c.pool_corr is not None and book.pool_corr is not None:
                    plog = plog + (book.pool_corr[:k] - c.pool_corr)
                pool_left = np.exp(dlog + plog)
                book.retained[age] += float((c.savings_in * sav_left + c.pool_in * pool_left).sum())
                book.inflow_checked[age] += float(c.savings_in.sum() + c.pool_in.sum())
            if age < max(RETENTION_WINDOWS):
                keep.append(c)
        book.cohorts = keep

    # ------------------------------------------------------------------ read-outs
    def account_arrays(self) -> dict[str, np.ndarray]:
        """Money of each row's account at the horizon as population-length arrays (0 = no
        account), in represented yuan (a row of weight w holds w customers' money)."""
        n = self.model.population.n
        out = {k: np.zeros(n) for k in ("aum", "loan_amount")}
        for book in self.books.values():
            m = book.m
            idx = book.idx[:m]
            out["aum"][idx] = book.savings[:m] + book.pool[:m]
            out["loan_amount"][idx] = book.loan_amount[:m]
        return out

    def asset_retention(self, window: int, segment: int | None = None) -> float | None:
        books = [b for s, b in self.books.items() if segment is None or s == segment]
        inflow = sum(b.inflow_checked[window] for b in books)
        if inflow <= 0:
            return None
        return sum(b.retained[window] for b in books) / inflow
