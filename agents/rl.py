"""Stable-baselines3 agents that learn win-back policies on the batched environment.

``train`` builds PPO, A2C, DQN or MaskablePPO from flat, typed keyword arguments, trains on
:class:`sim.envs.vector.WinBackVecEnv` with checkpoints, TensorBoard logs and an optional
progress bar, and returns an :class:`SB3Agent` that acts through the shared agent interface.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from stable_baselines3 import A2C, DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, CheckpointCallback
from stable_baselines3.common.logger import Logger
from tqdm import tqdm

from agents.base import Agent, Context, checked_by
from sim.envs.core import REWARDS, STARTS, WinBackBatch
from sim.envs.vector import WinBackVecEnv
from sim.offers import Catalogue
from sim.scenario import Scenario
from sim.validation import (
    check_choice,
    check_int,
    check_nonnegative,
    check_positive,
    check_probability,
)

ALGORITHMS = ("ppo", "a2c", "dqn", "maskable_ppo")
LR_SCHEDULES = ("constant", "linear")


class IncrementalProfitCallback(BaseCallback):
    """Every ``every`` steps, run the current policy (deterministic, masked) for one full
    episode on a separate batch of users with a paired no-offer copy, and record its
    incremental profit per user: the learning curve, in dollars, net of every cost.

    With ``keep_best`` the policy's weights at its best evaluation are kept, and
    :meth:`restore_best` puts them back at the end (PPO's last iterate is noisy; the
    evaluation users are never the benchmark's)."""

    def __init__(
        self, batch: WinBackBatch, every: int, algorithm: str, keep_best: bool = False
    ) -> None:
        super().__init__()
        self.batch, self.every, self.algorithm = batch, every, algorithm
        self.keep_best = keep_best
        self.curve: list[tuple[int, float]] = []
        self.best: tuple[int, float, dict[str, Any]] | None = None
        self._next = every

    def _on_step(self) -> bool:
        if self.num_timesteps >= self._next:
            self._next += self.every
            self.record()
        return True

    def _on_training_end(self) -> None:
        if self.keep_best and (not self.curve or self.curve[-1][0] != self.num_timesteps):
            self.record()  # the final policy is always a candidate

    def record(self) -> None:
        value = self.evaluate()
        self.curve.append((self.num_timesteps, value))
        self.logger.record("eval/incremental_profit_per_user", value)
        if self.keep_best and (self.best is None or value > self.best[1]):
            state = {k: v.detach().clone() for k, v in self.model.policy.state_dict().items()}
            self.best = (self.num_timesteps, value, state)

    def restore_best(self) -> int | None:
        """Load the best evaluated weights into the model; returns their step (or None)."""
        if self.best is None:
            return None
        self.model.policy.load_state_dict(self.best[2])
        return self.best[0]

    def evaluate(self) -> float:
        agent = SB3Agent(model=self.model, algorithm=self.algorithm)
        batch = self.batch
        obs = batch.reset(seed=12345)  # the same evaluation users every time
        ctx = Context(batch.names, batch.catalogue.names)
        total = np.zeros(batch.n_users)
        for _ in range(batch.horizon_weeks):
            actions = agent.act(obs, batch.action_masks(), ctx)
            obs, reward, *_ = batch.step(actions)
            total += reward
        return float(total.mean())


class TqdmProgress(BaseCallback):
    """A tqdm bar over environment steps (SB3's own bar needs ``rich``)."""

    def __init__(self, total: int, desc: str) -> None:
        super().__init__()
        self.total, self.desc = total, desc

    def _on_training_start(self) -> None:
        self.bar = tqdm(total=self.total, desc=self.desc, unit="step", unit_scale=True)

    def _on_step(self) -> bool:
        self.bar.update(self.num_timesteps - self.bar.n)
        return True

    def _on_training_end(self) -> None:
        self.bar.close()


def _algorithm(name: str) -> type[BaseAlgorithm]:
    if name == "maskable_ppo":
        from sb3_contrib import MaskablePPO

        return MaskablePPO
    table: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "a2c": A2C, "dqn": DQN}
    if name not in table:
        raise ValueError(f"algorithm: {name!r}; allowed: {', '.join(ALGORITHMS)}")
    return table[name]


