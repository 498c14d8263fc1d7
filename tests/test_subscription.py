"""The subscription lifecycle's likelihood: exact where no approximation is made, a proper
probability law, and the fit recovers what it should."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.linalg import expm
from scipy.special import logsumexp

from sim.calibration.histories import Histories, encode
from sim.calibration.lifecycle import Traits
from sim.calibration.scores import _dcoefficients
from sim.calibration.subscription import (
    Subscribers,
    activity_nodes,
    fit_classes,
    log_likelihood,
    objective,
    retention,
)

NO_SESSIONS = pd.DataFrame({"user_id": pd.Series(dtype=str), "day": pd.Series(dtype=int)})


def model(k: int = 1, sessions: bool = False, returns: bool = True, **rates: float) -> Subscribers:
    base = {
        "activity_rate": 0.5 if sessions else 0.0,
        "dormant_activity_rate": 0.02 if sessions else 0.0,
        "lapse_rate": 1 / 60,
        "return_rate": 1 / 40,
        "cancel_rate": 1 / 900,
        "dormant_cancel_rate": 1 / 120,
        "comeback_rate": 1 / 300,
    } | rates
    return Subscribers(
        weight=np.full(k, 1.0 / k),
        heterogeneity=np.full(k, 1e9),  # alike: no leave multiplier
        activity_shape=3.0,
        sessions=sessions,
        returns=returns,
        **{name: np.full(k, v) for name, v in base.items()},
    )


def spells(rows: list[tuple[int, int, bool]], period: int = 30) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(len(rows))],
            "start": [r[0] for r in rows],
            "end": [r[1] for r in rows],
            "cancelled": [r[2] for r in rows],
            "billing_days": period,
        }
    )


def killed(m: Subscribers) -> tuple[np.ndarray, np.ndarray]:
    """One class's generators on (ACTIVE, DORMANT): without and with the cancel decision."""
    q = np.array([[-m.lapse_rate[0], m.lapse_rate[0]], [m.return_rate[0], -m.return_rate[0]]])
    k = q - np.diag([m.cancel_rate[0], m.dormant_cancel_rate[0]])
    return q, k


def test_without_sessions_the_likelihood_is_the_exact_chain() -> None:
    """No session seen: no approximation. A spell renewed up to tau and cancelled at its
    next period end has P = e_A exp(K tau) (exp(Q B) - exp(K B)) 1, spelled out with expm
    (no resubscription: the time away adds nothing)."""
    m = model(returns=False, comeback_rate=0.0)
    q, k = killed(m)
    e_a = np.array([1.0, 0.0])
    h = encode(spells([(0, 90, True), (0, 100, False), (10, 40, True)]), NO_SESSIONS, 0, 100)
    got = log_likelihood(m, Traits.none(), h)
    first = e_a @ expm(k * 60) @ (expm(q * 30) - expm(k * 30)) @ np.ones(2)
    second = e_a @ expm(k * 90) @ expm(q * 10) @ np.ones(2)
    third = e_a @ (expm(q * 30) - expm(k * 30)) @ np.ones(2)
    want = np.log([first, second, third])
    np.testing.assert_allclose(np.sort(got), np.sort(want), rtol=1e-9)


@pytest.mark.parametrize("period", [30, 365])
def test_the_outcomes_of_a_spell_are_a_probability_law(period: int) -> None:
    """Cancelled at the end of period 1, 2, ..., n or still subscribed after n periods:
    the probabilities sum to one."""
    n = 5
    rows = [(0, j * period, True) for j in range(1, n + 1)] + [(0, n * period, False)]
    h = encode(spells(rows, period), NO_SESSIONS, 0, n * period)
    total = np.exp(log_likelihood(model(comeback_rate=0.0), Traits.none(), h)).sum()
    assert total == pytest.approx(1.0, abs=1e-10)


