"""The fast engine: exact competing-risk sampling over the whole population in numpy.

Between two calendar events every user's hazards are constant except where one of the user's
own effects (a discount, a trial, a fix) ends; such an end is a per-user breakpoint. Each pass
samples, for every user still inside the interval, the time of the next transition from an
exponential with the user's total rate, and stops the user's segment at the earliest of that
time, the user's next breakpoint and the end of the interval. Users that transitioned or hit a
breakpoint go round again with new rates; by memorylessness this is exact. Sessions in a
segment are a Poisson process; the last one is drawn exactly as the end time minus an
exponential back-time.

The first pass of an interval covers every user and takes a fast path (rates without offer
effects, patched exactly for the users who have one acting); later passes cover the few users
that moved and use the general rate function.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from sim.constants import (
    ACTIVE,
    CHURNED,
    DISCOUNT_COST,
    DORMANT,
    MONEY,
    PAIN_POINTS,
    REVENUE,
    SERVING_COST,
    TRIAL_COST,
)
from sim.hazards import (
    DEST_FIRST,
    DEST_SECOND,
    BaseLogRates,
    Drivers,
    EffectUsers,
    RateTables,
    StateRates,
    base_log_rates,
    rates,
    taste_freshness,
)
from sim.ledger import Ledger
from sim.population import USERS_LAST, Population
from sim.rng import Streams
from sim.scenario import Scenario

EFFECT_ENDS = (
    "disc_until",
    "trial_until",
    "trial_window_until",
    "fix_until",
    "rec_until",
    "content_until",
    "boost_until",
)
F32 = np.float32
CHUNK = 1 << 18
"""Users per chunk. Chunks advance independently (in parallel threads where cores allow),
each with its own random streams; the chunk size is fixed so results never depend on the
number of cores."""
_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1)))
    return _POOL


class View:
    """The population restricted to users ``sel`` (a contiguous slice or an index array).

    Attribute reads are cached (free views for a slice, gathers for an index array);
    writes go to the population by index.
    """

    def __init__(self, pop: Population, sel: np.ndarray | slice) -> None:
        self._pop = pop
        self._sel = sel

    def __getattr__(self, name: str) -> Any:
        arr = getattr(self._pop, name)
        value = arr[:, self._sel] if name in USERS_LAST else arr[self._sel]
        setattr(self, name, value)
        return value


def next_effect_end(pop: Population, idx: np.ndarray, after: np.ndarray | float) -> np.ndarray:
    """Earliest effect end strictly after ``after`` for users ``idx`` (+inf when none)."""
    best = np.full(idx.shape, np.inf, dtype=F32)
    for name in EFFECT_ENDS:
        ends = getattr(pop, name)[idx]
        best = np.where((ends > after) & (ends < best), ends, best)
    return best


class Engine:
    """Advances a population through time under the current calendar drivers."""

    def __init__(
        self, scenario: Scenario, pop: Population, streams: Streams, ledger: Ledger
    ) -> None:
        self.scenario = scenario
        self.pop = pop
        self.streams = streams
        self.ledger = ledger
        self.tables = RateTables.from_scenario(scenario)
        list_day = np.array([p.monthly_price / 30.0 for p in scenario.plans], dtype=F32)
        self.drivers = Drivers(np.zeros(len(scenario.genres), dtype=F32), list_day)
        self.base: BaseLogRates = base_log_rates(pop, self.drivers, scenario)
        self.seg3 = (pop.segment.astype(np.uint16) * 3).astype(np.uint16)
        self.cache = StateRates(pop, self.seg3, self.tables, scenario.is_subscription)
        self.cache.refresh(self.base, slice(None))
        self.chunks = [
            (slice(a, min(a + CHUNK, pop.n)), np.arange(a, min(a + CHUNK, pop.n)))
            for a in range(0, pop.n, CHUNK)
        ]
        self.lock = threading.Lock()
        self.seg_starts = np.searchsorted(pop.segment, np.arange(len(scenario.segments)))
        self.t = float(-scenario.warmup_days)
        self.session_slot = 0
        self.n_intervals = 0
        self.started = False
        self.trace: list[tuple[np.ndarray, ...]] | None = None  # set to a list to record

    def set_drivers(self, freshness: np.ndarray, list_price: np.ndarray) -> None:
        """New calendar drivers from now on (the list price refreshes the fast path)."""
        self.drivers.freshness = freshness
        if not np.array_equal(list_price, self.drivers.list_price):
            self.drivers.list_price = list_price
            self.base = base_log_rates(self.pop, self.drivers, self.scenario)
            self.cache.refresh(self.base, slice(None))

    # ------------------------------------------------------------------ time
    def advance_to(self, t1: float) -> None:
        """Simulate every user from the current time to ``t1`` (no-op if already there)."""
        if t1 <= self.t:
            return
        if self.t < 0 < t1:
            self.advance_to(0.0)
        if not self.started and self.t >= 0:
            self.ledger.snapshot_start(self.pop.state, self.pop.segment)
            self.pop.ever_inactive |= self.pop.state != ACTIVE
            self.started = True
        self._interval(self.t, float(t1))
        self.t = float(t1)

    def _interval(self, t0: float, t1: float) -> None:
        k = self.n_intervals
        self.n_intervals += 1
        jobs = range(len(self.chunks))
        if len(self.chunks) == 1:
            parts = [self._chunk(k, 0, t0, t1)]
        else:
            parts = list(_pool().map(lambda c: self._chunk(k, c, t0, t1), jobs))
        if t0 >= 0:
            self.ledger.add_money(t0, sum(parts[1:], parts[0]))  # fixed order: deterministic

    def _chunk(self, k: int, c: int, t0: float, t1: float) -> np.ndarray:
        """Advance one chunk of users through the interval; returns its money by segment."""
        weekly = np.zeros((len(MONEY), self.ledger.n_segments), dtype=np.float64)
        sl, gidx = self.chunks[c]
        idx, t = self._pass(sl, gidx, t0, t1, self.streams.dynamics(k, c, 0), weekly)
        p = 1
        while idx.size:
            idx, t = self._pass(idx, idx, t, t1, self.streams.dynamics(k, c, p), weekly)
            p += 1
        return weekly

    def _rates(
        self, v: View, gidx: np.ndarray, sel: np.ndarray | slice, t: np.ndarray | float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rates for the users of this pass and the positions of those with effects."""
        c = self.cache
        fresh = self.base.fresh_scale[sel] * taste_freshness(self.drivers.freshness, v.affinity)
        r1 = np.exp(c.log1[sel] + c.sign[sel] * fresh)
        r2 = c.r2[sel]
        pos = np.flatnonzero(v.next_change < np.inf)
        if pos.size:  # users with an offer effect acting take the general formula
            users = gidx[pos]
            te: np.ndarray | float = t if isinstance(t, float) else np.asarray(t)[pos]
            e = View(self.pop, users)
            code = self.seg3[users] + e.state
            eff = EffectUsers(np.arange(pos.size), users, te, e)
            e1, e2 = rates(e, users, code, self.base, self.drivers, self.tables, self.scenario, eff)
            r1[pos] = e1
            r2 = r2.copy()
            r2[pos] = e2
        return r1, r2, pos

    def _pass(
        self,
        sel: np.ndarray | slice,
        gidx: np.ndarray,
        t: np.ndarray | float,
        t1: float,
        rng: np.random.Generator,
        weekly: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """One sampling pass over users ``sel`` (global ids ``gidx``) from times ``t``."""
        v = View(self.pop, sel)
        r1, r2, effects = self._rates(v, gidx, sel, t)
        q = r1 + r2
        u = rng.random((3, q.shape[0]), dtype=F32)
        with np.errstate(divide="ignore"):
            t_event = t + (-np.log(u[0]) / q)
        end = np.minimum(t_event, t1)
        is_tr = t_event < t1
        bp = v.next_change[effects]
        if effects.size:  # an effect ending inside the interval cuts the segment there
            end[effects] = np.minimum(end[effects], bp)
            is_tr[effects] &= t_event[effects] < bp
        self._accrue(v, gidx, sel, t, end, u[2], rng, weekly, effects)
        tr = np.flatnonzero(is_tr)
        if tr.size:
            src = v.state[tr]
            first = u[1][tr] * q[tr] < r1[tr]
            dst = np.where(first, DEST_FIRST[src], DEST_SECOND[src])
            self.transition(gidx[tr], t_event[tr], src, dst, rng)
        hit = effects[~is_tr[effects] & (bp < t1)]
        if hit.size:
            self._effects_end(gidx[hit], v.next_change[hit].astype(np.float64), rng)
        is_tr[hit] = True
        cont = np.flatnonzero(is_tr)
        return gidx[cont], end[cont]

    # ------------------------------------------------------------ accounting
    def _accrue(
        self,
        v: View,
        gidx: np.ndarray,
        sel: np.ndarray | slice,
        t: np.ndarray | float,
        end: np.ndarray,
        u_back: np.ndarray,
        rng: np.random.Generator,
        weekly: np.ndarray,
        effects: np.ndarray,
    ) -> None:
        """Sessions and money of every user's segment [t, end) in its current state."""
        length = end - t
        count, has = self._sessions(v, gidx, sel, end, length, u_back, rng)
        if np.min(t) < 0:
            return
        sc = self.scenario
        pos = np.flatnonzero(has)
        if sc.is_subscription:
            gross = self.cache.pay[sel] * length
        else:
            gross = np.zeros(length.shape[0], dtype=F32)
            gross[pos] = count * v.basket[pos] * sc.margin
        self._book(REVENUE, gidx, gross, weekly, sel)
        serving = (count * sc.serving_cost_per_session).astype(F32)
        self._book(SERVING_COST, gidx[pos], serving, weekly)
        if effects.size:
            self._effect_costs(v, gidx, t, effects, gross, count, has, weekly)

    def _sessions(
        self,
        v: View,
        gidx: np.ndarray,
        sel: np.ndarray | slice,
        end: np.ndarray,
        length: np.ndarray,
        u_back: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Session counts (for users with at least one) and the mask of those users."""
        lam = self.cache.lam[sel]
        with np.errstate(divide="ignore"):
            back = -np.log(u_back) / lam
        has = back < length
        pos = np.flatnonzero(has)
        back_p = back[pos]
        n = 1 + rng.poisson(lam[pos] * (length[pos] - back_p))
        users = gidx[pos]
        pop = self.pop
        pop.last_activity[users] = end[pos] - back_p
        ring = pop.sessions_week[self.session_slot]
        ring[users] = np.minimum(ring[users] + n, 255)
        count = n.astype(F32)
        pop.total_sessions[users] += count
        for counts, taste in zip(pop.genre_counts, pop.affinity, strict=True):
            counts[users] += count * taste[users]  # the watch history (row by row: fast)
        return count, has

    def _effect_costs(
        self,
        v: View,
        gidx: np.ndarray,
        t: np.ndarray | float,
        effects: np.ndarray,
        gross: np.ndarray,
        count: np.ndarray,
        has: np.ndarray,
        weekly: np.ndarray,
    ) -> None:
        """Discount and trial costs for the users with an effect acting."""
        pop = self.pop
        users = gidx[effects]
        te = t if np.isscalar(t) else np.asarray(t)[effects]
        depth = pop.disc_depth[users]
        if self.scenario.is_subscription:
            trial = pop.trial_until[users] > te
            disc = (pop.disc_until[users] > te) & ~trial
            g = gross[effects]
            self._book(TRIAL_COST, users, np.where(trial, g, 0).astype(F32), weekly)
            cost = np.where(disc, g * depth, 0).astype(F32)
        else:
            n_sessions = np.zeros(has.shape[0], dtype=F32)
            n_sessions[has] = count
            disc = pop.disc_until[users] > te
            value = n_sessions[effects] * pop.basket[users] * depth
            cost = np.where(disc, value, 0).astype(F32)
        self._book(DISCOUNT_COST, users, cost, weekly)

    def _book(
        self,
        component: int,
        users: np.ndarray,
        amount: np.ndarray,
        weekly: np.ndarray,
        sel: np.ndarray | slice | None = None,
    ) -> None:
        """Add ``amount`` to each user's total and to this week's segment totals."""
        if users.size == 0:
            return
        row = self.pop.money[component]  # a 1-d view: 1-d fancy indexing is the fast path
        row[users if sel is None else sel] += amount
        weekly[component] += self._segment_sums(users, amount)

    def _segment_sums(self, users: np.ndarray, amount: np.ndarray) -> np.ndarray:
        """Sum ``amount`` by segment; ``users`` is sorted, and users are sorted by segment."""
        starts = np.searchsorted(users, self.seg_starts)
        sums = np.add.reduceat(amount.astype(np.float64), np.minimum(starts, amount.size - 1))
        sums[np.diff(np.append(starts, amount.size)) == 0] = 0.0
        return sums

    # ----------------------------------------------------------- transitions
    def transition(
        self,
        gidx: np.ndarray,
        times: np.ndarray,
        src: np.ndarray,
        dst: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        """Move users ``gidx`` from ``src`` to ``dst`` at ``times``, with all bookkeeping."""
        pop = self.pop
        self._settle_retention(gidx, times, src)
        pop.state[gidx] = dst
        self.cache.refresh(self.base, gidx)
        seg = pop.segment[gidx]
        self.ledger.transitions(times, src, dst, seg)
        if self.trace is not None:
            with self.lock:
                self.trace.append((gidx.copy(), np.asarray(times, np.float64), src.copy(), dst))
        in_horizon = times >= 0
        pop.ever_inactive[gidx[in_horizon & (dst != ACTIVE)]] = True
        back = in_horizon & (dst == ACTIVE)
        if back.any():
            b = gidx[back]
            pop.reactivations[b] += 1
            first = np.isnan(pop.first_react[b])
            pop.first_react[b[first]] = times[back][first]
            self.ledger.count_at(times[back], "reactivations", seg[back])
        self._start_trials(gidx, times, src, dst)
        self._survey(gidx[dst == CHURNED], rng)

    def _settle_retention(self, gidx: np.ndarray, times: np.ndarray, src: np.ndarray) -> None:
        """Retention checks due before this transition: the user was in ``src`` then.

        Every transition settles the checks that fell due since the previous one, so the
        state a user leaves is the state they were in on the due day.
        """
        for lag, flags in ((30.0, self.pop.retained30), (90.0, self.pop.retained90)):
            due = self.pop.first_react[gidx] + lag
            hit = (flags[gidx] < 0) & (due <= times)
            flags[gidx[hit]] = (src[hit] == ACTIVE).astype(np.int8)

    def settle_retention(self) -> None:
        """Checks due by now whose user has not moved since: the current state decides."""
        pop = self.pop
        for lag, flags in ((30.0, pop.retained30), (90.0, pop.retained90)):
            hit = (flags < 0) & (pop.first_react + lag <= self.t)
            flags[hit] = (pop.state[hit] == ACTIVE).astype(np.int8)

    def _start_trials(
        self, gidx: np.ndarray, times: np.ndarray, src: np.ndarray, dst: np.ndarray
    ) -> None:
        pop = self.pop
        starting = (src == CHURNED) & (dst == ACTIVE)
        starting &= pop.trial_window_until[gidx] > times
        if not starting.any():
            return
        s = gidx[starting]
        pop.trial_until[s] = (times[starting] + pop.trial_len[s]).astype(F32)
        pop.trial_window_until[s] = F32(-np.inf)
        pop.next_change[s] = next_effect_end(pop, s, times[starting])

    def _survey(self, gidx: np.ndarray, rng: np.random.Generator) -> None:
        dyn = self.scenario.dynamics
        if gidx.size == 0:
            return
        u = rng.random((3, gidx.size))
        answers = (self.pop.survey[gidx] < 0) & (u[0] < dyn.survey_fraction)
        truthful = u[1] < dyn.survey_accuracy
        noise = np.minimum((u[2] * len(PAIN_POINTS)).astype(np.int8), len(PAIN_POINTS) - 1)
        reason = np.where(truthful, self.pop.pain[gidx].astype(np.int8), noise)
        self.pop.survey[gidx[answers]] = reason[answers]

    def _effects_end(self, gidx: np.ndarray, tb: np.ndarray, rng: np.random.Generator) -> None:
        """Users whose effect ended at ``tb``: deal seekers may cancel, then re-arm."""
        pop, dyn = self.pop, self.scenario.dynamics
        ended = (pop.disc_until[gidx] == tb) | (pop.trial_until[gidx] == tb)
        at_risk = ended & pop.deal_seeker[gidx] & (pop.state[gidx] != CHURNED)
        if self.scenario.is_subscription:
            target = CHURNED
        else:
            target = DORMANT
            at_risk &= pop.state[gidx] == ACTIVE
        shock = at_risk & (rng.random(gidx.size) < dyn.deal_shock_prob)
        pop.next_change[gidx] = next_effect_end(pop, gidx, tb)
        if shock.any():
            s = gidx[shock]
            src = pop.state[s].copy()
            dst = np.full(s.size, target, dtype=np.uint8)
            self.transition(s, tb[shock], src, dst, rng)

    # ------------------------------------------------------------- calendar
    def new_week(self, week_index: int) -> None:
        """Called by the calendar at each week boundary: open a fresh ring slot."""
        self.session_slot = week_index % self.pop.sessions_week.shape[0]
        self.pop.sessions_week[self.session_slot] = 0
