"""Reference policies: no offer (the control), random, blanket offer, the seeds' playbook,
and the oracle that reads latent traits (the upper reference)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from agents.base import Context, FixedPolicy, masked_choice
from sim.constants import PAIN_POINTS
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
class Playbook(FixedPolicy):
    """The seeds' rule book, by exit-survey reason: technical -> support, discovery ->
    recommendations, price -> discount, content -> free trial if churned else a
    new-release message; no answer -> ``default``. Only users inactive for at least
    ``min_recency_days`` are contacted."""

    OFFER_FIELDS: ClassVar[tuple[str, ...]] = (
        "price",
        "content_churned",
        "content",
        "discovery",
        "technical",
        "default",
    )
    name: str = "playbook"
    price: str = "discount_30"
    content_churned: str = "free_trial_30"
    content: str = "new_release_push"
    discovery: str = "recommendations"
    technical: str = "support_call"
    default: str = "reminder_email"
    min_recency_days: float = 28.0

    def __post_init__(self) -> None:
        check_nonnegative("min_recency_days", self.min_recency_days)

    def act(self, obs: np.ndarray, mask: np.ndarray, ctx: Context) -> np.ndarray:
        col = {n: i for i, n in enumerate(ctx.feature_names)}
        k = {n: 1 + i for i, n in enumerate(ctx.offer_names)}
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
        due = obs[:, col["recency"]] * 365.0 >= self.min_recency_days
        return np.where(_lapsed(obs, ctx) & due, masked_choice(mask, wanted), 0)


@dataclass(kw_only=True)
class Oracle(FixedPolicy):
    """Reads each user's latent pain point and sends the offer that matches it, when the
    matching trait is strong enough to pay (``min_trait``). The upper reference: no real
    policy can see these traits."""

    OFFER_FIELDS: ClassVar[tuple[str, ...]] = (
        "price",
        "content_churned",
        "content",
        "discovery",
        "technical",
    )
    name: str = "oracle"
    price: str = "discount_50_sms"
    content_churned: str = "free_trial_30"
    content: str = "new_release_push"
    discovery: str = "recommendations"
    technical: str = "support_call"
    min_trait: float = 0.4

    def __post_init__(self) -> None:
        check_nonnegative("min_trait", self.min_trait)

    def act(self, obs: np.ndarray, mask: np.ndarray, ctx: Context) -> np.ndarray:
        if "pain" not in ctx.latent:
            raise ValueError("oracle: ctx.latent must hold the users' latent traits")
        col = {n: i for i, n in enumerate(ctx.feature_names)}
        k = {n: 1 + i for i, n in enumerate(ctx.offer_names)}
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
