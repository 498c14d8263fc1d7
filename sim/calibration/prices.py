"""Price changes in a subscription log and their effect on cancellation.

**Detection** (:func:`price_schedule`). Per plan, every row that shows a price per billing
period: the list price on ``subscribe`` / ``resubscribe`` / ``plan_change`` rows and the
amount paid on ``renew`` / ``payment`` rows (the plan in force: the customer's latest
plan row). Per week, the most common of these (to the cent) is the week's list price when at
least :data:`MODE_SHARE` of the week's :data:`MIN_WEEK_ROWS` or more rows show it (discounts,
trial days and periods that straddle a change pay other amounts). A new list price that holds
for :data:`MIN_WEEKS` shown weeks is a price change, from the first day a row shows it.

**Exposure.** A customer on plan ``p`` who signed up on day ``s`` (their first subscription
in the log) is exposed on day ``t`` to ``x = log(list price of p on t / list price of p on
s)``, the simulator's log price ratio (:mod:`sim.hazards`): a resubscription keeps the
sign-up price as the reference, as in the simulator; a customer who signed up after a rise
is not exposed to it. A spell counts on the plan it ends on.

**Effect** (:func:`price_effect`). A Cox model with the time-varying covariate ``x``
(``lifelines.CoxTimeVaryingFitter``) on the spells at risk in the window: time is calendar
time (so a trend every plan shares, such as the settling of a cohort, is not taken for a
price effect), with one indicator per plan, the log of tenure at entry, and one baseline for
first spells and one for spells after a resubscription. The exposed are compared with the
unexposed at the same date: customers of other plans, and those who signed up after the
change. The coefficient is the log hazard ratio of cancelling per log-unit of price, with
a 95% interval.

**The simulator's weight** (:func:`weight_curve`, :func:`match_weight`). The simulator
multiplies a user's cancellation hazards by ``exp(price_sens x price_weight x x)`` with a
per-user ``price_sens``, so the population's hazard ratio is not ``exp(price_weight)``. The
calibrated scenario is simulated with the logged price changes (at the same days of the
window, for the same span) on a grid of weights, every trial on the same simulated
customers, and each simulated log is measured as the real one is; the weights whose
simulated coefficient meets the logged coefficient and its interval's ends are read off
(interpolated; the simulated coefficient rises with the weight).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.eventlog import EVENT_TYPES, PLAN_EVENTS, RENEWALS, EventLog
from sim.calibration.fit import _row  # one table format for every fit
from sim.constants import BILLING_DAYS, DAYS_PER_MONTH
from sim.scenario import PriceChange, Scenario

MIN_WEEK_ROWS = 5  # rows a week needs before its most common price counts
MODE_SHARE = 0.5  # share of a week's rows the most common price needs
MIN_WEEKS = 2  # shown weeks a new price must hold to count as a change
PRICE_TOLERANCE = 0.005  # relative moves smaller than this are rounding, not a change
WEIGHT_GRID = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0)  # price weights simulated (dynamics.price_weight)
PLACEBOS = 4  # extra simulated draws at weight 0 that fix the curve's level
MAPPING_USERS = 20_000  # simulated customers, at least, when the weight is mapped
MAX_MAPPING_USERS = 100_000  # and at most
SCHEDULE = ("plan", "day", "price", "previous", "ratio")


# ------------------------------------------------------------------ detection
def price_rows(log: EventLog) -> pd.DataFrame:
    """Every row that shows a plan's price per billing period: ``plan``, ``day``,
    ``price`` (list price on plan rows, amount paid on renewals). Read off the codes of
    those rows only (the log's other columns are not copied)."""
    ev = log.events
    if "plan" not in ev or "price" not in ev:
        return pd.DataFrame({"plan": [], "day": [], "price": []})
    kind = ev.event_type.cat.codes.to_numpy()  # categories: EVENT_TYPES
    marked = np.isin(kind, [EVENT_TYPES.index(k) for k in PLAN_EVENTS])
    at = np.flatnonzero(marked | np.isin(kind, [EVENT_TYPES.index(k) for k in RENEWALS]))
    marked = marked[at]
    user = ev.user_id.cat.codes.to_numpy()[at]
    pos = np.arange(at.size)
    first = np.maximum.accumulate(np.where(np.r_[True, user[1:] != user[:-1]], pos, 0))
    last = np.maximum.accumulate(np.where(marked, pos, -1))  # the plan in force: latest plan row
    known = last >= first  # of the same customer
    plan = ev.plan.cat.categories.to_numpy(dtype=object)[ev.plan.cat.codes.to_numpy()[at]]
    price = np.where(marked, ev.price.to_numpy()[at], ev.amount.to_numpy()[at])
    known &= ~np.isnan(price)
    day = ev.day.to_numpy()[at][known]
    return pd.DataFrame({"plan": plan[last[known]], "day": day, "price": price[known].round(2)})


def price_schedule(log: EventLog) -> pd.DataFrame:
    """The list price of each plan over the log: one row per plan for its first price
    (``previous`` NaN, ``ratio`` 1) and one per change (:data:`SCHEDULE`; see the module
    doc)."""
    rows = price_rows(log)
    out = [plan_schedule(str(plan), part) for plan, part in rows.groupby("plan", sort=True)]
    if not out:
        return pd.DataFrame({c: [] for c in SCHEDULE})
    return pd.concat(out, ignore_index=True)[list(SCHEDULE)]


def weekly_prices(rows: pd.DataFrame) -> pd.Series:
    """The list price per week (index: week), where one price dominates the week."""
    week = (rows.day // 7).rename("week")
    counts = rows.groupby([week, rows.price]).size().rename("n").reset_index()
    total = counts.groupby("week").n.transform("sum")
    top = counts.sort_values(["week", "n"], ascending=[True, False]).groupby("week").head(1)
    share = (top.n / total[top.index]).to_numpy()
    kept = top[(total[top.index].to_numpy() >= MIN_WEEK_ROWS) & (share >= MODE_SHARE)]
    return kept.set_index("week").price


def plan_schedule(plan: str, rows: pd.DataFrame) -> pd.DataFrame:
    """One plan's first list price and its changes (see the module doc)."""
    weekly = weekly_prices(rows)
    if weekly.empty:
        return pd.DataFrame({c: [] for c in SCHEDULE})
    runs = (weekly != weekly.shift()).cumsum()
    levels = weekly.groupby(runs).agg(["first", "size"])
    level = float(levels["first"].iloc[0])
    found = [(int(rows.day.min()), level, np.nan)]
    weeks = weekly.groupby(runs).apply(lambda s: int(s.index[0]))
    for (price, size), week in zip(levels.to_numpy()[1:], weeks.to_numpy()[1:], strict=True):
        if size < MIN_WEEKS or abs(price / level - 1.0) <= PRICE_TOLERANCE:
            continue
        after = rows[(rows.day >= found[-1][0]) & (rows.price == price)]
        day = int(after.day.min()) if len(after) else int(week) * 7
        found.append((day, float(price), level))
        level = float(price)
    table = pd.DataFrame(found, columns=["day", "price", "previous"])
    table.insert(0, "plan", plan)
    table["ratio"] = (table.price / table.previous).fillna(1.0)
    return table


def changes_of(schedule: pd.DataFrame) -> pd.DataFrame:
    """The schedule's price changes (its rows after each plan's first price)."""
    return schedule[schedule.previous.notna()].reset_index(drop=True)


def price_on(schedule: pd.DataFrame, plan: np.ndarray, day: np.ndarray) -> np.ndarray:
    """The list price of each ``plan`` on each ``day`` (a day before the plan's first
    price: its first price; a plan without one: NaN)."""
    out = np.full(len(plan), np.nan)
    for name, part in schedule.groupby("plan", sort=False):
        mine = plan == name
        at = np.searchsorted(part.day.to_numpy(), day[mine], side="right") - 1
        out[mine] = part.price.to_numpy()[np.maximum(at, 0)]
    return out


# ------------------------------------------------------------------ exposure
def exposure_intervals(spells: pd.DataFrame, schedule: pd.DataFrame, window: int) -> pd.DataFrame:
    """The spells at risk in the window, cut at their plan's price changes: one row per
    piece with ``id`` (the spell), ``day`` / ``stop_day`` (the piece covers calendar days
    ``day`` to ``stop_day - 1``), ``cancelled`` (on the last piece of a cancelled spell),
    ``log_ratio`` (the exposure ``x``), ``plan``, ``again`` (a spell after a
    resubscription), ``tenure`` (days since the spell began when it entered the window).
    Spells cancelled on or before the window's first day are not at risk in it."""
    signup_all = spells.groupby(spells.user_id.astype(str), sort=False).start.transform("min")
    at_risk = (spells.end > window).to_numpy()
    s = spells[at_risk].reset_index(drop=True)
    signup = signup_all.to_numpy()[at_risk]
    plan = s.plan.astype(str).to_numpy()
    first = np.maximum(s.start.to_numpy(), window)
    stop = s.end.to_numpy() + 1
    cuts = changes_of(schedule)
    pieces = [first]
    for day, name in zip(cuts.day.to_numpy(), cuts.plan.astype(str).to_numpy(), strict=True):
        inside = (plan == name) & (first < day) & (day < stop)
        pieces.append(np.where(inside, day, -1))
    bounds = np.stack(pieces, axis=1)  # (spells, 1 + changes); -1: not cut there
    i, j = np.nonzero(bounds >= 0)
    day = bounds[i, j]
    order = np.lexsort((day, i))
    i, day = i[order], day[order]
    last = np.r_[i[1:] != i[:-1], True]
    with np.errstate(divide="ignore", invalid="ignore"):  # a free plan: no ratio (1 below)
        ratio = price_on(schedule, plan[i], day) / price_on(schedule, plan[i], signup[i])
    return pd.DataFrame(
        {
            "id": i,
            "day": day,
            "stop_day": np.where(last, stop[i], np.r_[day[1:], 0]),
            "cancelled": last & s.cancelled.to_numpy()[i],
            "log_ratio": np.log(np.where(np.isfinite(ratio) & (ratio > 0), ratio, 1.0)),
            "plan": plan[i],
            "again": s.spell.to_numpy()[i] > 0,
            "tenure": (first - s.start.to_numpy())[i],
        }
    )


def exposure_table(pieces: pd.DataFrame, window: int, end: int) -> pd.DataFrame:
    """Per plan and month of the window (30-day periods from its first day): subscribers
    at risk, those exposed to a price change (``x`` not 0), and cancellations of each."""
    month_start = np.arange(window, end + 1, DAYS_PER_MONTH)
    out = []
    for m, first in enumerate(month_start):
        last = first + DAYS_PER_MONTH  # the month covers first .. last - 1
        here = pieces[(pieces.day < last) & (pieces.stop_day > first)]
        exposed = here.log_ratio != 0
        ended = here.cancelled & (here.stop_day <= last)
        frame = pd.DataFrame({"plan": here.plan, "id": here.id, "exposed": exposed, "ended": ended})
        for plan, part in frame.groupby("plan", sort=True):
            out.append(
                {
                    "plan": plan,
                    "month": m,
                    "first_day": int(first),
                    "subscribers": int(part.id.nunique()),
                    "exposed": int(part[part.exposed].id.nunique()),
                    "cancelled": int(part.ended.sum()),
                    "cancelled_exposed": int((part.ended & part.exposed).sum()),
                }
            )
    return pd.DataFrame(out)


# ------------------------------------------------------------------ the effect
@dataclass(frozen=True)
class PriceEffect:
    """The Cox model's log hazard ratio of cancelling per log-unit of price (``coef``),
    its standard error and 95% interval, and the exposure it rests on."""

    coef: float
    se: float
    low: float
    high: float
    customers_exposed: int
    cancellations_exposed: int

    @property
    def hazard_ratio(self) -> float:
        return float(np.exp(self.coef))


def cox_effect(pieces: pd.DataFrame, window: int) -> PriceEffect:
    """``lifelines.CoxTimeVaryingFitter`` on the exposure intervals (see the module doc)."""
    from lifelines import CoxTimeVaryingFitter

    data = cox_data(pieces, window)
    cox = CoxTimeVaryingFitter(alpha=0.05)
    cox.fit(data, id_col="id", event_col="cancelled", strata=["again"])
    row = cox.summary.loc["log_ratio"]
    exposed = pieces.log_ratio != 0
    return PriceEffect(
        coef=float(row["coef"]),
        se=float(row["se(coef)"]),
        low=float(row["coef lower 95%"]),
        high=float(row["coef upper 95%"]),
        customers_exposed=int(pieces[exposed].id.nunique()),
        cancellations_exposed=int((pieces.cancelled & exposed).sum()),
    )


def cox_data(pieces: pd.DataFrame, window: int) -> pd.DataFrame:
    """The Cox model's rows: calendar time (days since the window opened; a piece covers
    ``(start, stop]``), the exposure, one indicator per plan but the first, the log of
    tenure at entry."""
    plans = pd.get_dummies(pieces.plan, prefix="plan", drop_first=True, dtype=float)
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "id": pieces.id,
                    "start": pieces.day - window,
                    "stop": pieces.stop_day - window,
                    "cancelled": pieces.cancelled.astype(int),
                    "again": pieces.again.astype(int),
                    "log_ratio": pieces.log_ratio,
                    "log_tenure": np.log1p(pieces.tenure.astype(float)),
                }
            ),
            plans,
        ],
        axis=1,
    )


