"""Built-in scenarios and offer catalogues.

``streaming`` follows the first seed: a video service with a million users, many of them
dormant or cancelled, whose reasons (price, content, discovery, technical glitches) decide
which win-back action works. ``retail`` is the transactional mode, with purchase rates and
basket values in the range of the CDNOW music retailer. ``price_shock`` is streaming with a
price increase; ``content_drought`` is streaming with a long gap in releases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sim.offers import Catalogue, Offer
from sim.scenario import Channel, Dynamics, Plan, PriceChange, Release, Scenario, Segment

STREAMING_GENRES = ("drama", "comedy", "action", "documentary", "kids", "reality")
RETAIL_GENRES = ("rock", "pop", "classical", "jazz", "country", "soundtrack")

REACH = {"email": 0.9, "push": 0.6, "sms": 0.4}
RESPONSIVE = {"email": 0.35, "push": 0.3, "sms": 0.5}
# What an opt-out costs per channel: Hillstrom's "unsubscribe factor" (MineThatData, 2007),
# a year of what the channel earns per customer, measured in each preset as the best blanket
# campaign on that channel (every catalogue offer sent on it weekly to the lapsed; 20,000
# users, a year, 3 seeds, before opt-outs had a cost): README, "Evidence behind the presets'
# defaults".
STREAMING_UNSUBSCRIBE_COST = {"email": 2.9, "push": 1.3, "sms": 2.0}
RETAIL_UNSUBSCRIBE_COST = {"email": 4.4, "push": 1.1, "sms": 1.8}


CHANNEL_TERMS = {  # cost per send, open rate, unsubscribe probability, frequency cap
    "email": (0.005, 0.6, 0.004, 4),
    "push": (0.001, 0.5, 0.01, 4),
    "sms": (0.03, 0.9, 0.02, 2),
}


def _channels(unsubscribe_cost: dict[str, float]) -> tuple[Channel, ...]:
    """The three channels (:data:`CHANNEL_TERMS`); ``unsubscribe_cost``: what an opt-out
    costs on each (a year of the channel's value per customer, measured in the preset: see
    the README's evidence)."""
    return tuple(
        Channel(
            name,
            cost_per_send=cost,
            open_rate=opens,
            unsubscribe_prob=unsubscribes,
            frequency_cap=cap,
            unsubscribe_cost=unsubscribe_cost[name],
        )
        for name, (cost, opens, unsubscribes, cap) in CHANNEL_TERMS.items()
    )


def release_slate(
    genres: tuple[str, ...], horizon: int, every: int, skip: range = range(0)
) -> tuple[Release, ...]:
    """A steady release slate: one title every ``every`` days (on week boundaries when
    ``every`` is a multiple of 7) cycling genres, with a big tentpole (appeal 3) every
    sixth release."""
    out = []
    for i, day in enumerate(range(0, horizon, every)):
        if day in skip:
            continue
        out.append(
            Release(day=day, genre=genres[i % len(genres)], appeal=3.0 if i % 6 == 5 else 1.0)
        )
    return tuple(out)


def _segment(name: str, weight: float, pain: dict[str, float], **rates: Any) -> Segment:
    base: dict = dict(
        initial_state={"active": 0.5, "dormant": 0.3, "churned": 0.2},
        plan_mix={"basic": 0.35, "standard": 0.45, "premium": 0.2},
        reach=REACH,
        responsiveness=RESPONSIVE,
        activity_rate=0.5,
        dormant_activity_rate=0.01,
        lapse_rate=1 / 90,
        cancel_rate=1 / 1800,
        return_rate=1 / 40,
        dormant_cancel_rate=1 / 200,
        comeback_rate=1 / 500,
    )
    base.update(rates)
    return Segment(name=name, weight=weight, pain_mix=pain, **base)


def streaming(n_users: int = 1_000_000, horizon_days: int = 365) -> Scenario:
    """Subscription video: dormant users still pay, churned users cancelled."""
    segments = (
        _segment(
            "loyal",
            0.35,
            {"price": 0.15, "content": 0.3, "discovery": 0.2, "technical": 0.1, "none": 0.25},
            initial_state={"active": 0.75, "dormant": 0.2, "churned": 0.05},
            lapse_rate=1 / 150,
            return_rate=1 / 35,
            dormant_cancel_rate=1 / 200,
            comeback_rate=1 / 250,
            activity_rate=0.8,
            deal_seeker_share=0.05,
        ),
        _segment(
            "casual",
            0.35,
            {"price": 0.25, "content": 0.3, "discovery": 0.3, "technical": 0.1, "none": 0.05},
            activity_rate=0.35,
        ),
        _segment(
            "bargain",
            0.15,
            {"price": 0.6, "content": 0.15, "discovery": 0.1, "technical": 0.1, "none": 0.05},
            initial_state={"active": 0.35, "dormant": 0.3, "churned": 0.35},
            cancel_rate=1 / 400,
            dormant_cancel_rate=1 / 50,
            deal_seeker_share=0.5,
            plan_mix={"basic": 0.7, "standard": 0.3, "premium": 0.0},
        ),
        _segment(
            "glitchy",
            0.15,
            {"price": 0.1, "content": 0.15, "discovery": 0.15, "technical": 0.55, "none": 0.05},
            initial_state={"active": 0.4, "dormant": 0.35, "churned": 0.25},
            lapse_rate=1 / 50,
            return_rate=1 / 70,
        ),
    )
    return Scenario(
        name="streaming",
        business="subscription",
        n_users=n_users,
        horizon_days=horizon_days,
        genres=STREAMING_GENRES,
        plans=(Plan("basic", 9.99), Plan("standard", 15.49), Plan("premium", 22.99)),
        channels=_channels(STREAMING_UNSUBSCRIBE_COST),
        segments=segments,
        releases=release_slate(STREAMING_GENRES, horizon_days, every=7),
        dynamics=Dynamics(),
        serving_cost_per_session=0.04,
        inactive_after_days=28,
    )


def price_shock(n_users: int = 1_000_000, horizon_days: int = 365) -> Scenario:
    """Streaming with a 20% list-price increase on every plan on day 90."""
    base = streaming(n_users, horizon_days)
    day = min(90, horizon_days - 1)
    changes = tuple(
        PriceChange(day=day, plan=p.name, monthly_price=round(p.monthly_price * 1.2, 2))
        for p in base.plans
    )
    return replace(base, name="price_shock", price_changes=changes)


def content_drought(n_users: int = 1_000_000, horizon_days: int = 365) -> Scenario:
    """Streaming with no releases between day 60 and day 180."""
    base = streaming(n_users, horizon_days)
    releases = release_slate(STREAMING_GENRES, horizon_days, every=7, skip=range(60, 180))
    return replace(base, name="content_drought", releases=releases)


def retail(n_users: int = 100_000, horizon_days: int = 365) -> Scenario:
    """Transactional retail: revenue is purchase margin; lapsed customers rarely return."""
    common: dict = dict(
        plan_mix={"none": 1.0},
        reach={"email": 0.8, "push": 0.3, "sms": 0.2},
        responsiveness={"email": 0.25, "push": 0.2, "sms": 0.4},
        cancel_rate=0.0,
        basket_value=35.0,
        mean_tenure_days=400.0,
    )
    segments = (
        Segment(
            name="regular",
            weight=0.3,
            pain_mix={
                "price": 0.3,
                "content": 0.2,
                "discovery": 0.3,
                "technical": 0.1,
                "none": 0.1,
            },
            initial_state={"active": 0.6, "dormant": 0.3, "churned": 0.1},
            activity_rate=1 / 25,
            dormant_activity_rate=1 / 400,
            lapse_rate=1 / 150,
            return_rate=1 / 120,
            dormant_cancel_rate=1 / 200,
            comeback_rate=1 / 2000,
            heterogeneity=1.0,
            deal_seeker_share=0.2,
            **common,
        ),
        Segment(
            name="occasional",
            weight=0.7,
            pain_mix={
                "price": 0.4,
                "content": 0.2,
                "discovery": 0.2,
                "technical": 0.1,
                "none": 0.1,
            },
            initial_state={"active": 0.3, "dormant": 0.3, "churned": 0.4},
            activity_rate=1 / 60,
            dormant_activity_rate=1 / 1000,
            lapse_rate=1 / 60,
            return_rate=1 / 250,
            dormant_cancel_rate=1 / 120,
            comeback_rate=1 / 4000,
            heterogeneity=0.7,
            deal_seeker_share=0.35,
            **common,
        ),
    )
    return Scenario(
        name="retail",
        business="transactional",
        n_users=n_users,
        horizon_days=horizon_days,
        genres=RETAIL_GENRES,
        plans=(Plan("none", 0.0),),
        channels=_channels(RETAIL_UNSUBSCRIBE_COST),
        segments=segments,
        releases=release_slate(RETAIL_GENRES, horizon_days, every=14),
        # an opened message multiplies a lapsed customer's return hazard by e^3.3 (27x) for
        # 14 days: what brings a reminder e-mail to Hillstrom's randomised e-mail test
        # (README, "Evidence behind the presets' defaults"; tests/test_message_ab.py)
        dynamics=Dynamics(price_level_weight=0.0, nudge_lift=3.3),
        serving_cost_per_session=0.0,
        margin=0.3,
        inactive_after_days=90,
        warmup_days=182,
    )


def streaming_offers() -> Catalogue:
    """Win-back actions of the first seed, with realistic unit costs."""
    return Catalogue(
        (
            Offer("reminder_email", "reminder", "email", lift=0.0),
            Offer("discount_30", "discount", "email", discount=0.3, duration_days=90, lift=0.5),
            Offer("discount_50_sms", "discount", "sms", discount=0.5, duration_days=60, lift=0.8),
            Offer(
                "free_trial_30",
                "free_trial",
                "email",
                trial_days=30,
                lift=2.0,
                eligible=("churned",),
            ),
            Offer("recommendations", "recommendation", "push", duration_days=60, lift=1.5),
            Offer("support_call", "support", "sms", duration_days=120, support_cost=4.0, lift=2.0),
            Offer("new_release_push", "content_message", "push", lift=1.0),
        )
    )


def retail_offers() -> Catalogue:
    """Coupons, recommendations and service outreach for a retailer."""
    return Catalogue(
        (
            Offer("reminder_email", "reminder", "email", lift=0.0),
            Offer("coupon_10", "discount", "email", discount=0.1, duration_days=30, lift=0.5),
            Offer("coupon_25", "discount", "email", discount=0.25, duration_days=30, lift=1.0),
            Offer("recommendations", "recommendation", "email", duration_days=45, lift=1.5),
            Offer("service_call", "support", "sms", duration_days=90, support_cost=3.0, lift=2.0),
            Offer("new_arrivals", "content_message", "push", lift=1.0),
        )
    )


SCENARIOS: dict[str, Callable[..., Scenario]] = {
    "streaming": streaming,
    "retail": retail,
    "price_shock": price_shock,
    "content_drought": content_drought,
}
CATALOGUES: dict[str, Callable[[], Catalogue]] = {
    "streaming": streaming_offers,
    "retail": retail_offers,
}
PRESET_OFFERS: dict[str, str] = {
    "streaming": "streaming",
    "retail": "retail",
    "price_shock": "streaming",
    "content_drought": "streaming",
}
"""The catalogue (a key of ``CATALOGUES``) that goes with each preset scenario."""


def offers_for(preset: str) -> Catalogue:
    """The catalogue that goes with a preset scenario."""
    return CATALOGUES[PRESET_OFFERS[preset]]()
