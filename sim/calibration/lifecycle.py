"""The simulator's own lifecycle model, fitted to an event log by maximum likelihood.

Each customer belongs to one of ``K`` latent classes (the scenario's segments). In class k
a customer moves between the simulator's states as a continuous-time Markov chain::

    ACTIVE  -> DORMANT  lapse_rate            DORMANT -> ACTIVE   return_rate
    DORMANT -> CHURNED  dormant_cancel_rate   CHURNED -> ACTIVE   comeback_rate

and is active (buys, visits) at ``activity_rate x g`` per day while ACTIVE, where the
customer's multiplier ``g ~ Gamma(shape, shape)`` (mean one) is the simulator's
``activity_mult``; dormant and churned customers are silent. A customer is ACTIVE at their
first activity. Given the class and ``g``, activity days form a Markov-modulated Poisson
process, and because every activity happens in ACTIVE the likelihood factorises over the
waiting times between activity days::

    L = prod_j [ lambda g P_AA(gap_j) ] x sum_s P_As(T - t_x),   P(t) = exp((Q - Lambda) t)

``g`` is integrated out by generalised Gauss-Laguerre quadrature (exact for the gamma law up
to the quadrature order) and the class by its weight. Time is in days; gaps are whole days
(the log is day-resolved), so ``P`` is tabulated as powers of ``P(1)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.special import gammaln, logsumexp, roots_genlaguerre

from sim.calibration.customers import Customers
from sim.calibration.mle import Fit, log_interval, maximise

RATES = ("activity_rate", "lapse_rate", "return_rate", "dormant_cancel_rate", "comeback_rate")
NODES = 12  # quadrature nodes for the gamma activity multiplier
MIN_RATE, MAX_RATE = 1e-7, 5.0  # per day: the search box of every rate


@dataclass(frozen=True)
class Lifecycle:
    """Fitted parameters: per class (arrays of length K) and the shared activity shape."""

    weight: np.ndarray
    activity_rate: np.ndarray
    lapse_rate: np.ndarray
    return_rate: np.ndarray
    dormant_cancel_rate: np.ndarray
    comeback_rate: np.ndarray
    activity_shape: float

    @property
    def k(self) -> int:
        return int(self.weight.shape[0])

    @classmethod
    def from_theta(cls, theta: np.ndarray, k: int) -> Lifecycle:
        rates = np.exp(theta[: 5 * k]).reshape(5, k)
        logits = np.concatenate([[0.0], theta[5 * k : 6 * k - 1]])
        weight = np.exp(logits - logsumexp(logits))
        named = dict(zip(RATES, rates, strict=True))
        return cls(weight=weight, activity_shape=float(np.exp(theta[-1])), **named)

    def theta(self) -> np.ndarray:
        rates = np.log(np.stack([getattr(self, r) for r in RATES]).reshape(-1))
        logits = np.log(self.weight[1:] / self.weight[0])
        return np.concatenate([rates, logits, [np.log(self.activity_shape)]])

    def generators(self, g: np.ndarray, traits: Traits) -> np.ndarray:
        """``Q - Lambda`` for every (class, activity multiplier, trait draw):
        (K, len(g), len(traits), 3, 3)."""
        shape = (self.k, g.shape[0], traits.n)

        def rate(name: str, mult: np.ndarray | float = 1.0) -> np.ndarray:
            return np.broadcast_to(getattr(self, name)[:, None, None] * mult, shape)

        lam = rate("activity_rate", g[None, :, None])
        lapse = rate("lapse_rate", traits.leave[None, None, :])
        back = rate("return_rate", traits.come[None, None, :])
        come = rate("comeback_rate", traits.come[None, None, :])
        die = rate("dormant_cancel_rate", traits.press[None, None, :])
        m = np.zeros((*shape, 3, 3))
        m[..., 0, 0] = -lapse - lam
        m[..., 0, 1] = lapse
        m[..., 1, 0] = back
        m[..., 1, 1] = -back - die
        m[..., 1, 2] = die
        m[..., 2, 0] = come
        m[..., 2, 2] = -come
        return m


@dataclass(frozen=True)
class Traits:
    """The simulator's per-user hazard multipliers from pain-point traits, as a few
    weighted draws: on lapsing (``leave``), on coming back (``come``) and on cancelling
    (``press``). ``none()`` is the plain model (every multiplier one)."""

    leave: np.ndarray
    come: np.ndarray
    press: np.ndarray
    log_weight: np.ndarray

    @property
    def n(self) -> int:
        return int(self.leave.shape[0])

    @classmethod
    def none(cls) -> Traits:
        one = np.ones(1)
        return cls(one, one, one, np.zeros(1))

    @classmethod
    def from_samples(
        cls, leave: np.ndarray, come: np.ndarray, press: np.ndarray, bins: int
    ) -> Traits:
        """Reduce per-user multipliers to ``bins`` equal-weight draws: users sorted by their
        lapse multiplier, each bin's mean multipliers."""
        parts = np.array_split(np.argsort(leave), bins)
        weight = np.array([p.size for p in parts], dtype=np.float64) / leave.size
        return cls(
            np.array([leave[p].mean() for p in parts]),
            np.array([come[p].mean() for p in parts]),
            np.array([press[p].mean() for p in parts]),
            np.log(weight),
        )