def price_effect(
    log: EventLog, spells: pd.DataFrame, cut: int
) -> tuple[pd.DataFrame, pd.DataFrame, PriceEffect | None, str]:
    """The log's price schedule (changes up to ``cut``), its exposure table, the Cox
    effect, and "" (or, when the log cannot tell the effect, None and the reason)."""
    schedule = price_schedule(log)
    schedule = schedule[schedule.day <= cut].reset_index(drop=True)
    pieces = exposure_intervals(spells, schedule, log.window_start)
    exposure = exposure_table(pieces, log.window_start, cut)
    why = why_not(schedule, pieces)
    if why:
        return schedule, exposure, None, why
    return schedule, exposure, cox_effect(pieces, log.window_start), ""


def why_not(schedule: pd.DataFrame, pieces: pd.DataFrame) -> str:
    """Why the log cannot tell the price effect ("" when it can): it needs subscribers
    exposed to a change, unexposed ones at risk at the same time to compare with, and
    cancellations while exposed."""
    exposed = pieces.log_ratio != 0
    if changes_of(schedule).empty:
        return "no plan's list price changed during the log"
    if not exposed.any():
        return "no subscriber was still subscribed after a price change"
    since = pieces.day[exposed].min()
    if not (~exposed & (pieces.stop_day > since)).any():
        return "every subscriber was exposed at once, leaving no one to compare with"
    if not (pieces.cancelled & exposed).any():
        return "no cancellation while exposed to a price change"
    return ""


