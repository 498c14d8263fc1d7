"""A company's own event log as logged decisions: the OPE decisions table, and ``Logged``.

``decisions_from_events(log, scenario, catalogue, window=28)`` reads an event log in the
calibration schema (``sim.calibration.eventlog``) with a ``propensity`` column on offer
events, and returns one row per randomised decision with what followed it and the
observation the simulator's agents would have had (``sim.envs.observation``), plus notes in
plain words. Rules:

* *Decision*: an ``offer_sent`` row with a propensity. Arm ``holdout``: action 0 (no offer; an
  offer named on the row is ignored); otherwise action 1 + the catalogue index of its
  ``offer``. One decision per customer per day: the first row. Offer rows without a
  propensity are not randomised decisions: left out (a note counts them), though they are
  still sends in the customers' offer features.
* *Refused* before any work (a ``ValueError`` naming the key, the value, where, and what is
  allowed): no ``propensity`` column or no ``offer_sent`` row with one; a propensity of 0,
  below 0, above 1 or infinite on a decision row; a decision's offer that is empty (outside
  the holdout) or not in the catalogue. (``read_event_log`` already refuses a propensity
  outside (0, 1] in a file, naming its lines; these checks cover logs built or edited in
  memory. The reader keeps no line numbers for kept rows: the messages name the customer and
  the date.) And an ``unsubscribe`` row whose channel is not one of ``CHANNELS`` (the
  reader refuses it in a file).
* *Window*: the ``window`` days that begin on the decision day (log days ``day`` to
  ``day + window - 1``). The simulator decides at the start of its day (sim time ``D`` is
  the midnight that opens log day ``window_start + warmup_days + D``), and its reward
  window is the time ``(D, D + window]``: these same days. (``campaigns.campaign_draws``
  reads ``(day, day + window]``, leaving the decision day out; here the decision day's
  events follow the decision, and everything before it is context: no event is in
  neither.) Decisions whose
  window is not wholly inside the log (``day + window - 1 > log.end``) are left out, with a
  note.
* *reward*: the money in over the window, the sum of ``amount`` of the ``subscribe``,
  ``resubscribe``, ``renew``, ``payment`` and ``purchase`` rows (the event types that carry
  what a customer paid), less what the decision's send cost: the channel's cost per send plus
  the offer's ``cost_per_send`` (as ``sim.messaging.OfferTable.send_cost`` charges it; 0 for
  no offer), and the offer's ``support_cost`` when it was opened (an ``offer_opened`` row on
  the decision day: a support contact made). This is the cash a company can see in its log.
  The simulator's own ``behaviour.log_decisions`` reward is the profit accrued in its
  ledger over the window: revenue a day at list price while subscribed, less serving cost
  per session, discount and trial revenue forgone, message, support and unsubscribe costs.
  The two differ by timing (a renewal pays a whole billing period on its first day; accrual
  spreads it) and by the costs the log cannot show (serving per session, lost reach).
* *reactivated*: a ``BACK`` event (``campaigns.BACK``: resubscribe, subscribe, session,
  purchase) in the window.
* *context*: ``observation_names(scenario, catalogue)``, in that order and normalised as
  ``sim.kernel.observation.encode``, rebuilt from the customer's events strictly before the
  decision day. The episode's day 0 is ``log.window_start + scenario.warmup_days`` (the
  simulator's log opens ``warmup_days`` before its day 0); weeks begin on its multiples of 7.

  ====================== =================================================================
  status_*               churned: the latest subscribe/resubscribe/cancel is a cancel
                         (subscription scenarios); else inactive: no session or purchase in
                         the ``inactive_after_days`` days before; else active. Exact.
  recency                whole days since the day of the last session or purchase (none:
                         since the first subscribe) / 365, capped at 1. The simulator counts
                         from the session's time of day: up to 1 day (0.0027) less (and, for
                         a customer without sessions, from the sign-up: see tenure).
  sessions_4w, _13w      session and purchase *rows* in the current week and the 3 (12)
                         before it, / 56 (/ 182), capped. The simulator's log writes one row
                         per day with sessions, so this counts days with a session, which
                         approximates (and never exceeds) the simulator's session count.
  tenure                 whole days since the first subscribe (none: the customer's first
                         event) / 1825, capped. Up to 1 day (0.00055) more than the
                         simulator's, which counts from the time of day; for customers
                         already cancelled when the log opens (the log's "history unknown":
                         subscribe and cancel on its first day) the log knows no earlier
                         sign-up and counts from that day.
  plan_*                 the plan of the latest subscribe/resubscribe/plan_change (all 0:
                         none yet, or a plan the scenario does not have: noted). Exact.
  price_paid             the plan's list price now, as the log shows it (the latest
                         ``price`` on a plan event of that plan, any customer, per month:
                         price / billing days * 30), less a running discount, 0 while
                         churned or on a free trial, / the scenario's highest monthly price.
                         Exact up to cents when list prices change only at (re)subscriptions
                         seen in the log.
  discount_active        the latest opened discount offer (``offer_opened``; the simulator
                         starts an offer's effect when it is opened) still runs: opened on
                         day s with ``duration_days`` D, s + D > day. Exact.
  (free trial)           for price_paid: the latest opened free-trial offer (day s,
                         ``trial_days`` T): a customer not churned at s is on trial while
                         s + T > day; a churned one gets the trial if they come back within
                         ``max(dynamics.nudge_days, 1)`` days of s (first start on day R),
                         then while R + T >= day (their return time is after R's midnight).
  offers_received,       ``offer_sent`` rows with an offer (every send, randomised or not;
  offers_opened          holdout rows are not sends), ``offer_opened`` rows; / 20, capped.
  last_offer_*,          the latest send: its offer one-hot, days since / 365 (capped; 1:
  since_last_offer,      never), whether an ``offer_opened`` row names the same customer,
  last_offer_opened,     day and offer (opened) or not (ignored). Exact.
  last_offer_ignored
  ever_sent_*,           any send / open of that offer before. Exact.
  ever_opened_*
  survey_*               the first cancel with a ``reason`` (the simulator keeps the first
                         exit-survey answer a customer gives, not the latest). Exact.
  reachable_*            0 once the customer has an ``unsubscribe`` row on the channel
                         before the day, else 1. An opt-out lasts for the rest of the log
                         (the schema has no opt-in; the simulator never gives reach back).
                         Rows dated on or before ``log.window_start`` (the simulator writes
                         the customers unreachable when its log opens on its first day)
                         hold from the window's opening. Exact. A log with no
                         ``unsubscribe`` row at all: 1 everywhere, and a note says so.
  genre_share_*          1 / the number of genres: the log has no genres (the simulator's
                         shares are the customer's noisy taste, from past sessions).
  signal_*               each signal's count before the day (its rows' ``amount``s: the
                         simulator writes a day's count, a company may write one row per
                         occurrence) per session or purchase *row* before the day, / (4 x
                         its base rate), capped (``sim.signals``). The counts are exact; the
                         rows count days with a session, so the rate is never below the
                         simulator's, which divides by sessions. A log with no signal rows
                         at all: 0 everywhere, and a note says so.
  revenue_to_date        log(1 + the money in before the day: subscribe, resubscribe, renew,
                         payment and purchase amounts) / log(1 + 5000), capped. The log shows
                         a billing period's payment on its first day where the simulator
                         accrues it a day at a time; purchases are the same.
  episode_progress       (day - episode day 0) / ``scenario.horizon_days``, clipped to
                         [0, 1] (the simulator's ``day / horizon_days``). Exact.
  ====================== =================================================================

* *allowed*: what the company could do in the round, as ``Simulation.mask`` gives it
  (``sim.kernel.delivery.refusal``): no offer always; an offer when (1) it is *eligible* for
  the customer's observed status (the ``status_*`` above: ``Offer.eligible``, e.g. a free
  trial only for churned customers; the simulator has no rule by plan or subscription beyond
  the status, and refuses free trials outright in a business without subscriptions), (2) the
  customer is *reachable* on the offer's channel (``reachable_*`` above) and (3) the channel
  is under its *frequency cap* (``Channel.frequency_cap``): fewer sends on it than the cap
  in the decision's episode week before the day and the ``SEND_WEEKS - 1`` (3) weeks before
  (the simulator's ring of weekly sends, cleared as each week begins). A send is an
  ``offer_sent`` row outside the holdout (randomised or not) on its row's channel, else its
  offer's; one on no known channel counts against every channel (conservative). Exact for
  the simulator's logs (its sends fall on days >= 0; a send in a warm-up week cut short by
  the run's start would sit in the ring's first slot instead of its week's: the log cannot
  tell). A company's own rules beyond these (consent by offer type, quiet hours, caps
  across channels) are not in the log: the table can only be as strict as the log shows,
  and a note counts the decisions whose action the rebuilt rules do not allow.

  Everything is vectorised (events as sorted keys of customer and day, looked up with
  ``numpy.searchsorted``): no Python loop per customer.

The decisions table's columns are :data:`COLUMNS` (``user_id``, ``day``: the log's day,
``date``, ``action``, ``offer``: ``no_offer`` or the offer's name, ``propensity``,
``reward``, ``reactivated``), then ``allowed_<offer>`` (bool, one per offer in catalogue
order: the offer could be sent; no offer always could), then the features.
``logged_from_decisions`` turns it into a ``Logged`` (``user``, ``day``, ``reactivated``
kept; ``allowed`` from the ``allowed_*`` columns, which are optional: a table without them
gives no ``allowed``; the log's first date and the names in ``meta``) and ``decisions_of``
turns a ``Logged`` back into the table: one schema both ways (a simulator's ``Logged`` has
no ``reactivated``, NaN there, and no dates, NaT; its ``allowed`` is the mask it decided
under).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from experiments.ope.logged import Logged
from sim.calibration.campaigns import BACK
from sim.calibration.eventlog import (
    ACTIVITY,
    OPT_OUTS,
    PLAN_EVENTS,
    STARTS,
    UNCALIBRATED,
    EventLog,
)
from sim.constants import (
    BILLING_DAYS,
    CHANNELS,
    DAYS_PER_MONTH,
    OFFER_COUNT_SCALE,
    PAIN_POINTS,
    RECENCY_SCALE_DAYS,
    RECENT_WEEKS,
    REVENUE_SCALE,
    SEND_WEEKS,
    SESSION_WEEKS,
    TENURE_SCALE_DAYS,
)
from sim.envs.observation import observation_names
from sim.kernel.observation import ALL_SESSIONS_SCALE, RECENT_SESSIONS_SCALE
from sim.offers import OBSERVED_STATUSES, Catalogue
from sim.scenario import Scenario
from sim.signals import RATE_SCALE, SIGNAL_COLUMNS, SIGNAL_NAMES, base_rates

NO_OFFER = "no_offer"
COLUMNS = ("user_id", "day", "date", "action", "offer", "propensity", "reward", "reactivated")
"""The decisions table's columns before the features."""
REQUIRED = ("user_id", "day", "action", "propensity", "reward")
"""The columns a decisions table must have (``date``, ``offer``, ``reactivated`` may be
absent); every column not in :data:`COLUMNS` and not ``allowed_<offer>`` is a feature."""
ALLOWED = "allowed_"
"""Prefix of the optional ``allowed_<offer>`` columns (bool: the offer could be sent)."""
MONEY = ("subscribe", "resubscribe", "renew", "payment", "purchase")
"""Event types whose ``amount`` is money a customer paid."""
HOLDOUT = "holdout"


