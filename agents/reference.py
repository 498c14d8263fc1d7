"""Reference policies: no offer (the control), random, blanket offer, the seeds' playbook,
two that see what no company can (the pain-point rule reads hidden pain points; the
full-information reference looks ahead inside the simulation: the upper reference), and a
randomised campaign with a holdout (the kind of logging policy whose records measure
offers)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from agents.base import NOTHING, Context, FixedPolicy, masked_choice
from sim.constants import ARMS, PAIN_POINTS, RECENCY_SCALE_DAYS
from sim.offers import Catalogue
from sim.signals import SIGNAL_COLUMNS
from sim.validation import check_choice, check_int, check_nonnegative, check_probability

if TYPE_CHECKING:
    from agents.scores import ChurnScores


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
    the exit survey, the pain-point rule from the hidden trait); ``content_churned`` is the content
    offer for users who cancelled; ``"nothing"`` (``NOTHING``) sends nothing to that group."""

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
        """Each feature's observation column, and each offer's action (``NOTHING``: 0)."""
        return {n: i for i, n in enumerate(ctx.feature_names)}, {
            NOTHING: 0,
            **{n: 1 + i for i, n in enumerate(ctx.offer_names)},
        }


@dataclass(kw_only=True)
class Playbook(Rules):
    """The seeds' rule book, by reason: technical -> support, discovery ->
    recommendations, price -> discount, content -> free trial if churned else a
    new-release message; no reason (or ``none``) -> ``default``. Only users inactive for at
    least ``min_recency_days`` are contacted.

    ``reasons``: where a user's reason comes from: ``survey``, the exit-survey answer
    (about one cancelling user in ten answers, dormant users are never asked); ``predicted``,
    the likeliest pain point by the churn scores (``agents.scores``, from behaviour: set by
    :func:`agents.scores.scored_playbook`); ``both``, the survey's answer where there is
    one, else the prediction."""

    OFFER_FIELDS: ClassVar[tuple[str, ...]] = (*Rules.OFFER_FIELDS, "default")
    NONNEGATIVE: ClassVar[tuple[str, ...]] = ("min_recency_days",)
    name: str = "playbook"
    default: str = "reminder_email"
    min_recency_days: float = 28.0
    reasons: str = "survey"

    def __post_init__(self) -> None:
        super().__post_init__()
        from agents.scores import REASON_SOURCES

        check_choice("reasons", self.reasons, REASON_SOURCES)
        self.reason_model: ChurnScores | None = None  # predicted reasons: scored_playbook's

    def act(self, obs: np.ndarray, mask: np.ndarray, ctx: Context) -> np.ndarray:
        col, k = self._indices(ctx)
        due = obs[:, col["recency"]] * RECENCY_SCALE_DAYS >= self.min_recency_days
        contact = _lapsed(obs, ctx) & due
        reason = self.reasons_of(obs, ctx, contact)
        offers = self.offers_by_reason()
        by_reason = np.array([k[o] for o in offers] + [k[self.default]])  # last: no reason
        wanted = by_reason[reason]
        churned = obs[:, col["status_churned"]] > 0.5
        wanted[(reason == PAIN_POINTS.index("content")) & churned] = k[self.content_churned]
        return np.where(contact, masked_choice(mask, wanted), 0)

    def offers_by_reason(self) -> tuple[str, ...]:
        """The offer each pain point gets, in ``PAIN_POINTS`` order (``none``: ``default``;
        content to a customer who cancelled: ``content_churned`` instead)."""
        return (self.price, self.content, self.discovery, self.technical, self.default)

    def reasons_of(self, obs: np.ndarray, ctx: Context, rows: np.ndarray) -> np.ndarray:
        """Each user's reason by ``reasons`` (``agents.scores.reasons_of``), predicted for
        ``rows`` only."""
        from agents.scores import reasons_of

        return reasons_of(obs, list(ctx.feature_names), self.reasons, self.reason_model, rows)


