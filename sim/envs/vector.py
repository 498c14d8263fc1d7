"""Batched training paths over :class:`WinBackBatch`: an SB3 ``VecEnv`` and a Gymnasium
``VectorEnv``. Both step N users in one numpy call of the simulator's engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from stable_baselines3.common.vec_env import VecEnv

from sim.envs.core import WinBackBatch
from sim.offers import Catalogue
from sim.scenario import Scenario


class _Batched:
    """What both vector envs are built from: ``num_envs`` users of one :class:`WinBackBatch`
    (the arguments are ``WinBack-v0``'s), and their spaces (``_set_spaces``)."""

    def __init__(
        self,
        num_envs: int = 256,
        scenario: Scenario | None = None,
        catalogue: Catalogue | None = None,
        horizon_weeks: int = 52,
        pool_size: int | None = None,
        seed: int = 0,
        reward: str = "profit",
        start: str = "inactive",
    ) -> None:
        self.batch = WinBackBatch(
            scenario, catalogue, num_envs, horizon_weeks, pool_size, seed, reward, start
        )
        n = len(self.batch.names)
        obs = spaces.Box(0.0, 1.0, (n,), dtype=np.float32)
        self._set_spaces(num_envs, obs, spaces.Discrete(self.batch.n_actions))

    def _set_spaces(self, num_envs: int, obs: spaces.Box, action: spaces.Discrete) -> None:
        raise NotImplementedError


class WinBackVecEnv(_Batched, VecEnv):
    """``num_envs`` per-user win-back episodes for stable-baselines3, batched in numpy.

    Same MDP as ``WinBack-v0`` (see its docstring). All episodes end together after
    ``horizon_weeks``; the env then resets itself and puts the last observation in each
    ``info["terminal_observation"]``, as SB3 expects. ``env_method("action_masks")`` gives
    the masks for sb3-contrib's MaskablePPO.
    """

    def _set_spaces(self, num_envs: int, obs: spaces.Box, action: spaces.Discrete) -> None:
        self.render_mode = None
        VecEnv.__init__(self, num_envs, obs, action)
        self._actions = np.zeros(num_envs, dtype=np.int64)
        self._seed: int | None = None

    def reset(self) -> np.ndarray:
        seed, self._seed = self._seed, None
        return self.batch.reset(seed=seed)

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        self._seed = seed
        return [seed] * self.num_envs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions, dtype=np.int64).reshape(-1)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        obs, reward, terminated, truncated, info = self.batch.step(self._actions)
        done = terminated | truncated
        infos: list[dict[str, Any]] = [
            {"refused": bool(info["refused"][i]), "TimeLimit.truncated": bool(truncated[i])}
            for i in range(self.num_envs)
        ]
        if done.all():
            for i in range(self.num_envs):
                infos[i]["terminal_observation"] = obs[i]
            obs = self.batch.reset()
        return obs, reward, done, infos

    def close(self) -> None:
        self.batch.sim = None

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        value = getattr(self, attr_name)
        return [value] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any
    ) -> list[Any]:
        idx = self._indices(indices)
        if method_name == "action_masks":
            masks = self.batch.action_masks()
            return [masks[i] for i in idx]
        result = getattr(self, method_name)(*method_args, **method_kwargs)
        return [result] * len(idx)

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False] * len(self._indices(indices))

    def action_masks(self) -> np.ndarray:
        return self.batch.action_masks()

    def _indices(self, indices: Any) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        if isinstance(indices, int):
            return [indices]
        return list(indices)


class WinBackVectorEnv(_Batched, VectorEnv):
    """The same batch as a Gymnasium ``VectorEnv`` (same-step autoreset: the last
    observation of an episode is in ``info["final_obs"]``), for our own numpy agents."""

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.SAME_STEP}  # noqa: RUF012

    def _set_spaces(self, num_envs: int, obs: spaces.Box, action: spaces.Discrete) -> None:
        self.num_envs = num_envs
        self.single_observation_space, self.single_action_space = obs, action
        self.observation_space = gym.vector.utils.batch_space(obs, num_envs)
        self.action_space = gym.vector.utils.batch_space(action, num_envs)
        self.feature_names = self.batch.names

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        first = seed[0] if isinstance(seed, list) else seed
        obs = self.batch.reset(seed=first)
        return obs, {"action_mask": self.batch.action_masks()}

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.batch.step(actions)
        if (terminated | truncated).all():
            info = {**info, "final_obs": obs, "_final_obs": np.ones(self.num_envs, bool)}
            obs = self.batch.reset()
        info["action_mask"] = self.batch.action_masks()
        return obs, reward, terminated, truncated, info
