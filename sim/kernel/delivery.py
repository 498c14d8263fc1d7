"""Offers meeting users, compiled: eligibility, reachability, caps, fatigue, opens, effects.

:func:`deliver` is the one place an offer touches a user (``sim.messaging.deliver`` is its
Python face). It refuses what cannot be sent (and says why), charges what is sent, records
the send in the user's observable history and the ledger, and switches on the effects of
what is opened. :func:`action_mask` answers the same three refusal questions for every offer.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from sim.constants import (
    CHURNED,
    MESSAGE_COST,
    OFFER_KINDS,
    REACH_LOST_DAYS,
    SEND_WEEKS,
    SUPPORT_COST,
    UNSUBSCRIBE_COST,
)
from sim.kernel import named_tuple
from sim.kernel.counter_rng import stream_key, uniform
from sim.kernel.dynamics import next_effect_end
from sim.ledger import COUNTERS

OK, NOT_ELIGIBLE, UNREACHABLE, CAPPED = range(4)
DISCOUNT, FREE_TRIAL, RECOMMENDATION, SUPPORT, CONTENT_MESSAGE = (
    OFFER_KINDS.index(k)
    for k in ("discount", "free_trial", "recommendation", "support", "content_message")
)  # a reminder has no effect of its own
SENT, OPENED, UNSUBSCRIBED, REFUSED, SUPPORT_CONTACTS = (
    COUNTERS.index(c) for c in ("sent", "opened", "unsubscribed", "refused", "support_contacts")
)

# the scenario's scalars for messaging, packed by sim.messaging.delivery_params
INACTIVE_AFTER, SUBSCRIPTION, FATIGUE_HALFLIFE, FATIGUE_PER_MESSAGE = range(4)
NUDGE_DAYS, NUDGE_LIFT, HORIZON, N_PARAMS = 4, 5, 6, 7


SENDING = (
    "channel", "send_cost", "open_rate", "unsubscribe_prob", "unsubscribe_cost", "cap",
    "eligible", "kind", "lift",
    "discount", "duration", "trial_days", "support_cost", "segment", "state", "last_activity",
    "reachable", "sends_week", "responsiveness", "price_sens", "content_need", "friction", "tech",
    "fatigue", "fatigue_day", "n_offers", "n_opened", "last_offer", "last_offer_day",
    "last_opened", "offers_sent", "offers_opened", "disc_until", "disc_depth", "trial_until",
    "trial_window_until", "trial_len", "fix_until", "rec_until", "content_until", "boost_until",
    "boost", "next_change", "money", "messages", "unsubscribed",
)  # fmt: skip
"""What a delivery reads and writes: the catalogue's arrays, one entry per offer
(``sim.messaging.OfferTable``), then the recipients' (``sim.population``); passed and named
as :data:`sim.kernel.dynamics.USERS` is."""
Sending = named_tuple("Sending", SENDING, __name__)


REACH = ("channel", "cap", "eligible", "last_activity", "state", "reachable", "sends_week")
"""What the refusal rules read: the offers' channels, caps and eligibility, then the
users' status, reachability and recent sends."""
Reach = named_tuple("Reach", REACH, __name__)


@njit(cache=True, error_model="numpy", inline="always")
def unreached_share(day: float, horizon: float) -> float:
    """The part of the year of reach an opt-out on ``day`` loses (``REACH_LOST_DAYS``) that
    falls beyond the run's ``horizon``, which the run itself cannot see: in [0, 1]."""
    return min(1.0, max(0.0, (day + REACH_LOST_DAYS - horizon) / REACH_LOST_DAYS))


@njit(cache=True, error_model="numpy", inline="always")
def observed_status(
    i: int, day: float, Q: np.ndarray, last_activity: np.ndarray, state: np.ndarray
) -> int:
    """0 active, 1 inactive (no session for ``inactive_after_days``), 2 churned (visible
    only in subscription businesses)."""
    # without branches (statuses are random across users: branches would mispredict)
    churned = np.uint8(state[i] == CHURNED) & np.uint8(Q[SUBSCRIPTION] > 0.0)
    quiet = np.uint8(last_activity[i] <= np.float32(day - Q[INACTIVE_AFTER]))
    return int((churned << np.uint8(1)) | (quiet & ~churned & np.uint8(1)))


@njit(cache=True, error_model="numpy", inline="always")
def refusal(i: int, o: int, status: int, b: Any) -> int:
    """Why offer ``o`` cannot go to user ``i`` now (``OK`` where it can)."""
    ch = b.channel[o]
    if not b.eligible[o, status]:
        return NOT_ELIGIBLE
    if not b.reachable[i, ch]:
        return UNREACHABLE
    recent = 0
    for w in range(SEND_WEEKS):
        recent += b.sends_week[ch, w, i]
    return CAPPED if recent >= b.cap[o] else OK


