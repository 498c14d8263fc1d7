"""Reference policies: no offer (the control), random, blanket offer, the seeds' playbook,
and the oracle that reads latent traits (the upper reference)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from agents.base import Context, FixedPolicy, masked_choice
from sim.constants import PAIN_POINTS, RECENCY_SCALE_DAYS
from sim.validation import check_int, check_nonnegative


@dataclass(kw_only=True)
class NoOffer(FixedPolicy):
    """Send nothing, ever: the control every other policy is compared with."""

    name: str = "no_offer"

    def act(self, obs: np.ndarray, mask: np.ndarray, ctx: Context) -> np.ndarray:
        return np.zeros(obs.shape[0], dtype=np.int64)


@dataclass(kw_only=True)
class RandomPolicy(FixedPolicy):
    """Each user gets a uniformly random allowed action (nothing included)."""

    name: str = "random"
    seed: int = 0
    _rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(check_int("seed", self.seed, 0))

    def act(self, obs: np.ndarray, mask: np.ndarray, ctx: Context) -> np.ndarray:
        scores = self._rng.random(mask.shape) * mask
        return scores.argmax(axis=1).astype(np.int64)


@dataclass(kw_only=True)
class Blanket(FixedPolicy):
    """Send one offer to every user seen as inactive or churned (where allowed)."""

    OFFER_FIELDS: ClassVar[tuple[str, ...]] = ("offer",)
    offer: str = "reminder_email"
    name: str = "blanket"

    def act(self, obs: np.ndarray, mask: np.ndarray, ctx: Context) -> np.ndarray:
        k = 1 + ctx.offer_names.index(self.offer)
        lapsed = _lapsed(obs, ctx)
        return np.where(lapsed, masked_choice(mask, np.full(obs.shape[0], k)), 0)


@dataclass(kw_only=True)
class Rules(FixedPolicy):
    """Base of the rule policies: the offer each pain point gets (the playbook reads it from
    the exit survey, the oracle from the latent trait); ``content_churned`` is the content
    offer for users who cancelled."""

    OFFER_FIELDS: ClassVar[tuple[str, ...]] = (
        "price",
        "content_churned",
        "content",
        "discovery",
        "technical",
    )
    price: str = "discount_30"
    content_churned: str = "free_trial_30"
    content: str = "new_release_push"
    discovery: str = "recommendations"
    technical: str = "support_call"
    NONNEGATIVE: ClassVar[tuple[str, ...]] = ()  # number fields checked finite and >= 0

    def __post_init__(self) -> None:
        for key in self.NONNEGATIVE:
            check_nonnegative(key, getattr(self, key))

    @staticmethod
    def _indices(ctx: Context) -> tuple[dict[str, int], dict[str, int]]:
        """Each feature's observation column, and each offer's action."""
        return {n: i for i, n in enumerate(ctx.feature_names)}, {
            n: 1 + i for i, n in enumerate(ctx.offer_names)
        }


@dataclass(kw_only=True)
class Playbook(Rules):
    """The seeds' rule book, by exit-survey reason: technical -> support, discovery ->
    recommendations, price -> discount, content -> free trial if churned else a
    new-release message; no answer -> ``default``. Only users inactive for at least
    ``min_recency_days`` are contacted."""

    OFFER_FIELDS: ClassVar[tuple[str, ...]] = (*Rules.OFFER_FIELDS, "default")
    NONNEGATIVE: ClassVar[tuple[str, ...]] = ("min_recency_days",)
    name: str = "playbook"
    default: str = "reminder_email"
    min_recency_days: float = 28.0

    def act(self, obs: np.ndarray, mask: np.ndarray, ctx: Context) -> np.ndarray:
        col, k = self._indices(ctx)
        wanted = np.full(obs.shape[0], k[self.default])
        churned = obs[:, col["status_churned"]] > 0.5
        for reason, offer in (
            ("price", self.price),
            ("discovery", self.discovery),
            ("technical", self.technical),
            ("content", self.content),
        ):
            wanted[obs[:, col[f"survey_{reason}"]] > 0.5] = k[offer]
        starved = (obs[:, col["survey_content"]] > 0.5) & churned
        wanted[starved] = k[self.content_churned]
        due = obs[:, col["recency"]] * RECENCY_SCALE_DAYS >= self.min_recency_days
        return np.where(_lapsed(obs, ctx) & due, masked_choice(mask, wanted), 0)


@dataclass(kw_only=True)
class Oracle(Rules):
    """Reads each user's latent pain point and sends the offer that matches it, when the
    matching trait is strong enough to pay (``min_trait``). The upper reference: no real
    policy can see these traits."""

    NONNEGATIVE: ClassVar[tuple[str, ...]] = ("min_trait",)
    name: str = "oracle"
    price: str = "discount_50_sms"
    min_trait: float = 0.4

    def act(self, obs: np.ndarray, mask: np.ndarray, ctx: Context) -> np.ndarray:
        if "pain" not in ctx.latent:
            raise ValueError("oracle: ctx.latent must hold the users' latent traits")
        col, k = self._indices(ctx)
        pain = ctx.latent["pain"]
        wanted = np.zeros(obs.shape[0], dtype=np.int64)
        churned = obs[:, col["status_churned"]] > 0.5
        rules = (
            ("price", "price_sens", self.price),
            ("discovery", "friction", self.discovery),
            ("technical", "tech", self.technical),
            ("content", "content_need", self.content),
        )
        for reason, trait, offer in rules:
            hit = (pain == PAIN_POINTS.index(reason)) & (ctx.latent[trait] >= self.min_trait)
            wanted[hit] = k[offer]
        starved = (pain == PAIN_POINTS.index("content")) & churned
        wanted[starved & (ctx.latent["content_need"] >= self.min_trait)] = k[self.content_churned]
        return np.where(_lapsed(obs, ctx) & (wanted > 0), masked_choice(mask, wanted), 0)


def _lapsed(obs: np.ndarray, ctx: Context) -> np.ndarray:
    col = {n: i for i, n in enumerate(ctx.feature_names)}
    return (obs[:, col["status_inactive"]] + obs[:, col["status_churned"]]) > 0.5
