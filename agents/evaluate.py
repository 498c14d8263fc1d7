"""Evaluation every agent shares: run it on a scenario over several seeds, each paired with
the no-offer control on common random numbers; report means with 95% confidence intervals
and who got what (offer mix by segment and latent pain point)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from agents.base import Agent, Context
from sim.constants import PAIN_POINTS
from sim.envs.observation import encode, observation_names
from sim.messaging import action_mask
from sim.offers import Catalogue
from sim.results import SimulationResult, incremental
from sim.scenario import Scenario
from sim.simulation import Simulation

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
    offer_mix: pd.DataFrame  # offer x segment x pain point -> sends


def masks(sim: Simulation) -> np.ndarray:
    """(users, 1 + offers) bool: which offers can be sent to each user today."""
    users = np.arange(sim.pop.n)
    return action_mask(sim.pop, users, sim.day, sim.scenario, sim.offer_table)


def run_agent(
    agent: Agent, scenario: Scenario, catalogue: Catalogue, seed: int, every_days: int = 7
) -> Run:
    """Simulate ``scenario`` with ``agent`` deciding every ``every_days`` (campaign epochs)."""
    names = observation_names(scenario, catalogue)
    sends: list[pd.DataFrame] = []

    def policy(sim: Simulation, day: int) -> None:
        if day % every_days:
            return None
        obs = encode(sim.observe(), scenario, catalogue, day / scenario.horizon_days)
        latent = {k: getattr(sim.pop, k) for k in LATENT}
        ctx = Context(names, catalogue.names, float(day), latent)
        actions = np.asarray(agent.act(obs, masks(sim), ctx), dtype=np.int64)
        users = np.flatnonzero(actions > 0)
        if users.size:
            d = sim.offer(users, actions[users] - 1)
            sent = users[d.sent]
            sends.append(
                pd.DataFrame(
                    {
                        "offer": np.array(catalogue.names)[actions[sent] - 1],
                        "segment": np.array(scenario.segment_names)[sim.pop.segment[sent]],
                        "pain_point": np.array(PAIN_POINTS)[sim.pop.pain[sent]],
                    }
                )
            )
        return None

    result = Simulation(scenario, catalogue, seed=seed, policy=policy).run()
    mix = pd.concat(sends) if sends else pd.DataFrame(columns=["offer", "segment", "pain_point"])
    counts = mix.value_counts().rename("sends").reset_index()
    return Run(result, counts)


def evaluate(
    agents: dict[str, Callable[[], Agent]],
    scenario: Scenario,
    catalogue: Catalogue,
    seeds: list[int],
    every_days: int = 7,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(tidy results: agent x seed x metric, summary: mean and 95% CI, offer mix)."""
    rows, mixes = [], []
    for seed in seeds:
        control = Simulation(scenario, catalogue, seed=seed).run()
        for name, make in agents.items():
            run = run_agent(make(), scenario, catalogue, seed, every_days)
            figures = {**run.result.kpis, **incremental(run.result, control)}
            rows += [
                {"agent": name, "seed": seed, "metric": m, "value": figures[m]} for m in METRICS
            ]
            mixes.append(run.offer_mix.assign(agent=name, seed=seed))
    tidy = pd.DataFrame(rows)
    return tidy, summarise(tidy), pd.concat(mixes, ignore_index=True)


def summarise(tidy: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95% t-interval over seeds, per agent and metric."""

    def ci(values: pd.Series) -> pd.Series:
        v = values.dropna().to_numpy(dtype=float)
        mean = float(v.mean()) if v.size else float("nan")
        half = (
            float(stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size))
            if v.size > 1
            else float("nan")
        )
        return pd.Series({"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "n": v.size})

    return tidy.groupby(["agent", "metric"])["value"].apply(ci).unstack().reset_index()


def paired_difference(
    tidy: pd.DataFrame, a: str, b: str, metric: str = "incremental_profit"
) -> dict[str, float]:
    """Mean and 95% t-interval of ``a - b`` over the seeds both ran (paired on common random
    numbers, so the seed-to-seed noise they share cancels)."""
    rows = tidy[tidy.metric == metric].pivot(index="seed", columns="agent", values="value")
    diff = (rows[a] - rows[b]).dropna().to_numpy(dtype=float)
    mean = float(diff.mean())
    half = (
        float(stats.t.ppf(0.975, diff.size - 1) * diff.std(ddof=1) / np.sqrt(diff.size))
        if diff.size > 1
        else float("nan")
    )
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "n": diff.size}


def share_of_oracle(tidy: pd.DataFrame, oracle: str = "oracle") -> pd.Series:
    """Each agent's mean incremental profit as a share of the oracle's."""
    profit = tidy[tidy.metric == "incremental_profit"].groupby("agent")["value"].mean()
    return profit / profit[oracle]
