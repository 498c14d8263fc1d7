"""Evaluation every agent shares: run it on a scenario over several seeds, each paired with
the no-offer control on common random numbers; report means with 95% confidence intervals
and who got what (offer mix by segment, latent pain point and stated reason: the exit-survey
answer the company has, "no answer" for most)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.special import stdtrit
from tqdm import tqdm

from agents.base import Agent, AgentLike, Context, as_agent
from sim.constants import NO_ANSWER, PAIN_POINTS, STATES
from sim.envs.observation import Encoder, observation_names
from sim.lookahead import expected_gains
from sim.messaging import Delivery
from sim.offers import Catalogue
from sim.results import SimulationResult, incremental
from sim.scenario import Scenario
from sim.simulation import Decision, Simulation, user_profit

METRICS = (
    "incremental_profit",
    "incremental_reactivated_users",
    "reactivation_rate",
    "cost_per_incremental_reactivation",
    "roi",
    "offer_spend",
    "messages_sent",
    "unsubscribes",
)
LATENT = ("pain", "price_sens", "content_need", "friction", "tech")


@dataclass
class Run:
    result: SimulationResult
    offer_mix: pd.DataFrame  # offer x segment x pain point x stated reason -> sends
    diagnostics: dict[str, float]  # the agent's own figures (Agent.diagnostics)


class Evaluation(NamedTuple):
    """What :func:`evaluate` returns (unpacks as ``tidy, summary, mix, occupancy``)."""

    tidy: pd.DataFrame  # agent x seed x metric -> value
    summary: pd.DataFrame  # agent x metric -> mean, ci_low, ci_high, n
    offer_mix: pd.DataFrame  # agent x seed x offer x segment x pain point x reason -> sends
    occupancy: pd.DataFrame  # agent x seed x day x state -> users (control as "control")


def run_agent(
    agent: AgentLike,
    scenario: Scenario,
    catalogue: Catalogue,
    seed: int,
    attribution_days: int = 28,
) -> Run:
    """Simulate ``scenario`` with ``agent`` deciding for every user at the campaign epochs
    (every ``scenario.epoch_days`` days).

    Agents that learn online (``online``) get feedback as a live test would:
    ``attribution_days`` after each decision, ``update`` receives, for every user who could
    have been sent an offer, the observation, the action (0 included) and the user's profit
    over those days, net of every cost. Decisions whose window outlasts the run get none.
    """
    policy = AgentPolicy(as_agent(agent), scenario, catalogue, attribution_days)
    sim = Simulation(scenario, catalogue, seed=seed, policy=policy)
    result = sim.run()
    policy.count(sim)  # the last decision's sends
    return Run(result, policy.offer_mix(), policy.agent.diagnostics())


class AgentPolicy:
    """An agent as the simulation's policy: observations and masks in, a decision out. It
    counts what the simulation sent (by offer, segment and latent pain point) and feeds
    online learners their delayed rewards."""

    def __init__(
        self, agent: Agent, scenario: Scenario, catalogue: Catalogue, attribution_days: int
    ) -> None:
        self.agent, self.scenario, self.catalogue = agent, scenario, catalogue
        self.names = observation_names(scenario, catalogue)
        self.encode = Encoder(scenario, catalogue)
        self.feedback = Feedback(agent, attribution_days) if agent.online else None
        self.sends: list[tuple[np.ndarray, ...]] = []  # offer, segment, pain, survey
        self.counted: Delivery | None = None

    def __call__(self, sim: Simulation, day: int) -> Decision | None:
        self.count(sim)  # the previous decision's sends
        if self.feedback is not None:
            self.feedback.deliver(sim, day)
        obs = self.encode(sim, day / self.scenario.horizon_days)
        latent = {k: getattr(sim.pop, k) for k in LATENT}
        lookahead = partial(expected_gains, sim) if self.agent.hidden else None
        ctx = Context(self.names, self.catalogue.names, float(day), latent, lookahead)
        mask = sim.mask()
        actions = np.asarray(self.agent.act(obs, mask, ctx), dtype=np.int64)
        if self.feedback is not None:
            self.feedback.record(sim, day, obs, actions, mask)
        users = np.flatnonzero(actions > 0)
        return (users, actions[users] - 1) if users.size else None

    def count(self, sim: Simulation) -> None:
        """Count the sends of this policy's latest decision (once)."""
        d = sim.last_delivery
        if d is None or d is self.counted:
            return
        self.counted = d
        sent = d.users[d.sent]
        stated = sim.pop.survey[sent].astype(np.int64)  # -1: no answer
        stated = np.where(stated < 0, len(PAIN_POINTS), stated)
        self.sends.append((d.offers[d.sent], sim.pop.segment[sent], sim.pop.pain[sent], stated))

    def offer_mix(self) -> pd.DataFrame:
        """Sends per (offer, segment, pain point, stated reason)."""
        columns = ["offer", "segment", "pain_point", "stated_reason"]
        if not self.sends:
            return pd.DataFrame(columns=[*columns, "sends"])
        codes = [np.concatenate(parts).astype(np.int64) for parts in zip(*self.sends, strict=True)]
        names = (
            self.catalogue.names,
            self.scenario.segment_names,
            PAIN_POINTS,
            (*PAIN_POINTS, NO_ANSWER),
        )
        mix = pd.DataFrame(
            {
                c: np.asarray(n, dtype=object)[k]
                for c, n, k in zip(columns, names, codes, strict=True)
            }
        )
        return mix.value_counts().rename("sends").reset_index()