def gamma_nodes(shape: float, n: int = NODES) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``g`` and log weights for E[f(g)], g ~ Gamma(shape, rate=shape)."""
    x, w = roots_genlaguerre(n, shape - 1.0)
    return x / shape, np.log(w) - gammaln(shape)


def expm_batch(m: np.ndarray) -> np.ndarray:
    """``exp(M)`` for a stack of small matrices: scaling and squaring with a degree-16
    Taylor polynomial (the stack at once, in numpy)."""
    norm = np.abs(m).sum(axis=-1).max()
    squarings = max(0, int(np.ceil(np.log2(norm))) + 1) if norm > 0 else 0
    a = m / 2.0**squarings
    out = np.broadcast_to(np.eye(m.shape[-1]), m.shape).copy()
    term = out.copy()
    for i in range(1, 17):
        term = term @ a / i
        out += term
    for _ in range(squarings):
        out = out @ out
    return out


def transition_table(m: np.ndarray, days: int) -> np.ndarray:
    """``exp(M t)`` from ACTIVE for t = 0..days: rows (..., days + 1, 3)."""
    step = expm_batch(m)
    out = np.empty((*m.shape[:-2], days + 1, 3))
    row = np.zeros((*m.shape[:-2], 3))
    row[..., 0] = 1.0
    for t in range(days + 1):
        out[..., t, :] = row
        row = np.einsum("...i,...ij->...j", row, step)
    return out


@dataclass(frozen=True)
class Profiles:
    """The customers as distinct likelihood profiles: customers with the same waiting
    times and trailing gap have the same likelihood (most one-time buyers share one per
    birth day), so each profile is computed once and weighted by its count."""

    gap_counts: sparse.csr_matrix  # (m, horizon + 1) gaps of each length per profile
    x: np.ndarray  # repeat activity days per profile
    trailing: np.ndarray  # int64 days from the last activity to the cut
    count: np.ndarray  # customers per profile
    index: np.ndarray  # (n,) profile of each customer
    horizon: int

    @classmethod
    def from_customers(cls, data: Customers) -> Profiles:
        gaps, _ = data.gaps()
        gaps = gaps.astype(np.int64)
        trailing = (data.T - data.t_x).astype(np.int64)
        keys: dict[tuple[int, ...], int] = {}
        index = np.empty(data.n, dtype=np.int64)
        for i in range(data.n):
            key = (int(trailing[i]), *sorted(gaps[data.starts[i] : data.starts[i + 1]]))
            index[i] = keys.setdefault(key, len(keys))
        first = np.unique(index, return_index=True)[1]
        x = data.x[first]
        owner = np.repeat(np.arange(first.size), x)
        cols = np.concatenate([gaps[data.starts[i] : data.starts[i + 1]] for i in first])
        horizon = int(data.T.max())
        counts = sparse.csr_matrix(
            (np.ones(cols.size), (owner, cols)), shape=(first.size, horizon + 1)
        )
        return cls(counts, x, trailing[first], np.bincount(index), index, horizon)


@dataclass(frozen=True)
class Terms:
    """Per profile and component (class x activity node x trait draw): the log-likelihood
    of the activity seen, and the probability of each state at the cut (unnormalised)."""

    log_prior: np.ndarray  # (C,)
    log_lik: np.ndarray  # (m, C)
    table: np.ndarray  # (C, horizon + 1, 3) exp(M t) from ACTIVE
    cls: np.ndarray  # (C,) class of each component


def terms(model: Lifecycle, prof: Profiles, traits: Traits | None = None) -> Terms:
    traits = Traits.none() if traits is None else traits
    g, log_w = gamma_nodes(model.activity_shape)
    k, n_nodes, n_tr = model.k, g.shape[0], traits.n
    n_comp = k * n_nodes * n_tr
    gens = model.generators(g, traits).reshape(n_comp, 3, 3)
    table = transition_table(gens, prof.horizon)
    gg = np.broadcast_to(g[None, :, None], (k, n_nodes, n_tr)).reshape(-1)
    log_lam = np.log(np.repeat(model.activity_rate, n_nodes * n_tr) * gg)
    log_aa = np.log(np.maximum(table[:, :, 0], 1e-300)).T  # (horizon + 1, C)
    log_stay = np.log(np.maximum(table.sum(axis=2), 1e-300)).T
    log_lik = prof.gap_counts @ log_aa + prof.x[:, None] * log_lam[None, :]
    log_lik += log_stay[prof.trailing]
    log_prior = (
        np.log(model.weight)[:, None, None] + log_w[None, :, None] + traits.log_weight[None, None]
    ).reshape(-1)
    return Terms(log_prior, log_lik, table, np.repeat(np.arange(k), n_nodes * n_tr))


def log_likelihood(
    model: Lifecycle, data: Customers | Profiles, traits: Traits | None = None
) -> np.ndarray:
    """Each customer's marginal log-likelihood."""
    prof = data if isinstance(data, Profiles) else Profiles.from_customers(data)
    t = terms(model, prof, traits)
    return logsumexp(t.log_lik + t.log_prior[None, :], axis=1)[prof.index]