def decisions_from_events(
    log: EventLog, scenario: Scenario, catalogue: Catalogue, window: int = 28
) -> tuple[pd.DataFrame, list[str]]:
    """The decisions table of ``log`` and notes on what was left out (see the module doc)."""
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window: {window!r}; allowed: a whole number of days >= 1")
    window = int(window)
    ev = log.events
    notes: list[str] = []
    keys = _Keys.of(ev, window)
    picked = _decision_rows(log, catalogue, keys, notes)
    rows, action = picked
    day = keys.day[rows]
    inside = day + window - 1 <= log.end
    if not inside.all():
        last = (log.origin + pd.Timedelta(days=log.end)).date()
        notes.append(
            f"{int((~inside).sum()):,} decision(s) whose {window}-day window runs past the "
            f"log's last day ({last}) are left out."
        )
        rows, action = rows[inside], action[inside]
    if not rows.size:
        raise ValueError(
            f"window: {window} days; no decision's window ends inside the log (last day "
            f"{(log.origin + pd.Timedelta(days=log.end)).date()}); allowed: a shorter window "
            "or a longer log"
        )
    at = _At(keys, keys.user[rows], keys.day[rows])
    events = _Events.of(ev, scenario, catalogue)
    amount = ev.amount.to_numpy(dtype=np.float64)
    reward = _money(at, keys, events, amount, window) - _send_costs(scenario, catalogue)[action]
    reward -= _contact_costs(at, keys, events, catalogue, action)
    back = at.count(keys.where(events.kind_in(BACK)), 0, window) > 0
    features = _features(at, keys, events, log, scenario, catalogue, notes)
    offers = np.array([NO_OFFER, *catalogue.names], dtype=object)
    status = features["status_inactive"] + 2 * features["status_churned"]
    reach = np.stack([features[f"reachable_{c}"] > 0 for c in CHANNELS], axis=1)
    recent = _recent_sends(at, keys, events, log, scenario, catalogue, notes)
    allowed = _allowed(status.astype(np.int64), reach, recent, scenario, catalogue)
    taken = action_allowed(allowed, action)
    if not taken.all():
        notes.append(
            f"{int((~taken).sum()):,} decision(s) took an offer "
            "the rebuilt rules do not allow (ineligible, unreachable or over the cap as the "
            "log shows them): the rules above may not be the company's."
        )
    table = pd.DataFrame(
        {
            "user_id": ev.user_id.iloc[rows].to_numpy(),
            "day": at.day.astype(np.int64),
            "date": log.origin + pd.to_timedelta(at.day, unit="D"),
            "action": action,
            "offer": offers[action],
            "propensity": ev.propensity.iloc[rows].to_numpy(dtype=np.float64),
            "reward": reward,
            "reactivated": back,
        }
    )
    table = pd.concat(
        [table, pd.DataFrame(allowed[:, 1:], columns=allowed_columns(catalogue.names))], axis=1
    )
    names = observation_names(scenario, catalogue)
    matrix = np.empty((len(table), len(names)), order="F")  # a column at a time
    for k, name in enumerate(names):
        matrix[:, k] = features.pop(name)
    table = pd.concat([table, pd.DataFrame(matrix, columns=names, index=table.index)], axis=1)
    notes.append(
        f"Filled in, not read from the log: genre_share_* = 1/{len(scenario.genres)} (the "
        "log has no genres); sessions_4w/13w count days with a session."
    )
    return table, notes


