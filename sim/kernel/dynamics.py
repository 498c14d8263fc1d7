"""The population's dynamics between two calendar events, one user at a time, compiled.

Between two calendar events every user's hazards are constant except where one of the user's
own effects (a discount, a trial, a fix) ends: a per-user breakpoint. For each user the kernel
samples the time of the next transition from an exponential with the user's total rate,
stops the segment at the earliest of that time, the next breakpoint and the end of the
interval, accrues sessions and money over the segment, then applies the transition or the
end of the effect and goes round again with new rates; by memorylessness this is exact.
Sessions in a segment are a Poisson process; the last one is drawn exactly as the end time
minus an exponential back-time.

Rates follow the formula of :mod:`sim.hazards` (``sim.naive.user_rates`` is the same
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
    N_STATES,
    PAIN_POINTS,
    RETENTION_DAYS,
    REVENUE,
    SERVING_COST,
    TRIAL_COST,
)
from sim.hazards import MIN_PRICE_RATIO, REC_FRICTION_LEFT
from sim.kernel.counter_rng import exponential, poisson, stream_key, uniform
from sim.ledger import COUNTERS

REACTIVATIONS = COUNTERS.index("reactivations")
N_PAIN = len(PAIN_POINTS)
RETAIN_SHORT, RETAIN_LONG = RETENTION_DAYS

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
def earliest_after(
    after: float, a: float, b: float, c: float, d: float, e: float, f: float, g: float
) -> float:
    """The earliest of the effect ends ``a..g`` strictly after ``after`` (+inf when none).
    Scalars only: a helper that takes arrays costs reference counting on the hot path."""
    best = np.inf
    for end in (a, b, c, d, e, f, g):
        if end > after and end < best:
            best = end
    return best


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
    return earliest_after(
        after, disc_until[i], trial_until[i], trial_window_until[i], fix_until[i],
        rec_until[i], content_until[i], boost_until[i],
    )  # fmt: skip


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
def rate_parts(
    st: int,
    base: float,
    second_c: float,
    list_price: float,
    anchor: float,
    sens: float,
    tech: float,
    friction: float,
    lapse: float,
    ret: float,
    tech_w: float,
    friction_w: float,
    price_w: float,
    level_w: float,
) -> tuple[float, float]:
    """A user's cached rate parts in state ``st``: log of the first exit's rate less its
    freshness term, and the second exit's rate (the formula of :func:`user_rates` without
    effects). ``base``, ``second_c``: the segment-and-state base rates. Scalars only."""
    ratio = list_price / anchor if anchor > 0 else 1.0
    log_ratio = math.log(max(ratio, MIN_PRICE_RATIO))
    rate2 = second_c * lapse * math.exp(sens * (price_w * log_ratio + level_w))
    push = tech_w * tech + friction_w * friction
    if base <= 0.0:
        return -np.inf, rate2
    if st == ACTIVE:
        return math.log(base) + math.log(lapse) + push, rate2
    pull = sens * price_w * log_ratio
    return math.log(base) + math.log(ret) - push - pull, rate2


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
    """User ``i``'s cached rate parts (:func:`rate_parts`) into ``cache[:, i]``."""
    st = int(state[i])
    code = int(segment[i]) * N_STATES + st
    cache[0, i], cache[1, i] = rate_parts(
        st, float(first[code]), second[code], list_day[plan[i]], anchor_price[i],
        price_sens[i], tech[i], friction[i], lapse_mult[i], return_mult[i], P[TECH_W],
        P[FRICTION_W], P[PRICE_W], P[PRICE_LEVEL_W],
    )  # fmt: skip


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
    horizon, survey_fraction, survey_accuracy = P[HORIZON], P[SURVEY_FRACTION], P[SURVEY_ACCURACY]
    tech_w, friction_w, price_w, level_w = P[TECH_W], P[FRICTION_W], P[PRICE_W], P[PRICE_LEVEL_W]
    n_seg = counters.shape[2]
    traces = [np.empty((4, 256 if tracing else 0))]  # one slot: grown in place when full
    n_traced = 0
    for i in range(lo, hi):
        key = stream_key(root, i, interval)
        n = 0
        t = t0
        seg = int(segment[i])
        while t < t1:
            st = int(state[i])
            code = seg * N_STATES + st
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
            # ---- what ends the segment: a transition, an effect's end (which may trigger
            # a deal-seeker's exit), or the interval's end
            dst, when = -1, t_event
            if moves:
                dst = (DORMANT if st == ACTIVE else ACTIVE) if pick < r1 else CHURNED
            elif bp < t1:
                ended = disc_until[i] == bp or trial_until[i] == bp
                at_risk = ended and deal_seeker[i] and st != CHURNED
                if not subscription:
                    at_risk = at_risk and st == ACTIVE
                shock = uniform(key, n) < P[DEAL_SHOCK]
                n += 1
                next_change[i] = earliest_after(
                    bp, disc_until[i], trial_until[i], trial_window_until[i], fix_until[i],
                    rec_until[i], content_until[i], boost_until[i],
                )  # fmt: skip
                if at_risk and shock:
                    dst, when = (CHURNED if subscription else DORMANT), bp
            if dst < 0:
                t = end
                continue
            # ---- the move, written out here: a helper taking arrays would cost two atomic
            # reference-count updates per array per move (numba), a third of the run time
            if tracing:
                _traced(traces, n_traced, i, when, st, dst)
                n_traced += 1
            due = first_react[i]  # nan while the user has not come back: comparisons False
            if retained30[i] < 0 and due + RETAIN_SHORT <= when:  # retention checks due before it
                retained30[i] = 1 if st == ACTIVE else 0
            if retained90[i] < 0 and due + RETAIN_LONG <= when:
                retained90[i] = 1 if st == ACTIVE else 0
            if 0.0 < when <= horizon:  # the ledger's daily occupancy and weekly counters
                base = math.ceil(when) * N_STATES * n_seg + seg
                deltas[base + dst * n_seg] += 1
                deltas[base + st * n_seg] -= 1
            if when >= 0.0:
                if dst != ACTIVE:
                    ever_inactive[i] = True
                else:
                    reactivations[i] += 1
                    if math.isnan(first_react[i]):
                        first_react[i] = when
                    if when < horizon:
                        counters[int(when // 7.0), REACTIVATIONS, seg] += 1
            state[i] = dst
            new = seg * N_STATES + dst
            cache[0, i], cache[1, i] = rate_parts(
                dst, float(first[new]), second[new], list_day[plan[i]], anchor_price[i],
                price_sens[i], tech[i], friction[i], lapse_mult[i], return_mult[i], tech_w,
                friction_w, price_w, level_w,
            )  # fmt: skip
            if st == CHURNED and dst == ACTIVE and trial_window_until[i] > when:
                trial_until[i] = when + trial_len[i]  # a trial granted while cancelled starts
                trial_window_until[i] = -np.inf
                next_change[i] = earliest_after(
                    when, disc_until[i], trial_until[i], trial_window_until[i], fix_until[i],
                    rec_until[i], content_until[i], boost_until[i],
                )  # fmt: skip
            if dst == CHURNED:  # the exit survey: some answer, some of them truthfully
                answers = uniform(key, n) < survey_fraction
                truthful = uniform(key, n + 1) < survey_accuracy
                noise = min(int(uniform(key, n + 2) * N_PAIN), N_PAIN - 1)
                n += 3
                if survey[i] < 0 and answers:
                    survey[i] = pain[i] if truthful else noise
            t = end
    return traces[0][:, :n_traced]


@njit(cache=True, error_model="numpy")
def _traced(traces: list, k: int, i: int, time: float, src: int, dst: int) -> None:
    """Column ``k`` of ``traces[0]`` set to (user, time, src, dst), growing it if full."""
    trace = traces[0]
    if k == trace.shape[1]:
        bigger = np.empty((4, 2 * k))
        bigger[:, :k] = trace
        traces[0] = trace = bigger
    trace[0, k], trace[1, k], trace[2, k], trace[3, k] = i, time, src, dst
