"""Bandits find the best arm of a synthetic problem with a known answer within a stated
number of rounds (fixed seeds), never exceed a period budget, and save/load exactly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.bandits import GroupBandit, LinearBandit, context_groups
from agents.base import Context
from agents.budget import Budget
from sim import presets
from sim.envs.observation import observation_names

NAMES = observation_names(presets.streaming(n_users=1), presets.streaming_offers())
COL = {n: i for i, n in enumerate(NAMES)}
CTX = Context(NAMES, presets.streaming_offers().names)
REASONS = ("price", "content", "discovery", "technical", None)
BEST = {"price": 2, "content": 4, "discovery": 5, "technical": 6, None: 0}
ROUNDS, BATCH = 60, 256  # the stated budget of rounds: 15,360 pulls


def contexts(rng: np.random.Generator, n: int) -> tuple[np.ndarray, list]:
    obs = rng.random((n, len(NAMES))).astype(np.float32) * 0.3
    for name in NAMES:
        if name.startswith(("status_", "survey_")):
            obs[:, COL[name]] = 0.0
    obs[:, COL["status_inactive"]] = 1.0
    reasons = [REASONS[i] for i in rng.integers(0, len(REASONS), n)]
    for i, r in enumerate(reasons):
        if r is not None:
            obs[i, COL[f"survey_{r}"]] = 1.0
    return obs, reasons


def mean_reward(reasons: list) -> np.ndarray:
    """Known answer: the matching action pays 1.0, nothing pays 0, others lose 0.5."""
    out = np.full((len(reasons), 8), -0.5)
    out[:, 0] = 0.0
    for i, r in enumerate(reasons):
        out[i, BEST[r]] = 1.0 if r is not None else 0.0
    return out


def train(agent, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    mask = np.ones((BATCH, 8), dtype=bool)
    for _ in range(ROUNDS):
        obs, reasons = contexts(rng, BATCH)
        actions = agent.act(obs, mask, CTX)
        reward = mean_reward(reasons)[np.arange(BATCH), actions] + rng.normal(0, 1, BATCH)
        agent.update(obs, actions, reward)


def greedy_accuracy(agent) -> float:
    rng = np.random.default_rng(99)
    obs, reasons = contexts(rng, 2000)
    truth = np.array([BEST[r] for r in reasons])
    if isinstance(agent, GroupBandit):
        groups = context_groups(obs, NAMES)
        mean = agent.total[groups] / np.maximum(agent.count[groups], 1)
        chosen = mean.argmax(axis=1)
    else:
        x = np.hstack([obs, np.ones((obs.shape[0], 1))])
        theta = np.einsum("kde,ke->kd", np.linalg.inv(agent.A), agent.b)
        chosen = (x @ theta.T).argmax(axis=1)
    return float((chosen == truth).mean())


@pytest.mark.parametrize(
    "agent",
    [
        GroupBandit(kind="epsilon", seed=1),
        GroupBandit(kind="ucb", seed=1),
        GroupBandit(kind="thompson", seed=1),
        LinearBandit(kind="linucb", seed=1),
        LinearBandit(kind="lints", seed=1, alpha=0.5),
    ],
    ids=["epsilon", "ucb", "thompson", "linucb", "lints"],
)
def test_finds_the_best_arm_within_the_stated_rounds(agent) -> None:
    train(agent)
    assert greedy_accuracy(agent) >= 0.99


@settings(max_examples=40, deadline=None)
@given(
    budget=st.floats(0.0, 50.0),
    costs=st.lists(st.floats(0.01, 5.0), min_size=7, max_size=7),
    batches=st.lists(st.integers(1, 300), min_size=1, max_size=6),
    kind=st.sampled_from(["epsilon", "ucb", "thompson", "linucb"]),
)
def test_budget_is_never_exceeded(budget, costs, batches, kind) -> None:
    b = Budget(per_period=budget, costs=[0.0, *costs])
    agent = (
        LinearBandit(kind=kind, budget=b) if kind == "linucb" else GroupBandit(kind=kind, budget=b)
    )
    rng = np.random.default_rng(0)
    for i, n in enumerate(batches):
        obs, reasons = contexts(rng, n)
        actions = agent.act(obs, np.ones((n, 8), dtype=bool), CTX)
        spent = float(np.asarray(b.costs)[actions].sum())
        assert b.spent <= budget + 1e-9 and spent <= budget + 1e-9
        agent.update(obs, actions, mean_reward(reasons)[np.arange(n), actions])
        if i % 2:
            b.new_period()


@pytest.mark.parametrize(
    "make",
    [lambda: GroupBandit(kind="thompson", seed=2), lambda: LinearBandit(kind="lints", seed=2)],
)
def test_save_load_gives_identical_actions(make, tmp_path) -> None:
    agent = make()
    train(agent, seed=3)
    agent.save(tmp_path / "agent.npz")
    again = type(agent).load(tmp_path / "agent.npz")
    obs, _ = contexts(np.random.default_rng(5), 500)
    mask = np.ones((500, 8), dtype=bool)
    assert np.array_equal(agent.act(obs, mask, CTX), again.act(obs, mask, CTX))
