"""The round trip (issue 16, proof 2): calibrate on a simulated company's first months,
simulate the calibrated scenario, and compare the months after month by month.

Both worlds start from scratch on the same calendar: every customer of the original scenario
subscribes on day 0, ACTIVE (:func:`new_subscribers`); the company's log over the first
``fit_months`` months is calibrated (the months after are held out); the calibrated
scenario's segments are given the same start (every customer new on day 0) and the original's
size and release calendar, and simulated over all the months. Starting both worlds together
keeps what the calibration must reproduce honest: the customers still subscribed at the cut
are the ones the calibrated dynamics let survive (their leave multipliers selected by their
own history), not fresh draws placed at the cut.

Per 30-day month (month 1 = days 0-29) ``monthly_figures`` counts from a simulated log:
``subscribers`` at the month's end, ``cancellations`` taking effect and ``resubscriptions``
in it, and ``revenue`` (the payments dated in it). ``round_trip`` gives, per month and
figure, the original (its first replication), the spread of the original world over
``replications`` seeds, the calibrated world's mean over as many seeds, the error in percent
and whether it is within 5% or within the 95% band of the difference
(``1.96 sqrt(sd_original^2 + sd_calibrated^2 / replications)``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from sim.calibration.eventlog import SIMULATED, validate_events
from sim.calibration.subscriptions import SubscriptionCalibration, calibrate_subscriptions
from sim.constants import DAYS_PER_MONTH
from sim.records import simulated_log
from sim.scenario import Scenario

MONTH = int(DAYS_PER_MONTH)
START = "2024-01-01"  # the logs' day 0
FIGURES = ("subscribers", "cancellations", "resubscriptions", "revenue")
PAYMENTS = ("renew", "payment", "resubscribe", "subscribe")
TOLERANCE_PCT = 5.0  # the "within 5% of the original (or within its CI)"
Z95 = 1.959964


@dataclass(frozen=True)
class RoundTrip:
    """The monthly comparison (one row per month and figure; ``holdout`` marks the months
    after the calibration's cut) and the calibration it came from."""

    table: pd.DataFrame
    calibration: SubscriptionCalibration

    def holdout(self) -> pd.DataFrame:
        return self.table[self.table.holdout].reset_index(drop=True)


def new_subscribers(scenario: Scenario, n_users: int, days: int) -> Scenario:
    """``scenario`` with ``n_users`` customers who all subscribe on day 0, ACTIVE, no
    warm-up, run for ``days`` days."""
    fresh = tuple(
        replace(s, initial_state={"active": 1.0}, mean_tenure_days=1e-3) for s in scenario.segments
    )
    return replace(scenario, n_users=n_users, horizon_days=days, warmup_days=0, segments=fresh)


def monthly_figures(events: pd.DataFrame, months: int) -> pd.DataFrame:
    """Per month 1..``months`` of a simulated log (see the module doc): subscribers at the
    month's end, cancellations, resubscriptions, revenue."""
    day = (pd.to_datetime(events.timestamp) - pd.Timestamp(START)).dt.days.to_numpy()
    kind = events.event_type.astype(str).to_numpy()
    month = np.clip(day // MONTH, -1, months)  # -1: before day 0 (sign-ups)
    bins = np.arange(-1, months + 2)

    def per_month(mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        counts, _ = np.histogram(
            month[mask], bins=bins, weights=None if weights is None else weights[mask]
        )
        return counts[1 : months + 1]  # months 0 .. months-1

    starts = np.isin(kind, ("subscribe", "resubscribe"))
    cancel = kind == "cancel"
    net, _ = np.histogram(month[starts], bins=bins)
    gone, _ = np.histogram(month[cancel], bins=bins)
    stock = np.cumsum(net - gone)[1 : months + 1]
    amount = events.amount.to_numpy(np.float64, na_value=0.0)
    return pd.DataFrame(
        {
            "month": np.arange(1, months + 1),
            "subscribers": stock.astype(np.float64),
            "cancellations": per_month(cancel).astype(np.float64),
            "resubscriptions": per_month(kind == "resubscribe").astype(np.float64),
            "revenue": per_month(np.isin(kind, PAYMENTS), amount),
        }
    )


def round_trip(
    original: Scenario,
    n_users: int,
    fit_months: int = 12,
    ahead_months: int = 12,
    *,
    seed: int = 0,
    replications: int = 5,
    classes: int = 2,
    sessions: bool = False,
) -> RoundTrip:
    """Calibrate on the first ``fit_months`` months of ``original``'s log (seed ``seed``;
    without its session rows unless ``sessions``), simulate the calibrated scenario, and
    compare every month (see the module doc)."""
    months = fit_months + ahead_months
    world = new_subscribers(original, n_users, months * MONTH)
    seeds = range(seed, seed + replications)
    logs = [simulated_log(world, s, START) for s in seeds]
    rows = logs[0] if sessions else logs[0][logs[0].event_type != "session"]
    cut = str((pd.Timestamp(START) + pd.Timedelta(days=fit_months * MONTH)).date())
    name = f"{original.name} (seed {seed})"
    log = validate_events(rows.reset_index(drop=True), name, limits=SIMULATED)
    calibration = calibrate_subscriptions(
        log, cut, base=original.name, classes=classes, users=n_users
    )
    fitted = replace(calibration.scenario, horizon_days=world.horizon_days, releases=world.releases)
    twin = new_subscribers(fitted, n_users, world.horizon_days)
    ours = [monthly_figures(e, months) for e in logs]
    theirs = [monthly_figures(simulated_log(twin, 10_000 + s, START), months) for s in seeds]
    return RoundTrip(comparison(ours, theirs, fit_months), calibration)


def comparison(
    original: list[pd.DataFrame], calibrated: list[pd.DataFrame], fit_months: int
) -> pd.DataFrame:
    """Per month and figure: the original (first replication), the spread of both worlds,
    the calibrated mean, the error in percent and whether it is within tolerance."""
    a = np.stack([f[list(FIGURES)].to_numpy() for f in original])  # (reps, months, figures)
    b = np.stack([f[list(FIGURES)].to_numpy() for f in calibrated])
    first, mean = a[0], b.mean(axis=0)
    band = Z95 * np.sqrt(a.var(axis=0, ddof=1) + b.var(axis=0, ddof=1) / b.shape[0])
    error = 100.0 * (mean - first) / np.maximum(np.abs(first), 1e-9)
    months = original[0].month.to_numpy()
    out = pd.DataFrame(
        {
            "month": np.repeat(months, len(FIGURES)),
            "figure": np.tile(FIGURES, months.size),
            "original": first.reshape(-1),
            "calibrated": mean.reshape(-1),
            "error_pct": error.reshape(-1),
            "band": band.reshape(-1),
        }
    )
    out["within"] = (out.error_pct.abs() <= TOLERANCE_PCT) | (
        (out.calibrated - out.original).abs() <= out.band
    )
    out["holdout"] = out.month > fit_months
    return out