def features_at(
    log: EventLog, scenario: Scenario, catalogue: Catalogue, day: int | None = None
) -> tuple[np.ndarray, pd.DataFrame, list[str]]:
    """Every customer of ``log`` as the observation sees them on ``day`` (the log's day;
    default the day after its last), from their events strictly before it (module doc,
    *context*): (customer ids, one row of features each named as ``observation_names``,
    notes). Signal features are NaN, not 0, when the log has no signal rows at all: a
    model reads them as missing."""
    ev = log.events
    last = log.end + 1
    day = last if day is None else int(day)
    if not log.window_start < day <= last:
        raise ValueError(
            f"day: {day}; allowed: a day after the log's first ({log.window_start}) and at "
            f"most the day after its last ({last})"
        )
    keys = _Keys.of(ev, 1)
    codes, first = np.unique(keys.user, return_index=True)
    at = _At(keys, codes, np.full(codes.size, day, dtype=np.int64))
    events = _Events.of(ev, scenario, catalogue)
    notes: list[str] = []
    features = _features(at, keys, events, log, scenario, catalogue, notes, np.nan)
    names = observation_names(scenario, catalogue)
    table = pd.DataFrame({name: features[name] for name in names})
    return ev.user_id.iloc[first].to_numpy(), table, notes


def allowed_columns(offers: Sequence[str]) -> list[str]:
    """The decisions table's ``allowed_<offer>`` columns, one per offer (no ``no_offer``)."""
    return [f"{ALLOWED}{o}" for o in offers if o != NO_OFFER]


def action_allowed(allowed: np.ndarray, action: np.ndarray) -> np.ndarray:
    """Whether each round's action is in its ``allowed`` row."""
    return np.asarray(allowed)[np.arange(len(action)), np.asarray(action)]


# ----------------------------------------------------------------- keys and look-ups
@dataclass(frozen=True)
class _Keys:
    """Every event as one int64, customer code * ``span`` + (day - ``lo``), in the log's
    order (sorted by customer and time); a subset's keys stay sorted."""

    user: np.ndarray  # int64 customer code per event
    day: np.ndarray  # int64 the log's day per event
    key: np.ndarray
    lo: int
    span: int

    @classmethod
    def of(cls, ev: pd.DataFrame, window: int) -> _Keys:
        user = _codes(ev.user_id)
        day = ev.day.to_numpy().astype(np.int64)
        lo = int(day.min()) - 7 * SESSION_WEEKS - 1  # room for look-backs before the first day
        span = int(day.max()) - lo + window + 2
        key = user * span + (day - lo)
        if key.size > 1 and not (key[1:] >= key[:-1]).all():  # not the reader's order
            raise ValueError(
                "log.events: not sorted by customer and time; allowed: an EventLog as "
                "read_event_log returns it"
            )
        return cls(user, day, key, lo, span)

    def of_day(self, user: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Keys of (customer, day) pairs, days clipped into the keyed range."""
        return user * self.span + (np.clip(day, self.lo, self.lo + self.span - 1) - self.lo)

    def where(self, mask: np.ndarray) -> _Subset:
        rows = np.flatnonzero(mask)
        return _Subset(rows, self.key[rows])


@dataclass(frozen=True)
class _Subset:
    rows: np.ndarray  # positions in the log
    key: np.ndarray  # their keys (sorted)


@dataclass(frozen=True)
class _At:
    """Look-ups at (customer, day) pairs: the decisions, or any other pairs."""

    keys: _Keys
    user: np.ndarray
    day: np.ndarray

    def shifted(self, days: np.ndarray) -> _At:
        return _At(self.keys, self.user, days)

    def _key(self, offset: np.ndarray | int) -> np.ndarray:
        return self.keys.of_day(self.user, self.day + offset)

    def count(self, sub: _Subset, start: np.ndarray | int, end: np.ndarray | int = 0) -> np.ndarray:
        """Events of ``sub`` on days [day + start, day + end)."""
        lo = np.searchsorted(sub.key, self._key(start), "left")
        return np.searchsorted(sub.key, self._key(end), "left") - lo

    def before(self, sub: _Subset) -> np.ndarray:
        """Events of ``sub`` strictly before the day."""
        first = np.searchsorted(sub.key, self.user * self.keys.span, "left")
        return np.searchsorted(sub.key, self._key(0), "left") - first

    def last_before(self, sub: _Subset) -> np.ndarray:
        """Log position of the latest event of ``sub`` strictly before the day (-1: none)."""
        pos = np.searchsorted(sub.key, self._key(0), "left") - 1
        first = np.searchsorted(sub.key, self.user * self.keys.span, "left")
        return np.where(pos >= first, sub.rows[np.maximum(pos, 0)] if sub.rows.size else -1, -1)

    def first_from(self, sub: _Subset, start: np.ndarray | int = 0) -> np.ndarray:
        """Log position of the customer's first event of ``sub`` on or after day + ``start``
        (-1: none)."""
        pos = np.searchsorted(sub.key, self._key(start), "left")
        end = np.searchsorted(sub.key, (self.user + 1) * self.keys.span, "left")
        return np.where(pos < end, sub.rows[np.minimum(pos, max(sub.rows.size - 1, 0))], -1)

    def first_ever(self, sub: _Subset) -> np.ndarray:
        """Log position of the customer's first event of ``sub`` if it is before the day
        (-1: none)."""
        pos = np.searchsorted(sub.key, self.user * self.keys.span, "left")
        stop = np.searchsorted(sub.key, self._key(0), "left")
        return np.where(pos < stop, sub.rows[np.minimum(pos, max(sub.rows.size - 1, 0))], -1)


def _codes(column: pd.Series) -> np.ndarray:
    """Integer codes of a column's values (its categories' codes when categorical)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy().astype(np.int64)
    return pd.factorize(column)[0].astype(np.int64)


