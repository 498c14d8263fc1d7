"""The kernels' counter-based random numbers have the laws they claim (fixed seeds, stated
tolerances), and streams of neighbouring users are independent."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from scipy import stats

from sim.kernel.counter_rng import exponential, poisson, stream_key, uniform

ROOT = np.uint64(20261201)


@njit(cache=True)
def _first_draws(root: np.uint64, users: int, interval: int, draw: int) -> np.ndarray:
    out = np.empty(users)
    for i in range(users):
        out[i] = uniform(stream_key(root, i, interval), draw)
    return out


@njit(cache=True)
def _exponentials(root: np.uint64, m: int) -> np.ndarray:
    out = np.empty(m)
    for i in range(m):
        out[i] = exponential(stream_key(root, 7, 3), i)
    return out


@njit(cache=True)
def _poissons(root: np.uint64, lam: float, m: int) -> np.ndarray:
    out = np.empty(m, dtype=np.int64)
    for i in range(m):
        out[i], _ = poisson(stream_key(root, i, 11), 0, lam)
    return out


def test_uniforms_are_uniform_across_users_and_along_a_stream() -> None:
    across = _first_draws(ROOT, 200_000, 5, 0)
    assert stats.kstest(across, "uniform").pvalue > 0.01
    assert abs(across.mean() - 0.5) < 0.003  # 4.4 standard errors
    assert across.min() >= 0.0 and across.max() < 1.0


def test_neighbouring_streams_are_uncorrelated() -> None:
    a = _first_draws(ROOT, 100_000, 5, 0)
    b = _first_draws(ROOT, 100_000, 6, 0)  # the same users, the next interval
    c = _first_draws(ROOT, 100_000, 5, 1)  # the same streams, the next draw
    for x, y in ((a, b), (a, c), (a[:-1], a[1:])):
        assert abs(np.corrcoef(x, y)[0, 1]) < 0.015  # 4.7 standard errors
    assert not np.array_equal(a, _first_draws(np.uint64(1), 100_000, 5, 0))


def test_exponentials_have_mean_and_variance_one() -> None:
    x = _exponentials(ROOT, 200_000)
    assert np.isfinite(x).all() and (x >= 0).all()
    assert abs(x.mean() - 1.0) < 0.01
    assert abs(x.var() - 1.0) < 0.03
    assert stats.kstest(x, "expon").pvalue > 0.01


@pytest.mark.parametrize("lam", [0.05, 2.5, 9.99, 10.0, 37.0, 400.0])
def test_poisson_counts_match_the_law(lam: float) -> None:
    """Both samplers (inversion below 10, transformed rejection above): mean and variance
    within 5 standard errors, and a chi-square test on the binned counts."""
    m = 100_000
    x = _poissons(ROOT, lam, m)
    se = np.sqrt(lam / m)
    assert abs(x.mean() - lam) < 5 * se
    assert abs(x.var() - lam) < 5 * lam * np.sqrt(2.0 / m) + 5 * se
    lo, hi = stats.poisson.ppf([0.001, 0.999], lam).astype(int)
    edges = np.arange(lo, hi + 2)
    observed = np.histogram(np.clip(x, lo, hi), bins=edges)[0]
    expected = np.diff(stats.poisson.cdf(edges - 1, lam))
    expected[0] += stats.poisson.cdf(lo - 1, lam)
    expected[-1] += stats.poisson.sf(hi, lam)
    keep = expected * m >= 5
    expected = expected[keep] / expected[keep].sum() * observed[keep].sum()
    assert stats.chisquare(observed[keep], expected).pvalue > 0.001


def test_zero_rate_gives_zero_and_consumes_nothing() -> None:
    assert poisson(stream_key(ROOT, 1, 1), 4, 0.0) == (0, 4)
