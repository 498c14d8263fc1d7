"""Subscription spells: each customer's subscriptions, from a (re)subscription to the
cancellation that ended it or to the end of the log.

``subscription_spells(log)`` has one row per spell:

================= =========================================================================
``user_id``       the customer (categorical, as in the log's events)
``spell``         0, 1, ... per customer in time order (> 0: after a resubscription)
``start``         day of the subscribe / resubscribe (days from the log's first day)
``end``           day the cancellation took effect, or the log's last day if still subscribed
``cancelled``     whether the spell ended with a cancellation (False: right-censored)
``plan``          the plan in force at the end (after any plan_change)
``billing``       ``monthly`` or ``annual`` (an empty billing is monthly)
``billing_days``  the billing period in days (``sim.constants.BILLING_DAYS``)
``price``         the plan's list price per billing period
``monthly_price`` the price per month: price x 30 / billing_days
``reason``        the cancellation's exit-survey reason, "" when none (or not cancelled)
================= =========================================================================

The log's histories are consistent (``sim.calibration.eventlog`` checks them), so a
customer's starts and cancels alternate: each start is ended by the customer's next cancel,
if any. A spell begun and cancelled on the same day is a customer already lapsed when the
log's window opened, whose earlier history is unknown (:func:`no_history`): subscribing and
cancelling the same day is otherwise impossible (a cancellation takes effect at the end of a
billing period).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.calibration.eventlog import DEFAULT_BILLING, EVENT_TYPES, PLAN_EVENTS, STARTS, EventLog
from sim.constants import BILLING_DAYS, DAYS_PER_MONTH

COLUMNS = (
    "user_id",
    "spell",
    "start",
    "end",
    "cancelled",
    "plan",
    "billing",
    "billing_days",
    "price",
    "monthly_price",
    "reason",
)


def subscription_spells(log: EventLog) -> pd.DataFrame:
    """One row per subscription spell of ``log`` (see the module docstring)."""
    ev = log.events
    kind = ev.event_type.cat.codes.to_numpy()  # categories: EVENT_TYPES
    starts = np.flatnonzero(_is(kind, STARTS))
    if not starts.size:
        return pd.DataFrame({c: [] for c in COLUMNS})
    user = ev.user_id.cat.codes.to_numpy()
    ends = _ends(user, kind, starts)
    cancelled = ends >= 0
    last_row = _last_rows(user)[user[starts]]  # a censored spell's plan: at the user's end
    plan_row = _last_marked(_is(kind, PLAN_EVENTS), np.where(cancelled, ends, last_row))
    billing = _column(ev, "billing", plan_row).replace("", DEFAULT_BILLING)
    days = billing.map(BILLING_DAYS).to_numpy(dtype=np.int32)
    price = ev.price.to_numpy()[plan_row]
    day = ev.day.to_numpy()
    return pd.DataFrame(
        {
            "user_id": pd.Categorical.from_codes(user[starts], ev.user_id.cat.categories),
            "spell": (np.arange(starts.size) - _first_of_run(user[starts])).astype(np.int32),
            "start": day[starts],
            "end": np.where(cancelled, day[ends], log.end).astype(np.int32),
            "cancelled": cancelled,
            "plan": _column(ev, "plan", plan_row),
            "billing": billing,
            "billing_days": days,
            "price": price,
            "monthly_price": price * DAYS_PER_MONTH / days,
            "reason": _column(ev, "reason", ends).where(cancelled, ""),
        }
    )


def _is(kind: np.ndarray, kinds: tuple[str, ...]) -> np.ndarray:
    return np.isin(kind, [EVENT_TYPES.index(k) for k in kinds])


def _ends(user: np.ndarray, kind: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The row of the cancel that ends each spell (the customer's next start or cancel
    after it, when that is a cancel), or -1."""
    marks = np.flatnonzero(_is(kind, (*STARTS, "cancel")))
    after = np.searchsorted(marks, starts, side="right")
    nxt = marks[np.minimum(after, marks.size - 1)]
    cancel = kind[nxt] == EVENT_TYPES.index("cancel")
    ended = (after < marks.size) & (user[nxt] == user[starts]) & cancel
    return np.where(ended, nxt, -1)


def _last_rows(user: np.ndarray) -> np.ndarray:
    """The last row of each user code (rows sorted by user)."""
    last = np.full(int(user.max()) + 1, -1, dtype=np.int64)
    ends = np.flatnonzero(np.r_[user[1:] != user[:-1], True])
    last[user[ends]] = ends
    return last


def _last_marked(mark: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each of ``rows``, the last marked row at or before it (0 when none)."""
    marked = np.flatnonzero(mark)
    return np.append(0, marked)[np.searchsorted(marked, rows, side="right")]


def _first_of_run(values: np.ndarray) -> np.ndarray:
    """For each position, where its run of equal values began."""
    pos = np.arange(values.size)
    return np.maximum.accumulate(np.where(np.r_[True, values[1:] != values[:-1]], pos, 0))


def _column(ev: pd.DataFrame, name: str, rows: np.ndarray) -> pd.Series:
    """Text column ``name`` at ``rows`` (-1: none) as strings; "" where there is none."""
    if name not in ev:
        return pd.Series([""] * rows.size, dtype=object)
    column = ev[name].cat
    text = np.append(column.categories.to_numpy(dtype=object), "")
    codes = np.where(rows >= 0, column.codes.to_numpy()[rows], -1)  # -1: the "" appended
    return pd.Series(text[codes], dtype=object)


def no_history(spells: pd.DataFrame) -> np.ndarray:
    """Spells begun and cancelled on the same day: customers lapsed before the window, with
    no history known (see the module docstring)."""
    return (spells.cancelled & (spells.start == spells.end)).to_numpy(bool)