def _lookup(ev: pd.DataFrame, name: str, values: Sequence[str]) -> np.ndarray:
    """Each row's ``name`` as an index into ``values``: -1 empty (or no such column), -2 a
    value not among them."""
    if name not in ev.columns:
        return np.full(len(ev), -1, dtype=np.int64)
    column = ev[name]
    if not isinstance(column.dtype, pd.CategoricalDtype):
        column = column.fillna("").astype(str).astype("category")
    cats = [str(c) for c in column.cat.categories]
    table = np.array(
        [-1 if c == "" else values.index(c) if c in values else -2 for c in cats] + [-1],
        dtype=np.int64,
    )
    return table[column.cat.codes.to_numpy()]  # code -1 (missing) -> the last entry: empty


@dataclass(frozen=True)
class _Events:
    """Each event's type (index into ``EVENT_TYPES`` names), offer (catalogue index, -1
    none, -2 unknown), plan (scenario plan index, -1 none, -2 unknown) and reason."""

    kind: np.ndarray
    names: tuple[str, ...]
    offer: np.ndarray
    plan: np.ndarray
    reason: np.ndarray
    channel: np.ndarray  # index into CHANNELS (-1 none, -2 unknown)
    holdout: np.ndarray  # bool: arm holdout

    @classmethod
    def of(cls, ev: pd.DataFrame, scenario: Scenario, catalogue: Catalogue) -> _Events:
        names = tuple(str(c) for c in ev.event_type.cat.categories)
        events = cls(
            _codes(ev.event_type),
            names,
            _lookup(ev, "offer", catalogue.names),
            _lookup(ev, "plan", scenario.plan_names),
            _lookup(ev, "reason", PAIN_POINTS),
            _lookup(ev, "channel", CHANNELS),
            _lookup(ev, "arm", (HOLDOUT,)) == 0,
        )
        wrong = events.kind_in(OPT_OUTS) & (events.channel < 0)
        if wrong.any():
            i = int(np.flatnonzero(wrong)[0])
            name = str(ev.channel.iloc[i]) if "channel" in ev.columns else ""
            raise ValueError(
                f"channel: {name!r} on the unsubscribe row of user {str(ev.user_id.iloc[i])!r} "
                f"(log day {int(ev.day.iloc[i])}); allowed: {', '.join(CHANNELS)} "
                f"({int(wrong.sum()):,} such row(s))"
            )
        return events

    def kind_in(self, kinds: Sequence[str]) -> np.ndarray:
        wanted = np.array([n in kinds for n in self.names] + [False])
        return wanted[self.kind]  # code -1 (none) -> the last entry


