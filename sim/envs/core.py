"""The batched win-back decision problem: N inactive users, one offer decision a week each.

Every environment of this package (the single per-user env, the SB3 ``VecEnv`` and the
Gymnasium ``VectorEnv``) runs on :class:`WinBackBatch`, which runs on the simulator's own
engine: the same dynamics code and the same money accounting, whatever the batch size.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from sim.constants import PAIN_POINTS
from sim.envs.observation import Encoder, observation_names
from sim.kernel.accounts import out_of_range, profit
from sim.messaging import OK
from sim.observe import observed_status
from sim.offers import Catalogue
from sim.population import Population, copy_of, take
from sim.scenario import Scenario
from sim.simulation import Prepared, Simulation
from sim.validation import check_choice, check_int

REWARDS = ("profit", "incremental")
"""``profit``: the user's profit in the week. ``incremental``: that minus the same user's
profit in a paired no-offer run (same seed, same users): the offer's effect, with the
baseline's noise removed. A simulator can do this; a live test cannot."""


LATENT = ("pain", "price_sens", "content_need", "friction", "tech", "deal_seeker")


STARTS = ("inactive", "any")
"""Who episodes start from: users the dynamics left ``inactive`` or churned by day 0 (the
win-back MDP), or ``any`` user of the warmed-up population (active ones lapse during the
episode, as in a live year: a training distribution that matches evaluation on a whole
population; actions on active users are masked to "nothing")."""


class InactivePool:
    """Users whom the dynamics left inactive or churned (as observed) by day 0 of a warmed-up run.

    Episodes start from copies of these users, history and all, so every episode begins from
    an inactive user the model produced, not one invented for the purpose. With
    ``start="any"`` every user of the warmed-up population is a candidate.
    """

    def __init__(
        self,
        scenario: Scenario,
        catalogue: Catalogue,
        seed: int,
        size: int,
        start: str = "inactive",
    ) -> None:
        check_int("pool_size", size, 1, 10_000_000)
        check_choice("start", start, STARTS)
        sim = Simulation(replace(scenario, n_users=size), catalogue, seed=seed)
        sim.run_until(0)
        self.pop = sim.pop
        status = observed_status(sim.pop, slice(None), 0.0, sim.scenario)
        self.inactive = np.flatnonzero(status > 0) if start == "inactive" else np.arange(size)
        if self.inactive.size == 0:
            raise ValueError(f"pool_size: {size} users gave no inactive user; use more")

    def draw(self, rng: np.random.Generator, n: int) -> Population:
        idx = rng.choice(self.inactive, size=n, replace=n > self.inactive.size)
        return take(self.pop, idx)


def attribution_weeks(attribution_days: Any) -> int:
    """An attribution window in days as whole weeks (the environments step in weeks): a
    multiple of 7 from 7 to 3640 days."""
    check_int("attribution_days", attribution_days, 7, 3640)
    if attribution_days % 7:
        raise ValueError(
            f"attribution_days: {attribution_days!r}; allowed: a multiple of 7 (whole weeks), "
            "e.g. 182 for 26 weeks"
        )
    return int(attribution_days) // 7


def episode_scenario(scenario: Scenario, n_users: int, horizon_weeks: int) -> Scenario:
    """The scenario seen by one batch of episodes: day 0 on, ``horizon_weeks`` long."""
    days = 7 * horizon_weeks
    return replace(
        scenario,
        n_users=n_users,
        warmup_days=0,
        horizon_days=days,
        releases=tuple(r for r in scenario.releases if r.day < days),
        price_changes=tuple(c for c in scenario.price_changes if c.day < days),
    )


