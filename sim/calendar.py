"""The calendar: which days something happens, and the drivers it sets.

Drivers (content freshness, list prices) change only at calendar events: week boundaries,
content releases, price changes and campaign epochs. Between events they are held, so the
hazards are piecewise constant. The fast engine and the naive model (sim.naive) share these rules.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from sim.constants import DAYS_PER_MONTH
from sim.scenario import Scenario


def week_days(scenario: Scenario) -> list[int]:
    """Week boundaries (multiples of 7) from the start of the warm-up to the horizon."""
    first = math.ceil(-scenario.warmup_days / 7)
    return [7 * w for w in range(first, scenario.horizon_days // 7 + 1)]


def epoch_days(scenario: Scenario) -> list[int]:
    """Campaign decision days in [0, horizon)."""
    return list(range(0, scenario.horizon_days, scenario.epoch_days))


def event_days(scenario: Scenario) -> list[int]:
    """Every day on which a driver may change, sorted, within [-warmup, horizon]."""
    days = set(week_days(scenario)) | set(epoch_days(scenario))
    days |= {r.day for r in scenario.releases} | {c.day for c in scenario.price_changes}
    days |= {-scenario.warmup_days, scenario.horizon_days}
    return sorted(days)


def freshness_at(scenario: Scenario, day: float) -> np.ndarray:
    """Freshness per genre: released appeal decayed with the scenario's half-life."""
    out = np.zeros(len(scenario.genres), dtype=np.float64)
    half = scenario.dynamics.freshness_halflife_days
    for r in scenario.releases:
        if r.day <= day:
            out[scenario.genres.index(r.genre)] += r.appeal * 2.0 ** (-(day - r.day) / half)
    return out.astype(np.float32)


def list_price_at(scenario: Scenario, day: float) -> np.ndarray:
    """List price per day of each plan, after the price changes up to ``day``."""
    monthly = {p.name: p.monthly_price for p in scenario.plans}
    for c in sorted(scenario.price_changes, key=lambda c: c.day):
        if c.day <= day:
            monthly[c.plan] = c.monthly_price
    return daily_prices(monthly[p] for p in scenario.plan_names)


def daily_prices(monthly: Iterable[float]) -> np.ndarray:
    """Monthly prices as float32 prices per day."""
    return np.array([m / DAYS_PER_MONTH for m in monthly], dtype=np.float32)
