"""Offer delivery rules: eligibility, caps, unsubscribes, fatigue, effects and their costs."""

from __future__ import annotations

import numpy as np

from sim import Simulation, presets
from sim.constants import CHANNELS, CHURNED, MESSAGE_COST, SUPPORT_COST, UNSUBSCRIBE_COST
from sim.kernel.delivery import unreached_share
from sim.messaging import CAPPED, NOT_ELIGIBLE, OK, UNREACHABLE
from tests.conftest import small_streaming

CAT = presets.streaming_offers()


def _sim(**kw) -> Simulation:
    sim = Simulation(small_streaming(n_users=3_000, horizon_days=120, **kw), CAT, seed=1)
    sim.run_until(0)
    return sim


def test_only_eligible_statuses_get_an_offer() -> None:
    sim = _sim()
    trial = CAT.index("free_trial_30")  # eligible: churned only
    users = np.arange(sim.pop.n)
    d = sim.offer(users, np.full(users.size, trial))
    churned = sim.pop.state == CHURNED
    assert np.all(d.refusal[~churned] == NOT_ELIGIBLE)
    assert np.all(np.isin(d.refusal[churned], [OK, UNREACHABLE]))


def test_sms_cap_refuses_the_third_message_in_four_weeks() -> None:
    sim = _sim()
    sms = CAT.index("discount_50_sms")
    churned = np.flatnonzero((sim.pop.state == CHURNED) & sim.pop.reachable[:, 2])[:200]
    seen = []
    for day in (0, 7, 14, 21, 28):
        sim.run_until(day)
        still = churned[sim.pop.reachable[churned, 2] & (sim.pop.state[churned] == CHURNED)]
        d = sim.offer(still, np.full(still.size, sms))
        seen.append((day, d))
    first, second, third = (d for _, d in seen[:3])
    assert np.all(first.refusal == OK) and np.all(second.refusal == OK)
    assert np.all(third.refusal == CAPPED)  # cap 2 per four calendar weeks
    assert sim.scenario.channel("sms").frequency_cap == 2


def test_unsubscribed_users_become_unreachable_and_are_refused() -> None:
    sim = _sim()
    push = CAT.index("new_release_push")
    c = CHANNELS.index("push")
    targets = np.flatnonzero(sim.pop.reachable[:, c] & (sim.pop.state != CHURNED))
    sim.pop.last_activity[targets] = -100.0  # make them inactive, hence eligible
    d = sim.offer(targets, np.full(targets.size, push))
    gone = targets[d.unsubscribed]
    assert gone.size > 0 and not sim.pop.reachable[gone, c].any()
    sim.run_until(7)
    sim.pop.last_activity[gone] = -100.0
    again = sim.offer(gone, np.full(gone.size, push))
    assert np.all(again.refusal == UNREACHABLE)
    assert not again.message_cost.any()


def test_an_opt_out_costs_the_year_of_reach_the_run_cannot_see() -> None:
    """Charged once, at the opt-out: the channel's ``unsubscribe_cost`` times the part of
    the following 365 days beyond the horizon; nothing to those who stay."""
    sim = _sim()
    push = CAT.index("new_release_push")
    c = CHANNELS.index("push")
    value = sim.scenario.channel("push").unsubscribe_cost
    assert value > 0  # the preset's default (README: evidence behind it)
    for day in (0, 28):
        sim.run_until(day)
        targets = np.flatnonzero(sim.pop.reachable[:, c] & (sim.pop.state != CHURNED))
        sim.pop.last_activity[targets] = day - 100.0
        before = sim.pop.money[UNSUBSCRIBE_COST].copy()
        d = sim.offer(targets, np.full(targets.size, push))
        charged = sim.pop.money[UNSUBSCRIBE_COST] - before
        gone = targets[d.unsubscribed]
        share = (day + 365 - sim.scenario.horizon_days) / 365
        assert gone.size > 0 and 0 < share < 1
        np.testing.assert_allclose(charged[gone], value * share, rtol=1e-6)
        np.testing.assert_allclose(d.unsubscribe_cost[d.unsubscribed], value * share, rtol=1e-6)
        assert not np.delete(charged, gone).any()
    assert unreached_share(0.0, 365.0) == 0.0  # a year's run sees the whole year lost
    assert unreached_share(300.0, 182.0) == 1.0  # past the horizon: all of it unseen
    assert unreached_share(91.0, 182.0) == 274 / 365


