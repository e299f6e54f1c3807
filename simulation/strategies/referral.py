"""Referral tiers (推荐官, member-get-member): customers invite their ties, the bank pays a reward
per successful referral that rises in steps with how many the referrer has brought in
(CMB card invitations "梯级式叠加" [004]; the online 推荐官 that shows "how many, what reward"
[000]), up to a cap per referrer.

Mechanisms and their sources (DOMAIN.md §2.2–2.3):

- invitations travel along the **strong** ties (``graph``) or the **weak** ties
  (``graph.weak_ties``), each layer with its own acceptance (Goldenberg et al. 2001);
- the rewards ahead raise the wish to invite (tiers "增加了用户的邀请动力" [004]; Wolters et
  al. 2020: larger rewards bring more referrals). A referrer reads the visible schedule (the
  推荐官 page shows "how many, what reward" [000]), not only the next reward: the motivating
  reward is the schedule's remaining rewards averaged with a **goal-gradient** weight
  ``ladder_weight`` per step of distance (Kivetz, Urminsky & Zheng 2006: effort rises as the
  reward nears), so a higher step ahead pulls before it is reached, more as it comes closer.
  A flat schedule reads exactly its one reward, as before; ``ladder_weight: 0`` reads only the
  next reward (the model before the goal gradient) …
- … but the referred customers of larger rewards are less valuable (Wolters et al.): the value
  uplift shrinks with the log of the reward over ``reward_reference``;
- referred customers are worth more (Schmitt et al. 2011: ≥ 16 %, margin advantage gone after
  ~2.5 years) and stay longer (~18 % more likely to stay) — **only while their referrer stays**
  (Van den Bulte et al. 2018);
- referrers themselves defect less (Garnefeld et al. 2013: 19 % → 7 %).

Declared state: ``referrals`` (successful referrals per customer) and the churn and value
multipliers Lifecycle applies (referral writes no other module's arrays); ``pop.referrer``.
The daily step costs O(invitations + referred customers), never O(population).

Random numbers: each draw is keyed by its decision, the day and the inviter's slot
(:class:`~simulation.rng.SlotDraws`): ``invite`` (thinned at the invitation rate's power-of-two
bound), ``weak`` (which layer), ``tie/strong`` or ``tie/weak`` (which tie), ``accept``. They
came from the module's one sequential stream, so one more or one fewer candidate (a customer
another lever converted, say) gave every later inviter other numbers, that day and after:
noise in every paired comparison. Keyed, an inviter's invitation, tie and acceptance depend on
its own state and its own numbers only, whoever else invites.
"""

from __future__ import annotations

import math
from itertools import pairwise
from typing import TYPE_CHECKING, Annotated

import numpy as np
from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from simulation.population.stages import Stage
from simulation.rng import quantize_up
from simulation.scenario.types import (
    NonNegative,
    Positive,
    Probability,
    Problems,
    StrictModel,
    Yuan,
)
from simulation.strategies.base import (
    CHURN_MULTIPLIER,
    VALUE_MULTIPLIER,
    Day,
    State,
    StrategyModule,
)

if TYPE_CHECKING:
    from simulation.network.social import SocialNetwork


# ---------------------------------------------------------------------------- configuration


def _ladder_weight(v: float) -> float:
    if not (0.0 <= v <= 1.0) or math.isnan(v):
        raise PydanticCustomError(
            "ladder_weight",
            "must be in [0, 1] (0: only the next reward motivates, 1: every reward ahead "
            "weighs the same), got {value}",
            {"value": v},
        )
    return v


class ReferralTier(StrictModel):
    """From the ``from_referral``-th successful referral on, each one pays ``reward`` yuan."""

    from_referral: Annotated[int, Field(ge=1)]
    reward: Yuan


class TieAcceptance(StrictModel):
    """Chance an invited prospect converts, by the layer the invitation travelled on."""

    strong: Probability = 0.10  # (inf.) per invitation
    weak: Probability = 0.04  # weak ties ⅓–½ of strong (Winzar's replication), DOMAIN.md §2.2


