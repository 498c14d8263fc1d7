"""SB3 agents: training twice with the same seed gives identical models (CPU); a saved model
reloads and acts identically; every algorithm trains on the batched env."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.base import Context
from agents.rl import ALGORITHMS, SB3Agent, train
from sim.envs.core import WinBackBatch

TINY = {"num_envs": 16, "horizon_weeks": 4, "total_timesteps": 16 * 4 * 2, "n_steps": 4}


def _params(agent: SB3Agent) -> list[torch.Tensor]:
    return [p.detach().clone() for p in agent.model.policy.parameters()]


def test_same_seed_trains_identical_models() -> None:
    a, b = train("ppo", seed=3, **TINY), train("ppo", seed=3, **TINY)
    assert all(torch.equal(x, y) for x, y in zip(_params(a), _params(b), strict=True))
    c = train("ppo", seed=4, **TINY)
    assert not all(torch.equal(x, y) for x, y in zip(_params(a), _params(c), strict=True))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_trains_saves_and_reloads(algorithm, tmp_path) -> None:
    agent = train(algorithm, seed=1, **TINY)
    batch = WinBackBatch(n_users=200, horizon_weeks=4, pool_size=3_000, seed=2)
    obs = batch.reset(seed=1)
    mask = batch.action_masks()
    ctx = Context(batch.names, batch.catalogue.names)
    actions = agent.act(obs, mask, ctx)
    assert np.all(mask[np.arange(200), actions])
    agent.save(tmp_path / "model.zip")
    again = SB3Agent.load(tmp_path / "model.zip", algorithm)
    assert np.array_equal(again.act(obs, mask, ctx), actions)


def test_unknown_algorithm_is_refused() -> None:
    with pytest.raises(ValueError, match="algorithm: 'sarsa' is unknown; allowed: ppo, a2c"):
        train("sarsa", **TINY)


def test_learning_curve_and_tensorboard_logs(tmp_path) -> None:
    agent = train(
        "maskable_ppo",
        seed=2,
        eval_every=128,
        eval_users=50,
        log_dir=tmp_path,
        checkpoint_every=128,
        **TINY,
    )
    steps = [s for s, _ in agent.learning_curve]
    assert len(steps) >= 1 and steps == sorted(steps)
    assert all(np.isfinite(v) for _, v in agent.learning_curve)
    assert list(tmp_path.rglob("events.out.tfevents*"))  # TensorBoard
    assert list((tmp_path / "checkpoints").glob("*.zip"))  # checkpoints


def test_keep_best_restores_the_best_evaluated_policy() -> None:
    """With keep_best the returned policy is the one of the best evaluation (the final
    policy is evaluated too), and its step is recorded."""
    tiny = {**TINY, "total_timesteps": 16 * 4 * 6}
    agent = train("maskable_ppo", seed=5, eval_every=128, eval_users=60, keep_best=True, **tiny)
    curve = dict(agent.learning_curve)
    best_step = agent.params["best_step"]
    assert best_step in curve and curve[best_step] == max(curve.values())
    assert agent.learning_curve[-1][0] == agent.model.num_timesteps  # the last is a candidate
    from agents.rl import IncrementalProfitCallback

    batch = WinBackBatch(None, None, 60, 4, None, 6, "incremental")
    probe = IncrementalProfitCallback(batch, 1, "x")
    probe.model = agent.model
    probe.algorithm = "maskable_ppo"
    assert probe.evaluate() == pytest.approx(curve[best_step])


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"keep_best": True}, "keep_best: true needs eval_every > 0"),
        ({"keep_best": "yes", "eval_every": 64}, "keep_best: 'yes'; allowed: true or false"),
        ({"lr_schedule": "cosine"}, "lr_schedule: 'cosine'"),
    ],
)
def test_training_options_are_checked(kwargs, expected) -> None:
    with pytest.raises(ValueError, match=expected):
        train("maskable_ppo", **TINY, **kwargs)


def test_linear_learning_rate_falls_to_zero() -> None:
    agent = train("ppo", seed=1, lr_schedule="linear", learning_rate=1e-3, **TINY)
    assert agent.model.lr_schedule(1.0) == pytest.approx(1e-3)
    assert agent.model.lr_schedule(0.0) == pytest.approx(0.0)


def test_training_leaves_nothing_in_the_temp_dir(tmp_path, monkeypatch) -> None:
    """SB3's default logger would leave an empty SB3-<timestamp> folder there."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    train("maskable_ppo", seed=1, eval_every=64, eval_users=20, **TINY)
    assert list(tmp_path.iterdir()) == []


def test_fresh_shares_the_trained_model() -> None:
    agent = train("ppo", seed=1, **TINY)
    again = agent.fresh()
    assert again is not agent and again.model is agent.model
    assert again.describe() == agent.describe() and again.learning_curve == agent.learning_curve
