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

evaluated forward for all customers at once (:mod:`sim.calibration.likelihood`; fits in
:mod:`sim.calibration.fit`). ``g`` is integrated out by generalised
Gauss-Laguerre quadrature, the trait multipliers by their draws and the class by its
weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from sim.constants import ACTIVE, CHURNED, DORMANT, N_STATES

RATES = ("activity_rate", "lapse_rate", "return_rate", "dormant_cancel_rate", "comeback_rate")


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
        m = np.zeros((*shape, N_STATES, N_STATES))
        m[..., ACTIVE, ACTIVE] = -lapse - lam
        m[..., ACTIVE, DORMANT] = lapse
        m[..., DORMANT, ACTIVE] = back
        m[..., DORMANT, DORMANT] = -back - die
        m[..., DORMANT, CHURNED] = die
        m[..., CHURNED, ACTIVE] = come
        m[..., CHURNED, CHURNED] = -come
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
