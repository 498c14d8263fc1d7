"""``winback perf env``: environment throughput, measured in one run.

* the single per-user env ``WinBack-v0`` under a random policy (steps/s);
* the batched env with 4,096 users (user-decisions/s);
* SB3 PPO training throughput on the batched env vs PPO on CartPole-v1 with the same
  number of envs and the same hyperparameters (frames/s, and their ratio).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np


def single_env_steps_per_second(seconds: float, seed: int) -> float:
    from sim.envs.winback import WinBackEnv

    env = WinBackEnv(seed=seed)
    rng = np.random.default_rng(seed)
    _episode(env, rng)  # warm-up: loads the compiled kernels (a one-off per process)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        env.reset(seed=steps)
        truncated = False
        while not truncated:
            _, _, _, truncated, _ = env.step(int(rng.integers(0, env.action_space.n)))
            steps += 1
    return steps / (time.perf_counter() - start)


def _episode(env: Any, rng: np.random.Generator) -> None:
    env.reset(seed=2**31)
    truncated = False
    while not truncated:
        _, _, _, truncated, _ = env.step(int(rng.integers(0, env.action_space.n)))


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
    single = single_env_steps_per_second(args.seconds, args.seed)
    print(f"single per-user env WinBack-v0, random policy: {single:,.0f} steps/s", flush=True)
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
        "batched_users": args.batch_users,
        "batched_user_decisions_per_second": round(batched),
        "ppo_envs": args.ppo_envs,
        **{k: round(v, 3) for k, v in ppo.items()},
    }
