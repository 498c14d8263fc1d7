"""Cost- and budget-aware bandits, vectorised over users.

Rewards are profit net of every cost (the environments' rewards already are), so every
bandit here is cost-aware by construction. ``epsilon-greedy``, ``UCB1`` and ``Thompson``
keep one set of arm statistics per observable context group (observed status x reason: the
exit-survey answer, or with ``reasons`` the reason read from behaviour, ``agents.scores``);
``LinUCB`` and ``linear Thompson`` fit one ridge regression per arm on the whole observation
vector. With a ``budget`` per period, each scores arms net of a Lagrangian price
on their cost (``price`` rises when a period overspends its pace, falls when it underspends)
and never sends past the period's budget: once the next send would exceed it, the rest of
the batch gets "nothing".
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from tqdm import tqdm

from agents.base import Agent, Context, checked_by
from agents.budget import Budget, check_budget
from sim.offers import Catalogue
from sim.scenario import Scenario
from sim.validation import check_choice, check_int, check_positive, check_probability

if TYPE_CHECKING:
    from agents.scores import ChurnScores

STATUS = ("status_active", "status_inactive", "status_churned")
SURVEY = ("survey_price", "survey_content", "survey_discovery", "survey_technical", "survey_none")


def context_groups(
    obs: np.ndarray, names: list[str], reason: np.ndarray | None = None
) -> np.ndarray:
    """Group index per user: observed status (3) x reason (5 + none known) = 18; the
    reason is the exit-survey answer unless ``reason`` gives it (``agents.scores.reasons_of``)."""
    col = {n: i for i, n in enumerate(names)}
    status = np.argmax(obs[:, [col[s] for s in STATUS]], axis=1)
    if reason is None:
        survey = obs[:, [col[s] for s in SURVEY]]
        reason = np.where(survey.max(axis=1) > 0.5, np.argmax(survey, axis=1), len(SURVEY))
    return status * (len(SURVEY) + 1) + reason


N_GROUPS = len(STATUS) * (len(SURVEY) + 1)


class _Saved(Agent):
    """JSON parameters + arrays in one ``.npz`` (no pickle), with the random state."""

    rng: np.random.Generator
    budget: Budget
    learning_curve: list[tuple[int, float]]
    ARRAYS: tuple[str, ...] = ()
    learned: ClassVar[bool] = True
    suffix: ClassVar[str] = ".npz"

    def describe(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k != "budget"}  # type: ignore[call-overload]
        d["budget_per_period"] = self.budget.per_period
        return d

    def save(self, path: str | Path) -> None:
        params = {k: v for k, v in asdict(self).items() if k != "budget"}  # type: ignore[call-overload]
        arrays = {k: getattr(self, k) for k in self.ARRAYS}
        np.savez(
            Path(path),
            params=json.dumps(params),
            budget=json.dumps(asdict(self.budget)),
            rng=json.dumps(self.rng.bit_generator.state),
            **arrays,
        )

    @classmethod
    def load(cls, path: str | Path) -> Any:
        data = np.load(Path(path), allow_pickle=False)
        params = json.loads(str(data["params"]))
        params["budget"] = Budget(**json.loads(str(data["budget"])))
        agent = cls(**params)
        for k in cls.ARRAYS:
            setattr(agent, k, data[k])
        agent.rng.bit_generator.state = json.loads(str(data["rng"]))
        return agent


def reason_file(path: str | Path) -> Path:
    """Where a bandit saved at ``path`` (``x.npz``) keeps its reason model: ``x.reasons.skops``."""
    path = Path(path)
    return path.with_name(path.name.removesuffix(".npz") + ".reasons.skops")


@dataclass(kw_only=True)
class GroupBandit(_Saved):
    """epsilon-greedy, UCB1 or Gaussian Thompson sampling, per context group."""

    kind: str = "ucb"  # "epsilon", "ucb" or "thompson"
    n_actions: int = 8
    epsilon: float = 0.1
    ucb_c: float = 2.0
    prior_var: float = 100.0
    seed: int = 0
    budget: Budget = field(default_factory=Budget)
    name: str = "bandit"
    online: bool = True  # learns from delayed feedback while evaluated
    reasons: str = "survey"  # the context's reason: survey, predicted or both (agents.scores)
    ARRAYS = ("count", "total", "sq")

    def __post_init__(self) -> None:
        from agents.scores import REASON_SOURCES

        if self.kind not in ("epsilon", "ucb", "thompson"):
            raise ValueError(f"kind: {self.kind!r}; allowed: epsilon, ucb, thompson")
        check_choice("reasons", self.reasons, REASON_SOURCES)
        self.count = np.zeros((N_GROUPS, self.n_actions))
        self.total = np.zeros((N_GROUPS, self.n_actions))
        self.sq = np.zeros((N_GROUPS, self.n_actions))
        self.rng = np.random.default_rng(self.seed)
        self.names: list[str] = []
        self.learning_curve = []
        self.reason_model: ChurnScores | None = None  # with predicted reasons: make_bandit's

    def save(self, path: str | Path) -> None:
        """The bandit as ``.npz``; its reason model, if any, beside it (:func:`reason_file`)."""
        if self.reasons != "survey" and self.reason_model is None:
            raise ValueError(
                f"reasons: {self.reasons!r} without its reason model, which a saved bandit "
                "must carry; allowed: a bandit built by make_bandit(..., reasons=...)"
            )
        super().save(path)
        if self.reason_model is not None:
            self.reason_model.save(reason_file(path))

    @classmethod
    def load(cls, path: str | Path) -> Any:
        agent = super().load(path)
        if agent.reasons != "survey":
            from agents.scores import ChurnScores

            agent.reason_model = ChurnScores.load(reason_file(path))
        return agent

    def scores(self, groups: np.ndarray) -> np.ndarray:
        n = self.count[groups]
        safe = np.maximum(n, 1)
        mean = self.total[groups] / safe
        var = np.maximum(self.sq[groups] / safe - mean**2, 1e-6)
        if self.kind == "ucb":
            t = self.count[groups].sum(axis=1, keepdims=True)
            bonus = np.sqrt(var) * np.sqrt(self.ucb_c * np.log(t + 1) / safe)
            return np.where(n > 0, mean + bonus, np.inf)
        if self.kind == "thompson":
            std = np.sqrt(np.where(n > 1, var, self.prior_var) / safe)
            return mean + std * self.rng.standard_normal(mean.shape)
        return np.where(n > 0, mean, np.inf)

    def act(self, obs: np.ndarray, mask: np.ndarray, ctx: Context) -> np.ndarray:
        self.names = ctx.feature_names
        self.budget.on_day(ctx.day)
        groups = self.groups(obs, ctx.feature_names)
        price = self.budget.price * self.budget.action_costs(self.n_actions)
        score = np.where(mask, self.scores(groups) - price, -np.inf)
        actions = np.argmax(score, axis=1)
        if self.kind == "epsilon":
            explore = self.rng.random(obs.shape[0]) < self.epsilon
            random = np.argmax(self.rng.random(mask.shape) * mask, axis=1)
            actions = np.where(explore, random, actions)
        order = self.rng.permutation(obs.shape[0])
        return self.budget.enforce(actions.astype(np.int64), order, self.n_actions)

    def groups(self, obs: np.ndarray, names: list[str]) -> np.ndarray:
        """Each user's context group, the reason by ``reasons``."""
        if self.reasons == "survey":
            return context_groups(obs, names)
        from agents.scores import reasons_of

        reason = reasons_of(obs, list(names), self.reasons, self.reason_model)
        return context_groups(obs, names, reason)

    def update(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        groups = self.groups(obs, self.names)
        np.add.at(self.count, (groups, actions), 1)
        np.add.at(self.total, (groups, actions), rewards)
        np.add.at(self.sq, (groups, actions), rewards**2)


@dataclass(kw_only=True)
class LinearBandit(_Saved):
    """LinUCB or linear Thompson sampling: one ridge regression per arm on the features."""

    kind: str = "linucb"  # "linucb" or "lints"
    n_actions: int = 8
    n_features: int = 61  # observation_names of the streaming scenario and catalogue
    alpha: float = 1.0  # LinUCB width / Thompson posterior scale
    ridge: float = 1.0
    seed: int = 0
    budget: Budget = field(default_factory=Budget)
    name: str = "linear_bandit"
    online: bool = True
    ARRAYS = ("A", "b")

    def __post_init__(self) -> None:
        if self.kind not in ("linucb", "lints"):
            raise ValueError(f"kind: {self.kind!r}; allowed: linucb, lints")
        d = self.n_features + 1
        self.A = np.repeat(self.ridge * np.eye(d)[None], self.n_actions, axis=0)
        self.b = np.zeros((self.n_actions, d))
        self.rng = np.random.default_rng(self.seed)
        self.learning_curve = []

    def _x(self, obs: np.ndarray) -> np.ndarray:
        return np.hstack([obs.astype(np.float64), np.ones((obs.shape[0], 1))])

    def act(self, obs: np.ndarray, mask: np.ndarray, ctx: Context) -> np.ndarray:
        self.budget.on_day(ctx.day)
        can = np.flatnonzero(mask[:, 1:].any(axis=1))  # the others can only be sent nothing
        x = self._x(obs[can])
        a_inv = np.linalg.inv(self.A)
        theta = np.einsum("kde,ke->kd", a_inv, self.b)
        if self.kind == "lints":
            chol = np.linalg.cholesky(a_inv)
            z = self.rng.standard_normal(theta.shape)
            theta = theta + self.alpha * np.einsum("kde,ke->kd", chol, z)
            score = x @ theta.T
        else:
            # x' A_k^-1 x per user and arm, one matrix product per arm (einsum's three-operand
            # loop over every user took 0.18 s a decision for 20,000 users)
            width = np.sqrt(
                np.maximum(np.column_stack([((x @ a) * x).sum(axis=1) for a in a_inv]), 0.0)
            )
            score = x @ theta.T + self.alpha * width
        price = self.budget.price * self.budget.action_costs(self.n_actions)
        score = np.where(mask[can], score - price, -np.inf)
        order = self.rng.permutation(obs.shape[0])
        actions = np.zeros(obs.shape[0], dtype=np.int64)
        actions[can] = np.argmax(score, axis=1)
        return self.budget.enforce(actions, order, self.n_actions)

    def update(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        x = self._x(obs)
        for k in np.unique(actions):
            xk, rk = x[actions == k], rewards[actions == k]
            self.A[k] += xk.T @ xk
            self.b[k] += xk.T @ rk


KINDS = ("epsilon", "ucb", "thompson", "linucb", "lints")
KIND_PARAMS = {
    "epsilon": ("epsilon", "reasons"),
    "ucb": ("ucb_c", "reasons"),
    "thompson": ("prior_var", "reasons"),
    "linucb": ("alpha", "ridge"),
    "lints": ("alpha", "ridge"),
}
"""The parameters each kind reads (the rest belong to other kinds)."""


def check_bandit_params(**params: Any) -> None:
    """Clear errors for :func:`make_bandit`'s arguments, before any work (None: the
    bandit's default)."""
    kind = check_choice("kind", params.get("kind"), KINDS)
    for key, value in params.items():
        if value is None:
            continue
        if key in ("pretrain_users", "seed"):
            check_int(key, value, 0)
        elif key == "attribution_days":
            from sim.envs.core import attribution_weeks

            attribution_weeks(value)
        elif key == "budget_per_period":
            check_budget(value)
        elif key == "epsilon":
            check_probability(key, value)
        elif key in ("ucb_c", "prior_var", "alpha", "ridge"):
            check_positive(key, value)
        elif key == "reasons":
            from agents.scores import REASON_SOURCES

            check_choice(key, value, REASON_SOURCES)
        elif key == "reason_train_users":
            check_int(key, value, 1_000, 10_000_000)
        owner = [k for k, names in KIND_PARAMS.items() if key in names]
        if owner and kind not in owner:
            raise ValueError(f"{key}: {value!r} is for kind {' or '.join(owner)}; kind is {kind}")


@checked_by(check_bandit_params)
def make_bandit(
    kind: str,
    *,
    scenario: Scenario | None = None,
    catalogue: Catalogue | None = None,
    pretrain_users: int = 0,
    attribution_days: int = 182,
    budget_per_period: float = float("inf"),
    seed: int = 0,
    name: str | None = None,
    epsilon: float | None = None,
    ucb_c: float | None = None,
    prior_var: float | None = None,
    alpha: float | None = None,
    ridge: float | None = None,
    reasons: str | None = None,
    reason_train_users: int = 50_000,
) -> GroupBandit | LinearBandit:
    """A bandit of ``kind`` (:data:`KINDS`) sized for ``scenario`` and ``catalogue`` (the
    streaming defaults when None), optionally trained online first on ``pretrain_users``
    newly inactive users of ``WinBackBandit-v0`` (rewards: profit over ``attribution_days``
    after the decision, net of cost). With a finite ``budget_per_period`` it is
    budget-aware, charging each send at face value (:mod:`sim.face_value`).

    ``epsilon`` (kind epsilon), ``ucb_c`` (ucb), ``prior_var`` (thompson), ``alpha`` and
    ``ridge`` (linucb, lints) set the kind's own parameters; None keeps the bandit's
    default. ``reasons`` (epsilon, ucb, thompson: ``survey``, ``predicted`` or ``both``)
    says where the context's reason comes from; other than the survey, the reason model is
    fitted on ``reason_train_users`` simulated customers of ``scenario`` first
    (``agents.scores.fit_reason``). This is the factory the configs in ``conf/agent/``
    point at (``_target_``)."""
    from sim import presets
    from sim.envs.observation import observation_names

    given: dict[str, Any] = {"epsilon": epsilon, "ucb_c": ucb_c, "prior_var": prior_var}
    given |= {"alpha": alpha, "ridge": ridge, "reasons": reasons}
    own: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    check_bandit_params(
        kind=kind,
        pretrain_users=pretrain_users,
        attribution_days=attribution_days,
        budget_per_period=budget_per_period,
        seed=seed,
        **own,
    )
    scenario = scenario if scenario is not None else presets.streaming(n_users=1)
    catalogue = catalogue if catalogue is not None else presets.streaming_offers()
    n_actions = 1 + len(catalogue)
    budget = Budget.at_face_value(float(budget_per_period), scenario, catalogue)
    agent: GroupBandit | LinearBandit
    if kind in ("linucb", "lints"):
        n_features = len(observation_names(scenario, catalogue))
        agent = LinearBandit(
            kind=kind,
            n_actions=n_actions,
            n_features=n_features,
            seed=seed,
            budget=budget,
            name=name or kind,
            **own,
        )
    else:
        agent = GroupBandit(
            kind=kind, n_actions=n_actions, seed=seed, budget=budget, name=name or kind, **own
        )
    if isinstance(agent, GroupBandit) and agent.reasons != "survey":
        from agents.scores import fit_reason

        agent.reason_model = fit_reason(scenario, reason_train_users, seed)
    if pretrain_users:
        pretrain(agent, pretrain_users, scenario, catalogue, attribution_days, seed)
    return agent


def pretrain(
    agent: GroupBandit | LinearBandit,
    users: int,
    scenario: Scenario,
    catalogue: Catalogue,
    attribution_days: int = 182,
    seed: int = 0,
    block: int = 512,
) -> None:
    """Online learning on ``WinBackBandit-v0``: blocks of newly inactive users, one decision
    each, the chosen action's attributed profit as feedback (what a live test would see)."""
    from sim.envs.bandit import WinBackBandit

    env = WinBackBandit(
        scenario,
        catalogue,
        attribution_days=attribution_days,
        block=block,
        episode_length=users,
        seed=seed,
    )
    env.reset(seed=seed)
    ctx = Context(env.feature_names, catalogue.names)
    limit, agent.budget.per_period = agent.budget.per_period, float("inf")  # learning only
    curve: list[tuple[int, float]] = []
    for i in tqdm(range(max(1, users // block)), desc=f"pretraining {agent.name}", unit="block"):
        obs, rewards = env.draw_block()
        actions = agent.act(obs, np.ones(rewards.shape, dtype=bool), ctx)
        got = rewards[np.arange(obs.shape[0]), actions]
        agent.update(obs, actions, got)
        curve.append(((i + 1) * block, float((got - rewards[:, 0]).mean())))
    agent.learning_curve = curve  # true uplift per user of each block's decisions
    agent.budget.per_period, agent.budget.spent = limit, 0.0