def test_resubscriptions_add_the_time_away() -> None:
    m = model()
    one = spells([(0, 60, True)])
    again = pd.concat([one, spells([(80, 120, False)]).assign(user_id="u0")])
    h1 = encode(one, NO_SESSIONS, 0, 120)
    h2 = encode(again, NO_SESSIONS, 0, 120)
    gap = np.log(np.exp(-m.comeback_rate[0] * 19) * (1 - np.exp(-m.comeback_rate[0])))
    rest = encode(spells([(80, 120, False)]), NO_SESSIONS, 0, 120)
    m0 = model(comeback_rate=0.0)  # the spells alone: their likelihood has no comeback in it
    want = log_likelihood(m0, Traits.none(), h1) + gap + log_likelihood(m0, Traits.none(), rest)
    np.testing.assert_allclose(log_likelihood(m, Traits.none(), h2), want, rtol=1e-9)


def test_a_customer_lapsed_with_no_history_adds_only_the_time_away() -> None:
    """Subscribed and cancelled on the window's first day (day 50): lapsed before the log,
    history unknown. Their likelihood is coming back after 70 days away, or staying away
    all 120 days; the cancellation rates enter only the later spell's."""
    c = 1 / 300
    lapsed = spells([(50, 50, True), (50, 50, True)])
    back = pd.concat([lapsed, spells([(120, 170, False)]).assign(user_id="u1")])
    h = encode(back, NO_SESSIONS, 50, 170)
    assert h.lapsed_spell.size == 2 and h.left_spell.size == 0
    rest = encode(spells([(120, 170, False)]), NO_SESSIONS, 50, 170)
    away = [-c * 120, np.log(np.exp(-c * 69) * (1 - np.exp(-c)))]
    for rates in ({}, {"cancel_rate": 1 / 90, "dormant_cancel_rate": 1 / 20}):
        spell = log_likelihood(model(comeback_rate=0.0, **rates), Traits.none(), rest)[0]
        got = log_likelihood(model(comeback_rate=c, **rates), Traits.none(), h)
        np.testing.assert_allclose(got, [away[0], away[1] + spell], rtol=1e-9)


def test_retention_is_the_law_of_the_first_cancellation() -> None:
    m = model(comeback_rate=0.0)
    days = np.arange(0, 12) * 30
    h = encode(spells([(0, d, False) for d in days[1:]]), NO_SESSIONS, 0, int(days[-1]))
    alive = np.exp(np.sort(log_likelihood(m, Traits.none(), h))[::-1])
    np.testing.assert_allclose(retention(m, Traits.none(), days[1:], 30), alive, rtol=1e-9)


def test_left_truncation_divides_the_mixtures_not_each_class() -> None:
    """A customer subscribed 360 days before the window (day 0) and still subscribed 720
    days into it, under two equally likely classes that cancel at very different rates:
    found in the log, the customer is likely of the durable class, so the likelihood is
    ``sum_c w_c R_c(1080) / sum_c w_c R_c(360)`` (R: retention), not the classes' own
    ratios averaged (which would treat the survivors as quick to cancel as newcomers)."""
    two = replace(model(k=2), cancel_rate=np.array([1 / 900, 1 / 60]))
    h = encode(spells([(-360, 720, False)]), NO_SESSIONS, 0, 720)
    assert h.trunc_spell.size == 1
    got = float(log_likelihood(two, Traits.none(), h)[0])
    days = np.array([360, 1080])
    each = [retention(model(cancel_rate=c), Traits.none(), days, 30) for c in two.cancel_rate]
    mixed = np.log(0.5 * (each[0][1] + each[1][1])) - np.log(0.5 * (each[0][0] + each[1][0]))
    per_class = np.log(0.5 * (each[0][1] / each[0][0] + each[1][1] / each[1][0]))
    assert got == pytest.approx(mixed, rel=1e-9)
    assert abs(got - per_class) > 0.1


def test_identical_histories_are_counted_once() -> None:
    h = encode(spells([(0, 60, True)] * 5 + [(0, 90, False)] * 3), NO_SESSIONS, 0, 90)
    assert h.n == 2 and sorted(h.count.tolist()) == [3.0, 5.0]


