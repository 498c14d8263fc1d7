"""Price changes in a subscription log and their effect (sim/calibration/prices.py), on
simulated logs with known truth: a streaming company with two monthly plans, one of which
rises by 20% mid-log. Logs are written without sessions (the price effect does not use
them). Figures measured on 2026-12-04 are in the README. The weight's recovery simulates
the scenario 10 times (about 45 s on 2 cores): marked slow."""

from __future__ import annotations

from dataclasses import replace
from functools import cache

import numpy as np
import pandas as pd
import pytest

from sim import presets
from sim.calibration import prices
from sim.calibration.eventlog import EventLog, validate_events
from sim.calibration.spells import subscription_spells
from sim.records import event_log
from sim.scenario import Plan, PriceChange, Scenario
from sim.simulation import Simulation

RISE_DAY = 180  # simulation day of the rise (the log opens 56 warm-up days earlier)
MAPPING_USERS = 10_000


def company(n: int, weight: float, rise: float = 1.2) -> Scenario:
    """Streaming, two monthly plans taken alike by every segment, ``basic`` rising by
    ``rise`` on :data:`RISE_DAY`, ``dynamics.price_weight`` = ``weight``."""
    base = presets.streaming(n_users=n, horizon_days=365)
    plans = (Plan("basic", 9.99, billing="monthly"), Plan("standard", 15.49, billing="monthly"))
    segments = tuple(replace(s, plan_mix={"basic": 0.5, "standard": 0.5}) for s in base.segments)
    changes = (PriceChange(RISE_DAY, "basic", round(9.99 * rise, 2)),) if rise != 1 else ()
    return replace(
        base,
        plans=plans,
        segments=segments,
        price_changes=changes,
        dynamics=replace(base.dynamics, price_weight=weight),
    )


@cache
def logged(n: int, weight: float, rise: float = 1.2, seed: int = 0) -> EventLog:
    sim = Simulation(company(n, weight, rise), seed=seed, record=True)
    sim.run()
    raw = event_log(sim)
    return validate_events(raw[raw.event_type != "session"], "simulated")


def effect(log: EventLog) -> prices.PriceEffect | None:
    return prices.price_effect(log, subscription_spells(log), log.end)[2]


@cache
def curve(n: int) -> pd.DataFrame:
    """The simulated coefficient per weight on the true scenario (its weight aside): the
    mapping as it is when the lifecycle is calibrated right."""
    log = logged(n, 0.0)
    schedule = prices.price_schedule(log)
    return prices.weight_curve(
        company(n, 0.0), schedule, log.window_start, log.end, MAPPING_USERS, seed=1
    )


def test_a_price_rise_is_found_on_its_day_with_its_ratio() -> None:
    log = logged(4000, 3.0)
    changes = prices.changes_of(prices.price_schedule(log))
    assert list(changes.plan) == ["basic"]
    day = log.window_start + 56 + RISE_DAY  # the log opens with the 56-day warm-up
    assert abs(int(changes.day.iloc[0]) - day) <= 1  # a renewal straddling by minutes
    assert changes.ratio.iloc[0] == pytest.approx(11.99 / 9.99)


def test_without_a_change_nothing_is_found_and_nothing_is_estimated() -> None:
    log = logged(4000, 3.0, rise=1.0)
    assert prices.changes_of(prices.price_schedule(log)).empty
    assert effect(log) is None


def test_discounted_and_straddling_payments_are_not_changes() -> None:
    """A plan whose renewals mostly pay 10.00, with a third at scattered other amounts
    (discounts, periods straddling a change) and one stray week: one price, no change."""
    rng = np.random.default_rng(0)
    day = np.arange(0, 200).repeat(6)
    price = np.where(rng.random(day.size) < 0.3, rng.uniform(5, 10, day.size).round(2), 10.0)
    price[(day >= 70) & (day < 77)] = 12.0  # one week only: not held for MIN_WEEKS
    table = prices.plan_schedule("p", pd.DataFrame({"day": day, "price": price}))
    assert list(table.price) == [10.0]


