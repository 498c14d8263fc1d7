"""``calibrate`` for a subscription log: subscriptions, renewals, cancellations and
resubscriptions (and sessions, when the log has them) to a simulator scenario.

Steps: the log's subscription spells (:mod:`sim.calibration.spells`), cut at the holdout;
customers grouped by the plan of their first subscription (a plan is a segment: its own
classes and rates); per plan the simulator's subscription lifecycle
(:mod:`sim.calibration.subscription`) fitted by maximum likelihood with up to ``classes``
latent classes, and the shifted-beta-geometric reference (sBG) on the same spells; the
scenario built from the fits; retention per plan against Kaplan-Meier (``lifelines``) and
sBG; with a holdout, survivors per cohort and month projected by both and compared with the
log.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from sim.calibration.campaigns import campaign_effects
from sim.calibration.eventlog import ACTIVITY, UNCALIBRATED, EventLog, EventLogError
from sim.calibration.histories import Histories, encode, split
from sim.calibration.lifecycle import Traits
from sim.calibration.prices import PriceCalibration, calibrate_prices
from sim.calibration.sbg import SBGFit, contract_periods, fit_sbg
from sim.calibration.spells import no_history, subscription_spells
from sim.calibration.subscription import (
    TINY,
    SubscriptionFit,
    class_posterior,
    fit_classes,
    retention,
    tables,
)
from sim.calibration.to_scenario import ALIKE, scenario_traits
from sim.constants import BILLING_DAYS, DAYS_PER_MONTH, PAIN_POINTS, STATES
from sim.presets import SCENARIOS
from sim.scenario import Plan, Scenario, blend_segments

MIN_REASONS = 30  # exit-survey answers needed before they replace the preset's pain mix
# customers per plan the lifecycle is fitted on, when the log has sessions (a random sample;
# the fit's cost grows with the customers' session days): see the README's speed figures
FIT_SAMPLE = 2_000
SEARCH_SAMPLE = 500  # of those, the customers the number of classes is chosen on
MIN_FIT_SAMPLE = 200  # a smaller sample cannot place a plan's rates (0 = every customer)


@dataclass(frozen=True)
class PlanFit:
    """One plan's customers, their encoded histories and the fits."""

    plan: str
    billing: str
    monthly_price: float
    spells: pd.DataFrame
    histories: Histories
    fits: list[SubscriptionFit]

    @property
    def fit(self) -> SubscriptionFit:
        return self.fits[-1]

    @property
    def period(self) -> int:
        return BILLING_DAYS[self.billing]


@dataclass
class SubscriptionCalibration:
    """Everything a subscription calibration found; ``summary()`` is its JSON form."""

    log: EventLog
    cut: int
    end: int
    holdout: bool
    plans: list[PlanFit]
    traits: Traits
    scenario: Scenario
    retention: pd.DataFrame
    churned: pd.DataFrame
    forecast: pd.DataFrame
    campaigns: pd.DataFrame  # offer effects against randomised holdouts (campaigns.py)
    prices: PriceCalibration  # price changes and their effect (prices.py)
    resubscription: pd.DataFrame  # the cancelled coming back: log vs calibrated
    cohorts: pd.DataFrame  # retention per sign-up cohort: log vs the plan's model and sBG
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def date(self, day: int) -> str:
        return str((self.log.origin + pd.Timedelta(days=day)).date())

    def parameters(self) -> list[dict[str, Any]]:
        fitted = [row for p in self.plans for row in p.fit.table(prefix=f"{p.plan}.")]
        return fitted + self.prices.parameters()

    def summary(self) -> dict[str, Any]:
        return {
            "log": self.log.path,
            "kind": "subscription",
            "customers": int(sum(p.histories.customers_total for p in self.plans)),
            "calibration_period": [self.date(self.log.window_start), self.date(self.cut)],
            "holdout_period": [self.date(self.cut + 1), self.date(self.end)]
            if self.holdout
            else None,
            "plans": [
                {
                    "plan": p.plan,
                    "billing": p.billing,
                    "monthly_price": p.monthly_price,
                    "customers": p.histories.customers_total,
                    "fitted_on": p.fit.n_customers,
                    "classes": p.fit.model.k,
                    "sessions": p.histories.sessions,
                    "loglik": p.fit.fit.loglik,
                    "converged": p.fit.fit.converged,
                    "model_comparison": [
                        {
                            "classes": f.model.k,
                            "customers": f.n_customers,
                            "loglik": f.fit.loglik,
                            "bic": f.bic,
                        }
                        for f in p.fits
                    ],
                }
                for p in self.plans
            ],
            "parameters": self.parameters(),
            "churned": self.churned.to_dict(orient="records"),
            "forecast_errors": forecast_errors(self.forecast),
            "campaigns": self.campaigns.to_dict(orient="records"),
            "prices": self.prices.summary(),
            "notes": self.notes,
            "seconds": self.seconds,
        }


