"""Off-policy estimators of a target policy's value from logged rounds, with bootstrap 95%
intervals and the diagnostics that say when to distrust them.

The rules (one round i: context x_i, logged action a_i with the logger's probability
p_i, reward r_i; the target's probabilities pi(a|x_i); a reward model q(x_i, a); the weight
w_i = pi(a_i|x_i) / p_i):

* DM (direct method): mean_i sum_a pi(a|x_i) q(x_i, a). Unbiased only if q is right.
* IPS: mean_i w_i r_i. Unbiased where the logger gives every action the target takes a
  probability above 0 (full support), whatever q.
* SNIPS: sum_i w_i r_i / sum_i w_i. Slightly biased, far less variance when weights are
  large; exact for a constant reward.
* DR (doubly robust): mean_i [sum_a pi(a|x_i) q(x_i, a) + w_i (r_i - q(x_i, a_i))]. Unbiased
  if either the propensities or q are right; exact (zero error) with a perfect q.
* SNDR: DR with its correction self-normalised (divided by mean_i w_i).
* Switch-DR(tau): DR whose correction is dropped for rounds with w_i > tau (where IPS
  explodes, the model decides).

``clip``: weights above it are cut to it (IPS, SNIPS, DR, SNDR), trading bias for variance;
the diagnostics count the rounds clipped. One round is one decision: for a policy that acts
repeatedly (weekly offers to the same customer) the per-decision weights hold only when a
decision does not change the later contexts the logger saw (a contextual-bandit reading of
the log); the module docs of the episode estimators say when that fails.

Intervals: a nonparametric bootstrap over rounds (``boot`` resamples, percentile interval),
from one ``numpy.random.Generator`` seeded by ``seed``. Everything is checked before any
work (shapes, probabilities, a target putting weight on no action).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from experiments.ope.logged import Logged

ESTIMATORS = ("dm", "ips", "snips", "dr", "sndr", "switch_dr")
BOOT = 200
TAU = 20.0  # switch-DR's threshold on the weight


@dataclass(frozen=True, kw_only=True)
class Estimate:
    estimator: str
    value: float
    low: float
    high: float


@dataclass(frozen=True, kw_only=True)
class Diagnostics:
    """When to distrust the weights."""

    effective_sample_size: float  # (sum w)^2 / sum w^2: rounds the weighted log is worth
    max_weight: float
    mean_weight: float  # 1 in expectation under full support: far from 1, a warning
    mean_weight_se: float  # its standard error (sd of the weights / sqrt(rounds))
    clipped: int  # rounds whose weight was cut to ``clip``
    unsupported_share: float | None  # rounds where the target puts mass on an action the
    # logger could never take (needs the logger's distribution); None: not known
    unsupported_mass: float | None  # the target's mean probability on such actions


def check_target(logged: Logged, target: np.ndarray, key: str = "target") -> np.ndarray:
    """The target's probabilities (n, n_actions), checked: a probability row per round."""
    dist = np.asarray(target, dtype=np.float64)
    if dist.ndim == 3 and dist.shape[2] == 1:  # OBP's (n, n_actions, len_list)
        dist = dist[:, :, 0]
    if dist.shape != (logged.n_rounds, logged.n_actions):
        raise ValueError(
            f"{key}: shape {dist.shape}; allowed: ({logged.n_rounds}, {logged.n_actions}), "
            "the target's probability of each action in each round"
        )
    if not np.isfinite(dist).all() or (dist < 0).any():
        raise ValueError(f"{key}: probabilities must be finite and >= 0; allowed: that")
    if not np.allclose(dist.sum(axis=1), 1.0, atol=1e-6):
        i = int(np.flatnonzero(~np.isclose(dist.sum(axis=1), 1.0, atol=1e-6))[0])
        raise ValueError(
            f"{key}[{i}]: sums to {float(dist[i].sum())!r}; allowed: rows summing to 1"
        )
    return dist


def check_model(logged: Logged, q: np.ndarray | None, needed: bool) -> np.ndarray | None:
    if q is None:
        if needed:
            raise ValueError("reward_model: none given; allowed: (rounds, actions) estimates")
        return None
    q = np.asarray(q, dtype=np.float64)
    if q.shape != (logged.n_rounds, logged.n_actions) or not np.isfinite(q).all():
        raise ValueError(
            f"reward_model: shape {q.shape}; allowed: ({logged.n_rounds}, {logged.n_actions}) "
            "finite estimates of each action's reward in each round"
        )
    return q


