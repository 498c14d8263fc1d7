"""The population's dynamics between two calendar events, one user at a time, compiled.

Between two calendar events every user's hazards are constant except where one of the user's
own effects (a discount, a trial, a fix) ends: a per-user breakpoint. For each user the kernel
samples the time of the next transition from an exponential with the user's total rate,
stops the segment at the earliest of that time, the next breakpoint and the end of the
interval, accrues sessions and money over the segment, then applies the transition or the
end of the effect and goes round again with new rates; by memorylessness this is exact.
Sessions in a segment are a Poisson process; the last one is drawn exactly as the end time
minus an exponential back-time.

Rates follow the formula of :mod:`sim.hazards` (``sim.reference.user_rates`` is the same
formula written plainly, and the tests hold the two equal).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from sim.constants import (
    ACTIVE,
    CHURNED,
    DISCOUNT_COST,
    DORMANT,
    PAIN_POINTS,
    REVENUE,
    SERVING_COST,
    TRIAL_COST,
)
from sim.hazards import MIN_PRICE_RATIO, REC_FRICTION_LEFT
from sim.kernel.rng import exponential, poisson, stream_key, uniform
from sim.ledger import COUNTERS

REACTIVATIONS = COUNTERS.index("reactivations")
N_PAIN = len(PAIN_POINTS)

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
def next_effect_end(
    i: int,
    after: float,
    disc_until: np.ndarray,
    trial_until: np.ndarray,
    trial_window_until: np.ndarray,
    fix_until: np.ndarray,
    rec_until: np.ndarray,
    content_until: np.ndarray,
    boost_until: np.ndarray,
) -> float:
    """Earliest effect end of user ``i`` strictly after ``after`` (+inf when none)."""
    best = np.inf
    for ends in (
        disc_until,
        trial_until,
        trial_window_until,
        fix_until,
        rec_until,
        content_until,
        boost_until,
    ):
        e = ends[i]
        if e > after and e < best:
            best = e
    return best


@njit(cache=True, error_model="numpy")
def user_rates(
    i: int,
    t: float,
    state: int,
    code: int,
    P: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    fresh_g: np.ndarray,
    list_day: np.ndarray,
    plan: np.ndarray,
    price_sens: np.ndarray,
    content_need: np.ndarray,
    friction: np.ndarray,
    tech: np.ndarray,
    affinity: np.ndarray,
    lapse_mult: np.ndarray,
    return_mult: np.ndarray,
    anchor_price: np.ndarray,
    disc_until: np.ndarray,
    disc_depth: np.ndarray,
    fix_until: np.ndarray,
    rec_until: np.ndarray,
    content_until: np.ndarray,
    boost_until: np.ndarray,
    boost: np.ndarray,
) -> tuple[float, float]:
    """(rate to the first exit, rate to the second exit) of user ``i`` at time ``t``."""
    taste = 0.0
    for g in range(fresh_g.shape[0]):
        taste += fresh_g[g] * affinity[g, i]
    if content_until[i] > t:
        taste *= 1.0 + P[CONTENT_GAIN]
    fresh = P[FRESH_W] * content_need[i] * taste
    tech_t = 0.0 if fix_until[i] > t else P[TECH_W] * tech[i]
    fric = P[FRICTION_W] * friction[i]
    if rec_until[i] > t:
        fric *= REC_FRICTION_LEFT
    anchor = anchor_price[i]
    ratio = list_day[plan[i]] / anchor if anchor > 0 else 1.0
    if disc_until[i] > t:
        ratio *= 1.0 - disc_depth[i]
    log_ratio = math.log(max(ratio, MIN_PRICE_RATIO))
    sens = price_sens[i]
    pressure = sens * (P[PRICE_W] * log_ratio + P[PRICE_LEVEL_W])
    r2 = second[code] * lapse_mult[i] * math.exp(pressure)
    if state == ACTIVE:
        r1 = first[code] * lapse_mult[i] * math.exp(tech_t + fric - fresh)
    else:
        lift = boost[i] if boost_until[i] > t else 0.0
        come = fresh - tech_t - fric + lift - sens * P[PRICE_W] * log_ratio
        r1 = first[code] * return_mult[i] * math.exp(come)
    return r1, r2


@njit(cache=True, error_model="numpy", inline="always")
def cached_rates(
    i: int,
    state: int,
    P: np.ndarray,
    fresh_g: np.ndarray,
    content_need: np.ndarray,
    affinity: np.ndarray,
    cache: np.ndarray,
) -> tuple[float, float]:
    """:func:`user_rates` of a user with no offer effect, from the cached parts that change
    only with the user's state and the list price: only freshness is new each interval."""
    taste = 0.0
    for g in range(fresh_g.shape[0]):
        taste += fresh_g[g] * affinity[g, i]
    fresh = P[FRESH_W] * content_need[i] * taste
    return math.exp(cache[0, i] + (-fresh if state == ACTIVE else fresh)), cache[1, i]


