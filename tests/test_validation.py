"""Bad parameters fail at construction with a ValueError naming key, value and what is allowed."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sim import Channel, Offer, Plan, PriceChange, Release, Simulation, presets
from sim.offers import Catalogue
from sim.streams import Streams

STREAMING = presets.streaming(n_users=100, horizon_days=60)
SEG = STREAMING.segments[0]


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (lambda: replace(SEG, deal_seeker_share=1.5), ["deal_seeker_share", "1.5", "[0, 1]"]),
        (lambda: replace(SEG, lapse_rate=-0.1), ["lapse_rate", "-0.1", ">= 0"]),
        (lambda: replace(SEG, pain_mix={"price": 0.5, "boredom": 0.5}), ["boredom", "price"]),
        (lambda: replace(SEG, pain_mix={"price": 0.5, "none": 0.4}), ["pain_mix", "sum to"]),
        (lambda: replace(SEG, reach={"fax": 0.5}), ["fax", "email"]),
        (lambda: replace(SEG, heterogeneity=0), ["heterogeneity", "> 0"]),
        (lambda: replace(SEG, weight="abc"), ["weight", "'abc'"]),
        (lambda: Channel("email", -1.0, 0.5, 0.01, 4), ["cost_per_send", "-1.0"]),
        (lambda: Channel("email", 0.01, 0.5, 0.01, 999), ["frequency_cap", "999", "<= 255"]),
        (lambda: Channel("pigeon", 0.01, 0.5, 0.01, 4), ["pigeon", "email, push, sms"]),
        (
            lambda: Channel("email", 0.01, 0.5, 0.01, 4, unsubscribe_cost=-2.0),
            ["channels.email.unsubscribe_cost", "-2.0"],
        ),
        (lambda: Plan("basic", -5), ["monthly_price", "-5"]),
        (lambda: Offer("x", "bribe", "email"), ["kind", "bribe", "discount"]),
        (lambda: Offer("x", "discount", "email", discount=1.5), ["discount", "1.5", "[0, 1]"]),
        (lambda: Offer("x", "discount", "email", discount=0.0), ["discount", "> 0"]),
        (lambda: Offer("x", "reminder", "email", eligible=("asleep",)), ["asleep", "inactive"]),
        (lambda: Offer("x", "support", "sms", support_cost=-2), ["support_cost", "-2"]),
        (lambda: Offer("x", "free_trial", "email"), ["trial_days", "free trial"]),
        (lambda: replace(STREAMING, n_users=0), ["n_users", "0", ">= 1"]),
        (lambda: replace(STREAMING, business="rental"), ["business", "rental", "subscription"]),
        (lambda: replace(STREAMING, releases=(Release(99, "drama"),)), ["releases[0].day", "99"]),
        (lambda: replace(STREAMING, releases=(Release(5, "opera"),)), ["genre", "opera"]),
        (
            lambda: replace(STREAMING, price_changes=(PriceChange(5, "gold", 9.0),)),
            ["plan", "gold", "basic"],
        ),
        (lambda: replace(STREAMING, channels=STREAMING.channels[:2]), ["channels", "sms"]),
        (lambda: replace(STREAMING, margin=2.0), ["margin", "2.0"]),
        (lambda: replace(STREAMING.dynamics, survey_fraction=-0.2), ["survey_fraction", "-0.2"]),
        (lambda: replace(STREAMING.dynamics, freshness_halflife_days=0), ["halflife", "> 0"]),
        (lambda: Catalogue((Offer("a", "reminder", "email"),) * 2), ["duplicate", "a"]),
        (lambda: Streams(-3), ["seed", "-3"]),
    ],
)
def test_bad_parameter_names_key_value_and_allowed(build, words) -> None:
    with pytest.raises(ValueError) as err:
        build()
    for word in words:
        assert word in str(err.value), (word, str(err.value))


def test_free_trial_needs_a_subscription_business() -> None:
    trial = Catalogue((Offer("t", "free_trial", "email", trial_days=7),))
    with pytest.raises(ValueError, match=r"free_trial.*subscription"):
        Simulation(presets.retail(n_users=50, horizon_days=30), trial)


def test_bad_offer_requests_fail_before_any_change() -> None:
    sim = Simulation(STREAMING, presets.streaming_offers(), seed=0)
    sim.run_until(7)
    before = sim.pop.n_offers.copy()
    for users, offers, words in [
        ([1, 1], [0, 0], "appears twice"),
        ([1000], [0], "ids must be in [0, 99]"),
        ([1], [42], "catalogue"),
        ([1, 2], [0], "equal length"),
    ]:
        with pytest.raises(ValueError) as err:
            sim.offer(np.array(users), np.array(offers))
        assert words in str(err.value)
    assert np.array_equal(sim.pop.n_offers, before)


def test_run_until_refuses_the_past_and_beyond_the_horizon() -> None:
    sim = Simulation(STREAMING, None, seed=0)
    sim.run_until(14)
    with pytest.raises(ValueError, match="in the past"):
        sim.run_until(7)
    with pytest.raises(ValueError, match="beyond the horizon"):
        sim.run_until(61)
