"""Gymnasium environments: checkers, determinism, no leakage, exact economics, batch = single."""

from __future__ import annotations

import math
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import sim.envs  # noqa: F401  (registers the envs)
from sim import presets
from sim.envs.core import LATENT, WinBackBatch
from sim.envs.vector import WinBackVecEnv, WinBackVectorEnv
from sim.envs.winback import WinBackEnv

SMALL = {"pool_size": 3_000, "horizon_weeks": 12}


def test_registered_env_passes_both_checkers_without_warnings() -> None:
    env = gym.make("WinBack-v0", **SMALL)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped, skip_render_check=True)
        sb3_check_env(env.unwrapped, warn=True)
    assert [str(w.message) for w in caught] == []


def _episode(env: WinBackEnv, seed: int, actions: list[int]) -> tuple[np.ndarray, list[float]]:
    obs, _ = env.reset(seed=seed)
    seen, rewards = [obs], []
    for a in actions:
        obs, r, _, _, _ = env.step(a)
        seen.append(obs)
        rewards.append(r)
    return np.array(seen), rewards


def test_same_seed_same_trajectory_single_and_batched() -> None:
    actions = [2, 0, 5, 6, 1, 0, 3, 4, 7, 0, 2, 5]
    a, b = WinBackEnv(**SMALL), WinBackEnv(**SMALL)
    oa, ra = _episode(a, 9, actions)
    ob, rb = _episode(b, 9, actions)
    assert np.array_equal(oa, ob) and ra == rb
    oc, rc = _episode(a, 10, actions)
    assert not (np.array_equal(oa, oc) and ra == rc)
    x, y = (
        WinBackBatch(presets.streaming(), presets.streaming_offers(), 200, 8, 3_000, 1)
        for _ in range(2)
    )
    acts = np.random.default_rng(0).integers(0, x.n_actions, (8, 200))
    assert np.array_equal(x.reset(seed=4), y.reset(seed=4))
    for week in range(8):
        sx, sy = x.step(acts[week]), y.step(acts[week])
        assert np.array_equal(sx[0], sy[0]) and np.array_equal(sx[1], sy[1])


def test_observation_is_a_function_of_observable_features_only() -> None:
    batch = WinBackBatch(presets.streaming(), presets.streaming_offers(), 500, 8, 3_000, 2)
    batch.reset(seed=1)
    batch.step(np.random.default_rng(1).integers(0, batch.n_actions, 500))
    before = batch.observe()
    pop = batch.sim.pop
    rng = np.random.default_rng(3)
    for name in (
        *LATENT,
        "lapse_mult",
        "return_mult",
        "activity_mult",
        "basket",
        "responsiveness",
        "affinity",
        "signal_noise",
    ):
        arr = getattr(pop, name)
        arr[...] = rng.permutation(arr.reshape(-1)).reshape(arr.shape)
    assert np.array_equal(before, batch.observe())
    latent_words = ("pain_point", "price_sens", "content_need", "friction", "deal_seek", "mult")
    assert not any(w in n for n in batch.names for w in latent_words)


def test_rewards_reconcile_exactly_with_the_simulator_accounting() -> None:
    batch = WinBackBatch(presets.streaming(), presets.streaming_offers(), 300, 10, 3_000, 3)
    batch.reset(seed=5)
    rng = np.random.default_rng(5)
    total = np.zeros(300)
    for _ in range(10):
        total += batch.step(rng.integers(0, batch.n_actions, 300))[1]
    money = batch.sim.result().user_money.astype(np.float64)
    profit = money[:, 0] - money[:, 1:].sum(axis=1)
    np.testing.assert_allclose(total, profit, rtol=1e-5, atol=1e-3)
    assert batch.sim.result().kpis["profit"] == pytest.approx(profit.sum(), rel=1e-6)


def test_masks_match_refusals() -> None:
    batch = WinBackBatch(presets.streaming(), presets.streaming_offers(), 400, 6, 3_000, 4)
    batch.reset(seed=2)
    for _ in range(4):
        mask = batch.action_masks()
        actions = np.random.default_rng(7).integers(0, batch.n_actions, 400)
        _, _, _, _, info = batch.step(actions)
        chosen = actions > 0
        assert np.array_equal(info["refused"][chosen], ~mask[chosen, actions[chosen]])


