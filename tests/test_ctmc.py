"""With constant hazards and no drivers the engine is a continuous-time Markov chain: its
occupancy must match p0 . expm(Q t) within 3 standard errors at several times."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.linalg import expm

from sim import Dynamics, Simulation, presets

RATES = dict(
    lapse_rate=0.02,
    cancel_rate=0.004,
    return_rate=0.03,
    dormant_cancel_rate=0.01,
    comeback_rate=0.005,
)


def constant_hazard_scenario(business: str):
    base = presets.streaming(n_users=50_000, horizon_days=180)
    seg = replace(base.segments[0], weight=1.0, heterogeneity=1e7, **RATES)
    flat = Dynamics(
        price_weight=0, price_level_weight=0, tech_weight=0, friction_weight=0, freshness_weight=0
    )
    return replace(
        base, segments=(seg,), releases=(), dynamics=flat, warmup_days=0, business=business
    )


def generator(business: str) -> np.ndarray:
    r = RATES
    cancel = r["cancel_rate"] if business == "subscription" else 0.0
    q = np.array(
        [
            [0, r["lapse_rate"], cancel],
            [r["return_rate"], 0, r["dormant_cancel_rate"]],
            [r["comeback_rate"], 0, 0],
        ]
    )
    np.fill_diagonal(q, -q.sum(axis=1))
    return q


def test_occupancy_matches_the_matrix_exponential() -> None:
    for business in ("subscription", "transactional"):
        scenario = constant_hazard_scenario(business)
        occ = Simulation(scenario, None, seed=4).run().occupancy.sum(axis=2)
        n = occ[0].sum()
        p0 = occ[0] / n
        q = generator(business)
        for day in (7, 30, 90, 180):
            expected = p0 @ expm(q * day)
            observed = occ[day] / n
            se = np.sqrt(expected * (1 - expected) / n)
            assert np.all(np.abs(observed - expected) < 3 * se), (business, day, observed, expected)
