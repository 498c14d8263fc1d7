"""Logging policies that record their propensities, and the simulator's log of their
decisions.

Rules: a behaviour policy gives, for every customer a decision is real for (one the company
could send at least one offer today: ``Simulation.mask``), a probability for each action (0:
no offer, k: the catalogue's k-th offer), zero where the mask forbids it; the action is drawn
from those probabilities with the logger's own ``numpy.random.Generator`` (seeded once), so
the propensity of what was done is known exactly. The log has one round per such customer
and decision epoch: the observation the company had, the action, its propensity, the
logger's whole distribution, and the reward: the customer's profit over the
``attribution_days`` after the decision, net of every cost (as ``agents.evaluate.Feedback``
measures it); decisions whose window outlasts the run are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from agents.base import AgentLike, Context, FixedPolicy, as_agent
from experiments.ope.logged import Logged
from sim.envs.observation import Encoder, observation_names
from sim.offers import Catalogue
from sim.scenario import Scenario
from sim.simulation import Decision, Simulation, user_profit


class Behaviour(Protocol):
    """A logging policy: a probability per action per customer."""

    def probabilities(self, obs: np.ndarray, mask: np.ndarray, ctx: Context) -> np.ndarray: ...


@dataclass(frozen=True, kw_only=True)
class Uniform:
    """Every allowed action (no offer included) equally likely: full support."""

    def probabilities(self, obs: np.ndarray, mask: np.ndarray, ctx: Context) -> np.ndarray:
        allowed = mask.astype(np.float64)
        return allowed / allowed.sum(axis=1, keepdims=True)


@dataclass(frozen=True, kw_only=True)
class Following:
    """A policy as the logger: probability 1 on what the agent chooses (a log of running
    it; what ``winback ope --predict`` simulates)."""

    agent: AgentLike

    def probabilities(self, obs: np.ndarray, mask: np.ndarray, ctx: Context) -> np.ndarray:
        chosen = np.asarray(as_agent(self.agent).act(obs, mask, ctx), dtype=np.int64)
        dist = np.zeros(mask.shape)
        dist[np.arange(len(chosen)), chosen] = 1.0
        return dist


@dataclass(frozen=True, kw_only=True)
class EpsilonAround:
    """A rule's action with probability 1 - epsilon, else any allowed action at random."""

    rule: FixedPolicy
    epsilon: float = 0.2

    def __post_init__(self) -> None:
        if not 0 < self.epsilon <= 1:
            raise ValueError(f"epsilon: {self.epsilon!r}; allowed: a share in (0, 1]")

    def probabilities(self, obs: np.ndarray, mask: np.ndarray, ctx: Context) -> np.ndarray:
        spread = Uniform().probabilities(obs, mask, ctx) * self.epsilon
        chosen = np.asarray(self.rule.act(obs, mask, ctx), dtype=np.int64)
        spread[np.arange(len(chosen)), chosen] += 1 - self.epsilon
        return spread


