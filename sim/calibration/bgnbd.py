"""The BG/NBD model (Fader, Hardie & Lee 2005, "Counting your customers the easy way"):
the published reference every calibration here is measured against.

While alive a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha); after
each purchase they drop out with probability p ~ Beta(a, b). Time is in weeks, as in the
paper; ``x`` repeat purchases, the last at age ``t_x``, observed to age ``T``.

The fit searches a box (``BOX``); a log that pushes it to an edge (e.g. customers who all buy
at the same steady rate: r and alpha grow without end) or that the optimiser cannot settle
is reported by the fit's ``status`` and gets no predictions (NaN), never a number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, gammaln, hyp2f1

from sim.calibration.mle import Fit, FitStatus, fit_reference, interval_table

NAMES = ("r", "alpha", "a", "b")
# the search box: shapes beyond 1e4 mean no variation between customers (a gamma or beta
# with a coefficient of variation under 1%); alpha is a time scale, in weeks
BOX = ((1e-4, 1e4), (1e-4, 1e6), (1e-4, 1e4), (1e-4, 1e4))


@dataclass(frozen=True)
class BGNBD:
    r: float
    alpha: float
    a: float
    b: float

    @classmethod
    def from_theta(cls, theta: np.ndarray) -> BGNBD:
        return cls(*np.exp(theta))

    def loglik(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """Each customer's log-likelihood (FHL 2005, eq. 6)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        alive = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
        with np.errstate(divide="ignore", invalid="ignore"):
            died = np.where(
                x > 0,
                betaln(a + 1, b + x - 1) - betaln(a, b) - (r + x) * np.log(alpha + t_x),
                -np.inf,
            )
        return common + np.logaddexp(alive, died)

    def expected(self, t: np.ndarray) -> np.ndarray:
        """E[X(t)]: expected repeat purchases in the first ``t`` weeks after birth (eq. 7)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        t = np.maximum(np.asarray(t, dtype=np.float64), 0.0)
        z = t / (alpha + t)
        return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))

    def conditional(
        self,
        t: float,
        x: np.ndarray,
        t_x: np.ndarray,
        T: np.ndarray,
    ) -> np.ndarray:
        """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` weeks (eq. 10)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = t / (alpha + T + t)
        head = (a + b + x - 1) / (a - 1)
        body = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(
            r + x, b + x, a + b + x - 1, z
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            odds = np.where(x > 0, a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0)
        return head * body / (1 + odds)

    def p_alive(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """P(alive at T | x, t_x, T) (Fader, Hardie & Lee 2008, "Computing P(alive) using
        the BG/NBD model"): 1 with no repeat purchase (the model lets a customer drop out
        only after a purchase)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            log_odds = (
                np.log(a) - np.log(np.maximum(b + x - 1, 1e-300))
                + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
            )  # fmt: skip
            odds = np.where(x > 0, np.exp(np.minimum(log_odds, 700.0)), 0.0)
        return 1.0 / (1.0 + odds)


@dataclass(frozen=True)
class BGNBDFit:
    """The estimate, the optimiser's record and how the fit ended; only a converged fit
    predicts (``expected`` is NaN otherwise: ``status.reason`` says why)."""

    model: BGNBD
    fit: Fit
    status: FitStatus

    def table(self) -> list[dict[str, float | str]]:
        """Each parameter with its standard error and 95% interval."""
        return interval_table(NAMES, self.fit)

    def expected(self, t: np.ndarray) -> np.ndarray:
        """E[X(t)] (``BGNBD.expected``), or NaN when the fit did not converge inside its box."""
        t = np.asarray(t, dtype=np.float64)
        return self.model.expected(t) if self.status.ok else np.full(t.shape, np.nan)


def fit_bgnbd(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> BGNBDFit:
    """Maximum-likelihood BG/NBD on per-customer (x, t_x, T) in weeks, inside ``BOX``."""
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))

    def neg(theta: np.ndarray) -> float:
        return -float(BGNBD.from_theta(theta).loglik(x, t_x, T).sum())

    fit, status = fit_reference(neg, [1.0, max(float(T.mean()), 1.0), 1.0, 1.0], NAMES, BOX)
    return BGNBDFit(BGNBD.from_theta(fit.theta), fit, status)