def test_costs_are_charged_per_send_and_support_per_contact() -> None:
    sim = _sim()
    support = CAT.index("support_call")
    users = np.flatnonzero(sim.pop.state == CHURNED)
    before = sim.pop.money.copy()
    d = sim.offer(users, np.full(users.size, support))
    sent = users[d.sent]
    per_send = sim.scenario.channel("sms").cost_per_send
    np.testing.assert_allclose(
        sim.pop.money[MESSAGE_COST, sent] - before[MESSAGE_COST, sent], per_send, rtol=1e-6
    )
    contacted = users[d.opened]
    assert contacted.size > 0
    np.testing.assert_allclose(sim.pop.money[SUPPORT_COST, contacted], 4.0)
    assert np.all(sim.pop.fix_until[contacted] == 120)  # fix lasts duration_days


def test_fatigue_lowers_the_open_rate() -> None:
    sim = _sim()
    email = CAT.index("reminder_email")
    users = np.flatnonzero(sim.pop.reachable[:, 0])
    sim.pop.last_activity[users] = -100.0
    sim.pop.fatigue[users[: users.size // 2]] = 6.0
    sim.pop.fatigue_day[users] = 0.0
    d = sim.offer(users, np.full(users.size, email))
    half = users.size // 2
    tired, fresh = d.opened[:half].mean(), d.opened[half:].mean()
    assert tired < 0.2 * fresh


def test_action_mask_equals_refusals_offer_by_offer() -> None:
    """The mask (computed per channel once) says exactly what ``refusals`` says per offer,
    after weeks of sends, caps and unsubscribes."""
    from sim.messaging import refusals

    sim = _sim()
    rng = np.random.default_rng(4)
    users = np.arange(sim.pop.n)
    for week in range(6):
        pick = rng.choice(users, size=1500, replace=False)
        sim.offer(pick, rng.integers(0, len(CAT), size=pick.size))
        sim.run_until(7 * (week + 1))
    mask = sim.mask(users)
    assert mask[:, 0].all()
    kinds = set()
    for k in range(len(CAT)):
        why = refusals(
            sim.pop, users, np.full(users.size, k), sim.day, sim.scenario, sim.offer_table
        )
        assert np.array_equal(mask[:, k + 1], why == OK)
        kinds |= set(np.unique(why).tolist())
    assert kinds >= {OK, CAPPED, UNREACHABLE, NOT_ELIGIBLE}  # every reason was exercised


def test_send_history_bits_record_every_offer_sent_and_opened() -> None:
    sim = _sim()
    users = np.arange(sim.pop.n)
    sent_by_user = np.zeros(sim.pop.n, dtype=np.uint32)
    opened_by_user = np.zeros(sim.pop.n, dtype=np.uint32)
    rng = np.random.default_rng(9)
    for week in range(5):
        pick = rng.choice(users, size=1200, replace=False)
        offers = rng.integers(0, len(CAT), size=pick.size)
        d = sim.offer(pick, offers)
        bits = np.left_shift(np.uint32(1), offers.astype(np.uint32))
        sent_by_user[pick[d.sent]] |= bits[d.sent]
        opened_by_user[pick[d.opened]] |= bits[d.opened]
        sim.run_until(7 * (week + 1))
    assert np.array_equal(sim.pop.offers_sent, sent_by_user)
    assert np.array_equal(sim.pop.offers_opened, opened_by_user)
    assert (sim.pop.offers_opened & ~sim.pop.offers_sent).max() == 0  # opened implies sent
