"""The simulator's subscription lifecycle, fitted to a subscription log by maximum likelihood.

Each customer belongs to one of ``K`` latent classes. In class k a subscriber moves between
ACTIVE and DORMANT (both paying) and decides to cancel, as the simulator does::

    ACTIVE  -> DORMANT  lapse_rate             DORMANT -> ACTIVE  return_rate
    ACTIVE  -> cancel   cancel_rate            DORMANT -> cancel  dormant_cancel_rate
    CHURNED -> ACTIVE   comeback_rate (a resubscription)

with sessions at ``activity_rate x g`` per day while ACTIVE and ``dormant_activity_rate x g``
while DORMANT (``g ~ Gamma(shape, shape)``, the simulator's ``activity_mult``). A decision to
cancel takes effect at the end of the billing period (a plan's ``billing``); the log shows
when. Cancellations and resubscriptions are observed exactly; ACTIVE and DORMANT only through
sessions. The base scenario's trait multipliers (on lapsing, coming back and cancelling) are
integrated out by their draws, ``g`` by Gauss-Laguerre quadrature, the class by its weight.

A log without sessions cannot tell ACTIVE from DORMANT: they are hidden phases of tenure,
the session rates are not fitted, and of the phase rates (lapse, return, dormant cancel) the
spells' lengths pin down only combinations (``PHASES``: reported as not identified).

The likelihood of each spell is assembled from :mod:`sim.calibration.histories`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np
from numba import njit, prange
from scipy import stats
from scipy.special import logsumexp

from sim.calibration.fit import _row, logit_intervals  # one table format for every fit
from sim.calibration.histories import (
    END,
    GAP_K,
    GAP_X,
    SESSION_K,
    SESSION_X,
    SILENT_K,
    SILENT_X,
    SPECIAL,
    UNSEEN_K,
    UNSEEN_X,
    Histories,
)
from sim.calibration.lifecycle import Traits
from sim.calibration.likelihood import expm_batch, gamma_nodes
from sim.calibration.mle import Fit, log_interval, maximise, opg_covariance
from sim.calibration.to_scenario import ALIKE

RATES = (
    "activity_rate",
    "dormant_activity_rate",
    "lapse_rate",
    "return_rate",
    "cancel_rate",
    "dormant_cancel_rate",
    "comeback_rate",
)
HIDDEN = ("activity_rate", "dormant_activity_rate")  # what a log without sessions cannot tell
# and the hidden phases' rates it fits but cannot tell apart: given the leave multiplier, a
# spell's length has the two-phase law whose Laplace transform is
# (c s + c(b + d) + a d) / (s^2 + (a + b + c + d) s + a d + c(b + d)) (a lapse, b return,
# c cancel, d dormant cancel), which fixes c, a + b + d and a d + c(b + d) only: a and b and
# d slide along a ridge (the multiplier, which scales a, c and d, tilts it only weakly)
PHASES = ("lapse_rate", "return_rate", "dormant_cancel_rate")
NODES = 8  # quadrature nodes for the activity multiplier
FRAILTY_NODES = (12, 6)  # and for the leave multiplier: without sessions, with them
MIN_SHAPE, MAX_SHAPE = 0.05, 100.0  # the leave multiplier's gamma shape: search box (quadrature
# nodes overflow above about 170)

MIN_RATE, MAX_RATE = 1e-7, 5.0  # per day: the search box of every rate
TINY = 1e-300
A, D = 0, 1


@dataclass(frozen=True)
class Subscribers:
    """Fitted parameters: per class (arrays of length K) and the shared activity shape."""

    weight: np.ndarray
    activity_rate: np.ndarray
    dormant_activity_rate: np.ndarray
    lapse_rate: np.ndarray
    return_rate: np.ndarray
    cancel_rate: np.ndarray
    dormant_cancel_rate: np.ndarray
    comeback_rate: np.ndarray
    heterogeneity: np.ndarray  # gamma shape of the leave multiplier (lapse and cancel)
    activity_shape: float
    sessions: bool  # fitted with sessions (else the HIDDEN rates are 0 and not fitted)
    returns: bool  # fitted with resubscriptions (else comeback_rate is 0 and not fitted)

    @property
    def k(self) -> int:
        return int(self.weight.shape[0])

    @property
    def free(self) -> tuple[str, ...]:
        return free_rates(self.sessions, self.returns)

    @classmethod
    def from_theta(cls, theta: np.ndarray, k: int, sessions: bool, returns: bool) -> Subscribers:
        free = free_rates(sessions, returns)
        n = len(free) * k
        rates = {r: np.zeros(k) for r in RATES}  # a rate the log cannot tell acts as 0
        rates |= dict(zip(free, np.exp(theta[:n]).reshape(len(free), k), strict=True))
        logits = np.concatenate([[0.0], theta[n : n + k - 1]])
        frailty = np.exp(theta[n + k - 1 : n + 2 * k - 1])
        shape = float(np.exp(theta[-1])) if sessions else 1.0
        weight = np.exp(logits - logsumexp(logits))
        return cls(
            weight=weight,
            heterogeneity=frailty,
            activity_shape=shape,
            sessions=sessions,
            returns=returns,
            **rates,
        )

    def theta(self) -> np.ndarray:
        rates = np.log(np.stack([getattr(self, r) for r in self.free]).reshape(-1))
        logits = np.log(self.weight[1:] / self.weight[0])
        tail = [np.log(self.activity_shape)] if self.sessions else []
        return np.concatenate([rates, logits, np.log(self.heterogeneity), tail])


def free_rates(sessions: bool, returns: bool) -> tuple[str, ...]:
    """The rates a log identifies: session rates only with sessions (without them ACTIVE
    and DORMANT are hidden phases of tenure), the comeback rate only with resubscriptions."""
    return tuple(
        r for r in RATES if (sessions or r not in HIDDEN) and (returns or r != "comeback_rate")
    )


@dataclass(frozen=True)
class Tables:
    """Per component: the generators whose exponentials are one day's matrices in both
    regimes (K: a decision to cancel kills; P: it does not), ``E`` without and ``N`` with
    "no session that day", their eigenvalues, and ``S 1`` (a session day) per regime.
    ``power`` gives ``exp(t G)`` for any t in closed form (2 x 2 generators)."""

    gen: dict[str, np.ndarray]  # "EK", "EP", "NK", "NP": (C, 2, 2)
    eig: dict[str, tuple[np.ndarray, np.ndarray]]  # the larger and smaller eigenvalue, (C,)
    step: dict[str, np.ndarray]  # "K", "P": (C, 2, 2) S, one day with a session
    log_prior: np.ndarray  # (C,)
    cls: np.ndarray  # (C,)
    come: np.ndarray  # (C,) comeback rate

    def power(self, kind: str, t: np.ndarray) -> np.ndarray:
        """``exp(t G)`` for each t and component, (len(t), C, 2, 2): with eigenvalues
        hi >= lo, exp(tG) = f0 I + f1 G, f1 = (e^(hi t) - e^(lo t)) / (hi - lo), f0 =
        e^(lo t) - lo f1 (the divided difference taken stably as hi -> lo)."""
        g = self.gen[kind]
        hi, lo = self.eig[kind]
        tt = np.asarray(t, dtype=np.float64)[:, None]
        d = (hi - lo)[None, :]
        x = d * tt
        e_lo = np.exp(lo[None, :] * tt)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            near = tt * np.where(x > 0, np.expm1(np.minimum(x, 1.0)) / x, 1.0) * e_lo
            far = (np.exp(hi[None, :] * tt) - e_lo) / d
        f1 = np.where(x <= 1.0, near, far)
        f0 = e_lo - lo[None, :] * f1
        out = f1[..., None, None] * g[None]
        out[..., 0, 0] += f0
        out[..., 1, 1] += f0
        return out


def _eigen(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (larger, smaller) of 2 x 2 generators with non-negative off-diagonals
    (real); the larger as det / smaller, without cancellation near zero."""
    a, b, c, d = g[:, 0, 0], g[:, 0, 1], g[:, 1, 0], g[:, 1, 1]
    root = np.sqrt((a - d) ** 2 + 4.0 * b * c)
    lo = 0.5 * (a + d - root)
    det = a * d - b * c
    hi = np.where(lo < 0, det / np.where(lo < 0, lo, -1.0), 0.5 * (a + d + root))
    return np.maximum(hi, lo), lo