def posterior(
    model: Lifecycle, data: Customers | Profiles, traits: Traits | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per customer: P(class | data) (n, K) and P(state at the cut | data) (n, 3)."""
    prof = data if isinstance(data, Profiles) else Profiles.from_customers(data)
    t = terms(model, prof, traits)
    joint = t.log_lik + t.log_prior[None, :]
    post = np.exp(joint - logsumexp(joint, axis=1, keepdims=True))
    cls = np.stack([post[:, t.cls == c].sum(axis=1) for c in range(model.k)], axis=1)
    end = np.transpose(t.table[:, prof.trailing, :], (1, 0, 2))  # (m, C, 3)
    state = np.einsum("nc,ncs->ns", post, end / end.sum(axis=2, keepdims=True))
    return cls[prof.index], state[prof.index]


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

    def table(self) -> list[dict[str, float | str]]:
        """Every parameter with its standard error and 95% interval (rates per day)."""
        k = self.model.k
        theta, cov = self.fit.theta, self.fit.cov
        value, se, ci = log_interval(theta[: 5 * k], cov[: 5 * k, : 5 * k])
        rows: list[dict[str, float | str]] = []
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


def _row(name: str, value: float, se: float, lo: float, hi: float) -> dict[str, float | str]:
    return {
        "parameter": name,
        "estimate": float(value),
        "se": float(se),
        "ci_low": float(lo),
        "ci_high": float(hi),
    }


def weight_intervals(fit: LifecycleFit, draws: int = 4000) -> np.ndarray:
    """95% intervals of the class weights by simulation from the logits' normal law."""
    k = fit.model.k
    if k == 1:
        return np.array([[1.0, 1.0]])
    theta, cov = fit.fit.theta, fit.fit.cov
    idx = np.arange(5 * k, 6 * k - 1)
    sub = cov[np.ix_(idx, idx)]
    if not np.all(np.isfinite(sub)):
        return np.full((k, 2), np.nan)
    rng = np.random.default_rng(0)
    logits = rng.multivariate_normal(theta[idx], sub, size=draws)
    full = np.concatenate([np.zeros((draws, 1)), logits], axis=1)
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
    """Fits with 1, 2, ..., ``k`` classes, each started from the previous one split."""
    fits = [fit_lifecycle(data, 1, traits)]
    for n in range(2, k + 1):
        fits.append(fit_lifecycle(data, n, traits, split(fits[-1].model)))
    return fits


def fit_lifecycle(
    data: Customers, k: int = 1, traits: Traits | None = None, start: Lifecycle | None = None
) -> LifecycleFit:
    """Maximum-likelihood fit with ``k`` latent classes (and the simulator's trait
    multipliers integrated out when ``traits`` is given), from ``start`` if given."""
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 5:
        raise ValueError(f"classes: {k!r}; allowed: an integer from 1 to 5")

    prof = Profiles.from_customers(data)

    def neg(theta: np.ndarray) -> float:
        t = terms(Lifecycle.from_theta(theta, k), prof, traits)
        joint = t.log_lik + t.log_prior[None, :]
        top = joint.max(axis=1, keepdims=True)
        per_profile = np.log(np.exp(joint - top).sum(axis=1)) + top[:, 0]
        return -float(per_profile @ prof.count)

    box = (np.log(MIN_RATE), np.log(MAX_RATE))
    bounds = [box] * (5 * k) + [(-8.0, 8.0)] * (k - 1) + [(np.log(0.02), np.log(50.0))]
    theta0 = (start if start is not None else start_values(data, k)).theta()
    fit = maximise(neg, np.clip(theta0, [b[0] for b in bounds], [b[1] for b in bounds]), bounds)
    return LifecycleFit(Lifecycle.from_theta(fit.theta, k), fit, data.n)