# --------------------------------------------------------------------- decisions
def _decision_rows(
    log: EventLog, catalogue: Catalogue, keys: _Keys, notes: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Log positions of the decisions and their actions; bad rows refused (module doc)."""
    ev = log.events
    allowed = (
        "the calibration schema (sim.calibration.eventlog) with a propensity column: on each "
        "offer_sent row of a randomised decision, the chance of what was done (arm treatment: "
        "the offer sent; arm holdout: no offer)"
    )
    if "propensity" not in ev.columns:
        raise ValueError(f"propensity: no such column in the log; allowed: {allowed}")
    sent = (ev.event_type == "offer_sent").to_numpy()
    p = ev.propensity.to_numpy(dtype=np.float64)
    drawn = sent & ~np.isnan(p)
    if not drawn.any():
        raise ValueError(
            f"propensity: no offer_sent row carries one ({int(sent.sum()):,} offer_sent "
            f"row(s)); allowed: {allowed}"
        )
    rows = np.flatnonzero(drawn)
    bad = ~np.isfinite(p[rows]) | (p[rows] <= 0) | (p[rows] > 1)
    if bad.any():
        i = rows[np.flatnonzero(bad)[0]]
        raise ValueError(
            f"propensity: {float(p[i])!r} on {_where(log, i)}; allowed: a probability in "
            f"(0, 1] (the chance the decision had of what was done: 0 means it could not "
            f"have been done; {int(bad.sum()):,} such row(s))"
        )
    holdout = _lookup(ev, "arm", (HOLDOUT,))[rows] == 0
    offer = _lookup(ev, "offer", catalogue.names)[rows]
    wrong = ~holdout & (offer < 0)
    if wrong.any():
        i = rows[np.flatnonzero(wrong)[0]]
        name = str(ev.offer.iloc[i]) if "offer" in ev.columns else ""
        raise ValueError(
            f"offer: {name!r} on {_where(log, i)}; allowed: an offer of the catalogue ("
            f"{', '.join(catalogue.names)}), or arm holdout for a customer drawn and "
            f"deliberately not sent one ({int(wrong.sum()):,} such row(s))"
        )
    action = np.where(holdout, 0, offer + 1)
    loose = int((sent & np.isnan(p)).sum())
    if loose:
        notes.append(
            f"{loose:,} offer_sent row(s) without a propensity are not randomised decisions: "
            "left out (they still count as sends in the customers' offer features)."
        )
    first = np.r_[True, keys.key[rows][1:] != keys.key[rows][:-1]]  # same customer and day
    if not first.all():
        notes.append(
            f"{int((~first).sum()):,} further decision row(s) for a customer already decided "
            "for that day: only the first is kept."
        )
    return rows[first], action[first].astype(np.int64)


def _where(log: EventLog, i: int) -> str:
    ev = log.events
    date = (log.origin + pd.Timedelta(days=int(ev.day.iloc[i]))).date()
    return f"the offer_sent row of user {str(ev.user_id.iloc[i])!r} on {date}"


def _send_costs(scenario: Scenario, catalogue: Catalogue) -> np.ndarray:
    """What a send of each action costs (0: no offer)."""
    costs = [scenario.channel(o.channel).cost_per_send + o.cost_per_send for o in catalogue.offers]
    return np.array([0.0, *costs])


def _money(at: _At, keys: _Keys, events: _Events, amount: np.ndarray, window: int) -> np.ndarray:
    """Money in over each decision's window (days [day, day + window))."""
    sub = keys.where(events.kind_in(MONEY))
    paid = np.r_[0.0, np.cumsum(np.nan_to_num(amount[sub.rows]))]
    lo = np.searchsorted(sub.key, keys.of_day(at.user, at.day), "left")
    hi = np.searchsorted(sub.key, keys.of_day(at.user, at.day + window), "left")
    return paid[hi] - paid[lo]


# ---------------------------------------------------------------------- features
def _features(
    at: _At,
    keys: _Keys,
    events: _Events,
    log: EventLog,
    scenario: Scenario,
    catalogue: Catalogue,
    notes: list[str],
    no_signals: float = 0.0,
) -> dict[str, np.ndarray]:
    """The observation of each decision, by feature name (module doc); ``no_signals``
    fills the signal features of a log without signal rows."""
    d = at.day
    n = d.size
    out: dict[str, np.ndarray] = {}
    # status, recency, sessions, tenure
    churned = _churned_at(at, keys, events) & scenario.is_subscription
    activity = keys.where(events.kind_in(ACTIVITY))
    last_act = at.last_before(activity)
    act_day = keys.day[np.maximum(last_act, 0)]
    quiet = (last_act < 0) | (act_day <= d - scenario.inactive_after_days - 1)
    status = np.where(churned, 2, np.where(quiet, 1, 0))
    for k, name in enumerate(("active", "inactive", "churned")):
        out[f"status_{name}"] = (status == k).astype(np.float64)
    start = at.first_ever(keys.where(events.kind_in(STARTS)))
    anyone = at.first_ever(keys.where(~events.kind_in(UNCALIBRATED)))
    signed = np.where(start >= 0, keys.day[np.maximum(start, 0)], keys.day[np.maximum(anyone, 0)])
    signed = np.where((start < 0) & (anyone < 0), d, signed)
    since = np.where(last_act >= 0, d - act_day, d - signed)
    out["recency"] = np.minimum(since / RECENCY_SCALE_DAYS, 1.0)
    zero = log.window_start + scenario.warmup_days  # the episode's day 0
    week = zero + 7 * np.floor_divide(d - zero, 7)  # this week's first day
    for weeks, scale, name in (
        (RECENT_WEEKS, RECENT_SESSIONS_SCALE, "sessions_4w"),
        (SESSION_WEEKS, ALL_SESSIONS_SCALE, "sessions_13w"),
    ):
        count = at.count(activity, week - 7 * (weeks - 1) - d, 0)
        out[name] = np.minimum(count / scale, 1.0)
    out["tenure"] = np.minimum((d - signed) / TENURE_SCALE_DAYS, 1.0)
    # plan and price
    plan_rows = keys.where(events.kind_in(PLAN_EVENTS))
    last_plan = at.last_before(plan_rows)
    plan = np.where(last_plan >= 0, events.plan[np.maximum(last_plan, 0)], -1)
    if (plan == -2).any():
        names = sorted({str(log.events.plan.iloc[i]) for i in last_plan[plan == -2][:1000]})
        notes.append(
            f"{int((plan == -2).sum()):,} decision(s) for customers on a plan the scenario "
            f"does not have ({', '.join(names[:5])}): plan_* all 0, price_paid 0."
        )
    for k, name in enumerate(scenario.plan_names):
        out[f"plan_{name}"] = (plan == k).astype(np.float64)
    listed = _list_prices(d, plan, plan_rows.rows, keys, events, log.events)
    disc = _discount(at, keys, events, catalogue)
    trial = _on_trial(at, keys, events, catalogue, scenario)
    paid = np.where(churned | trial | (plan < 0), 0.0, listed * (1.0 - disc))
    top = float(max(p.monthly_price for p in scenario.plans))
    out["price_paid"] = paid.astype(np.float32) / top if top > 0 else np.zeros(n)
    out["discount_active"] = (disc > 0).astype(np.float64)
    out.update(_offer_features(at, keys, events, catalogue, notes))
    # survey, reach, taste, time
    answered = events.kind_in(("cancel",)) & (events.reason >= 0)
    first = at.first_ever(keys.where(answered))
    reason = np.where(first >= 0, events.reason[np.maximum(first, 0)], -1)
    for k, name in enumerate(PAIN_POINTS):
        out[f"survey_{name}"] = (reason == k).astype(np.float64)
    reach = _reach(at, keys, events, log)
    for c, channel in enumerate(CHANNELS):
        out[f"reachable_{channel}"] = reach[:, c].astype(np.float64)
    if not events.kind_in(OPT_OUTS).any():
        notes.append(
            "The log records no unsubscribe rows: every customer is taken as reachable on "
            "every channel (reachable_* = 1), so allowed_* may include sends the company "
            "could not make."
        )
    for genre in scenario.genres:
        out[f"genre_share_{genre}"] = np.full(n, 1.0 / len(scenario.genres))
    out.update(_signal_features(at, keys, events, log, activity, notes, no_signals))
    money = keys.where(events.kind_in(MONEY))
    cash = np.r_[0.0, np.cumsum(np.nan_to_num(log.events.amount.to_numpy(np.float64)[money.rows]))]
    first = np.searchsorted(money.key, at.user * keys.span, "left")
    upto = np.searchsorted(money.key, keys.of_day(at.user, d), "left")
    revenue = np.maximum(cash[upto] - cash[first], 0.0)
    out["revenue_to_date"] = np.minimum(np.log1p(revenue) / np.log1p(REVENUE_SCALE), 1.0)
    out["episode_progress"] = np.clip((d - zero) / scenario.horizon_days, 0.0, 1.0)
    return out


def _signal_features(
    at: _At,
    keys: _Keys,
    events: _Events,
    log: EventLog,
    activity: _Subset,
    notes: list[str],
    missing: float,
) -> dict[str, np.ndarray]:
    """Each signal's rate per session row before the day, encoded (module doc); ``missing``
    everywhere when the log has no signal rows."""
    n = at.day.size
    if not events.kind_in(SIGNAL_NAMES).any():
        treated = (
            "treated as unknown: each customer is scored from the rest of what the log shows"
            if np.isnan(missing)
            else "counted as none seen"
        )
        notes.append(
            f"The log records no behavioural signal rows ({', '.join(SIGNAL_NAMES)}), so the "
            f"signals (such as pricing-page views or app errors) are {treated}."
        )
        return {column: np.full(n, missing) for column in SIGNAL_COLUMNS}
    amount = log.events.amount.to_numpy(np.float64)
    rows = np.maximum(at.before(activity), 1)
    out = {}
    for name, column, base in zip(SIGNAL_NAMES, SIGNAL_COLUMNS, base_rates(), strict=True):
        sub = keys.where(events.kind_in((name,)))
        shown = np.r_[0.0, np.cumsum(np.where(np.isnan(amount[sub.rows]), 1.0, amount[sub.rows]))]
        first = np.searchsorted(sub.key, at.user * keys.span, "left")
        upto = np.searchsorted(sub.key, keys.of_day(at.user, at.day), "left")
        rate = (shown[upto] - shown[first]) / rows / (RATE_SCALE * base)
        out[column] = np.minimum(rate, 1.0)
    return out


def _reach(at: _At, keys: _Keys, events: _Events, log: EventLog) -> np.ndarray:
    """(decisions, channels) bool: no ``unsubscribe`` row of the customer on the channel
    before the day; rows on or before the log's window start hold from its opening."""
    opened = np.maximum(at.day, log.window_start + 1)  # the window's first day counts too
    out = np.ones((at.day.size, len(CHANNELS)), dtype=bool)
    is_out = events.kind_in(OPT_OUTS)
    for c in range(len(CHANNELS)):
        out[:, c] = at.shifted(opened).before(keys.where(is_out & (events.channel == c))) == 0
    return out


def _recent_sends(
    at: _At,
    keys: _Keys,
    events: _Events,
    log: EventLog,
    scenario: Scenario,
    catalogue: Catalogue,
    notes: list[str],
) -> np.ndarray:
    """(decisions, channels): sends on each channel in the decision's episode week before
    the day and the ``SEND_WEEKS - 1`` weeks before it (the simulator's frequency-cap ring).
    A send is an ``offer_sent`` row outside the holdout; its channel the row's, else its
    offer's; a send on no known channel counts against every channel (conservative)."""
    sent = events.kind_in(("offer_sent",)) & ~events.holdout
    of_offer = np.array([CHANNELS.index(o.channel) for o in catalogue.offers] + [-1])
    offer_channel = of_offer[np.where(events.offer >= 0, events.offer, -1)]  # -1: none
    channel = np.where(events.channel >= 0, events.channel, offer_channel)
    unknown = sent & (channel < 0)
    if unknown.any():
        notes.append(
            f"{int(unknown.sum()):,} send(s) on no known channel (no channel column value "
            "and an offer outside the catalogue): counted against every channel's cap."
        )
    zero = log.window_start + scenario.warmup_days  # the episode's day 0
    week = zero + 7 * np.floor_divide(at.day - zero, 7)  # this week's first day
    start = week - 7 * (SEND_WEEKS - 1) - at.day
    out = np.zeros((at.day.size, len(CHANNELS)), dtype=np.int64)
    for c in range(len(CHANNELS)):
        out[:, c] = at.count(keys.where(sent & ((channel == c) | unknown)), start, 0)
    return out


def _allowed(
    status: np.ndarray,
    reach: np.ndarray,
    recent: np.ndarray,
    scenario: Scenario,
    catalogue: Catalogue,
) -> np.ndarray:
    """(decisions, 1 + offers) bool, as ``Simulation.mask`` gives it: no offer always; an
    offer when its eligibility holds for the status, the customer is reachable on its
    channel and the channel's sends are under its cap."""
    out = np.ones((status.size, 1 + len(catalogue)), dtype=bool)
    for k, offer in enumerate(catalogue.offers):
        c = CHANNELS.index(offer.channel)
        eligible = np.array([s in offer.eligible for s in OBSERVED_STATUSES])[status]
        cap = scenario.channel(offer.channel).frequency_cap
        out[:, k + 1] = eligible & reach[:, c] & (recent[:, c] < cap)
    return out


def _churned_at(at: _At, keys: _Keys, events: _Events) -> np.ndarray:
    """The latest subscribe, resubscribe or cancel strictly before the day is a cancel."""
    last = at.last_before(keys.where(events.kind_in(("subscribe", "resubscribe", "cancel"))))
    cancel = events.names.index("cancel")
    return (last >= 0) & (events.kind[np.maximum(last, 0)] == cancel)


def _list_prices(
    day: np.ndarray,
    plan: np.ndarray,
    rows: np.ndarray,
    keys: _Keys,
    events: _Events,
    ev: pd.DataFrame,
) -> np.ndarray:
    """Each decision's plan's monthly list price as the log shows it on the day: the latest
    plan event of that plan before it (any customer), its price per month."""
    billing = _lookup(ev, "billing", tuple(BILLING_DAYS))
    per = np.array(list(BILLING_DAYS.values()), dtype=np.float64)
    days = np.where(billing >= 0, per[np.maximum(billing, 0)], BILLING_DAYS["monthly"])
    price = ev.price.to_numpy(dtype=np.float64) if "price" in ev.columns else np.zeros(len(ev))
    monthly = price / days * DAYS_PER_MONTH  # empty billing: monthly
    out = np.zeros(day.size)
    for k in np.unique(plan[plan >= 0]):
        mine = rows[events.plan[rows] == k]
        mine = mine[np.argsort(keys.day[mine], kind="stable")]
        pos = np.searchsorted(keys.day[mine], day[plan == k], "left") - 1
        out[plan == k] = np.nan_to_num(monthly[mine[np.maximum(pos, 0)]])
    return out


def _contact_costs(
    at: _At, keys: _Keys, events: _Events, catalogue: Catalogue, action: np.ndarray
) -> np.ndarray:
    """Each decision's support-contact cost: the offer's ``support_cost`` when it was
    opened (an ``offer_opened`` row of it on the decision day: the simulator charges the
    contact when the customer engages)."""
    out = np.zeros(action.size)
    for k, offer in enumerate(catalogue.offers):
        if offer.support_cost > 0:
            opened = at.count(_opened(keys, events, [k]), 0, 1) > 0
            out[(action == k + 1) & opened] = offer.support_cost
    return out


def _of_kind(catalogue: Catalogue, kind: str) -> list[int]:
    return [k for k, o in enumerate(catalogue.offers) if o.kind == kind]


def _opened(keys: _Keys, events: _Events, offers: list[int]) -> _Subset:
    return keys.where(events.kind_in(("offer_opened",)) & np.isin(events.offer, offers))


def _discount(at: _At, keys: _Keys, events: _Events, catalogue: Catalogue) -> np.ndarray:
    """The depth of the discount running on the day (0: none): the latest opened discount
    offer, while its duration runs."""
    last = at.last_before(_opened(keys, events, _of_kind(catalogue, "discount")))
    offer = events.offer[np.maximum(last, 0)]
    duration = np.array([o.duration_days for o in catalogue.offers] or [0])[offer]
    depth = np.array([o.discount for o in catalogue.offers] or [0.0])[offer]
    running = (last >= 0) & (keys.day[np.maximum(last, 0)] + duration > at.day)
    return np.where(running, depth, 0.0)


def _on_trial(
    at: _At, keys: _Keys, events: _Events, catalogue: Catalogue, scenario: Scenario
) -> np.ndarray:
    """A free trial runs on the day (module doc)."""
    last = at.last_before(_opened(keys, events, _of_kind(catalogue, "free_trial")))
    if not (last >= 0).any():
        return np.zeros(at.day.size, dtype=bool)
    sent = keys.day[np.maximum(last, 0)]
    days = np.array([o.trial_days for o in catalogue.offers])[events.offer[np.maximum(last, 0)]]
    then = at.shifted(sent)
    gone = _churned_at(then, keys, events)
    back = then.first_from(keys.where(events.kind_in(STARTS)))
    returned = keys.day[np.maximum(back, 0)]
    reach = max(scenario.dynamics.nudge_days, 1)
    in_time = (back >= 0) & (returned < sent + reach) & (returned < at.day)
    return (last >= 0) & np.where(gone, in_time & (returned + days >= at.day), sent + days > at.day)


def _offer_features(
    at: _At, keys: _Keys, events: _Events, catalogue: Catalogue, notes: list[str]
) -> dict[str, np.ndarray]:
    """Counts, the last offer and its response, and which offers were ever sent or opened."""
    out: dict[str, np.ndarray] = {}
    n_offers = max(len(catalogue), 1)
    is_sent = events.kind_in(("offer_sent",))
    is_opened = events.kind_in(("offer_opened",))
    unknown = int(((is_sent | is_opened) & (events.offer == -2)).sum())
    if unknown:
        notes.append(
            f"{unknown:,} offer row(s) (not decisions) name an offer outside the catalogue: "
            "left out of the offer features."
        )
    sends = keys.where(is_sent & (events.offer >= 0))
    opens = keys.where(is_opened & (events.offer >= 0))
    out["offers_received"] = np.minimum(at.before(sends) / OFFER_COUNT_SCALE, 1.0)
    out["offers_opened"] = np.minimum(at.before(opens) / OFFER_COUNT_SCALE, 1.0)
    last = at.last_before(sends)
    offer = np.where(last >= 0, events.offer[np.maximum(last, 0)], -1)
    for k, name in enumerate(catalogue.names):
        out[f"last_offer_{name}"] = (offer == k).astype(np.float64)
    since = np.where(last >= 0, at.day - keys.day[np.maximum(last, 0)], RECENCY_SCALE_DAYS)
    out["since_last_offer"] = np.minimum(since / RECENCY_SCALE_DAYS, 1.0)
    was_opened = np.isin(
        keys.key[np.maximum(last, 0)] * n_offers + np.maximum(offer, 0),
        keys.key[opens.rows] * n_offers + events.offer[opens.rows],
    )
    out["last_offer_opened"] = ((last >= 0) & was_opened).astype(np.float64)
    out["last_offer_ignored"] = ((last >= 0) & ~was_opened).astype(np.float64)
    for k, name in enumerate(catalogue.names):
        out[f"ever_sent_{name}"] = (
            at.before(keys.where(is_sent & (events.offer == k))) > 0
        ).astype(np.float64)
    for k, name in enumerate(catalogue.names):
        out[f"ever_opened_{name}"] = (
            at.before(keys.where(is_opened & (events.offer == k))) > 0
        ).astype(np.float64)
    return out


# ------------------------------------------------------------------ the table <-> Logged
def logged_from_decisions(table: pd.DataFrame, offers: Sequence[str]) -> Logged:
    """A decisions table (:data:`COLUMNS`, then the features) as ``Logged``; ``offers`` are
    the catalogue's offer names in action order (action k: ``offers[k - 1]``; a leading
    ``no_offer``, as ``Logged.meta["offers"]`` has it, is accepted too)."""
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise ValueError(
            f"decisions: missing column(s) {', '.join(missing)}; required: "
            f"{', '.join(REQUIRED)} (optional: date, offer, reactivated), then the features"
        )
    names = [str(o) for o in offers]
    names = names if names[:1] == [NO_OFFER] else [NO_OFFER, *names]
    allowed = _allowed_of(table, names)
    features = [str(c) for c in table.columns if c not in COLUMNS and not _is_allowed(c)]
    if not features:
        raise ValueError(
            "decisions: no feature columns; allowed: a table with the features after "
            f"{', '.join(COLUMNS)} (decisions_from_events writes them)"
        )
    action = table["action"].to_numpy()
    if not np.issubdtype(action.dtype, np.integer):
        raise ValueError(f"decisions.action: dtype {action.dtype}; allowed: integers")
    if "offer" in table.columns:
        inside = (action >= 0) & (action < len(names))
        given = table["offer"].astype(str).to_numpy()
        named = np.array(names, dtype=object)[np.where(inside, action, 0)]
        wrong = inside & (given != named)
        if wrong.any():
            i = int(np.flatnonzero(wrong)[0])
            raise ValueError(
                f"decisions.offer[{i}]: {given[i]!r} but action {int(action[i])} is "
                f"{named[i]!r}; allowed: the offer of the action (offers: {', '.join(names)})"
            )
    propensity = pd.to_numeric(table["propensity"], errors="coerce").to_numpy(np.float64)
    bad = ~((propensity > 0) & (propensity <= 1))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"decisions.propensity: {table['propensity'].iloc[i]} on row {i + 1} (user "
            f"{table['user_id'].iloc[i]}, day {table['day'].iloc[i]}); allowed: a probability "
            "in (0, 1], the logger's chance of what it did (0: it could not have done it)"
        )
    meta: dict[str, object] = {"features": features, "offers": names}
    if "date" in table.columns:
        origin = pd.to_datetime(table["date"]) - pd.to_timedelta(table["day"], unit="D")
        if origin.notna().all() and origin.nunique() == 1:
            meta["origin"] = str(origin.iloc[0].date())
    reactivated = None
    if "reactivated" in table.columns and table["reactivated"].notna().any():
        reactivated = table["reactivated"].to_numpy(dtype=np.float64)
    return Logged(
        action=action.astype(np.int64),
        reward=table["reward"].to_numpy(dtype=np.float64),
        pscore=table["propensity"].to_numpy(dtype=np.float64),
        context=table[features].to_numpy(dtype=np.float64),
        n_actions=len(names),
        user=table["user_id"].to_numpy(),
        day=table["day"].to_numpy(),
        reactivated=reactivated,
        allowed=allowed,
        meta=meta,
    )


