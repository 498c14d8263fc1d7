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
integrated out by their draws, the class by its weight, ``g`` by quadrature adapted to each
customer (:func:`activity_nodes`: a year of sessions pins a customer's ``g``).

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
from numba import get_num_threads, njit, prange
from scipy import stats
from scipy.special import gammaln, logsumexp

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
from sim.calibration.mle import Fit, log_interval, maximise, opg_from_scores
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
FRAILTY_NODES = (12, 6)  # quadrature nodes for the leave multiplier: without sessions, with them
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
    """Per component (class x leave-multiplier node x trait draw): the generators of both
    regimes (K: a decision to cancel kills; P: it does not) without sessions, their
    eigenvalues, and the session rates per state (ACTIVE, DORMANT) at activity multiplier 1.
    ``power`` gives ``exp(t G)`` for any t in closed form (2 x 2 generators)."""

    gen: dict[str, np.ndarray]  # "EK", "EP": (C, 2, 2)
    eig: dict[str, tuple[np.ndarray, np.ndarray]]  # the larger and smaller eigenvalue, (C,)
    rate: np.ndarray  # (C, 2) session rates per state at multiplier 1
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


def components(model: Subscribers, traits: Traits, alike: bool = False) -> dict[str, np.ndarray]:
    """Per component (class x leave-multiplier node x trait draw): the generator without
    and with the cancellation decision, session rates per state at activity multiplier 1,
    prior weight, class, comeback rate. The leave multiplier ``m ~ Gamma(h, h)`` (the
    simulator's ``lapse_mult``, shape ``heterogeneity``) scales lapsing and cancelling;
    ``alike``: every ``m`` is 1 (one component per class and trait draw)."""
    parts = [_class_components(model, c, traits, alike) for c in range(model.k)]
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def quantile_nodes(shape: float, n: int, means: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and log weights for E[f(m)], m ~ Gamma(shape, rate=shape): n equal-probability
    slices, each at its midpoint or (``means``) at its mean. Unlike Gauss-Laguerre, accurate
    for survival E[exp(-m c)] at small shapes and large c (shape 0.14, c = 100: midpoints
    0.3985 for the exact 0.3984 with 12 nodes, means 0.3939; Gauss-Laguerre gives 0.0001).
    The means keep the mean exactly and more of the spread (shape 2, 6 slices: variance 0.43
    of 0.5, midpoints 0.36): with sessions, where 6 nodes must do, the midpoints' narrower law
    biased the fitted shape low (README: coverage with sessions)."""
    if means:  # E[m; m < x] = P(Gamma(shape + 1, rate=shape) < x)
        edges = stats.gamma.ppf(np.arange(n + 1) / n, shape, scale=1.0 / shape)
        m = n * np.diff(stats.gamma.cdf(edges, shape + 1.0, scale=1.0 / shape))
    else:
        m = stats.gamma.ppf((np.arange(n) + 0.5) / n, shape, scale=1.0 / shape)
    return m, np.full(n, -np.log(n))


def _class_components(
    model: Subscribers, c: int, traits: Traits, alike: bool
) -> dict[str, np.ndarray]:
    h = float(model.heterogeneity[c])
    nodes = FRAILTY_NODES[int(model.sessions)]
    spread = (h, nodes, model.sessions)
    m, log_m = (np.ones(1), np.zeros(1)) if alike or h >= ALIKE else quantile_nodes(*spread)
    shape = (m.size, traits.n)

    def grid(mult: np.ndarray) -> np.ndarray:
        return np.broadcast_to(mult, shape).reshape(-1)

    leave = grid(m[:, None] * traits.leave[None, :])
    press = grid(m[:, None] * traits.press[None, :])
    come = grid(traits.come[None, :])
    lapse = model.lapse_rate[c] * leave
    back = model.return_rate[c] * come
    q = np.zeros((lapse.size, 2, 2))
    q[:, A, A], q[:, A, D], q[:, D, A], q[:, D, D] = -lapse, lapse, back, -back
    killed = q.copy()
    killed[:, A, A] -= model.cancel_rate[c] * press
    killed[:, D, D] -= model.dormant_cancel_rate[c] * press
    rate = [model.activity_rate[c], model.dormant_activity_rate[c]]
    prior = np.log(model.weight[c]) + log_m[:, None]
    return {
        "EP": q,
        "EK": killed,
        "rate": np.broadcast_to(rate, (lapse.size, 2)),
        "log_prior": grid(prior + traits.log_weight[None, :]),
        "cls": np.full(lapse.size, c),
        "come": model.comeback_rate[c] * come,
    }


def tables(model: Subscribers, traits: Traits, alike: bool = False) -> Tables:
    comp = components(model, traits, alike)
    gen = {kind: comp[kind] for kind in GEN_KINDS[:2]}
    eig = {kind: tuple(_eigen(_lanes(g))) for kind, g in gen.items()}
    return Tables(gen, eig, comp["rate"], comp["log_prior"], comp["cls"], comp["come"])


GEN_KINDS = ("EK", "EP", "NK", "NP")  # the generators' order in the kernel's arrays
NODES = 6  # Gauss-Hermite nodes per customer and class for the activity multiplier
PILOT = np.array([-1.0, 0.0, 1.0])  # the pilot points around the centre, in spreads
FIRST_SPREAD = 0.5  # the first pilot's spread, in log g
PILOT_ROUNDS = 2


def activity_nodes(
    model: Subscribers, traits: Traits, h: Histories
) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``g`` and log weights for each customer's E[f(g)], g ~ Gamma(s, rate=s) the
    activity multiplier, per class: (n, K, NODES). Adaptive Gauss-Hermite in log g: once a
    year of sessions pins a customer's g to within ~10%, fixed nodes for the whole population
    miss it. Centred first on the customer's own session rate (``Histories.session_rate``
    over the class's activity rate), then twice on the posterior ``Gamma(a + s, b + s)`` of
    a typical component (leave multiplier 1, the mean traits) whose log-likelihood
    ``c + a log g - b g`` passes through three pilot points (exact for Poisson-like session
    counts), the nodes spread by its curvature; each node weighted by the prior density over
    the Gaussian's (importance-weighted quadrature: exact as the nodes grow, for any
    centre). Smooth in the parameters (no branch): the scores stay differentiable. Without
    sessions one node, g = 1."""
    k, s = model.k, model.activity_shape
    if not model.sessions:
        return np.ones((h.n, k, 1)), np.zeros((h.n, k, 1))
    share = np.exp(traits.log_weight)
    one = Traits(share @ traits.leave[:, None], share @ traits.come[:, None],
                 share @ traits.press[:, None], np.zeros(1))  # fmt: skip
    typical = tables(model, one, alike=True)
    centre = np.log(h.session_rate[:, None] / model.activity_rate[None, :])
    spread = np.full_like(centre, FIRST_SPREAD)
    for _ in range(PILOT_ROUNDS):
        u = centre[..., None] + spread[..., None] * PILOT
        terms = spell_terms(typical, h, np.exp(u))
        centre, spread = _gamma_fit(u, _per_owner(terms, h.spell_owner, h.n).reshape(u.shape), s)
    x, w = np.polynomial.hermite.hermgauss(NODES)
    u = centre[..., None] + np.sqrt(2.0) * spread[..., None] * x
    log_prior = s * np.log(s) - gammaln(s) + s * u - s * np.exp(u)  # density of log g
    log_q = -(x**2) - np.log(spread[..., None] * np.sqrt(2.0 * np.pi))
    return np.exp(u), np.log(w / np.sqrt(np.pi)) + log_prior - log_q


def _gamma_fit(u: np.ndarray, ell: np.ndarray, s: float) -> tuple[np.ndarray, np.ndarray]:
    """The centre and spread (log g) of the posterior Gamma(a + s, b + s) of g for the
    log-likelihood ``c + a u - b e^u`` through the pilot values ``ell`` at ``u`` (.., 3,
    equally spaced); shapes floored smoothly at s / 8, the centre moved at most 3 spreads."""
    mid, d = u[..., 1], u[..., 2] - u[..., 1]
    b = -(ell[..., 0] - 2.0 * ell[..., 1] + ell[..., 2]) / (4.0 * np.sinh(d / 2.0) ** 2)
    a = (ell[..., 2] - ell[..., 0] + 2.0 * b * np.sinh(d)) / (2.0 * d)  # b is b e^mid here
    floor = s / 8.0
    shape = floor * (1.0 + np.logaddexp(0.0, (a + s) / floor - 1.0))
    rate = floor * (1.0 + np.logaddexp(0.0, (b * np.exp(-mid) + s) / floor - 1.0))
    reach = 3.0 * d
    centre = mid + reach * np.tanh((np.log(shape / rate) - mid) / reach)
    return centre, 1.0 / np.sqrt(shape)


def spell_terms(tab: Tables, h: Histories, g: np.ndarray) -> np.ndarray:
    """Every spell's log-likelihood per component and activity node, (n_spells, C x J):
    ``g`` (n, K, J) each customer's nodes per class."""
    n_comp, j = tab.log_prior.size, g.shape[2]

    def lanes(m: np.ndarray) -> np.ndarray:  # each component once per node
        return np.repeat(m, j, axis=-1)

    log_p, log_k = forward(
        h.spell_ptr,
        h.order_kind,
        h.order_ref,
        h.lengths_k,
        h.lengths_x,
        h.seg_runs,
        h.seg_end,
        lanes(_lanes(np.stack([tab.gen[k] for k in GEN_KINDS[:2]]))),
        lanes(np.stack([np.stack(tab.eig[k]) for k in GEN_KINDS[:2]])),
        lanes(_lanes(np.stack([tab.power(k, np.ones(1))[0] for k in GEN_KINDS[:2]]))),
        lanes(np.ascontiguousarray(tab.rate.T)),
        np.ascontiguousarray(g),
        h.spell_owner,
        lanes(tab.cls),
        np.tile(np.arange(j), n_comp),
        min(h.n_spells, CHUNKS * get_num_threads()),
    )
    floor = np.log(TINY)  # a component that cannot have written the spell
    out = np.maximum(log_p, floor)
    c = h.cancelled
    lp, lk = log_p[c], np.maximum(log_k[c], -1e300)
    ok = np.isfinite(lp)
    gap = np.where(ok, np.minimum(lk - np.where(ok, lp, 0.0), -1e-15), -1.0)  # decided after tau
    out[c] = np.where(ok, lp + np.log(-np.expm1(gap)), floor)
    if h.left_spell.size:
        kept = lanes(_survival(tab, h.left_days))
        out[h.left_spell] = np.log(np.maximum(-np.expm1(kept), TINY))
    out[h.lapsed_spell] = 0.0  # lapsed before the window, history unknown
    return out


def _lanes(m: np.ndarray) -> np.ndarray:
    """(..., C, 2, 2) matrices as (..., 2, 2, C): the components side by side, as the
    kernel walks them."""
    return np.ascontiguousarray(np.moveaxis(m, -3, -1))


TABLE = 64  # gaps up to this many days take their matrix from a table built per spell
# a kernel's hot loop that allocates nothing runs without the runtime's reference counts:
# every array an inlined call takes there is otherwise counted up and down (atomically) on
# each pass, which cost more than a short row's arithmetic (the scores' 3-lane pilot passes
# ran 3.4x faster without)
UNCOUNTED: dict[str, Any] = {"_nrt": False}


@njit(cache=True, parallel=True, error_model="numpy")
def forward(
    ptr: np.ndarray,
    kind: np.ndarray,
    ref: np.ndarray,
    lengths_k: np.ndarray,
    lengths_x: np.ndarray,
    runs: np.ndarray,
    ends: np.ndarray,
    gen: np.ndarray,
    eig: np.ndarray,
    day: np.ndarray,
    rate: np.ndarray,
    g: np.ndarray,
    owner: np.ndarray,
    lane_cls: np.ndarray,
    lane_node: np.ndarray,
    chunks: int,
) -> tuple[np.ndarray, np.ndarray]:
    """log e_A M_1 M_2 ... 1 for every spell and lane (component x activity node), with
    regime X as P and as K (the forward recursion over all lanes at once, rescaled when the
    row falls under ``RESCALE``). Segments before the spell's first one touching regime X
    are the same in both and are run once. Each spell's matrices come from its customer's
    nodes (``_spell_matrices``). A special segment is applied run by run: ``exp(t G) = f0 I
    + f1 G``, then its terminal (a session day in K, P). The spells run in ``chunks`` of
    about equal work (:func:`chunk_edges`)."""
    n, n_lane = ptr.size - 1, gen.shape[-1]
    out_p = np.zeros((n, n_lane))
    out_k = np.zeros((n, n_lane))
    none = np.empty((2, 0, 2, n_lane))  # forward keeps no rows
    edges = chunk_edges(ptr, chunks)
    for ch in prange(chunks):
        rows, scales = np.empty((3, 2, n_lane)), np.empty((3, n_lane))
        for i in range(edges[ch], edges[ch + 1]):
            gens, eigs, steps, table, fork = _spell_setup(
                i, ptr, kind, ref, lengths_k, runs, ends, gen, eig, day, rate, g, owner,
                lane_cls, lane_node,
            )  # fmt: skip
            _walks(i, ptr[i], fork, ptr[i + 1], kind, ref, lengths_k, lengths_x, runs, ends,
                   gens, eigs, steps, table, out_p, out_k, none, rows, scales)  # fmt: skip
    return out_p, out_k


RESCALE = 1e-100  # the forward row is rescaled when its total falls under this
CHUNKS = 8  # the kernels' chunks of spells per thread (each with its own buffers)


@njit(cache=True)
def chunk_edges(ptr: np.ndarray, chunks: int) -> np.ndarray:
    """The spells cut into ``chunks`` runs of about equal segments, the kernels' work
    (``ptr`` as ``Histories.spell_ptr``): a parallel loop hands each thread an equal block
    of its iterations, and runs of equal spells gave one thread the long-tenured
    customers' spells (1.4x its share on the simulated streaming logs)."""
    n = ptr.size - 1
    edges = np.searchsorted(ptr, np.linspace(0, ptr[n], chunks + 1))
    edges[-1] = n
    return edges


@njit(cache=True, inline="always")
def _spell_setup(  # type: ignore[no-untyped-def]
    i, ptr, kind, ref, lengths_k, runs, ends, gen, eig, day, rate, g, owner, lane_cls,
    lane_node,
):  # fmt: skip
    """Spell ``i``'s matrices (``_spell_matrices``, at its customer's session rates) and
    its fork: its first segment touching regime X (or its end)."""
    fork, top = ptr[i + 1], 0
    for j in range(ptr[i], ptr[i + 1]):
        if kind[j] == GAP_K:
            top = max(top, min(lengths_k[ref[j]], TABLE))
        x_seg = kind[j] == SPECIAL and _touches_x(runs, ref[j], ends[ref[j]])
        if fork == ptr[i + 1] and (kind[j] == GAP_X or x_seg):
            fork = j
    n_lane = gen.shape[-1]
    lam = np.empty((2, n_lane))
    for c in range(n_lane):
        mult = g[owner[i], lane_cls[c], lane_node[c]]
        lam[0, c] = rate[0, c] * mult
        lam[1, c] = rate[1, c] * mult
    gens, eigs, steps, table = _spell_matrices(gen, eig, day, lam, top)
    return gens, eigs, steps, table, fork


@njit(cache=True, **UNCOUNTED)
def _walks(  # type: ignore[no-untyped-def]
    i, first, fork, last, kind, ref, lengths_k, lengths_x, runs, ends, gens, eigs, steps,
    table, out_p, out_k, stored, rows, scales,
):  # fmt: skip
    """Spell ``i``'s forward walks: regime K only up to the fork, then from it with X as P
    and as K, into ``out_p`` and ``out_k``; with room in ``stored`` (2, segments, 2,
    lanes), the row before each segment kept there normalised (X as P, the part before the
    fork too; X as K). ``rows`` (3, 2, lanes) and ``scales`` (3, lanes) hold each walk's
    row and the logs of its rescaling factors (``UNCOUNTED``: it allocates nothing)."""
    n_lane = gens.shape[-1]
    keep = stored.shape[1] > 0
    for c in range(n_lane):
        rows[0, 0, c], rows[0, 1, c], scales[0, c] = 1.0, 0.0, 0.0
    for walk in range(3):
        for c in range(n_lane * (walk > 0)):  # the fork's row, for either regime
            rows[walk, 0, c], rows[walk, 1, c] = rows[0, 0, c], rows[0, 1, c]
            scales[walk, c] = scales[0, c]
        mine, s = rows[walk], scales[walk]
        x = 1 if walk == 0 else walk - 1
        lo, hi = (first, fork) if walk == 0 else (fork, last)
        for j in range(lo, hi):  # one call site: the inlined segment compiled once
            if keep:
                _normalised(mine, stored[0 if walk < 2 else 1, j - first])
            _segment(mine, s, kind[j], ref[j], x, lengths_k, lengths_x, table, runs, ends,
                     gens, eigs, steps)  # fmt: skip
        if walk > 0:
            out = out_p if x == 0 else out_k
            for c in range(n_lane):
                total = mine[0, c] + mine[1, c]
                out[i, c] = s[c] + np.log(total) if total > 0.0 else -np.inf


@njit(cache=True, inline="always")
def _normalised(row: np.ndarray, out: np.ndarray) -> None:
    """out <- row with each lane summing to 1 (a lane that is 0 stays 0)."""
    for c in range(row.shape[1]):
        total = row[0, c] + row[1, c]
        f = 1.0 / total if total > 0.0 else 0.0
        out[0, c], out[1, c] = row[0, c] * f, row[1, c] * f


FAST = {"contract", "reassoc", "nsz"}  # fast maths that keeps infinities, NaN and exact division


@njit(cache=True)
def _spell_matrices(gen, eig, day, lam, top):  # type: ignore[no-untyped-def]
    """One spell's matrices per lane, given its session rates ``lam`` (2, lanes): the
    generators EK, EP, NK, NP (N: no session, ``G - diag(lam)``) and their eigenvalues, a
    session day ``S = E - N`` (one day) in K and P, and the table ``N^(d-1) S`` in K for
    gaps of d = 1..top days."""
    n_lane = gen.shape[-1]
    gens = np.empty((4, 2, 2, n_lane))
    eigs = np.empty((4, 2, n_lane))
    steps = np.empty((2, 2, 2, n_lane))
    none = np.empty((2, 2, n_lane))  # N, one day in K
    gens[:2] = gen
    eigs[:2] = eig
    for r in range(2):
        gens[2 + r] = gen[r]
        for c in range(n_lane):
            gens[2 + r, 0, 0, c] -= lam[0, c]
            gens[2 + r, 1, 1, c] -= lam[1, c]
        _eigen_into(gens[2 + r], eigs[2 + r])
        for c in range(n_lane):
            f0, f1 = _coefficients(eigs[2 + r, 0, c], eigs[2 + r, 1, c], 1.0)
            for a in range(2):
                for b in range(2):
                    one = f1 * gens[2 + r, a, b, c] + (f0 if a == b else 0.0)
                    steps[r, a, b, c] = max(day[r, a, b, c] - one, 0.0)
                    if r == 0:
                        none[a, b, c] = one
    table = np.empty((top, 2, 2, n_lane))
    if top > 0:
        table[0] = steps[0]
    for d in range(1, top):  # N^d S = N (N^(d-1) S)
        for a in range(2):
            for b in range(2):
                for c in range(n_lane):
                    table[d, a, b, c] = (
                        none[a, 0, c] * table[d - 1, 0, b, c]
                        + none[a, 1, c] * table[d - 1, 1, b, c]
                    )
    return gens, eigs, steps, table


@njit(cache=True, inline="always")
def _touches_x(runs: np.ndarray, r: int, end: int) -> bool:
    """Whether special segment ``r`` (its ``runs[r]`` and terminal ``end``) touches X."""
    if end == SESSION_X:
        return True
    for k in range(runs.shape[1]):
        if runs[r, k, 1] > 0 and (runs[r, k, 0] == UNSEEN_X or runs[r, k, 0] == SILENT_X):
            return True
    return False


@njit(cache=True, inline="always", fastmath=FAST)
def _segment(row, scale, kind, r, x, lengths_k, lengths_x, table, runs, ends, gen, eig, step):  # type: ignore[no-untyped-def]
    """One segment applied in place to the rows (a, d) of every lane, regime X as P (x =
    0) or K (x = 1): a gap of d days ends in ``N^(d-1) S`` (from the table when it holds
    d), a special segment runs by run."""
    if kind == GAP_K or (kind == GAP_X and x == 1):
        d = lengths_k[r] if kind == GAP_K else lengths_x[r]
        if d <= table.shape[0]:
            low = _times(row, table, d - 1)
        else:
            _power_times(row, gen, eig, 2, d - 1)
            low = _times(row, step, 0)
    elif kind == GAP_X:
        _power_times(row, gen, eig, 3, lengths_x[r] - 1)
        low = _times(row, step, 1)
    else:
        for k in range(runs.shape[1]):
            length = runs[r, k, 1]
            if length > 0:
                _power_times(row, gen, eig, _gen_index(runs[r, k, 0], x), length)
        if ends[r] == END:
            low = _low(row)
        else:
            low = _times(row, step, 0 if ends[r] == SESSION_K else 1 - x)
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


@njit(cache=True, inline="always")
def _low(row: np.ndarray) -> float:
    """The smallest row total."""
    low = np.inf
    for c in range(row.shape[1]):
        low = min(low, row[0, c] + row[1, c])
    return low


@njit(cache=True, inline="always", fastmath=FAST)
def _times(row: np.ndarray, m: np.ndarray, k: int) -> float:
    """row[:, c] <- row[:, c] m[k, :, :, c] for every lane; the smallest row total after
    (matrices by index, not slice: a slice costs more than a short row)."""
    low = np.inf
    for c in range(row.shape[1]):
        a, d = row[0, c], row[1, c]
        row[0, c] = a * m[k, 0, 0, c] + d * m[k, 1, 0, c]
        row[1, c] = a * m[k, 0, 1, c] + d * m[k, 1, 1, c]
        low = min(low, row[0, c] + row[1, c])
    return low


@njit(cache=True)
def _eigen(g: np.ndarray) -> np.ndarray:
    """Eigenvalues (larger, smaller) of 2 x 2 generators with non-negative off-diagonals
    (real), (2, C) for ``g`` (2, 2, C); the larger as det / smaller, without cancellation
    near zero."""
    out = np.empty((2, g.shape[-1]))
    _eigen_into(g, out)
    return out


@njit(cache=True, inline="always")
def _eigen_into(g: np.ndarray, out: np.ndarray) -> None:
    for c in range(g.shape[-1]):
        a, b, cc, d = g[0, 0, c], g[0, 1, c], g[1, 0, c], g[1, 1, c]
        root = np.sqrt((a - d) ** 2 + 4.0 * b * cc)
        lo = 0.5 * (a + d - root)
        hi = (a * d - b * cc) / lo if lo < 0 else 0.5 * (a + d + root)
        out[0, c], out[1, c] = max(hi, lo), lo


@njit(cache=True, inline="always")
def _coefficients(hi: float, lo: float, t: float) -> tuple[float, float]:
    """``exp(t G) = f0 I + f1 G`` for a 2 x 2 generator with eigenvalues hi >= lo."""
    x = (hi - lo) * t
    e_lo = np.exp(lo * t)
    if x <= 1.0:
        f1 = t * (np.expm1(x) / x if x > 0 else 1.0) * e_lo
    else:
        f1 = (np.exp(hi * t) - e_lo) / (hi - lo)
    return e_lo - lo * f1, f1


@njit(cache=True, inline="always")
def _power_times(row: np.ndarray, g: np.ndarray, eig: np.ndarray, k: int, t: float) -> None:
    """row[:, c] <- row[:, c] exp(t g[k, :, :, c]) for 2 x 2 generators with eigenvalues
    ``eig[k, :, c] = (hi, lo)``, hi >= lo, as ``Tables.power``."""
    for c in range(row.shape[1]):
        f0, f1 = _coefficients(eig[k, 0, c], eig[k, 1, c], t)
        a, d = row[0, c], row[1, c]
        ga = a * g[k, 0, 0, c] + d * g[k, 1, 0, c]
        gd = a * g[k, 0, 1, c] + d * g[k, 1, 1, c]
        row[0, c] = f0 * a + f1 * ga
        row[1, c] = f0 * d + f1 * gd


def _survival(tab: Tables, days: np.ndarray) -> np.ndarray:
    """log P(no decision to cancel in ``days`` days from ACTIVE, sessions unseen)."""
    rows = tab.power("EK", days)[:, :, A, :].sum(axis=2)
    return np.log(np.maximum(rows, TINY))


def joint_terms(
    model: Subscribers, traits: Traits, h: Histories
) -> tuple[np.ndarray, np.ndarray, Tables]:
    """Each customer's log-likelihood per lane (component x activity node) with its prior
    and node weight (n, lanes), each lane's class, and the tables it came from."""
    tab = tables(model, traits)
    g, log_w = activity_nodes(model, traits, h)
    j = g.shape[2]
    cls = np.repeat(tab.cls, j)
    out = _per_owner(spell_terms(tab, h, g), h.spell_owner, h.n)
    if h.away_owner.size:
        rate = tab.come[None, :]
        days = h.away_days[:, None].astype(np.float64)
        back = h.away_back[:, None]
        stay = -rate * np.where(back, np.maximum(days - 1.0, 0.0), days)
        away = stay + np.where(back, np.log(np.maximum(-np.expm1(-rate), TINY)), 0.0)
        out += np.repeat(_per_owner(away, h.away_owner, h.n), j, axis=1)
    node = np.tile(np.arange(j), tab.log_prior.size)
    return out + np.repeat(tab.log_prior, j)[None, :] + log_w[:, cls, node], cls, tab


def _per_owner(terms: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """Rows of ``terms`` summed per owner (``owner`` sorted), (n, C)."""
    out = np.zeros((n, terms.shape[1]))
    if owner.size:
        first = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        out[owner[first]] = np.add.reduceat(terms, first, axis=0)
    return out


def kept_terms(tab: Tables, h: Histories) -> np.ndarray:
    """Per customer and component (n, C): its prior plus the log-probability that a spell
    of it begun before the window lasted into it (its ``trunc_days`` with no decision to
    cancel), 0 for a customer with no such spell. ``logsumexp`` over the components is
    the probability of being in the log at all, which the customer's likelihood is
    divided by (left truncation: see :func:`log_likelihood`)."""
    kept = np.zeros((h.trunc_spell.size, tab.log_prior.size))
    if h.trunc_spell.size:
        distinct, back = np.unique(h.trunc_days, return_inverse=True)
        kept = _survival(tab, distinct)[back]
    return _per_owner(kept, h.spell_owner[h.trunc_spell], h.n) + tab.log_prior[None, :]


def log_likelihood(model: Subscribers, traits: Traits, h: Histories) -> np.ndarray:
    """Each customer's marginal log-likelihood: of its history from its first spell's
    start, over the probability of that spell lasting into the window where it began
    before it (left truncation). Both are mixtures over the components (class, leave
    multiplier, trait draw), so the division is of the mixtures: a customer found in the
    log after years of tenure is likely a durable one (dividing each component by its own
    survival instead would assume the survivors as quick to cancel as newcomers)."""
    joint, _, tab = joint_terms(model, traits, h)
    return logsumexp(joint, axis=1) - logsumexp(kept_terms(tab, h), axis=1)


def class_posterior(model: Subscribers, traits: Traits, h: Histories) -> np.ndarray:
    """P(class | history) per customer (n, K)."""
    joint, cls, _ = joint_terms(model, traits, h)
    post = np.exp(joint - logsumexp(joint, axis=1, keepdims=True))
    return np.stack([post[:, cls == c].sum(axis=1) for c in range(model.k)], axis=1)


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


ClassTerms = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # class_scores' answer


def objective(
    h: Histories, traits: Traits, k: int
) -> tuple[Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], list[tuple[float, float]]]:
    """Each customer's log-likelihood and its score (the derivative in ``theta``,
    ``Subscribers.theta`` with ``k`` classes; analytic, :mod:`sim.calibration.scores`) as a
    function of ``theta``, and the search box of ``theta``. It is assembled from each
    class's own likelihood (the class alone, weight 1), which depends only on that class's
    rates and heterogeneity and the shared activity shape; each class remembers its last
    two, so a step that moves only the class weights recomputes none."""
    from sim.calibration.scores import class_scores  # scores builds on this module

    sessions, returns = h.sessions, bool(h.away_back.any())
    n_free = len(free_rates(sessions, returns))
    owns = [class_indices(c, k, n_free, sessions) for c in range(k)]

    def class_part(own: np.ndarray) -> Callable[[np.ndarray], ClassTerms]:
        @lru_cache(maxsize=2)
        def part(key: bytes) -> ClassTerms:
            alone = Subscribers.from_theta(np.frombuffer(key), 1, sessions, returns)
            return class_scores(alone, traits, h)

        return lambda theta: part(theta[own].tobytes())

    parts = [class_part(own) for own in owns]

    def scored(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        theta = np.asarray(theta, dtype=np.float64)
        logits = np.concatenate([[0.0], theta[n_free * k : n_free * k + k - 1]])
        log_w = logits - logsumexp(logits)
        each = [part(theta) for part in parts]
        joint = np.stack([e[0] for e in each], axis=1) + log_w
        kept = np.stack([e[2] for e in each], axis=1) + log_w  # left truncation's divisor
        ll, norm = logsumexp(joint, axis=1), logsumexp(kept, axis=1)
        post, share = np.exp(joint - ll[:, None]), np.exp(kept - norm[:, None])
        score = np.zeros((h.n, theta.size))
        for c, (own, (_, own_score, _, own_kept)) in enumerate(zip(owns, each, strict=True)):
            score[:, own] += post[:, c, None] * own_score - share[:, c, None] * own_kept
        score[:, n_free * k : n_free * k + k - 1] = post[:, 1:] - share[:, 1:]
        return ll - norm, score

    box = (np.log(MIN_RATE), np.log(MAX_RATE))
    shapes = (np.log(MIN_SHAPE), np.log(MAX_SHAPE))
    bounds = [box] * (n_free * k) + [(-8.0, 8.0)] * (k - 1) + [shapes] * k
    bounds += [(np.log(0.05), np.log(50.0))] if sessions else []
    return scored, bounds


def class_indices(c: int, k: int, n_free: int, sessions: bool) -> np.ndarray:
    """Where class ``c``'s parameters sit in a ``k``-class ``theta`` (its rates, its
    heterogeneity, the shared activity shape), in the order of a one-class ``theta``."""
    n = n_free * k
    tail = [n + 2 * k - 1] if sessions else []
    return np.array([*range(c, n, k), n + k - 1 + c, *tail])


def fit_subscribers(
    h: Histories,
    traits: Traits,
    k: int = 1,
    start: Subscribers | None = None,
    root: np.ndarray | None = None,
) -> SubscriptionFit:
    """Maximum-likelihood fit with ``k`` classes (no covariance: :func:`fit_classes` adds it
    to the fit it keeps); ``root``: a square root of the inverse Hessian expected at
    ``start`` (``maximise``), from :func:`curvature_root`."""
    scored, bounds = objective(h, traits, k)

    def neg(theta: np.ndarray) -> tuple[float, np.ndarray]:
        ll, score = scored(theta)
        return -float(ll @ h.count), -(h.count @ score)

    theta0 = (start or start_values(h, k)).theta()
    lo, hi = np.array(bounds).T
    fit = maximise(
        neg, np.clip(theta0, lo, hi), bounds, with_covariance=False, memory=MEMORY, jac=True,
        root=root,
    )  # fmt: skip
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
    searched = search or h
    fits, notes = class_search(searched, traits, k)
    best = min(fits, key=lambda f: f.bic)
    if best.model.k < k and not notes:
        notes.append(
            f"BIC prefers {best.model.k} class(es) to more (up to {k} fitted on "
            f"{searched.customers_total:,.0f} customers)"
        )
    if search is not None:
        root = curvature_root(searched, traits, best, h.customers_total / searched.customers_total)
        best = fit_subscribers(h, traits, best.model.k, best.model, root)
    scored, _ = objective(h, traits, best.model.k)
    cov = opg_from_scores(scored(best.fit.theta)[1], h.count)
    final = replace(best, fit=replace(best.fit, cov=cov), dropped=tuple(notes))
    others = [f for f in fits if f.model.k != best.model.k]
    return [*others, final]


HESSIAN_STEP = 1e-4  # the forward differences of the gradient in ``curvature_root``


def curvature_root(
    h: Histories, traits: Traits, fit: SubscriptionFit, scale: float
) -> np.ndarray | None:
    """A square root R of the inverse of ``scale`` times the Hessian of ``h``'s negative
    log-likelihood at ``fit``'s estimate (R R'; forward differences of the analytic
    gradient, step ``HESSIAN_STEP``; a step in one class's parameters recomputes that class
    only, one in the weights none): the curvature a fit on ``scale`` times as many customers
    drawn alike expects there, to precondition it (``maximise``'s ``root``: the fit from
    the search's estimate on the whole sample then takes about half the steps). None where
    that Hessian is not positive definite (or not finite)."""
    scored, _ = objective(h, traits, fit.model.k)
    theta = fit.fit.theta

    def grad(at: np.ndarray) -> np.ndarray:
        return -(h.count @ scored(at)[1])

    base = grad(theta)
    steps = np.eye(theta.size) * HESSIAN_STEP
    hess = np.stack([(grad(theta + e) - base) / HESSIAN_STEP for e in steps], axis=1)
    try:
        root = np.linalg.cholesky(np.linalg.inv(0.5 * scale * (hess + hess.T)))
    except np.linalg.LinAlgError:
        return None
    return root if np.isfinite(root).all() else None


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
