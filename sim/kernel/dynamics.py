"""The population's dynamics between two calendar events, one user at a time, compiled.

Between two calendar events every user's hazards are constant except where one of the user's
own effects (a discount, a trial, a fix, a message's nudge) ends: a per-user breakpoint. The
time to a user's next transition is an exponential budget of integrated hazard, drawn once
per transition: each segment (up to the next breakpoint) spends it at the segment's total
rate, and what is left is measured anew only where the rates change, so the transition time
is the same, bit for bit, whether or not an effect that changes nothing cuts the way (by the
time change of a Poisson process this is exact). At the transition a uniform picks the exit
in proportion to the rates. Sessions and money are drawn and booked per stretch in one state
and one money regime (a discount or trial acting throughout, or none): sessions in a stretch
are a Poisson process, the last one drawn exactly as the end time minus an exponential
back-time. Each of these has its own stream per user and interval (the clock; sessions;
exit surveys and deal shocks: ``counter_rng.substream``), so what one consumes never shifts
another's numbers: an opened offer with no effect leaves the user's whole future as in the
no-offer run.

Plans billed in periods (``billing``: days per period, 0 for none) defer a cancellation to
the end of the period it is decided in (periods run from the user's ``subscribed_at``): the
decision sets the user's ``cancel_at``, a breakpoint like an effect's end, at which the user
moves to churned from whatever state engagement has reached; until then the user cannot
cancel again (no second exit to churned).

Rates follow the formula of :mod:`sim.hazards` (``sim.naive.user_rates`` is the same
formula written plainly, and the tests hold the two equal).

Each stretch's sessions show behavioural signals (``sim.signals``), counted per user and
drawn from a substream of their own: they change no other number.

When recording (``sim.recording``), the kernel also keeps what a company's systems would:
the day of every session (the other sessions of a stretch are drawn, uniform before the
last one, from the recording's own random stream, so the main stream and every result are
the same with and without recording) and every subscription payment, per billing period.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from sim.constants import (
    ACTIVE,
    CHURNED,
    DISCOUNT_COST,
    DORMANT,
    N_STATES,
    PAIN_POINTS,
    RETENTION_DAYS,
    REVENUE,
    SERVING_COST,
    TRIAL_COST,
)
from sim.hazards import MIN_PRICE_RATIO, REC_FRICTION_LEFT
from sim.kernel import named_tuple
from sim.kernel.counter_rng import exponential, poisson, stream_key, substream, uniform
from sim.ledger import COUNTERS
from sim.signals import TRAIT_REF

REACTIVATIONS = COUNTERS.index("reactivations")
N_PAIN = len(PAIN_POINTS)
SESSIONS, CHANCES, SIGNALS = 1, 2, 3  # a user's substreams in an interval besides the clock's
RETAIN_SHORT, RETAIN_LONG = RETENTION_DAYS


USERS = (
    "segment", "pain", "price_sens", "content_need", "friction", "tech", "affinity", "deal_seeker",
    "lapse_mult", "return_mult", "activity_mult", "basket", "genre_counts", "signal_noise", "state",
    "plan", "anchor_price", "subscribed_at", "cancel_at", "last_activity", "sessions_week",
    "total_sessions", "signals", "revenue_to_date", "survey", "disc_until", "disc_depth",
    "trial_until", "trial_window_until",
    "trial_len", "fix_until", "rec_until", "content_until", "boost_until", "boost", "next_change",
    "money", "reactivations", "first_react", "retained30", "retained90", "ever_inactive",
)  # fmt: skip
"""The population arrays (``sim.population`` fields) the dynamics kernels read and write.
Callers pass them as a plain tuple in this order, ``sim.kernel.arrays_of(USERS, pop)``:
numba types a plain tuple in C (a named one would cost about a microsecond more per call);
each kernel names them again, ``u = Users(*users)``."""
Users = named_tuple("Users", USERS, __name__)

LOG = ("billing_days", "period_paid", "period_index", "period_rate")
"""What the kernel keeps for the event log (``sim.recording.Recording``): the log's billing
period of each plan (days), then per user what the current period has cost so far, its
index since the (re)subscription (0: the first) and the price a day paid lately."""
Logged = named_tuple("Logged", LOG, __name__)


# the scenario's scalars, packed into one float64 vector by sim.engine.kernel_params
(
    TECH_W,
    FRICTION_W,
    FRESH_W,
    PRICE_W,
    PRICE_LEVEL_W,
    CONTENT_GAIN,
    DEAL_SHOCK,
    SURVEY_FRACTION,
    SURVEY_ACCURACY,
    SUBSCRIPTION,
    MARGIN,
    SERVING,
    HORIZON,
    N_PARAMS,
) = range(14)


@njit(cache=True, error_model="numpy", inline="always")
def next_effect_end(i: int, after: float, u: Any) -> float:
    """Earliest effect end of user ``i`` strictly after ``after`` (+inf when none); ``u``:
    any bundle of arrays with the effect fields (:class:`Users`, ``delivery.Sending``)."""
    best = np.inf
    for end in (
        u.disc_until[i], u.trial_until[i], u.trial_window_until[i], u.fix_until[i],
        u.rec_until[i], u.content_until[i], u.boost_until[i],
    ):  # fmt: skip
        if end > after and end < best:
            best = end
    return best


@njit(cache=True, error_model="numpy", inline="always")
def period_end(start: float, period: float, when: float) -> float:
    """End of the billing period of ``period`` days (periods run from ``start``) that
    ``when`` falls in: the first period boundary strictly after ``when``."""
    k = math.floor((when - start) / period) + 1.0
    end = start + k * period
    while end <= when:  # rounding
        k += 1.0
        end = start + k * period
    return end


@njit(cache=True, error_model="numpy", inline="always")
def cached_rates(
    i: int, state: int, P: np.ndarray, fresh_g: np.ndarray, u: Any, cache: np.ndarray
) -> tuple[float, float]:
    """The rates of user ``i`` with no offer effect: :func:`user_rates` from the cached parts
    that change only with the user's state and the list price (only freshness is new each
    interval)."""
    taste = 0.0
    for g in range(fresh_g.shape[0]):
        taste += fresh_g[g] * u.affinity[g, i]
    fresh = P[FRESH_W] * u.content_need[i] * taste
    return math.exp(cache[0, i] + (-fresh if state == ACTIVE else fresh)), cache[1, i]


@njit(cache=True, error_model="numpy")
def user_rates(
    i: int,
    t: float,
    state: int,
    P: np.ndarray,
    fresh_g: np.ndarray,
    list_day: np.ndarray,
    u: Any,
    cache: np.ndarray,
) -> tuple[float, float]:
    """(rate to the first exit, rate to the second exit) of user ``i`` at time ``t``: the
    cached parts (:func:`rate_parts`) plus what each acting effect adds to the log rate.
    An effect that adds nothing (a message whose lift is 0) leaves the rates of
    :func:`cached_rates` bit for bit, so it cannot move the user's future."""
    taste = 0.0
    for g in range(fresh_g.shape[0]):
        taste += fresh_g[g] * u.affinity[g, i]
    if u.content_until[i] > t:
        taste *= 1.0 + P[CONTENT_GAIN]
    fresh = P[FRESH_W] * u.content_need[i] * taste
    tech = P[TECH_W] * u.tech[i] if u.fix_until[i] > t else 0.0  # the fix removes it
    fric = 0.0  # recommendations take away part of the friction
    if u.rec_until[i] > t:
        fric = P[FRICTION_W] * u.friction[i] * (1.0 - REC_FRICTION_LEFT)
    price = 0.0  # a discount's change to price_sens x price_weight x log(price ratio)
    if u.disc_until[i] > t:
        anchor = u.anchor_price[i]
        ratio = list_day[u.plan[i]] / anchor if anchor > 0 else 1.0
        paid = math.log(max(ratio * (1.0 - u.disc_depth[i]), MIN_PRICE_RATIO))
        price = u.price_sens[i] * P[PRICE_W] * (paid - math.log(max(ratio, MIN_PRICE_RATIO)))
    r2 = cache[1, i] * math.exp(price) if price != 0.0 else cache[1, i]
    if state == ACTIVE:
        return math.exp(cache[0, i] + (-fresh) - (tech + fric)), r2
    lift = u.boost[i] if u.boost_until[i] > t else 0.0
    return math.exp(cache[0, i] + fresh + (tech + fric + lift - price)), r2