class ReferredCustomers(StrictModel):
    """How referred customers differ from others (Schmitt et al. 2011; Van den Bulte 2018)."""

    value_uplift: NonNegative = 0.16  # ≥ 16 % more valuable, DOMAIN.md §2.3
    value_uplift_days: Positive = 900.0  # margin advantage gone after ~2.5 years, DOMAIN.md §2.3
    churn_multiplier: NonNegative = 0.82  # ~18 % more likely to stay, DOMAIN.md §2.3
    #: Lower churn holds only while the referrer stays (Van den Bulte et al. 2018), DOMAIN.md §2.3
    churn_multiplier_after_referrer_churns: NonNegative = 1.0


class ReferralConfig(StrictModel):
    """The referral programme; off while ``invite_rate`` is 0 (the default)."""

    invite_rate: Probability = 0.0
    tiers: list[ReferralTier] = Field(
        default_factory=lambda: [ReferralTier(from_referral=1, reward=0.0)]
    )
    cap_per_referrer: Annotated[int, Field(ge=1)] = 10
    referee_reward: Yuan = 0.0
    weak_tie_share: Probability = 0.5
    acceptance: TieAcceptance = TieAcceptance()
    reward_reference: Positive = 50.0
    reward_elasticity: NonNegative = 0.3
    reward_dilution: NonNegative = 0.08
    #: Goal gradient: a reward one referral farther away weighs ``ladder_weight`` × a nearer
    #: one in the motivating reward. Kivetz, Urminsky & Zheng (2006, Study 1): inter-purchase
    #: times shrink 20 % from the first to the last of a 10-stamp card, a pull ×1.25 over 8
    #: steps, so 1.25^(−1/8) ≈ 0.973 per step (docs/sources.md §2.9; the geometric form is
    #: (inf.)). 0 reads only the next reward; 1 weighs the whole remaining ladder equally.
    ladder_weight: Annotated[float, AfterValidator(_ladder_weight)] = 0.9725
    officer_visible: bool = False
    officer_uplift: Positive = 1.2
    referred: ReferredCustomers = ReferredCustomers()
    referrer_churn_multiplier: NonNegative = 1.0

    @model_validator(mode="after")
    def _increasing_tiers(self) -> ReferralConfig:
        if not self.tiers:
            raise PydanticCustomError("tiers", "needs at least one tier", {})
        starts = [t.from_referral for t in self.tiers]
        if starts[0] != 1:
            raise PydanticCustomError(
                "tiers", "the first tier must start at from_referral: 1, got {s}", {"s": starts[0]}
            )
        if any(b <= a for a, b in pairwise(starts)):
            raise PydanticCustomError(
                "tiers", "tiers must have strictly increasing from_referral, got {s}", {"s": starts}
            )
        return self

    def cross_problems(self, scenario: object, path: tuple[str | int, ...]) -> Problems:
        """Invitations along weak ties need a weak-tie layer in ``graph``."""
        graph = getattr(scenario, "graph", None)
        has_weak = getattr(graph, "weak_ties", None) is not None
        if self.invite_rate > 0 and self.weak_tie_share > 0 and not has_weak:
            if getattr(graph, "kind", "") == "complete":
                return []  # mean field: an invitation reaches anyone, strong and weak alike
            return [
                (
                    (*path, "weak_tie_share"),
                    f"is {self.weak_tie_share} but graph has no weak_ties layer; add "
                    "graph.weak_ties: {mean_degree: …} or set weak_tie_share: 0",
                )
            ]
        return []

    def reward_schedule(self) -> np.ndarray:
        """Reward of the k-th successful referral for k = 0..cap (index 0 unused, 0 yuan)."""
        k = np.arange(self.cap_per_referrer + 1)
        starts = np.array([t.from_referral for t in self.tiers])
        rewards = np.array([t.reward for t in self.tiers], dtype=np.float64)
        tier = np.searchsorted(starts, k, side="right") - 1
        out = np.where(tier >= 0, rewards[np.maximum(tier, 0)], 0.0)
        out[0] = 0.0
        return out

    def motivating_reward(self) -> np.ndarray:
        """Reward that motivates the next invitation, by referrals so far k = 0..cap.

        The remaining schedule k+1..cap averaged with weights ``ladder_weight``^(j−k−1)
        (goal gradient: nearer rewards pull harder). Written as the next reward plus the
        weighted mean of the later rewards' differences from it, so a flat schedule gives its
        reward exactly (bit-identical to reading the next reward only). 0 at the cap.
        """
        schedule = self.reward_schedule()
        cap = self.cap_per_referrer
        out = np.zeros(cap + 1)
        w = self.ladder_weight
        for k in range(cap):
            ahead = schedule[k + 1:]
            nxt = ahead[0]
            diff = ahead - nxt
            if w == 0.0 or not diff.any():
                out[k] = nxt
                continue
            weights = w ** np.arange(ahead.size, dtype=np.float64)
            out[k] = nxt + float(weights @ diff) / float(weights.sum())
        return out


