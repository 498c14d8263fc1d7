"""``winback regret``: bandit regret curves on ``WinBackBandit-v0``.

Every bandit sees the same stream of newly inactive users (same seed, same blocks). The
reference is the best fixed per-context policy in hindsight: for each observable context
group, the action with the highest mean reward over the whole stream. Regret after ``t``
users = sum over them of (that policy's reward - the bandit's reward), both read from the
environment's table of every action's reward on common random numbers.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from agents.bandits import N_GROUPS, GroupBandit, LinearBandit, context_groups
from agents.base import Context
from agents.reference import NoOffer, RandomPolicy
from experiments.files import strict_json, write_table
from experiments.reporting.plots import plot_regret

AGENTS: dict[str, Callable[[int], Any]] = {
    "epsilon_greedy": lambda n: GroupBandit(kind="epsilon", n_actions=8, seed=1),
    "ucb1": lambda n: GroupBandit(kind="ucb", n_actions=8, seed=1),
    "thompson": lambda n: GroupBandit(kind="thompson", n_actions=8, seed=1),
    "linucb": lambda n: LinearBandit(kind="linucb", n_features=n, alpha=0.5, seed=1),
    "linear_thompson": lambda n: LinearBandit(kind="lints", n_features=n, alpha=0.3, seed=1),
    "random": lambda n: RandomPolicy(seed=1),
    "no_offer": lambda n: NoOffer(),
}


def stream(users: int, block: int, attribution_days: int, seed: int) -> tuple[list, list, list]:
    """Blocks of (observations, rewards of every action) from the bandit env."""
    from sim.envs.bandit import WinBackBandit

    env = WinBackBandit(
        attribution_days=attribution_days, block=block, episode_length=users, seed=seed
    )
    env.reset(seed=seed)
    blocks_obs, blocks_rewards = [], []
    for _ in tqdm(range(users // block), desc="simulating users", unit="block"):
        obs, rewards = env.draw_block()
        blocks_obs.append(obs)
        blocks_rewards.append(rewards)
    return blocks_obs, blocks_rewards, env.feature_names


def regret_curves(args: argparse.Namespace) -> tuple[pd.DataFrame, dict[str, float]]:
    blocks_obs, blocks_rewards, names = stream(
        args.users, args.block, args.attribution_days, args.seed
    )
    obs_all = np.vstack(blocks_obs)
    rewards_all = np.vstack(blocks_rewards)
    groups = context_groups(obs_all, names)
    best = np.zeros(N_GROUPS, dtype=np.int64)
    for g in np.unique(groups):
        best[g] = rewards_all[groups == g].mean(axis=0).argmax()
    reference = rewards_all[np.arange(groups.size), best[groups]]
    from sim import presets

    ctx = Context(names, presets.streaming_offers().names)
    curves, totals = {}, {}
    for name, make in AGENTS.items():
        agent = make(len(names))
        got = []
        for obs, rewards in zip(blocks_obs, blocks_rewards, strict=True):
            actions = agent.act(obs, np.ones(rewards.shape, dtype=bool), ctx)
            r = rewards[np.arange(obs.shape[0]), actions]
            agent.update(obs, actions, r)
            got.append(r)
        regret = np.cumsum(reference - np.concatenate(got))
        curves[name] = regret
        totals[name] = float(regret[-1])
    frame = pd.DataFrame(curves)
    frame.index.name = "users"
    return frame, totals


def run_from_args(args: argparse.Namespace) -> int:
    frame, totals = regret_curves(args)
    args.out.mkdir(parents=True, exist_ok=True)
    write_table(frame.iloc[:: max(1, len(frame) // 500)], args.out / "regret.csv", index=True)
    plot_regret(frame, args.out / "regret.png", args.attribution_days)
    for name, value in sorted(totals.items(), key=lambda kv: kv[1]):
        print(f"{name:16s} cumulative regret after {len(frame):,} users: {value:12,.0f}")
    print(f"plot: {args.out / 'regret.png'}  data: {args.out / 'regret.csv'}")
    if args.json:
        print(strict_json({"users": len(frame), "regret": totals}))
    return 0