@dataclass(kw_only=True)
class SB3Agent(Agent):
    """A trained SB3 model behind the agent interface (``act`` on batches, with masks)."""

    model: BaseAlgorithm
    algorithm: str
    name: str = "sb3"
    params: dict[str, Any] = field(default_factory=dict)
    learning_curve: list[tuple[int, float]] = field(default_factory=list)
    learned: ClassVar[bool] = True
    suffix: ClassVar[str] = ".zip"

    def fresh(self) -> SB3Agent:
        """The same trained model (acting never changes it), in a new wrapper."""
        return replace(self)

    def act(self, obs: np.ndarray, mask: np.ndarray, ctx: Context) -> np.ndarray:
        obs32 = obs.astype(np.float32)
        if self.algorithm == "maskable_ppo":
            predict: Any = self.model.predict  # MaskablePPO's predict takes the masks
            actions, _ = predict(obs32, action_masks=mask, deterministic=True)
        else:
            actions, _ = self.model.predict(obs32, deterministic=True)
        actions = np.asarray(actions, dtype=np.int64).reshape(-1)
        return np.where(mask[np.arange(actions.size), actions], actions, 0)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "algorithm": self.algorithm, **self.params}

    def save(self, path: str | Path) -> None:
        self.model.save(str(path))

    @classmethod
    def load(cls, path: str | Path, algorithm: str, name: str = "sb3") -> SB3Agent:
        return cls(
            model=_algorithm(algorithm).load(str(path), device="cpu"),
            algorithm=algorithm,
            name=name,
        )


def check_train_params(**params: Any) -> None:
    """Clear errors for :func:`train`'s arguments, before any work (also run by the
    benchmark for every RL agent before it builds any agent)."""
    ints = {
        "num_envs": 1,
        "horizon_weeks": 1,
        "total_timesteps": 1,
        "n_steps": 1,
        "n_epochs": 1,
        "eval_every": 0,
        "eval_users": 1,
        "checkpoint_every": 0,
        "seed": 0,
    }
    choices = {
        "algorithm": ALGORITHMS,
        "lr_schedule": LR_SCHEDULES,
        "reward": REWARDS,
        "start": STARTS,
    }
    for key, value in params.items():
        if key in choices:
            check_choice(key, value, choices[key])
        elif key in ints:
            check_int(key, value, ints[key])
        elif key in ("gamma", "gae_lambda"):
            check_probability(key, value)
        elif key in ("learning_rate", "reward_scale"):
            check_positive(key, value)
        elif key == "ent_coef":
            check_nonnegative(key, value)
        elif key == "keep_best" and not isinstance(value, bool):
            raise ValueError(f"keep_best: {value!r}; allowed: true or false")
    if params.get("keep_best") and not params.get("eval_every"):
        raise ValueError(
            f"keep_best: true needs eval_every > 0 (got {params.get('eval_every', 0)!r}): "
            "the best policy is chosen by those evaluations"
        )


