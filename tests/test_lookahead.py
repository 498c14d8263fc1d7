"""The look-ahead behind the full-information reference (``sim.lookahead``) and the fork it
runs on (``Simulation.fork``).

* A fork carries users on as the run itself would: from the same day, 40 forks' users
  active at the horizon bracket the run's own count (a z-test at 4 standard deviations).
* Its estimates are unbiased for what an offer really does: a discount sent to every
  lapsed user on day 28, look-ahead estimate against the realised difference of the run
  with and without it, over 12 seeds (paired; the difference of the two within 3 standard
  errors).
* An offer that changes nothing has a gain of exactly 0 for every user, and one that only
  costs c per message a gain of exactly -c times the share of replications it was sent in
  (common random numbers within a replication).
* Deterministic per seed; the caller's key gives other replications; bad input is named.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from agents.reference import FullInformation
from sim import Simulation, presets
from sim.constants import ACTIVE
from sim.lookahead import expected_gains
from sim.offers import Catalogue, Offer
from sim.simulation import user_profit


def _world(users: int = 4000, days: int = 112):
    return presets.streaming(users, days), presets.streaming_offers()


def _lapsed(sim: Simulation) -> np.ndarray:
    mask = sim.mask()
    return np.flatnonzero((sim.pop.state != ACTIVE) & mask[:, 1:].any(axis=1))


def test_a_fork_carries_the_users_on_as_the_run_does() -> None:
    scenario, catalogue = _world()
    sim = Simulation(scenario, catalogue, seed=3)
    sim.run_until(35)
    everyone = np.arange(sim.pop.n)
    counts = []
    for seed in range(40):
        fork = sim.fork(1000 + seed, everyone)
        fork.run_until(scenario.horizon_days)
        counts.append(int((fork.pop.state == ACTIVE).sum()))
    sim.run_until(scenario.horizon_days)
    own = int((sim.pop.state == ACTIVE).sum())
    spread = float(np.std(counts, ddof=1))
    assert abs(own - np.mean(counts)) < 4 * spread, (own, np.mean(counts), spread)


def _discount_to_the_lapsed(day: int, users: np.ndarray, offer: int):
    def policy(sim: Simulation, today: int):
        return (users, np.full(users.size, offer)) if today == day else None

    return policy


def test_the_look_ahead_is_unbiased_for_what_an_offer_really_does() -> None:
    scenario, catalogue = _world(3000, 84)
    offer = catalogue.index("discount_30")
    estimated, realised = [], []
    for seed in range(12):
        sim = Simulation(scenario, catalogue, seed=seed)
        sim.run_until(28)
        users = _lapsed(sim)
        mask = np.zeros((users.size, 1 + len(catalogue)), dtype=bool)
        mask[:, 1 + offer] = sim.mask(users)[:, 1 + offer]
        gains = expected_gains(sim, users, mask, reps=8)
        estimated.append(float(np.nansum(gains.mean[:, 1 + offer])))
        sent = users[mask[:, 1 + offer]]
        runs = [
            Simulation(scenario, catalogue, seed=seed, policy=policy)
            for policy in (None, _discount_to_the_lapsed(28, sent, offer))
        ]
        for run in runs:
            run.run_until(28)
            before = user_profit(run, users)
            run.run()
            run.gain = user_profit(run, users) - before  # type: ignore[attr-defined]
        realised.append(float((runs[1].gain - runs[0].gain).sum()))  # type: ignore[attr-defined]
    diff = np.array(realised) - np.array(estimated)
    se = diff.std(ddof=1) / np.sqrt(diff.size)
    assert abs(diff.mean()) < 3 * se, (np.mean(estimated), np.mean(realised), se)
    assert np.mean(estimated) < 0  # a discount to every lapsed user loses money here


def _inert(cost: float) -> tuple:
    scenario, _ = _world(3000, 84)
    scenario = replace(
        scenario,
        dynamics=replace(scenario.dynamics, nudge_lift=0.0),
        channels=tuple(
            replace(c, cost_per_send=cost, unsubscribe_prob=0.0) for c in scenario.channels
        ),
    )
    offer = Offer(name="hello", kind="reminder", channel="email", lift=0.0)
    return scenario, Catalogue((offer,))


@pytest.mark.parametrize("cost", [0.0, 0.25])
def test_an_offer_that_changes_nothing_gains_exactly_its_cost(cost: float) -> None:
    scenario, catalogue = _inert(cost)
    sim = Simulation(scenario, catalogue, seed=5)
    sim.run_until(21)
    users = _lapsed(sim)
    reps = 4
    gains = expected_gains(sim, users, sim.mask(users), reps=reps)
    assert users.size > 500
    sends = -gains.mean[:, 1] * reps / cost if cost else gains.mean[:, 1]
    if cost:  # each replication sends (costing exactly c) or not, at random
        np.testing.assert_allclose(sends, np.round(sends), atol=1e-4)
        assert 0 < sends.mean() <= reps
    else:
        assert np.all(gains.mean[:, 1] == 0.0) and np.all(gains.se[:, 1] == 0.0)


def test_the_look_ahead_is_deterministic_and_keyed() -> None:
    scenario, catalogue = _world(2000, 84)
    sim = Simulation(scenario, catalogue, seed=2)
    sim.run_until(28)
    users = _lapsed(sim)
    mask = sim.mask(users)
    a = expected_gains(sim, users, mask, reps=2, days=28)
    b = expected_gains(sim, users, mask, reps=2, days=28)
    c = expected_gains(sim, users, mask, reps=2, days=28, key=1)
    np.testing.assert_array_equal(a.mean, b.mean)
    assert not np.array_equal(np.nan_to_num(a.mean), np.nan_to_num(c.mean))
    assert np.isnan(a.mean[~mask]).all() and (a.mean[:, 0] == 0).all()
    assert sim.day == 28  # the run itself did not move


def test_bad_input_is_named() -> None:
    scenario, catalogue = _world(500, 56)
    sim = Simulation(scenario, catalogue, seed=1)
    users = np.array([3, 1])
    with pytest.raises(ValueError, match="users: must be sorted"):
        expected_gains(sim, users, np.ones((2, 8), dtype=bool), reps=2)
    with pytest.raises(ValueError, match=r"mask: shape \(2, 3\)"):
        expected_gains(sim, np.array([1, 3]), np.ones((2, 3), dtype=bool), reps=2)
    with pytest.raises(ValueError, match="reps"):
        expected_gains(sim, np.array([1, 3]), np.ones((2, 8), dtype=bool), reps=0)
    with pytest.raises(ValueError, match="reps"):
        FullInformation(reps=1)
    with pytest.raises(ValueError, match="z"):
        FullInformation(z=-1.0)