@dataclass(kw_only=True)
class PainPointRule(Rules):
    """Reads each user's hidden pain point and sends the offer that matches it, when the
    matching trait is strong enough to pay (``min_trait``). A rule, not an optimum: it sees
    what no real policy can, yet skips lapsed users whose pain point has no strong trait."""

    NONNEGATIVE: ClassVar[tuple[str, ...]] = ("min_trait",)
    hidden: ClassVar[bool] = True
    name: str = "pain_point_rule"
    price: str = "discount_50_sms"
    min_trait: float = 0.4

    def act(self, obs: np.ndarray, mask: np.ndarray, ctx: Context) -> np.ndarray:
        if "pain" not in ctx.latent:
            raise ValueError("pain_point_rule: ctx.latent must hold the users' latent traits")
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


@dataclass(kw_only=True)
class FullInformation(FixedPolicy):
    """The full-information reference: at each decision, for every user it may contact
    (seen as inactive or churned; everyone with ``lapsed_only=False``), each offer's
    expected incremental profit to the horizon (or over ``days``) given everything the
    simulation knows of the user, hidden traits and state included, estimated by look-ahead
    on ``reps`` replications with random numbers of their own (``sim.lookahead``: never the
    user's own future); it sends the best offer where its estimate exceeds ``z`` standard
    errors. The same frequency caps, reach and eligibility as every policy (the mask).
    One-step: each decision assumes no later offer, so a policy that plans sequences could in
    principle beat it; it is a yardstick of what full information is worth, not a bound.

    ``pooled`` (default): each user's own estimate is shrunk toward what users like them
    gain (empirical Bayes; "like them": a gradient-boosting prediction from their hidden
    state and observations, cross-fitted so no user's own replications predict themselves;
    not the behavioural signals, noisy readings of the hidden traits it already has, so the
    reference earns the same at any signal strength and stays the yardstick across them),
    by how noisy it is. With 16 replications this earns more than each user's own estimate
    alone with 64 (README, "The full-information reference"); ``pooled=False`` uses each
    user's own estimate.

    It runs inside the benchmark's evaluation (``agents.evaluate``), which hands it the
    look-ahead (``ctx.lookahead``); a Gymnasium environment cannot. What it predicted is kept
    (:meth:`diagnostics`): the sum of the estimated gains it acted on (pooled: the shrunk
    ones) and that sum's standard error, beside which the run's realised incremental profit
    shows its estimation error (and what its one-step view misses: each estimate assumes no
    later offer, so estimates of a user's successive offers do not add up)."""

    hidden: ClassVar[bool] = True
    name: str = "full_information"
    pooled: bool = True
    reps: int = 16
    days: int | None = None
    z: float = 1.0
    lapsed_only: bool = True
    seed: int = 0
    _gain: float = field(init=False, repr=False, default=0.0)
    _variance: float = field(init=False, repr=False, default=0.0)

    def __post_init__(self) -> None:
        check_int("reps", self.reps, 2)
        if self.days is not None:
            check_int("days", self.days, 1)
        check_nonnegative("z", self.z)
        check_int("seed", self.seed, 0)

    def act(self, obs: np.ndarray, mask: np.ndarray, ctx: Context) -> np.ndarray:
        if ctx.lookahead is None:
            raise ValueError(
                f"{self.name}: needs the simulation's look-ahead (ctx.lookahead), which the "
                "benchmark's evaluation gives; a Gymnasium environment does not"
            )
        who = mask[:, 1:].any(axis=1)
        if self.lapsed_only:
            who &= _lapsed(obs, ctx)
        users = np.flatnonzero(who)
        actions = np.zeros(obs.shape[0], dtype=np.int64)
        if not users.size:
            return actions
        gains = ctx.lookahead(users, mask[users], self.reps, self.days, self.seed)
        mean, sd = gains.mean, gains.se
        if self.pooled:
            seen = np.array([n not in SIGNAL_COLUMNS for n in ctx.feature_names])
            x = np.hstack([obs[users][:, seen], gains.state])
            prior = _predicted(x, gains.mean, self.seed)
            mean, sd = _shrunk(gains.mean, gains.se, prior)
        score = np.where(np.isnan(gains.mean), -np.inf, mean - self.z * sd)
        score[:, 0] = 0.0
        best = score.argmax(axis=1)
        rows = np.flatnonzero(best > 0)
        actions[users[rows]] = best[rows]
        self._gain += float(mean[rows, best[rows]].sum())
        self._variance += float((sd[rows, best[rows]] ** 2).sum())
        return actions

    def diagnostics(self) -> dict[str, float]:
        """The summed estimated gain of every offer sent so far, and its standard error."""
        return {"predicted_gain": self._gain, "predicted_gain_se": float(np.sqrt(self._variance))}


