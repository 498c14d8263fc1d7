"""The engine's vectorised rates (fast path and effect path) equal the plain per-user formula
of the reference model, for every user, with offer effects of every kind acting."""

from __future__ import annotations

import numpy as np

from sim import Simulation, presets
from sim.engine import View
from sim.hazards import DEST_FIRST, DEST_SECOND, EffectUsers, rates
from sim.reference import user_rates, users_from
from tests.conftest import small_streaming

EFFECTS = {
    "disc": "disc_until",
    "trial": "trial_until",
    "trial_window": "trial_window_until",
    "fix": "fix_until",
    "rec": "rec_until",
    "content": "content_until",
    "boost": "boost_until",
}


def _engine_rates(sim: Simulation) -> tuple[np.ndarray, np.ndarray]:
    """Rates exactly as the engine's first pass computes them."""
    e, pop, t = sim.engine, sim.pop, float(sim.day)
    everyone = np.arange(pop.n)
    v = View(pop, slice(None))
    r1, r2, _ = e._rates(v, everyone, slice(None), t)
    return r1, r2


def test_vectorised_rates_equal_the_scalar_formula() -> None:
    scenario = small_streaming(n_users=3_000, horizon_days=90)
    catalogue = presets.streaming_offers()

    def policy(sim, day):
        users = np.flatnonzero(sim.policy_rng.random(sim.pop.n) < 0.5)
        return users, sim.policy_rng.integers(0, len(catalogue), size=users.size)

    sim = Simulation(scenario, catalogue, seed=8, policy=policy)
    sim.run_until(49)
    pop = sim.pop
    assert np.isfinite(pop.next_change).mean() > 0.1  # hundreds of users with effects
    for name in ("disc_until", "fix_until", "rec_until", "content_until", "boost_until"):
        assert (getattr(pop, name) > sim.day).sum() >= 5, name  # every kind of effect acts
    r1, r2 = _engine_rates(sim)
    fresh = [float(x) for x in sim.engine.drivers.freshness]
    price = [float(x) for x in sim.engine.drivers.list_price]
    for i, u in enumerate(users_from(pop)):
        u.effects = {k: float(getattr(pop, f)[i]) for k, f in EFFECTS.items()}
        u.disc_depth, u.boost = float(pop.disc_depth[i]), float(pop.boost[i])
        a, b, d1, d2 = user_rates(u, float(sim.day), fresh, price, scenario)
        assert d1 == DEST_FIRST[u.state] and d2 == DEST_SECOND[u.state]
        np.testing.assert_allclose([r1[i], r2[i]], [a, b], rtol=2e-5, atol=1e-12)


def test_general_formula_equals_fast_path_without_effects() -> None:
    sim = Simulation(small_streaming(n_users=2_000), None, seed=2)
    sim.run_until(35)
    e, pop = sim.engine, sim.pop
    everyone = np.arange(pop.n)
    v = View(pop, everyone)
    code = e.seg3 + pop.state
    eff = EffectUsers(everyone, everyone, float(sim.day), v)
    g1, g2 = rates(v, everyone, code, e.base, e.drivers, e.tables, sim.scenario, eff)
    f1, f2 = _engine_rates(sim)
    np.testing.assert_allclose(g1, f1, rtol=1e-5)
    np.testing.assert_allclose(g2, f2, rtol=1e-5)
