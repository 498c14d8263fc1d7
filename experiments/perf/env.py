"""``winback perf env``: environment throughput, measured in one run.

* the single per-user env ``WinBack-v0`` (as ``gym.make`` gives it) under a random policy
  (steps/s), next to ``CartPole-v1`` under the same loop: this machine's speed in the same
  run, so a figure from a slow day can be told from a slow env;
* the batched env with 4,096 users (user-decisions/s);
* SB3 PPO training throughput on the batched env vs PPO on CartPole-v1 with the same
  number of envs and the same hyperparameters (frames/s, and their ratio).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np


def single_env_steps_per_second(env_id: str, seconds: float, seed: int) -> float:
    """Steps/s of ``gym.make(env_id)`` under a uniformly random policy, episodes back to back."""
    import gymnasium as gym

    import sim.envs  # noqa: F401  (registers WinBack-v0)

    env = gym.make(env_id)
    rng = np.random.default_rng(seed)
    n_actions = int(env.action_space.n)  # type: ignore[attr-defined]
    _episode(env, rng, n_actions, 2**31)  # warm-up: loads the compiled kernels (once)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        steps += _episode(env, rng, n_actions, steps)
    return steps / (time.perf_counter() - start)


def _episode(env: Any, rng: np.random.Generator, n_actions: int, seed: int) -> int:
    env.reset(seed=seed)
    steps, done = 0, False
    while not done:
        _, _, terminated, truncated, _ = env.step(int(rng.integers(0, n_actions)))
        steps += 1
        done = terminated or truncated
    return steps


def batched_decisions_per_second(n_users: int, episodes: int, seed: int) -> float:
    from sim import presets
    from sim.envs.core import WinBackBatch

    batch = WinBackBatch(presets.streaming(), presets.streaming_offers(), n_users, seed=seed)
    rng = np.random.default_rng(seed)
    batch.reset(seed=2**32 - 1)  # warm-up: loads the compiled kernels (a one-off per process)
    batch.step(rng.integers(0, batch.n_actions, n_users))
    decisions, start = 0, time.perf_counter()
    for ep in range(episodes):
        batch.reset(seed=ep)
        for _ in range(batch.horizon_weeks):
            batch.step(rng.integers(0, batch.n_actions, n_users))
            decisions += n_users
    return decisions / (time.perf_counter() - start)


def _ppo_fps(env: Any, timesteps: int, seed: int) -> float:
    from stable_baselines3 import PPO

    model = PPO(
        "MlpPolicy",
        env,
        n_steps=128,
        batch_size=1024,
        n_epochs=4,
        seed=seed,
        device="cpu",
        verbose=0,
    )
    start = time.perf_counter()
    model.learn(total_timesteps=timesteps)
    return model.num_timesteps / (time.perf_counter() - start)


def ppo_throughput(n_envs: int, timesteps: int, seed: int) -> dict[str, float]:
    from stable_baselines3.common.env_util import make_vec_env

    from sim.envs.vector import WinBackVecEnv

    ours = _ppo_fps(WinBackVecEnv(num_envs=n_envs, seed=seed), timesteps, seed)
    cartpole = _ppo_fps(make_vec_env("CartPole-v1", n_envs=n_envs, seed=seed), timesteps, seed)
    return {"ppo_fps_winback": ours, "ppo_fps_cartpole": cartpole, "ppo_ratio": ours / cartpole}


def perf_env(args: argparse.Namespace) -> dict[str, Any]:
    single = single_env_steps_per_second("WinBack-v0", args.seconds, args.seed)
    cartpole = single_env_steps_per_second("CartPole-v1", args.seconds, args.seed)
    print(
        f"single per-user env WinBack-v0, random policy: {single:,.0f} steps/s "
        f"(CartPole-v1, same loop, same run: {cartpole:,.0f} steps/s; ratio "
        f"{single / cartpole:.3f})",
        flush=True,
    )
    batched = batched_decisions_per_second(args.batch_users, args.episodes, args.seed)
    print(f"batched env, {args.batch_users:,} users: {batched:,.0f} user-decisions/s", flush=True)
    ppo = ppo_throughput(args.ppo_envs, args.ppo_steps, args.seed)
    print(
        f"SB3 PPO, {args.ppo_envs} envs: {ppo['ppo_fps_winback']:,.0f} fps on the batched env "
        f"vs {ppo['ppo_fps_cartpole']:,.0f} fps on CartPole-v1 -> ratio {ppo['ppo_ratio']:.2f}",
        flush=True,
    )
    return {
        "single_env_steps_per_second": round(single),
        "cartpole_steps_per_second": round(cartpole),
        "single_env_vs_cartpole": round(single / cartpole, 4),
        "batched_users": args.batch_users,
        "batched_user_decisions_per_second": round(batched),
        "ppo_envs": args.ppo_envs,
        **{k: round(v, 3) for k, v in ppo.items()},
    }