# ------------------------------------------------------------------ the simulator's weight
@dataclass(frozen=True)
class PriceWeight:
    """``dynamics.price_weight`` matched to the logged effect, its 95% interval, and the
    simulated coefficient at each weight tried (``grid``: price_weight, coef, se)."""

    estimate: float
    low: float
    high: float
    grid: pd.DataFrame

    @property
    def at_edge(self) -> bool:
        """The estimate sits at an end of the weights tried: the log cannot place it."""
        return self.estimate <= WEIGHT_GRID[0] or self.estimate >= WEIGHT_GRID[-1]


def mapping_scenario(
    scenario: Scenario, schedule: pd.DataFrame, window: int, cut: int, users: int
) -> Scenario:
    """``scenario`` run over the log's window (its first day the simulation's day 0, no
    warm-up), each plan at its first logged price and with the logged price changes
    (``schedule``'s plans named as the scenario's). Every segment takes every plan, in the
    plans' shares of customers: the plans then differ only in their prices, the parallel
    trends the Cox model's comparison assumes (a lifecycle fitted per plan has absorbed the
    price effect into the exposed plan's rates, which would be counted twice)."""
    horizon = cut - window + 1
    weight = {name: 0.0 for name in scenario.plan_names}
    for seg in scenario.segments:
        for name, share in seg.plan_mix.items():
            weight[name] += seg.weight * share
    total = sum(weight.values())
    mix = {name: w / total for name, w in weight.items()}
    start = schedule.previous.isna()
    monthly = schedule.price * [DAYS_PER_MONTH / period_days(scenario, p) for p in schedule.plan]
    first = dict(zip(schedule.plan[start], monthly[start], strict=True))
    moved = schedule.previous.notna() & (schedule.day > window) & (schedule.day - window < horizon)
    return replace(
        scenario,
        n_users=users,
        horizon_days=horizon,
        warmup_days=0,
        plans=tuple(
            replace(p, monthly_price=float(first.get(p.name, p.monthly_price)))
            for p in scenario.plans
        ),
        price_changes=tuple(
            PriceChange(int(day - window), str(plan), float(price))
            for day, plan, price in zip(
                schedule.day[moved], schedule.plan[moved], monthly[moved], strict=True
            )
        ),
        releases=tuple(r for r in scenario.releases if r.day < horizon),
        segments=tuple(replace(seg, plan_mix=mix) for seg in scenario.segments),
    )


