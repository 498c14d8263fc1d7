"""The engine: advances the whole population between calendar events.

The per-user dynamics (competing hazards, breakpoints where an offer's effect ends, sessions,
money, transitions with their bookkeeping) are one compiled kernel,
:func:`sim.kernel.dynamics.advance`, that loops over users. This module feeds it: the
calendar's drivers, the scenario's constants, the population's arrays and the ledger.

Users are advanced in chunks (in parallel threads where cores allow); every user draws from
its own counter-based random stream keyed by (run seed, user, interval), so results never
depend on the chunking or the number of cores, and a policy run and its no-offer control use
the same numbers for every user whose path has not diverged.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from sim.calendar import daily_prices
from sim.constants import ACTIVE, BILLING_DAYS, MONEY, RETENTION_DAYS
from sim.hazards import Drivers, RateTables
from sim.kernel import arrays_of
from sim.kernel import dynamics as K
from sim.ledger import Ledger
from sim.population import Population
from sim.recording import IDLE, Recording
from sim.scenario import Scenario
from sim.signals import kernel_table

F32 = np.float32
CHUNK = 1 << 18
"""Users per chunk: chunks advance independently, in parallel threads where cores allow."""
_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1)))
    return _POOL


def kernel_params(scenario: Scenario) -> np.ndarray:
    """The scenario's scalars in the order the dynamics kernel reads them."""
    dyn = scenario.dynamics
    p = np.zeros(K.N_PARAMS, dtype=np.float64)
    p[K.TECH_W] = dyn.tech_weight
    p[K.FRICTION_W] = dyn.friction_weight
    p[K.FRESH_W] = dyn.freshness_weight
    p[K.PRICE_W] = dyn.price_weight
    p[K.PRICE_LEVEL_W] = dyn.price_level_weight
    p[K.CONTENT_GAIN] = dyn.content_message_gain
    p[K.DEAL_SHOCK] = dyn.deal_shock_prob
    p[K.SURVEY_FRACTION] = dyn.survey_fraction
    p[K.SURVEY_ACCURACY] = dyn.survey_accuracy
    p[K.SUBSCRIPTION] = float(scenario.is_subscription)
    p[K.MARGIN] = scenario.margin
    p[K.SERVING] = scenario.serving_cost_per_session
    p[K.HORIZON] = scenario.horizon_days
    return p


def billing_periods(scenario: Scenario) -> np.ndarray:
    """Each plan's billing period in days (0: billed "none", cancellations act at once)."""
    return np.array([BILLING_DAYS.get(p.billing, 0) for p in scenario.plans], dtype=np.float64)


@dataclass(frozen=True)
class RateParams:
    """The scenario's rate tables, scalars, billing periods and signals as the dynamics
    kernel reads them."""

    tables: RateTables
    params: np.ndarray
    billing: np.ndarray
    signals: np.ndarray  # sim.signals.kernel_table

    @classmethod
    def of(cls, scenario: Scenario) -> RateParams:
        return cls(
            RateTables.from_scenario(scenario),
            kernel_params(scenario),
            billing_periods(scenario),
            kernel_table(scenario.signals.strengths()),
        )