def components(model: Subscribers, traits: Traits) -> dict[str, np.ndarray]:
    """Per component (class x leave-multiplier node x activity node x trait draw): the
    generator without and with the cancellation decision, session rates per state, prior
    weight, class, comeback rate. The leave multiplier ``m ~ Gamma(h, h)`` (the
    simulator's ``lapse_mult``, shape ``heterogeneity``) scales lapsing and cancelling."""
    if model.sessions:
        g, log_g = gamma_nodes(model.activity_shape, NODES)
    else:
        g, log_g = np.ones(1), np.zeros(1)
    parts = [_class_components(model, c, g, log_g, traits) for c in range(model.k)]
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def quantile_nodes(shape: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and log weights for E[f(m)], m ~ Gamma(shape, rate=shape): the midpoints of n
    equal-probability slices. Unlike Gauss-Laguerre, accurate for
    survival E[exp(-m c)] at small shapes and large c (shape 0.14, c = 100: 0.3985 for the
    exact 0.3984 with 12 nodes; Gauss-Laguerre gives 0.0001)."""
    m = stats.gamma.ppf((np.arange(n) + 0.5) / n, shape, scale=1.0 / shape)
    return m, np.full(n, -np.log(n))


def _class_components(
    model: Subscribers, c: int, g: np.ndarray, log_g: np.ndarray, traits: Traits
) -> dict[str, np.ndarray]:
    h = float(model.heterogeneity[c])
    nodes = FRAILTY_NODES[int(model.sessions)]
    m, log_m = (np.ones(1), np.zeros(1)) if h >= ALIKE else quantile_nodes(h, nodes)
    shape = (m.size, g.size, traits.n)

    def grid(mult: np.ndarray) -> np.ndarray:
        return np.broadcast_to(mult, shape).reshape(-1)

    leave = grid(m[:, None, None] * traits.leave[None, None, :])
    press = grid(m[:, None, None] * traits.press[None, None, :])
    come = grid(traits.come[None, None, :])
    act = grid(g[None, :, None])
    lapse = model.lapse_rate[c] * leave
    back = model.return_rate[c] * come
    q = np.zeros((lapse.size, 2, 2))
    q[:, A, A], q[:, A, D], q[:, D, A], q[:, D, D] = -lapse, lapse, back, -back
    killed = q.copy()
    killed[:, A, A] -= model.cancel_rate[c] * press
    killed[:, D, D] -= model.dormant_cancel_rate[c] * press
    lam = np.stack([model.activity_rate[c] * act, model.dormant_activity_rate[c] * act], axis=1)
    prior = np.log(model.weight[c]) + log_m[:, None, None] + log_g[None, :, None]
    return {
        "P": q,
        "K": killed,
        "lam": lam,
        "log_prior": grid(prior + traits.log_weight[None, None, :]),
        "cls": np.full(lapse.size, c),
        "come": model.comeback_rate[c] * come,
    }


def day_matrices(q: np.ndarray, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One day's ``N`` (no session) and ``S`` (some session) for generators ``q`` (C, 2, 2)
    and session rates per state ``lam`` (C, 2), from the exponential of the block generator
    ``[[Q - L, L], [0, Q]]`` (no cancellation error in ``S``)."""
    c = q.shape[0]
    block = np.zeros((c, 4, 4))
    block[:, :2, :2] = q
    block[:, :2, 2:] = 0.0
    idx = np.arange(2)
    block[:, idx, idx] -= lam
    block[:, idx, 2 + idx] = lam
    block[:, 2:, 2:] = q
    big = expm_batch(block)
    return big[:, :2, :2], big[:, :2, 2:]


def tables(model: Subscribers, traits: Traits) -> Tables:
    comp = components(model, traits)
    gen, step = {}, {}
    for regime in ("K", "P"):
        q = comp[regime]
        gen[f"E{regime}"] = q
        silent = q.copy()
        silent[:, A, A] -= comp["lam"][:, A]
        silent[:, D, D] -= comp["lam"][:, D]
        gen[f"N{regime}"] = silent
        _, step[regime] = day_matrices(q, comp["lam"])
    eig = {kind: _eigen(g) for kind, g in gen.items()}
    return Tables(gen, eig, step, comp["log_prior"], comp["cls"], comp["come"])


GEN_KINDS = ("EK", "EP", "NK", "NP")  # the generators' order in the kernel's arrays


def gap_matrices(tab: Tables, regime: str, lengths: np.ndarray) -> np.ndarray:
    """``N^(d-1) S`` for each gap length d: (len, C, 2, 2)."""
    return tab.power(f"N{regime}", lengths - 1) @ tab.step[regime][None]


def spell_terms(tab: Tables, h: Histories) -> np.ndarray:
    """Every spell's log-likelihood per component (n_spells, C)."""
    n_comp = tab.log_prior.size
    empty = np.zeros((0, n_comp, 2, 2))

    def gaps(regime: str, lengths: np.ndarray) -> np.ndarray:
        return _lanes(gap_matrices(tab, regime, lengths) if lengths.size else empty)

    log_p, log_k = forward(
        h.spell_ptr,
        h.order_kind,
        h.order_ref,
        gaps("K", h.lengths_k),
        gaps("P", h.lengths_x),
        gaps("K", h.lengths_x),
        h.seg_runs,
        h.seg_end,
        _lanes(np.stack([tab.gen[k] for k in GEN_KINDS])),
        np.stack([np.stack(tab.eig[k]) for k in GEN_KINDS]),
        _lanes(np.stack([tab.step["K"], tab.step["P"]])),
    )
    floor = np.log(TINY)  # a component that cannot have written the spell
    out = np.maximum(log_p, floor)
    c = h.cancelled
    lp, lk = log_p[c], np.maximum(log_k[c], -1e300)
    ok = np.isfinite(lp)
    gap = np.where(ok, np.minimum(lk - np.where(ok, lp, 0.0), -1e-15), -1.0)  # decided after tau
    out[c] = np.where(ok, lp + np.log(-np.expm1(gap)), floor)
    if h.left_spell.size:
        kept = _survival(tab, h.left_days)
        out[h.left_spell] = np.log(np.maximum(-np.expm1(kept), TINY))
    if h.trunc_spell.size:
        out[h.trunc_spell] -= _survival(tab, h.trunc_days)
    return out


def _lanes(m: np.ndarray) -> np.ndarray:
    """(..., C, 2, 2) matrices as (..., 2, 2, C): the components side by side, as the
    kernel walks them."""
    return np.ascontiguousarray(np.moveaxis(m, -3, -1))


@njit(cache=True, parallel=True, error_model="numpy")
def forward(
    ptr: np.ndarray,
    kind: np.ndarray,
    ref: np.ndarray,
    gap_k: np.ndarray,
    gap_xp: np.ndarray,
    gap_xk: np.ndarray,
    runs: np.ndarray,
    ends: np.ndarray,
    gen: np.ndarray,
    eig: np.ndarray,
    step: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """log e_A M_1 M_2 ... 1 for every spell and component, with regime X as P and as K
    (the forward recursion over all components at once, rescaled when the row falls under
    ``RESCALE``). Segments before the spell's first one touching regime X are the same in
    both and are run once. A special segment is applied run by run: ``exp(t G) = f0 I + f1
    G`` (``gen``, ``eig``: EK, EP, NK, NP, components last), then its terminal (``step``: a
    session day in K, P)."""
    n, n_comp = ptr.size - 1, gen.shape[-1]
    out_p = np.zeros((n, n_comp))
    out_k = np.zeros((n, n_comp))
    for i in prange(n):
        fork = ptr[i + 1]
        for j in range(ptr[i], ptr[i + 1]):
            if kind[j] == GAP_X or (kind[j] == SPECIAL and _touches_x(runs[ref[j]], ends[ref[j]])):
                fork = j
                break
        row = np.zeros((2, n_comp))
        row[0] = 1.0
        scale = np.zeros(n_comp)
        for j in range(ptr[i], fork):  # regime K only
            _segment(
                row, scale, kind[j], ref[j], 1, gap_k, gap_xk, gap_xk, runs, ends, gen, eig, step
            )
        for x in range(2):
            mine, s = row.copy(), scale.copy()
            for j in range(fork, ptr[i + 1]):
                _segment(
                    mine, s, kind[j], ref[j], x, gap_k, gap_xp, gap_xk, runs, ends, gen, eig, step
                )
            out = out_p if x == 0 else out_k
            for c in range(n_comp):
                total = mine[0, c] + mine[1, c]
                out[i, c] = s[c] + np.log(total) if total > 0.0 else -np.inf
    return out_p, out_k


RESCALE = 1e-100  # the forward row is rescaled when its total falls under this
FAST = {"contract", "reassoc", "nsz"}  # fast maths that keeps infinities, NaN and exact division


@njit(cache=True, inline="always")
def _touches_x(runs: np.ndarray, end: int) -> bool:
    if end == SESSION_X:
        return True
    for r in range(runs.shape[0]):
        if runs[r, 1] > 0 and (runs[r, 0] == UNSEEN_X or runs[r, 0] == SILENT_X):
            return True
    return False


@njit(cache=True, fastmath=FAST)
def _segment(row, scale, kind, r, x, gap_k, gap_xp, gap_xk, runs, ends, gen, eig, step):  # type: ignore[no-untyped-def]
    """One segment applied in place to the rows (a, d) of every component, regime X as
    P (x = 0) or K (x = 1)."""
    if kind == GAP_K:
        _times(row, gap_k[r])
    elif kind == GAP_X:
        _times(row, gap_xp[r] if x == 0 else gap_xk[r])
    else:
        for k in range(runs.shape[1]):
            length = runs[r, k, 1]
            if length > 0:
                g = _gen_index(runs[r, k, 0], x)
                _power_times(row, gen[g], eig[g], length)
        if ends[r] == SESSION_K:
            _times(row, step[0])
        elif ends[r] == SESSION_X:
            _times(row, step[1 - x])
    low = np.inf
    for c in range(row.shape[1]):
        low = min(low, row[0, c] + row[1, c])
    if low < RESCALE:
        for c in range(row.shape[1]):
            total = row[0, c] + row[1, c]
            if total > 0.0:
                row[0, c] /= total
                row[1, c] /= total
                scale[c] += np.log(total)


@njit(cache=True, inline="always")
def _gen_index(run_kind: int, x: int) -> int:
    """EK, EP, NK, NP (GEN_KINDS) for a run's kind, regime X as P (x = 0) or K."""
    if run_kind == UNSEEN_K:
        return 0
    if run_kind == SILENT_K:
        return 2
    if run_kind == UNSEEN_X:
        return 1 - x
    return 3 - x


@njit(cache=True, inline="always", fastmath=FAST)
def _times(row: np.ndarray, m: np.ndarray) -> None:
    """row[:, c] <- row[:, c] m[c] for every component."""
    for c in range(row.shape[1]):
        a, d = row[0, c], row[1, c]
        row[0, c] = a * m[0, 0, c] + d * m[1, 0, c]
        row[1, c] = a * m[0, 1, c] + d * m[1, 1, c]


@njit(cache=True, inline="always")
def _power_times(row: np.ndarray, g: np.ndarray, eig: np.ndarray, t: float) -> None:
    """row[:, c] <- row[:, c] exp(t g[c]) for 2 x 2 generators with eigenvalues
    ``eig[:, c] = (hi, lo)``, hi >= lo, as ``Tables.power``."""
    for c in range(row.shape[1]):
        hi, lo = eig[0, c], eig[1, c]
        x = (hi - lo) * t
        e_lo = np.exp(lo * t)
        if x <= 1.0:
            f1 = t * (np.expm1(x) / x if x > 0 else 1.0) * e_lo
        else:
            f1 = (np.exp(hi * t) - e_lo) / (hi - lo)
        f0 = e_lo - lo * f1
        a, d = row[0, c], row[1, c]
        ga = a * g[0, 0, c] + d * g[1, 0, c]
        gd = a * g[0, 1, c] + d * g[1, 1, c]
        row[0, c] = f0 * a + f1 * ga
        row[1, c] = f0 * d + f1 * gd


def _survival(tab: Tables, days: np.ndarray) -> np.ndarray:
    """log P(no decision to cancel in ``days`` days from ACTIVE, sessions unseen)."""
    rows = tab.power("EK", days)[:, :, A, :].sum(axis=2)
    return np.log(np.maximum(rows, TINY))


def joint_terms(model: Subscribers, traits: Traits, h: Histories) -> tuple[np.ndarray, Tables]:
    """Each customer's log-likelihood per component with its prior (n, C), and the tables
    it came from (one build of the components per evaluation)."""
    tab = tables(model, traits)
    out = _per_owner(spell_terms(tab, h), h.spell_owner, h.n)
    if h.away_owner.size:
        rate = tab.come[None, :]
        days = h.away_days[:, None].astype(np.float64)
        back = h.away_back[:, None]
        stay = -rate * np.where(back, np.maximum(days - 1.0, 0.0), days)
        away = stay + np.where(back, np.log(np.maximum(-np.expm1(-rate), TINY)), 0.0)
        out += _per_owner(away, h.away_owner, h.n)
    return out + tab.log_prior[None, :], tab


def _per_owner(terms: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """Rows of ``terms`` summed per owner (``owner`` sorted), (n, C)."""
    out = np.zeros((n, terms.shape[1]))
    if owner.size:
        first = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        out[owner[first]] = np.add.reduceat(terms, first, axis=0)
    return out


def log_likelihood(model: Subscribers, traits: Traits, h: Histories) -> np.ndarray:
    """Each customer's marginal log-likelihood."""
    joint, _ = joint_terms(model, traits, h)
    return logsumexp(joint, axis=1)


def class_posterior(model: Subscribers, traits: Traits, h: Histories) -> np.ndarray:
    """P(class | history) per customer (n, K)."""
    joint, tab = joint_terms(model, traits, h)
    post = np.exp(joint - logsumexp(joint, axis=1, keepdims=True))
    return np.stack([post[:, tab.cls == c].sum(axis=1) for c in range(model.k)], axis=1)


# ------------------------------------------------------------------ fitting
@dataclass(frozen=True)
class SubscriptionFit:
    model: Subscribers
    fit: Fit
    n_customers: int
    dropped: tuple[str, ...] = ()  # notes on classes the data did not support

    @property
    def n_params(self) -> int:
        return int(self.fit.theta.shape[0])

    @property
    def bic(self) -> float:
        return -2.0 * self.fit.loglik + self.n_params * np.log(max(self.n_customers, 1))

    def table(self, prefix: str = "") -> list[dict[str, Any]]:
        """Every fitted parameter with its standard error and 95% interval (rates per day);
        ``identified`` is false where the interval is unbounded or wider than a factor of
        100, and for the hidden phases' rates of a fit without sessions (``PHASES``)."""
        k, free = self.model.k, self.model.free
        n = len(free) * k
        theta, cov = self.fit.theta, self.fit.cov
        value, se, ci = log_interval(theta[:n], cov[:n, :n])
        ridge = () if self.model.sessions else PHASES  # never identified without sessions
        rows = [
            _row(f"{prefix}{name}[{c}]", value[i * k + c], se[i * k + c], *ci[:, i * k + c])
            | ({"identified": False} if name in ridge else {})
            for i, name in enumerate(free)
            for c in range(k)
        ]
        idx = np.arange(n, n + k - 1)
        bounds = logit_intervals(theta[idx], cov[np.ix_(idx, idx)])
        for c, (w, (lo, hi)) in enumerate(zip(self.model.weight, bounds, strict=True)):
            rows.append(_row(f"{prefix}weight[{c}]", w, (hi - lo) / 3.92, lo, hi))
        j = np.arange(n + k - 1, n + 2 * k - 1)
        v, s, c2 = log_interval(theta[j], cov[np.ix_(j, j)])
        rows += [
            _row(f"{prefix}heterogeneity[{c}]", v[c], s[c], c2[0, c], c2[1, c]) for c in range(k)
        ]
        if self.model.sessions:
            v, s, c2 = log_interval(theta[-1:], cov[-1:, -1:])
            rows.append(_row(f"{prefix}activity_shape", v[0], s[0], c2[0, 0], c2[1, 0]))
        return rows


MIN_WEIGHT = 0.01  # a class smaller than this is not supported by the data
# L-BFGS-B's memory (steps its curvature estimate keeps): the parameters' scales differ by
# orders of magnitude, and remembering every step of a fit (they take 20-50) halves the
# evaluations of the default 10 with sessions, at the same optimum (without sessions: within
# 25% either way; README, "Speed")
MEMORY = 50


def start_values(h: Histories, k: int) -> Subscribers:
    """A rough start: cancellations per subscribed day, resubscriptions per day away,
    session days per subscribed day (identical histories weighted by their count)."""
    w = h.count[h.spell_owner]
    days = max(_subscribed_days(h), 1.0)
    quit_ = np.clip(float(w @ h.cancelled) / days, 1e-5, 0.5)
    away = h.count[h.away_owner]
    back = np.clip((away @ h.away_back + 0.5) / (away @ h.away_days + 1.0), 1e-5, 0.5)
    sessions = np.maximum(np.diff(h.spell_ptr) - 1, 0)  # every segment but the last ends in one
    act = np.clip(float(w @ sessions) / days, 1e-3, 3.0)
    spread = np.geomspace(3.0, 1 / 3.0, k) if k > 1 else np.ones(1)
    return Subscribers(
        weight=np.full(k, 1.0 / k),
        activity_rate=np.full(k, act * 1.5),
        dormant_activity_rate=np.full(k, act * 0.02),
        lapse_rate=np.full(k, 1 / 60),
        return_rate=np.full(k, 1 / 30),
        cancel_rate=quit_ * spread * 0.5,
        dormant_cancel_rate=quit_ * spread * 2.0,
        comeback_rate=np.full(k, back),
        heterogeneity=np.full(k, 2.0),
        activity_shape=2.0,
        sessions=h.sessions,
        returns=bool(h.away_back.any()),
    )


def other_starts(h: Histories) -> list[Subscribers]:
    """Two more one-class starts, for the optimiser's local optima: retention falling with
    tenure (strong leave multiplier) and rising with it (slow lapsing into a dormant
    phase that cancels fast)."""
    base = start_values(h, 1)
    days = max(_subscribed_days(h) / max(h.customers_total, 1.0), 30.0)
    falling = replace(base, heterogeneity=np.full(1, 0.3))
    rising = replace(
        base,
        lapse_rate=np.full(1, 1.0 / days),
        return_rate=np.full(1, 1e-4),
        cancel_rate=base.cancel_rate * 0.1,
        dormant_cancel_rate=np.full(1, 1 / 30),
        heterogeneity=np.full(1, 50.0),
    )
    return [falling, rising]


def _subscribed_days(h: Histories) -> float:
    """Subscribed days in the histories, identical histories weighted by their count."""
    length = np.zeros(h.order_kind.size)
    for code, lengths in ((GAP_K, h.lengths_k), (GAP_X, h.lengths_x)):
        rows = h.order_kind == code
        length[rows] = lengths[h.order_ref[rows]]
    rows = h.order_kind == SPECIAL
    special = h.seg_runs[:, :, 1].sum(axis=1) + (h.seg_end != END)
    length[rows] = special[h.order_ref[rows]]
    spell = np.repeat(np.arange(h.n_spells), np.diff(h.spell_ptr))
    per_spell = np.bincount(spell, length, minlength=h.n_spells)
    return float(h.count[h.spell_owner] @ per_spell)


def split(model: Subscribers) -> Subscribers:
    """A start for k + 1 classes: a small class that cancels faster, split off the class
    that cancels most."""
    h = int(np.argmax(model.cancel_rate))
    extra = {r: getattr(model, r)[h] for r in (*RATES, "heterogeneity")}
    extra["cancel_rate"] *= 4.0
    extra["dormant_cancel_rate"] *= 4.0
    rates: dict[str, Any] = {
        r: np.append(getattr(model, r), extra[r]) for r in (*RATES, "heterogeneity")
    }
    rates["weight"] = np.append(model.weight * 0.8, 0.2)
    return replace(model, **rates)


def objective(
    h: Histories, traits: Traits, k: int
) -> tuple[Callable[[np.ndarray], np.ndarray], list[tuple[float, float]]]:
    """Each customer's log-likelihood as a function of ``theta`` (``Subscribers.theta``
    with ``k`` classes), and the search box of ``theta``. It is assembled from each class's
    own likelihood (the class alone, weight 1), which depends only on that class's rates and
    heterogeneity and the shared activity shape; each class remembers its last two, so a
    step that moves one class's parameters (a numerical gradient's) recomputes that class
    only, and one that moves only the class weights recomputes none."""
    sessions, returns = h.sessions, bool(h.away_back.any())
    n_free = len(free_rates(sessions, returns))

    def class_part(c: int) -> Callable[[np.ndarray], np.ndarray]:
        own = class_indices(c, k, n_free, sessions)

        @lru_cache(maxsize=2)
        def part(key: bytes) -> np.ndarray:
            alone = Subscribers.from_theta(np.frombuffer(key), 1, sessions, returns)
            return log_likelihood(alone, traits, h)

        return lambda theta: part(theta[own].tobytes())

    parts = [class_part(c) for c in range(k)]

    def per_customer(theta: np.ndarray) -> np.ndarray:
        theta = np.asarray(theta, dtype=np.float64)
        logits = np.concatenate([[0.0], theta[n_free * k : n_free * k + k - 1]])
        each = np.stack([part(theta) for part in parts], axis=1)
        return logsumexp(each + (logits - logsumexp(logits)), axis=1)

    box = (np.log(MIN_RATE), np.log(MAX_RATE))
    shapes = (np.log(MIN_SHAPE), np.log(MAX_SHAPE))
    bounds = [box] * (n_free * k) + [(-8.0, 8.0)] * (k - 1) + [shapes] * k
    bounds += [(np.log(0.05), np.log(50.0))] if sessions else []
    return per_customer, bounds


def class_indices(c: int, k: int, n_free: int, sessions: bool) -> np.ndarray:
    """Where class ``c``'s parameters sit in a ``k``-class ``theta`` (its rates, its
    heterogeneity, the shared activity shape), in the order of a one-class ``theta``."""
    n = n_free * k
    tail = [n + 2 * k - 1] if sessions else []
    return np.array([*range(c, n, k), n + k - 1 + c, *tail])


def fit_subscribers(
    h: Histories, traits: Traits, k: int = 1, start: Subscribers | None = None
) -> SubscriptionFit:
    """Maximum-likelihood fit with ``k`` classes (no covariance: :func:`fit_classes` adds it
    to the fit it keeps)."""
    per_customer, bounds = objective(h, traits, k)

    def neg(theta: np.ndarray) -> float:
        return -float(per_customer(theta) @ h.count)

    theta0 = (start or start_values(h, k)).theta()
    lo, hi = np.array(bounds).T
    fit = maximise(neg, np.clip(theta0, lo, hi), bounds, with_covariance=False, memory=MEMORY)
    model = Subscribers.from_theta(fit.theta, k, h.sessions, bool(h.away_back.any()))
    return SubscriptionFit(model, fit, h.customers_total)


def fit_classes(
    h: Histories, traits: Traits, k: int, search: Histories | None = None
) -> list[SubscriptionFit]:
    """Fits with 1, 2, ... up to ``k`` classes (the first from three starts without
    sessions, each next one from the previous one split). A fit whose smallest class holds
    under ``MIN_WEIGHT`` of the customers is not supported by the data and ends the search;
    of the rest, the one BIC prefers is kept (last in the list, with its covariance), with a
    note when it has fewer than ``k`` classes. ``search``: a sample of ``h``'s customers to
    run that search on (faster); the kept number of classes is then fitted on ``h`` from
    the sample's fit."""
    fits, notes = class_search(search or h, traits, k)
    best = min(fits, key=lambda f: f.bic)
    if best.model.k < k and not notes:
        notes.append(f"BIC prefers {best.model.k} class(es) to more (up to {k} fitted)")
    if search is not None:
        best = fit_subscribers(h, traits, best.model.k, best.model)
    per_customer, _ = objective(h, traits, best.model.k)
    cov = opg_covariance(per_customer, h.count, best.fit.theta)
    final = replace(best, fit=replace(best.fit, cov=cov), dropped=tuple(notes))
    others = [f for f in fits if f.model.k != best.model.k]
    return [*others, final]


def class_search(h: Histories, traits: Traits, k: int) -> tuple[list[SubscriptionFit], list[str]]:
    """The fits with 1, 2, ... classes the data support (see :func:`fit_classes`), and a
    note on the first they do not."""
    starts = [fit_subscribers(h, traits, 1)]
    if not h.sessions:  # without sessions, phases and the multiplier trade places
        starts += [fit_subscribers(h, traits, 1, s) for s in other_starts(h)]
    fits = [max(starts, key=lambda f: f.fit.loglik)]
    for n in range(2, k + 1):
        nxt = fit_subscribers(h, traits, n, split(fits[-1].model))
        smallest = float(nxt.model.weight.min())
        if smallest < MIN_WEIGHT or smallest * h.customers_total < 20:
            return fits, [
                f"{n} classes: the smallest would hold {smallest:.1%} of the "
                f"{h.customers_total:,.0f} customers (under {MIN_WEIGHT:.0%}, or under 20 "
                f"customers): the data do not support it; {n - 1} kept"
            ]
        fits.append(nxt)
    return fits, []


def retention(model: Subscribers, traits: Traits, days: np.ndarray, period: int) -> np.ndarray:
    """The share of new subscribers still subscribed ``days`` after subscribing: no decision
    to cancel before the last period end by then (cancellations take effect at period ends)."""
    renewed = period * (np.asarray(days, dtype=np.int64) // period)
    tab = tables(model, traits)
    alive = tab.power("EK", renewed)[:, :, A, :].sum(axis=2)  # (len(days), C)
    return alive @ np.exp(tab.log_prior)
