"""``calibrate``: from a validated event log to a fitted, checked simulator scenario.

Steps: summarise the customers born before the holdout; fit the simulator's lifecycle model
by maximum likelihood (with the base scenario's trait multipliers integrated out); fit the
BG/NBD reference on the same data; build the scenario; simulate the customers as a cohort
with the simulator and compare with what the log shows, in and out of sample.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.bgnbd import BGNBDFit, fit_bgnbd
from sim.calibration.campaigns import ATTRIBUTION_DAYS
from sim.calibration.customers import (
    Customers,
    Weeks,
    activity_days,
    customers_at,
    weekly_repeats,
)
from sim.calibration.eventlog import OFFER_EVENTS, UNCALIBRATED, EventLog, EventLogError
from sim.calibration.fit import LifecycleFit, fit_classes
from sim.calibration.forecast import CohortForecast, simulate_cohort
from sim.calibration.lifecycle import Traits
from sim.calibration.likelihood import posterior
from sim.calibration.offers import offer_effects
from sim.calibration.spells import subscription_spells
from sim.calibration.subscriptions import (
    FIT_SAMPLE,
    MIN_FIT_SAMPLE,
    SubscriptionCalibration,
    calibrate_subscriptions,
    subscription_cut,
)
from sim.calibration.to_scenario import calibrated_scenario, scenario_traits
from sim.constants import STATES
from sim.presets import SCENARIOS
from sim.scenario import Scenario
from sim.validation import check_choice, check_int

RECENCY_BUCKETS = ((0, 4), (4, 13), (13, 26), (26, np.inf))  # weeks since last activity
MAX_FREQUENCY = 7  # frequency histogram: 0..6 and 7+


@dataclass(frozen=True)
class Spend:
    """Spend per activity day: overall mean with its standard error, and per class."""

    mean: float
    se: float
    per_class: np.ndarray


@dataclass
class Calibration:
    """Everything a calibration found; ``summary()`` is its JSON form."""

    log: EventLog
    cut: int
    end: int
    holdout: bool
    customers: Customers
    lifecycle: LifecycleFit
    fits: list[LifecycleFit]
    traits: Traits
    bgnbd: BGNBDFit
    spend: Spend
    scenario: Scenario
    forecast: CohortForecast
    weekly: pd.DataFrame
    offers: pd.DataFrame
    frequency: pd.DataFrame
    recency: pd.DataFrame
    errors: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def date(self, day: int) -> str:
        return str((self.log.origin + pd.Timedelta(days=day)).date())

    def summary(self) -> dict[str, Any]:
        return {
            "log": self.log.path,
            "customers": self.customers.n,
            "calibration_period": [self.date(0), self.date(self.cut)],
            "holdout_period": [self.date(self.cut + 1), self.date(self.end)]
            if self.holdout
            else None,
            "bad_rows_skipped": len(self.log.bad_rows),
            "classes": self.lifecycle.model.k,
            "parameters": self.lifecycle.table(),
            "loglik": self.lifecycle.fit.loglik,
            "bic": self.lifecycle.bic,
            "model_comparison": [
                {
                    "classes": f.model.k,
                    "loglik": f.fit.loglik,
                    "parameters": f.n_params,
                    "aic": f.aic,
                    "bic": f.bic,
                }
                for f in self.fits
            ],
            "converged": self.lifecycle.fit.converged,
            "spend_per_activity_day": {"mean": self.spend.mean, "se": self.spend.se},
            "bgnbd": bgnbd_summary(self.bgnbd),
            "errors": self.errors,
            "offers": self.offers.to_dict(orient="records"),
            "notes": self.notes,
            "seconds": self.seconds,
        }


SIMULATED_USERS = 200_000  # default reps: about this many simulated customers in all


def check_calibrate_args(
    base: str, classes: int, reps: int | None, seed: int, fit_sample: int | None = None
) -> None:
    check_choice("base", base, SCENARIOS)
    if fit_sample is not None and fit_sample != 0:
        ok = isinstance(fit_sample, int) and not isinstance(fit_sample, bool)
        if not ok or fit_sample < MIN_FIT_SAMPLE:
            raise ValueError(
                f"fit_sample (--fit-sample): {fit_sample!r} is not allowed; expected 0 (every "
                f"customer) or an integer >= {MIN_FIT_SAMPLE}"
            )
    check_int("classes", classes, 1, 5)
    if reps is not None:
        check_int("reps", reps, 1, 1000)
    check_int("seed", seed, 0, 2**63 - 1)


def base_for(log: EventLog, base: str | None) -> str:
    """The base preset: as given, else ``streaming`` for a subscription log and ``retail``
    for a log of purchases and sessions."""
    return base or ("streaming" if log.has_subscriptions else "retail")


def calibrate(
    log: EventLog,
    holdout_from: str | None = None,
    *,
    base: str | None = None,
    classes: int = 2,
    reps: int | None = None,
    seed: int = 0,
    users: int | None = None,
    progress: bool = False,
    fit_sample: int | None = None,
) -> Calibration | SubscriptionCalibration:
    """Fit the simulator to ``log``; with ``holdout_from`` (a date) the events from that day
    on are held out and predicted. A log with subscription events is calibrated as a
    subscription business (:func:`sim.calibration.subscriptions.calibrate_subscriptions`);
    otherwise each customer is simulated ``reps`` times (default: about 200,000 simulated
    customers in all). ``base`` names the preset whose non-lifecycle parts (pain points,
    channels, response model, calendar, margin) the scenario keeps (default:
    :func:`base_for`). ``fit_sample``: a subscription log's customers per plan the
    lifecycle is fitted on, when it has sessions (default ``FIT_SAMPLE``; 0: all)."""
    base = base_for(log, base)
    check_calibrate_args(base, classes, reps, seed, fit_sample)
    if log.has_subscriptions:
        return calibrate_subscriptions(
            log,
            holdout_from,
            base=base,
            classes=classes,
            users=users,
            fit_sample=FIT_SAMPLE if fit_sample is None else fit_sample,
            seed=seed,
            progress=progress,
        )
    days = activity_days(log)
    cut, end = periods(log, holdout_from, days)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    data = customers_at(log, cut, days)
    check_repeats(log, data)
    base_scenario = SCENARIOS[base](n_users=users or max(data.n, 1000), horizon_days=365)
    traits = scenario_traits(base_scenario)
    fits = fit_classes(data, classes, traits)
    fit = fits[-1]
    bg = fit_bgnbd(data.x, data.t_x / 7.0, data.T / 7.0)
    seconds["fit"] = time.perf_counter() - t0
    joint = posterior(fit.model, data, traits)  # (n, K, 3)
    cls = joint.sum(axis=2)
    spend = spend_per_class(data, cls)
    mix = joint.sum(axis=0) / np.maximum(cls.sum(axis=0)[:, None], 1e-12)  # P(state | class)
    scenario = calibrated_scenario(fit.model, base_scenario, mix, spend.per_class)
    t1 = time.perf_counter()
    reps = reps or int(np.clip(SIMULATED_USERS // data.n, 5, 100))
    fc = simulate_cohort(scenario, data.birth, cut, end, reps, seed, progress)
    seconds["simulate"] = time.perf_counter() - t1
    weekly = weekly_table(log, data, days, fc, bg, cut, end)
    result = Calibration(
        log=log,
        cut=cut,
        end=end,
        holdout=end > cut,
        customers=data,
        lifecycle=fit,
        fits=fits,
        traits=traits,
        bgnbd=bg,
        spend=spend,
        scenario=scenario,
        forecast=fc,
        weekly=weekly,
        offers=offer_effects(log, fit.model, traits, ATTRIBUTION_DAYS),
        frequency=frequency_table(data, fc),
        recency=recency_table(data, days, fc, end) if end > cut else pd.DataFrame(),
        errors=errors(weekly, bg),
        notes=[*notes(log, base, fits, data.n), *bgnbd_notes(bg)],
        seconds=seconds,
    )
    seconds["total"] = time.perf_counter() - t0
    return result


def periods(
    log: EventLog, holdout_from: str | None, days: pd.DataFrame | None = None
) -> tuple[int, int]:
    """The last day of the calibration period and the log's last activity day."""
    days = activity_days(log) if days is None else days
    last = int(days.day.max())
    if holdout_from is None:
        return last, last
    start = log.day_of(holdout_from, "holdout_from")
    if not 1 <= start <= last:
        raise EventLogError(
            f"holdout_from: {holdout_from!r}; allowed: a date after the log's first day "
            f"and on or before its last activity ({log.origin.date()} to "
            f"{(log.origin + pd.Timedelta(days=last)).date()})"
        )
    return start - 1, last


