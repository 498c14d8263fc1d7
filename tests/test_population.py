"""The population at the start: who is subscribed and for how long, as a lifecycle leaves
them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.linalg import expm

from sim import presets
from sim.constants import ACTIVE, CHURNED, DORMANT
from sim.population import Lifecycles, lived_lifecycles, lived_tenure, sample_population

RATES = {"lapse_rate": 1 / 90, "return_rate": 1 / 40, "cancel_rate": 1 / 1800}
RATES |= {"dormant_cancel_rate": 1 / 200, "mean_tenure_days": 365.0}


def one_segment(n: int) -> tuple:
    """A subscription scenario of one segment with ``RATES`` and users whose traits are
    all zero and multipliers one (their chain is the segment's), tenures drawn at m."""
    base = presets.streaming(n_users=n)
    seg = replace(base.segments[0], weight=1.0, **RATES)
    scenario = replace(base, segments=(seg,))
    rng = np.random.default_rng(5)
    latent = {k: np.zeros(n) for k in ("tech", "friction", "price_sens")}
    latent |= {"lapse_mult": np.ones(n), "return_mult": np.ones(n)}
    latent["signup_day"] = -scenario.warmup_days - rng.exponential(RATES["mean_tenure_days"], n)
    return scenario, latent


def tenure_of(scenario, state: np.ndarray, latent: dict) -> np.ndarray:
    segment = np.zeros(state.size, np.uint8)
    return lived_tenure(scenario, state, latent, Lifecycles.of(scenario, segment, latent))


def exact_cdf(state: int) -> callable:
    """P(tenure <= t | state s): the density e_A exp(K' t) e_s, K' = K - I / m."""
    r = RATES
    k = (
        np.array(
            [
                [-r["lapse_rate"] - r["cancel_rate"], r["lapse_rate"]],
                [r["return_rate"], -r["return_rate"] - r["dormant_cancel_rate"]],
            ]
        )
        - np.eye(2) / r["mean_tenure_days"]
    )
    inv = np.linalg.inv(-k)
    total = inv[0, state]

    def cdf(t: np.ndarray) -> np.ndarray:
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        return 1.0 - (inv[0] @ expm(k[None] * t[:, None, None]))[:, state] / total

    return cdf


@pytest.mark.parametrize("state", [ACTIVE, DORMANT])
def test_a_subscribers_tenure_has_the_law_a_lifecycle_leaves(state: int) -> None:
    """4,000 users in one state: their tenures against the exact law (Kolmogorov-Smirnov,
    p > 0.01 at seed 5); a DORMANT subscriber has been subscribed longer than an ACTIVE one
    on average (exact means 212.6 and 243.2 days, by quadrature)."""
    n = 4000
    scenario, latent = one_segment(n)
    tenure = tenure_of(scenario, np.full(n, state), latent)
    assert stats.kstest(tenure, exact_cdf(state)).pvalue > 0.01
    cdf = exact_cdf(state)
    mean = integrate.quad(lambda t: 1.0 - cdf(t)[0], 0, 20_000, limit=200)[0]
    assert tenure.mean() == pytest.approx(mean, rel=0.05)


def test_the_cancelled_keep_their_draw_and_no_hazard_keeps_every_draw() -> None:
    n = 500
    scenario, latent = one_segment(n)
    drawn = -scenario.warmup_days - latent["signup_day"]
    gone = tenure_of(scenario, np.full(n, CHURNED), latent)
    np.testing.assert_array_equal(gone, drawn)
    still = replace(
        scenario,
        segments=tuple(
            replace(s, lapse_rate=0.0, cancel_rate=0.0, dormant_cancel_rate=0.0)
            for s in scenario.segments
        ),
    )
    kept = tenure_of(still, np.full(n, ACTIVE), latent)
    np.testing.assert_allclose(kept, drawn, rtol=1e-9, atol=1e-6)


def test_a_shop_keeps_the_drawn_tenure() -> None:
    """Only subscription scenarios thin tenures (a shop's tenure is time since sign-up)."""
    shop = presets.SCENARIOS["retail"](n_users=2000)
    pop = sample_population(shop, np.random.default_rng(0))
    tenure = -shop.warmup_days - pop.signup_day.astype(np.float64)
    mean = np.array([s.mean_tenure_days for s in shop.segments])[pop.segment]
    assert np.mean(tenure / mean) == pytest.approx(1.0, abs=0.06)


@pytest.mark.parametrize("state", [ACTIVE, DORMANT, CHURNED])
def test_the_state_at_the_start_selects_the_leave_multiplier(state: int) -> None:
    """A segment's heterogeneity is the leave multiplier's spread at sign-up; 20,000
    customers found in one state at the start have the multiplier's law given that state,
    ``Gamma(h, h)(m) x P_s(m)`` (signed up Exp(365 days) before, traits switched off,
    return multiplier ~1): its mean by quadrature within 4 standard errors at seed 3.
    Subscribers are the durable ones (mean under 1), the cancelled the quick (over 1)."""
    n, h = 20_000, 2.0
    base = presets.streaming(n_users=n)
    seg = replace(base.segments[0], weight=1.0, heterogeneity=h, return_heterogeneity=1e6, **RATES)
    dyn = replace(base.dynamics, tech_weight=0.0, friction_weight=0.0, price_level_weight=0.0)
    scenario = replace(base, segments=(seg,), dynamics=dyn)
    rng = np.random.default_rng(3)
    latent = {
        k: np.zeros(n, np.float32) for k in ("price_sens", "content_need", "friction", "tech")
    }
    latent["lapse_mult"] = (rng.gamma(h, 1.0 / h, n)).astype(np.float32)  # as drawn at sign-up
    latent["return_mult"] = np.ones(n, np.float32)
    segment, pain = np.zeros(n, np.uint8), np.zeros(n, np.uint8)
    lived_lifecycles(scenario, segment, np.full(n, state, np.uint8), pain, latent, rng)
    m = latent["lapse_mult"].astype(np.float64)

    def odds(x: float) -> float:
        one = {k: np.zeros(1) for k in ("price_sens", "tech", "friction")}
        one |= {"lapse_mult": np.array([x]), "return_mult": np.ones(1)}
        return float(Lifecycles.of(scenario, np.zeros(1, np.uint8), one).odds()[0, state])

    law = stats.gamma(h, scale=1.0 / h)
    mass = integrate.quad(lambda x: law.pdf(x) * odds(x), 0, np.inf, limit=200)[0]
    mean = integrate.quad(lambda x: x * law.pdf(x) * odds(x), 0, np.inf, limit=200)[0] / mass
    assert abs(m.mean() - mean) < 4.0 * m.std() / np.sqrt(n)
    if state != DORMANT:  # a DORMANT subscriber has lapsed (quick) but not cancelled (durable)
        assert (mean < 1.0) if state == ACTIVE else (mean > 1.0)


def test_the_start_shares_stay_the_segments() -> None:
    """Who holds each state follows the lifecycle; how many is the segment's
    ``initial_state`` (a multinomial draw: within 4 standard errors per segment)."""
    scenario = presets.streaming(n_users=40_000)
    pop = sample_population(scenario, np.random.default_rng(2))
    for k, seg in enumerate(scenario.segments):
        mine = pop.state[pop.segment == k]
        for code, name in enumerate(("active", "dormant", "churned")):
            p = seg.initial_state.get(name, 0.0)
            se = np.sqrt(p * (1 - p) / mine.size)
            assert abs(np.mean(mine == code) - p) <= 4 * se + 1e-12
        lapse = pop.lapse_mult[pop.segment == k]
        assert lapse[mine == ACTIVE].mean() < lapse[mine == CHURNED].mean()
