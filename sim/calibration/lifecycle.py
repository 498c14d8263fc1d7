"""The simulator's own lifecycle model, fitted to an event log by maximum likelihood.

Each customer belongs to one of ``K`` latent classes (the scenario's segments). In class k
a customer moves between the simulator's states as a continuous-time Markov chain::

    ACTIVE  -> DORMANT  lapse_rate            DORMANT -> ACTIVE   return_rate
    DORMANT -> CHURNED  dormant_cancel_rate   CHURNED -> ACTIVE   comeback_rate

and is active (buys, visits) at ``activity_rate x g`` per day while ACTIVE, where the
customer's multiplier ``g ~ Gamma(shape, shape)`` (mean one) is the simulator's
``activity_mult``; dormant and churned customers are silent. A customer is ACTIVE at their
first activity. Given the class and ``g`` this is a Markov-modulated Poisson process.

The log is day-resolved (several purchases on one day are one activity day), so the
likelihood is that of the daily record, exactly: per day the chain moves by
``E = exp(Q)``, and ``N = exp((Q - Lambda))`` is the part of it with no activity that day,
``S = E - N`` the part with some. The first day (the first activity) is not observed beyond
itself, so a customer with activity-day gaps ``d_1, ..., d_x`` and ``t`` silent days before
the cut has::

    L = e_A E (N^(d_1 - 1) S) ... (N^(d_x - 1) S) N^t 1

evaluated forward for all customers at once. ``g`` is integrated out by generalised
Gauss-Laguerre quadrature, the trait multipliers by their draws and the class by its
weight.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import sparse
from scipy.special import gammaln, logsumexp, roots_genlaguerre

from sim.calibration.customers import Customers
from sim.calibration.mle import Fit, log_interval, maximise, opg_covariance

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


@dataclass(frozen=True)
class DayTables:
    """Per component: ``E`` (one day), ``G[d] = N^(d-1) S`` (a gap of d days ending in an
    activity day) and ``R[t] = N^t`` (t silent days), for d, t up to ``horizon``; days
    first, so a gather by day is one contiguous take."""

    first: np.ndarray  # (C, 3)  e_A E: the state distribution after the first day
    gap: np.ndarray  # (horizon + 1, C, 3, 3); gap[0] unused
    silent: np.ndarray  # (horizon + 1, C, 3, 3)

    @property
    def stay(self) -> np.ndarray:
        """``N^t 1``: (horizon + 1, C, 3), the chance of t silent days from each state."""
        return self.silent.sum(axis=3)


def day_matrices(q: np.ndarray, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One day's ``N`` (no activity), ``S`` (some activity) and ``E = N + S``, for
    generators ``q`` (C, 3, 3) and activity rates ``lam`` (C,) while ACTIVE."""
    c = q.shape[0]
    sub = q.copy()
    sub[:, 0, 0] -= lam
    # exp([[Q - L, L], [0, Q]]) holds N, S (the first activity, then anything: no
    # cancellation error, unlike E - N) and E
    block = np.zeros((c, 6, 6))
    block[:, :3, :3] = sub
    block[:, 0, 3] = lam
    block[:, 3:, 3:] = q
    big = expm_batch(block)
    return big[:, :3, :3], big[:, :3, 3:], big[:, 3:, 3:]


def powers_applied(start: np.ndarray, n: np.ndarray, horizon: int) -> np.ndarray:
    """``start @ N^t`` for t = 0..horizon: (horizon + 1, C, ...) by doubling (a handful of
    batched products instead of one per day). ``start``: (C, 3) rows or (C, 3, 3)."""
    out = np.empty((horizon + 1, *start.shape))
    out[0] = start
    power, filled = n, 1
    rows = start.ndim == 2
    while filled <= horizon:
        take = min(filled, horizon + 1 - filled)
        block = out[:take]
        out[filled : filled + take] = (
            np.einsum("tci,cij->tcj", block, power) if rows else block @ power[None]
        )
        power = power @ power
        filled += take
    return out


