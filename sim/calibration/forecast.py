"""Simulate a calibrated scenario's customers as a cohort and count what a log would show.

Each real customer is simulated ``reps`` times from their first activity (ACTIVE, age 0)
with the simulator itself; a simulated customer's activity days are counted as the log
counts them (same-day sessions merged, the first day not a repeat) and placed on the
calendar at the real customer's birth day. Out come the weekly repeat activity, each
customer's repeat days and last activity at the cut, and whether they came back after it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from tqdm import tqdm

from sim.scenario import Scenario
from sim.simulation import Simulation


@dataclass(frozen=True)
class CohortForecast:
    weekly: np.ndarray  # repeat activity days per calendar week (week 1 = days 0-6), per rep
    x_cut: np.ndarray  # repeat days by the cut, per simulated customer
    recency_weeks: np.ndarray  # weeks from last activity (or birth) to the cut
    came_back: np.ndarray  # bool: any activity after the cut, through ``end``
    reps: int


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
    n = birth.shape[0] * reps
    horizon = int(end - birth.min()) + 1
    segs = tuple(replace(s, initial_state={"active": 1.0}) for s in scenario.segments)
    cohort = replace(scenario, n_users=n, horizon_days=horizon, warmup_days=0, segments=segs)
    sim = Simulation(cohort, None, seed=seed)
    rng = np.random.default_rng([seed, 1])
    b = np.tile(birth, reps)[rng.permutation(n)]  # users are sorted by segment: shuffle
    rep = np.repeat(np.arange(reps), birth.shape[0])[np.argsort(rng.permutation(n))]
    age_cut, age_end = cut - b, end - b
    n_weeks = -(-(end + 1) // 7)
    weekly = np.zeros((reps, n_weeks))
    x_cut = np.zeros(n, dtype=np.int64)
    last = np.zeros(n, dtype=np.int64)
    back = np.zeros(n, dtype=bool)
    sim.run_until(1)
    prev = sim.pop.total_sessions.copy()
    for d in tqdm(range(1, horizon), desc="simulating the cohort", disable=not progress):
        sim.run_until(d + 1)
        now = sim.pop.total_sessions
        act = (now > prev) & (d <= age_end)
        prev = now.copy()
        day = b + d
        np.add.at(weekly, (rep[act], day[act] // 7), 1.0)
        before = act & (d <= age_cut)
        x_cut += before
        last[before] = d
        back |= act & (d > age_cut)
    return CohortForecast(weekly, x_cut, (age_cut - last) / 7.0, back, reps)