def check_repeats(log: EventLog, data: Customers) -> None:
    if data.x.sum() == 0:
        raise EventLogError(
            f"event log: none of the {data.n:,} customers has a second activity day by "
            f"{(log.origin + pd.Timedelta(days=data.cut)).date()}; repeat activity is what "
            "the lifecycle is fitted to (a longer log, or a later --holdout-from)"
        )


def precheck(log: EventLog, holdout_from: str | None) -> tuple[int, int]:
    """Everything about the log and the dates that would stop a calibration, checked
    cheaply up front: returns the calibration cut and the last day."""
    if log.has_subscriptions:
        end = int(log.end)
        return subscription_cut(log, subscription_spells(log), holdout_from, end), end
    days = activity_days(log)
    cut, end = periods(log, holdout_from, days)
    check_repeats(log, customers_at(log, cut, days))
    return cut, end


def spend_per_class(data: Customers, cls: np.ndarray) -> Spend:
    """Mean spend per activity day (first day included), overall with a ratio-estimator
    standard error over customers, and per class weighted by the class posteriors."""
    total = data.first_spend + np.add.reduceat(
        np.append(data.spend, 0.0), np.minimum(data.starts[:-1], data.spend.size)
    ) * (data.x > 0)
    count = 1.0 + data.x
    mean = float(total.sum() / count.sum())
    resid = total - mean * count
    se = float(np.sqrt(np.sum(resid**2)) / count.sum())
    per_class = (cls.T @ total) / np.maximum(cls.T @ count, 1e-12)
    return Spend(mean, se, per_class)