def test_batched_env_equals_single_env_statistically() -> None:
    """Mean episode return of a fixed random policy: 300 single-env episodes vs a batch of
    300 users, within 4 standard errors (same dynamics code underneath)."""
    n, weeks = 300, 8
    single = WinBackEnv(horizon_weeks=weeks, pool_size=5_000, seed=6)
    rng = np.random.default_rng(8)
    returns_single = []
    for ep in range(n):
        single.reset(seed=ep)
        returns_single.append(sum(single.step(int(rng.integers(0, 8)))[1] for _ in range(weeks)))
    batch = WinBackBatch(presets.streaming(), presets.streaming_offers(), n, weeks, 5_000, 6)
    batch.reset(seed=123)
    returns_batch = np.zeros(n)
    for _ in range(weeks):
        returns_batch += batch.step(rng.integers(0, 8, n))[1]
    a, b = np.array(returns_single), returns_batch
    se = math.sqrt(a.var() / n + b.var() / n)
    assert abs(a.mean() - b.mean()) < 4 * se, (a.mean(), b.mean(), se)


def test_sb3_vecenv_and_gymnasium_vectorenv_autoreset() -> None:
    venv = WinBackVecEnv(num_envs=16, pool_size=3_000, horizon_weeks=3, seed=1)
    obs = venv.reset()
    assert obs.shape == (16, len(venv.batch.names))
    for _ in range(3):
        venv.step_async(np.zeros(16, dtype=np.int64))
        obs, _reward, done, infos = venv.step_wait()
    assert done.all() and "terminal_observation" in infos[0]
    assert venv.batch.week == 0  # reset itself
    assert len(venv.env_method("action_masks")) == 16
    genv = WinBackVectorEnv(num_envs=16, pool_size=3_000, horizon_weeks=2, seed=1)
    genv.reset(seed=3)
    genv.step(np.zeros(16, dtype=np.int64))
    _, _, _, truncated, info = genv.step(np.zeros(16, dtype=np.int64))
    assert truncated.all() and info["final_obs"].shape == (16, len(genv.feature_names))


def test_bad_actions_are_refused_with_a_clear_error() -> None:
    batch = WinBackBatch(presets.streaming(), presets.streaming_offers(), 10, 4, 3_000, 0)
    with pytest.raises(ValueError, match="reset"):
        batch.step(np.zeros(10, dtype=np.int64))
    batch.reset()
    with pytest.raises(ValueError, match=r"actions: must be in \[0, 7\]"):
        batch.step(np.full(10, 8))
    with pytest.raises(ValueError, match="expected 10"):
        batch.step(np.zeros(3, dtype=np.int64))


def test_bandit_env_checkers_determinism_and_counterfactuals() -> None:
    from sim.envs.bandit import WinBackBandit

    env = gym.make("WinBackBandit-v0", block=64, pool_size=3_000, episode_length=100)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped, skip_render_check=True)
        sb3_check_env(env.unwrapped, warn=True)
    assert [str(w.message) for w in caught] == []

    def play(seed: int) -> tuple[list, list]:
        e = WinBackBandit(block=64, pool_size=3_000, episode_length=100)
        obs, _ = e.reset(seed=seed)
        seen, infos = [obs], []
        for i in range(100):
            obs, r, _, truncated, info = e.step(i % 8)
            assert r == info["rewards"][i % 8]
            assert info["rewards"][0] == info["no_offer_reward"]
            seen.append(obs)
            infos.append(info["rewards"])
        assert truncated
        return seen, infos

    a, b = play(1), play(1)
    assert all(np.array_equal(x, y) for x, y in zip(a[0], b[0], strict=True))
    assert all(np.array_equal(x, y) for x, y in zip(a[1], b[1], strict=True))
    rewards = np.array(a[1])
    assert np.any(rewards[:, 1:] != rewards[:, :1])  # offers change outcomes
    assert np.all(
        rewards[:, 4][np.array(a[0])[:-1, 2] == 0] == rewards[:, 0][np.array(a[0])[:-1, 2] == 0]
    )  # the free trial goes to churned users only: refused otherwise, reward unchanged


