"""The ``money`` section of a scenario: balances, payroll flows and product holdings per segment.

Money is state (balances, holdings, loan principal live in per-customer arrays); value is a flow
(margins, fees, interest and credit losses are booked in the ledger every day). Every field
defaults to "no such product", so a scenario without a ``money`` section earns only the flat
``monthly_value`` of its segments, exactly as before.

Rates are annual unless the name says otherwise; amounts are yuan. Imports only
``scenario/types.py`` (the schema imports this module).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from simulation.scenario.types import (
    Beta01,
    NonNegative,
    Positive,
    Probability,
    Problems,
    StrictModel,
)


class Amount(StrictModel):
    """Yuan per customer, log-normal: ``median``, ``sigma`` the log-scale spread (0 = constant)."""

    median: NonNegative = 0.0
    sigma: NonNegative = 0.0


class Deposits(StrictModel):
    """Savings a new customer brings (moved in over ``ramp_days``) and the bank's margin on them.

    ``balance`` is the target balance of an outer-ring customer; the ring multiplier of the
    ``money`` section scales it (inner-ring customers keep their main account here).
    """

    balance: Amount = Amount()
    ramp_days: NonNegative = 30.0
    net_interest_margin: Probability = 0.0


class Payroll(StrictModel):
    """Salary paid into the account on ``payday`` (day of each 30-day month) [001].

    ``savings_share`` of each salary stays as savings (joins the deposit balance);
    ``outflow_after_payday`` of the rest moves out within days (e-folding ``outflow_days``),
    and what remains is spent down at ``spend_per_day``: "salary moves out after payday" [001].
    """

    salary: Amount = Amount()
    payday: Annotated[int, Field(ge=1, le=30)] = 10
    savings_share: Probability = 0.0
    outflow_after_payday: Probability = 0.0
    outflow_days: Positive = 3.0
    spend_per_day: Probability = 0.0


class Wealth(StrictModel):
    """Wealth products (funds, wealth-management and pension products) held by ``adoption`` of
    the segment's customers, as ``share_of_balance`` of their savings.

    The annual fee rises with each holder's risk appetite (a Beta trait): conservative holders
    (the elderly [001]: low-risk pension products, few regular-investment plans) buy low-fee
    products, risk-seeking holders equity funds.
    """

    adoption: Probability = 0.0
    share_of_balance: Probability = 0.0
    risk_appetite: Beta01 = Beta01(mean=0.3)
    fee_low_risk: Probability = 0.0
    fee_high_risk: Probability = 0.0


class Card(StrictModel):
    """A credit card: monthly spend of activated cards, interchange on it, interest on the
    revolving part, funding cost and charge-offs on the revolving balance."""

    adoption: Probability = 0.0
    activation: Probability = 1.0
    monthly_spend: Amount = Amount()
    interchange: Probability = 0.0
    revolving_share: Probability = 0.0
    interest_rate: Probability = 0.0
    funding_cost: Probability = 0.0
    charge_off: Probability = 0.0
    #: Yuan to make, mail and activate one card, booked as spend (ledger item
    #: ``card_issuance``) when a customer won during the run opens an account holding the
    #: card. The cited ≥ 100 yuan per card covers making, mailing, marketing and maintenance
    #: (docs/sources.md §2.5); the strategies book the marketing, this books the card itself,
    #: so CPA is all-in. 0 = not booked.
    issuance_cost: Annotated[float, Field(ge=0.0)] = 0.0
    #: Yuan a year to keep one card (statements, transaction alerts, card systems, service),
    #: booked as spend (ledger item ``card_maintenance``) a day at a time for every card of a
    #: customer won during the run until the customer churns. The cited ≥ 100 yuan per card
    #: includes 管理维护 (management and maintenance, §2.5): with ``issuance_cost`` and the
    #: strategies' marketing the CPA counts every part of it. 0 = not booked.
    maintenance_per_year: Annotated[float, Field(ge=0.0)] = 0.0


class Loan(StrictModel):
    """One loan drawn down at conversion (SME draw-down [000]), amortised linearly over
    ``term_months``; a default (annual probability ``pd``) loses ``lgd`` of what is outstanding."""

    adoption: Probability = 0.0
    amount: Amount = Amount()
    term_months: Annotated[int, Field(ge=1, le=360)] = 12
    interest_rate: Probability = 0.0
    funding_cost: Probability = 0.0
    pd: Probability = 0.0
    lgd: Probability = 0.0
    #: Yuan of operating cost to originate one loan (application, risk screen, disbursement),
    #: booked as spend (ledger item ``loan_origination``) when a customer won during the run
    #: draws the loan down. The strategies book the marketing; this books the lender's own
    #: cost of making the loan, so CPA per drawn-down customer compares like with like with
    #: the published cost per small-business loan (MYbank ¥2.3 a loan against ≈ ¥2,000 of
    #: staff cost in a traditional lender, docs/sources.md §2.12). 0 = not booked.
    origination_cost: Annotated[float, Field(ge=0.0)] = 0.0


class SegmentMoney(StrictModel):
    """Products and flows of one segment; any of them may be left out."""

    deposits: Deposits | None = None
    payroll: Payroll | None = None
    wealth: Wealth | None = None
    card: Card | None = None
    loan: Loan | None = None


class RingMultipliers(StrictModel):
    """How much more of their money inner-ring customers keep here ([004]: inner ring = APP +
    the bank's debit card, the main account; outer = APP only)."""

    outer: NonNegative = 1.0
    middle: NonNegative = 1.0
    inner: NonNegative = 1.0


class StageOutflow(StrictModel):
    """Daily share of savings moving out while a customer is at risk or dormant (churned
    customers take everything); card spend of at-risk customers falls to ``at_risk_spend``."""

    at_risk: Probability = 0.0
    dormant: Probability = 0.0
    at_risk_spend: Probability = 1.0


class Lifetime(StrictModel):
    """How customers are valued beyond the horizon (simulation/money/lifetime.py, docs/kpis.md
    "Lifetime value beyond the horizon"): each customer's margin over the last
    ``window_days`` of the run, kept while the segment's end-of-run churn hazard lets it stay,
    discounted at ``discount_rate`` a year."""

    #: annual discount rate: the low end of the 10–20 % Kotler & Keller give for CLV
    #: ("depending on cost of capital and risk attitudes"; docs/sources.md §2.11)
    discount_rate: Annotated[float, Field(gt=0.0, le=1.0)] = 0.10
    #: days at the end of the run whose margin is the margin kept beyond it (a pay cycle);
    #: at most half the horizon
    window_days: Annotated[int, Field(ge=1, le=365)] = 30


class MoneyConfig(StrictModel):
    """Per-segment money (balances, payroll, wealth, cards, loans) and how lifecycle and rings
    move it. Segments not listed have no money products."""

    segments: dict[str, SegmentMoney] = Field(default_factory=dict)
    ring_multiplier: RingMultipliers = RingMultipliers()
    outflow: StageOutflow = StageOutflow()
    lifetime: Lifetime = Lifetime()

    @model_validator(mode="after")
    def _payroll_shares(self) -> MoneyConfig:
        for name, seg in self.segments.items():
            p = seg.payroll
            if p is not None and p.savings_share + p.outflow_after_payday > 1.0 + 1e-9:
                raise PydanticCustomError(
                    "payroll_shares",
                    "segments.{seg}.payroll: savings_share + outflow_after_payday must be ≤ 1",
                    {"seg": name},
                )
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.segments)

    def cross_problems(self, scenario, path: tuple[str | int, ...]) -> Problems:
        """Every segment named here must exist in the population."""
        known = list(scenario.population.segments)
        return [
            ((*path, "segments", name), f"unknown segment '{name}'; segments: {', '.join(known)}")
            for name in self.segments
            if name not in known
        ]


class IncrementalityConfig(StrictModel):
    """Whether a run also simulates its counterfactual (same seed and customers, every strategy
    lever off: simulation/incremental.py) and, on request, per-lever ablations: leave-one-out
    (one extra world per lever) and leave-one-in (another per lever)."""

    counterfactual: bool = True
    contributions: Literal["none", "leave_one_out", "both"] = "none"