@dataclass(kw_only=True)
class VendorTest:
    """A vendor-style campaign test: a control arm (no offer) and 2 to 4 offers; each week
    the control keeps ``control`` of the customers, the best offer so far (mean reward of the
    rounds it has been told about) gets ``best`` of the rest and the others share what
    remains equally; before any feedback the offers share equally. An offer a customer
    cannot be sent is left out of their draw (the rest renormalised). It keeps what it was
    told: use a fresh one for each log."""

    offers: tuple[str, ...]
    control: float = 0.2
    best: float = 0.5

    def __post_init__(self) -> None:
        if not 2 <= len(self.offers) <= 4 or len(set(self.offers)) != len(self.offers):
            raise ValueError(f"offers: {list(self.offers)}; allowed: 2 to 4 distinct offers")
        for key in ("control", "best"):
            if not 0 < getattr(self, key) < 1:
                raise ValueError(f"{key}: {getattr(self, key)!r}; allowed: a share in (0, 1)")
        self.totals: dict[int, list[float]] = {}  # action -> [reward sum, rounds]

    def probabilities(self, obs: np.ndarray, mask: np.ndarray, ctx: Context) -> np.ndarray:
        unknown = [o for o in self.offers if o not in ctx.offer_names]
        if unknown:
            raise ValueError(
                f"offers: {unknown[0]!r}; allowed: offers of the catalogue: "
                + ", ".join(ctx.offer_names)
            )
        arms = [1 + ctx.offer_names.index(o) for o in self.offers]
        share = np.full(len(arms), (1 - self.control) / len(arms))
        told = {a: s / n for a, (s, n) in self.totals.items() if n > 0 and a in arms}
        if told:
            top = arms.index(max(told, key=lambda a: told[a]))
            share[:] = (1 - self.control) * (1 - self.best) / (len(arms) - 1)
            share[top] = (1 - self.control) * self.best
        dist = np.zeros(mask.shape)
        dist[:, 0] = self.control
        dist[:, arms] = share
        dist = np.where(mask, dist, 0.0)
        return dist / dist.sum(axis=1, keepdims=True)

    def update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        """Told the rewards of past rounds (as ``log_decisions`` delivers them)."""
        for a in np.unique(actions):
            got = self.totals.setdefault(int(a), [0.0, 0.0])
            got[0] += float(rewards[actions == a].sum())
            got[1] += float((actions == a).sum())


@dataclass(kw_only=True)
class ThompsonLogger:
    """Thompson sampling over the actions (no offer included) as a logging policy: a normal
    posterior on each action's mean reward (prior mean 0, variance ``prior_var``; the
    rewards' variance estimated from what it was told), and each action's probability is
    its chance of being the best under the posterior, from ``draws`` posterior samples
    (seeded by ``seed``). The action is then drawn from exactly those probabilities, so the
    logged propensity is exact (not the Monte Carlo estimate of an unknown one). Not
    contextual: every customer gets the same probabilities, masked. It keeps what it was
    told: use a fresh one for each log."""

    prior_var: float = 100.0
    draws: int = 2000
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.prior_var > 0:
            raise ValueError(f"prior_var: {self.prior_var!r}; allowed: a variance > 0")
        if isinstance(self.draws, bool) or not isinstance(self.draws, int) or self.draws < 100:
            raise ValueError(f"draws: {self.draws!r}; allowed: an integer >= 100")
        self.sums: dict[int, np.ndarray] = {}  # action -> [n, sum, sum of squares]
        self.rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0x7B5]))

    def probabilities(self, obs: np.ndarray, mask: np.ndarray, ctx: Context) -> np.ndarray:
        k = mask.shape[1]
        stats = np.array([self.sums.get(a, np.zeros(3)) for a in range(k)])
        n, total, squares = stats.T
        seen = n.sum()
        noise = (
            max(float((squares.sum() - total.sum() ** 2 / seen) / max(seen - 1, 1)), 1e-6)
            if seen > 1
            else self.prior_var
        )
        var = 1.0 / (1.0 / self.prior_var + n / noise)
        mean = var * total / noise
        samples = mean + np.sqrt(var) * self.rng.standard_normal((self.draws, k))
        share = np.bincount(samples.argmax(axis=1), minlength=k) / self.draws
        share = np.maximum(share, 1.0 / (10 * self.draws))  # every action keeps some support
        dist = np.where(mask, share, 0.0)
        return dist / dist.sum(axis=1, keepdims=True)

    def update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        for a in np.unique(actions):
            r = rewards[actions == a]
            got = self.sums.setdefault(int(a), np.zeros(3))
            got += (r.size, float(r.sum()), float((r * r).sum()))


