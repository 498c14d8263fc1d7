"""The fast engine against the naive per-user SimPy model (sim.naive) (same users, own randomness).

Tolerances: shares and rates agree within 4 two-sample standard errors; distributions pass a
two-sample Kolmogorov-Smirnov test at p > 0.001; revenue per user agrees within 4 standard
errors. The default run uses 10,000 users for 180 days, with today's plans (cancellations act
at once) and with every plan billed monthly, then annually (cancellations act at the end of
the billing period); the ``slow`` run, 100,000 for a year.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from sim import Simulation, presets
from sim.constants import ACTIVE, CHURNED, DORMANT
from sim.naive import NaiveSimulation, ScheduledOffer
from sim.simulation import scheduled
from tests.conftest import small_streaming

SEED = 11


def _schedule(n_users: int, horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every 28 days, a fixed random tenth of users get a random offer (same for both)."""
    rng = np.random.default_rng(5)
    days, users, offers = [], [], []
    n_offers = len(presets.streaming_offers())
    for day in range(0, horizon, 28):
        who = np.sort(rng.choice(n_users, size=n_users // 10, replace=False))
        days.append(np.full(who.size, day))
        users.append(who)
        offers.append(rng.integers(0, n_offers, size=who.size))
    return np.concatenate(days), np.concatenate(users), np.concatenate(offers)


def _pair(n_users: int, horizon: int, billing: str = "none") -> dict:
    scenario = small_streaming(n_users=n_users, horizon_days=horizon)
    scenario = replace(scenario, plans=tuple(replace(p, billing=billing) for p in scenario.plans))
    catalogue = presets.streaming_offers()
    days, users, offers = _schedule(n_users, horizon)
    sim = Simulation(
        scenario, catalogue, seed=SEED, policy=scheduled(days, users, offers), trace=True
    )
    fast = sim.run()
    triples = zip(days.tolist(), users.tolist(), offers.tolist(), strict=True)
    items = tuple(ScheduledOffer(d, u, o) for d, u, o in triples)
    ref = NaiveSimulation(scenario, catalogue, seed=SEED + 1000, schedule=items).run()
    return {"scenario": scenario, "sim": sim, "fast": fast, "ref": ref, "n": n_users}


@pytest.fixture(scope="module")
def pair() -> dict:
    return _pair(10_000, 180)


@pytest.fixture(scope="module", params=["monthly", "annual"])
def billed_pair(request: pytest.FixtureRequest) -> dict:
    return _pair(10_000, 180, billing=request.param)


def _first_exit(user, time, src, dst, n, horizon, start_state, from_state, to_state):
    """Time of each user's first from->to transition after day 0, censored at the horizon,
    for users in ``from_state`` at day 0."""
    first = np.full(n, float(horizon))
    hit = (src == from_state) & (dst == to_state) & (time > 0)
    for u, t in zip(user[hit][::-1], time[hit][::-1], strict=True):
        first[u] = t
    return first[start_state == from_state]


def _ref_log(ref: NaiveSimulation):
    log = np.array([(u, t, s, d) for u, t, s, d in ref.transitions], dtype=np.float64)
    return log[:, 0].astype(int), log[:, 1], log[:, 2].astype(int), log[:, 3].astype(int)


def _two_sample_se(p1: float, p2: float, n: int) -> float:
    return math.sqrt(max(p1 * (1 - p1) + p2 * (1 - p2), 1e-12) / n)


def check_occupancy(pair: dict) -> None:
    n = pair["n"]
    a = pair["fast"].occupancy.sum(axis=2) / n
    b = pair["ref"].occupancy() / n
    horizon = pair["scenario"].horizon_days
    for day in (0, 30, 90, horizon):
        for s in (ACTIVE, DORMANT, CHURNED):
            se = _two_sample_se(a[day, s], b[day, s], n)
            assert abs(a[day, s] - b[day, s]) < 4 * se, (day, s, a[day, s], b[day, s])


def check_exit_times(pair: dict) -> None:
    n, horizon = pair["n"], pair["scenario"].horizon_days
    tr = pair["sim"].transitions()
    start_f = _start_states_fast(pair)
    start_r = np.array(pair["ref"].start_states)
    ru, rt, rs, rd = _ref_log(pair["ref"])
    for frm, to in ((ACTIVE, DORMANT), (DORMANT, CHURNED), (DORMANT, ACTIVE)):
        f = _first_exit(tr["user"], tr["time"], tr["src"], tr["dst"], n, horizon, start_f, frm, to)
        r = _first_exit(ru, rt, rs, rd, n, horizon, start_r, frm, to)
        p = stats.ks_2samp(f, r).pvalue
        assert p > 1e-3, (frm, to, p, f.mean(), r.mean())


def _start_states_fast(pair: dict) -> np.ndarray:
    """State at day 0 of each user of the fast run, rebuilt from its transition log."""
    sim = pair["sim"]
    state = sim.pop.state.copy()
    tr = sim.transitions()
    after = tr["time"] > 0
    for u, s in zip(tr["user"][after][::-1], tr["src"][after][::-1], strict=True):
        state[u] = s  # undo transitions after day 0, latest first
    return state


def check_intensities(pair: dict) -> None:
    """Transitions per user-day at risk, for every kind of transition in the horizon.

    Counts are Poisson-like, so each log-intensity has a standard error of 1/sqrt(count);
    the two must agree within 4 combined standard errors (a 10% rate error fails this).
    """
    horizon = pair["scenario"].horizon_days
    tr = pair["sim"].transitions()
    _ru, rt, rs, rd = _ref_log(pair["ref"])
    occ_f = pair["fast"].occupancy.sum(axis=2)
    occ_r = pair["ref"].occupancy()
    for frm, to in (
        (ACTIVE, DORMANT),
        (ACTIVE, CHURNED),
        (DORMANT, ACTIVE),
        (DORMANT, CHURNED),
        (CHURNED, ACTIVE),
    ):
        in_h = (tr["time"] > 0) & (tr["time"] <= horizon)
        cf = int(((tr["src"] == frm) & (tr["dst"] == to) & in_h).sum())
        cr = int(((rs == frm) & (rd == to) & (rt > 0) & (rt <= horizon)).sum())
        ef = occ_f[:horizon, frm].sum() + 0.5 * (occ_f[horizon, frm] - occ_f[0, frm])
        er = occ_r[:horizon, frm].sum() + 0.5 * (occ_r[horizon, frm] - occ_r[0, frm])
        assert cf > 100 and cr > 100, (frm, to, cf, cr)
        diff = math.log(cf / ef) - math.log(cr / er)
        assert abs(diff) < 4 * math.sqrt(1 / cf + 1 / cr), (frm, to, cf / ef, cr / er)


def check_reactivation_and_revenue(pair: dict) -> None:
    n = pair["n"]
    fast, ref = pair["fast"], pair["ref"]
    rf = (fast.reactivations > 0).mean()
    rr = np.mean([u.reactivations > 0 for u in ref.users])
    assert abs(rf - rr) < 4 * _two_sample_se(rf, rr, n), (rf, rr)
    rev_f = fast.user_money[:, 0].astype(np.float64)
    rev_r = np.array([u.money[0] for u in ref.users])
    se = math.sqrt(rev_f.var() / n + rev_r.var() / n)
    assert abs(rev_f.mean() - rev_r.mean()) < 4 * se, (rev_f.mean(), rev_r.mean(), se)
    spend_f = fast.user_money[:, 1:].sum()
    spend_r = ref.money_totals()[1:].sum()
    assert spend_f == pytest.approx(spend_r, rel=0.1)


def test_occupancy_matches_reference(pair: dict) -> None:
    check_occupancy(pair)


def test_exit_time_distributions_match_the_naive_model(pair: dict) -> None:
    check_exit_times(pair)


def test_transition_intensities_match_the_naive_model(pair: dict) -> None:
    check_intensities(pair)


def test_reactivation_and_revenue_match_the_naive_model(pair: dict) -> None:
    check_reactivation_and_revenue(pair)


def test_billed_plans_match_the_naive_model(billed_pair: dict) -> None:
    check_occupancy(billed_pair)
    check_exit_times(billed_pair)
    check_intensities(billed_pair)
    check_reactivation_and_revenue(billed_pair)


def test_the_schedule_really_acted(pair: dict) -> None:
    assert pair["fast"].kpis["messages_sent"] > 0.05 * pair["n"]
    assert pair["fast"].kpis["discount_cost"] > 0


@pytest.mark.slow
def test_naive_agreement_on_100k_users_for_a_year() -> None:
    big = _pair(100_000, 365)
    check_occupancy(big)
    check_exit_times(big)
    check_intensities(big)
    check_reactivation_and_revenue(big)
