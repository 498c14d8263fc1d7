"""What a recorded simulation keeps: what a company's own systems would have recorded.

``Simulation(..., record=True)`` keeps, besides every transition (its trace, with each
exit-survey answer), the day of every session, every subscription payment per billing period,
every offer sent (with whether it was opened), who could not be reached on each channel when
recording began, and every opt-out a send caused. :func:`sim.records.event_log` writes them
as an event log. Recording changes no result: the kernel draws what only the log needs (the
times of a segment's sessions other than the last) from the recording's own random streams.

The raw records, in the order they were made (blocks of columns, one block per interval and
chunk of users):

* ``sessions``: int32 (4, k): user, day (``floor`` of the time), sessions on that day within
  one stretch of constant rates (a day may appear in several blocks: the writer adds them up),
  spend in cents (transactional scenarios: each session is a purchase; 0 otherwise).
* ``payments``: float64 (4, k): user, start of a closed billing period (the (re)subscription
  or a renewal), what the user paid over it (list price a day, less any discount, nothing on
  free-trial days), its index since the (re)subscription (0: the first period).
* ``signals``: int32 (4, k): user, day (of the last session of the stretch that showed
  them), signal (index into ``sim.signals.SIGNALS``), count (``sim.signals``).
* ``deliveries``: (day, users, offers, opened) of every offer sent.
* ``start_reachable``: bool (n, channels), each user's reach when recording began.
* ``opt_outs``: (day, users, offers) of the sends that made their user opt out of the
  offer's channel (only those: a few per thousand sends). The simulator never gives reach
  back (``sim.kernel.delivery``: an opt-out is priced as a year of reach lost, but lasts).

Billing periods for the log are the plan's (``sim.constants.BILLING_DAYS``), or 30 days for
plans billed "none" (a company still shows monthly payments).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.constants import BILLING_DAYS, CHURNED, DAYS_PER_MONTH
from sim.kernel import arrays_of
from sim.kernel import dynamics as K
from sim.population import Population
from sim.scenario import Scenario


def log_billing_days(scenario: Scenario) -> np.ndarray:
    """Each plan's billing period in the log, in days (30 for plans billed "none")."""
    days = [BILLING_DAYS.get(p.billing, DAYS_PER_MONTH) for p in scenario.plans]
    return np.array(days, dtype=np.float64)


@dataclass
class Recording:
    """The raw records of one run (see the module docstring) and the per-user state the
    kernel keeps for them (``sim.kernel.dynamics.LOG``)."""

    start_day: float  # when recording began: the run's first day
    start_state: np.ndarray  # uint8 each user's state then
    billing_days: np.ndarray  # float64 per plan (the kernel's LOG)
    period_paid: np.ndarray  # float64 per user: paid so far in the current period
    period_index: np.ndarray  # float64 per user: the current period, from 0
    period_rate: np.ndarray  # float64 per user: the price a day paid lately
    root: np.uint64  # of the recording's random streams (sim.kernel.counter_rng)
    start_reachable: np.ndarray  # bool (n, channels): each user's reach when recording began
    sessions: list[np.ndarray] = field(default_factory=list)
    payments: list[np.ndarray] = field(default_factory=list)
    signals: list[np.ndarray] = field(default_factory=list)
    deliveries: list[tuple[float, np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    opt_outs: list[tuple[float, np.ndarray, np.ndarray]] = field(default_factory=list)

    @classmethod
    def start(cls, scenario: Scenario, pop: Population, day: float, root: np.uint64) -> Recording:
        """Recording from ``day`` on: each subscriber is in the billing period that holds
        ``day`` (what was paid in it before is not known: the log leaves that period out)."""
        days = log_billing_days(scenario)
        since = np.maximum(day - pop.subscribed_at, 0.0)
        index = np.where(pop.state != CHURNED, np.floor(since / days[pop.plan]), 0.0)
        zeros = np.zeros(pop.n)
        return cls(
            float(day),
            pop.state.copy(),
            days,
            zeros,
            index,
            zeros.copy(),
            root,
            pop.reachable.copy(),
        )

    @property
    def arrays(self) -> tuple[np.ndarray, ...]:
        """The kernel's ``log`` bundle (``sim.kernel.dynamics.LOG``)."""
        return arrays_of(K.LOG, self)

    def delivered(
        self,
        day: float,
        users: np.ndarray,
        offers: np.ndarray,
        opened: np.ndarray,
        unsubscribed: np.ndarray | None = None,
    ) -> None:
        """Offers sent on ``day`` (only those sent: refusals are not a company's record);
        the arrays are kept as they are. ``unsubscribed``: per send, whether it made its
        user opt out (only those sends are kept, in :attr:`opt_outs`)."""
        self.deliveries.append((day, users, offers, opened))
        if unsubscribed is not None and unsubscribed.any():
            self.opt_outs.append((day, users[unsubscribed], offers[unsubscribed]))


IDLE = tuple(np.zeros(0) for _ in K.LOG)
"""The kernel's ``log`` bundle when nothing is recorded."""