def log_decisions(
    behaviour: Behaviour,
    scenario: Scenario,
    catalogue: Catalogue,
    seed: int,
    attribution_days: int = 28,
    once: bool = False,
    truth_reps: int = 0,
    truth_key: int | None = None,
) -> Logged:
    """The simulated company's log of ``behaviour``'s decisions (see the module doc).
    ``once``: each customer is decided for once, at the first epoch a decision is real for
    them (a campaign design: no later decision of the logger reaches into a round's reward).
    ``truth_reps``: also each allowed action's expected reward in each round (``truth``),
    by look-ahead on forks of the run with that many replications (``sim.lookahead``: the
    forks send nothing later, so with ``once`` this is exactly the round's estimand);
    ``truth_key`` keys the look-ahead's numbers (default ``seed``): another key, another
    draw of the same truth (what measures its Monte Carlo error)."""
    logged, _, _ = _logged_run(
        behaviour,
        scenario,
        catalogue,
        seed,
        attribution_days,
        once,
        truth_reps,
        False,
        seed if truth_key is None else truth_key,
    )
    return logged


def log_with_events(
    behaviour: Behaviour,
    scenario: Scenario,
    catalogue: Catalogue,
    seed: int,
    attribution_days: int = 28,
    once: bool = True,
    start: str = "2024-01-01",
) -> tuple[Logged, pd.DataFrame]:
    """:func:`log_decisions` and the same run's event log (``sim.records``: the schema
    ``winback calibrate`` reads, dated from ``start``), every decision in it as a campaign
    draw (campaign ``CAMPAIGN``): an offer sent with arm treatment, or no offer with arm
    holdout, each with the propensity of what was done. Decisions whose window outlasts
    the run are in the event log (the company made them) but not in the rounds."""
    from sim.records import event_log

    logged, sim, draws = _logged_run(
        behaviour, scenario, catalogue, seed, attribution_days, once, 0, True, seed
    )
    return logged, event_log(sim, start=start, assignments=draws)


CAMPAIGN = "logged_decisions"
"""The campaign name of the decisions in a simulated company's event log."""


def _logged_run(
    behaviour: Behaviour,
    scenario: Scenario,
    catalogue: Catalogue,
    seed: int,
    attribution_days: int,
    once: bool,
    truth_reps: int,
    record: bool,
    truth_key: int,
) -> tuple[Logged, Simulation, pd.DataFrame | None]:
    """The run behind both: the rounds, the run itself and (``record``) its decisions as a
    campaign's assignments (``sim.records.ASSIGNMENTS``)."""
    from sim.lookahead import expected_gains

    if isinstance(truth_reps, bool) or not isinstance(truth_reps, int) or truth_reps < 0:
        raise ValueError(f"truth_reps: {truth_reps!r}; allowed: 0 (none) or replications >= 2")
    if truth_reps == 1:
        raise ValueError("truth_reps: 1; allowed: 0 (none) or replications >= 2")
    names = observation_names(scenario, catalogue)
    encode = Encoder(scenario, catalogue)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x0FE]))  # the logger's draws
    pending: list[tuple[Any, ...]] = []
    assigned: list[pd.DataFrame] = []  # every decision, as a campaign's assignments
    decided = np.zeros(scenario.n_users, dtype=bool)
    truths: list[np.ndarray] = []
    rounds: list[tuple[np.ndarray, ...]] = []

    def deliver(sim: Simulation, today: int) -> None:
        while pending and pending[0][0] + attribution_days <= today:
            day, users, obs, allowed, actions, dist, before = pending.pop(0)
            reward = user_profit(sim, users) - before
            rounds.append((users, np.full(users.size, day), obs, allowed, actions, dist, reward))
            if hasattr(behaviour, "update"):  # a logger that reallocates on what it saw
                behaviour.update(actions, reward)

    def policy(sim: Simulation, day: int) -> Decision | None:
        deliver(sim, day)
        mask = sim.mask()
        real = mask[:, 1:].any(axis=1)
        users = np.flatnonzero(real & ~decided if once else real)
        if not users.size:
            return None
        decided[users] = True
        obs = encode(sim, day / scenario.horizon_days)[users]
        ctx = Context(names, catalogue.names, float(day))
        dist = np.where(mask[users], behaviour.probabilities(obs, mask[users], ctx), 0.0)
        dist /= dist.sum(axis=1, keepdims=True)
        draws = rng.random(len(users))[:, None]
        actions = np.minimum((draws > np.cumsum(dist, axis=1)).sum(axis=1), dist.shape[1] - 1)
        pending.append((day, users, obs, mask[users], actions, dist, user_profit(sim, users)))
        if record:
            taken = dist[np.arange(len(users)), actions]
            offer_names = np.array(["", *catalogue.names], dtype=object)
            assigned.append(
                pd.DataFrame(
                    {
                        "user": users,
                        "day": float(day),
                        "offer": offer_names[actions],
                        "arm": np.where(actions > 0, "treatment", "holdout"),
                        "propensity": taken,
                        "campaign": CAMPAIGN,
                    }
                )
            )
        if truth_reps:
            gains = expected_gains(sim, users, mask[users], truth_reps, attribution_days, truth_key)
            truths.append(gains.base[:, None] + gains.mean)
        sent = actions > 0
        return (users[sent], actions[sent] - 1) if sent.any() else None

    sim = Simulation(scenario, catalogue, seed=seed, policy=policy, record=record)
    sim.run()
    deliver(sim, scenario.horizon_days)
    if not rounds:
        raise ValueError(
            f"attribution_days: {attribution_days}; no decision's window ended inside the "
            f"{scenario.horizon_days}-day run; allowed: a shorter window or a longer run"
        )
    users, days, obs, allowed, actions, dist, reward = (
        np.concatenate(parts) for parts in zip(*rounds, strict=True)
    )
    truth = np.concatenate(truths)[: len(actions)] if truth_reps else None  # delivered rounds
    logged = Logged(
        action=actions,
        reward=reward,
        pscore=dist[np.arange(len(actions)), actions],
        context=obs,
        n_actions=len(catalogue) + 1,
        logging_dist=dist,
        truth=truth,
        allowed=allowed,
        user=users,
        day=days,
        meta={
            "features": names,
            "offers": ["no_offer", *catalogue.names],
            "seed": seed,
            "scenario": scenario.name,
            "users": scenario.n_users,
            "days": scenario.horizon_days,
            "once": once,
        },
    )
    return logged, sim, pd.concat(assigned, ignore_index=True) if assigned else None


