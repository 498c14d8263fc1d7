"""Invariants under random policies (Hypothesis): users are conserved every day, money is
never negative, an unreachable channel never delivers, frequency caps are never exceeded."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim import Simulation, presets
from sim.constants import CHANNELS
from sim.messaging import OK, UNREACHABLE
from tests.conftest import small_streaming

CATALOGUE = presets.streaming_offers()


def channel_of(catalogue) -> np.ndarray:
    return np.array([CHANNELS.index(o.channel) for o in catalogue.offers])


def random_policy(share: float, log: list):
    """Each epoch: a random ``share`` of users get random offers; every delivery is logged
    with the reachability the user had just before it."""

    def policy(sim: Simulation, day: int):
        rng = sim.policy_rng
        users = np.flatnonzero(rng.random(sim.pop.n) < share)
        offers = rng.integers(0, len(sim.catalogue), size=users.size)
        reachable_before = sim.pop.reachable[users, channel_of(sim.catalogue)[offers]].copy()
        delivery = sim.offer(users, offers)
        log.append((day, users, offers, reachable_before, delivery))
        return None

    return policy


def scenario_for(business: str, sms_reach: float):
    base = small_streaming(n_users=400, horizon_days=84)
    if business == "transactional":
        base = replace(presets.retail(n_users=400, horizon_days=84), warmup_days=14)
    segs = tuple(replace(s, reach={**s.reach, "sms": sms_reach}) for s in base.segments)
    return replace(base, segments=segs)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    share=st.floats(0.0, 1.0),
    business=st.sampled_from(["subscription", "transactional"]),
    sms_reach=st.sampled_from([0.0, 0.5]),
)
def test_invariants_hold_under_random_policies(seed, share, business, sms_reach) -> None:
    scenario = scenario_for(business, sms_reach)
    catalogue = CATALOGUE
    if business == "transactional":
        catalogue = replace(
            CATALOGUE, offers=tuple(o for o in CATALOGUE.offers if o.kind != "free_trial")
        )
    log: list = []
    sim = Simulation(scenario, catalogue, seed=seed, policy=random_policy(share, log))
    result = sim.run()

    occ = result.occupancy.sum(axis=(1, 2))
    assert np.all(occ == scenario.n_users)  # users conserved every day
    assert np.all(result.occupancy >= 0)
    assert np.all(result.user_money >= 0)  # no negative money amount
    assert np.all(result.weekly_money >= -1e-9)

    sends: dict[tuple[int, int], list[int]] = {}
    for day, users, offers, reachable_before, d in log:
        sent = d.refusal == OK
        assert np.all(reachable_before[sent])  # an unreachable channel never delivers
        assert np.all(d.refusal[~reachable_before] != OK)
        assert np.all(d.refusal[~reachable_before & (d.refusal != 1)] == UNREACHABLE)
        assert not np.any(d.opened[~sent]) and not np.any(d.message_cost[~sent])
        for u, c in zip(users[sent], channel_of(catalogue)[offers[sent]], strict=True):
            sends.setdefault((int(u), int(c)), []).append(day)
    caps = {CHANNELS.index(ch.name): ch.frequency_cap for ch in scenario.channels}
    for (u, c), days in sends.items():
        weeks = np.array(days) // 7
        for w in set(weeks.tolist()):
            window = (weeks <= w) & (weeks > w - 4)  # four calendar weeks
            assert window.sum() <= caps[c], (u, c, days)
    if sms_reach == 0.0:
        assert all(c != CHANNELS.index("sms") for _, c in sends)