@njit(cache=True, error_model="numpy", nogil=True)
def action_mask(users: np.ndarray, day: float, Q: np.ndarray, arrays: tuple) -> np.ndarray:
    """(users, 1 + offers) bool: which offers each user can be sent now (column 0, nothing,
    always can)."""
    b = Reach(*arrays)
    n_offers = b.channel.shape[0]
    mask = np.ones((users.shape[0], 1 + n_offers), dtype=np.bool_)
    for j in range(users.shape[0]):
        i = users[j]
        status = observed_status(i, day, Q, b.last_activity, b.state)
        for o in range(n_offers):
            why = refusal(i, o, status, b)
            mask[j, o + 1] = why == OK
    return mask


BAD_USER, BAD_OFFER, TWICE = 1, 2, 3


@njit(cache=True, error_model="numpy")
def request_error(users: np.ndarray, offers: np.ndarray, n_users: int, n_offers: int) -> int:
    """0 when a request is valid; else ``BAD_USER``, ``BAD_OFFER`` or ``TWICE`` (a user
    asked for twice)."""
    for j in range(users.shape[0]):
        if users[j] < 0 or users[j] >= n_users:
            return BAD_USER
        if offers[j] < 0 or offers[j] >= n_offers:
            return BAD_OFFER
    if users.shape[0] > 1:
        ordered = np.sort(users)
        for j in range(1, ordered.shape[0]):
            if ordered[j] == ordered[j - 1]:
                return TWICE
    return 0


