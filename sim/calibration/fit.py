"""Maximum-likelihood fits of the lifecycle model: start values, classes fitted one after
another, parameter tables with 95% intervals."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.special import logsumexp

from sim.calibration.customers import Customers
from sim.calibration.lifecycle import RATES, Lifecycle, Traits
from sim.calibration.likelihood import Profiles, terms
from sim.calibration.mle import Fit, log_interval, maximise, opg_covariance

MIN_RATE, MAX_RATE = 1e-7, 5.0  # per day: the search box of every rate


@dataclass(frozen=True)
class LifecycleFit:
    model: Lifecycle
    fit: Fit
    n_customers: int

    @property
    def n_params(self) -> int:
        return int(self.fit.theta.shape[0])

    @property
    def bic(self) -> float:
        return -2.0 * self.fit.loglik + self.n_params * np.log(self.n_customers)

    @property
    def aic(self) -> float:
        return -2.0 * self.fit.loglik + 2.0 * self.n_params

    def table(self) -> list[dict[str, Any]]:
        """Every parameter with its standard error and 95% interval (rates per day)."""
        k = self.model.k
        theta, cov = self.fit.theta, self.fit.cov
        value, se, ci = log_interval(theta[: 5 * k], cov[: 5 * k, : 5 * k])
        rows: list[dict[str, Any]] = []
        for i, name in enumerate(RATES):
            for c in range(k):
                j = i * k + c
                rows.append(_row(f"{name}[{c}]", value[j], se[j], ci[0, j], ci[1, j]))
        for c, (w, (lo, hi)) in enumerate(
            zip(self.model.weight, weight_intervals(self), strict=True)
        ):
            rows.append(_row(f"weight[{c}]", w, (hi - lo) / 3.92, lo, hi))
        v, s, c2 = log_interval(theta[-1:], cov[-1:, -1:])
        rows.append(_row("activity_shape", v[0], s[0], c2[0, 0], c2[1, 0]))
        return rows


IDENTIFIED_RATIO = 100.0  # a 95% interval wider than this factor: the log cannot tell


def _row(name: str, value: float, se: float, lo: float, hi: float) -> dict[str, Any]:
    identified = bool(np.isfinite(lo) and np.isfinite(hi) and hi <= IDENTIFIED_RATIO * lo)
    return {
        "parameter": name,
        "estimate": float(value),
        "se": float(se),
        "ci_low": float(lo),
        "ci_high": float(hi),
        "identified": identified,
    }


def weight_intervals(fit: LifecycleFit) -> np.ndarray:
    """95% intervals of the class weights (see :func:`logit_intervals`)."""
    k = fit.model.k
    idx = np.arange(5 * k, 6 * k - 1)
    return logit_intervals(fit.fit.theta[idx], fit.fit.cov[np.ix_(idx, idx)])


def logit_intervals(logits: np.ndarray, cov: np.ndarray, draws: int = 4000) -> np.ndarray:
    """95% intervals of class weights ``softmax([0, logits])`` by simulation from the
    logits' normal law; (K, 2), NaN where the covariance is not finite."""
    k = logits.shape[0] + 1
    if k == 1:
        return np.array([[1.0, 1.0]])
    if not np.all(np.isfinite(cov)):
        return np.full((k, 2), np.nan)
    rng = np.random.default_rng(0)
    sample = rng.multivariate_normal(logits, cov, size=draws)
    full = np.concatenate([np.zeros((draws, 1)), sample], axis=1)
    w = np.exp(full - logsumexp(full, axis=1, keepdims=True))
    return np.quantile(w, [0.025, 0.975], axis=0).T


def start_values(data: Customers, k: int) -> Lifecycle:
    """A rough start: the repeat rate of repeaters, lapses within a few months; classes
    spread from heavy to light."""
    x, t = data.x, np.maximum(data.T, 1.0)
    rate = float(np.clip(np.mean(x[x > 0] / t[x > 0]) if (x > 0).any() else 0.01, 1e-4, 1.0))
    spread = np.geomspace(3.0, 1 / 3.0, k) if k > 1 else np.ones(1)
    return Lifecycle(
        weight=np.full(k, 1.0 / k),
        activity_rate=rate * spread,
        lapse_rate=0.01 / spread,
        return_rate=np.full(k, 0.01),
        dormant_cancel_rate=np.full(k, 0.01),
        comeback_rate=np.full(k, 1e-4),
        activity_shape=1.0,
    )


def split(model: Lifecycle) -> Lifecycle:
    """A start for k + 1 classes: a small new class of heavier, faster-lapsing customers
    who churn for good, split off the heaviest class."""
    h = int(np.argmax(model.activity_rate))
    extra = {
        "activity_rate": model.activity_rate[h] * 5.0,
        "lapse_rate": model.lapse_rate[h] * 3.0,
        "return_rate": model.return_rate[h] * 2.0,
        "dormant_cancel_rate": max(model.dormant_cancel_rate[h], 1e-3) * 5.0,
        "comeback_rate": model.comeback_rate[h],
    }
    weight = np.append(model.weight * 0.95, 0.05)
    rates = {r: np.append(getattr(model, r), extra[r]) for r in RATES}
    return Lifecycle(weight=weight, activity_shape=model.activity_shape, **rates)


def fit_classes(data: Customers, k: int, traits: Traits | None = None) -> list[LifecycleFit]:
    """Fits with 1, 2, ..., ``k`` classes, each started from the previous one split (the
    covariance only for the last: the others serve the model comparison)."""
    fits = [fit_lifecycle(data, 1, traits, with_covariance=k == 1)]
    for n in range(2, k + 1):
        start = split(fits[-1].model)
        fits.append(fit_lifecycle(data, n, traits, start, with_covariance=n == k))
    return fits


def fit_lifecycle(
    data: Customers,
    k: int = 1,
    traits: Traits | None = None,
    start: Lifecycle | None = None,
    with_covariance: bool = True,
) -> LifecycleFit:
    """Maximum-likelihood fit with ``k`` latent classes (and the simulator's trait
    multipliers integrated out when ``traits`` is given), from ``start`` if given; the
    covariance is BHHH's (outer product of the per-customer scores)."""
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 5:
        raise ValueError(f"classes: {k!r}; allowed: an integer from 1 to 5")

    prof = Profiles.from_customers(data)

    def per_profile(theta: np.ndarray) -> np.ndarray:
        t = terms(Lifecycle.from_theta(theta, k), prof, traits)
        joint = t.log_lik + t.log_prior[None, :]
        top = joint.max(axis=1, keepdims=True)
        return np.log(np.exp(joint - top).sum(axis=1)) + top[:, 0]

    def neg(theta: np.ndarray) -> float:
        return -float(per_profile(theta) @ prof.count)

    box = (np.log(MIN_RATE), np.log(MAX_RATE))
    bounds = [box] * (5 * k) + [(-8.0, 8.0)] * (k - 1) + [(np.log(0.02), np.log(50.0))]
    theta0 = (start if start is not None else start_values(data, k)).theta()
    lo, hi = np.array(bounds).T
    fit = maximise(neg, np.clip(theta0, lo, hi), bounds, with_covariance=False)
    if with_covariance:
        fit = replace(fit, cov=opg_covariance(per_profile, prof.count, fit.theta))
    return LifecycleFit(Lifecycle.from_theta(fit.theta, k), fit, data.n)
