"""Time series recorded while the simulation runs: occupancy by day, money by week."""

from __future__ import annotations

import math

import numpy as np

from sim.constants import MONEY, STATES

COUNTERS = ("sent", "opened", "unsubscribed", "refused", "reactivations", "support_contacts")


class Ledger:
    """Exact daily occupancy by state and segment, and weekly money and counters by segment.

    Occupancy on day ``d`` is the state at time ``d``; a transition at time ``x`` counts from
    day ``ceil(x)`` on (the compiled kernels of ``sim.kernel`` write ``deltas``, ``counters``
    and ``money`` directly). Weeks are ``[7w, 7w + 7)``; the engine never lets an interval cross a
    week boundary, so weekly money is exact.
    """

    def __init__(self, horizon_days: int, n_segments: int) -> None:
        self.horizon_days = horizon_days
        self.n_segments = n_segments
        self.n_weeks = math.ceil(horizon_days / 7)
        self.start_counts = np.zeros((len(STATES), n_segments), dtype=np.int64)
        self.deltas = np.zeros((horizon_days + 1) * len(STATES) * n_segments, dtype=np.int64)
        self.money = np.zeros((self.n_weeks, len(MONEY), n_segments), dtype=np.float64)
        self.counters = np.zeros((self.n_weeks, len(COUNTERS), n_segments), dtype=np.int64)

    def snapshot_start(self, state: np.ndarray, segment: np.ndarray) -> None:
        flat = state.astype(np.int64) * self.n_segments + segment
        counts = np.bincount(flat, minlength=len(STATES) * self.n_segments)
        self.start_counts[:] = counts.reshape(len(STATES), self.n_segments)

    def week_of(self, day: float) -> int | None:
        if day < 0 or day >= self.horizon_days:
            return None
        return int(day // 7)

    def occupancy(self) -> np.ndarray:
        """Users per (day, state, segment) for days 0..horizon."""
        shape = (self.horizon_days + 1, len(STATES), self.n_segments)
        deltas = self.deltas.reshape(shape)
        return self.start_counts[None] + np.cumsum(deltas, axis=0)