def _shrunk(mean: np.ndarray, se: np.ndarray, prior: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each user's own estimate shrunk toward the prediction ``prior`` by how noisy it is
    (empirical Bayes, per offer: the spread of the true gains around the prediction, tau^2,
    is the estimates' variance around it less their own sampling variance): posterior mean
    prior + tau^2 / (tau^2 + se^2) (mean - prior), and its standard deviation."""
    out, sd = np.full_like(mean, np.nan), np.full_like(mean, np.nan)
    for a in range(mean.shape[1]):
        known = ~np.isnan(mean[:, a])
        if not known.any():
            continue
        m, s2, p = mean[known, a], se[known, a] ** 2, prior[known, a]
        tau2 = max(float(np.mean((m - p) ** 2) - np.mean(s2)), 0.0)
        weight = np.divide(tau2, tau2 + s2, out=np.ones_like(s2), where=tau2 + s2 > 0)
        out[known, a] = p + weight * (m - p)
        sd[known, a] = np.sqrt(weight * s2)
    return out, sd


FIT_ROWS = 6000
"""Users a fold's prediction is fitted on, at most about (evenly spaced): the prediction is
the shrinkage's prior, and beyond a few thousand users more rows cost time, not accuracy."""


def _predicted(x: np.ndarray, gains: np.ndarray, seed: int) -> np.ndarray:
    """Each offer's gain predicted from features ``x`` (gradient boosting, two folds: each
    half of the users predicted by a model fitted on the other half; NaN gains, where an
    offer cannot be sent, are left out of the fits). One OpenMP thread: the fits are small,
    and OpenMP threads on a busy machine cost far more than they save."""
    from threadpoolctl import threadpool_limits

    out = np.zeros_like(gains)
    halves = np.arange(x.shape[0]) % 2
    with threadpool_limits(1):
        for a in range(1, gains.shape[1]):
            out[:, a] = _fitted(x, gains[:, a], halves, seed)
    return out


def _fitted(x: np.ndarray, y: np.ndarray, halves: np.ndarray, seed: int) -> np.ndarray:
    """One offer's cross-fitted prediction (:func:`_predicted`)."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    out = np.zeros_like(y)
    known = ~np.isnan(y)
    for half in (0, 1):
        rows = np.flatnonzero(known & (halves != half))
        rows = rows[:: max(1, -(-rows.size // FIT_ROWS))]  # evenly spaced, <= FIT_ROWS
        if rows.size < 20:  # too few to fit: the estimates' mean
            out[halves == half] = y[rows].mean() if rows.size else 0.0
            continue
        model = HistGradientBoostingRegressor(
            max_iter=40, max_leaf_nodes=15, max_bins=63, early_stopping=False, random_state=seed
        )
        model.fit(x[rows], y[rows])
        out[halves == half] = model.predict(x[halves == half])
    return out


@dataclass(kw_only=True)
class Campaign(FixedPolicy):
    """A randomised win-back campaign with a holdout: what a company runs to measure offers.

    At every epoch, each user seen as inactive or churned who can be sent every one of
    ``offers`` today (reachable, eligible, under the frequency caps: so the arms differ only
    by chance) and has not been drawn before (or, with ``redraw_after_days``, not for that
    many days) is drawn: held out with probability ``holdout_share`` (sent nothing), else sent
    one of ``offers``, each with probability (1 - holdout_share) / len(offers). Draws come
    from the policy's own generator (``seed``). Every draw is kept: :meth:`assignments`
    (user, day, offer, arm, propensity, campaign), which ``sim.records.event_log`` writes as
    ``offer_sent`` rows with arm treatment or holdout. Rows of ``obs`` must be the users
    (the evaluation hands the policy every user at every epoch)."""

    name: str = "campaign"
    offers: tuple[str, ...] = ("reminder_email",)
    holdout_share: float = 0.2
    campaign: str = "winback"
    redraw_after_days: int | None = None
    seed: int = 0
    _rng: np.random.Generator = field(init=False, repr=False)
    _drawn_on: np.ndarray | None = field(init=False, repr=False, default=None)
    _draws: list[tuple[float, np.ndarray, np.ndarray]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.offers = tuple(str(o) for o in self.offers)
        if not self.offers or len(set(self.offers)) != len(self.offers):
            raise ValueError(f"offers: {list(self.offers)}; allowed: distinct offer names, >= 1")
        share = check_probability("holdout_share", self.holdout_share)
        if share >= 1.0:
            raise ValueError(f"holdout_share: {share!r}; allowed: a number in [0, 1)")
        if self.redraw_after_days is not None:
            check_int("redraw_after_days", self.redraw_after_days, 1)
        if not self.campaign:
            raise ValueError("campaign: ''; allowed: a non-empty campaign name")
        self._rng = np.random.default_rng(check_int("seed", self.seed, 0))
        self._draws = []

    @classmethod
    def validate(cls, catalogue: Catalogue, /, **params: Any) -> None:
        for offer in params.get("offers") or ():
            if offer not in catalogue.names:
                raise ValueError(
                    f"offers: {offer!r}; allowed: offers of the catalogue: "
                    + ", ".join(catalogue.names)
                )
        cls(**params)

    @property
    def propensities(self) -> np.ndarray:
        """Chance of each outcome of a draw: held out, then each offer."""
        sent = (1.0 - self.holdout_share) / len(self.offers)
        return np.array([self.holdout_share, *[sent] * len(self.offers)])

    def act(self, obs: np.ndarray, mask: np.ndarray, ctx: Context) -> np.ndarray:
        missing = [o for o in self.offers if o not in ctx.offer_names]
        if missing:
            raise ValueError(f"offers: {missing} are not in the catalogue {ctx.offer_names}")
        if self._drawn_on is None:
            self._drawn_on = np.full(obs.shape[0], -np.inf)
        if self._drawn_on.size != obs.shape[0]:
            raise ValueError(
                f"campaign: {obs.shape[0]} rows given, {self._drawn_on.size} before; the rows "
                "must be the users, all of them at every epoch"
            )
        action = np.array([0, *(1 + ctx.offer_names.index(o) for o in self.offers)])
        waited = ctx.day - self._drawn_on
        due = (
            np.isinf(waited) if self.redraw_after_days is None else waited >= self.redraw_after_days
        )
        users = np.flatnonzero(_lapsed(obs, ctx) & due & mask[:, action[1:]].all(axis=1))
        outcome = self._rng.choice(action.size, size=users.size, p=self.propensities)
        self._drawn_on[users] = ctx.day
        self._draws.append((ctx.day, users, outcome))
        actions = np.zeros(obs.shape[0], dtype=np.int64)
        actions[users] = action[outcome]
        return actions

    def assignments(self) -> pd.DataFrame:
        """Every draw so far: user, day, offer ("" when held out), arm (treatment or
        holdout), propensity (the chance of that outcome), campaign."""
        day = np.concatenate([np.zeros(0), *(np.full(u.size, d) for d, u, _ in self._draws)])
        users = np.concatenate([np.zeros(0, np.int64), *(u for _, u, _ in self._draws)])
        outcome = np.concatenate([np.zeros(0, np.int64), *(o for _, _, o in self._draws)])
        return pd.DataFrame(
            {
                "user": users,
                "day": day,
                "offer": np.array(["", *self.offers], dtype=object)[outcome],
                "arm": np.array(ARMS, dtype=object)[np.where(outcome > 0, 0, 1)],
                "propensity": self.propensities[outcome],
                "campaign": self.campaign,
            }
        )


def _lapsed(obs: np.ndarray, ctx: Context) -> np.ndarray:
    col = {n: i for i, n in enumerate(ctx.feature_names)}
    return (obs[:, col["status_inactive"]] + obs[:, col["status_churned"]]) > 0.5