def calibrate_subscriptions(
    log: EventLog,
    holdout_from: str | None = None,
    *,
    base: str = "streaming",
    classes: int = 2,
    users: int | None = None,
    fit_sample: int = FIT_SAMPLE,
    seed: int = 0,
    progress: bool = False,
) -> SubscriptionCalibration:
    """Fit the simulator's subscription lifecycle to ``log`` (see the module doc).
    ``fit_sample``: with sessions in the log, the lifecycle of a plan with more customers
    than this is fitted on that many drawn at random (``seed``; 0: on all): its intervals
    are the sample's. Everything else (class shares of today's customers, retention,
    churned shares, sBG, forecasts, campaigns) uses every customer."""
    t0 = time.perf_counter()
    stage("calibrate: spells and session days", progress)
    spells_all = coded(plain(subscription_spells(log), ("plan", "billing", "reason")))
    end = int(log.end)
    cut = subscription_cut(log, spells_all, holdout_from, end)
    spells = censor(spells_all, cut)
    sessions = session_days(log, cut)
    customers = int(spells_all.user_id.nunique())
    base_scenario = SCENARIOS[base](n_users=users or max(customers, 1000), horizon_days=365)
    traits = scenario_traits(base_scenario, bins=2 if not sessions.empty else 4)
    first = spells.groupby("user_id", sort=False).plan.first()
    rng = np.random.default_rng(seed)
    plan_names = sorted(first.unique())
    plans: list[PlanFit] = []
    with tqdm(total=len(plan_names), desc="calibrate", unit="plan", disable=not progress) as bar:
        for plan in plan_names:
            bar.set_postfix_str(f"fitting {plan}")
            users_of = first.index[first == plan]
            mine = spells[spells.user_id.isin(users_of)]
            seen = sessions[sessions.user_id.isin(users_of)]
            plans.append(
                fit_plan(plan, mine, seen, log.window_start, cut, traits, classes, fit_sample, rng)
            )
            bar.update()
    fitted = time.perf_counter() - t0
    stage("calibrate: class shares of every customer, prices and tables", progress)
    scenario = subscription_scenario(plans, base_scenario, traits, spells)
    names = {p.plan: slug(p.plan) for p in plans}
    prices, scenario = calibrate_prices(log, spells, cut, scenario, names, seed)
    periods = {p.plan: plan_periods(p, log.window_start) for p in plans}
    sbgs = {p.plan: plan_sbg(periods[p.plan]) for p in plans}
    renewals = {p.plan: renewal_data(periods[p.plan], p.period, log.window_start) for p in plans}
    result = SubscriptionCalibration(
        log=log,
        cut=cut,
        end=end,
        holdout=end > cut,
        plans=plans,
        traits=traits,
        scenario=scenario,
        retention=retention_table(plans, traits, sbgs, renewals),
        cohorts=cohort_table(plans, traits, sbgs, renewals, str(log.origin.date())),
        churned=churned_table(plans, traits, renewals),
        forecast=forecast_table(plans, traits, sbgs, spells_all, cut, end, str(log.origin.date()))
        if end > cut
        else pd.DataFrame(),
        campaigns=campaign_effects(log),
        prices=prices,
        resubscription=resubscription_table(plans, traits),
        notes=subscription_notes(plans, spells, base, sbgs)
        + offer_notes(log)
        + [prices.note(base)],
        seconds={"fit": fitted, "total": time.perf_counter() - t0},
    )
    return result


def stage(what: str, progress: bool) -> None:
    """With ``progress``, a line on stderr naming the stage that begins."""
    if progress:
        tqdm.write(f"{what} ...", file=sys.stderr)