def target_distribution(agent: AgentLike, logged: Logged) -> np.ndarray:
    """A target policy's probabilities on the logged rounds (n, actions): the agent acts on
    each round's observation with what the company could do there (``allowed``; without it,
    every action) as its mask, never narrowed to what the logger chose to try (the target
    may well do what the log never did: ``estimators.diagnostics`` says how often); a
    deterministic agent gives one-hot rows, a random one a draw of its choice. With the
    rounds' days known, a fresh copy of the agent acts day by day in order, each day's
    rounds together (``Context.day``: what a budget or a calendar rule reads), as it would
    have run; without them, on every round at once. The log must carry its feature and
    offer names (``meta``, as ``log_decisions`` writes)."""
    missing = [k for k in ("features", "offers") if k not in logged.meta]
    if missing:
        raise ValueError(
            f"logged.meta: no {', '.join(missing)}; allowed: a log that names its features "
            "and offers (log_decisions writes them)"
        )
    policy = as_agent(agent).fresh()
    mask = (
        np.ones((logged.n_rounds, logged.n_actions), dtype=bool)
        if logged.allowed is None
        else np.asarray(logged.allowed, dtype=bool)
    )
    features, offers = list(logged.meta["features"]), list(logged.meta["offers"][1:])
    obs = np.asarray(logged.context)
    days = np.zeros(logged.n_rounds) if logged.day is None else np.asarray(logged.day, float)
    actions = np.zeros(logged.n_rounds, dtype=np.int64)
    for day in np.unique(days):
        rows = np.flatnonzero(days == day)
        ctx = Context(features, offers, float(day))
        actions[rows] = np.asarray(policy.act(obs[rows], mask[rows], ctx), dtype=np.int64)
    dist = np.zeros((logged.n_rounds, logged.n_actions))
    dist[np.arange(logged.n_rounds), actions] = 1.0
    return dist
