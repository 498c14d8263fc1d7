"""The maximum-likelihood core shared by every model here: minimise a negative
log-likelihood over unconstrained parameters, then estimate the covariance of the estimate
from the Hessian or, cheaper for many parameters, from the outer product of the
per-customer score vectors (BHHH). The reference models (BG/NBD, sBG) also say how their fit
ended (``fit_status``): converged, not converged, or run to the edge of its search box."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize

Objective = Callable[[np.ndarray], float]
# or, with ``jac``, the value and its gradient
ScoredObjective = Callable[[np.ndarray], tuple[float, np.ndarray]]


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
    neg_loglik: Objective | ScoredObjective,
    theta0: np.ndarray,
    bounds: list[tuple[float, float]] | None = None,
    max_iter: int = 2000,
    with_covariance: bool = True,
    ftol: float = 1e-9,
    memory: int = 10,
    jac: bool = False,
    root: np.ndarray | None = None,
) -> Fit:
    """L-BFGS-B from ``theta0`` (restarted once from where it stopped if it reports no
    convergence), stopping when a step gains less than ``ftol`` relative to the objective or
    the projected gradient is under 1e-5; ``memory``: the steps its curvature estimate
    remembers; ``jac``: ``neg_loglik`` returns its gradient too (else it is taken by
    forward differences). ``root`` (with ``jac``): a square root R of an estimate of the
    inverse Hessian at ``theta0`` (R R'): the search runs first in z, theta = theta0 + R z,
    where the objective is about equally curved in every direction (:func:`_rooted`). The
    covariance is read off the Hessian at the optimum (NaN when ``with_covariance`` is
    false: the caller estimates it another way, or needs none)."""
    count = [0]

    def f(theta: np.ndarray) -> Any:
        count[0] += 1
        out: Any = neg_loglik(theta)
        value, grad = out if jac else (out, np.zeros(0))
        if not np.isfinite(value) or not np.isfinite(grad).all():
            return (1e300, np.zeros_like(theta)) if jac else 1e300
        return (float(value), np.asarray(grad, dtype=np.float64)) if jac else float(value)

    theta = np.asarray(theta0, dtype=np.float64)
    opts = {"maxiter": max_iter, "ftol": ftol, "gtol": 1e-5, "maxcor": memory}
    res = _rooted(f, theta, root, bounds, opts) if root is not None and jac else None
    if res is None or not res.success:  # L-BFGS-B in theta (from where the rooted one got)
        start = theta if res is None else res.x
        res = optimize.minimize(f, start, jac=jac, method="L-BFGS-B", bounds=bounds, options=opts)
    if not res.success:  # e.g. a line search that stalled: once more from where it got
        res = optimize.minimize(f, res.x, jac=jac, method="L-BFGS-B", bounds=bounds, options=opts)
    k = res.x.shape[0]
    value_only = (lambda theta: f(theta)[0]) if jac else f
    cov = covariance(value_only, res.x) if with_covariance else np.full((k, k), np.nan)
    return Fit(res.x, -float(res.fun), cov, bool(res.success), str(res.message), count[0])


class _LeftBox(Exception):
    """The rooted search stepped outside the box (``_rooted`` stops there)."""


def _rooted(
    f: ScoredObjective,
    theta0: np.ndarray,
    root: np.ndarray,
    bounds: list[tuple[float, float]] | None,
    opts: dict[str, Any],
) -> optimize.OptimizeResult:
    """L-BFGS in z, theta = theta0 + root z, where an estimate of the inverse Hessian
    (root root') makes the objective about equally curved in every direction, so the
    search needs few steps (same stopping rules). It stops at its first step outside the
    box (an edge is for L-BFGS-B in theta to follow). The result (in theta: where it
    converged, else its best point) succeeds only where it converged inside the box: else
    ``maximise`` goes on from there with L-BFGS-B in theta."""
    lo, hi = np.array(bounds, dtype=np.float64).T if bounds else (-np.inf, np.inf)
    best: dict[str, Any] = {"value": np.inf, "theta": theta0}

    def g(z: np.ndarray) -> tuple[float, np.ndarray]:
        theta = theta0 + root @ z
        if np.any(theta < lo) or np.any(theta > hi):
            raise _LeftBox
        value, grad = f(theta)
        if value < best["value"]:
            best.update(value=value, theta=theta)
        return value, root.T @ grad

    try:
        res = optimize.minimize(g, np.zeros_like(theta0), jac=True, method="L-BFGS-B", options=opts)
    except _LeftBox:
        return optimize.OptimizeResult(
            x=best["theta"], fun=best["value"], success=False, message="left the box"
        )
    return optimize.OptimizeResult(
        x=theta0 + root @ res.x, fun=res.fun, success=bool(res.success), message=res.message
    )


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
    return opg_from_scores(scores, weights)


def opg_from_scores(scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """BHHH from each unit's score ``scores`` (units, parameters), weighted by its count."""
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


Box = Sequence[tuple[float, float]]  # each parameter's (low, high), in the model's own units
# an interval end within 5% of an edge of the box reaches it (log units): the optimiser
# stops a little short of an edge where the likelihood flattens out towards it
EDGE_TOLERANCE = 0.05
# the reference models' relative tolerance: small, so that a fit follows a likelihood that
# keeps rising along a ridge to the edge of its box instead of stopping half-way
REFERENCE_FTOL = 1e-13


@dataclass(frozen=True)
class FitStatus:
    """How a fit ended. ``code`` is one of ``converged``; ``not_converged`` (the optimiser
    stopped short of its tolerances: ``detail`` is its message); ``boundary`` (the estimates
    of ``parameters`` cannot be told from an edge of the search box, where the model
    degenerates to a limit it does not represent: ``detail`` gives their estimates and
    intervals). Only a converged fit predicts."""

    code: str
    detail: str = ""
    parameters: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.code == "converged"

    @property
    def reason(self) -> str:
        """The status in plain words, for reports and notes."""
        if self.code == "boundary":
            *first, last = self.parameters
            names = f"{', '.join(first)} and {last}" if first else last
            return (
                f"{names} cannot be told from the edge of the search box: the "
                "data push the model towards a limit it cannot represent, so it makes no "
                "predictions"
            )
        if self.code == "not_converged":
            said = self.detail.strip().rstrip(":").strip() or "no reason given"
            return f"the optimiser did not converge ({said}), so it makes no predictions"
        return "converged"


def log_box(box: Box) -> list[tuple[float, float]]:
    """A box in a model's units as bounds on its log parameters (what ``maximise`` takes)."""
    return [(float(np.log(lo)), float(np.log(hi))) for lo, hi in box]


def fit_reference(
    neg_loglik: Objective, start: Sequence[float], names: Sequence[str], box: Box
) -> tuple[Fit, FitStatus]:
    """A reference model's fit of its log parameters: ``maximise`` inside ``box`` from
    ``start`` (model units, moved into the box) at ``REFERENCE_FTOL``, and how it ended."""
    bounds = log_box(box)
    lo, hi = np.array(bounds).T
    fit = maximise(neg_loglik, np.clip(np.log(start), lo, hi), bounds, ftol=REFERENCE_FTOL)
    status = fit_status(fit, names, box)
    ridge = ridge_to_edge(neg_loglik, fit, bounds, names) if status.ok else ()
    if ridge:
        detail = f"the likelihood stays within {RIDGE_DROP} of its maximum out to the box's edge"
        return fit, FitStatus("boundary", detail, ridge)
    return fit, status


RIDGE_DROP = 1.92  # half the chi-square(1) 95% point: a likelihood-ratio interval's reach
RIDGE_SHARE = 0.25  # a parameter moves along a ridge if its share of the direction is this


def ridge_to_edge(
    neg_loglik: Objective, fit: Fit, bounds: Sequence[tuple[float, float]], names: Sequence[str]
) -> tuple[str, ...]:
    """The parameters along which the likelihood runs flat to an edge of the box, or ().

    An optimiser can stop anywhere on a ridge that climbs without end towards a limit (sBG
    with no heterogeneity: alpha and beta grow together; how far it goes depends on the
    optimiser's version), and the Hessian's interval there need not reach the edge. So
    along the fit's least determined direction (the covariance's top eigenvector), both
    ways, the log-likelihood at the box's edge is compared with the maximum: within
    ``RIDGE_DROP`` it cannot be told from the limit (a likelihood-ratio interval reaching
    the edge), and the parameters with a ``RIDGE_SHARE`` of that direction are named."""
    if fit.cov is None or not np.isfinite(fit.cov).all():
        return ()
    _, vectors = np.linalg.eigh(fit.cov)
    top = vectors[:, -1]
    lo, hi = np.array(bounds, dtype=np.float64).T
    for way in (top, -top):
        moving = np.abs(way) > 1e-12
        reach = np.where(way > 0, hi - fit.theta, lo - fit.theta)[moving] / way[moving]
        edge = fit.theta + float(reach.min()) * way
        if -float(neg_loglik(edge)) >= fit.loglik - RIDGE_DROP:
            return tuple(n for n, w in zip(names, way, strict=True) if abs(w) >= RIDGE_SHARE)
    return ()


def fit_status(fit: Fit, names: Sequence[str], box: Box) -> FitStatus:
    """The status of a fit of log parameters ``names`` searched inside ``box``. Boundary
    first, whatever the optimiser said: an estimate on an edge, or whose 95% interval reaches
    one (or is undefined: no finite standard error), cannot be told from the limit the model
    approaches there; then no convergence; else converged."""
    value, _, ci = log_interval(fit.theta, fit.cov)
    edges = [
        _edge(name, value[i], ci[:, i], lo, hi)
        for i, (name, (lo, hi)) in enumerate(zip(names, box, strict=True))
    ]
    if any(edges):
        named = tuple(n for n, e in zip(names, edges, strict=True) if e)
        return FitStatus("boundary", "; ".join(e for e in edges if e), named)
    if not fit.converged:
        return FitStatus("not_converged", fit.message)
    return FitStatus("converged")


def _edge(name: str, value: float, ci: np.ndarray, lo: float, hi: float) -> str:
    """What ties one estimate to an edge of its box, in words ("" when nothing does)."""
    if np.isnan(ci).any():
        return f"{name} = {value:.4g} has no finite standard error"
    near = np.exp(EDGE_TOLERANCE)
    if ci[0] <= lo * near:
        side, edge = "lower", lo
    elif ci[1] >= hi / near:
        side, edge = "upper", hi
    else:
        return ""
    return (
        f"{name} = {value:.4g} (95% interval {ci[0]:.3g} to {ci[1]:.3g}) reaches its {side} "
        f"edge {edge:g}"
    )


def interval_table(names: Sequence[str], fit: Fit) -> list[dict[str, Any]]:
    """Each log-parameter's estimate with its standard error and 95% interval."""
    value, se, ci = log_interval(fit.theta, fit.cov)
    return [
        {
            "parameter": n,
            "estimate": float(v),
            "se": float(s),
            "ci_low": float(lo),
            "ci_high": float(hi),
        }
        for n, v, s, lo, hi in zip(names, value, se, ci[0], ci[1], strict=True)
    ]


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
