"""The maximum-likelihood core shared by every model here: minimise a negative
log-likelihood over unconstrained parameters, then estimate the covariance of the estimate
from the Hessian or, cheaper for many parameters, from the outer product of the
per-customer score vectors (BHHH)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize

Objective = Callable[[np.ndarray], float]


@dataclass(frozen=True)
class Fit:
    """The optimum ``theta`` (unconstrained), the log-likelihood there and the covariance
    of ``theta`` (inverse Hessian of the negative log-likelihood; NaN where singular)."""

    theta: np.ndarray
    loglik: float
    cov: np.ndarray
    converged: bool
    message: str
    evaluations: int


def maximise(
    neg_loglik: Objective,
    theta0: np.ndarray,
    bounds: list[tuple[float, float]] | None = None,
    max_iter: int = 2000,
    with_covariance: bool = True,
) -> Fit:
    """L-BFGS-B from ``theta0`` (restarted once from where it stopped if it reports no
    convergence); the covariance is read off the Hessian at the optimum (NaN when
    ``with_covariance`` is false: the caller estimates it another way, or needs none)."""
    count = [0]

    def f(theta: np.ndarray) -> float:
        count[0] += 1
        value = neg_loglik(theta)
        return float(value) if np.isfinite(value) else 1e300

    theta = np.asarray(theta0, dtype=np.float64)
    opts = {"maxiter": max_iter, "ftol": 1e-9, "gtol": 1e-5}
    res = optimize.minimize(f, theta, method="L-BFGS-B", bounds=bounds, options=opts)
    if not res.success:  # e.g. a line search that stalled: once more from where it got
        res = optimize.minimize(f, res.x, method="L-BFGS-B", bounds=bounds, options=opts)
    k = res.x.shape[0]
    cov = covariance(f, res.x) if with_covariance else np.full((k, k), np.nan)
    return Fit(res.x, -float(res.fun), cov, bool(res.success), str(res.message), count[0])


def covariance(f: Objective, theta: np.ndarray, step: float = 1e-4) -> np.ndarray:
    """Inverse of the central-difference Hessian of ``f`` at ``theta``."""
    k = theta.shape[0]
    h = np.empty((k, k))
    f0 = f(theta)
    e = np.eye(k) * step
    for i in range(k):
        for j in range(i, k):
            if i == j:
                h[i, i] = (f(theta + e[i]) - 2 * f0 + f(theta - e[i])) / step**2
            else:
                h[i, j] = h[j, i] = (
                    f(theta + e[i] + e[j])
                    - f(theta + e[i] - e[j])
                    - f(theta - e[i] + e[j])
                    + f(theta - e[i] - e[j])
                ) / (4 * step**2)
    return inverse_information(h)


def opg_covariance(
    per_unit: Callable[[np.ndarray], np.ndarray],
    weights: np.ndarray,
    theta: np.ndarray,
    step: float = 1e-5,
) -> np.ndarray:
    """BHHH: the inverse of sum_i w_i s_i s_i', with s_i each unit's score (central
    differences of ``per_unit``, the vector of unit log-likelihoods) and w_i its count."""
    k = theta.shape[0]
    scores = np.empty((weights.shape[0], k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = step
        scores[:, i] = (per_unit(theta + e) - per_unit(theta - e)) / (2 * step)
    return inverse_information((scores * weights[:, None]).T @ scores)


def inverse_information(info: np.ndarray) -> np.ndarray:
    """The covariance of the estimate: the inverse of the information matrix, NaN where it
    is singular or gives a parameter no positive variance."""
    k = info.shape[0]
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return np.full((k, k), np.nan)
    bad = np.diag(cov) <= 0
    cov[bad, :] = np.nan
    cov[:, bad] = np.nan
    return cov


def log_interval(
    theta: np.ndarray, cov: np.ndarray, z: float = 1.959964
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimates, standard errors and 95% intervals of ``exp(theta)`` (delta method for the
    standard error; the interval is exp of theta's, so it stays positive)."""
    se_theta = np.sqrt(np.diag(cov))
    value = np.exp(theta)
    with np.errstate(over="ignore"):  # an unidentified parameter's interval is (0, inf)
        lo, hi = np.exp(theta - z * se_theta), np.exp(theta + z * se_theta)
    return value, value * se_theta, np.stack([lo, hi])
