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

A log without sessions cannot tell ACTIVE from DORMANT: then the subscriber stays ACTIVE
(``lapse_rate = return_rate = 0``) and only ``cancel_rate`` and ``comeback_rate`` are fitted.

The likelihood of each spell is assembled from :mod:`sim.calibration.histories`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.special import logsumexp

from sim.calibration.histories import (
    END,
    SESSION_K,
    SESSION_X,
    SILENT_K,
    SILENT_X,
    UNSEEN_K,
    UNSEEN_X,
    Histories,
)
from sim.calibration.lifecycle import Traits
from sim.calibration.likelihood import expm_batch, gamma_nodes, powers_applied
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
NODES = 8  # quadrature nodes for the activity multiplier
FRAILTY_NODES = 6  # and for the leave multiplier
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
    """Per component: one day's matrices and their powers in both regimes (K: a decision
    to cancel kills; P: it does not), and the log-likelihoods of gaps ending in a session."""

    power: dict[str, np.ndarray]  # "NK", "EK", "NP", "EP": (H + 1, C, 2, 2)
    session: dict[str, np.ndarray]  # "K", "P": (C, 2) S 1 from each state
    gap: dict[str, np.ndarray]  # "K", "P": (H + 1, C) log e_A N^(d-1) S 1
    log_prior: np.ndarray  # (C,)
    cls: np.ndarray  # (C,)
    come: np.ndarray  # (C,) comeback rate


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


def _class_components(
    model: Subscribers, c: int, g: np.ndarray, log_g: np.ndarray, traits: Traits
) -> dict[str, np.ndarray]:
    h = float(model.heterogeneity[c])
    m, log_m = (np.ones(1), np.zeros(1)) if h >= ALIKE else gamma_nodes(h, FRAILTY_NODES)
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


def tables(model: Subscribers, traits: Traits, horizon: int) -> Tables:
    comp = components(model, traits)
    eye = np.broadcast_to(np.eye(2), comp["P"].shape).copy()
    e_a = np.zeros((comp["P"].shape[0], 2))
    e_a[:, A] = 1.0
    power, session, gap = {}, {}, {}
    for regime in ("K", "P"):
        n, s = day_matrices(comp[regime], comp["lam"])
        e = n + s
        power[f"N{regime}"] = powers_applied(eye, n, horizon)
        power[f"E{regime}"] = powers_applied(eye, e, horizon)
        session[regime] = s.sum(axis=2)
        rows = powers_applied(e_a, n, horizon)  # e_A N^t
        g = np.empty((horizon + 1, e_a.shape[0]))
        g[0] = 0.0
        g[1:] = np.log(np.maximum(np.einsum("tci,ci->tc", rows[:-1], session[regime]), TINY))
        gap[regime] = g
    return Tables(power, session, gap, comp["log_prior"], comp["cls"], comp["come"])


def _specials(tab: Tables, h: Histories, x: str) -> tuple[np.ndarray, np.ndarray]:
    """Each special segment's log-likelihood (n_special, C) with regime X = ``x``, and its
    state distribution at the end (n_special, C, 2)."""
    n_seg, n_comp = h.seg_spell.size, tab.log_prior.size
    v = np.zeros((n_seg, n_comp, 2))
    v[:, :, A] = 1.0
    by_kind = {
        UNSEEN_K: tab.power["EK"],
        SILENT_K: tab.power["NK"],
        UNSEEN_X: tab.power[f"E{x}"],
        SILENT_X: tab.power[f"N{x}"],
    }
    for r in range(h.seg_runs.shape[1]):
        kind, length = h.seg_runs[:, r, 0], h.seg_runs[:, r, 1]
        for code, table in by_kind.items():
            rows = np.flatnonzero((kind == code) & (length > 0))
            if rows.size:
                v[rows] = np.einsum("mci,mcij->mcj", v[rows], table[length[rows]])
    out = np.empty((n_seg, n_comp))
    for code, vec in ((SESSION_K, tab.session["K"]), (SESSION_X, tab.session[x])):
        rows = h.seg_end == code
        out[rows] = np.einsum("mci,ci->mc", v[rows], vec)
    ends = h.seg_end == END
    out[ends] = v[ends].sum(axis=2)
    return np.log(np.maximum(out, TINY)), v


def spell_terms(tab: Tables, h: Histories) -> np.ndarray:
    """Every spell's log-likelihood per component (n_spells, C)."""
    logs = {}
    for x in ("P", "K"):
        seg, _ = _specials(tab, h, x)
        total = h.gaps_k @ tab.gap["K"] + h.gaps_x @ tab.gap[x]
        np.add.at(total, h.seg_spell, seg)
        logs[x] = total
    out = logs["P"].copy()
    c = h.cancelled
    gap = np.minimum(logs["K"][c] - logs["P"][c], -1e-15)  # the decision fell after tau
    out[c] = logs["P"][c] + np.log(-np.expm1(gap))
    if h.left_spell.size:
        kept = _survival(tab, h.left_days)
        out[h.left_spell] = np.log(np.maximum(-np.expm1(kept), TINY))
    if h.trunc_spell.size:
        out[h.trunc_spell] -= _survival(tab, h.trunc_days)
    return out


def _survival(tab: Tables, days: np.ndarray) -> np.ndarray:
    """log P(no decision to cancel in ``days`` days from ACTIVE, sessions unseen)."""
    rows = tab.power["EK"][days][:, :, A, :].sum(axis=2)
    return np.log(np.maximum(rows, TINY))


