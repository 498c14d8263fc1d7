"""Gymnasium environments of the win-back decision problems (registered on import).

* ``WinBack-v0``: the per-user MDP (:class:`sim.envs.winback.WinBackEnv`).
* ``WinBackBandit-v0``: one newly inactive user per step (:class:`sim.envs.bandit.WinBackBandit`).
* ``WinBackCampaign-v0``: a budgeted weekly campaign over a population
  (:class:`sim.envs.campaign.WinBackCampaign`).
* :class:`sim.envs.vector.WinBackVecEnv`: the same, batched, for stable-baselines3.
* :class:`sim.envs.vector.WinBackVectorEnv`: the same, batched, as a Gymnasium VectorEnv.
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

from sim.envs.core import WinBackBatch
from sim.envs.observation import observation_names

ENVS = (  # id, entry point, steps in an episode with the default arguments
    ("WinBack-v0", "sim.envs.winback:WinBackEnv", 52),
    ("WinBackBandit-v0", "sim.envs.bandit:WinBackBandit", 1000),
    ("WinBackCampaign-v0", "sim.envs.campaign:WinBackCampaign", 52),
)
for env_id, entry_point, steps in ENVS:
    if env_id not in registry:
        register(id=env_id, entry_point=entry_point, max_episode_steps=steps)

__all__ = ["WinBackBatch", "observation_names"]