@njit(cache=True, error_model="numpy", inline="always")
def _refresh(
    i: int,
    P: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    list_day: np.ndarray,
    segment: np.ndarray,
    state: np.ndarray,
    plan: np.ndarray,
    price_sens: np.ndarray,
    friction: np.ndarray,
    tech: np.ndarray,
    lapse_mult: np.ndarray,
    return_mult: np.ndarray,
    anchor_price: np.ndarray,
    cache: np.ndarray,
) -> None:
    """User ``i``'s cached rate parts: log of the first exit's rate less its freshness
    term, and the second exit's rate (the formula of :func:`user_rates`, no effects)."""
    st = int(state[i])
    code = int(segment[i]) * 3 + st
    anchor = anchor_price[i]
    ratio = list_day[plan[i]] / anchor if anchor > 0 else 1.0
    log_ratio = math.log(max(ratio, MIN_PRICE_RATIO))
    sens = price_sens[i]
    cache[1, i] = (
        second[code] * lapse_mult[i] * math.exp(sens * (P[PRICE_W] * log_ratio + P[PRICE_LEVEL_W]))
    )
    push = P[TECH_W] * tech[i] + P[FRICTION_W] * friction[i]
    base = float(first[code])
    if base <= 0.0:
        cache[0, i] = -np.inf
    elif st == ACTIVE:
        cache[0, i] = math.log(base) + math.log(lapse_mult[i]) + push
    else:
        pull = sens * P[PRICE_W] * log_ratio
        cache[0, i] = math.log(base) + math.log(return_mult[i]) - push - pull


@njit(cache=True, error_model="numpy", nogil=True)
def refresh_rates(
    lo: int,
    hi: int,
    P: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    list_day: np.ndarray,
    segment: np.ndarray,
    state: np.ndarray,
    plan: np.ndarray,
    price_sens: np.ndarray,
    friction: np.ndarray,
    tech: np.ndarray,
    lapse_mult: np.ndarray,
    return_mult: np.ndarray,
    anchor_price: np.ndarray,
    cache: np.ndarray,
) -> None:
    """Recompute the cached rate parts of users ``lo..hi-1`` (at the start of a run and
    whenever a list price changes; transitions refresh their own user)."""
    for i in range(lo, hi):
        _refresh(
            i, P, first, second, list_day, segment, state, plan, price_sens, friction, tech,
            lapse_mult, return_mult, anchor_price, cache,
        )  # fmt: skip