def customer_terms(model: Subscribers, traits: Traits, h: Histories) -> np.ndarray:
    """Each customer's log-likelihood per component (n, C) without the prior."""
    tab = tables(model, traits, h.horizon)
    out = np.zeros((h.n, tab.log_prior.size))
    np.add.at(out, h.spell_owner, spell_terms(tab, h))
    if h.away_owner.size:
        rate = tab.come[None, :]
        days = h.away_days[:, None].astype(np.float64)
        back = h.away_back[:, None]
        stay = -rate * np.where(back, np.maximum(days - 1.0, 0.0), days)
        away = stay + np.where(back, np.log(np.maximum(-np.expm1(-rate), TINY)), 0.0)
        np.add.at(out, h.away_owner, away)
    return out


def log_likelihood(model: Subscribers, traits: Traits, h: Histories) -> np.ndarray:
    """Each customer's marginal log-likelihood."""
    comp = components(model, traits)
    terms = customer_terms(model, traits, h)
    return logsumexp(terms + comp["log_prior"][None, :], axis=1)


def class_posterior(model: Subscribers, traits: Traits, h: Histories) -> np.ndarray:
    """P(class | history) per customer (n, K)."""
    comp = components(model, traits)
    joint = customer_terms(model, traits, h) + comp["log_prior"][None, :]
    post = np.exp(joint - logsumexp(joint, axis=1, keepdims=True))
    return np.stack([post[:, comp["cls"] == c].sum(axis=1) for c in range(model.k)], axis=1)


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
        """Every fitted parameter with its standard error and 95% interval (rates per day)."""
        from sim.calibration.fit import _row, logit_intervals  # one format for every table

        k, free = self.model.k, self.model.free
        n = len(free) * k
        theta, cov = self.fit.theta, self.fit.cov
        value, se, ci = log_interval(theta[:n], cov[:n, :n])
        rows = [
            _row(f"{prefix}{name}[{c}]", value[i * k + c], se[i * k + c], *ci[:, i * k + c])
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


def start_values(h: Histories, k: int) -> Subscribers:
    """A rough start: cancellations per subscribed day, resubscriptions per day away,
    session days per subscribed day."""
    spell_days = float(h.gaps_k.sum() + h.gaps_x.sum()) + 1.0
    quit_ = np.clip(h.cancelled.sum() / max(_subscribed_days(h), 1.0), 1e-5, 0.5)
    back = np.clip((h.away_back.sum() + 0.5) / (h.away_days.sum() + 1.0), 1e-5, 0.5)
    act = np.clip(spell_days / max(_subscribed_days(h), 1.0), 1e-3, 3.0)
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


def _subscribed_days(h: Histories) -> float:
    ends = h.seg_end == END
    runs = h.seg_runs[ends, :, 1].sum()
    gaps = h.gaps_k.multiply(np.arange(h.gaps_k.shape[1])[None, :]).sum()
    gaps += h.gaps_x.multiply(np.arange(h.gaps_x.shape[1])[None, :]).sum()
    return float(runs + gaps)


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


def fit_subscribers(
    h: Histories,
    traits: Traits,
    k: int = 1,
    start: Subscribers | None = None,
    with_covariance: bool = True,
) -> SubscriptionFit:
    """Maximum-likelihood fit with ``k`` classes; covariance by BHHH."""
    sessions, returns = h.sessions, bool(h.away_back.any())

    def per_customer(theta: np.ndarray) -> np.ndarray:
        return log_likelihood(Subscribers.from_theta(theta, k, sessions, returns), traits, h)

    def neg(theta: np.ndarray) -> float:
        return -float(per_customer(theta) @ h.count)

    n_free = len(free_rates(sessions, returns))
    box = (np.log(MIN_RATE), np.log(MAX_RATE))
    shapes = (np.log(MIN_SHAPE), np.log(MAX_SHAPE))
    bounds = [box] * (n_free * k) + [(-8.0, 8.0)] * (k - 1) + [shapes] * k
    bounds += [(np.log(0.05), np.log(50.0))] if sessions else []
    theta0 = (start or start_values(h, k)).theta()
    lo, hi = np.array(bounds).T
    fit = maximise(neg, np.clip(theta0, lo, hi), bounds, with_covariance=False)
    if with_covariance:
        fit = replace(fit, cov=opg_covariance(per_customer, h.count, fit.theta))
    model = Subscribers.from_theta(fit.theta, k, sessions, returns)
    return SubscriptionFit(model, fit, h.customers_total)


def fit_classes(h: Histories, traits: Traits, k: int) -> list[SubscriptionFit]:
    """Fits with 1, 2, ... up to ``k`` classes, each started from the previous one split;
    a fit whose smallest class holds under ``MIN_WEIGHT`` of the customers is not
    supported by the data: it is dropped with a note and the previous fit kept."""
    fits = [fit_subscribers(h, traits, 1)]
    for n in range(2, k + 1):
        nxt = fit_subscribers(h, traits, n, split(fits[-1].model))
        smallest = float(nxt.model.weight.min())
        if smallest < MIN_WEIGHT or smallest * h.customers_total < 20:
            note = (
                f"{n} classes: the smallest would hold {smallest:.2%} of the customers "
                f"({smallest * h.customers_total:.0f}); the data do not support it, "
                f"{n - 1} kept"
            )
            fits[-1] = replace(fits[-1], dropped=(*fits[-1].dropped, note))
            break
        fits.append(nxt)
    return fits


def retention(model: Subscribers, traits: Traits, days: np.ndarray, period: int) -> np.ndarray:
    """The share of new subscribers still subscribed ``days`` after subscribing: no decision
    to cancel before the last period end by then (cancellations take effect at period ends)."""
    days = np.asarray(days, dtype=np.int64)
    renewed = period * (days // period)
    horizon = int(renewed.max()) if renewed.size else 0
    tab = tables(model, traits, max(horizon, 1))
    alive = tab.power["EK"][renewed][:, :, A, :].sum(axis=2)  # (len(days), C)
    return alive @ np.exp(tab.log_prior)