class Engine:
    """Advances a population through time under the current calendar drivers."""

    def __init__(
        self,
        scenario: Scenario,
        pop: Population,
        root: np.uint64,
        ledger: Ledger,
        rates: RateParams | None = None,
        start: float | None = None,
        session_slot: int = 0,
    ) -> None:
        """``start``: the day to begin at (default the warm-up's start) with ``session_slot``
        the current week's slot in the sessions ring: a fork carrying users on from the middle
        of another run."""
        self.scenario = scenario
        self.pop = pop
        self.ledger = ledger
        rates = rates if rates is not None else RateParams.of(scenario)
        self.tables = rates.tables
        self.params = rates.params
        self.billing = rates.billing
        self.signals = rates.signals
        self.root = root  # of the users' random streams (sim.kernel.counter_rng)
        list_day = daily_prices(p.monthly_price for p in scenario.plans)
        self.drivers = Drivers(np.zeros(len(scenario.genres), dtype=F32), list_day)
        self.fresh = self.drivers.freshness.astype(np.float64)
        self.price = self.drivers.list_price.astype(np.float64)
        self.cache = np.empty((2, pop.n))  # rate parts without effects (sim.kernel.dynamics)
        self.users = arrays_of(K.USERS, pop)
        self._refresh_cache()
        self.chunks = [(a, min(a + CHUNK, pop.n)) for a in range(0, pop.n, CHUNK)]
        # chunks running in parallel write occupancy and counters to their own buffers
        self.buffers = (
            [(ledger.deltas, ledger.counters)]
            if len(self.chunks) == 1
            else [
                (np.zeros_like(ledger.deltas), np.zeros_like(ledger.counters)) for _ in self.chunks
            ]
        )
        self.scratch = np.zeros((len(MONEY), ledger.n_segments))  # money outside the horizon
        self.t = float(-scenario.warmup_days if start is None else start)
        self.session_slot = session_slot
        self.n_intervals = 0
        self.started = False
        if self.t >= 0:  # from the middle of the horizon: its start is now
            self.ledger.snapshot_start(pop.state, pop.segment)
            self.started = True
        self.trace: list[np.ndarray] | None = None  # set to a list to record
        self.recording: Recording | None = None  # set to keep the event log's records

    def set_drivers(
        self,
        freshness: np.ndarray,
        list_price: np.ndarray,
        fresh64: np.ndarray | None = None,
        price64: np.ndarray | None = None,
    ) -> None:
        """New calendar drivers from now on (float32, with float64 copies when the caller
        has them); a new list price refreshes the rate cache."""
        self.drivers.freshness = freshness
        self.fresh = fresh64 if fresh64 is not None else freshness.astype(np.float64)
        if list_price is not self.drivers.list_price:
            self.drivers.list_price = list_price
            price = price64 if price64 is not None else list_price.astype(np.float64)
            if not np.array_equal(price, self.price):
                self.price = price
                self._refresh_cache()

    def _refresh_cache(self) -> None:
        tb = self.tables
        K.refresh_rates(
            0, self.pop.n, self.params, tb.first, tb.second, self.price, self.users, self.cache
        )

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
        week = self.ledger.week_of(t0)  # intervals never cross a week boundary
        if len(self.chunks) == 1:  # money straight into the ledger's week
            weekly = self.ledger.money[week] if week is not None else self.scratch
            traces = [self._chunk(k, 0, t0, t1, weekly)]
        else:
            weeklies = [np.zeros_like(self.scratch) for _ in self.chunks]
            traces = list(
                _pool().map(
                    lambda c: self._chunk(k, c, t0, t1, weeklies[c]), range(len(self.chunks))
                )
            )
            for (deltas, counters), money in zip(self.buffers, weeklies, strict=True):
                self.ledger.deltas += deltas  # fixed order: deterministic
                self.ledger.counters += counters
                deltas[:] = 0
                counters[:] = 0
                if week is not None:
                    self.ledger.money[week] += money
        if self.trace is not None:
            self.trace.extend(t for t, _, _, _ in traces if t.shape[1])
        if self.recording is not None:
            self.recording.sessions.extend(s for _, s, _, _ in traces if s.shape[1])
            self.recording.payments.extend(p for _, _, p, _ in traces if p.shape[1])
            self.recording.signals.extend(s for _, _, _, s in traces if s.shape[1])

    def _chunk(
        self, k: int, c: int, t0: float, t1: float, weekly: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Advance one chunk of users through the interval (its money by segment added to
        ``weekly``); returns the chunk's trace, session days, payments and signals."""
        lo, hi = self.chunks[c]
        deltas, counters = self.buffers[c]
        tb = self.tables
        rec = self.recording
        log, log_root = (IDLE, np.uint64(0)) if rec is None else (rec.arrays, rec.root)
        return K.advance(
            lo, hi, t0, t1, self.root, k, self.session_slot, self.params, tb.first, tb.second,
            tb.activity, self.fresh, self.price, self.billing, self.signals, self.users, weekly,
            deltas, counters, self.cache, self.trace is not None, rec is not None, log_root, log,
        )  # fmt: skip

    def settle_retention(self) -> None:
        """Checks due by now whose user has not moved since: the current state decides."""
        pop = self.pop
        for lag, flags in zip(RETENTION_DAYS, (pop.retained30, pop.retained90), strict=True):
            hit = (flags < 0) & (pop.first_react + lag <= self.t)
            flags[hit] = (pop.state[hit] == ACTIVE).astype(np.int8)

    # ------------------------------------------------------------- calendar
    def new_week(self, week_index: int) -> None:
        """Called by the calendar at each week boundary: open a fresh ring slot."""
        self.session_slot = week_index % self.pop.sessions_week.shape[0]
        self.pop.sessions_week[self.session_slot] = 0