def test_incremental_reward_is_the_offer_effect_on_common_random_numbers() -> None:
    inc = WinBackBatch(
        presets.streaming(), presets.streaming_offers(), 300, 6, 3_000, 5, reward="incremental"
    )
    inc.reset(seed=3)
    for _ in range(3):
        assert np.all(inc.step(np.zeros(300, dtype=np.int64))[1] == 0.0)  # no offer, no effect
    total = np.zeros(300)
    for _ in range(3):
        total += inc.step(np.full(300, 5))[1]  # recommendations for everyone allowed
    gap = inc.profit() - inc._control_profit()
    np.testing.assert_allclose(total, gap, rtol=1e-5, atol=1e-3)
    assert np.any(total != 0)
    with pytest.raises(ValueError, match="reward: 'uplift' is unknown; allowed: profit"):
        WinBackBatch(presets.streaming(), presets.streaming_offers(), 3, 2, 500, 0, reward="uplift")


def test_start_any_draws_from_the_whole_population_and_masks_active_users() -> None:
    batch = WinBackBatch(n_users=400, start="any", seed=3)
    obs = batch.reset(seed=1)
    active = obs[:, batch.names.index("status_active")] > 0.5
    assert 0.2 < active.mean() < 0.8  # both kinds of users are there
    mask = batch.action_masks()
    assert not mask[active, 1:].any()  # offers go to lapsed users only
    assert mask[~active, 1:].any()
    with pytest.raises(ValueError, match="start: 'sometimes'"):
        WinBackBatch(n_users=4, start="sometimes")
    for env in (WinBackVecEnv, WinBackVectorEnv):  # both vector envs pass it through
        assert env(num_envs=8, pool_size=2_000, seed=3, start="any").batch.start == "any"


def test_encoded_columns_mean_what_their_names_say() -> None:
    from sim import Simulation
    from sim.envs.observation import Encoder, observation_names

    scenario, catalogue = (
        presets.streaming(n_users=3000, horizon_days=84),
        presets.streaming_offers(),
    )
    sim = Simulation(scenario, catalogue, seed=2)
    sim.run_until(0)
    rng = np.random.default_rng(0)
    for week in range(5):
        users = rng.choice(3000, size=1000, replace=False)
        sim.offer(users, rng.integers(0, len(catalogue), size=users.size))
        sim.run_until(7 * (week + 1))
    obs = Encoder(sim.scenario, catalogue)(sim, 0.25)
    col = {n: i for i, n in enumerate(observation_names(scenario, catalogue))}
    assert obs.shape == (3000, len(col)) and obs.dtype == np.float32
    status = obs[:, [col["status_active"], col["status_inactive"], col["status_churned"]]]
    assert (status.sum(axis=1) == 1).all()
    for k, name in enumerate(catalogue.names):
        sent = (sim.pop.offers_sent >> k) & 1
        opened = (sim.pop.offers_opened >> k) & 1
        assert np.array_equal(obs[:, col[f"ever_sent_{name}"]], sent)
        assert np.array_equal(obs[:, col[f"ever_opened_{name}"]], opened)
        assert np.array_equal(obs[:, col[f"last_offer_{name}"]], sim.pop.last_offer == k)
    assert (obs[:, col["episode_progress"]] == 0.25).all()
    assert obs.min() >= 0.0 and obs.max() <= 1.0


def test_registrations_carry_the_default_episode_length() -> None:
    import inspect

    from sim.envs import ENVS

    for env_id, entry_point, steps in ENVS:
        assert gym.spec(env_id).max_episode_steps == steps
        module, name = entry_point.split(":")
        defaults = inspect.signature(getattr(__import__(module, fromlist=[name]), name)).parameters
        length = defaults.get("horizon_weeks") or defaults["episode_length"]
        assert length.default == steps, env_id


def test_the_attribution_window_is_whole_weeks() -> None:
    from sim.envs.bandit import WinBackBandit

    with pytest.raises(ValueError, match="attribution_days: 30; allowed: a multiple of 7"):
        WinBackBandit(attribution_days=30, pool_size=3_000)
