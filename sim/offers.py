"""The offer catalogue: what the company can send, what it costs, who may get it."""

from __future__ import annotations

from dataclasses import dataclass

from sim.constants import CHANNELS, OFFER_KINDS
from sim.validation import (
    check_choice,
    check_int,
    check_nonnegative,
    check_probability,
)

OBSERVED_STATUSES = ("active", "inactive", "churned")
"""What the company sees: recently active, no activity for a while, or cancelled."""


@dataclass(frozen=True)
class Offer:
    """One win-back action.

    ``lift`` is the log-hazard boost to coming back, per unit of the trait the offer matches
    (price sensitivity for a discount, content need for a trial or new-release message,
    discovery friction for recommendations, technical propensity for support). A mismatched
    offer finds a small trait and mostly costs money.
    """

    name: str
    kind: str
    channel: str
    cost_per_send: float = 0.0  # on top of the channel's own cost per send
    discount: float = 0.0  # share of list price taken off while the discount runs
    duration_days: int = 30  # how long the effect (discount, fix, recommendations) lasts
    trial_days: int = 0  # free days granted on return (free_trial)
    support_cost: float = 0.0  # cost of the contact when the user engages (support)
    lift: float = 1.0
    eligible: tuple[str, ...] = ("inactive", "churned")

    def __post_init__(self) -> None:
        key = f"offers.{self.name}"
        check_choice(f"{key}.kind", self.kind, OFFER_KINDS)
        check_choice(f"{key}.channel", self.channel, CHANNELS)
        check_nonnegative(f"{key}.cost_per_send", self.cost_per_send)
        check_probability(f"{key}.discount", self.discount)
        check_int(f"{key}.duration_days", self.duration_days, 1, 3650)
        check_int(f"{key}.trial_days", self.trial_days, 0, 365)
        check_nonnegative(f"{key}.support_cost", self.support_cost)
        check_nonnegative(f"{key}.lift", self.lift)
        if not self.eligible:
            raise ValueError(f"{key}.eligible: empty; allowed: {', '.join(OBSERVED_STATUSES)}")
        for status in self.eligible:
            check_choice(f"{key}.eligible", status, OBSERVED_STATUSES)
        if self.kind == "discount" and self.discount <= 0:
            raise ValueError(f"{key}.discount: {self.discount!r}; a discount needs a share > 0")
        if self.kind == "free_trial" and self.trial_days <= 0:
            raise ValueError(f"{key}.trial_days: {self.trial_days!r}; a free trial needs >= 1")


@dataclass(frozen=True)
class Catalogue:
    """An ordered set of offers; action ``k`` of an environment is ``offers[k - 1]``."""

    offers: tuple[Offer, ...]

    def __post_init__(self) -> None:
        names = [o.name for o in self.offers]
        if len(set(names)) != len(names):
            raise ValueError(f"offers: duplicate offer names in {names}")
        if len(names) > 32:  # the send history is a 32-bit mask per user
            raise ValueError(f"offers: {len(names)} offers; allowed: at most 32")

    @property
    def names(self) -> list[str]:
        return [o.name for o in self.offers]

    def index(self, name: str) -> int:
        check_choice("offer", name, self.names)
        return self.names.index(name)

    def __len__(self) -> int:
        return len(self.offers)
