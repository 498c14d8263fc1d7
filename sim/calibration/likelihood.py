"""The numerics of the lifecycle likelihood (see :mod:`sim.calibration.lifecycle`): one
day's transition matrices, their powers, customers collapsed into likelihood profiles, the
fast (renewal) and exact (daily forward recursion) log-likelihoods, posteriors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.special import gammaln, logsumexp, roots_genlaguerre

from sim.calibration.customers import Customers
from sim.calibration.lifecycle import Lifecycle, Traits
from sim.constants import ACTIVE, N_STATES

NODES = 12  # quadrature nodes for the gamma activity multiplier


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
    sub[:, ACTIVE, ACTIVE] -= lam
    # exp([[Q - L, L], [0, Q]]) holds N, S (the first activity, then anything: no
    # cancellation error, unlike E - N) and E
    k = N_STATES
    block = np.zeros((c, 2 * k, 2 * k))
    block[:, :k, :k] = sub
    block[:, ACTIVE, k + ACTIVE] = lam
    block[:, k:, k:] = q
    big = expm_batch(block)
    return big[:, :k, :k], big[:, :k, k:], big[:, k:, k:]


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
    silent = powers_applied(np.broadcast_to(np.eye(N_STATES), q.shape).copy(), n, horizon)
    gap = np.empty_like(silent)
    gap[1:] = silent[:-1] @ s[None]
    gap[0] = 0.0
    return DayTables(e[:, ACTIVE, :], gap, silent)


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
    q = model.generators(np.zeros_like(g), traits).reshape(k * n_nodes * n_tr, N_STATES, N_STATES)
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
        e_a = np.zeros((n_comp, N_STATES))
        e_a[:, ACTIVE] = 1.0
        rows = powers_applied(e_a, n, prof.horizon)  # e_A N^t: (H + 1, C, 3)
        from_a = np.empty((prof.horizon + 1, n_comp))  # log e_A N^(d-1) S 1
        from_a[0] = 0.0
        from_a[1:] = np.log(np.maximum(np.einsum("tci,ci->tc", rows[:-1], s.sum(2)), 1e-300))
        stay_a = np.log(np.maximum(rows.sum(axis=2), 1e-300))
        log_lik = prof.gap_counts @ from_a + stay_a[prof.trailing]
        return Terms(log_prior, log_lik, None, cls)
    tab = day_tables(q, lam, prof.horizon)
    v = np.broadcast_to(tab.first, (prof.x.size, n_comp, N_STATES)).copy()
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


def component_states(
    model: Lifecycle, prof: Profiles, traits: Traits | None
) -> tuple[np.ndarray, np.ndarray]:
    """Per profile: the joint P(component, state at the cut | data), (m, C, 3), and each
    component's class (exact terms)."""
    t = terms(model, prof, traits, exact=True)
    if t.end_state is None:  # exact terms always carry the end states
        raise RuntimeError("exact likelihood terms lack end states")
    joint = t.log_lik + t.log_prior[None, :]
    post = np.exp(joint - logsumexp(joint, axis=1, keepdims=True))
    return post[:, :, None] * t.end_state, t.cls


def posterior(
    model: Lifecycle, data: Customers | Profiles, traits: Traits | None = None
) -> np.ndarray:
    """Per customer: the joint P(class, state at the cut | data), (n, K, 3). Its sums over
    states and over classes are the class and state posteriors."""
    prof = data if isinstance(data, Profiles) else Profiles.from_customers(data)
    by_state, cls = component_states(model, prof, traits)
    out = np.stack([by_state[:, cls == c].sum(axis=1) for c in range(model.k)], axis=1)
    return out[prof.index]


def activity_probability(
    model: Lifecycle, data: Customers, traits: Traits | None, window: int
) -> np.ndarray:
    """Per customer: the chance of at least one activity day in the ``window`` days after
    the cut, given their record (no offers: the fitted baseline)."""
    prof = Profiles.from_customers(data)
    by_state, _ = component_states(model, prof, traits)
    q, lam, _, _ = components(model, traits)
    n, _, _ = day_matrices(q, lam)
    silent = np.linalg.matrix_power(n, window).sum(axis=2)  # (C, 3) no activity for W days
    quiet = np.einsum("mcs,cs->m", by_state, silent)
    return (1.0 - quiet)[prof.index]