def period_days(scenario: Scenario, plan: str) -> int:
    """Days per billing period of ``plan`` as the simulated log writes it (billed "none":
    monthly)."""
    billing = scenario.plans[scenario.plan_names.index(plan)].billing
    return BILLING_DAYS.get(billing, BILLING_DAYS["monthly"])


def simulated_effect(scenario: Scenario, seed: int) -> PriceEffect | None:
    """``scenario`` simulated, its log written (without sessions) and measured as a
    company's log is (:func:`price_effect`)."""
    from sim.calibration.eventlog import SIMULATED, validate_events
    from sim.calibration.spells import subscription_spells
    from sim.records import simulated_log  # imports this package: not at module level

    raw = simulated_log(scenario, seed)
    log = validate_events(raw[raw.event_type != "session"], "simulated", limits=SIMULATED)
    return price_effect(log, subscription_spells(log), log.end)[2]


def weight_curve(
    scenario: Scenario, schedule: pd.DataFrame, window: int, cut: int, users: int, seed: int = 0
) -> pd.DataFrame:
    """The simulated coefficient at each weight of :data:`WEIGHT_GRID` on
    :func:`mapping_scenario` (``coef``), and the standard error of that curve (``se``).
    The grid runs on the same customers (seed ``seed``), so the curve's shape is nearly
    free of noise; its level, which one draw of customers sets off by about one standard
    error, is the mean over that draw and :data:`PLACEBOS` more at weight 0."""
    base = mapping_scenario(scenario, schedule, window, cut, users)

    def run(weight: float, draw: int) -> tuple[float, float]:
        got = simulated_effect(
            replace(base, dynamics=replace(base.dynamics, price_weight=weight)), draw
        )
        return (np.nan, np.nan) if got is None else (got.coef, got.se)

    grid = pd.DataFrame([run(w, seed) for w in WEIGHT_GRID], columns=["coef", "se"])
    zero = [grid.coef.iloc[0]] + [run(0.0, seed + k)[0] for k in range(1, PLACEBOS + 1)]
    shift = float(np.nanmean(zero)) - float(grid.coef.iloc[0])
    return pd.DataFrame(
        {
            "price_weight": WEIGHT_GRID,
            "coef": grid.coef + shift,
            "se": grid.se / np.sqrt(np.isfinite(zero).sum()),
        }
    )


