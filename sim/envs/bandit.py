"""``WinBackBandit-v0``: the contextual-bandit view of win-back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from sim import presets
from sim.constants import PAIN_POINTS
from sim.envs.core import InactivePool, attribution_weeks, episode_scenario
from sim.envs.observation import OBSERVATION_DOC, Encoder, observation_names
from sim.messaging import OK
from sim.offers import Catalogue
from sim.population import Population, copy_of
from sim.scenario import Scenario
from sim.simulation import Simulation, user_profit
from sim.validation import check_int


class WinBackBandit(gym.Env):
    (
        """One newly inactive user per step, one offer, the profit it brings.

    ## Description
    Each step shows one user whom the scenario's dynamics left inactive or churned (drawn
    from a warmed-up population at day 0). The agent picks one offer or nothing; the
    reward is the user's profit over the next ``attribution_days`` days, net of every cost.
    ``info["no_offer_reward"]`` is the same user's profit over the same weeks with no offer,
    on common random numbers, so the true uplift of the chosen action is known exactly;
    ``info["rewards"]`` holds the reward every action would have earned (for regret), and
    ``info["pain_point"]`` the user's latent pain point (for analyses; never a feature).

    Users come in blocks of ``block`` users; for each block the simulator runs once per
    action with every user of the block receiving that action, with the same seed and the
    same users in the same places, so all actions see the same random numbers.

    ## Action Space
    ``Discrete(1 + len(catalogue))``: 0 = nothing, ``k`` = ``catalogue.offers[k - 1]`` (see
    ``WinBack-v0`` for the streaming catalogue's costs). An offer the user cannot receive
    is refused: nothing is sent or charged, and the reward equals the no-offer reward.

    ## Observation Space
    ``Box(0, 1, (n_features,), float32)``, the same observable features as ``WinBack-v0``.
    """
        + OBSERVATION_DOC
        + """
    ## Rewards
    Profit over ``attribution_days`` after the decision: revenue - discount, trial, serving,
    message and support costs.

    ## Starting State and Episode End
    An episode is ``episode_length`` users (default 1,000), then truncated.

    ## Arguments
    ``scenario``, ``catalogue``, ``attribution_days=182`` (a multiple of 7; matched offers
    pay back over months),
    ``episode_length=1000``,
    ``block=512``, ``pool_size`` (default 20,000), ``seed=0``.

    ## Version History
    * v0: first version. Since (dynamics and rewards unchanged, so still v0): the argument
      ``window_weeks`` (weeks) is ``attribution_days`` (days, a multiple of 7:
      ``window_weeks=26`` is ``attribution_days=182``); the observation feature
      ``status_cancelled`` is named ``status_churned`` (same values); ``gym.make`` applies
      ``max_episode_steps=1000`` (the default ``episode_length``).
    """
    )

    def __init__(
        self,
        scenario: Scenario | None = None,
        catalogue: Catalogue | None = None,
        attribution_days: int = 182,
        episode_length: int = 1000,
        block: int = 512,
        pool_size: int | None = None,
        seed: int = 0,
    ) -> None:
        scenario = scenario if scenario is not None else presets.streaming(n_users=1)
        self.catalogue = catalogue if catalogue is not None else presets.streaming_offers()
        check_int("episode_length", episode_length, 1, 10_000_000)
        check_int("block", block, 1, 1_000_000)
        weeks = attribution_weeks(attribution_days)
        self.window = episode_scenario(scenario, block, weeks)
        self.block, self.episode_length = block, episode_length
        self.pool = InactivePool(scenario, self.catalogue, seed, pool_size or 20_000)
        self.feature_names = observation_names(self.window, self.catalogue)
        self.action_space = spaces.Discrete(1 + len(self.catalogue))
        self.observation_space = spaces.Box(0.0, 1.0, (len(self.feature_names),), np.float32)
        self._obs = np.zeros((0, len(self.feature_names)), np.float32)
        self._rewards = np.zeros((0, 0))
        self._pos = self._t = 0
        self._pain = np.zeros(0, dtype=np.uint8)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._t = 0
        self._next_block()
        return self._obs[self._pos], {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        a = int(action)
        n_actions = self._rewards.shape[0]
        if not 0 <= a < n_actions:
            raise ValueError(f"action: {action!r}; allowed: 0..{n_actions - 1}")
        rewards = self._rewards[:, self._pos]
        info = {
            "no_offer_reward": float(rewards[0]),
            "rewards": rewards.copy(),
            "pain_point": PAIN_POINTS[self._pain[self._pos]],  # latent: for analyses only
        }
        reward = float(rewards[a])
        self._t += 1
        self._pos += 1
        if self._pos >= self.block:
            self._next_block()
        truncated = self._t >= self.episode_length
        return self._obs[self._pos], reward, False, truncated, info

    def draw_block(self) -> tuple[np.ndarray, np.ndarray]:
        """The next block at once, for batch learners and regret studies: observations
        (block, features) and every action's reward (block, actions)."""
        self._next_block()
        return self._obs.copy(), self._rewards.T.copy()

    def _next_block(self) -> None:
        """Draw a block of users and simulate every action for all of them (paired)."""
        block_seed = int(self.np_random.integers(2**63 - 1))
        rng = np.random.default_rng(block_seed)
        users = self.pool.draw(rng, self.block)
        obs, _, rewards = every_action_profit(self.window, self.catalogue, users, block_seed)
        self._obs, self._rewards, self._pos = obs, rewards, 0
        self._pain = users.pain.copy()


def every_action_profit(
    window: Scenario,
    catalogue: Catalogue,
    users: Population,
    seed: int,
    before_weeks: int = 0,
    history: Callable[[Simulation, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simulate ``users`` once per action (0 = nothing, ``k`` = offer ``k - 1`` to all of
    them) on ``seed``: (observations at the decision, which users could be sent an offer
    then, (actions, users) profit from the decision to the end of ``window``).

    ``history(sim, before_weeks)`` (if given) acts from day 0; the decision is on day
    ``7 * before_weeks``. Every run is the same up to the decision, and after it all actions
    see the same random numbers; an offer refused earns exactly the no-offer profit."""
    everyone = np.arange(users.n)
    profit = np.zeros((1 + len(catalogue), users.n))
    obs: np.ndarray = np.zeros((users.n, 0), np.float32)  # both set by the first run (a = 0)
    can_send: np.ndarray = np.zeros(users.n, dtype=bool)
    encode = Encoder(window, catalogue)
    for a in range(profit.shape[0]):
        sim = Simulation(window, catalogue, seed=seed, population=copy_of(users))
        sim.run_until(0)
        if history is not None:
            history(sim, before_weeks)
        sim.run_until(7 * before_weeks)
        start = user_profit(sim, everyone)
        refused = np.zeros(users.n, dtype=bool)
        if a == 0:
            obs = encode(sim, 0.0)
            can_send = np.asarray(sim.mask()[:, 1:].any(axis=1))
        else:
            refused = sim.offer(everyone, np.full(users.n, a - 1)).refusal != OK
        sim.run_until(window.horizon_days)
        profit[a] = user_profit(sim, everyone) - start
        profit[a, refused] = profit[0, refused]  # nothing was sent: nothing changed
    return obs, can_send, profit