@njit(cache=True, error_model="numpy", nogil=True)
def deliver(
    users: np.ndarray,
    offers: np.ndarray,
    day: float,
    slot: int,
    root: np.uint64,
    call: int,
    Q: np.ndarray,
    arrays: tuple,
    ledger_money: np.ndarray,
    counters: np.ndarray,
    refused: np.ndarray,
    flags: np.ndarray,
    costs: np.ndarray,
) -> int:
    """Send ``offers[j]`` to ``users[j]`` on ``day``; per request, ``refused[j]`` receives the
    refusal code, ``flags[:, j]`` (opened, unsubscribed) and ``costs[:, j]`` (message cost,
    support cost, opt-out cost). Returns 0, or the :func:`request_error` of an invalid
    request, in which case nothing has changed.

    Each user's two draws (open, unsubscribe) come from the stream
    keyed (user, ``call``) under ``root``.
    """
    b = Sending(*arrays)
    error = request_error(users, offers, b.last_activity.shape[0], b.channel.shape[0])
    if error:
        return error
    in_horizon = 0.0 <= day < Q[HORIZON]
    week = int(day // 7.0) if in_horizon else 0
    for j in range(users.shape[0]):
        i, o = users[j], offers[j]
        seg = b.segment[i]
        status = observed_status(i, day, Q, b.last_activity, b.state)
        why = refusal(i, o, status, b)
        refused[j] = why
        if why != OK:
            if in_horizon:
                counters[week, REFUSED, seg] += 1
            continue
        key = stream_key(root, i, call)
        ch = b.channel[o]
        elapsed = day - b.fatigue_day[i]
        decay = 2.0 ** (-elapsed / Q[FATIGUE_HALFLIFE]) if math.isfinite(elapsed) else 0.0
        tired = b.fatigue[i] * decay
        p_open = (
            b.responsiveness[i, ch] * b.open_rate[o] * math.exp(-Q[FATIGUE_PER_MESSAGE] * tired)
        )
        opened = uniform(key, 0) < p_open
        unsub = uniform(key, 1) < min(1.0, b.unsubscribe_prob[o] * (1.0 + tired))
        # the observable trace of the send
        b.fatigue[i] = tired + 1.0
        b.fatigue_day[i] = day
        b.sends_week[ch, slot % SEND_WEEKS, i] += 1
        if unsub:
            b.reachable[i, ch] = False
        b.n_offers[i] += 1
        b.last_offer[i] = o
        b.last_offer_day[i] = day
        b.last_opened[i] = 1 if opened else 0
        bit = np.uint32(1) << np.uint32(o)
        b.offers_sent[i] |= bit
        if opened:
            b.n_opened[i] += 1
            b.offers_opened[i] |= bit
        # the money and the counts
        msg = np.float32(b.send_cost[o])
        sup = np.float32(b.support_cost[o]) if opened and b.kind[o] == SUPPORT else np.float32(0.0)
        lost = np.float32(0.0)
        if unsub:
            lost = np.float32(b.unsubscribe_cost[o] * unreached_share(day, Q[HORIZON]))
        flags[0, j], flags[1, j] = opened, unsub
        costs[0, j], costs[1, j], costs[2, j] = msg, sup, lost
        if day >= 0.0:
            b.money[MESSAGE_COST, i] += msg
            b.money[SUPPORT_COST, i] += sup
            b.messages[i] += 1
            if unsub:
                b.unsubscribed[i] += 1
                b.money[UNSUBSCRIBE_COST, i] += lost
        if in_horizon:
            counters[week, SENT, seg] += 1
            counters[week, OPENED, seg] += opened
            counters[week, UNSUBSCRIBED, seg] += unsub
            counters[week, SUPPORT_CONTACTS, seg] += opened and b.kind[o] == SUPPORT
            ledger_money[week, MESSAGE_COST, seg] += msg
            ledger_money[week, SUPPORT_COST, seg] += sup
            ledger_money[week, UNSUBSCRIBE_COST, seg] += lost
        if opened:
            _switch_on(i, o, day, Q, b, _trait(b.kind[o], i, b))
    return 0


@njit(cache=True, error_model="numpy", inline="always")
def _trait(k: int, i: int, b: Any) -> float:
    """The latent trait an offer of kind ``k`` works through (none for reminders)."""
    if k == DISCOUNT:
        return float(b.price_sens[i])
    if k in (FREE_TRIAL, CONTENT_MESSAGE):
        return float(b.content_need[i])
    if k == RECOMMENDATION:
        return float(b.friction[i])
    if k == SUPPORT:
        return float(b.tech[i])
    return 0.0


@njit(cache=True, error_model="numpy")
def _switch_on(i: int, o: int, day: float, Q: np.ndarray, b: Any, trait: float) -> None:
    """Start the effects of opened offer ``o`` on user ``i``."""
    k = b.kind[o]
    window = np.float32(day + max(Q[NUDGE_DAYS], 1.0))
    gain = Q[NUDGE_LIFT] + b.lift[o] * trait
    b.boost[i] = max(b.boost[i], gain) if b.boost_until[i] > day else gain
    b.boost_until[i] = max(b.boost_until[i], window)
    until = np.float32(day + b.duration[o])
    if k == DISCOUNT:
        b.disc_until[i] = until
        b.disc_depth[i] = b.discount[o]
    elif k == RECOMMENDATION:
        b.rec_until[i] = max(b.rec_until[i], until)
    elif k == SUPPORT:
        b.fix_until[i] = max(b.fix_until[i], until)
    elif k == CONTENT_MESSAGE:
        b.content_until[i] = max(b.content_until[i], window)
    elif k == FREE_TRIAL:  # churned users get free days if they return within the window
        b.trial_len[i] = b.trial_days[o]
        if b.state[i] == CHURNED:
            b.trial_window_until[i] = window
        else:
            b.trial_until[i] = np.float32(day + b.trial_days[o])
    b.next_change[i] = next_effect_end(i, day, b)


@njit(cache=True, error_model="numpy", nogil=True)
def refusals(
    users: np.ndarray, offers: np.ndarray, day: float, Q: np.ndarray, arrays: tuple
) -> np.ndarray:
    """Why each requested offer ``offers[j]`` cannot go to ``users[j]`` (``OK`` where it can)."""
    b = Reach(*arrays)
    out = np.zeros(users.shape[0], dtype=np.int8)
    for j in range(users.shape[0]):
        i = users[j]
        status = observed_status(i, day, Q, b.last_activity, b.state)
        out[j] = refusal(i, offers[j], status, b)
    return out


@njit(cache=True, error_model="numpy", nogil=True)
def status_of(
    users: np.ndarray, day: float, Q: np.ndarray, last_activity: np.ndarray, state: np.ndarray
) -> np.ndarray:
    """Observed status (0 active, 1 inactive, 2 churned) of each of ``users``."""
    out = np.empty(users.shape[0], dtype=np.int8)
    for j in range(users.shape[0]):
        out[j] = observed_status(users[j], day, Q, last_activity, state)
    return out


@njit(cache=True, error_model="numpy", nogil=True)
def status_all(
    day: float, Q: np.ndarray, last_activity: np.ndarray, state: np.ndarray
) -> np.ndarray:
    """:func:`status_of` every user (a contiguous loop the compiler vectorises)."""
    out = np.empty(state.shape[0], dtype=np.int8)
    for i in range(state.shape[0]):
        out[i] = observed_status(i, day, Q, last_activity, state)
    return out