def match_weight(grid: pd.DataFrame, effect: PriceEffect) -> PriceWeight:
    """The weight whose simulated coefficient meets the logged one, read off ``grid``
    (made increasing; interpolated). The interval's ends meet the logged coefficient -/+
    1.96 standard errors of the difference between the logged coefficient and the
    simulated curve (both are estimates)."""
    curve = np.maximum.accumulate(grid.coef.fillna(-np.inf).to_numpy())
    curve = curve + 1e-9 * np.arange(curve.size)  # strictly increasing for np.interp
    spread = 1.96 * float(np.hypot(effect.se, np.nanmedian(grid.se)))
    weights = grid.price_weight.to_numpy()
    est, low, high = (
        float(np.interp(b, curve, weights))
        for b in (effect.coef, effect.coef - spread, effect.coef + spread)
    )
    return PriceWeight(est, low, high, grid)


# ------------------------------------------------------------------ the calibration
@dataclass(frozen=True)
class PriceCalibration:
    """What the log says about prices: the schedule (:data:`SCHEDULE`), exposure per plan
    and month, the Cox effect and the matched weight (None when not identified, with the
    reason in ``why``), and the base preset's weight."""

    schedule: pd.DataFrame
    exposure: pd.DataFrame
    effect: PriceEffect | None
    weight: PriceWeight | None
    base_weight: float
    why: str = ""

    def parameters(self) -> list[dict[str, Any]]:
        """Rows for the parameters table (the shared row format)."""
        if self.effect is None or self.weight is None:
            return []
        e, w = self.effect, self.weight
        return [
            row("price.log_hazard_ratio", e.coef, e.se, e.low, e.high, True),
            row(
                "dynamics.price_weight",
                w.estimate,
                (w.high - w.low) / 3.92,
                w.low,
                w.high,
                not w.at_edge,
            ),
        ]

    def summary(self) -> dict[str, object]:
        e, w = self.effect, self.weight
        return {
            "changes": changes_of(self.schedule).to_dict(orient="records"),
            "identified": e is not None and w is not None,
            "why_not": self.why or None,
            "hazard_ratio_per_log_unit": None if e is None else e.hazard_ratio,
            "hazard_ratio_interval": None if e is None else [np.exp(e.low), np.exp(e.high)],
            "customers_exposed": None if e is None else e.customers_exposed,
            "cancellations_exposed": None if e is None else e.cancellations_exposed,
            "price_weight": self.base_weight if w is None else w.estimate,
            "price_weight_interval": None if w is None else [w.low, w.high],
            "price_weight_source": "preset" if w is None else "log",
        }

    def note(self, base: str) -> str:
        if self.effect is None or self.weight is None:
            return (
                f"Price effect not identified from this log ({self.why}): "
                f"dynamics.price_weight is the '{base}' preset's ({self.base_weight:g})."
            )
        e, w = self.effect, self.weight
        text = (
            f"Price effect from {len(changes_of(self.schedule))} logged price change(s): "
            f"cancellation hazard ratio {e.hazard_ratio:.3g} per log-unit of price (95% "
            f"{np.exp(e.low):.3g} to {np.exp(e.high):.3g}; {e.customers_exposed:,} customers "
            f"exposed, {e.cancellations_exposed:,} cancellations while exposed); "
            f"dynamics.price_weight {w.estimate:.3g} (95% {w.low:.3g} to {w.high:.3g}), the "
            "weight at which the calibrated scenario, simulated with the same changes, "
            "shows the same effect. The scenario's plans are at today's list prices."
        )
        if w.at_edge:
            text += (
                f" The weight sits at an end of the weights tried ({WEIGHT_GRID[0]:g} to "
                f"{WEIGHT_GRID[-1]:g}): the log cannot place it."
            )
        return text