def _is_allowed(column: object) -> bool:
    return str(column).startswith(ALLOWED)


def _allowed_of(table: pd.DataFrame, names: list[str]) -> np.ndarray | None:
    """``Logged.allowed`` from the table's ``allowed_<offer>`` columns (None: it has none):
    no offer always allowed; every offer's column, bool (or 0/1), or none of them."""
    wanted = allowed_columns(names)
    given = [str(c) for c in table.columns if _is_allowed(c)]
    if not given:
        return None
    stray = [c for c in given if c not in wanted]
    missing = [c for c in wanted if c not in given]
    if stray or missing:
        raise ValueError(
            f"decisions: allowed column(s) {', '.join(stray or missing)} "
            f"{'not of an offer' if stray else 'missing'}; allowed: all of "
            f"{', '.join(wanted)} (one per offer, as decisions_from_events writes them) or none"
        )
    out = np.ones((len(table), len(names)), dtype=bool)
    for k, column in enumerate(wanted, start=1):
        values = table[column]
        if values.dtype != bool:
            number = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
            bad = ~np.isin(number, (0.0, 1.0))
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                value = values.iloc[i]
                value = value.item() if isinstance(value, np.generic) else value
                raise ValueError(
                    f"decisions.{column}[{i}]: {value!r}; allowed: True or False "
                    "(or 1 or 0): whether the offer could be sent in that round"
                )
            values = number == 1.0
        out[:, k] = np.asarray(values, dtype=bool)
    return out


