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

if "WinBack-v0" not in registry:
    register(id="WinBack-v0", entry_point="sim.envs.winback:WinBackEnv")
if "WinBackBandit-v0" not in registry:
    register(id="WinBackBandit-v0", entry_point="sim.envs.bandit:WinBackBandit")
if "WinBackCampaign-v0" not in registry:
    register(id="WinBackCampaign-v0", entry_point="sim.envs.campaign:WinBackCampaign")

__all__ = ["WinBackBatch", "observation_names"]