class Feedback:
    """Delayed, attributed rewards for an agent learning online inside a simulation."""

    def __init__(self, agent: Agent, attribution_days: int) -> None:
        self.agent, self.days = agent, attribution_days
        self.pending: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def record(
        self, sim: Simulation, day: int, obs: np.ndarray, actions: np.ndarray, mask: np.ndarray
    ) -> None:
        users = np.flatnonzero(mask[:, 1:].any(axis=1))  # users the decision was real for
        if users.size:
            self.pending.append((day, users, obs[users], actions[users], user_profit(sim, users)))

    def deliver(self, sim: Simulation, day: int) -> None:
        while self.pending and self.pending[0][0] + self.days <= day:
            _, users, obs, actions, before = self.pending.pop(0)
            self.agent.update(obs, actions, user_profit(sim, users) - before)


def evaluate(
    agents: dict[str, Callable[[], AgentLike]],
    scenario: Scenario,
    catalogue: Catalogue,
    seeds: list[int],
    attribution_days: int = 28,
    progress: bool = False,
) -> Evaluation:
    """Tidy results (agent x seed x metric), summary (mean and 95% CI), offer mix, and
    state occupancy over time (at every campaign epoch), the control's included. Agents
    decide at the scenario's campaign epochs (every ``scenario.epoch_days`` days).

    ``agents`` maps a name to a factory called once per seed (a fresh agent per seed: e.g.
    a class, or a built agent's ``fresh``)."""
    rows, mixes, occupancy = [], [], []
    bar = tqdm(total=len(seeds) * len(agents), desc="evaluating", unit="run", disable=not progress)
    for seed in seeds:
        control = Simulation(scenario, catalogue, seed=seed).run()
        occupancy.append(states_over_time(control, "control", seed, scenario.epoch_days))
        for name, make in agents.items():
            bar.set_postfix_str(f"seed {seed}: {name}")
            run = run_agent(make(), scenario, catalogue, seed, attribution_days)
            bar.update()
            figures = {**run.result.kpis, **incremental(run.result, control)}
            rows += [
                {"agent": name, "seed": seed, "metric": m, "value": figures[m]} for m in METRICS
            ]
            rows += [
                {"agent": name, "seed": seed, "metric": m, "value": v}
                for m, v in run.diagnostics.items()
            ]
            mixes.append(run.offer_mix.assign(agent=name, seed=seed))
            occupancy.append(states_over_time(run.result, name, seed, scenario.epoch_days))
    bar.close()
    tidy = pd.DataFrame(rows)
    return Evaluation(
        tidy,
        summarise(tidy),
        pd.concat(mixes, ignore_index=True),
        pd.concat(occupancy, ignore_index=True),
    )


def states_over_time(result: SimulationResult, agent: str, seed: int, every: int) -> pd.DataFrame:
    """Users per state (all segments) on every ``every``-th day of the run."""
    occ = result.occupancy.sum(axis=2)[::every]  # (days, states)
    days = np.arange(occ.shape[0]) * every
    frame = pd.DataFrame(occ, columns=list(STATES)).assign(day=days)
    tidy = frame.melt(id_vars="day", var_name="state", value_name="users")
    return tidy.assign(agent=agent, seed=seed)


def t_interval(values: np.ndarray) -> dict[str, float]:
    """Mean and 95% t-interval of ``values`` (NaN bounds with fewer than two)."""
    v = np.asarray(values, dtype=float)
    mean = float(v.mean()) if v.size else float("nan")
    half = (
        float(stdtrit(v.size - 1, 0.975) * v.std(ddof=1) / np.sqrt(v.size))  # t quantile
        if v.size > 1
        else float("nan")
    )
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "n": v.size}


def summarise(tidy: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95% t-interval over seeds, per agent and metric."""

    def ci(values: pd.Series) -> pd.Series:
        return pd.Series(t_interval(values.dropna().to_numpy(dtype=float)))

    return tidy.groupby(["agent", "metric"])["value"].apply(ci).unstack().reset_index()


def paired_difference(
    tidy: pd.DataFrame, a: str, b: str, metric: str = "incremental_profit"
) -> dict[str, float]:
    """Mean and 95% t-interval of ``a - b`` over the seeds both ran (paired on common random
    numbers, so the seed-to-seed noise they share cancels)."""
    rows = tidy[tidy.metric == metric].pivot(index="seed", columns="agent", values="value")
    return t_interval((rows[a] - rows[b]).dropna().to_numpy(dtype=float))
