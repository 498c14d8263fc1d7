"""The shifted-beta-geometric model (Fader & Hardie 2007, "How to project customer
retention", Journal of Interactive Marketing 21(1): 76-90): the published reference for
retention under contracts that renew period by period.

At the end of each period a customer renews unless a coin with their own churn probability
theta comes up; theta ~ Beta(alpha, beta) across customers. T, the period in which a customer
churns (1, 2, ...), has P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta) and survival
S(t) = P(T > t) = B(alpha, beta + t) / B(alpha, beta); the retention rate from period t - 1
to t is (beta + t - 1) / (alpha + beta + t - 1): it rises with tenure as the customers likelier
to churn leave (heterogeneity, not a change in anyone's behaviour).

Per customer the data are ``periods``, the renewals survived (T > periods); ``churned``
(then T = periods + 1; otherwise the customer is right-censored at the log's end); and
``first_observed`` (left truncation: a customer in the data only from period m on is known
to have survived m renewals, so their likelihood is divided by S(m)); optionally ``left``
(left-censored: the customer is known only to have churned by the end of period ``periods``,
likelihood 1 - S(periods)). The fit searches a box
(``BOX``) and reports its ``status`` like the BG/NBD: only a converged fit predicts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import betaln

from sim.calibration.mle import Fit, FitStatus, fit_reference, interval_table
from sim.validation import check_int

NAMES = ("alpha", "beta")
# beyond 1e4 both ways the churn probability no longer varies between customers (a beta with
# a coefficient of variation under 1%): the data then say "one churn rate for all"
BOX = ((1e-4, 1e4), (1e-4, 1e4))
SPELL_COLUMNS = ("user_id", "spell", "start", "end", "cancelled", "billing_days")


@dataclass(frozen=True)
class SBG:
    alpha: float
    beta: float

    def log_survival(self, t: np.ndarray) -> np.ndarray:
        """log S(t): the log share of a cohort still subscribed after ``t`` renewals."""
        return betaln(self.alpha, self.beta + t) - betaln(self.alpha, self.beta)

    def loglik(
        self, periods: np.ndarray, churned: np.ndarray, first: np.ndarray, left: np.ndarray
    ) -> np.ndarray:
        """Each customer's log-likelihood: log P(T = periods + 1) if churned, log S(periods)
        if still subscribed, log (1 - S(periods)) if left (churned by then); minus log
        S(first) for the left truncation."""
        a, b = self.alpha, self.beta
        lost = betaln(a + 1.0, b + periods) - betaln(a, b)
        kept = self.log_survival(periods)
        gone = np.log(-np.expm1(np.minimum(kept, -1e-300)))
        out = np.where(left, gone, np.where(churned, lost, kept))
        return out - self.log_survival(first)


@dataclass(frozen=True)
class SBGFit:
    """The estimate, the optimiser's record and how the fit ended. Every prediction is NaN
    unless the fit converged inside its box (``status.reason`` says why)."""

    model: SBG
    fit: Fit
    status: FitStatus

    def table(self) -> list[dict[str, float | str]]:
        """alpha and beta with their standard errors and 95% intervals."""
        return interval_table(NAMES, self.fit)

    def survival(self, t: np.ndarray) -> np.ndarray:
        """S(t) = B(alpha, beta + t) / B(alpha, beta), for ``t`` renewals (t >= 0)."""
        t = _renewals("t", t, 0)
        return np.exp(self.model.log_survival(t)) if self.status.ok else _unavailable(t.shape)

    def retention(self, t: np.ndarray) -> np.ndarray:
        """S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1): the share of the
        customers subscribed after renewal t - 1 who renew at t (t >= 1)."""
        t = _renewals("t", t, 1)
        if not self.status.ok:
            return _unavailable(t.shape)
        a, b = self.model.alpha, self.model.beta
        return (b + t - 1.0) / (a + b + t - 1.0)

    def expected_survivors(
        self, alive: np.ndarray, ahead: int, age: np.ndarray | float = 0.0
    ) -> np.ndarray:
        """Projection of cohorts: ``alive[c]`` customers subscribed after ``age[c]`` renewals
        (0: a new cohort of that size) -> expected subscribers after each of the next
        ``ahead`` renewals, shape (cohorts, ahead): alive * S(age + k) / S(age)."""
        if not isinstance(ahead, int) or ahead < 1:
            raise ValueError(f"ahead: {ahead!r}; allowed: an integer >= 1 (periods ahead)")
        alive = np.atleast_1d(np.asarray(alive, dtype=np.float64))
        age = np.broadcast_to(_renewals("age", age, 0), alive.shape)
        k = np.arange(1, ahead + 1, dtype=np.float64)
        if not self.status.ok:
            return _unavailable((alive.size, ahead))
        log_s = self.model.log_survival(age[:, None] + k) - self.model.log_survival(age[:, None])
        return alive[:, None] * np.exp(log_s)


def _unavailable(shape: tuple[int, ...]) -> np.ndarray:
    return np.full(shape, np.nan)


def _renewals(key: str, t: np.ndarray | float, low: int) -> np.ndarray:
    """``t`` as floats, or ValueError unless every value is >= ``low`` renewals."""
    t = np.asarray(t, dtype=np.float64)
    if not (t >= low).all():
        raise ValueError(f"{key}: {float(t.min())}; allowed: numbers of renewals >= {low}")
    return t


def fit_sbg(
    periods: np.ndarray,
    churned: np.ndarray,
    first_observed: np.ndarray | None = None,
    left: np.ndarray | None = None,
) -> SBGFit:
    """Maximum-likelihood sBG on per-customer renewals survived, churn flags and (optional)
    the period each customer is observed from and whether they are left-censored;
    identical customers are counted once."""
    rows = check_sbg_data(periods, churned, first_observed, left)
    unique, counts = np.unique(rows, axis=0, return_counts=True)
    n, lost, first, gone = unique.T.astype(np.float64)
    lost_flag, gone_flag = lost.astype(bool), gone.astype(bool)

    def neg(theta: np.ndarray) -> float:
        model = SBG(*np.exp(theta))
        return -float(counts @ model.loglik(n, lost_flag, first, gone_flag))

    fit, status = fit_reference(neg, [1.0, 1.0], NAMES, BOX)
    return SBGFit(SBG(*np.exp(fit.theta)), fit, status)


def check_sbg_data(
    periods: np.ndarray,
    churned: np.ndarray,
    first_observed: np.ndarray | None,
    left: np.ndarray | None = None,
) -> np.ndarray:
    """The four columns as one integer array (customers x 4), or ValueError naming the
    first bad row: whole periods >= 0, churned and left true/false, 0 <= first_observed <=
    periods; a left-censored customer has churned, by period >= 1."""
    n = np.asarray(periods)
    lost = np.asarray(churned)
    first = np.zeros(n.shape) if first_observed is None else np.asarray(first_observed)
    gone = np.zeros(n.shape, bool) if left is None else np.asarray(left)
    shapes = (lost.shape, first.shape, gone.shape)
    if n.ndim != 1 or n.size == 0 or any(s != n.shape for s in shapes):
        raise ValueError(
            f"periods, churned, first_observed, left: shapes {n.shape}, "
            f"{', '.join(map(str, shapes))}; allowed: one value per customer each, at least "
            "one customer"
        )
    checks = {
        "periods": (n, "whole numbers >= 0", _whole(n)),
        "churned": (lost, "true/false (or 1/0)", np.isin(lost, (0, 1))),
        "first_observed": (first, "whole numbers in [0, periods]", _whole(first)),
        "left": (gone, "true/false (or 1/0)", np.isin(gone, (0, 1))),
    }
    for key, (values, allowed, ok) in checks.items():
        if not ok.all():
            i = int(np.argmin(ok))
            raise ValueError(f"{key}: {values[i].item()!r} at row {i}; allowed: {allowed}")
    if (first > n).any():
        i = int(np.argmax(first > n))
        raise ValueError(
            f"first_observed: {first[i].item()!r} at row {i} exceeds periods {n[i].item()!r}; "
            "allowed: a customer observed from period m has survived at least m renewals"
        )
    wrong = gone.astype(bool) & ~(lost.astype(bool) & (n >= 1) & (first == 0))
    if wrong.any():
        i = int(np.argmax(wrong))
        raise ValueError(
            f"left: True at row {i} (churned {lost[i].item()!r}, periods {n[i].item()!r}, "
            f"first_observed {first[i].item()!r}); allowed: a left-censored customer churned "
            "by period >= 1 and is observed from the start"
        )
    return np.column_stack([n, lost, first, gone]).astype(np.int64)


def _whole(values: np.ndarray) -> np.ndarray:
    """Which values are whole numbers >= 0 (none, for booleans or text)."""
    if values.dtype == bool or not np.issubdtype(values.dtype, np.number):
        return np.zeros(values.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        return np.isfinite(values) & (np.mod(values, 1) == 0) & (values >= 0)


def contract_periods(
    spells: pd.DataFrame, billing_days: int, window_start: int = 0
) -> pd.DataFrame:
    """The sBG data of every spell on a ``billing_days`` contract, from a spells table (one
    row per subscription spell: user_id, spell, start, end, cancelled, billing_days; days).

    Renewals fall every ``billing_days`` after ``start``. A cancelled spell ends at the end
    of the period in which the customer churned: T = max(1, round((end - start) / days)),
    so periods = T - 1 and churned is true. A spell still running at ``end`` (the log's last
    day) has survived floor((end - start) / days) renewals. Spells begun before the
    observation window (``window_start``) follow the likelihood's rule
    (``sim.calibration.histories.encode``): a table that lists a spell cancelled on or
    before the window's first day is complete (its export kept those who had left), and
    such a spell is left-censored (``left``: churned within the m = floor((window - start) /
    days) renewals before the window, at least 1); otherwise a spell begun before the window
    is observed from the m renewals it had survived by then (first_observed), the others
    are not in the export. Returns user_id, spell, start, periods, churned, first_observed, left."""
    missing = [c for c in SPELL_COLUMNS if c not in spells.columns]
    if missing:
        raise ValueError(f"spells: columns {missing} missing; required: {', '.join(SPELL_COLUMNS)}")
    check_int("billing_days", billing_days, 1)
    check_int("window_start", window_start, 0)
    gone_all = spells.cancelled.to_numpy(bool) & (spells.start.to_numpy() < window_start)
    complete = bool((gone_all & (spells.end.to_numpy() <= window_start)).any())
    rows = spells[spells.billing_days == billing_days]
    start, end = rows.start.to_numpy(np.int64), rows.end.to_numpy(np.int64)
    cancelled = rows.cancelled.to_numpy(bool)
    span = (end - start) / billing_days
    periods = np.where(cancelled, np.maximum(np.rint(span), 1) - 1, np.floor(span))
    before = np.floor(np.maximum(window_start - start, 0) / billing_days)
    left = cancelled & (start < window_start) & (end <= window_start)
    periods = np.where(left, np.maximum(before, 1), periods)
    first = np.zeros(periods.shape) if complete else np.minimum(before, periods)
    return pd.DataFrame(
        {
            "user_id": rows.user_id.to_numpy(),
            "spell": rows.spell.to_numpy(),
            "start": start,
            "periods": periods.astype(np.int64),
            "churned": cancelled,
            "first_observed": first.astype(np.int64),
            "left": left,
        }
    )[complete | ~left].reset_index(drop=True)