def day_tables(q: np.ndarray, lam: np.ndarray, horizon: int) -> DayTables:
    """The full tables of :class:`DayTables` (for the exact recursion)."""
    n, s, e = day_matrices(q, lam)
    silent = powers_applied(np.broadcast_to(np.eye(3), q.shape).copy(), n, horizon)
    gap = np.empty_like(silent)
    gap[1:] = silent[:-1] @ s[None]
    gap[0] = 0.0
    return DayTables(e[:, 0, :], gap, silent)


@dataclass(frozen=True)
class Profiles:
    """The customers as distinct likelihood profiles: customers with the same gaps (in
    order) and silent tail have the same likelihood (most one-time buyers share one per
    birth day), so each profile is computed once and weighted by its count. Profiles are
    sorted by their number of gaps, most first, so the k-th gap of every profile that has
    one is a leading slice."""

    gaps: np.ndarray  # (m, max_x) int64, padded with 0
    gap_counts: sparse.csr_matrix  # (m, horizon + 1) how many gaps of each length
    x: np.ndarray  # gaps per profile (non-increasing)
    trailing: np.ndarray  # int64 silent days from the last activity day to the cut
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
            key = (int(trailing[i]), *gaps[data.starts[i] : data.starts[i + 1]].tolist())
            index[i] = keys.setdefault(key, len(keys))
        first = np.unique(index, return_index=True)[1]
        order = np.argsort(-data.x[first], kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        first = first[order]
        x = data.x[first]
        table = np.zeros((first.size, int(x.max()) if x.size and x.max() > 0 else 0), np.int64)
        for row, i in enumerate(first):
            table[row, : x[row]] = gaps[data.starts[i] : data.starts[i + 1]]
        horizon = int(data.T.max())
        rows = np.repeat(np.arange(first.size), x)
        cols = table[table > 0]  # row by row, in order: gaps are >= 1
        counts = sparse.csr_matrix(
            (np.ones(cols.size), (rows, cols)), shape=(first.size, horizon + 1)
        )
        return cls(
            table, counts, x, trailing[first], np.bincount(rank[index]), rank[index], horizon
        )


@dataclass(frozen=True)
class Terms:
    """Per profile and component (class x activity node x trait draw): the log-likelihood
    of the record, and (when asked for) the state distribution at the cut given it."""

    log_prior: np.ndarray  # (C,)
    log_lik: np.ndarray  # (m, C)
    end_state: np.ndarray | None  # (m, C, 3)
    cls: np.ndarray  # (C,) class of each component


def components(
    model: Lifecycle, traits: Traits | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The mixture's components (class x activity node x trait draw, in that order):
    generators ``Q`` (C, 3, 3), activity rates while ACTIVE, log weights and classes."""
    traits = Traits.none() if traits is None else traits
    g, log_w = gamma_nodes(model.activity_shape)
    k, n_nodes, n_tr = model.k, g.shape[0], traits.n
    q = model.generators(np.zeros_like(g), traits).reshape(k * n_nodes * n_tr, 3, 3)
    gg = np.broadcast_to(g[None, :, None], (k, n_nodes, n_tr)).reshape(-1)
    lam = np.repeat(model.activity_rate, n_nodes * n_tr) * gg
    log_prior = (
        np.log(model.weight)[:, None, None] + log_w[None, :, None] + traits.log_weight[None, None]
    ).reshape(-1)
    return q, lam, log_prior, np.repeat(np.arange(k), n_nodes * n_tr)


def terms(
    model: Lifecycle, prof: Profiles, traits: Traits | None = None, exact: bool = False
) -> Terms:
    """The likelihood terms. ``exact`` runs the daily forward recursion and gives the
    state at the cut; otherwise each activity day is taken to end in ACTIVE (a renewal:
    the chance it does not is about one day's lapse hazard), which turns the recursion
    into one sparse product, fast enough for the optimiser."""
    q, lam, log_prior, cls = components(model, traits)
    n_comp = q.shape[0]
    if not exact:
        n, s, _ = day_matrices(q, lam)
        e_a = np.zeros((n_comp, 3))
        e_a[:, 0] = 1.0
        rows = powers_applied(e_a, n, prof.horizon)  # e_A N^t: (H + 1, C, 3)
        from_a = np.empty((prof.horizon + 1, n_comp))  # log e_A N^(d-1) S 1
        from_a[0] = 0.0
        from_a[1:] = np.log(np.maximum(np.einsum("tci,ci->tc", rows[:-1], s.sum(2)), 1e-300))
        stay_a = np.log(np.maximum(rows.sum(axis=2), 1e-300))
        log_lik = prof.gap_counts @ from_a + stay_a[prof.trailing]
        return Terms(log_prior, log_lik, None, cls)
    tab = day_tables(q, lam, prof.horizon)
    v = np.broadcast_to(tab.first, (prof.x.size, n_comp, 3)).copy()
    log_scale = np.zeros((prof.x.size, n_comp))
    for j in range(prof.gaps.shape[1]):
        m = int((prof.x > j).sum())  # profiles with more than j gaps: the first m
        step = tab.gap[prof.gaps[:m, j]]  # (m, C, 3, 3)
        v[:m] = np.einsum("mci,mcij->mcj", v[:m], step)
        total = np.maximum(v[:m].sum(axis=2), 1e-300)  # 0 only by underflow: L ~ 0
        v[:m] /= total[..., None]
        log_scale[:m] += np.log(total)
    stay = np.einsum("mci,mci->mc", v, tab.stay[prof.trailing])
    log_lik = log_scale + np.log(np.maximum(stay, 1e-300))
    end = np.einsum("mci,mcij->mcj", v, tab.silent[prof.trailing])
    end_state = end / np.maximum(stay, 1e-300)[..., None]
    return Terms(log_prior, log_lik, end_state, cls)


def log_likelihood(
    model: Lifecycle,
    data: Customers | Profiles,
    traits: Traits | None = None,
    exact: bool = False,
) -> np.ndarray:
    """Each customer's marginal log-likelihood (``exact``: see :func:`terms`)."""
    prof = data if isinstance(data, Profiles) else Profiles.from_customers(data)
    t = terms(model, prof, traits, exact)
    return logsumexp(t.log_lik + t.log_prior[None, :], axis=1)[prof.index]


def posterior(
    model: Lifecycle, data: Customers | Profiles, traits: Traits | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per customer: P(class | data) (n, K) and P(state at the cut | data) (n, 3)."""
    prof = data if isinstance(data, Profiles) else Profiles.from_customers(data)
    t = terms(model, prof, traits, exact=True)
    if t.end_state is None:  # pragma: no cover - exact terms always carry the states
        raise RuntimeError("exact terms without end states")
    joint = t.log_lik + t.log_prior[None, :]
    post = np.exp(joint - logsumexp(joint, axis=1, keepdims=True))
    cls = np.stack([post[:, t.cls == c].sum(axis=1) for c in range(model.k)], axis=1)
    state = np.einsum("nc,ncs->ns", post, t.end_state)
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


def activity_probability(
    model: Lifecycle, data: Customers, traits: Traits | None, window: int
) -> np.ndarray:
    """Per customer: the chance of at least one activity day in the ``window`` days after
    the cut, given their record (no offers: the fitted baseline)."""
    prof = Profiles.from_customers(data)
    t = terms(model, prof, traits, exact=True)
    if t.end_state is None:  # exact terms always carry the end states
        raise RuntimeError("exact likelihood terms lack end states")
    joint = t.log_lik + t.log_prior[None, :]
    post = np.exp(joint - logsumexp(joint, axis=1, keepdims=True))
    q, lam, _, _ = components(model, traits)
    n, _, _ = day_matrices(q, lam)
    silent = np.linalg.matrix_power(n, window).sum(axis=2)  # (C, 3) no activity for W days
    quiet = np.einsum("mc,mcs,cs->m", post, t.end_state, silent)
    return (1.0 - quiet)[prof.index]
