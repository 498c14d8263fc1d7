"""Simulate a calibrated scenario's customers as a cohort and count what a log would show.

Each real customer is simulated ``reps`` times from their first activity (ACTIVE, age 0)
with the simulator itself; a simulated customer's activity days are counted as the log
counts them (same-day sessions merged, the first day not a repeat) and placed on the
calendar at the real customer's birth day. Out come the weekly repeat activity, each
customer's repeat days and last activity at the cut, and whether they came back after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from tqdm import tqdm

from sim.calibration.customers import Weeks
from sim.scenario import Release, Scenario
from sim.simulation import Simulation


@dataclass(frozen=True)
class CohortForecast:
    weekly: np.ndarray  # repeat activity days per week (``customers.Weeks``), per rep
    x_cut: np.ndarray  # repeat days by the cut, per simulated customer
    recency_weeks: np.ndarray  # weeks from last activity (or birth) to the cut
    came_back: np.ndarray  # bool: any activity after the cut, through ``end``
    reps: int


def _cohort(
    scenario: Scenario, birth: np.ndarray, end: int, reps: int, seed: int
) -> tuple[Simulation, np.ndarray, np.ndarray, int]:
    """The simulation of ``reps`` copies of customers born on ``birth`` (all ACTIVE at age
    0, no warm-up), each copy's birth day and rep (users are sorted by segment, so copies
    are shuffled across segments), and the number of days to simulate."""
    n = birth.shape[0] * reps
    horizon = int(end - birth.min()) + 1
    segs = tuple(replace(s, initial_state={"active": 1.0}) for s in scenario.segments)
    cohort = replace(
        scenario,
        n_users=n,
        horizon_days=horizon,
        warmup_days=0,
        segments=segs,
        releases=repeat_releases(scenario, horizon),
        price_changes=tuple(c for c in scenario.price_changes if c.day < horizon),
    )
    sim = Simulation(cohort, None, seed=seed)
    order = np.random.default_rng([seed, 1]).permutation(n)
    b = np.tile(birth, reps)[order]
    rep = np.repeat(np.arange(reps), birth.shape[0])[order]
    return sim, b, rep, horizon


def repeat_releases(scenario: Scenario, horizon: int) -> tuple[Release, ...]:
    """The scenario's release calendar over ``horizon`` days: repeated with the scenario's
    own period when the horizon is longer (content keeps coming), cut when shorter."""
    period = scenario.horizon_days
    out = [
        replace(r, day=r.day + k * period)
        for k in range(-(-horizon // period))
        for r in scenario.releases
    ]
    return tuple(r for r in out if r.day < horizon)


def _activity_days(
    sim: Simulation, horizon: int, progress: bool
) -> Iterator[tuple[int, np.ndarray]]:
    """For each age d = 1, 2, ...: the users with at least one session on day d of their
    life (day 0, the first activity, is not a repeat)."""
    sim.run_until(1)
    prev = sim.pop.total_sessions.copy()
    for d in tqdm(range(1, horizon), desc="simulating the cohort", disable=not progress):
        sim.run_until(d + 1)
        now = sim.pop.total_sessions
        yield d, now > prev
        prev = now.copy()


def simulate_cohort(
    scenario: Scenario,
    birth: np.ndarray,
    cut: int,
    end: int,
    reps: int = 10,
    seed: int = 0,
    progress: bool = False,
) -> CohortForecast:
    """Simulate every customer (born on ``birth`` days) ``reps`` times through day ``end``."""
    birth = np.asarray(birth, dtype=np.int64)
    sim, b, rep, horizon = _cohort(scenario, birth, end, reps, seed)
    n = b.shape[0]
    age_cut, age_end = cut - b, end - b
    weeks = Weeks(cut, end)
    weekly = np.zeros((reps, weeks.n))
    x_cut = np.zeros(n, dtype=np.int64)
    last = np.zeros(n, dtype=np.int64)
    back = np.zeros(n, dtype=bool)
    for d, active in _activity_days(sim, horizon, progress):
        act = active & (d <= age_end)
        day = b + d
        np.add.at(weekly, (rep[act], weeks.index(day[act])), 1.0)
        before = act & (d <= age_cut)
        x_cut += before
        last[before] = d
        back |= act & (d > age_cut)
    return CohortForecast(weekly, x_cut, (age_cut - last) / 7.0, back, reps)


def synthetic_log(
    scenario: Scenario, birth: np.ndarray, end: int, seed: int = 0, origin: str = "2024-01-01"
) -> pd.DataFrame:
    """An event log (``sim.calibration.eventlog`` schema) of customers simulated from the
    scenario: one purchase row per activity day (the first on the birth day), through day
    ``end``, spend drawn around each user's basket. For trying and testing calibration on
    data whose true parameters are known."""
    birth = np.asarray(birth, dtype=np.int64)
    sim, b, _, horizon = _cohort(scenario, birth, end, 1, seed)
    users, days = [np.arange(b.size)], [b]
    for d, active in _activity_days(sim, horizon, False):
        hit = np.flatnonzero(active & (b + d <= end))
        users.append(hit)
        days.append(b[hit] + d)
    user = np.concatenate(users)
    day = np.concatenate(days)
    rng = np.random.default_rng([seed, 2])
    basket = sim.pop.basket[user].astype(np.float64)
    amount = np.round(basket * rng.gamma(4.0, 0.25, size=user.size), 2)
    stamp = pd.Timestamp(origin) + pd.to_timedelta(day, unit="D")
    log = pd.DataFrame(
        {
            "user_id": [f"u{u}" for u in user],
            "timestamp": stamp.strftime("%Y-%m-%d"),
            "event_type": "purchase",
            "amount": amount,
        }
    )
    return log.sort_values(["timestamp", "user_id"], kind="stable").reset_index(drop=True)