def fit_plan(
    plan: str,
    spells: pd.DataFrame,
    seen: pd.DataFrame,
    window: int,
    cut: int,
    traits: Traits,
    classes: int,
    fit_sample: int,
    rng: np.random.Generator,
) -> PlanFit:
    """One plan's histories (every customer) and its lifecycle fits. With sessions, the
    lifecycle is fitted on ``fit_sample`` customers drawn at random (0: all), and the number
    of classes chosen on ``SEARCH_SAMPLE`` of those (without sessions identical histories
    are one row and the fit is fast anyway)."""
    h = encode(spells, seen, window, cut)

    def part(users: np.ndarray) -> Histories:
        mine, their = spells.user_id.isin(users), seen.user_id.isin(users)
        return encode(spells[mine], seen[their], window, cut)

    def draw(users: np.ndarray, size: int) -> np.ndarray | None:
        ok = not seen.empty and 0 < size < users.size
        return rng.choice(np.sort(users), size=size, replace=False) if ok else None

    sample = draw(h.customers, fit_sample)
    fitted = h if sample is None else part(sample)
    search = draw(fitted.customers, SEARCH_SAMPLE)
    fits = fit_classes(fitted, traits, classes, None if search is None else part(search))
    head = spells.sort_values("start").iloc[0]
    price = float(spells.monthly_price.median())
    return PlanFit(plan, str(head.billing), price, spells, h, fits)


def subscription_cut(
    log: EventLog, spells: pd.DataFrame, holdout_from: str | None, end: int
) -> int:
    """The calibration period's last day; a holdout shorter than one billing period, or
    with no event in it, is refused (it cannot judge a forecast), and so is one that leaves
    no cancellation before it (nothing to fit cancelling on)."""
    if holdout_from is None:
        return end
    start = log.day_of(holdout_from, "holdout_from")
    period = int(spells.billing_days.max())
    ev = log.events
    events_after = int(((ev.day >= start) & ~ev.event_type.isin(UNCALIBRATED)).sum())
    if start - log.window_start < period:
        raise EventLogError(
            f"holdout_from: {holdout_from!r}; allowed: a date at least one billing period "
            f"({period} days) after the log's window opens "
            f"({(log.origin + pd.Timedelta(days=log.window_start)).date()}), so that there is "
            "something to calibrate on"
        )
    if not 1 <= start <= end or end - start + 1 < period or events_after == 0:
        raise EventLogError(
            f"holdout_from: {holdout_from!r}; allowed: a date that leaves at least one "
            f"billing period ({period} days) of the log, with events, after it (the log runs "
            f"to {(log.origin + pd.Timedelta(days=end)).date()}; this holdout holds "
            f"{max(end - start + 1, 0)} day(s) and {events_after} event(s))"
        )
    gone = spells.end[spells.cancelled]
    if not (gone < start).any() and len(gone):
        first = (log.origin + pd.Timedelta(days=int(gone.min()))).date()
        raise EventLogError(
            f"holdout_from: {holdout_from!r}; allowed: a date after some of the log's "
            f"cancellations (the first takes effect on {first}): before this date there is "
            "none, so nothing tells how customers cancel (a snapshot such as Telco's dates "
            "every cancellation on its export day and cannot be split in time)"
        )
    return start - 1


def censor(spells: pd.DataFrame, cut: int) -> pd.DataFrame:
    """The spells as seen on day ``cut``: later ones dropped, running ones censored."""
    out = spells[spells.start <= cut].copy()
    out["cancelled"] = out.cancelled & (out.end <= cut)
    out["end"] = np.minimum(out.end, cut)
    return out


def session_days(log: EventLog, cut: int) -> pd.DataFrame:
    """One row per user (the log's code, as :func:`coded`) and day with a session (or
    purchase), up to ``cut`` (the log is sorted by user and time: a repeat is its
    neighbour)."""
    ev = log.events
    act = (ev.event_type.isin(ACTIVITY) & (ev.day <= cut)).to_numpy()
    user, day = ev.user_id.cat.codes.to_numpy()[act], ev.day.to_numpy()[act]
    new = np.ones(user.size, bool)
    new[1:] = (user[1:] != user[:-1]) | (day[1:] != day[:-1])
    return pd.DataFrame({"user_id": user[new], "day": day[new]})


