"""Time series recorded while the simulation runs: occupancy by day, money by week."""

from __future__ import annotations

import math
import threading

import numpy as np

from sim.constants import MONEY, STATES

COUNTERS = ("sent", "opened", "unsubscribed", "refused", "reactivations", "support_contacts")


class Ledger:
    """Exact daily occupancy by state and segment, and weekly money and counters by segment.

    Occupancy on day ``d`` is the state at time ``d``; a transition at time ``x`` counts from
    day ``ceil(x)`` on. Weeks are ``[7w, 7w + 7)``; the engine never lets an interval cross a
    week boundary, so weekly money is exact.
    """

    def __init__(self, horizon_days: int, n_segments: int) -> None:
        self.horizon_days = horizon_days
        self.n_segments = n_segments
        self.n_weeks = math.ceil(horizon_days / 7)
        self.start_counts = np.zeros((len(STATES), n_segments), dtype=np.int64)
        self._deltas = np.zeros((horizon_days + 1) * len(STATES) * n_segments, dtype=np.int64)
        self.money = np.zeros((self.n_weeks, len(MONEY), n_segments), dtype=np.float64)
        self.counters = np.zeros((self.n_weeks, len(COUNTERS), n_segments), dtype=np.int64)
        self._lock = threading.Lock()  # integer tallies from parallel chunks

    def snapshot_start(self, state: np.ndarray, segment: np.ndarray) -> None:
        flat = state.astype(np.int64) * self.n_segments + segment
        counts = np.bincount(flat, minlength=len(STATES) * self.n_segments)
        self.start_counts[:] = counts.reshape(len(STATES), self.n_segments)

    def transitions(
        self, times: np.ndarray, src: np.ndarray, dst: np.ndarray, segment: np.ndarray
    ) -> None:
        keep = (times > 0) & (times <= self.horizon_days)
        if not keep.any():
            return
        day = np.ceil(times[keep]).astype(np.int64)
        seg = segment[keep].astype(np.int64)
        base = day * len(STATES) * self.n_segments + seg
        size = self._deltas.shape[0]
        plus = np.bincount(base + dst[keep] * self.n_segments, minlength=size)
        minus = np.bincount(base + src[keep] * self.n_segments, minlength=size)
        with self._lock:
            self._deltas += plus - minus

    def add_money(self, day: float, by_component_segment: np.ndarray) -> None:
        week = self.week_of(day)
        if week is not None:
            self.money[week] += by_component_segment

    def count(self, day: float, counter: str, segment: np.ndarray) -> None:
        week = self.week_of(day)
        if week is not None and segment.size:
            k = COUNTERS.index(counter)
            self.counters[week, k] += np.bincount(segment, minlength=self.n_segments)

    def count_at(self, days: np.ndarray, counter: str, segment: np.ndarray) -> None:
        """Add one to ``counter`` per event at ``days`` (events outside the horizon ignored)."""
        keep = (days >= 0) & (days < self.horizon_days)
        if not keep.any():
            return
        week = (days[keep] // 7).astype(np.int64)
        flat = week * self.n_segments + segment[keep].astype(np.int64)
        counts = np.bincount(flat, minlength=self.n_weeks * self.n_segments)
        k = COUNTERS.index(counter)
        with self._lock:
            self.counters[:, k, :] += counts.reshape(self.n_weeks, self.n_segments)

    def week_of(self, day: float) -> int | None:
        if day < 0 or day >= self.horizon_days:
            return None
        return int(day // 7)

    def occupancy(self) -> np.ndarray:
        """Users per (day, state, segment) for days 0..horizon."""
        shape = (self.horizon_days + 1, len(STATES), self.n_segments)
        deltas = self._deltas.reshape(shape)
        return self.start_counts[None] + np.cumsum(deltas, axis=0)
