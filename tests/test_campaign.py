"""WinBackCampaign-v0: checkers, determinism, the budget is never exceeded, refusals are
visible, the release calendar is in the observation."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import sim.envs  # noqa: F401
from sim import presets
from sim.envs.campaign import LOOKAHEAD_WEEKS, WinBackCampaign, group_names

SMALL = presets.streaming(n_users=4_000, horizon_days=120)


def test_checkers_pass_without_warnings() -> None:
    env = gym.make("WinBackCampaign-v0", scenario=SMALL, horizon_weeks=6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped, skip_render_check=True)
        sb3_check_env(env.unwrapped, warn=True)
    assert [str(w.message) for w in caught] == []


def test_same_seed_same_run() -> None:
    def run(seed: int) -> list:
        env = WinBackCampaign(SMALL, weekly_budget=300.0, horizon_weeks=5)
        obs, _ = env.reset(seed=seed)
        out = [obs]
        for week in range(5):
            obs, reward, *_ = env.step(np.full(10, 1 + week % 7))
            out += [obs, reward]
        return out

    a, b = run(3), run(3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    budget=st.floats(0.0, 2_000.0),
    seed=st.integers(0, 1000),
    choices=st.lists(st.integers(0, 7), min_size=10, max_size=10),
)
def test_budget_is_never_exceeded(budget: float, seed: int, choices: list[int]) -> None:
    env = WinBackCampaign(SMALL, weekly_budget=budget, horizon_weeks=3)
    env.reset(seed=seed)
    for _ in range(3):
        _, _, _, _, info = env.step(np.array(choices))
        assert info["spend"] <= budget + 1e-9
    assert env.spent <= 3 * budget + 1e-9


def test_budget_refusals_are_visible() -> None:
    env = WinBackCampaign(SMALL, weekly_budget=20.0, horizon_weeks=2)
    env.reset(seed=1)
    _, _, _, _, info = env.step(np.full(10, 3))  # a 50% discount by SMS to every group
    assert info["refused_budget"] > 0 and info["spend"] <= 20.0
    assert info["sent"] > 0


def test_release_calendar_is_in_the_observation() -> None:
    env = WinBackCampaign(SMALL, horizon_weeks=10)
    obs, _ = env.reset(seed=0)
    n_genres = len(SMALL.genres)
    start = 6 * len(group_names()) + n_genres
    upcoming = obs[start : start + n_genres * LOOKAHEAD_WEEKS]
    assert upcoming.max() > 0  # weekly releases are announced ahead
    obs2, *_ = env.step(np.zeros(10, dtype=np.int64))
    assert not np.array_equal(upcoming, obs2[start : start + n_genres * LOOKAHEAD_WEEKS])
