"""Offers meeting users, compiled: eligibility, reachability, caps, fatigue, opens, effects.

:func:`deliver` is the one place an offer touches a user (``sim.messaging.deliver`` is its
Python face). It refuses what cannot be sent (and says why), charges what is sent, records
the send in the user's observable history and the ledger, and switches on the effects of
what is opened. :func:`action_mask` answers the same three refusal questions for every offer.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from sim.constants import CHURNED, MESSAGE_COST, OFFER_KINDS, SEND_WEEKS, SUPPORT_COST
from sim.kernel.counter_rng import stream_key, uniform
from sim.kernel.dynamics import next_effect_end
from sim.ledger import COUNTERS

OK, NOT_ELIGIBLE, UNREACHABLE, CAPPED = range(4)
DISCOUNT, FREE_TRIAL, RECOMMENDATION, SUPPORT, CONTENT_MESSAGE, REMINDER = range(6)
if OFFER_KINDS.index("reminder") != REMINDER or OFFER_KINDS.index("support") != SUPPORT:
    raise ImportError("sim.kernel.delivery: offer kind codes out of date with OFFER_KINDS")
SENT, OPENED, UNSUBSCRIBED, REFUSED, SUPPORT_CONTACTS = (
    COUNTERS.index(c) for c in ("sent", "opened", "unsubscribed", "refused", "support_contacts")
)

# the scenario's scalars for messaging, packed by sim.messaging.delivery_params
INACTIVE_AFTER, SUBSCRIPTION, FATIGUE_HALFLIFE, FATIGUE_PER_MESSAGE = range(4)
NUDGE_DAYS, NUDGE_LIFT, HORIZON, N_PARAMS = 4, 5, 6, 7


@njit(cache=True, error_model="numpy", inline="always")
def observed_status(
    i: int, day: float, Q: np.ndarray, last_activity: np.ndarray, state: np.ndarray
) -> int:
    """0 active, 1 inactive (no session for ``inactive_after_days``), 2 cancelled (visible
    only in subscription businesses)."""
    # without branches (statuses are random across users: branches would mispredict)
    cancelled = np.uint8(state[i] == CHURNED) & np.uint8(Q[SUBSCRIPTION] > 0.0)
    quiet = np.uint8(last_activity[i] <= np.float32(day - Q[INACTIVE_AFTER]))
    return int((cancelled << np.uint8(1)) | (quiet & ~cancelled & np.uint8(1)))


@njit(cache=True, error_model="numpy", inline="always")
def refusal(
    i: int,
    o: int,
    status: int,
    channel: np.ndarray,
    cap: np.ndarray,
    eligible: np.ndarray,
    reachable: np.ndarray,
    sends_week: np.ndarray,
) -> int:
    """Why offer ``o`` cannot go to user ``i`` now (``OK`` where it can)."""
    ch = channel[o]
    if not eligible[o, status]:
        return NOT_ELIGIBLE
    if not reachable[i, ch]:
        return UNREACHABLE
    recent = 0
    for w in range(SEND_WEEKS):
        recent += sends_week[ch, w, i]
    return CAPPED if recent >= cap[o] else OK


@njit(cache=True, error_model="numpy", nogil=True)
def action_mask(
    users: np.ndarray,
    day: float,
    Q: np.ndarray,
    channel: np.ndarray,
    cap: np.ndarray,
    eligible: np.ndarray,
    last_activity: np.ndarray,
    state: np.ndarray,
    reachable: np.ndarray,
    sends_week: np.ndarray,
) -> np.ndarray:
    """(users, 1 + offers) bool: which offers each user can be sent now (column 0, nothing,
    always can)."""
    n_offers = channel.shape[0]
    mask = np.ones((users.shape[0], 1 + n_offers), dtype=np.bool_)
    for j in range(users.shape[0]):
        i = users[j]
        status = observed_status(i, day, Q, last_activity, state)
        for o in range(n_offers):
            why = refusal(i, o, status, channel, cap, eligible, reachable, sends_week)
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
    channel: np.ndarray,
    send_cost: np.ndarray,
    open_rate: np.ndarray,
    unsubscribe_prob: np.ndarray,
    cap: np.ndarray,
    eligible: np.ndarray,
    kind: np.ndarray,
    lift: np.ndarray,
    discount: np.ndarray,
    duration: np.ndarray,
    trial_days: np.ndarray,
    support_cost: np.ndarray,
    segment: np.ndarray,
    state: np.ndarray,
    last_activity: np.ndarray,
    reachable: np.ndarray,
    sends_week: np.ndarray,
    responsiveness: np.ndarray,
    price_sens: np.ndarray,
    content_need: np.ndarray,
    friction: np.ndarray,
    tech: np.ndarray,
    fatigue: np.ndarray,
    fatigue_day: np.ndarray,
    n_offers: np.ndarray,
    n_opened: np.ndarray,
    last_offer: np.ndarray,
    last_offer_day: np.ndarray,
    last_opened: np.ndarray,
    offers_sent: np.ndarray,
    offers_opened: np.ndarray,
    disc_until: np.ndarray,
    disc_depth: np.ndarray,
    trial_until: np.ndarray,
    trial_window_until: np.ndarray,
    trial_len: np.ndarray,
    fix_until: np.ndarray,
    rec_until: np.ndarray,
    content_until: np.ndarray,
    boost_until: np.ndarray,
    boost: np.ndarray,
    next_change: np.ndarray,
    money: np.ndarray,
    messages: np.ndarray,
    unsubscribed: np.ndarray,
    ledger_money: np.ndarray,
    counters: np.ndarray,
    refused: np.ndarray,
    flags: np.ndarray,
    costs: np.ndarray,
) -> int:
    """Send ``offers[j]`` to ``users[j]`` on ``day``; per request, ``refused[j]`` receives the
    refusal code, ``flags[:, j]`` (opened, unsubscribed) and ``costs[:, j]`` (message cost,
    support cost). Returns 0, or the :func:`request_error` of an invalid request, in which
    case nothing has changed.

    Each user's two draws (open, unsubscribe) come from the stream
    keyed (user, ``call``) under ``root``.
    """
    error = request_error(users, offers, last_activity.shape[0], channel.shape[0])
    if error:
        return error
    in_horizon = 0.0 <= day < Q[HORIZON]
    week = int(day // 7.0) if in_horizon else 0
    for j in range(users.shape[0]):
        i, o = users[j], offers[j]
        seg = segment[i]
        status = observed_status(i, day, Q, last_activity, state)
        why = refusal(i, o, status, channel, cap, eligible, reachable, sends_week)
        refused[j] = why
        if why != OK:
            if in_horizon:
                counters[week, REFUSED, seg] += 1
            continue
        key = stream_key(root, i, call)
        ch = channel[o]
        elapsed = day - fatigue_day[i]
        decay = 2.0 ** (-elapsed / Q[FATIGUE_HALFLIFE]) if math.isfinite(elapsed) else 0.0
        tired = fatigue[i] * decay
        p_open = responsiveness[i, ch] * open_rate[o] * math.exp(-Q[FATIGUE_PER_MESSAGE] * tired)
        opened = uniform(key, 0) < p_open
        unsub = uniform(key, 1) < min(1.0, unsubscribe_prob[o] * (1.0 + tired))
        # the observable trace of the send
        fatigue[i] = tired + 1.0
        fatigue_day[i] = day
        sends_week[ch, slot % SEND_WEEKS, i] += 1
        if unsub:
            reachable[i, ch] = False
        n_offers[i] += 1
        last_offer[i] = o
        last_offer_day[i] = day
        last_opened[i] = 1 if opened else 0
        bit = np.uint32(1) << np.uint32(o)
        offers_sent[i] |= bit
        if opened:
            n_opened[i] += 1
            offers_opened[i] |= bit
        # the money and the counts
        msg = np.float32(send_cost[o])
        sup = np.float32(support_cost[o]) if opened and kind[o] == SUPPORT else np.float32(0.0)
        flags[0, j], flags[1, j], costs[0, j], costs[1, j] = opened, unsub, msg, sup
        if day >= 0.0:
            money[MESSAGE_COST, i] += msg
            money[SUPPORT_COST, i] += sup
            messages[i] += 1
            if unsub:
                unsubscribed[i] += 1
        if in_horizon:
            counters[week, SENT, seg] += 1
            counters[week, OPENED, seg] += opened
            counters[week, UNSUBSCRIBED, seg] += unsub
            counters[week, SUPPORT_CONTACTS, seg] += opened and kind[o] == SUPPORT
            ledger_money[week, MESSAGE_COST, seg] += msg
            ledger_money[week, SUPPORT_COST, seg] += sup
        if opened:
            _switch_on(
                i, o, day, Q, kind, lift, discount, duration, trial_days, state,
                _trait(kind[o], i, price_sens, content_need, friction, tech),
                disc_until, disc_depth, trial_until, trial_window_until, trial_len, fix_until,
                rec_until, content_until, boost_until, boost, next_change,
            )  # fmt: skip
    return 0


@njit(cache=True, error_model="numpy", inline="always")
def _trait(
    k: int,
    i: int,
    price_sens: np.ndarray,
    content_need: np.ndarray,
    friction: np.ndarray,
    tech: np.ndarray,
) -> float:
    """The latent trait an offer of kind ``k`` works through (none for reminders)."""
    if k == DISCOUNT:
        return float(price_sens[i])
    if k in (FREE_TRIAL, CONTENT_MESSAGE):
        return float(content_need[i])
    if k == RECOMMENDATION:
        return float(friction[i])
    if k == SUPPORT:
        return float(tech[i])
    return 0.0


@njit(cache=True, error_model="numpy")
def _switch_on(
    i: int,
    o: int,
    day: float,
    Q: np.ndarray,
    kind: np.ndarray,
    lift: np.ndarray,
    discount: np.ndarray,
    duration: np.ndarray,
    trial_days: np.ndarray,
    state: np.ndarray,
    trait: float,
    disc_until: np.ndarray,
    disc_depth: np.ndarray,
    trial_until: np.ndarray,
    trial_window_until: np.ndarray,
    trial_len: np.ndarray,
    fix_until: np.ndarray,
    rec_until: np.ndarray,
    content_until: np.ndarray,
    boost_until: np.ndarray,
    boost: np.ndarray,
    next_change: np.ndarray,
) -> None:
    """Start the effects of opened offer ``o`` on user ``i``."""
    k = kind[o]
    window = np.float32(day + max(Q[NUDGE_DAYS], 1.0))
    gain = Q[NUDGE_LIFT] + lift[o] * trait
    boost[i] = max(boost[i], gain) if boost_until[i] > day else gain
    boost_until[i] = max(boost_until[i], window)
    until = np.float32(day + duration[o])
    if k == DISCOUNT:
        disc_until[i] = until
        disc_depth[i] = discount[o]
    elif k == RECOMMENDATION:
        rec_until[i] = max(rec_until[i], until)
    elif k == SUPPORT:
        fix_until[i] = max(fix_until[i], until)
    elif k == CONTENT_MESSAGE:
        content_until[i] = max(content_until[i], window)
    elif k == FREE_TRIAL:  # churned users get free days if they return within the window
        trial_len[i] = trial_days[o]
        if state[i] == CHURNED:
            trial_window_until[i] = window
        else:
            trial_until[i] = np.float32(day + trial_days[o])
    next_change[i] = next_effect_end(
        i, day, disc_until, trial_until, trial_window_until, fix_until, rec_until,
        content_until, boost_until,
    )  # fmt: skip


@njit(cache=True, error_model="numpy", nogil=True)
def refusals(
    users: np.ndarray,
    offers: np.ndarray,
    day: float,
    Q: np.ndarray,
    channel: np.ndarray,
    cap: np.ndarray,
    eligible: np.ndarray,
    last_activity: np.ndarray,
    state: np.ndarray,
    reachable: np.ndarray,
    sends_week: np.ndarray,
) -> np.ndarray:
    """Why each requested offer ``offers[j]`` cannot go to ``users[j]`` (``OK`` where it can)."""
    out = np.zeros(users.shape[0], dtype=np.int8)
    for j in range(users.shape[0]):
        i = users[j]
        status = observed_status(i, day, Q, last_activity, state)
        out[j] = refusal(i, offers[j], status, channel, cap, eligible, reachable, sends_week)
    return out


@njit(cache=True, error_model="numpy", nogil=True)
def status_of(
    users: np.ndarray, day: float, Q: np.ndarray, last_activity: np.ndarray, state: np.ndarray
) -> np.ndarray:
    """Observed status (0 active, 1 inactive, 2 cancelled) of each of ``users``."""
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