def decisions_of(logged: Logged) -> pd.DataFrame:
    """A ``Logged`` with customers, days and names (``meta``) as the decisions table:
    ``reactivated`` NaN where the log has none (the simulator's), ``date`` NaT where it has
    no first date (``meta["origin"]``)."""
    missing = [k for k in ("user", "day") if getattr(logged, k) is None]
    missing += [f"meta.{k}" for k in ("features", "offers") if k not in logged.meta]
    if missing:
        raise ValueError(
            f"logged: no {', '.join(missing)}; allowed: a log of customers and days with "
            "named features and offers (log_decisions and logged_from_decisions write them)"
        )
    offers = np.array(logged.meta["offers"], dtype=object)
    features = list(logged.meta["features"])
    if len(offers) != logged.n_actions or len(features) != np.shape(logged.context)[1]:
        raise ValueError(
            f"logged.meta: {len(offers)} offers and {len(features)} features; allowed: "
            f"{logged.n_actions} and {np.shape(logged.context)[1]}, as the rounds have"
        )
    day = np.asarray(logged.day)
    origin = logged.meta.get("origin")
    date = (
        pd.Timestamp(origin) + pd.to_timedelta(day, unit="D")
        if origin is not None
        else pd.to_datetime(np.full(day.size, np.datetime64("NaT", "ns")))
    )
    table = pd.DataFrame(
        {
            "user_id": np.asarray(logged.user),
            "day": day,
            "date": date,
            "action": np.asarray(logged.action),
            "offer": offers[np.asarray(logged.action)],
            "propensity": np.asarray(logged.pscore, dtype=np.float64),
            "reward": np.asarray(logged.reward, dtype=np.float64),
            "reactivated": np.nan
            if logged.reactivated is None
            else np.asarray(logged.reactivated, dtype=np.float64),
        }
    )
    parts = [table]
    if logged.allowed is not None:
        allowed = np.asarray(logged.allowed, dtype=bool)
        if not allowed[:, 0].all():
            i = int(np.flatnonzero(~allowed[:, 0])[0])
            raise ValueError(
                f"logged.allowed[{i}, 0]: False; allowed: True (no offer is always possible: "
                "the table keeps one allowed_<offer> column per offer)"
            )
        names = allowed_columns([str(o) for o in offers])
        parts.append(pd.DataFrame(allowed[:, 1:], columns=names, index=table.index))
    context = pd.DataFrame(
        np.asarray(logged.context, dtype=np.float64), columns=features, index=table.index
    )
    return pd.concat([*parts, context], axis=1)
