"""The agent contract (agents.base): outside policies get its defaults, a fresh agent per run
starts from the built state, factories check their parameters before any work, the policy
contract of the simulation, and importing the light agent modules stays light."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from agents.bandits import GroupBandit, make_bandit
from agents.base import Agent, as_agent, check_params
from agents.evaluate import AgentPolicy
from agents.reference import Playbook, RandomPolicy
from agents.uplift import train_uplift
from sim import Simulation, presets

CATALOGUE = presets.streaming_offers()


class Outside:
    """A bring-your-own policy: act, update and describe only."""

    def act(self, obs, mask, ctx):
        return np.zeros(obs.shape[0], dtype=np.int64)

    def update(self, obs, actions, rewards):
        pass

    def describe(self):
        return {"name": "outside"}


def test_an_outside_policy_gets_the_defaults() -> None:
    agent = as_agent(Outside())
    assert isinstance(agent, Agent)
    assert (agent.online, agent.learned, list(agent.learning_curve), agent.suffix) == (
        False,
        False,
        [],
        "",
    )
    assert agent.describe() == {"name": "outside"}
    assert agent.fresh() is not agent
    with pytest.raises(ValueError, match="cannot be saved"):
        agent.save("x")
    learner = Outside()
    learner.online = True  # type: ignore[attr-defined]
    assert as_agent(learner).online


def test_ours_are_agents_as_they_are() -> None:
    playbook = Playbook()
    assert as_agent(playbook) is playbook


def test_an_object_without_act_is_refused() -> None:
    with pytest.raises(ValueError, match=r"builtins.dict: has no act\(\)"):
        as_agent({})


def test_fresh_agents_start_from_the_built_state() -> None:
    bandit = GroupBandit(kind="epsilon", n_actions=3, seed=1)
    bandit.count[0, 1] = 2  # trained
    a, b = bandit.fresh(), bandit.fresh()
    assert isinstance(a, GroupBandit) and isinstance(b, GroupBandit)
    a.count[0, 1] += 1  # learns online in its run
    assert a.count.sum() == 3 and b.count.sum() == 2 and bandit.count.sum() == 2
    random = RandomPolicy(seed=3)
    mask = np.ones((50, 4), dtype=bool)
    first = random.fresh().act(np.zeros((50, 1)), mask, None)  # type: ignore[arg-type]
    again = random.fresh().act(np.zeros((50, 1)), mask, None)  # type: ignore[arg-type]
    assert np.array_equal(first, again)  # each run draws the same numbers


@pytest.mark.parametrize(
    ("factory", "params", "message"),
    [
        (make_bandit, {"kind": "thompson", "alpha": 0.5}, "alpha: 0.5 is for kind linucb"),
        (make_bandit, {"kind": "ucb", "epsilon": 2.0}, "epsilon: 2.0 is not a probability"),
        (make_bandit, {"kind": "ucb", "attribution_days": 30}, "a multiple of 7"),
        (train_uplift, {"attribution_days": 0}, "attribution_days: 0"),
        (train_uplift, {"users": 3}, "users: 3"),
        (Playbook, {"price": "free_lunch"}, "price: 'free_lunch'; allowed: an offer"),
        (Playbook, {"min_recency_days": float("nan")}, "min_recency_days: nan"),
        (Playbook, {"min_recency_days": "abc"}, "min_recency_days: 'abc'"),
    ],
)
def test_factories_check_their_parameters_before_any_work(factory, params, message) -> None:
    with pytest.raises(ValueError, match=message):
        check_params(factory, CATALOGUE, params)


def test_the_evaluation_policy_returns_its_decision() -> None:
    """Like every policy, the agent's returns (users, offers); the simulation sends them and
    keeps what happened as ``last_delivery``; the policy counts the sends once."""
    scenario = presets.streaming(n_users=2000, horizon_days=28)
    policy = AgentPolicy(as_agent(Playbook(min_recency_days=0.0)), scenario, CATALOGUE, 28)
    sim = Simulation(scenario, CATALOGUE, seed=1)
    sim.run_until(0)
    users, offers = policy(sim, 0) or (np.zeros(0), np.zeros(0))
    assert users.size > 0 and offers.min() >= 0
    assert sim.last_delivery is None and policy.sends == []  # nothing was sent yet
    sim = Simulation(scenario, CATALOGUE, seed=1, policy=policy)
    sim.run()
    assert sim.last_delivery is not None
    policy.count(sim)
    policy.count(sim)  # the last decision's sends are counted once
    assert len(policy.sends) == 4  # decisions on days 0, 7, 14, 21
    assert int(policy.offer_mix().sends.sum()) == sum(parts[0].size for parts in policy.sends)


def test_light_agent_modules_import_no_heavy_library() -> None:
    code = (
        "import agents.reference, agents.base, agents.evaluate, agents.bandits, sys; "
        "print(sorted(m for m in ('torch', 'stable_baselines3', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
