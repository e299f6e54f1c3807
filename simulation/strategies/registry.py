"""The fixed daily order of strategy modules (DESIGN.md): lifecycle → contact planning →
exposure & funnel → perks → referrals / word of mouth → groups → (accounting, in the model).

Adding a lever means writing one module and listing it here, nothing else.
"""

from __future__ import annotations

from simulation.strategies.advisers import Advisers
from simulation.strategies.base import StrategyModule
from simulation.strategies.channels import Channels
from simulation.strategies.contact_windows import ContactWindows
from simulation.strategies.groups import Groups
from simulation.strategies.lifecycle import Lifecycle
from simulation.strategies.lifecycle_ops import LifecycleOperations
from simulation.strategies.perks import Perks
from simulation.strategies.referral import Referral
from simulation.strategies.word_of_mouth import WordOfMouth

MODULE_ORDER: tuple[type[StrategyModule], ...] = (
    Lifecycle,
    ContactWindows,
    Channels,
    Perks,
    Referral,
    WordOfMouth,
    Groups,
    Advisers,
    LifecycleOperations,
)