@njit(cache=True, error_model="numpy", inline="always")
def rate_parts(
    i: int,
    st: int,
    code: int,
    P: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    list_day: np.ndarray,
    u: Any,
) -> tuple[float, float]:
    """User ``i``'s cached rate parts in state ``st`` (``code``: its segment-and-state index):
    log of the first exit's rate less its freshness term, and the second exit's rate (the
    formula of :func:`user_rates` without effects)."""
    anchor = u.anchor_price[i]
    ratio = list_day[u.plan[i]] / anchor if anchor > 0 else 1.0
    log_ratio = math.log(max(ratio, MIN_PRICE_RATIO))
    sens, lapse = u.price_sens[i], u.lapse_mult[i]
    rate2 = second[code] * lapse * math.exp(sens * (P[PRICE_W] * log_ratio + P[PRICE_LEVEL_W]))
    push = P[TECH_W] * u.tech[i] + P[FRICTION_W] * u.friction[i]
    base = float(first[code])
    if base <= 0.0:
        return -np.inf, rate2
    if st == ACTIVE:
        return math.log(base) + math.log(lapse) + push, rate2
    pull = sens * P[PRICE_W] * log_ratio
    return math.log(base) + math.log(u.return_mult[i]) - push - pull, rate2


@njit(cache=True, error_model="numpy", inline="always")
def _refresh(
    i: int,
    P: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    list_day: np.ndarray,
    u: Any,
    cache: np.ndarray,
) -> None:
    """User ``i``'s cached rate parts (:func:`rate_parts`) into ``cache[:, i]``."""
    st = int(u.state[i])
    code = int(u.segment[i]) * N_STATES + st
    cache[0, i], cache[1, i] = rate_parts(i, st, code, P, first, second, list_day, u)