def round_values(
    name: str,
    logged: Logged,
    target: np.ndarray,
    q: np.ndarray | None,
    clip: float | None = None,
    tau: float = TAU,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-round terms of estimator ``name``: the value is ``sum(num) / sum(den)`` (``den``
    None: the mean of ``num``). Bootstrapping resamples these."""
    rows = np.arange(logged.n_rounds)
    action = np.asarray(logged.action)
    reward = np.asarray(logged.reward, dtype=np.float64)
    w = target[rows, action] / np.asarray(logged.pscore, dtype=np.float64)
    if clip is not None:
        w = np.minimum(w, clip)
    if name == "ips":
        return w * reward, None
    if name == "snips":
        return w * reward, w
    if q is None:
        raise ValueError(f"reward_model: none given; allowed: estimates, which {name} needs")
    direct = (target * q).sum(axis=1)
    if name == "dm":
        return direct, None
    residual = reward - q[rows, action]
    if name == "dr":
        return direct + w * residual, None
    if name == "switch_dr":
        return direct + np.where(w <= tau, w * residual, 0.0), None
    if name == "sndr":  # direct part averaged, correction self-normalised
        return np.stack([direct, w * residual, w]), None
    raise ValueError(f"estimator: {name!r}; allowed: {', '.join(ESTIMATORS)}")


def _value(name: str, num: np.ndarray, den: np.ndarray | None) -> float:
    if name == "sndr":
        direct, corr, w = num
        return float(direct.mean() + corr.sum() / max(w.sum(), 1e-300))
    if den is not None:
        return float(num.sum() / max(den.sum(), 1e-300))
    return float(num.mean())


def estimate(
    logged: Logged,
    target: np.ndarray,
    reward_model: np.ndarray | None = None,
    estimators: tuple[str, ...] = ESTIMATORS,
    clip: float | None = None,
    tau: float = TAU,
    boot: int = BOOT,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    groups: np.ndarray | None = None,
) -> list[Estimate]:
    """Each estimator's value and bootstrap 95% interval (see the module doc; ``groups``:
    one label per round, e.g. the customer: resampled whole, see ``_replicates``)."""
    dist, q = _checked(logged, target, reward_model, estimators, clip, tau, boot)
    out = []
    for name in estimators:
        if progress is not None:
            progress(name)
        value, reps = _replicates(name, logged, dist, q, clip, tau, boot, seed, groups)
        low, high = np.percentile(reps, [2.5, 97.5])
        out.append(Estimate(estimator=name, value=value, low=float(low), high=float(high)))
    return out


def against(
    logged: Logged,
    target: np.ndarray,
    baseline: np.ndarray,
    reward_model: np.ndarray | None = None,
    estimators: tuple[str, ...] = ESTIMATORS,
    clip: float | None = None,
    tau: float = TAU,
    boot: int = BOOT,
    seed: int = 0,
    groups: np.ndarray | None = None,
) -> tuple[list[Estimate], list[Estimate]]:
    """Each estimator's value of ``target`` (as :func:`estimate` gives it) and that value
    less its value of ``baseline`` (e.g. sending nothing) on the same rounds, the
    difference's interval from the same bootstrap resamples for both (paired: what the two
    share cancels); the target's replicates serve both."""
    dist, q = _checked(logged, target, reward_model, estimators, clip, tau, boot)
    base, _ = _checked(logged, baseline, reward_model, estimators, clip, tau, boot, "baseline")
    values, differences = [], []
    for name in estimators:
        value, reps = _replicates(name, logged, dist, q, clip, tau, boot, seed, groups)
        value0, reps0 = _replicates(name, logged, base, q, clip, tau, boot, seed, groups)
        low, high = np.percentile(reps, [2.5, 97.5])
        values.append(Estimate(estimator=name, value=value, low=float(low), high=float(high)))
        low, high = np.percentile(reps - reps0, [2.5, 97.5])
        differences.append(
            Estimate(estimator=name, value=value - value0, low=float(low), high=float(high))
        )
    return values, differences