@pytest.mark.slow
def test_two_classes_are_recovered_from_their_retention() -> None:
    """Histories drawn from a known two-class model without sessions: classes and hidden
    phases can trade places, so what is identified is the law of the spells: the best fit
    is about as likely as the truth (within 2 log-likelihood points: the optimiser's local
    optima) and the retention of the one BIC keeps matches the truth's within 0.02."""
    rng = np.random.default_rng(7)
    truth = Subscribers(
        weight=np.array([0.7, 0.3]),
        activity_rate=np.zeros(2),
        dormant_activity_rate=np.zeros(2),
        lapse_rate=np.array([1e-4, 1e-4]),
        return_rate=np.array([1e-4, 1e-4]),
        cancel_rate=np.array([1 / 2000, 1 / 60]),
        dormant_cancel_rate=np.array([1 / 2000, 1 / 60]),
        comeback_rate=np.zeros(2),
        heterogeneity=np.full(2, 1e9),
        activity_shape=1.0,
        sessions=False,
        returns=False,
    )
    n, period, months = 1500, 30, 24
    cls = rng.random(n) < truth.weight[1]
    rate = np.where(cls, truth.cancel_rate[1], truth.cancel_rate[0])
    decided = rng.exponential(1 / rate)
    start = rng.integers(0, months * period // 2, n)
    effect = start + period * np.ceil(decided / period).astype(int)
    end = months * period
    rows = [(int(s), int(min(e, end)), bool(e <= end)) for s, e in zip(start, effect, strict=True)]
    h = encode(spells(rows), NO_SESSIONS, 0, end)
    fits = fit_classes(h, Traits.none(), 2)
    fit = fits[-1]  # the one BIC prefers
    best = max(f.fit.loglik for f in fits)
    assert best >= float(log_likelihood(truth, Traits.none(), h) @ h.count) - 2.0
    days = np.arange(1, months + 1) * period
    np.testing.assert_allclose(
        retention(fit.model, Traits.none(), days, period),
        retention(truth, Traits.none(), days, period),
        atol=0.02,
    )


def exact_spell(
    m: Subscribers,
    start: int,
    stop: int,
    cancelled: bool,
    seen: set[int],
    period: int,
    nodes: tuple[np.ndarray, np.ndarray],
) -> float:
    """log P of one spell by the daily forward recursion on (ACTIVE, DORMANT, pending
    ACTIVE, pending DORMANT), one class, no approximation; the activity multiplier
    integrated over ``nodes`` (g and log weights)."""
    each = [_exact_given(m, x, start, stop, cancelled, seen, period) for x in nodes[0]]
    return float(logsumexp(np.array(each) + nodes[1]))


def _exact_given(
    m: Subscribers, g: float, start: int, stop: int, cancelled: bool, seen: set[int], period: int
) -> float:
    la, ld = m.activity_rate[0] * g, m.dormant_activity_rate[0] * g
    lapse, back = m.lapse_rate[0], m.return_rate[0]
    qa, qd = m.cancel_rate[0], m.dormant_cancel_rate[0]
    q = np.zeros((4, 4))
    for src, dst, r in ((0, 1, lapse), (1, 0, back), (2, 3, lapse), (3, 2, back),
                        (0, 2, qa), (1, 3, qd)):  # fmt: skip
        q[src, dst] += r
        q[src, src] -= r
    lam = np.diag([la, ld, la, ld])
    block = np.zeros((8, 8))
    block[:4, :4], block[:4, 4:], block[4:, 4:] = q - lam, lam, q
    big = expm(block)
    n, s = big[:4, :4], big[:4, 4:]
    v = np.array([1.0, 0.0, 0.0, 0.0])
    for day in range(start + 1, stop + 1):
        v = v @ (s if day in seen else n)
        if (day - start) % period == 0 and not (cancelled and day == stop):
            v[2:] = 0.0  # renewed: no decision was pending
    return float(np.log(v[2:].sum() if cancelled else v.sum()))


def test_with_sessions_the_likelihood_is_the_daily_forward_recursion() -> None:
    """Gaps, special segments, regimes and the decision's deferral assembled: the same
    log-likelihood as the plain daily recursion over four states, to rounding."""
    m = model(sessions=True, comeback_rate=0.0)
    rng = np.random.default_rng(3)
    cases = []
    for stop, cancelled in ((150, True), (200, False), (61, True)):
        days = sorted(set(rng.integers(1, stop + 1, size=stop // 4).tolist()))
        cases.append((stop, cancelled, days))
    for stop, cancelled, days in cases:
        sp = spells([(0, stop, cancelled)])
        seen = pd.DataFrame({"user_id": "u0", "day": days})
        h = encode(sp, seen, 0, 200)
        got = float(log_likelihood(m, Traits.none(), h)[0])
        g, log_w = activity_nodes(m, Traits.none(), h)  # the customer's own nodes
        want = exact_spell(m, 0, stop, cancelled, set(days), 30, (g[0, 0], log_w[0, 0]))
        assert got == pytest.approx(want, rel=1e-9), (stop, cancelled)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_history_has_a_probability_anywhere_in_the_search_box(data: st.DataObject) -> None:
    """At any parameters the optimiser may try (rates from 1e-7 to 5 a day, the multiplier's
    shape across its box), each customer's log-likelihood is a log-probability: finite or
    -inf, never above 0. (A fast reciprocal once turned an underflowed row into +inf at the
    box's corners, and the optimiser stopped at its start.)"""
    sessions = data.draw(st.booleans())
    h = _mixed_histories(sessions)
    _, bounds = objective(h, TRAITS, 1)
    lo, hi = np.array(bounds).T
    theta = np.array([data.draw(st.floats(a, b)) for a, b in zip(lo, hi, strict=True)])
    m = Subscribers.from_theta(theta, 1, h.sessions, bool(h.away_back.any()))
    got = log_likelihood(m, TRAITS, h)
    assert not np.isnan(got).any() and (got <= 1e-9).all(), got


TRAITS = Traits(
    np.array([0.5, 2.0]), np.array([1.0, 0.8]), np.array([0.7, 1.4]), np.log([0.5, 0.5])
)


def _mixed_histories(sessions: bool, complete: bool = True) -> Histories:
    """Spells begun before the window and in it, cancelled on and after its first day,
    resubscribed, monthly and annual, long and short, and a customer lapsed with no history
    who comes back. ``complete``: the log lists a customer who left before the window
    (``a``), so no spell is conditioned on lasting into it; else ``a`` is left out and the
    spells begun before the window are (left truncation)."""
    sp = pd.DataFrame(
        {
            "user_id": ["a", "b", "c", "c", "d", "e", "f", "f"],
            "start": [-400, -30, 5, 200, 10, -700, 0, 90],
            "end": [0, 120, 150, 400, 400, 365, 0, 400],
            "cancelled": [True, True, True, False, False, True, True, False],
            "billing_days": [30, 30, 30, 30, 365, 365, 30, 30],
        }
    )
    rng = np.random.default_rng(0)
    days = rng.integers(1, 400, size=120) if sessions else np.zeros(0, int)
    seen = pd.DataFrame({"user_id": rng.choice(list("bcde"), size=days.size), "day": days})
    if not complete:
        sp = sp[sp.user_id != "a"]
    return encode(sp, seen.drop_duplicates(), 0, 400)


@pytest.mark.parametrize("complete", [True, False])
@pytest.mark.parametrize("sessions", [False, True])
def test_the_objective_remembers_each_class_without_changing_the_likelihood(
    sessions: bool, complete: bool
) -> None:
    """The objective assembles the k-class likelihood from each class alone (remembering
    each class's last two): equal to the mixture's own log-likelihood to 1e-9 at every
    point of a numerical gradient's walk, whichever class or weight a step moves."""
    h = _mixed_histories(sessions, complete)
    scored, bounds = objective(h, TRAITS, 2)
    lo, hi = np.array(bounds).T
    theta = np.clip(np.random.default_rng(1).uniform(-6.0, 0.5, len(bounds)), lo, hi)
    for j in [*range(theta.size), 0, 3]:
        step = theta.copy()
        step[j] += 1e-3
        for point in (theta, step):
            m = Subscribers.from_theta(point, 2, h.sessions, bool(h.away_back.any()))
            want = log_likelihood(m, TRAITS, h)
            np.testing.assert_allclose(scored(point)[0], want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("k", [1, 2])
@pytest.mark.parametrize("sessions", [False, True])
@pytest.mark.parametrize(("seed", "complete"), [(3, True), (4, False)])
def test_the_score_is_the_derivative_of_the_likelihood(
    sessions: bool, k: int, seed: int, complete: bool
) -> None:
    """The analytic score (``sim.calibration.scores``: the backward pass through the
    forward recursion, the activity nodes moving with the parameters) equals central
    differences (step 1e-5) of each customer's log-likelihood, to 1e-6 of the score's scale,
    with one class and two, at random points of the search box, on monthly and annual
    spells begun before the window and in it, cancelled on its first day and after it,
    resubscribed, lapsed with no history; in a complete log and a left-truncated one."""
    h = _mixed_histories(sessions, complete)
    assert (h.trunc_spell.size == 0) == complete
    scored, bounds = objective(h, TRAITS, k)
    lo, hi = np.array(bounds).T
    theta = np.clip(np.random.default_rng(seed).uniform(-6.0, 0.5, len(bounds)), lo, hi)
    _, score = scored(theta)
    step = 1e-5
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = step
        numeric = (scored(theta + e)[0] - scored(theta - e)[0]) / (2.0 * step)
        scale = max(1.0, float(np.abs(numeric).max()))
        np.testing.assert_allclose(score[:, j], numeric, rtol=0.0, atol=1e-6 * scale)


@pytest.mark.parametrize("z", [0.0, 1e-4, 0.3, 0.999, 1.001, 4.0, 40.0])
def test_the_exponential_coefficients_move_with_the_trace_and_determinant(z: float) -> None:
    """``exp(tG) = f0 I + f1 G`` and the derivatives of f0, f1 in G's trace and
    determinant, on both sides of the switch from series to closed form (z = 1) and at
    equal eigenvalues (z = 0): the coefficients against scipy's ``expm``, the derivatives
    against central differences of the coefficients read off ``expm`` of matrices with
    the moved trace or determinant (1e-6 relative)."""
    t = 3.0
    hi, lo = -0.05, -0.05 - 2.0 * z / t  # a generator's: both eigenvalues below 0

    def coefficients(tr: float, det: float) -> np.ndarray:  # from expm of such a matrix
        m = expm(t * np.array([[tr / 2.0, 1.0], [tr * tr / 4.0 - det, tr / 2.0]]))
        return np.array([m[0, 0] - m[0, 1] * tr / 2.0, m[0, 1]])

    f0, f1, f0_tr, f0_det, f1_tr, f1_det = _dcoefficients(hi, lo, t)
    g = np.array([[hi, 0.7], [0.0, lo]])  # any generator with these eigenvalues
    np.testing.assert_allclose(f0 * np.eye(2) + f1 * g, expm(t * g), rtol=1e-12, atol=1e-13)
    tr, det, step = hi + lo, hi * lo, 1e-6
    d_tr = (coefficients(tr + step, det) - coefficients(tr - step, det)) / (2 * step)
    d_det = (coefficients(tr, det + step) - coefficients(tr, det - step)) / (2 * step)
    np.testing.assert_allclose([f0_det, f1_det], d_det, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose([f0_tr, f1_tr], d_tr, rtol=1e-6, atol=1e-9)