@njit(cache=True, error_model="numpy", nogil=True)
def refresh_rates(
    lo: int,
    hi: int,
    P: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    list_day: np.ndarray,
    users: tuple,
    cache: np.ndarray,
) -> None:
    """Recompute the cached rate parts of users ``lo..hi-1`` (at the start of a run and
    whenever a list price changes; transitions refresh their own user)."""
    u = Users(*users)
    for i in range(lo, hi):
        _refresh(i, P, first, second, list_day, u, cache)


@njit(cache=True, error_model="numpy", nogil=True)
def advance(
    lo: int,
    hi: int,
    t0: float,
    t1: float,
    root: np.uint64,
    interval: int,
    slot: int,
    P: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    activity: np.ndarray,
    fresh_g: np.ndarray,
    list_day: np.ndarray,
    billing: np.ndarray,
    signal_table: np.ndarray,
    users: tuple,
    weekly: np.ndarray,
    deltas: np.ndarray,
    counters: np.ndarray,
    cache: np.ndarray,
    tracing: bool,
    recording: bool,
    log_root: np.uint64,
    log: tuple,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Advance users ``lo..hi-1`` from ``t0`` to ``t1``; returns what was traced and logged.

    Money over the interval goes to each user's ``money`` and, by segment, to ``weekly``;
    occupancy changes to ``deltas`` and reactivations to ``counters`` (the ledger's arrays).
    ``cache`` holds each user's rate parts without offer effects (:func:`refresh_rates`);
    ``billing`` each plan's billing period in days (0: none); ``signal_table`` each
    signal's (family, base rate, strength) (``sim.signals.kernel_table``).
    With ``tracing``, every transition as a column (user, time, src, dst, exit-survey answer
    or -1) of the first result. With ``recording`` (``log``: :data:`LOG`; ``log_root``: the
    recording's random streams), session days as columns (user, day, sessions, spend in
    cents) of the second, closed billing periods as columns (user, period start, paid,
    period index) of the third and signals as columns (user, day, signal, count) of the
    fourth.
    """
    u = Users(*users)
    rec = Logged(*log)
    subscription = P[SUBSCRIPTION] > 0.0
    booking = t0 >= 0.0
    horizon, survey_fraction, survey_accuracy = P[HORIZON], P[SURVEY_FRACTION], P[SURVEY_ACCURACY]
    n_seg = counters.shape[2]
    traces = [np.empty((5, 256 if tracing else 0))]  # one slot: grown in place when full
    days = [np.empty((4, 256 if recording else 0), dtype=np.int32)]
    paid = [np.empty((4, 64 if recording else 0))]
    shown = [np.empty((4, 64 if recording else 0), dtype=np.int32)]
    n_traced = n_days = n_paid = n_shown = 0
    for i in range(lo, hi):
        key = stream_key(root, i, interval)  # the clock: a budget, then each move's pick
        k_sessions = substream(key, SESSIONS)
        k_chances = substream(key, CHANCES)  # exit surveys and deal shocks
        k_signals = substream(key, SIGNALS)
        n = n_sessions = n_chances = n_signals = 0
        log_key = stream_key(log_root, i, interval) if recording else log_root
        m = 0
        t = piece = t0  # piece: where the stretch in one state and one money regime began
        seg = int(u.segment[i])
        budget = exponential(key, n)  # the integrated hazard left until the next move
        n += 1
        anchor, q_anchor = t0, -1.0  # where the budget was last measured, at which total rate
        while t < t1:
            st = int(u.state[i])
            code = seg * N_STATES + st
            bp = u.next_change[i]
            if bp < np.inf:  # an effect may act: the full formula
                r1, r2 = user_rates(i, t, st, P, fresh_g, list_day, u, cache)
            else:
                r1, r2 = cached_rates(i, st, P, fresh_g, u, cache)
            pending = u.cancel_at[i]
            stop = bp
            if pending < np.inf:  # a cancellation waits for its period's end: none other
                r2 = 0.0
                stop = min(bp, pending)
            q = r1 + r2
            if q != q_anchor:  # new rates: what is left of the budget is measured here
                if q_anchor > 0.0:
                    budget = max(budget - q_anchor * (t - anchor), 0.0)
                anchor, q_anchor = t, q
            t_event = anchor + budget / q if q > 0.0 else np.inf
            end = min(t_event, t1, stop)
            # ---- what ends the segment: a move, an effect's end (which may trigger a
            # deal-seeker's exit), or the interval's end
            dst, when = -1, t_event
            effective = regime = False
            if t_event < t1 and t_event < stop:
                first_exit = DORMANT if st == ACTIVE else ACTIVE
                dst = first_exit if uniform(key, n) * q < r1 else CHURNED
                budget = exponential(key, n + 1)
                n += 2
                q_anchor = -1.0
            elif pending == stop and stop < t1:  # the pending cancellation takes effect
                dst, when, effective = CHURNED, pending, True
                u.cancel_at[i] = np.inf
            elif bp < t1:
                regime = u.disc_until[i] == bp or u.trial_until[i] == bp  # money changes
                at_risk = regime and u.deal_seeker[i] and st != CHURNED
                if not subscription:
                    at_risk = at_risk and st == ACTIVE
                u.next_change[i] = next_effect_end(i, bp, u)
                if at_risk:
                    shock = uniform(k_chances, n_chances) < P[DEAL_SHOCK]
                    n_chances += 1
                    if shock:
                        dst, when = (CHURNED if subscription else DORMANT), bp
            if dst == CHURNED and not effective and billing[u.plan[i]] > 0.0:  # takes effect later
                if pending == np.inf:
                    period = billing[u.plan[i]]
                    u.cancel_at[i] = period_end(u.subscribed_at[i], period, when)
                dst = -1
            if dst >= 0 or regime or end >= t1:  # the piece ends: its sessions and money
                length = end - piece
                lam = activity[code] * u.activity_mult[i]
                back = exponential(k_sessions, n_sessions) / lam if lam > 0.0 else np.inf
                n_sessions += 1
                disc = u.disc_until[i] > piece
                trial = u.trial_until[i] > piece
                count = 0.0
                if back < length:
                    extra, n_sessions = poisson(k_sessions, n_sessions, lam * (length - back))
                    k = 1 + extra
                    count = float(k)
                    u.last_activity[i] = end - back
                    u.sessions_week[slot, i] = min(int(u.sessions_week[slot, i]) + k, 255)
                    u.total_sessions[i] += count
                    for g in range(u.affinity.shape[0]):
                        u.genre_counts[g, i] += np.float32(count * u.affinity[g, i])
                    day = math.floor(end - back)
                    for j in range(signal_table.shape[0]):
                        shows, n_signals = _signal(
                            i, j, count, signal_table, u, k_signals, n_signals
                        )
                        if shows > 0:
                            u.signals[i, j] += shows
                            if recording:
                                n_shown = _shown_row(shown, n_shown, i, day, j, shows)
                    if recording:
                        spend = 0.0 if subscription else float(u.basket[i])
                        if not subscription and disc:
                            spend *= 1.0 - u.disc_depth[i]
                        n_days, m = _log_sessions(
                            days, n_days, log_key, m, i, piece, end - back, k, spend
                        )
                if recording and subscription and st != CHURNED:
                    rate = float(list_day[u.plan[i]])
                    if trial:
                        rate = 0.0
                    elif disc:
                        rate *= 1.0 - u.disc_depth[i]
                    n_paid = _log_payments(
                        paid, n_paid, i, piece, end, rate, u.plan[i], u.subscribed_at, rec
                    )
                if subscription and st != CHURNED and not trial:
                    spent = float(list_day[u.plan[i]]) * length
                    u.revenue_to_date[i] += np.float32(
                        spent * (1.0 - u.disc_depth[i]) if disc else spent
                    )
                elif not subscription and count > 0.0:
                    spent = count * u.basket[i]
                    u.revenue_to_date[i] += np.float32(
                        spent * (1.0 - u.disc_depth[i]) if disc else spent
                    )
                if booking:
                    if subscription:
                        gross = np.float32(list_day[u.plan[i]] * length if st != CHURNED else 0.0)
                    else:
                        gross = np.float32(count * u.basket[i] * P[MARGIN])
                    serving = np.float32(count * P[SERVING])
                    trial_cost = np.float32(0.0)
                    disc_cost = np.float32(0.0)
                    if subscription and trial:
                        trial_cost = gross
                    elif subscription and disc:
                        disc_cost = np.float32(gross * u.disc_depth[i])
                    elif disc:
                        disc_cost = np.float32(count * u.basket[i] * u.disc_depth[i])
                    for c, amount in (
                        (REVENUE, gross),
                        (SERVING_COST, serving),
                        (DISCOUNT_COST, disc_cost),
                        (TRIAL_COST, trial_cost),
                    ):
                        if amount != 0.0:  # most users have no effect and many no sessions
                            u.money[c, i] += amount
                            weekly[c, seg] += amount
                piece = end
            if dst < 0:
                t = end
                continue
            # ---- the move, written out here: a helper taking arrays would cost two atomic
            # reference-count updates per array per move (numba), a third of the run time
            answer = -1
            if dst == CHURNED:  # the exit survey: some answer, some of them truthfully
                answers = uniform(k_chances, n_chances) < survey_fraction
                truthful = uniform(k_chances, n_chances + 1) < survey_accuracy
                noise = min(int(uniform(k_chances, n_chances + 2) * N_PAIN), N_PAIN - 1)
                n_chances += 3
                if answers:
                    answer = int(u.pain[i]) if truthful else noise
                if u.survey[i] < 0:
                    u.survey[i] = answer
            if tracing:
                _traced(traces, n_traced, i, when, st, dst, answer)
                n_traced += 1
            if recording and subscription and dst == CHURNED:  # the period ends with it
                n_paid = _close_period(paid, n_paid, i, u.plan[i], u.subscribed_at, rec)
            due = u.first_react[i]  # nan while the user has not come back: comparisons False
            if u.retained30[i] < 0 and due + RETAIN_SHORT <= when:  # retention checks due before it
                u.retained30[i] = 1 if st == ACTIVE else 0
            if u.retained90[i] < 0 and due + RETAIN_LONG <= when:
                u.retained90[i] = 1 if st == ACTIVE else 0
            if 0.0 < when <= horizon:  # the ledger's daily occupancy and weekly counters
                base = math.ceil(when) * N_STATES * n_seg + seg
                deltas[base + dst * n_seg] += 1
                deltas[base + st * n_seg] -= 1
            if when >= 0.0:
                if dst != ACTIVE:
                    u.ever_inactive[i] = True
                else:
                    u.reactivations[i] += 1
                    if math.isnan(u.first_react[i]):
                        u.first_react[i] = when
                    if when < horizon:
                        counters[int(when // 7.0), REACTIVATIONS, seg] += 1
            u.state[i] = dst
            new = seg * N_STATES + dst
            cache[0, i], cache[1, i] = rate_parts(i, dst, new, P, first, second, list_day, u)
            if st == CHURNED:  # a comeback: a new subscription, new billing periods
                u.subscribed_at[i] = when
                if recording:
                    rec.period_index[i] = 0.0
                    rec.period_paid[i] = 0.0
            if st == CHURNED and dst == ACTIVE and u.trial_window_until[i] > when:
                u.trial_until[i] = when + u.trial_len[i]  # a trial granted while cancelled starts
                u.trial_window_until[i] = -np.inf
                u.next_change[i] = next_effect_end(i, when, u)
            t = end
    return traces[0][:, :n_traced], days[0][:, :n_days], paid[0][:, :n_paid], shown[0][:, :n_shown]


@njit(cache=True, error_model="numpy", inline="always")
def _signal(
    i: int, j: int, sessions: float, table: np.ndarray, u: Any, key: np.uint64, n: int
) -> tuple[int, int]:
    """How often user ``i`` shows signal ``j`` over ``sessions`` sessions (``sim.signals``);
    returns (count, next draw of stream ``key``)."""
    family, base, strength = int(table[j, 0]), table[j, 1], table[j, 2]
    if family == 0:
        trait = u.price_sens[i]
    elif family == 1:
        trait = u.content_need[i]
    elif family == 2:
        trait = u.friction[i]
    else:
        trait = u.tech[i]
    mult = (1.0 - strength) * u.signal_noise[i, j] + strength * trait / TRAIT_REF
    return poisson(key, n, sessions * base * mult)


@njit(cache=True, error_model="numpy")
def _shown_row(shown: list, k: int, i: int, day: int, j: int, count: int) -> int:
    """Column ``k`` of ``shown[0]``: (user, day, signal, count); returns k + 1."""
    buf = _room(shown, k)
    buf[0, k], buf[1, k], buf[2, k], buf[3, k] = i, day, j, count
    return k + 1


@njit(cache=True, error_model="numpy")
def _room(slot: list, k: int) -> np.ndarray:
    """``slot[0]``, a buffer of columns, with room for column ``k`` (doubled when full)."""
    buf = slot[0]
    if k == buf.shape[1]:
        bigger = np.empty((buf.shape[0], max(2 * k, 64)), dtype=buf.dtype)
        bigger[:, :k] = buf
        slot[0] = buf = bigger
    return buf


@njit(cache=True, error_model="numpy")
def _traced(traces: list, k: int, i: int, time: float, src: int, dst: int, answer: int) -> None:
    """Column ``k`` of ``traces[0]`` set to (user, time, src, dst, answer)."""
    trace = _room(traces, k)
    trace[0, k], trace[1, k], trace[2, k], trace[3, k], trace[4, k] = i, time, src, dst, answer


@njit(cache=True, error_model="numpy")
def _day_row(days: list, k: int, i: int, day: int, count: int, spend: float) -> int:
    """Column ``k`` of ``days[0]``: (user, day, sessions, spend in cents); returns k + 1."""
    buf = _room(days, k)
    buf[0, k], buf[1, k], buf[2, k] = i, day, count
    buf[3, k] = round(count * spend * 100.0)
    return k + 1


@njit(cache=True, error_model="numpy")
def _log_sessions(
    days: list,
    k: int,
    key: np.uint64,
    m: int,
    i: int,
    start: float,
    last: float,
    count: int,
    spend: float,
) -> tuple[int, int]:
    """The days of ``count`` sessions in [start, last], the last one at ``last``, as rows of
    :func:`_day_row` (``spend`` per session), from column ``k``. The others are uniform on
    [start, last): drawn from the largest down (the largest of j uniforms on [start, x) is
    start + (x - start) U^(1/j)) from stream ``key`` from draw ``m``, and once one falls on
    ``start``'s day the rest do too. Returns (next column, next draw)."""
    x = last
    day = math.floor(x)
    first_day = math.floor(start)
    same = 1
    for j in range(count - 1, 0, -1):
        if day == first_day:
            same += j
            break
        x = start + (x - start) * math.exp(math.log1p(-uniform(key, m)) / j)
        m += 1
        d = math.floor(x)
        if d == day:
            same += 1
        else:
            k = _day_row(days, k, i, day, same, spend)
            day, same = d, 1
    return _day_row(days, k, i, day, same, spend), m


@njit(cache=True, error_model="numpy")
def _paid_row(paid: list, k: int, i: int, start: float, amount: float, index: float) -> int:
    """Column ``k`` of ``paid[0]``: (user, period start, paid, period index); returns k + 1."""
    buf = _room(paid, k)
    buf[0, k], buf[1, k], buf[2, k], buf[3, k] = i, start, amount, index
    return k + 1


@njit(cache=True, error_model="numpy")
def _log_payments(
    paid: list,
    k: int,
    i: int,
    t: float,
    end: float,
    rate: float,
    plan: int,
    subscribed_at: np.ndarray,
    rec: Any,
) -> int:
    """User ``i`` pays ``rate`` a day over [t, end): each billing period that ends in it is
    closed (a row of :func:`_paid_row` from column ``k``). Periods run from the
    (re)subscription in steps of the plan's ``billing_days``. Returns the next column."""
    start, days = subscribed_at[i], rec.billing_days[plan]
    index = rec.period_index[i]
    boundary = start + (index + 1.0) * days
    mark = t
    while boundary < end:
        amount = rec.period_paid[i] + rate * (boundary - mark)
        k = _paid_row(paid, k, i, start + index * days, amount, index)
        rec.period_paid[i] = 0.0
        mark, index = boundary, index + 1.0
        boundary = start + (index + 1.0) * days
    rec.period_index[i] = index
    rec.period_paid[i] += rate * (end - mark)
    rec.period_rate[i] = rate
    return k


@njit(cache=True, error_model="numpy")
def _close_period(
    paid: list, k: int, i: int, plan: int, subscribed_at: np.ndarray, rec: Any
) -> int:
    """User ``i`` cancels: the current billing period closes (a row of :func:`_paid_row`)."""
    index, days = rec.period_index[i], rec.billing_days[plan]
    k = _paid_row(paid, k, i, subscribed_at[i] + index * days, rec.period_paid[i], index)
    rec.period_paid[i] = 0.0
    rec.period_index[i] = 0.0
    return k