def _checked(
    logged: Logged,
    target: np.ndarray,
    reward_model: np.ndarray | None,
    estimators: tuple[str, ...],
    clip: float | None,
    tau: float,
    boot: int,
    key: str = "target",
) -> tuple[np.ndarray, np.ndarray | None]:
    """Every argument checked before any work: the target's rows and the reward model."""
    unknown = [e for e in estimators if e not in ESTIMATORS]
    if unknown:
        raise ValueError(f"estimators: {unknown[0]!r}; allowed: {', '.join(ESTIMATORS)}")
    if clip is not None and not clip > 0:
        raise ValueError(f"clip: {clip!r}; allowed: a weight > 0, or none")
    if not tau > 0:
        raise ValueError(f"tau: {tau!r}; allowed: a weight > 0")
    if isinstance(boot, bool) or not isinstance(boot, int) or boot < 10:
        raise ValueError(f"boot: {boot!r}; allowed: an integer >= 10")
    dist = check_target(logged, target, key)
    taken = dist[np.arange(logged.n_rounds), np.asarray(logged.action)]
    if not (taken > 0).any():
        raise ValueError(
            f"{key}: gives probability 0 to every action the log took (no overlap: the log "
            "says nothing about this policy); allowed: a target that takes some logged action"
        )
    needs_model = any(e not in ("ips", "snips") for e in estimators)
    q = check_model(logged, reward_model, needs_model)
    return dist, q


def _replicates(
    name: str,
    logged: Logged,
    dist: np.ndarray,
    q: np.ndarray | None,
    clip: float | None,
    tau: float,
    boot: int,
    seed: int,
    groups: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """The estimate and its ``boot`` bootstrap replicates; the resamples depend only on
    ``seed`` and the number of rounds (the same for every estimator and target). With
    ``groups`` (a label per round: the customer) whole groups are resampled, so a
    customer's several decisions, which are not independent, stay together."""
    num, den = round_values(name, logged, dist, q, clip, tau)
    rng = np.random.default_rng(seed)
    reps = np.empty(boot)
    if groups is None:
        for k in range(boot):  # drawn one at a time: 1,000,000 rounds x 200 would not fit
            i = rng.integers(0, logged.n_rounds, logged.n_rounds)
            reps[k] = _value(name, num[..., i], None if den is None else den[i])
        return _value(name, num, den), reps
    label = np.unique(np.asarray(groups), return_inverse=True)[1].ravel()
    size = int(label.max()) + 1

    def sums(x: np.ndarray) -> np.ndarray:
        return np.bincount(label, weights=x, minlength=size)

    parts = [sums(x) for x in np.atleast_2d(num)]
    count, den_sums = np.bincount(label, minlength=size), None if den is None else sums(den)
    for k in range(boot):
        i = rng.integers(0, size, size)
        total = [float(p[i].sum()) for p in parts]
        n = float(count[i].sum())
        if name == "sndr":
            reps[k] = total[0] / n + total[1] / max(total[2], 1e-300)
        elif den_sums is not None:
            reps[k] = total[0] / max(float(den_sums[i].sum()), 1e-300)
        else:
            reps[k] = total[0] / n
    return _value(name, num, den), reps


def diagnostics(
    logged: Logged,
    target: np.ndarray,
    clip: float | None = None,
    support: np.ndarray | None = None,
) -> Diagnostics:
    """The weights' health (see ``Diagnostics``); ``support`` (n, actions): where the logger
    could act, when known otherwise than from its ``logging_dist``."""
    dist = check_target(logged, target)
    rows = np.arange(logged.n_rounds)
    w = dist[rows, np.asarray(logged.action)] / np.asarray(logged.pscore, dtype=np.float64)
    clipped = int((w > clip).sum()) if clip is not None else 0
    if clip is not None:
        w = np.minimum(w, clip)
    share = mass = None
    if support is None and logged.logging_dist is not None:
        support = np.asarray(logged.logging_dist) > 0
    if support is not None:
        on_never = (dist * ~np.asarray(support, dtype=bool)).sum(axis=1)
        share, mass = float((on_never > 0).mean()), float(on_never.mean())
    return Diagnostics(
        effective_sample_size=float(w.sum() ** 2 / max((w**2).sum(), 1e-300)),
        max_weight=float(w.max()),
        mean_weight=float(w.mean()),
        mean_weight_se=float(w.std(ddof=1) / np.sqrt(w.size)) if w.size > 1 else float("nan"),
        clipped=clipped,
        unsupported_share=share,
        unsupported_mass=mass,
    )