@checked_by(check_train_params)
def train(
    algorithm: str = "ppo",
    *,
    scenario: Scenario | None = None,
    catalogue: Catalogue | None = None,
    num_envs: int = 256,
    horizon_weeks: int = 52,
    total_timesteps: int = 200_000,
    seed: int = 0,
    learning_rate: float = 3e-4,
    lr_schedule: str = "constant",
    n_steps: int = 52,
    batch_size: int | None = None,
    gamma: float = 0.99,
    gae_lambda: float = 0.95,
    n_epochs: int = 10,
    ent_coef: float = 0.01,
    net_arch: tuple[int, ...] = (64, 64),
    reward_scale: float = 0.1,
    reward: str = "incremental",
    start: str = "inactive",
    log_dir: str | Path | None = None,
    checkpoint_every: int = 0,
    eval_every: int = 0,
    eval_users: int = 1000,
    keep_best: bool = False,
    progress_bar: bool = False,
) -> SB3Agent:
    """Train one SB3 agent on the batched env; everything is a typed keyword argument.

    TensorBoard logs and checkpoints go to ``log_dir`` when given; without it nothing is
    written (SB3's default logger would leave an empty folder in the temp dir)."""
    check_train_params(
        algorithm=algorithm, num_envs=num_envs, horizon_weeks=horizon_weeks,
        total_timesteps=total_timesteps, learning_rate=learning_rate, lr_schedule=lr_schedule,
        n_steps=n_steps, gamma=gamma, gae_lambda=gae_lambda, n_epochs=n_epochs,
        ent_coef=ent_coef, reward_scale=reward_scale, eval_every=eval_every,
        eval_users=eval_users, start=start, keep_best=keep_best,
    )  # fmt: skip
    env = WinBackVecEnv(num_envs, scenario, catalogue, horizon_weeks, None, seed, reward, start)
    batch_size = batch_size or max(1, n_steps * num_envs // 4)
    kwargs = algorithm_kwargs(
        algorithm, num_envs, n_steps, batch_size, n_epochs, gamma, gae_lambda, ent_coef
    )
    model = _algorithm(algorithm)(
        "MlpPolicy",
        _Scaled(env, reward_scale),
        learning_rate=_schedule(learning_rate, lr_schedule),
        seed=seed,
        device="cpu",
        policy_kwargs={"net_arch": list(net_arch)},
        verbose=0,
        tensorboard_log=str(log_dir) if log_dir else None,
        **kwargs,
    )
    if not log_dir:
        model.set_logger(Logger(folder=None, output_formats=[]))  # writes nothing anywhere
    evaluator = None
    if eval_every:
        eval_batch = WinBackBatch(
            scenario, catalogue, eval_users, horizon_weeks, None, seed + 1, "incremental"
        )
        evaluator = IncrementalProfitCallback(eval_batch, eval_every, algorithm, keep_best)
    checkpoints = max(1, checkpoint_every // num_envs) if checkpoint_every and log_dir else 0
    bar = f"training {algorithm}" if progress_bar else ""
    callbacks = _callbacks(evaluator, checkpoints, log_dir, bar, total_timesteps)
    model.learn(total_timesteps=total_timesteps, callback=callbacks)
    params: dict[str, Any] = {
        "total_timesteps": total_timesteps, "seed": seed, "num_envs": num_envs,
        "learning_rate": learning_rate, "lr_schedule": lr_schedule, "n_steps": n_steps,
        "reward": reward, "start": start,
    }  # fmt: skip
    if keep_best:
        params["best_step"] = evaluator.restore_best() if evaluator is not None else None
    curve = evaluator.curve if evaluator is not None else []
    return SB3Agent(
        model=model, algorithm=algorithm, name=algorithm, params=params, learning_curve=curve
    )


def _callbacks(
    evaluator: IncrementalProfitCallback | None,
    checkpoint_every: int,
    log_dir: str | Path | None,
    bar: str,
    total_timesteps: int,
) -> CallbackList:
    """Checkpoints every ``checkpoint_every`` calls (0: none) into ``log_dir``, the
    evaluator's learning curve, a progress bar titled ``bar`` ("": none)."""
    callbacks: list[BaseCallback] = []
    if checkpoint_every and log_dir:
        callbacks.append(CheckpointCallback(checkpoint_every, str(Path(log_dir) / "checkpoints")))
    callbacks += [evaluator] if evaluator is not None else []
    if bar:
        callbacks.append(TqdmProgress(total_timesteps, bar))
    return CallbackList(callbacks)


def algorithm_kwargs(
    algorithm: str,
    num_envs: int,
    n_steps: int,
    batch_size: int,
    n_epochs: int,
    gamma: float,
    gae_lambda: float,
    ent_coef: float,
) -> dict[str, Any]:
    """The keyword arguments each algorithm takes, beyond the policy, rate and seed."""
    if algorithm in ("ppo", "maskable_ppo"):
        return {
            "gamma": gamma,
            "n_steps": n_steps,
            "batch_size": batch_size,
            "n_epochs": n_epochs,
            "gae_lambda": gae_lambda,
            "ent_coef": ent_coef,
        }
    if algorithm == "a2c":
        return {"gamma": gamma, "n_steps": min(n_steps, 16), "ent_coef": ent_coef}
    return {  # dqn
        "gamma": gamma,
        "batch_size": min(batch_size, 256),
        "learning_starts": num_envs * 10,
        "train_freq": 1,
        "gradient_steps": max(1, num_envs // 64),
    }


def _schedule(learning_rate: float, kind: str) -> float | Callable[[float], float]:
    """A constant rate, or one falling linearly to zero over training (SB3 passes the share
    of training remaining, 1 -> 0)."""
    if kind == "linear":
        return lambda remaining: learning_rate * remaining
    return learning_rate


class _Scaled(WinBackVecEnv):
    """The batched env with rewards multiplied by ``scale`` (dollars -> a unit PPO likes)."""

    def __init__(self, env: WinBackVecEnv, scale: float) -> None:
        self.__dict__.update(env.__dict__)
        self.scale = scale

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        obs, reward, done, infos = super().step_wait()
        return obs, reward * self.scale, done, infos