def total_reward(schedule: np.ndarray, referrals: np.ndarray) -> np.ndarray:
    """Total paid to referrers with ``referrals`` successes each (the tier table, summed)."""
    return np.cumsum(schedule)[np.minimum(referrals, schedule.size - 1)]


# ---------------------------------------------------------------------------- module



class Referral(StrategyModule):
    """Daily: inviters are drawn, invitations travel a tie, accepted ones convert and pay."""

    name = "referral"
    source_is_name = True
    states = (
        State("referrals", np.int32, 0, description="successful referrals made so far"),
        # Referral's effect on churn and value, as multipliers Lifecycle applies: the module
        # never writes Lifecycle's value or the sampled churn-hazard trait itself.
        State("referral_churn_multiplier", np.float64, 1.0, role=CHURN_MULTIPLIER,
              description="lapse-hazard multiplier of referrers and referred customers"),
        State("referral_value_multiplier", np.float64, 1.0, role=VALUE_MULTIPLIER,
              description="decaying margin uplift of referred customers"),
    )

    @classmethod
    def enabled(cls, scenario) -> bool:
        return scenario.referral.invite_rate > 0

    def setup(self) -> None:
        model = self.model
        pop = model.population
        cfg = model.scenario.referral
        self.cfg = cfg
        model.ledger.register("referral", "referral")
        if cfg.referee_reward > 0:
            model.ledger.register("referral_welcome", "referral")
        self.referrals = self.state("referrals")
        self.churn_mult = self.state("referral_churn_multiplier")
        self.value_mult = self.state("referral_value_multiplier")
        self.schedule = cfg.reward_schedule()
        # Invitation multiplier by referrals so far: the visible ladder's rewards ahead,
        # weighted by the goal gradient (``motivating_reward``).
        ahead = cfg.motivating_reward()
        rel = np.maximum(ahead, 1e-9) / cfg.reward_reference
        self.motivation = np.where(ahead > 0, rel**cfg.reward_elasticity, 1.0)
        self.motivation[-1] = 0.0  # at the cap: nothing more to earn, the programme stops
        officer = cfg.officer_uplift if cfg.officer_visible else 1.0
        self.base_rate = (cfg.invite_rate * officer) * pop.referral_propensity.astype(np.float64)
        self.p_max = min(1.0, float(self.base_rate.max(initial=0.0) * self.motivation.max()))
        #: candidates' bound: a power of two, so a sweep of the rate keeps the same candidates
        self.p_cand = quantize_up(self.p_max)
        self.strong = model.network
        self.weak = model.network.weak
        self.weak_share = cfg.weak_tie_share if self.weak is not None else 0.0
        if model.network.is_complete:
            self.weak_share = 0.0
        # Referred customers still tracked: index and value uplift at conversion.
        self.ref_idx = np.empty(0, dtype=np.int64)
        self.ref_uplift = np.empty(0, dtype=np.float64)
        # A referrer's own lower defection: the multiplier is rounded to float32 as the
        # hazard trait is, so the effective hazard is the float32 product h × m.
        self.referrer_mult = float(np.float32(cfg.referrer_churn_multiplier))

    # -------------------------------------------------------------- daily step
    def inviters(self, day: int) -> np.ndarray:
        """Customers inviting a tie on ``day``: rate × propensity × tier motivation, drawn per
        slot (thinned from the rate's power-of-two bound)."""
        pop = self.model.population
        base, motivation, referrals = self.base_rate, self.motivation, self.referrals
        top = self.schedule.size - 1

        def invite_p(cand: np.ndarray) -> np.ndarray:
            st = pop.stage[cand]
            customer = (st == Stage.ACTIVE) | (st == Stage.CONVERTED)
            p = base[cand] * motivation[np.minimum(referrals[cand], top)]
            return np.where(customer, p, 0.0)

        return self.draws.thinned("invite", day, pop.n, self.p_cand, invite_p)

    def _ties(self, network: SocialNetwork, decision: str, day: int,
              inviter: np.ndarray) -> np.ndarray:
        """One tie of each inviter, from the inviter's own uniform under ``decision``."""
        u = self.draws.uniform(decision, day, inviter)
        return network.tie_at(inviter, u)

    def step(self, day: Day) -> None:
        model = self.model
        pop = model.population
        cfg = self.cfg
        d = day.index
        inviter = self.inviters(d)
        if inviter.size:
            weak = self.draws.uniform("weak", d, inviter) < self.weak_share
            invitee = np.empty(inviter.size, dtype=np.int64)
            invitee[~weak] = self._ties(self.strong, "tie/strong", d, inviter[~weak])
            if weak.any():
                assert self.weak is not None
                invitee[weak] = self._ties(self.weak, "tie/weak", d, inviter[weak])
            ok = invitee >= 0
            inviter, invitee, weak = inviter[ok], invitee[ok], weak[ok]
            model.ledger.count(
                "referral", "invitations", day.index,
                pop.segment_counts(inviter),
            )
            prospect = pop.stage[invitee] <= Stage.ENGAGED  # O(invitees), not O(population)
            accept = np.where(weak, cfg.acceptance.weak, cfg.acceptance.strong)
            won = prospect & (self.draws.uniform("accept", d, inviter) < accept)
            inviter, invitee = inviter[won], invitee[won]
            # One invitee accepts one invitation: the first of the day wins.
            invitee, first = np.unique(invitee, return_index=True)
            inviter = inviter[first]
            if invitee.size:
                self._convert(day, inviter, invitee)
        self._update_referred(day)

    def _convert(self, day: Day, inviter: np.ndarray, invitee: np.ndarray) -> None:
        model = self.model
        pop = model.population
        cfg = self.cfg
        s = len(pop.segment_names)
        model.convert(invitee, day.index, "referral")
        pop.referrer[invitee] = inviter
        self.referrals[inviter] += 1
        reward = self.schedule[self.referrals[inviter]]
        model.ledger.charge(
            "referral", day.index,
            np.bincount(pop.segment[inviter], weights=reward, minlength=s),
        )
        model.ledger.count(
            "referral", "conversions", day.index,
            pop.segment_counts(invitee),
        )
        if cfg.referee_reward > 0:
            model.ledger.charge(
                "referral_welcome", day.index,
                pop.segment_counts(invitee) * cfg.referee_reward,
            )
        # Wolters et al.: the larger the reward, the smaller the referred customer's edge.
        dilution = cfg.reward_dilution * np.log(np.maximum(reward, 1e-9) / cfg.reward_reference)
        uplift = np.where(reward > 0, cfg.referred.value_uplift - np.maximum(dilution, 0.0),
                          cfg.referred.value_uplift)
        self.ref_idx = np.concatenate([self.ref_idx, invitee])
        self.ref_uplift = np.concatenate([self.ref_uplift, uplift])
        first_time = self.referrals[inviter] == 1
        new_referrers = inviter[first_time]
        if cfg.referrer_churn_multiplier != 1.0 and new_referrers.size:
            self.churn_mult[new_referrers] *= self.referrer_mult

    def _update_referred(self, day: Day) -> None:
        """Referred customers: decaying margin uplift; churn advantage while the referrer stays."""
        if self.ref_idx.size == 0:
            return
        pop = self.model.population
        ref = self.cfg.referred
        idx = self.ref_idx
        age = day.index - pop.converted_day[idx]
        decay = np.clip(1.0 - age / ref.value_uplift_days, 0.0, 1.0)
        self.value_mult[idx] = 1.0 + self.ref_uplift * decay
        referrer_gone = pop.stage[pop.referrer[idx]] == Stage.CHURNED
        mult = np.where(
            referrer_gone, ref.churn_multiplier_after_referrer_churns, ref.churn_multiplier
        )
        # A referred customer who refers in turn keeps the referrer's own lower defection.
        mult = mult * np.where(self.referrals[idx] > 0, self.cfg.referrer_churn_multiplier, 1.0)
        self.churn_mult[idx] = mult
        gone = pop.stage[idx] == Stage.CHURNED
        if gone.any():  # churned customers no longer need tracking
            keep = ~gone
            self.ref_idx = idx[keep]
            self.ref_uplift = self.ref_uplift[keep]
