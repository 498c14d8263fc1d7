"""Reference policies: masks respected, save -> load -> same actions, the playbook's rules,
the pain-point rule beats every other policy it is compared with on a fixed seed, and the
full-information reference beats the pain-point rule."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import numpy as np
import pytest

from agents.bandits import make_bandit
from agents.base import NOTHING, Context
from agents.evaluate import evaluate
from agents.reference import (
    Blanket,
    FullInformation,
    NoOffer,
    PainPointRule,
    Playbook,
    RandomPolicy,
)
from agents.uplift import train_uplift
from sim import Signals, Simulation, presets
from sim.envs.observation import Encoder, observation_names
from sim.lookahead import expected_gains

SCENARIO = replace(presets.streaming(n_users=20_000, horizon_days=182), warmup_days=56)
MONTHLY = replace(SCENARIO, epoch_days=28)  # decisions every four weeks
CATALOGUE = presets.streaming_offers()


@pytest.fixture(scope="module")
def batch():
    sim = Simulation(SCENARIO, CATALOGUE, seed=4)
    sim.run_until(28)
    obs = Encoder(SCENARIO, CATALOGUE)(sim, 0.1)
    latent = {
        k: getattr(sim.pop, k) for k in ("pain", "price_sens", "content_need", "friction", "tech")
    }
    names = observation_names(SCENARIO, CATALOGUE)
    ctx = Context(names, CATALOGUE.names, 28.0, latent, partial(expected_gains, sim))
    return obs, sim.mask(), ctx


AGENTS = [
    NoOffer(),
    RandomPolicy(seed=3),
    Blanket(offer="discount_30"),
    Playbook(),
    PainPointRule(),
    FullInformation(reps=2, days=28),
    FullInformation(pooled=False, reps=2, days=28),
]


@pytest.mark.parametrize("agent", AGENTS, ids=lambda a: a.name)
def test_actions_respect_masks_and_survive_save_load(agent, batch, tmp_path) -> None:
    obs, mask, ctx = batch
    actions = agent.act(obs, mask, ctx)
    assert actions.shape == (obs.shape[0],)
    assert np.all(mask[np.arange(obs.shape[0]), actions])
    agent.save(tmp_path / "agent.json")
    again = type(agent).load(tmp_path / "agent.json")
    assert again.describe() == agent.describe()
    assert np.array_equal(
        again.act(obs, mask, ctx), type(agent).load(tmp_path / "agent.json").act(obs, mask, ctx)
    )
    if not isinstance(agent, RandomPolicy):
        assert np.array_equal(again.act(obs, mask, ctx), actions)


def test_playbook_follows_the_survey(batch) -> None:
    obs, mask, ctx = batch
    actions = Playbook().act(obs, mask, ctx)
    col = {n: i for i, n in enumerate(ctx.feature_names)}
    k = {n: 1 + i for i, n in enumerate(ctx.offer_names)}
    for reason, offer in (
        ("technical", "support_call"),
        ("discovery", "recommendations"),
        ("price", "discount_30"),
    ):
        said = obs[:, col[f"survey_{reason}"]] > 0.5
        sent = actions[said] > 0
        assert sent.any() and np.all(actions[said][sent] == k[offer])


def test_a_playbook_can_send_nothing_to_a_group(batch) -> None:
    obs, mask, ctx = batch
    only_price = dict.fromkeys(("content_churned", "content", "discovery", "technical"), NOTHING)
    actions = Playbook(**only_price, default=NOTHING).act(obs, mask, ctx)
    col = {n: i for i, n in enumerate(ctx.feature_names)}
    said_price = obs[:, col["survey_price"]] > 0.5
    assert actions[said_price].any()  # the same sends to the price group as before
    assert np.array_equal(actions[said_price], Playbook().act(obs, mask, ctx)[said_price])
    assert not actions[~said_price].any()  # nothing to anyone else
    Playbook.validate(CATALOGUE, price="discount_30", default=NOTHING)
    with pytest.raises(ValueError, match=r"default: 'none'; allowed: .*, or 'nothing'"):
        Playbook.validate(CATALOGUE, default="none")


def test_the_references_say_what_they_need(batch) -> None:
    obs, mask, ctx = batch
    blind = replace(ctx, lookahead=None)  # what a Gymnasium environment hands an agent
    with pytest.raises(ValueError, match="full_information: needs the simulation's look-ahead"):
        FullInformation().act(obs, mask, blind)
    with pytest.raises(ValueError, match=r"pain_point_rule: ctx\.latent must hold"):
        PainPointRule().act(obs, mask, replace(ctx, latent={}))
    with pytest.raises(ValueError, match="reps: 1"):
        FullInformation(reps=1)


def test_the_full_information_reference_is_the_same_at_any_signal_strength() -> None:
    """The reference reads the hidden state; the signals, noisy readings of it, are not
    among what it learns from, so it earns the same bit for bit whether they are pure noise
    or plain (the yardstick of experiment=signal_value's runs)."""
    profits = []
    for strength in (0.0, 1.0):
        signals = Signals(strength, strength, strength, strength)
        scenario = replace(MONTHLY, n_users=4_000, signals=signals)
        agents = {"full_information": partial(FullInformation, reps=4)}
        tidy, *_ = evaluate(agents, scenario, CATALOGUE, seeds=[3])
        profits.append(tidy[tidy.metric == "incremental_profit"].value.item())
    assert profits[0] == profits[1] != 0.0


def test_the_full_information_reference_beats_the_pain_point_rule() -> None:
    agents = {
        "pain_point_rule": PainPointRule,
        "full_information": FullInformation,
    }
    tidy, *_ = evaluate(agents, MONTHLY, CATALOGUE, seeds=[7])
    profit = tidy[tidy.metric == "incremental_profit"].set_index("agent")["value"]
    assert profit["full_information"] > profit["pain_point_rule"] > 0, profit.to_dict()
    predicted = tidy[tidy.metric == "predicted_gain"]["value"].item()
    assert predicted > 0  # the look-ahead's own estimate of its chosen offers, recorded


def test_loading_another_agents_file_fails_clearly(tmp_path) -> None:
    Playbook().save(tmp_path / "p.json")
    with pytest.raises(ValueError, match="expected PainPointRule"):
        PainPointRule.load(tmp_path / "p.json")


def test_the_pain_point_rule_beats_every_other_policy_on_a_fixed_seed() -> None:
    agents = {
        "random": lambda: RandomPolicy(seed=1),
        "blanket_discount": lambda: Blanket(offer="discount_30"),
        "blanket_recommendations": lambda: Blanket(offer="recommendations"),
        "playbook": Playbook,
        "thompson": lambda: make_bandit("thompson", pretrain_users=2048, seed=1),
        "linucb": lambda: make_bandit("linucb", pretrain_users=2048, seed=1, alpha=0.5),
        "uplift": lambda: train_uplift(users=8192, block=4096, pool_size=20_000, seed=1),
        "pain_point_rule": PainPointRule,
    }
    tidy, _, mix, _ = evaluate(agents, MONTHLY, CATALOGUE, seeds=[7])
    profit = tidy[tidy.metric == "incremental_profit"].set_index("agent")["value"]
    assert profit.idxmax() == "pain_point_rule", profit.to_dict()
    assert profit["blanket_discount"] < 0  # discounting everyone loses money
    rule_mix = mix[mix.agent == "pain_point_rule"].groupby("pain_point").offer.unique()
    assert set(rule_mix["technical"]) == {"support_call"}


def test_paired_differences() -> None:
    import pandas as pd

    from agents.evaluate import paired_difference

    tidy = pd.DataFrame(
        {
            "agent": ["a", "b", "pain_point_rule"] * 3,
            "seed": [1, 1, 1, 2, 2, 2, 3, 3, 3],
            "metric": ["incremental_profit"] * 9,
            "value": [10.0, 4.0, 20.0, 12.0, 5.0, 22.0, 8.0, 3.0, 18.0],
        }
    )
    d = paired_difference(tidy, "a", "b")
    assert d["mean"] == pytest.approx(6.0) and d["n"] == 3
    assert d["ci_low"] > 0  # the differences 6, 7, 5 are consistently positive


class RuleEngine:
    """A user's own policy, as in the README's worked example: no base class needed."""

    name = "my_rule_engine"

    def act(self, obs, mask, ctx):
        col = ctx.feature_names.index("recency")
        k = 1 + ctx.offer_names.index("recommendations")
        wanted = np.where(obs[:, col] * 365 > 56, k, 0)  # quiet for 8+ weeks: recommend
        return np.where(mask[np.arange(len(wanted)), wanted], wanted, 0)

    def update(self, obs, actions, rewards):
        pass

    def describe(self):
        return {"name": self.name, "rule": "recommendations after 8 quiet weeks"}


def test_bring_your_own_policy_is_evaluated_like_ours() -> None:
    tidy, summary, _, _ = evaluate(
        {"mine": RuleEngine, "playbook": Playbook}, MONTHLY, CATALOGUE, seeds=[1, 2]
    )
    assert set(tidy.agent) == {"mine", "playbook"}
    mine = summary[(summary.agent == "mine") & (summary.metric == "messages_sent")]
    assert float(mine["mean"].iloc[0]) > 0


def test_the_pooled_estimate_weighs_each_users_own_by_its_noise() -> None:
    from agents.reference import _shrunk

    nan = np.nan
    mean = np.array([[0.0, 2.0], [0.0, -2.0], [0.0, 4.0], [0.0, nan]])
    se = np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [0.0, nan]])
    # the estimates spread 8 around the prior 0, their noise 1: the truth spreads 7
    post, sd = _shrunk(mean, se, np.zeros_like(mean))
    np.testing.assert_allclose(post[:3, 1], [1.75, -1.75, 3.5])
    np.testing.assert_allclose(sd[:3, 1], np.sqrt(7 / 8))
    assert np.isnan(post[3, 1]) and (post[:, 0] == 0).all()
    # noise as large as the spread: nothing is left of the users' own estimates
    post, sd = _shrunk(mean, se * 10, np.full_like(mean, 0.5))
    np.testing.assert_allclose(post[:3, 1], 0.5)
    np.testing.assert_allclose(sd[:3, 1], 0.0)
