"""Billing periods: a cancellation on a plan billed monthly or annually takes effect at the end
of the period it is decided in (periods run from the (re)subscription).

The fast engine against the naive model is in ``test_naive.py``; here, an exact law and the
anniversary rule. Tolerance: counts within 4 standard errors of their expectation.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from sim import Dynamics, Plan, Simulation, presets
from sim.constants import ACTIVE, BILLING_DAYS, CHURNED
from tests.conftest import small_streaming

CANCEL = 0.01  # per day


def billed(scenario, billing: str):
    return replace(scenario, plans=tuple(replace(p, billing=billing) for p in scenario.plans))


def cancel_only_scenario(billing: str):
    """Everyone active, no lapses, no comebacks, no drivers: cancellations at a constant
    rate are the only transitions."""
    base = presets.streaming(n_users=40_000, horizon_days=180)
    seg = replace(
        base.segments[0],
        weight=1.0,
        heterogeneity=1e7,
        initial_state={"active": 1.0},
        lapse_rate=0.0,
        cancel_rate=CANCEL,
        comeback_rate=0.0,
    )
    flat = Dynamics(
        price_weight=0, price_level_weight=0, tech_weight=0, friction_weight=0, freshness_weight=0
    )
    scenario = replace(base, segments=(seg,), releases=(), dynamics=flat, warmup_days=0)
    return billed(scenario, billing)


@pytest.mark.parametrize("billing", ["monthly", "annual"])
def test_cancellations_wait_for_the_end_of_the_billing_period(billing: str) -> None:
    """A user whose periods start at ``a`` has cancelled by day ``d`` exactly when the
    decision (exponential from day 0) came before the last period end ``e <= d``:
    P = 1 - exp(-rate * e). Cancelling at once would give 1 - exp(-rate * d) instead."""
    scenario = cancel_only_scenario(billing)
    sim = Simulation(scenario, None, seed=3)
    result = sim.run()
    period = BILLING_DAYS[billing]
    start = sim.pop.signup_day.astype(np.float64)
    for day in (10, 45, 100, 180):
        last_end = start + period * np.floor((day - start) / period)
        p = 1.0 - np.exp(-CANCEL * np.maximum(last_end, 0.0))
        expected, se = p.sum(), math.sqrt((p * (1 - p)).sum())
        observed = result.occupancy[day, CHURNED].sum()
        assert abs(observed - expected) < 4 * se, (billing, day, observed, expected, se)
        at_once = scenario.n_users * (1 - math.exp(-CANCEL * day))
        assert abs(at_once - expected) > 8 * se  # the test tells the two rules apart


def test_annual_cancellations_happen_only_on_subscription_anniversaries() -> None:
    """Every cancellation falls a whole number of years after the sign-up or, after a
    comeback, after the resubscription; pending cancellations still leave time to lapse and
    return."""
    scenario = billed(small_streaming(n_users=3_000, horizon_days=400), "annual")
    sim = Simulation(scenario, presets.streaming_offers(), seed=5, trace=True)
    sim.run()
    tr = sim.transitions()
    anchor = sim.pop.signup_day.astype(np.float64)  # comebacks move it below
    anchor = dict(enumerate(anchor.tolist()))
    years, after_comeback = [], 0
    columns = (tr[k].tolist() for k in ("user", "time", "src", "dst"))
    for user, time, src, dst in zip(*columns, strict=True):
        if src == CHURNED:
            anchor[user] = time
            continue
        if dst == CHURNED:
            years.append((time - anchor[user]) / 365.0)
            after_comeback += anchor[user] > -scenario.warmup_days
    years_arr = np.array(years)
    assert years_arr.size > 200 and after_comeback > 0
    assert np.all(years_arr >= 1.0 - 1e-9)
    assert np.abs(years_arr - np.round(years_arr)).max() < 1e-9
    assert ((tr["src"] == ACTIVE) & (tr["dst"] != CHURNED)).sum() > 500  # engagement goes on


def test_billing_none_is_the_default_and_bad_values_are_refused() -> None:
    assert Plan("basic", 9.99).billing == "none"
    with pytest.raises(ValueError, match=r"plans\.basic\.billing: 'weekly'.*allowed"):
        Plan("basic", 9.99, billing="weekly")
    retail = presets.retail(n_users=100, horizon_days=30)
    with pytest.raises(ValueError, match=r"billing: 'annual' needs a subscription scenario"):
        billed(retail, "annual")