def test_the_log_price_ratio_is_against_the_sign_up_price() -> None:
    """Exposure: basic subscribers signed up before the rise carry log(1.2) after it, the
    standard plan's never; nobody carries it before."""
    log = logged(4000, 3.0)
    schedule = prices.price_schedule(log)
    pieces = prices.exposure_intervals(subscription_spells(log), schedule, log.window_start)
    rise = int(prices.changes_of(schedule).day.iloc[0])
    after = pieces[(pieces.plan == "basic") & (pieces.day >= rise)]
    assert np.allclose(after.log_ratio, np.log(11.99 / 9.99))
    assert (pieces[pieces.day < rise].log_ratio == 0).all()
    assert (pieces[pieces.plan == "standard"].log_ratio == 0).all()


@pytest.mark.slow
def test_price_weight_is_recovered_within_its_interval() -> None:
    """20,000 customers, true weight 3: the weight matched on the true scenario's curve
    covers 3 in its 95% interval (measured: 1.7, 95% 0 to 5.4)."""
    got = prices.match_weight(curve(20_000), effect(logged(20_000, 3.0)))
    assert got.low <= 3.0 <= got.high
    assert got.high - got.low < 8.0  # the log tells something


@pytest.mark.slow
def test_a_larger_true_weight_gives_a_larger_estimate() -> None:
    """Same customers and seed, true weight 1 vs 8: the estimate moves the same way
    (measured 0.4 vs 8.3; weight 8 alone: 95% 4.9 to 11.8)."""
    grid = curve(20_000)
    low, high = (prices.match_weight(grid, effect(logged(20_000, w))) for w in (1.0, 8.0))
    assert low.estimate < high.estimate


@pytest.mark.slow
def test_simulated_coefficient_rises_with_the_weight() -> None:
    grid = curve(20_000)
    assert grid.coef.iloc[-1] > grid.coef.iloc[0] + 1.0
    assert abs(grid.coef.iloc[0]) < 3 * grid.se.iloc[0]  # no effect at weight 0


def test_not_identified_without_a_change_leaves_the_scenario_alone() -> None:
    """The metamorphic check: a log with no price change returns the very scenario it was
    given, no parameter row, and a note that says why."""
    log = logged(2000, 3.0, rise=1.0)
    scenario = company(2000, 3.0, rise=1.0)
    spells = subscription_spells(log)
    found, out = prices.calibrate_prices(log, spells, log.end, scenario, {}, seed=0)
    assert out is scenario
    assert found.parameters() == []
    assert "no plan's list price changed" in found.note("streaming")
    assert found.summary()["price_weight"] == scenario.dynamics.price_weight


def test_everyone_exposed_at_once_is_not_identified() -> None:
    """One plan, no sign-ups after the rise: nobody to compare with."""
    one = replace(
        company(2000, 3.0),
        plans=(Plan("basic", 9.99, billing="monthly"),),
        segments=tuple(
            replace(s, plan_mix={"basic": 1.0}, comeback_rate=0.0)
            for s in company(2000, 3.0).segments
        ),
    )
    sim = Simulation(one, seed=0, record=True)
    sim.run()
    raw = event_log(sim)
    log = validate_events(raw[raw.event_type != "session"], "simulated")
    found, _ = prices.calibrate_prices(
        log, subscription_spells(log), log.end, one, {"basic": "basic"}
    )
    assert found.effect is None
    assert "every subscriber was exposed at once" in found.why


@pytest.mark.slow
def test_calibrate_puts_the_fitted_weight_into_the_scenario() -> None:
    """End to end on 4,000 customers (true weight 3), the lifecycle fitted per plan: the
    weight in the calibrated scenario is the matched one, its interval covers 3, and the
    plans are at today's list prices (passes; an earlier version of the mapping gave 5.3,
    95% 0 to 11.3; about 5 minutes, most of it the lifecycle fit)."""
    from sim.calibration import calibrate

    result = calibrate(logged(4000, 3.0), classes=1)
    weight = result.prices.weight
    assert weight is not None
    assert result.scenario.dynamics.price_weight == weight.estimate
    assert weight.low <= 3.0 <= weight.high
    assert {p.name: p.monthly_price for p in result.scenario.plans} == pytest.approx(
        {"basic": 11.99, "standard": 15.49}
    )
    names = [r["parameter"] for r in result.parameters()]
    assert {"price.log_hazard_ratio", "dynamics.price_weight"} <= set(names)
