"""Look-ahead from the middle of a run: what each offer would earn each user, given everything
the simulation knows about them (hidden traits and state included).

For users of a running simulation on day t, and each action (nothing, or an offer where the
user can be sent it), :func:`expected_gains` copies the users (:meth:`Simulation.fork`),
sends every copy that action, carries the copies to day t + ``days`` (the horizon at most)
with no further offers, and takes each copy's profit less that of its copy sent nothing.

The rules:

* Each replication has random numbers of its own (a seed derived from the run's seed, the
  caller's key, the day and the replication: ``Streams.lookahead_seed``), never the run's:
  the estimate is an expectation over what could happen to this user, not a glimpse of what
  will (which would be clairvoyance).
* Within a replication every action shares those numbers (common random numbers): an offer
  that changes nothing for a user (not delivered, not opened, no effect) gives exactly 0.
* The gain is the replications' mean; its standard error is their standard deviation over
  the square root of their number. Actions a user cannot be sent today are NaN.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import numpy as np

from sim.constants import CHANNELS, PAIN_POINTS, STATES
from sim.simulation import Simulation, user_profit
from sim.validation import check_int


@dataclass(frozen=True)
class Gains:
    """Expected incremental profit per user (rows) and action (columns: nothing, then each
    offer), with its standard error; NaN where the action cannot be sent. ``state``: each
    user's hidden state today (:data:`HIDDEN`, one row per user)."""

    mean: np.ndarray
    se: np.ndarray
    reps: int
    state: np.ndarray
    base: np.ndarray  # each user's expected profit over the window with nothing sent


HIDDEN = (
    *(f"state_{s}" for s in STATES),
    *(f"pain_{p}" for p in PAIN_POINTS),
    "price_sens", "content_need", "friction", "tech", "deal_seeker",
    "lapse_mult", "return_mult", "activity_mult",
    *(f"responsiveness_{c}" for c in CHANNELS),
    "cancellation_pending", "fatigue",
    *(f"{e}_days_left" for e in ("disc", "trial", "fix", "rec", "content", "boost")),
)  # fmt: skip
"""The hidden state of a user the look-ahead reports: true state, pain point, traits, the
multipliers on leaving, returning and activity, responsiveness per channel, a pending
cancellation, message fatigue and the days each offer effect still runs."""


def hidden_state(sim: Simulation, users: np.ndarray) -> np.ndarray:
    """(users, len(HIDDEN)) float64: the columns of :data:`HIDDEN` today."""
    pop, day = sim.pop, sim.day
    cols = [
        *(pop.state[users] == k for k in range(len(STATES))),
        *(pop.pain[users] == k for k in range(len(PAIN_POINTS))),
        pop.price_sens[users], pop.content_need[users], pop.friction[users], pop.tech[users],
        pop.deal_seeker[users], pop.lapse_mult[users], pop.return_mult[users],
        pop.activity_mult[users], *pop.responsiveness[users].T,
        np.isfinite(pop.cancel_at[users]), pop.fatigue[users],
        *(
            np.maximum(getattr(pop, f"{e}_until")[users] - day, 0.0)
            for e in ("disc", "trial", "fix", "rec", "content", "boost")
        ),
    ]  # fmt: skip
    return np.column_stack([np.asarray(c, dtype=np.float64) for c in cols])


def expected_gains(
    sim: Simulation,
    users: np.ndarray,
    mask: np.ndarray,
    reps: int,
    days: int | None = None,
    key: int = 0,
) -> Gains:
    """Each action's expected incremental profit for ``users`` (sorted ids) over the next
    ``days`` (None: to the horizon), from ``reps`` replications; ``mask`` (users, 1 + offers)
    says which actions each user can be sent today."""
    check_int("reps", reps, 1)
    users = np.asarray(users, dtype=np.int64)
    if users.size > 1 and np.any(np.diff(users) <= 0):
        raise ValueError("users: must be sorted ids without repeats")
    if mask.shape != (users.size, 1 + len(sim.catalogue)):
        raise ValueError(
            f"mask: shape {mask.shape}; allowed: ({users.size}, {1 + len(sim.catalogue)}) "
            "(users, nothing + each offer)"
        )
    end = sim.scenario.horizon_days
    if days is not None:
        end = min(end, int(sim.day) + check_int("days", days, 1))
    n_actions = mask.shape[1]
    total = np.zeros((users.size, n_actions))
    square = np.zeros((users.size, n_actions))
    base = np.zeros(users.size)
    rows = np.arange(users.size)
    for rep in range(reps):
        seed = sim.streams.lookahead_seed(key, int(sim.day), rep)
        sent = [rows[:0], *(rows[mask[:, a]] for a in range(1, n_actions))]
        run = partial(_profit, sim, seed, users, end=end)
        profits = list(
            _pool().map(run, sent, range(-1, n_actions - 1))
        )  # the forks of one replication at once (the kernels release the GIL); in order
        base += profits[0]
        for a in range(1, n_actions):
            if sent[a].size:
                gain = profits[a] - profits[0]
                total[:, a] += gain
                square[:, a] += gain * gain
    mean = total / reps
    var = np.maximum(square / reps - mean * mean, 0.0) * (reps / max(reps - 1, 1))
    allowed = mask.copy()
    allowed[:, 0] = True
    return Gains(
        np.where(allowed, mean, np.nan),
        np.where(allowed, np.sqrt(var / reps), np.nan),
        reps,
        hidden_state(sim, users),
        base / reps,
    )


_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    """Threads for a replication's forks: apart from the engine's own pool, which a fork's
    engine may use for its chunks."""
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1)))
    return _POOL


def _profit(
    sim: Simulation, seed: int, users: np.ndarray, who: np.ndarray, offer: int, end: int
) -> np.ndarray:
    """Profit from today to ``end`` of copies of ``users`` with seed ``seed``, ``who``
    (positions in ``users``) sent ``offer`` today (-1: nothing)."""
    fork = sim.fork(seed, users)
    if who.size and offer >= 0:
        fork.offer(who, np.full(who.size, offer))
    fork.run_until(end)
    return user_profit(fork, np.arange(users.size))