def bgnbd_cumulative(bg: BGNBDFit, birth: np.ndarray, weeks: Weeks) -> np.ndarray:
    """BG/NBD expected cumulative repeat purchases of the cohort at the end of each week
    (NaN throughout when the fit gives no predictions)."""
    out = np.full(weeks.n, np.nan)
    if not bg.status.ok:
        return out
    for w, last in enumerate(weeks.last_day()):
        age = (last - birth) / 7.0
        out[w] = bg.expected(age[age > 0]).sum()
    return out


def bgnbd_summary(bg: BGNBDFit) -> dict[str, Any]:
    """The BG/NBD reference in the summary: how its fit ended, in words, and its estimates."""
    return {
        "status": bg.status.code,
        "reason": bg.status.reason,
        "detail": bg.status.detail,
        "parameters": bg.table(),
        "loglik": bg.fit.loglik,
    }


def bgnbd_notes(bg: BGNBDFit) -> list[str]:
    """A note when the BG/NBD reference gives no predictions, saying why."""
    if bg.status.ok:
        return []
    return [
        f"The BG/NBD reference is not available: {bg.status.reason}. Its columns are empty "
        "and no error is computed for it (its estimates and how the fit ended are in the "
        "summary's bgnbd entry)."
    ]


def weekly_table(
    log: EventLog,
    data: Customers,
    days: pd.DataFrame,
    fc: CohortForecast,
    bg: BGNBDFit,
    cut: int,
    end: int,
) -> pd.DataFrame:
    weeks = Weeks(cut, end)
    actual = weekly_repeats(log, data.ids, weeks, days)
    sim = fc.weekly.mean(axis=0)
    sim_cum = np.cumsum(fc.weekly, axis=1)
    bg_cum = bgnbd_cumulative(bg, data.birth, weeks)
    last = weeks.last_day()
    return pd.DataFrame(
        {
            "week": np.arange(1, weeks.n + 1),
            "last_day": last,
            "period": np.where(last <= cut, "calibration", "holdout"),
            "actual": actual,
            "simulated": sim,
            "bgnbd": np.diff(bg_cum, prepend=0.0),
            "actual_cumulative": np.cumsum(actual),
            "simulated_cumulative": sim_cum.mean(axis=0),
            "simulated_cumulative_se": sim_cum.std(axis=0, ddof=1) / np.sqrt(fc.reps)
            if fc.reps > 1
            else np.nan,
            "bgnbd_cumulative": bg_cum,
        }
    )