class WinBackBatch:
    """``n_users`` parallel episodes of the per-user win-back MDP, stepped together.

    Action per user: 0 = nothing, k = offer ``catalogue.offers[k - 1]``. Reward per user and
    step: that week's profit (revenue - serving - discount - trial - message - support cost),
    exactly the simulator's per-user accounting. Episodes end together after
    ``horizon_weeks`` steps (truncation: the model has no absorbing state).
    """

    def __init__(
        self,
        scenario: Scenario | None = None,
        catalogue: Catalogue | None = None,
        n_users: int = 1,
        horizon_weeks: int = 52,
        pool_size: int | None = None,
        seed: int = 0,
        reward: str = "profit",
        start: str = "inactive",
    ) -> None:
        from sim import presets  # the environments' defaults: streaming and its catalogue

        scenario = scenario if scenario is not None else presets.streaming(n_users=1)
        catalogue = catalogue if catalogue is not None else presets.streaming_offers()
        check_int("n_users", n_users, 1, 10_000_000)
        check_choice("reward", reward, REWARDS)
        self.reward_mode = reward
        self.control: Simulation | None = None
        check_int("horizon_weeks", horizon_weeks, 1, 520)
        if scenario.epoch_days != 7:
            raise ValueError(f"scenario.epoch_days: {scenario.epoch_days}; the envs need 7")
        self.scenario = episode_scenario(scenario, n_users, horizon_weeks)
        self.catalogue = catalogue
        self.prepared = Prepared.of(self.scenario, catalogue)  # shared by every episode
        self.n_users = n_users
        self.users = np.arange(n_users)
        self.horizon_weeks = horizon_weeks
        self.names = observation_names(self.scenario, catalogue)
        self.encoder = Encoder(self.scenario, catalogue)
        self.n_actions = 1 + len(catalogue)
        size = pool_size if pool_size is not None else max(4 * n_users, 20_000)
        self.pool = InactivePool(scenario, catalogue, seed, size, start)
        self.start = start
        self.seed = seed
        self.episode = 0
        self.week = 0
        self.sim: Simulation | None = None
        self.gain: np.ndarray | float = 0.0  # profit (less the control's) so far

    # -------------------------------------------------------------- episodes
    def reset(self, seed: int | None = None) -> np.ndarray:
        """Start new episodes (fresh users from the pool); returns observations."""
        if seed is not None:
            self.seed, self.episode = int(seed), 0
        seq = np.random.SeedSequence([self.seed, self.episode])
        rng = np.random.Generator(np.random.PCG64(seq))
        users = self.pool.draw(rng, self.n_users)
        sim_seed = int(seq.generate_state(1)[0])
        if self.reward_mode == "incremental":  # the same users, the same draws, no offers
            self.control = Simulation(
                self.scenario,
                self.catalogue,
                seed=sim_seed,
                population=copy_of(users),
                prepared=self.prepared,
            )
            self.control.run_until(0)
        self.sim = Simulation(
            self.scenario,
            self.catalogue,
            seed=sim_seed,
            population=users,
            prepared=self.prepared,
        )
        self.sim.run_until(0)
        self.gain = self.profit() - self._control_profit()  # zero: accounts start empty
        self.episode += 1
        self.week = 0
        return self.observe()

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """One week for every user: (obs, reward, terminated, truncated, info)."""
        return self.step_checked(self._check_actions(actions))

    def step_checked(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """:meth:`step` for ``actions`` already known to be int64 ids in range, one per user
        (the single env checks its one action as a Python int)."""
        sim = self._sim()
        before = self.gain
        n = self.n_users
        refused = np.zeros(n, dtype=bool)
        opened = np.zeros(n, dtype=bool)
        chosen = actions.nonzero()[0]
        if chosen.size:
            d = sim.offer(chosen, actions[chosen] - 1)
            refused[chosen] = d.refusal != OK
            opened[chosen] = d.opened
        self.week += 1
        sim.run_until(7 * self.week)
        if self.control is not None:
            self.control.run_until(7 * self.week)
        self.gain = self.profit() - self._control_profit()
        reward = (self.gain - before).astype(np.float32)
        ended = np.ones if self.week >= self.horizon_weeks else np.zeros
        info = {"refused": refused, "opened": opened, "week": np.full(n, self.week)}
        return self.observe(), reward, np.zeros(n, bool), ended(n, dtype=bool), info

    # ------------------------------------------------------------- queries
    def observe(self) -> np.ndarray:
        """The current users' observation vectors (``sim.envs.observation``)."""
        return self.encoder(self._sim(), self.week / self.horizon_weeks, self.users)

    def profit(self) -> np.ndarray:
        """Each user's profit so far in this episode (float64)."""
        return profit(self._sim().pop.money)

    def _control_profit(self) -> np.ndarray | float:
        if self.reward_mode != "incremental" or self.control is None:
            return 0.0
        return profit(self.control.pop.money)

    def action_masks(self) -> np.ndarray:
        """(users, actions) bool: what can be sent now (0, nothing, always can)."""
        return self._sim().mask(self.users)

    def latent(self) -> dict[str, np.ndarray]:
        """Latent traits of the current users (for the pain-point rule; never in observations)."""
        pop = self._sim().pop
        out = {name: getattr(pop, name).copy() for name in LATENT}
        out["pain_point"] = np.array(PAIN_POINTS)[pop.pain]
        return out

    def _sim(self) -> Simulation:
        if self.sim is None:
            raise ValueError("reset: call reset() before step() or any query")
        return self.sim

    def _check_actions(self, actions: np.ndarray) -> np.ndarray:
        a = np.asarray(actions).reshape(-1)
        if a.shape[0] != self.n_users:
            raise ValueError(f"actions: {a.shape[0]} given; expected {self.n_users}")
        if a.dtype.kind not in "iu" and not np.all(a == np.round(a)):
            raise ValueError(f"actions: {a[:5]} are not integers")
        a = a.astype(np.int64, copy=False)
        if out_of_range(a, 0, self.n_actions):
            raise ValueError(f"actions: must be in [0, {self.n_actions - 1}]")
        return a
