"""``WinBack-v0``: the per-user win-back MDP as a Gymnasium environment."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from sim.envs.core import WinBackBatch
from sim.envs.observation import OBSERVATION_DOC
from sim.offers import Catalogue
from sim.scenario import Scenario


class WinBackEnv(gym.Env):
    (
        """Win back one inactive user, one weekly decision at a time.

    ## Description
    An episode follows one user who is inactive or churned at its start, drawn from the
    inactive pool that the scenario's own dynamics produced (a warmed-up population at day
    0), through ``horizon_weeks`` weekly steps of the full simulator: content releases,
    prices, fatigue, unsubscribes and the user's hidden pain point all act.

    ## Action Space
    ``Discrete(1 + len(catalogue))``: 0 = send nothing; ``k`` = send ``catalogue.offers[k-1]``.
    With the default ``streaming`` catalogue (cost = channel cost per send + offer costs):

    | action | offer | channel | cost when sent | what it does when opened |
    |---|---|---|---|---|
    | 0 | nothing | - | 0 | - |
    | 1 | reminder_email | email | 0.005 | a plain nudge |
    | 2 | discount_30 | email | 0.005 + 30% of the fee, 90 days | price-sensitive users return |
    | 3 | discount_50_sms | sms | 0.03 + 50% of the fee, 60 days | as above, stronger |
    | 4 | free_trial_30 | email | 0.005 + 30 free days on return | content-starved users return |
    | 5 | recommendations | push | 0.001 | eases discovery friction for 60 days |
    | 6 | support_call | sms | 0.03 + 4.00 per contact | fixes technical issues for 120 days |
    | 7 | new_release_push | push | 0.001 | amplifies fresh releases that match taste |

    Offers the user cannot receive now (not eligible for the user's observed status,
    channel unreachable, 28-day frequency cap reached) are refused: nothing is sent, nothing
    is charged, ``info["refused"]`` is True. ``info["action_mask"]`` and
    :meth:`action_masks` (for sb3-contrib's MaskablePPO) say which actions can be sent.

    ## Observation Space
    ``Box(0, 1, (n_features,), float32)`` of observable features only (names in
    ``env.unwrapped.feature_names``); latent traits never enter it.
    """
        + OBSERVATION_DOC
        + """
    ## Rewards
    The user's profit in the week: revenue (subscription fee at list price, or purchase
    margin) - discount cost - trial cost - serving cost - message cost - support cost, as the
    simulator accounts it (the sum over an episode equals the user's profit in the run).

    ## Starting State
    A user the dynamics left inactive or churned by day 0, with the history they earned.

    ## Episode End
    Truncated after ``horizon_weeks`` steps. Never terminated: churned users can return.

    ## Arguments
    ``scenario`` (a ``sim.Scenario``, default ``presets.streaming()``), ``catalogue``
    (default ``presets.streaming_offers()``), ``horizon_weeks=52``, ``pool_size`` (users
    simulated to form the inactive pool, default 20,000), ``seed=0`` (pool seed).

    ## Version History
    * v0: first version. Since: the observation feature ``status_cancelled`` is named
      ``status_churned`` (same values); ``gym.make`` applies ``max_episode_steps=52`` (the
      default horizon: pass ``max_episode_steps`` with another ``horizon_weeks``);
      the observation gained ``signal_<name>`` (behavioural signals, ``sim.signals``, whose
      strength ``scenario.signals`` sets) and ``revenue_to_date``, before
      ``episode_progress``.
    """
    )

    def __init__(
        self,
        scenario: Scenario | None = None,
        catalogue: Catalogue | None = None,
        horizon_weeks: int = 52,
        pool_size: int | None = None,
        seed: int = 0,
    ) -> None:
        self.batch = WinBackBatch(scenario, catalogue, 1, horizon_weeks, pool_size, seed)
        self.feature_names = self.batch.names
        self.action_space = spaces.Discrete(self.batch.n_actions)
        n = len(self.feature_names)
        self.observation_space = spaces.Box(0.0, 1.0, (n,), dtype=np.float32)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        episode_seed = int(self.np_random.integers(2**63 - 1))
        obs = self.batch.reset(seed=episode_seed)
        return obs[0], {"action_mask": self.action_masks()}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        a = int(action)
        if not 0 <= a < self.batch.n_actions:
            raise ValueError(f"action: {a}; allowed: 0 to {self.batch.n_actions - 1}")
        obs, reward, terminated, truncated, info = self.batch.step_checked(np.array([a]))
        out = {
            "refused": bool(info["refused"][0]),
            "opened": bool(info["opened"][0]),
            "week": int(info["week"][0]),
            "action_mask": self.action_masks(),
        }
        return obs[0], float(reward[0]), bool(terminated[0]), bool(truncated[0]), out

    def action_masks(self) -> np.ndarray:
        return self.batch.action_masks()[0]

    def latent(self) -> dict[str, Any]:
        """The user's hidden traits (for the pain-point rule and analyses, never for policies)."""
        return {k: v[0] for k, v in self.batch.latent().items()}
