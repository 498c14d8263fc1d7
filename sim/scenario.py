"""Typed scenario description: who the users are, what the calendar holds, how they respond.

These frozen dataclasses are the boundary between configuration (Hydra, YAML) and the
simulator. Each validates itself at construction and raises ``ValueError`` naming the key,
the value and what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace

from sim.constants import BILLINGS, BUSINESS_MODES, CHANNELS, PAIN_POINTS, STATES
from sim.signals import DEFAULT_STRENGTH
from sim.validation import (
    check_choice,
    check_day,
    check_distribution,
    check_int,
    check_nonnegative,
    check_positive,
    check_probability,
)


@dataclass(frozen=True)
class Plan:
    """A subscription plan (transactional scenarios use one plan with price 0).

    ``billing``: "none" (a cancellation takes effect at once), "monthly" or "annual" (it
    takes effect at the end of the billing period it is made in: periods of
    ``sim.constants.BILLING_DAYS`` days run from the user's (re)subscription; until then the
    user keeps using the service and paying). The price is accrued daily either way.
    """

    name: str
    monthly_price: float
    billing: str = "none"

    def __post_init__(self) -> None:
        check_nonnegative(f"plans.{self.name}.monthly_price", self.monthly_price)
        check_choice(f"plans.{self.name}.billing", self.billing, BILLINGS)


@dataclass(frozen=True)
class Channel:
    """A messaging channel: what a send costs and how people react to it."""

    name: str
    cost_per_send: float
    open_rate: float  # chance a fully responsive, unfatigued user opens a message
    unsubscribe_prob: float  # chance a delivered message makes the user unsubscribe
    frequency_cap: int  # most messages one user may receive on this channel per 28 days
    # the value of a year of one customer's reach on this channel: an opt-out is charged the
    # part of that year beyond the run's horizon (sim.kernel.delivery.unreached_share), in profit
    unsubscribe_cost: float = 0.0

    def __post_init__(self) -> None:
        key = f"channels.{self.name}"
        check_choice(f"{key}.name", self.name, CHANNELS)
        check_nonnegative(f"{key}.cost_per_send", self.cost_per_send)
        check_probability(f"{key}.open_rate", self.open_rate)
        check_probability(f"{key}.unsubscribe_prob", self.unsubscribe_prob)
        check_int(f"{key}.frequency_cap", self.frequency_cap, 0, 255)
        check_nonnegative(f"{key}.unsubscribe_cost", self.unsubscribe_cost)


@dataclass(frozen=True)
class Segment:
    """One component of the user mixture. Rates are per day."""

    name: str
    weight: float
    pain_mix: Mapping[str, float]
    initial_state: Mapping[str, float]
    plan_mix: Mapping[str, float]
    reach: Mapping[str, float]  # share of users reachable on each channel at the start
    responsiveness: Mapping[str, float]  # mean propensity to open, per channel
    activity_rate: float  # sessions (or purchases) per day while active
    dormant_activity_rate: float  # sessions per day while dormant
    lapse_rate: float  # active -> dormant
    cancel_rate: float  # active -> churned
    return_rate: float  # dormant -> active
    dormant_cancel_rate: float  # dormant -> churned
    comeback_rate: float  # churned -> active
    heterogeneity: float = 2.0  # gamma shape of the per-user hazard multiplier (large: alike)
    return_heterogeneity: float = 0.0  # its shape on returning and coming back (0: the same)
    activity_heterogeneity: float = 4.0  # gamma shape of the per-user activity multiplier
    deal_seeker_share: float = 0.2
    basket_value: float = 0.0  # mean purchase value (transactional)
    mean_tenure_days: float = 365.0  # time since sign-up at the start (subscribers: see
    # sim.population.lived_tenure, which shortens it by each subscriber's own cancelling)

    def __post_init__(self) -> None:
        key = f"segments.{self.name}"
        check_positive(f"{key}.weight", self.weight)
        check_distribution(f"{key}.pain_mix", self.pain_mix, PAIN_POINTS)
        check_distribution(f"{key}.initial_state", self.initial_state, STATES)
        for ch, p in self.reach.items():
            check_choice(f"{key}.reach key", ch, CHANNELS)
            check_probability(f"{key}.reach.{ch}", p)
        for ch, p in self.responsiveness.items():
            check_choice(f"{key}.responsiveness key", ch, CHANNELS)
            check_probability(f"{key}.responsiveness.{ch}", p)
        for name in (
            "activity_rate",
            "dormant_activity_rate",
            "lapse_rate",
            "cancel_rate",
            "return_rate",
            "dormant_cancel_rate",
            "comeback_rate",
            "basket_value",
        ):
            check_nonnegative(f"{key}.{name}", getattr(self, name))
        check_positive(f"{key}.heterogeneity", self.heterogeneity)
        check_nonnegative(f"{key}.return_heterogeneity", self.return_heterogeneity)
        check_positive(f"{key}.activity_heterogeneity", self.activity_heterogeneity)
        check_probability(f"{key}.deal_seeker_share", self.deal_seeker_share)
        check_positive(f"{key}.mean_tenure_days", self.mean_tenure_days)


@dataclass(frozen=True)
class Release:
    """A content release: raises freshness for users whose taste matches its genre."""

    day: int
    genre: str
    appeal: float = 1.0


@dataclass(frozen=True)
class PriceChange:
    """A new list price for a plan from a given day on."""

    day: int
    plan: str
    monthly_price: float


@dataclass(frozen=True)
class Dynamics:
    """The response model: how drivers and offers move the hazards (log-linear weights)."""

    price_weight: float = 3.0  # x price sensitivity x log(price paid / price at sign-up)
    price_level_weight: float = 1.0  # x price sensitivity: baseline price pain
    tech_weight: float = 1.5  # x technical-issue propensity, unless fixed by support
    friction_weight: float = 1.2  # x discovery friction, unless eased by recommendations
    freshness_weight: float = 1.0  # x content need x matching freshness
    freshness_halflife_days: float = 21.0
    content_message_gain: float = 1.0  # extra freshness seen while a new-release message acts
    nudge_lift: float = 0.3  # return-hazard lift of any opened message
    nudge_days: int = 14  # how long an opened message keeps acting
    fatigue_per_message: float = 0.5  # open-rate damping per recent message
    fatigue_halflife_days: float = 14.0
    deal_shock_prob: float = 0.5  # chance a deal seeker cancels when a discount or trial ends
    genre_concentration: float = 0.7  # Dirichlet concentration of genre affinity
    survey_fraction: float = 0.1  # share of cancelling users who answer the exit survey
    survey_accuracy: float = 0.7  # chance the survey names the true pain point

    def __post_init__(self) -> None:
        for name in (
            "price_weight",
            "price_level_weight",
            "tech_weight",
            "friction_weight",
            "freshness_weight",
            "content_message_gain",
            "nudge_lift",
            "fatigue_per_message",
        ):
            check_nonnegative(f"dynamics.{name}", getattr(self, name))
        check_positive("dynamics.freshness_halflife_days", self.freshness_halflife_days)
        check_positive("dynamics.fatigue_halflife_days", self.fatigue_halflife_days)
        check_positive("dynamics.genre_concentration", self.genre_concentration)
        check_int("dynamics.nudge_days", self.nudge_days, 0, 3650)
        for name in ("deal_shock_prob", "survey_fraction", "survey_accuracy"):
            check_probability(f"dynamics.{name}", getattr(self, name))


@dataclass(frozen=True)
class Signals:
    """How plainly the behaviour a company logs shows each pain point (``sim.signals``):
    per family, 0 pure noise (a signal's rate per session varies between users for no
    reason) to 1 strongly informative (its rate is proportional to the family's latent
    trait). Signals never change what users do."""

    price: float = DEFAULT_STRENGTH  # pricing-page views, payment failures
    content: float = DEFAULT_STRENGTH  # titles of one's taste watched through
    discovery: float = DEFAULT_STRENGTH  # searches and titles abandoned
    technical: float = DEFAULT_STRENGTH  # app errors, failed sign-ins

    def __post_init__(self) -> None:
        for name in self.strengths():
            check_probability(f"signals.{name}", getattr(self, name))

    def strengths(self) -> dict[str, float]:
        """Family name -> strength."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Scenario:
    """A whole simulated business: population, calendar, economics and response model."""

    name: str
    business: str  # "subscription" or "transactional"
    n_users: int
    horizon_days: int
    genres: tuple[str, ...]
    plans: tuple[Plan, ...]
    channels: tuple[Channel, ...]
    segments: tuple[Segment, ...]
    releases: tuple[Release, ...] = ()
    price_changes: tuple[PriceChange, ...] = ()
    dynamics: Dynamics = field(default_factory=Dynamics)
    signals: Signals = field(default_factory=Signals)
    warmup_days: int = 56  # simulated before day 0 so observable history is earned
    epoch_days: int = 7  # campaign decision epochs
    inactive_after_days: int = 28  # the company flags a user inactive after this long
    serving_cost_per_session: float = 0.0
    margin: float = 1.0  # share of purchase value that is gross profit (transactional)

    def __post_init__(self) -> None:
        check_choice("scenario.business", self.business, BUSINESS_MODES)
        check_int("scenario.n_users", self.n_users, 1, 50_000_000)
        check_int("scenario.horizon_days", self.horizon_days, 1, 3650)
        check_int("scenario.warmup_days", self.warmup_days, 0, 3650)
        check_int("scenario.epoch_days", self.epoch_days, 1, 365)
        check_int("scenario.inactive_after_days", self.inactive_after_days, 1, 3650)
        check_nonnegative("scenario.serving_cost_per_session", self.serving_cost_per_session)
        check_probability("scenario.margin", self.margin)
        for plan in self.plans:
            if plan.billing != "none" and not self.is_subscription:
                raise ValueError(
                    f"plans.{plan.name}.billing: {plan.billing!r} needs a subscription "
                    f"scenario; scenario {self.name!r} is {self.business} (allowed: 'none')"
                )
        self._check_names()
        self._check_calendar()

    def _check_names(self) -> None:
        if not self.genres:
            raise ValueError("scenario.genres: empty; expected at least one genre name")
        if not self.segments:
            raise ValueError("scenario.segments: empty; expected at least one segment")
        if not self.plans:
            raise ValueError("scenario.plans: empty; expected at least one plan")
        for key, names in (
            ("genres", list(self.genres)),
            ("plans", self.plan_names),
            ("segments", self.segment_names),
            ("channels", self.channel_names),
        ):
            if len(set(names)) != len(names):
                raise ValueError(f"scenario.{key}: duplicate names in {names}")
        if set(self.channel_names) != set(CHANNELS):
            raise ValueError(
                f"scenario.channels: {self.channel_names} given; every channel must be "
                f"described once: {', '.join(CHANNELS)}"
            )
        for seg in self.segments:
            check_distribution(f"segments.{seg.name}.plan_mix", seg.plan_mix, self.plan_names)

    def _check_calendar(self) -> None:
        for i, r in enumerate(self.releases):
            check_day(f"releases[{i}].day", r.day, self.horizon_days)
            check_choice(f"releases[{i}].genre", r.genre, self.genres)
            check_nonnegative(f"releases[{i}].appeal", r.appeal)
        for i, c in enumerate(self.price_changes):
            check_day(f"price_changes[{i}].day", c.day, self.horizon_days)
            check_choice(f"price_changes[{i}].plan", c.plan, self.plan_names)
            check_nonnegative(f"price_changes[{i}].monthly_price", c.monthly_price)

    @property
    def plan_names(self) -> list[str]:
        return [p.name for p in self.plans]

    @property
    def segment_names(self) -> list[str]:
        return [s.name for s in self.segments]

    @property
    def channel_names(self) -> list[str]:
        return [c.name for c in self.channels]

    @property
    def is_subscription(self) -> bool:
        return self.business == "subscription"

    def channel(self, name: str) -> Channel:
        return self.channels[self.channel_names.index(name)]


def blend_segments(segments: tuple[Segment, ...]) -> Segment:
    """One segment standing for ``segments`` averaged by weight: its pain-point, plan and
    reach mixes, responsiveness and deal-seeker share; the rest is the first segment's."""
    total = sum(s.weight for s in segments)
    pairs = [(s.weight / total, s) for s in segments]

    def mix(name: str) -> dict[str, float]:
        keys = sorted({k for s in segments for k in getattr(s, name)})
        return {k: float(sum(w * getattr(s, name).get(k, 0.0) for w, s in pairs)) for k in keys}

    return replace(
        segments[0],
        pain_mix=mix("pain_mix"),
        plan_mix=mix("plan_mix"),
        reach=mix("reach"),
        responsiveness=mix("responsiveness"),
        deal_seeker_share=float(sum(w * s.deal_seeker_share for w, s in pairs)),
    )