@njit(cache=True, error_model="numpy")
def _record_transition(
    i: int,
    time: float,
    src: int,
    dst: int,
    seg: int,
    P: np.ndarray,
    deltas: np.ndarray,
    counters: np.ndarray,
    reactivations: np.ndarray,
    first_react: np.ndarray,
    retained30: np.ndarray,
    retained90: np.ndarray,
    ever_inactive: np.ndarray,
) -> None:
    """Retention checks due before the move, the ledger's occupancy and counters."""
    due = first_react[i]  # nan while the user has not come back: comparisons are False
    if retained30[i] < 0 and due + 30.0 <= time:
        retained30[i] = 1 if src == ACTIVE else 0
    if retained90[i] < 0 and due + 90.0 <= time:
        retained90[i] = 1 if src == ACTIVE else 0
    n_seg = counters.shape[2]
    if 0.0 < time <= P[HORIZON]:
        base = math.ceil(time) * 3 * n_seg + seg
        deltas[base + dst * n_seg] += 1
        deltas[base + src * n_seg] -= 1
    if time >= 0.0:
        if dst != ACTIVE:
            ever_inactive[i] = True
        else:
            reactivations[i] += 1
            if math.isnan(first_react[i]):
                first_react[i] = time
            if time < P[HORIZON]:
                counters[int(time // 7.0), REACTIVATIONS, seg] += 1


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
    segment: np.ndarray,
    pain: np.ndarray,
    price_sens: np.ndarray,
    content_need: np.ndarray,
    friction: np.ndarray,
    tech: np.ndarray,
    affinity: np.ndarray,
    deal_seeker: np.ndarray,
    lapse_mult: np.ndarray,
    return_mult: np.ndarray,
    activity_mult: np.ndarray,
    basket: np.ndarray,
    genre_counts: np.ndarray,
    state: np.ndarray,
    plan: np.ndarray,
    anchor_price: np.ndarray,
    last_activity: np.ndarray,
    sessions_week: np.ndarray,
    total_sessions: np.ndarray,
    survey: np.ndarray,
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
    reactivations: np.ndarray,
    first_react: np.ndarray,
    retained30: np.ndarray,
    retained90: np.ndarray,
    ever_inactive: np.ndarray,
    weekly: np.ndarray,
    deltas: np.ndarray,
    counters: np.ndarray,
    cache: np.ndarray,
    tracing: bool,
) -> np.ndarray:
    """Advance users ``lo..hi-1`` from ``t0`` to ``t1``; returns the transitions traced.

    Money over the interval goes to each user's ``money`` and, by segment, to ``weekly``;
    occupancy changes to ``deltas`` and reactivations to ``counters`` (the ledger's arrays).
    ``cache`` holds each user's rate parts without offer effects (:func:`refresh_rates`).
    With ``tracing``, every transition as a column (user, time, src, dst) of the result.
    """
    subscription = P[SUBSCRIPTION] > 0.0
    booking = t0 >= 0.0
    trace = np.empty((4, 256 if tracing else 0))
    n_traced = 0
    for i in range(lo, hi):
        key = stream_key(root, i, interval)
        n = 0
        t = t0
        seg = int(segment[i])
        while t < t1:
            st = int(state[i])
            code = seg * 3 + st
            bp = next_change[i]
            effects = bp < np.inf  # an effect may act: the full formula
            if effects:
                r1, r2 = user_rates(
                    i, t, st, code, P, first, second, fresh_g, list_day, plan, price_sens,
                    content_need, friction, tech, affinity, lapse_mult, return_mult,
                    anchor_price, disc_until, disc_depth, fix_until, rec_until, content_until,
                    boost_until, boost,
                )  # fmt: skip
            else:
                r1, r2 = cached_rates(i, st, P, fresh_g, content_need, affinity, cache)
            q = r1 + r2
            t_event = t + exponential(key, n) / q if q > 0.0 else np.inf
            pick = uniform(key, n + 1) * q
            n += 2
            end = min(t_event, t1, bp)
            moves = t_event < t1 and t_event < bp
            # ---- sessions and money over [t, end)
            length = end - t
            lam = activity[code] * activity_mult[i]
            back = exponential(key, n) / lam if lam > 0.0 else np.inf
            n += 1
            count = 0.0
            if back < length:
                extra, n = poisson(key, n, lam * (length - back))
                k = 1 + extra
                count = float(k)
                last_activity[i] = end - back
                sessions_week[slot, i] = min(int(sessions_week[slot, i]) + k, 255)
                total_sessions[i] += count
                for g in range(affinity.shape[0]):
                    genre_counts[g, i] += np.float32(count * affinity[g, i])
            if booking:
                if subscription:
                    gross = np.float32(list_day[plan[i]] * length if st != CHURNED else 0.0)
                else:
                    gross = np.float32(count * basket[i] * P[MARGIN])
                serving = np.float32(count * P[SERVING])
                trial_cost = np.float32(0.0)
                disc_cost = np.float32(0.0)
                if effects and (disc_until[i] > t or trial_until[i] > t):
                    if subscription:
                        if trial_until[i] > t:
                            trial_cost = gross
                        else:
                            disc_cost = np.float32(gross * disc_depth[i])
                    elif disc_until[i] > t:
                        disc_cost = np.float32(count * basket[i] * disc_depth[i])
                for c, amount in (
                    (REVENUE, gross),
                    (SERVING_COST, serving),
                    (DISCOUNT_COST, disc_cost),
                    (TRIAL_COST, trial_cost),
                ):
                    if amount != 0.0:  # most users have no effect and many no sessions
                        money[c, i] += amount
                        weekly[c, seg] += amount
            # ---- what ends the segment
            if moves:
                dst = (DORMANT if st == ACTIVE else ACTIVE) if pick < r1 else CHURNED
                if tracing:
                    trace = _traced(trace, n_traced, i, t_event, st, dst)
                    n_traced += 1
                n = _move(
                    i, t_event, st, dst, seg, key, n, P, pain, survey, state, trial_until,
                    trial_window_until, trial_len, disc_until, fix_until, rec_until,
                    content_until, boost_until, next_change, deltas, counters, reactivations,
                    first_react, retained30, retained90, ever_inactive, cache, first, second,
                    list_day, segment, plan, price_sens, friction, tech, lapse_mult, return_mult,
                    anchor_price,
                )  # fmt: skip
            elif bp < t1:
                ended = disc_until[i] == bp or trial_until[i] == bp
                at_risk = ended and deal_seeker[i] and st != CHURNED
                if not subscription:
                    at_risk = at_risk and st == ACTIVE
                shock = uniform(key, n) < P[DEAL_SHOCK]
                n += 1
                next_change[i] = next_effect_end(
                    i, bp, disc_until, trial_until, trial_window_until, fix_until, rec_until,
                    content_until, boost_until,
                )  # fmt: skip
                if at_risk and shock:
                    dst = CHURNED if subscription else DORMANT
                    if tracing:
                        trace = _traced(trace, n_traced, i, bp, st, dst)
                        n_traced += 1
                    n = _move(
                        i, bp, st, dst, seg, key, n, P, pain, survey, state, trial_until,
                        trial_window_until, trial_len, disc_until, fix_until, rec_until,
                        content_until, boost_until, next_change, deltas, counters,
                        reactivations, first_react, retained30, retained90, ever_inactive, cache,
                        first, second, list_day, segment, plan, price_sens, friction, tech,
                        lapse_mult, return_mult, anchor_price,
                    )  # fmt: skip
            t = end
    return trace[:, :n_traced]


@njit(cache=True, error_model="numpy")
def _traced(trace: np.ndarray, k: int, i: int, time: float, src: int, dst: int) -> np.ndarray:
    """Column ``k`` of the trace set to (user, time, src, dst), growing the buffer if full."""
    if k == trace.shape[1]:
        bigger = np.empty((4, 2 * k))
        bigger[:, :k] = trace
        trace = bigger
    trace[0, k], trace[1, k], trace[2, k], trace[3, k] = i, time, src, dst
    return trace


@njit(cache=True, error_model="numpy")
def _move(
    i: int,
    time: float,
    src: int,
    dst: int,
    seg: int,
    key: np.uint64,
    n: int,
    P: np.ndarray,
    pain: np.ndarray,
    survey: np.ndarray,
    state: np.ndarray,
    trial_until: np.ndarray,
    trial_window_until: np.ndarray,
    trial_len: np.ndarray,
    disc_until: np.ndarray,
    fix_until: np.ndarray,
    rec_until: np.ndarray,
    content_until: np.ndarray,
    boost_until: np.ndarray,
    next_change: np.ndarray,
    deltas: np.ndarray,
    counters: np.ndarray,
    reactivations: np.ndarray,
    first_react: np.ndarray,
    retained30: np.ndarray,
    retained90: np.ndarray,
    ever_inactive: np.ndarray,
    cache: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    list_day: np.ndarray,
    segment: np.ndarray,
    plan: np.ndarray,
    price_sens: np.ndarray,
    friction: np.ndarray,
    tech: np.ndarray,
    lapse_mult: np.ndarray,
    return_mult: np.ndarray,
    anchor_price: np.ndarray,
) -> int:
    """Move user ``i`` from ``src`` to ``dst`` at ``time`` with all bookkeeping; returns the
    stream's next draw index."""
    _record_transition(
        i, time, src, dst, seg, P, deltas, counters, reactivations, first_react, retained30,
        retained90, ever_inactive,
    )  # fmt: skip
    state[i] = dst
    _refresh(
        i, P, first, second, list_day, segment, state, plan, price_sens, friction, tech,
        lapse_mult, return_mult, anchor_price, cache,
    )  # fmt: skip
    if src == CHURNED and dst == ACTIVE and trial_window_until[i] > time:
        trial_until[i] = time + trial_len[i]  # a free trial granted while cancelled starts
        trial_window_until[i] = -np.inf
        next_change[i] = next_effect_end(
            i, time, disc_until, trial_until, trial_window_until, fix_until, rec_until,
            content_until, boost_until,
        )  # fmt: skip
    if dst == CHURNED:  # the exit survey: some answer, some of them truthfully
        answers = uniform(key, n) < P[SURVEY_FRACTION]
        truthful = uniform(key, n + 1) < P[SURVEY_ACCURACY]
        noise = min(int(uniform(key, n + 2) * N_PAIN), N_PAIN - 1)
        n += 3
        if survey[i] < 0 and answers:
            survey[i] = pain[i] if truthful else noise
    return n