def plain(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """``frame`` with the (categorical) ``columns`` as plain text."""
    return frame.assign(**{c: frame[c].astype(str) for c in columns})


def coded(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its (categorical) ``user_id`` as the log's integer code: in the order
    of the names (the categories are sorted), lighter and faster to match than text."""
    return frame.assign(user_id=frame.user_id.cat.codes.astype(np.int64))


# ------------------------------------------------------------------ the scenario
def subscription_scenario(
    plans: list[PlanFit], base: Scenario, traits: Traits, spells: pd.DataFrame
) -> Scenario:
    """The base scenario with one segment per plan and class, its plans from the log."""
    blended = blend_segments(base.segments)
    pain = pain_mix(spells, base) or dict(blended.pain_mix)
    total = sum(p.histories.customers_total for p in plans)
    segments = []
    for p in plans:
        m = p.fit.model
        state = initial_states(p, traits)
        tenure = current_tenure(p.spells)
        for c in range(m.k):
            engaged: dict[str, Any] = {
                "activity_rate": float(m.activity_rate[c]),
                "dormant_activity_rate": float(m.dormant_activity_rate[c]),
                "activity_heterogeneity": float(m.activity_shape),
            } if m.sessions else {}  # fmt: skip
            segments.append(
                replace(
                    blended,
                    name=f"{slug(p.plan)}_{c}",
                    weight=float(p.histories.customers_total / total * m.weight[c]),
                    initial_state={s: float(state[c, i]) for i, s in enumerate(STATES)},
                    plan_mix={slug(p.plan): 1.0},
                    pain_mix=pain,
                    lapse_rate=float(m.lapse_rate[c]),
                    return_rate=float(m.return_rate[c]),
                    cancel_rate=float(m.cancel_rate[c]),
                    dormant_cancel_rate=float(m.dormant_cancel_rate[c]),
                    comeback_rate=float(m.comeback_rate[c]) if m.returns else blended.comeback_rate,
                    heterogeneity=float(m.heterogeneity[c]),
                    return_heterogeneity=ALIKE,  # the fit has no multiplier on coming back
                    mean_tenure_days=max(tenure, 1.0),
                    **engaged,
                )
            )
    plan_list = tuple(Plan(slug(p.plan), p.monthly_price, billing=p.billing) for p in plans)
    return replace(
        base, name="calibrated", plans=plan_list, segments=tuple(segments), price_changes=()
    )


def slug(name: str) -> str:
    """A plan's name as a config key (lower case, letters, digits and _)."""
    out = "".join(ch if ch.isalnum() else "_" for ch in name.strip().lower()).strip("_")
    return out or "plan"


def initial_states(p: PlanFit, traits: Traits) -> np.ndarray:
    """P(state at the cut | class), (K, 3): subscribers split between ACTIVE and DORMANT by
    the class's long-run engagement share, the cancelled in CHURNED."""
    m = p.fit.model
    post = np.concatenate([class_posterior(m, traits, h) for h in split(p.histories)])  # (n, K)
    last = p.spells.sort_values("start").groupby("user_id").tail(1).set_index("user_id")
    off = last.loc[p.histories.customers, "cancelled"].to_numpy(bool)
    post = post * p.histories.count[:, None]
    churned = (post * off[:, None]).sum(axis=0) / np.maximum(post.sum(axis=0), 1e-12)
    lapse, back = m.lapse_rate, m.return_rate
    dormant = np.where(lapse + back > 0, lapse / np.maximum(lapse + back, 1e-12), 0.0)
    out = np.stack([(1 - churned) * (1 - dormant), (1 - churned) * dormant, churned], axis=1)
    return out / out.sum(axis=1, keepdims=True)


def current_tenure(spells: pd.DataFrame) -> float:
    running = spells[~spells.cancelled]
    return float((running.end - running.start).mean()) if len(running) else 365.0


def pain_mix(spells: pd.DataFrame, base: Scenario) -> dict[str, float] | None:
    """The exit survey's reasons as the pain-point mix, corrected for the base scenario's
    survey accuracy (a wrong answer names a pain point at random); None when fewer than
    ``MIN_REASONS`` cancellations gave one."""
    reasons = spells.reason[spells.cancelled & spells.reason.isin(PAIN_POINTS)]
    if len(reasons) < MIN_REASONS:
        return None
    share = reasons.value_counts(normalize=True).reindex(PAIN_POINTS, fill_value=0.0)
    acc = base.dynamics.survey_accuracy
    true = np.clip((share.to_numpy() - (1 - acc) / len(PAIN_POINTS)) / max(acc, 1e-9), 0, None)
    if true.sum() <= 0:
        return None
    return dict(zip(PAIN_POINTS, (true / true.sum()).tolist(), strict=True))


# ------------------------------------------------------------------ checks
def first_spells(spells: pd.DataFrame) -> pd.DataFrame:
    """Each customer's first subscription, but for customers lapsed with no history known
    (:func:`sim.calibration.spells.no_history`): their first spell is not seen. Spells are
    ordered by start, then by their number, so a customer who resubscribes on the day their
    no-history spell is dated (the window's first) is left out every time, never only when
    an unstable sort put the resubscription first (a holdout's forecast once looked such a
    customer up in one table and not the other)."""
    ordered = spells.sort_values(["start", "spell"], kind="stable")
    first = ordered.groupby("user_id", sort=False).head(1)
    return first[~no_history(first)]


def plan_periods(p: PlanFit, window: int) -> pd.DataFrame:
    """sBG's data (renewals survived) of the plan's first subscriptions."""
    return contract_periods(first_spells(p.spells), p.period, window)


def plan_sbg(data: pd.DataFrame) -> SBGFit:
    """sBG on a plan's :func:`plan_periods` (left-truncated where begun before the window,
    left-censored where a complete log says they had left by then)."""
    return fit_sbg(
        data.periods.to_numpy(),
        data.churned.to_numpy(bool),
        data.first_observed.to_numpy(),
        data.left.to_numpy(bool),
    )


def renewal_data(data: pd.DataFrame, period: int, window: int) -> pd.DataFrame:
    """A plan's :func:`plan_periods` (billing ``period`` days) with ``duration`` (the renewal
    at which a customer cancelled, or those survived) and ``entry`` (the renewals survived
    when the window opened, for a left-truncated spell), as Kaplan-Meier takes them: it
    cannot take a spell known only to have ended somewhere in several periods before the
    window (see the comment)."""
    entry = data.first_observed.to_numpy()
    # a left-censored spell cancelled within one period before the window is placed exactly
    # (T = 1); one known only to have left within several cannot be placed by Kaplan-Meier:
    # it is left out and the other spells begun that long before the window are conditioned
    # on surviving to it (left truncation), as the rule without such spells is
    vague = (data.left & (data.periods > 1)).to_numpy()
    if vague.any():
        before = np.maximum(window - data.start.to_numpy(), 0) // period
        entry = np.where(before > 1, np.minimum(before, data.periods), entry)
    lost = data.churned & ~data.left  # a left-censored spell: cancelled by then (T <= periods)
    return data.assign(duration=data.periods + lost.astype(np.int64), entry=entry)[~vague]


def km_curve(data: pd.DataFrame, grid: np.ndarray) -> dict[str, np.ndarray]:
    """Kaplan-Meier (lifelines, left-truncated at ``entry``) of renewal ``data`` on ``grid``
    (renewals): the curve, its 95% band and the customers at risk."""
    from lifelines import KaplanMeierFitter

    km = KaplanMeierFitter().fit(data.duration, data.churned, entry=data.entry)
    band = km.confidence_interval_survival_function_
    at = band.index.to_numpy(float)
    duration, entry = data.duration.to_numpy(), data.entry.to_numpy()
    return {
        "at_risk": np.array([int(((duration >= t) & (entry < max(t, 1))).sum()) for t in grid]),
        "kaplan_meier": km.survival_function_at_times(grid).to_numpy(),
        "km_low": np.interp(grid, at, band.iloc[:, 0].to_numpy()),
        "km_high": np.interp(grid, at, band.iloc[:, 1].to_numpy()),
    }


def curves(p: PlanFit, data: pd.DataFrame, traits: Traits, sbg: SBGFit) -> pd.DataFrame:
    """Per billing period, from the first one anyone in ``data`` is observed at (their
    smallest ``entry``) on: the Kaplan-Meier of ``data`` with its band and those at risk,
    and the calibrated model and sBG on the same footing (conditioned on that period: for
    customers who all signed up long before the window, Kaplan-Meier's curve is the share
    still subscribed of those subscribed at their first observed period)."""
    first = int(data.entry.min())
    grid = np.arange(first, int(data.duration.max()) + 1)
    model = retention(p.fit.model, traits, np.r_[first, grid] * p.period, p.period)
    ref = sbg.survival(np.r_[first, grid].astype(np.float64))
    return pd.DataFrame(
        {
            "period": grid,
            **km_curve(data, grid),
            "calibrated": model[1:] / model[0],
            "sbg": ref[1:] / ref[0],
        }
    )


def retention_table(
    plans: list[PlanFit],
    traits: Traits,
    sbgs: dict[str, SBGFit],
    renewals: dict[str, pd.DataFrame],
) -> pd.DataFrame:
    """Per plan and billing period since subscribing: Kaplan-Meier (lifelines, with left
    truncation for spells begun before the window) with its 95% band, the calibrated
    model and sBG (:func:`curves`); ``renewals``: each plan's :func:`renewal_data`."""
    tables_ = [curves(p, renewals[p.plan], traits, sbgs[p.plan]).assign(plan=p.plan) for p in plans]
    out = pd.concat(tables_, ignore_index=True)
    return out[["plan", *[c for c in out.columns if c != "plan"]]]


MIN_COHORT = 30  # customers a sign-up cohort needs for its own retention curve
MAX_COHORTS = 12  # curves per plan: older cohorts are merged into one


def cohort_labels(start: pd.Series, origin: str) -> np.ndarray:
    """Each customer's sign-up cohort: the calendar quarter (``2024-Q1``), or the year when
    sign-ups span more than three years; beyond ``MAX_COHORTS`` cohorts, the oldest are one
    (``2016 and before``)."""
    signed = pd.Timestamp(origin) + pd.to_timedelta(start.to_numpy(), unit="D")
    year = pd.Series(signed.year.astype(str))
    quarterly = (signed.max() - signed.min()).days <= 3 * 365.25
    label = year + "-Q" + pd.Series(signed.quarter.astype(str)) if quarterly else year
    order = np.sort(label.unique())
    if order.size > MAX_COHORTS:
        oldest = order[-MAX_COHORTS]
        label = label.where(label > oldest, f"{oldest} and before")
    return label.to_numpy()


def cohort_table(
    plans: list[PlanFit],
    traits: Traits,
    sbgs: dict[str, SBGFit],
    renewals: dict[str, pd.DataFrame],
    origin: str,
) -> pd.DataFrame:
    """Per plan, sign-up cohort (:func:`cohort_labels`) and billing period since
    subscribing: the cohort's Kaplan-Meier (left-truncated for those who signed up before
    the window) with its 95% band, beside the plan's calibrated model and sBG, conditioned
    as the cohort's curve is (:func:`curves`): where cohorts part from the model, the log
    has a drift the model does not, such as a price change or a better product. Cohorts
    under ``MIN_COHORT`` customers are left out."""
    rows = []
    for p in plans:
        data = renewals[p.plan]
        for cohort, part in data.groupby(cohort_labels(data.start, origin), sort=True):
            if len(part) < MIN_COHORT:
                continue
            table = curves(p, part, traits, sbgs[p.plan])
            rows.append(table.assign(plan=p.plan, cohort=str(cohort), customers=len(part)))
    if not rows:
        return pd.DataFrame()
    out = pd.concat(rows, ignore_index=True)
    first = ["plan", "cohort", "customers"]
    return out[[*first, *[c for c in out.columns if c not in first]]]


def resubscription_table(plans: list[PlanFit], traits: Traits, months: int = 24) -> pd.DataFrame:
    """Per plan and 30-day month since cancelling: the share of the cancelled who have
    resubscribed, by Kaplan-Meier (lifelines) on the time away seen in the log (censored at
    its end) with the 95% band, and by the calibrated model (each class's comeback rate at
    the class's share, times the trait draws). Plans without a cancellation are left out."""
    from lifelines import KaplanMeierFitter

    rows = []
    for p in plans:
        h = p.histories
        if not h.away_owner.size:
            continue
        km = KaplanMeierFitter().fit(h.away_days, h.away_back, weights=h.count[h.away_owner])
        grid = np.arange(0, months + 1)
        days = grid * DAYS_PER_MONTH
        band = km.confidence_interval_survival_function_
        at = band.index.to_numpy(float)
        tab = tables(p.fit.model, traits)
        back = np.exp(tab.log_prior) @ -np.expm1(-np.outer(tab.come, days))  # 0 at month 0
        rows.append(
            pd.DataFrame(
                {
                    "plan": p.plan,
                    "month": grid,
                    "away": [int(h.count[h.away_owner] @ (h.away_days >= d)) for d in days],
                    "kaplan_meier": 1.0 - km.survival_function_at_times(days).to_numpy(),
                    "km_low": 1.0 - np.interp(days, at, band.iloc[:, 1].to_numpy()),
                    "km_high": 1.0 - np.interp(days, at, band.iloc[:, 0].to_numpy()),
                    "calibrated": back,
                }
            )
        )
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def churned_table(
    plans: list[PlanFit], traits: Traits, renewals: dict[str, pd.DataFrame]
) -> pd.DataFrame:
    """Per plan: the share of first subscriptions seen cancelled in the log against the
    model's expectation over the same observation times, on ``renewals`` (Kaplan-Meier's
    rows, :func:`renewal_data`). A customer first observed at renewal ``e`` (0 from
    sign-up; more for a spell begun before the window) is expected cancelled with
    probability ``sum_t>=e (S(t) - S(t+1)) / S(e) x G(t) / G(e-1)``: S the model's retention
    from sign-up (a mixture over classes and multipliers, so a long-standing customer is
    likely a durable one), G the probability of being observed beyond t renewals
    (Kaplan-Meier on the censored spells, lifelines, with the same entries). Without
    entries this is the share a cohort followed as the log follows it would show."""
    from lifelines import KaplanMeierFitter

    rows = []
    for p in plans:
        data = renewals[p.plan]
        periods, off = data.periods.to_numpy(), data.churned.to_numpy(bool)
        entry = np.minimum(data.entry.to_numpy(), periods)
        grid = np.arange(0, int(periods.max()) + 2)
        surv = retention(p.fit.model, traits, grid * p.period, p.period)
        followed = KaplanMeierFitter().fit(periods, ~off, entry=entry)
        g = np.r_[1.0, followed.survival_function_at_times(grid[:-1]).to_numpy()]  # G(t-1)
        term = (surv[:-1] - surv[1:]) * g[1:]  # t = 0 .. max
        tail = np.cumsum(term[::-1])[::-1]  # sum over t >= e
        each = tail[entry] / np.maximum(surv[entry] * g[entry], TINY)
        expected = float(each.mean())
        actual = float(off.mean())
        rows.append(
            {
                "plan": p.plan,
                "customers": len(data),
                "churned_actual": actual,
                "churned_calibrated": expected,
                "difference_pp": 100.0 * (expected - actual),
            }
        )
    return pd.DataFrame(rows)


def forecast_table(
    plans: list[PlanFit],
    traits: Traits,
    sbgs: dict[str, SBGFit],
    spells_all: pd.DataFrame,
    cut: int,
    end: int,
    origin: str,
) -> pd.DataFrame:
    """Survivors per plan, cohort (the month of subscribing, ``2024-03``; the log starts on
    ``origin``) and billing period after the cut: the log,
    the calibrated model and sBG, each projecting the subscribers at the cut by their
    retention from their tenure then."""
    rows = []
    for p in plans:
        first_at_cut = first_spells(p.spells)
        alive = first_at_cut[~first_at_cut.cancelled]
        truth = first_spells(spells_all[spells_all.user_id.isin(alive.user_id)]).set_index(
            "user_id"
        )
        sbg = sbgs[p.plan]
        months = np.arange(1, (end - cut) // p.period + 1)
        tenure = (cut - alive.start.to_numpy()) // p.period
        horizon = int(tenure.max() + months.max() + 1) if len(alive) and months.size else 1
        model = retention(p.fit.model, traits, np.arange(horizon + 1) * p.period, p.period)
        signed = pd.Timestamp(origin) + pd.to_timedelta(alive.start.to_numpy(), unit="D")
        cohort = signed.strftime("%Y-%m").to_numpy()  # the month they signed up
        stop = truth.loc[alive.user_id, "end"].to_numpy()
        gone = truth.loc[alive.user_id, "cancelled"].to_numpy(bool)
        for m in months:
            day = cut + m * p.period
            actual = ~(gone & (stop <= day))
            ratio = model[tenure + m] / np.maximum(model[tenure], 1e-12)
            ratio_sbg = sbg.survival(tenure + m) / np.maximum(sbg.survival(tenure), 1e-12)
            frame = pd.DataFrame(
                {"cohort": cohort, "actual": actual, "calibrated": ratio, "sbg": ratio_sbg}
            )
            agg = frame.groupby("cohort").sum(min_count=1).reset_index()  # no sBG: empty
            agg.insert(0, "plan", p.plan)
            agg.insert(2, "months_ahead", int(m))
            rows.append(agg)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def forecast_errors(forecast: pd.DataFrame) -> dict[str, Any] | None:
    """Mean absolute percentage error of survivors per plan and month ahead (cohorts
    summed), calibrated model vs sBG, on the plans where sBG is available (its fit
    converged; ``sbg_unavailable`` lists the others) and the calibrated model's on all."""
    if forecast.empty:
        return None
    cols = ["actual", "calibrated", "sbg"]
    total = forecast.groupby(["plan", "months_ahead"])[cols].sum(min_count=1)
    err = total[["calibrated", "sbg"]].sub(total.actual, axis=0).abs()
    err = err.div(total.actual.clip(lower=1), axis=0)
    both = err.sbg.notna()
    missing = sorted(set(total.index.get_level_values("plan")[~both]))

    def pct(values: pd.Series) -> float | None:
        return float(100.0 * values.mean()) if values.notna().any() else None

    return {
        "calibrated_mape_pct": pct(err.calibrated[both]) if both.any() else pct(err.calibrated),
        "sbg_mape_pct": pct(err.sbg[both]),
        "calibrated_all_plans_mape_pct": pct(err.calibrated),
        "sbg_unavailable": missing,
    }


def forecast_scope(errors: dict[str, Any]) -> str:
    """Which plans the forecast errors compare, when sBG is missing for some ("" if none)."""
    missing = errors.get("sbg_unavailable") or []
    if not missing:
        return ""
    if errors.get("sbg_mape_pct") is None:  # no plan has one: the calibrated error is on all
        return f" (sBG not available for any plan: {', '.join(missing)})"
    everyone = errors.get("calibrated_all_plans_mape_pct")
    shown = "not available" if everyone is None else f"{everyone:.1f}%"
    return (
        f" (on the plans with an sBG fit; sBG not available for {', '.join(missing)}; "
        f"calibrated on every plan: {shown})"
    )


def subscription_notes(
    plans: list[PlanFit], spells: pd.DataFrame, base: str, sbgs: dict[str, SBGFit]
) -> list[str]:
    out: list[str] = []
    for p in plans:
        if not sbgs[p.plan].status.ok:
            out.append(f"plan {p.plan}: sBG not available: {sbgs[p.plan].status.reason}")
        out.extend(f"plan {p.plan}: {d}" for d in p.fit.dropped)
        if not p.histories.sessions:
            out.append(
                f"plan {p.plan}: the log has no sessions, so ACTIVE and DORMANT are hidden "
                "phases of tenure (they shape how retention changes with tenure); session "
                f"rates are the '{base}' preset's."
            )
        if not p.fit.model.returns:
            out.append(
                f"plan {p.plan}: no resubscription in the log, so the natural win-back rate "
                f"(comeback_rate) is the '{base}' preset's."
            )
        if not p.fit.fit.converged:
            out.append(f"plan {p.plan}: the optimiser did not report convergence: "
                       f"{p.fit.fit.message}")  # fmt: skip
        loose = [r["parameter"] for r in p.fit.table(f"{p.plan}.") if not r["identified"]]
        loose = [name for name in loose if ".weight[" not in name]
        if loose:
            out.append(
                f"Not identified by this log: {', '.join(loose)} (no finite standard error, "
                "or a 95% interval wider than a factor of 100)."
            )
    if (spells.cancelled & spells.reason.isin(PAIN_POINTS)).sum() < MIN_REASONS:
        out.append(
            f"Fewer than {MIN_REASONS} cancellations give a reason: the pain-point mix is the "
            f"'{base}' preset's."
        )
    out.append(
        "Channels, responsiveness and the release calendar are the "
        f"'{base}' preset's; the log cannot tell them. Offers' lifts are fitted only where "
        "the log has randomised campaigns (see the offers section); otherwise they are the "
        "preset's."
    )
    return out


def offer_notes(log: EventLog) -> list[str]:
    """What the log's offers can and cannot tell."""
    ev = log.events
    sent = ev[ev.event_type == "offer_sent"]
    if sent.empty:
        return [
            "The log holds no offers: offer effects (open rates, lifts, discounts) are the "
            "base preset's."
        ]
    arm = sent.arm.astype(str) if "arm" in sent.columns else pd.Series("", index=sent.index)
    outside = int((~arm.isin(("treatment", "holdout"))).sum())
    out = []
    if outside:
        out.append(
            f"{outside:,} offers were sent outside a campaign with a randomised holdout: "
            "their effect cannot be told from who was chosen to get them (not causal), so "
            "they are not estimated."
        )
    return out