def row(name: str, value: float, se: float, lo: float, hi: float, ok: bool) -> dict[str, Any]:
    """A parameter row in the shared format; identified when ``ok`` and the interval is
    finite (the ratio rule of the rates does not fit a coefficient or a weight near 0)."""
    return {**_row(name, value, se, lo, hi), "identified": bool(ok and np.isfinite([lo, hi]).all())}


def calibrate_prices(
    log: EventLog,
    spells: pd.DataFrame,
    cut: int,
    scenario: Scenario,
    names: dict[str, str],
    seed: int = 0,
) -> tuple[PriceCalibration, Scenario]:
    """The log's price changes and their effect, and ``scenario`` with the fitted weight
    and its plans at today's list prices (unchanged when not identified). ``names``: the
    scenario's name of each logged plan."""
    schedule, exposure, effect, why = price_effect(log, spells, cut)
    base_weight = scenario.dynamics.price_weight
    if effect is None:
        found = PriceCalibration(schedule, exposure, None, None, base_weight, why)
        return found, scenario
    named = schedule.assign(plan=schedule.plan.map(names))
    users = min(max(int(spells.user_id.nunique()), MAPPING_USERS), MAX_MAPPING_USERS)
    grid = weight_curve(scenario, named, log.window_start, cut, users, seed)
    weight = match_weight(grid, effect)
    latest = named.groupby("plan").tail(1).set_index("plan")
    plans = tuple(
        replace(
            p,
            monthly_price=float(latest.price[p.name])
            * DAYS_PER_MONTH
            / period_days(scenario, p.name),
        )
        if p.name in latest.index
        else p
        for p in scenario.plans
    )
    dynamics = replace(scenario.dynamics, price_weight=weight.estimate)
    found = PriceCalibration(schedule, exposure, effect, weight, base_weight)
    return found, replace(scenario, plans=plans, dynamics=dynamics)
