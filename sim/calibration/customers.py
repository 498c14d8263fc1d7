"""Per-customer summaries of an event log at a cut-off: the input of every likelihood here.

Same-day activity is merged into one activity day (as in the customer-base literature); a
customer's first activity day is their birth, and the days after it are repeat activity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.calibration.eventlog import EventLog, EventLogError


@dataclass(frozen=True)
class Customers:
    """Customers born by ``cut`` (their first activity day <= cut), seen until ``cut``.

    ``starts[i]:starts[i+1]`` indexes customer i's repeat activity days in ``days`` and
    ``spend``; times are in days since the log's first day.
    """

    ids: np.ndarray  # user ids (strings)
    birth: np.ndarray  # int64 first activity day
    days: np.ndarray  # int64 repeat activity days in the window, customer by customer
    spend: np.ndarray  # float64 spend of each repeat activity day
    first_spend: np.ndarray  # float64 spend on the birth day
    starts: np.ndarray  # int64 (n + 1,) offsets into days / spend
    cut: int  # the last day seen

    @property
    def n(self) -> int:
        return int(self.birth.shape[0])

    @property
    def x(self) -> np.ndarray:
        """Repeat activity days per customer."""
        return np.diff(self.starts)

    @property
    def t_x(self) -> np.ndarray:
        """Age at the last activity day (0 for customers with no repeat)."""
        padded = np.append(self.days, 0)  # safe to index when nobody has a repeat
        last = np.where(self.x > 0, padded[np.maximum(self.starts[1:] - 1, 0)], self.birth)
        return (last - self.birth).astype(np.float64)

    @property
    def T(self) -> np.ndarray:
        """Age at the cut."""
        return (self.cut - self.birth).astype(np.float64)

    def gaps(self) -> tuple[np.ndarray, np.ndarray]:
        """Waiting times between consecutive activity days (birth first) and the customer
        each belongs to; then the trailing gap from the last activity to the cut is
        ``T - t_x``."""
        owner = np.repeat(np.arange(self.n), self.x)
        prev = np.empty_like(self.days)
        prev[:] = self.days
        prev[1:] = self.days[:-1]
        first = np.zeros(self.days.shape[0], dtype=bool)
        first[self.starts[:-1][self.x > 0]] = True
        prev[first] = self.birth[owner[first]]
        return (self.days - prev).astype(np.float64), owner


def activity_days(log: EventLog) -> pd.DataFrame:
    """One row per customer and activity day: user_id, day, spend (summed)."""
    act = log.activity
    return act.groupby(["user_id", "day"], sort=True, observed=True)["amount"].sum().reset_index()


def customers_at(log: EventLog, cut: int, days: pd.DataFrame | None = None) -> Customers:
    """Summaries of every customer born by day ``cut``, seen through day ``cut``."""
    days = activity_days(log) if days is None else days
    birth = days.groupby("user_id", sort=True, observed=True)["day"].min()
    birth = birth[birth <= cut]
    if birth.empty:
        raise EventLogError(
            f"cut-off: day {cut} is before every customer's first activity; nothing to fit"
        )
    d = days[days.user_id.isin(birth.index) & (days.day <= cut)]
    d = d.assign(birth=d.user_id.map(birth)).sort_values(["user_id", "day"], kind="stable")
    is_first = d.day.to_numpy() == d.birth.to_numpy()
    repeat = d[~is_first]
    first_spend = d[is_first].set_index("user_id")["amount"].reindex(birth.index).to_numpy()
    counts = (
        repeat.groupby("user_id", sort=True, observed=True)
        .size()
        .reindex(birth.index, fill_value=0)
    )
    starts = np.concatenate([[0], np.cumsum(counts.to_numpy())]).astype(np.int64)
    return Customers(
        ids=birth.index.to_numpy(),
        birth=birth.to_numpy(dtype=np.int64),
        days=repeat.day.to_numpy(dtype=np.int64),
        spend=repeat.amount.to_numpy(dtype=np.float64),
        first_spend=first_spend.astype(np.float64),
        starts=starts,
        cut=int(cut),
    )


@dataclass(frozen=True)
class Weeks:
    """Weeks laid so that one ends on the cut: the calibration period is whole weeks (the
    first may be short), and so is the holdout up to its last, possibly short, week."""

    cut: int
    end: int

    @property
    def offset(self) -> int:
        return (7 - (self.cut + 1) % 7) % 7

    @property
    def n(self) -> int:
        return (self.end + self.offset) // 7 + 1

    def index(self, day: np.ndarray) -> np.ndarray:
        """0-based week of each day."""
        return (np.asarray(day) + self.offset) // 7

    def last_day(self) -> np.ndarray:
        """The last day of each week (the final week's is ``end``)."""
        return np.minimum(7 * np.arange(1, self.n + 1) - 1 - self.offset, self.end)


def weekly_repeats(
    log: EventLog, ids: np.ndarray, weeks: Weeks, days: pd.DataFrame | None = None
) -> np.ndarray:
    """Repeat activity days of customers ``ids`` in each week, through ``weeks.end``."""
    days = activity_days(log) if days is None else days
    d = days[days.user_id.isin(ids) & (days.day <= weeks.end)]
    birth = d.groupby("user_id", observed=True)["day"].transform("min")
    rep = d[d.day.to_numpy() > birth.to_numpy()]
    return np.bincount(weeks.index(rep.day.to_numpy()), minlength=weeks.n).astype(np.float64)
