"""The engine's compiled rates equal the plain per-user formula of the naive model, for
every user, with offer effects of every kind acting."""

from __future__ import annotations

import numpy as np

from sim import Simulation, presets
from sim.constants import ACTIVE, CHURNED, DORMANT
from sim.kernel import arrays_of
from sim.kernel.dynamics import USERS, Users
from sim.kernel.dynamics import user_rates as kernel_rates
from sim.naive import user_rates, users_from
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
    """Rates exactly as the engine's kernel computes them, for every user now."""
    e, pop, t = sim.engine, sim.pop, float(sim.day)
    users = Users(*arrays_of(USERS, pop))
    r = np.zeros((2, pop.n))
    for i in range(pop.n):
        st = int(pop.state[i])
        r[:, i] = kernel_rates(i, t, st, e.params, e.fresh, e.price, users, e.cache)
    return r[0], r[1]


def test_kernel_rates_equal_the_scalar_formula() -> None:
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
        assert (d1, d2) == (DORMANT if u.state == ACTIVE else ACTIVE, CHURNED)  # as the kernel
        np.testing.assert_allclose([r1[i], r2[i]], [a, b], rtol=2e-5, atol=1e-12)


def test_cached_rates_equal_the_full_formula_for_users_without_effects() -> None:
    """The kernel's fast path (rate parts cached per state and list price) gives the full
    formula's rates bit for bit, after a price change and with every state occupied: a user
    whose effects add nothing moves exactly as one without effects."""
    from sim.kernel.dynamics import cached_rates

    scenario = small_streaming(n_users=3_000, horizon_days=120)
    sim = Simulation(scenario, None, seed=3)
    sim.run_until(98)
    e, pop, t = sim.engine, sim.pop, float(sim.day)
    users = Users(*arrays_of(USERS, pop))
    full_r1, full_r2 = _engine_rates(sim)
    assert len(np.unique(pop.state)) == 3
    for i in range(pop.n):
        r1, r2 = cached_rates(i, int(pop.state[i]), e.params, e.fresh, users, e.cache)
        assert (r1, r2) == (full_r1[i], full_r2[i])
    assert t == 98.0