def errors(weekly: pd.DataFrame, bg: BGNBDFit) -> dict[str, Any]:
    """Totals and percent errors of repeat activity in each period, simulator and BG/NBD;
    where BG/NBD gives no prediction its total and error are None and ``bgnbd_note`` says
    why ("not available: ...")."""
    out: dict[str, Any] = {}
    for period in ("calibration", "holdout"):
        part = weekly[weekly.period == period]
        if part.empty:
            continue
        actual = float(part.actual.sum())
        row: dict[str, Any] = {"actual": actual, "weeks": len(part)}
        for model in ("simulated", "bgnbd"):
            pred = float(part[model].sum(skipna=False))
            ok = np.isfinite(pred)
            row[model] = pred if ok else None
            row[f"{model}_error_pct"] = 100.0 * (pred - actual) / actual if ok and actual else None
        if row["bgnbd"] is None:
            reason = bg.status.reason if not bg.status.ok else "its prediction is not finite"
            row["bgnbd_note"] = f"not available: {reason}"
        out[f"{period}_repeats"] = row
    return out


def frequency_table(data: Customers, fc: CohortForecast) -> pd.DataFrame:
    """Customers by repeat activity days in the calibration period: log vs simulator."""
    bins = np.arange(MAX_FREQUENCY + 1)
    actual = np.bincount(np.minimum(data.x, MAX_FREQUENCY), minlength=bins.size)
    sim = np.bincount(np.minimum(fc.x_cut, MAX_FREQUENCY), minlength=bins.size) / fc.reps
    labels = [str(b) for b in bins[:-1]] + [f"{MAX_FREQUENCY}+"]
    return pd.DataFrame({"repeats": labels, "actual": actual, "simulated": sim})


def recency_table(
    data: Customers, days: pd.DataFrame, fc: CohortForecast, end: int
) -> pd.DataFrame:
    """Share of customers active again in the holdout, by weeks since their last activity
    at the cut: log vs simulator."""
    later = days[(days.day > data.cut) & (days.day <= end)].user_id.unique()
    back = np.isin(data.ids, later)
    weeks = (data.T - data.t_x) / 7.0
    rows = []
    for lo, hi in RECENCY_BUCKETS:
        a = (weeks >= lo) & (weeks < hi)
        s = (fc.recency_weeks >= lo) & (fc.recency_weeks < hi)
        label = f"{lo}-{hi}" if np.isfinite(hi) else f"{lo}+"
        rows.append(
            {
                "weeks_since_last": label,
                "customers": int(a.sum()),
                "actual_share_back": float(back[a].mean()) if a.any() else np.nan,
                "simulated_share_back": float(fc.came_back[s].mean()) if s.any() else np.nan,
            }
        )
    return pd.DataFrame(rows)


def notes(log: EventLog, base: str, fits: list[LifecycleFit], customers: int) -> list[str]:
    fit = fits[-1]
    out = list(log.notes)  # about the reading: bad rows left out, duplicate rows
    ev = log.events
    users = ev.user_id[~ev.event_type.isin(UNCALIBRATED)].nunique()  # opt-outs, signals
    if users > customers:
        out.append(
            f"{users - customers:,} of the log's {users:,} users are not customers here: no "
            "purchase or session by the end of the calibration period (signups, offer "
            "recipients only)."
        )
    best = min(fits, key=lambda f: f.bic)
    if best is not fit:
        out.append(
            f"BIC prefers {best.model.k} class(es) to the {fit.model.k} fitted (see the model "
            f"comparison); rerun with --classes {best.model.k} for the simpler model."
        )
    if log.has_offers:
        kinds = log.events.event_type.value_counts()
        counts = ", ".join(f"{k}: {int(kinds.get(k, 0))}" for k in OFFER_EVENTS)
        out.append(
            f"The log holds offer events ({counts}): their effects are estimated in the "
            f"offer table (activity within {ATTRIBUTION_DAYS} days of a send against the "
            "fitted no-offer model). The scenario's catalogue still uses the "
            f"'{base}' preset's lifts, which act per unit of the matching pain-point trait: "
            "compare them with the table's lift per opened offer before relying on them."
        )
    else:
        out.append(
            "The log holds no offer events: offer effects (open rates, lifts, discount "
            f"depths) keep the '{base}' preset's priors."
        )
    if not fit.fit.converged:
        out.append(f"The optimiser did not report convergence: {fit.fit.message}")
    loose = [r["parameter"] for r in fit.table() if not r["identified"]]
    if loose:
        out.append(
            f"Not identified by this log: {', '.join(loose)} (no finite standard error, or a "
            "95% interval wider than a factor of 100). The estimates are the optimum, but "
            "the log barely constrains them; the simulation uses them as they are."
        )
    out.append(
        "Pain points, channels, responsiveness, the release calendar and the margin are "
        f"the '{base}' preset's; the log cannot tell them. States: {', '.join(STATES)}."
    )
    return out
