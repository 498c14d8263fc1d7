"""The benchmark: configs compose into typed objects, agents come from ``_target_`` (ours
and a user's own), bad input fails before any work, and a tiny run writes the leaderboard."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_module
from hydra.errors import ConfigCompositionException

import agents.rl  # noqa: F401  (imported up front: the timing below measures validation only)
from agents.bandits import GroupBandit, make_bandit
from agents.evaluate import run_agent
from experiments.config.hydra_apps import benchmark_config
from experiments.jobs import benchmark
from sim import presets

CONF = Path(__file__).resolve().parents[1] / "conf"
TINY = [
    "scenario.users=1500",
    "scenario.days=56",
    "seeds=[1,2]",
    "progress=false",
    "agent.thompson.pretrain_users=512",
    "agent.maskable_ppo.total_timesteps=512",
    "agent.maskable_ppo.num_envs=8",
    "agent.maskable_ppo.progress_bar=false",
    "agent.maskable_ppo.eval_every=256",
    "agent.maskable_ppo.eval_users=50",
]


def typed(overrides: list[str], tmp_path: Path) -> benchmark.BenchmarkConfig:
    """What the Hydra app builds (``trust=[...]`` stands for ``--trust``)."""
    with initialize_config_module("conf", version_base=None):
        cfg = compose("benchmark", overrides=overrides)
    return benchmark_config(cfg, tmp_path, tuple(cfg.trust))


@pytest.mark.parametrize("name", sorted(p.stem for p in (CONF / "scenario").glob("*.yaml")))
def test_every_scenario_config_composes(name, tmp_path) -> None:
    pick = [f"experiment={name}"] if name in ("retail", "cdnow") else [f"scenario={name}"]
    cfg = typed([*pick, "scenario.users=100"], tmp_path)
    assert cfg.scenario.name == name and cfg.scenario.n_users == 100


@pytest.mark.parametrize("name", ["streaming", "retail"])
def test_catalogue_yaml_is_the_preset(name, tmp_path) -> None:
    cfg = typed(["experiment=retail"] if name == "retail" else [], tmp_path)
    assert cfg.catalogue == presets.CATALOGUES[name]()


@pytest.mark.parametrize("name", sorted(p.stem for p in (CONF / "agent").glob("*.yaml")))
def test_every_agent_config_instantiates(name, tmp_path) -> None:
    small = {
        "pretrain_users": "512",
        "total_timesteps": "256",
        "num_envs": "4",
        "progress_bar": "false",
        "train_users": "1000",
        "reason_train_users": "1000",
        "users": "1024",  # the uplift policy's training customers
    }
    node = (CONF / "agent" / f"{name}.yaml").read_text()
    overrides = [f"agent=[{name}]", "scenario.users=100"]
    overrides += [f"agent.{name}.{k}={v}" for k, v in small.items() if f"  {k}:" in node]
    cfg = typed(overrides, tmp_path)
    for key, spec in cfg.agents.items():
        agent = benchmark.build_agent(spec, cfg.scenario, cfg.catalogue)
        assert agent.describe()["name"] == key or name in ("maskable_ppo", "ppo", "a2c", "dqn")


def test_quick_experiment_config_composes(tmp_path) -> None:
    cfg = typed(["experiment=quick"], tmp_path)
    assert cfg.scenario.n_users == 10_000 and cfg.scenario.horizon_days == 182
    assert cfg.agents["maskable_ppo"]["total_timesteps"] == 500_000


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("scenario.users=-5", "scenario.users: -5"),
        ("scenario.preset=moon", "scenario.preset: 'moon'"),
        ("+scenario.colour=red", "scenario.colour: unknown key"),
        ("agent.blanket.offer=free_lunch", "agent.blanket.offer: 'free_lunch'"),
        ("seeds=[]", "seeds: \\[\\]"),
        ("scenario.epoch_days=0", "scenario.epoch_days: 0"),
        ("offers.offers.0.discount=1.5", "discount: 1.5"),
        ("+offers.offers.1.colour=red", "offers.offers\\[1\\].colour: unknown key"),
        ("+surprise=1", "surprise: unknown key"),
        ("agent=[]", "no agent selected"),
        ("+agent.mine._target_=nowhere.Policy", "agent.mine._target_: 'nowhere.Policy'"),
        ("attribution_days=-1", "attribution_days: -1"),
        ("scenario.days=3", "scenario.days: 3"),
        ("+scenario.dynamics.colour=1", "scenario.dynamics.colour: unknown key"),
        ("+scenario.dynamics.price_weight=-1", "dynamics.price_weight: -1"),
        ("+scenario.dynamics.deal_shock_prob=1.5", "dynamics.deal_shock_prob: 1.5"),
        ("offers.offers.0.channel=pigeon", "channel: 'pigeon'"),
        ("offers.offers.0.kind=bribe", "kind: 'bribe'"),
        ("offers.offers.0.cost_per_send=-1", "cost_per_send: -1"),
        ("offers.offers=[]", "offers.offers: \\[\\]"),
        ("agent.thompson.budget_per_period=-1", "agent.thompson.budget_per_period: -1"),
        ("agent.thompson.pretrain_users=-3", "agent.thompson.pretrain_users: -3"),
        ("agent.thompson.kind=magic", "agent.thompson.kind: 'magic'"),
        ("+agent.thompson.temperature=2", "agent.thompson.temperature: unknown key"),
        ("+agent.maskable_ppo.gamma=1.5", "agent.maskable_ppo.gamma: 1.5"),
        ("agent.maskable_ppo.algorithm=sarsa", "agent.maskable_ppo.algorithm: 'sarsa'"),
        ("+agent.maskable_ppo.lr=0.1", "agent.maskable_ppo.lr: unknown key"),
        (
            "scenario.price_changes=[{day: 30, plan: gold, monthly_price: 1}]",
            "price_changes\\[0\\].plan: 'gold'",
        ),
        ("+agent.mine._target_=shutil.copyfile", "agent.mine._target_: 'shutil.copyfile' is not"),
        ("seeds=[1,1]", "seeds: \\[1, 1\\]; allowed: a non-empty list of distinct"),
        ("agent.playbook.price=free_lunch", "agent.playbook.price: 'free_lunch'"),
        ("agent.blanket.offer=5", "agent.blanket.offer: '5'"),
        ("baseline=champion", "baseline: 'champion' is not one of the selected agents; allowed"),
    ],
)
def test_bad_input_names_key_and_value(override, message, tmp_path) -> None:
    start = time.perf_counter()
    with pytest.raises(ValueError, match=message):
        typed([override], tmp_path)
    assert time.perf_counter() - start < 1.0  # before any work
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize(
    ("override", "key", "expected"),
    [
        ("seeds=abc", "seeds", "is not a ListConfig"),
        ("seeds=[a]", "seeds[0]", "converted to Integer"),
        ("attribution_days=abc", "attribution_days", "converted to Integer"),
        ("agent.thompson.budget_per_period=abc", "agent.thompson.budget_per_period", "Float"),
        ("agent.maskable_ppo.total_timesteps=abc", "agent.maskable_ppo.total_timesteps", "Int"),
        ("scenario.price_changes=[{day: x}]", "day", "converted to Integer"),
        ("scenario.epoch_days=abc", "scenario.epoch_days", "converted to Integer"),
        ("scenario.users=abc", "scenario.users", "converted to Integer"),
        ("scenario.days=1.5", "scenario.days", "converted to Integer"),
        ("+scenario.dynamics.survey_accuracy=abc", "scenario.dynamics.survey_accuracy", "Float"),
        ("offers.offers=[1]", "offers.offers[0]", "OfferSchema"),
        ("offers.offers.0.lift=high", "offers.offers[0].lift", "converted to Float"),
        ("offers.offers.0.eligible=active", "offers.offers[0].eligible", "not a ListConfig"),
        ("progress=maybe", "progress", "not a valid bool"),
    ],
)
def test_wrong_types_fail_while_hydra_composes(override, key, expected, tmp_path) -> None:
    """The structured configs (experiments/schema.py) catch types before our checks run."""
    with pytest.raises(ConfigCompositionException, match="Error merging override") as info:
        typed([override], tmp_path)
    cause = str(info.value.__cause__)
    assert expected in cause and f"full_key: {key}" in cause, cause
    assert list(tmp_path.iterdir()) == []


def test_bad_budget_is_refused_before_any_work() -> None:
    with pytest.raises(ValueError, match="budget_per_period: 'abc'"):
        make_bandit("thompson", budget_per_period="abc", pretrain_users=10**6)


def test_tiny_benchmark_with_your_own_policy(tmp_path) -> None:
    overrides = [
        *TINY,
        "agent=[no_offer,blanket,playbook,pain_point_rule,full_information,thompson,maskable_ppo]",
        "agent.blanket.offer=recommendations",
        "agent.full_information.reps=2",
        "trust=[examples.byop]",
        "+agent.rules._target_=examples.byop.RecencyRules",
        "+agent.rules.quiet_days=42",
        "baseline=rules",  # the team's own rule engine: every policy compared with it
    ]
    result = benchmark.run(typed(overrides, tmp_path))
    board = pd.read_csv(tmp_path / "leaderboard.csv")
    assert set(board.agent) == {
        "no_offer", "blanket", "playbook", "pain_point_rule", "full_information", "thompson",
        "maskable_ppo", "rules",
    }  # fmt: skip
    assert list(board["rank"]) == list(range(1, 9))
    assert board.incremental_profit.is_monotonic_decreasing
    text = (tmp_path / "summary.json").read_text()
    saved = json.loads(text, parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))
    assert saved == json.loads(json.dumps(result))
    assert saved["agents"]["thompson"]["params"]["budget_per_period"] is None  # no budget
    assert saved["reference"] == "full_information"  # the yardstick when it runs
    reference = saved["agents"]["full_information"]
    assert reference["hidden"] and saved["agents"]["pain_point_rule"]["hidden"]
    assert not saved["agents"]["rules"]["hidden"]
    assert set(reference["diagnostics"]) == {"predicted_gain", "predicted_gain_se"}
    if reference["incremental_profit"]["ci_low"] > 0:
        assert reference["share_of_reference"] == pytest.approx(1.0)
    else:  # a share of a loss means nothing
        assert all(e["share_of_reference"] is None for e in saved["agents"].values())
    for entry in saved["agents"].values():
        ip = entry["incremental_profit"]
        assert ip["ci_low"] <= ip["mean"] <= ip["ci_high"]
    assert saved["agents"]["rules"]["params"]["quiet_days"] == 42
    assert saved["best_learned"] in ("thompson", "maskable_ppo")
    assert set(saved["best_learned_vs"]) == set(board.agent) - {saved["best_learned"]}
    tidy = pd.read_parquet(tmp_path / "tidy.parquet")
    assert len(tidy) == 8 * 2 * len(benchmark.METRICS) + 2 * 2  # and the reference's own two
    assert (tmp_path / "agents" / "thompson.npz").exists()
    assert (tmp_path / "agents" / "maskable_ppo.zip").exists()
    occupancy = pd.read_parquet(tmp_path / "occupancy.parquet")
    assert set(occupancy.agent) == set(board.agent) | {"control"}
    per_day = occupancy.groupby(["agent", "seed", "day"]).users.sum()
    assert (per_day == 1500).all()  # every user is in exactly one state every day
    curves = pd.read_csv(tmp_path / "learning_curves.csv")
    assert set(curves.agent) == {"thompson", "maskable_ppo"}
    page = (tmp_path / "report.html").read_text()
    for plot in ("incremental_profit", "occupancy", "offer_mix_by_pain_point", "learning_curves"):
        assert (tmp_path / "plots" / f"{plot}.png").stat().st_size > 5000
        assert f'alt="{plot}" src="data:image/png;base64,' in page
    assert "What we found" in page and "rules" in page
    # the baseline: every other policy's paired difference from it, by name
    assert saved["baseline"] == "rules"
    assert set(saved["versus_baseline"]) == set(board.agent) - {"rules"}
    wide = tidy.pivot_table(index="seed", columns=["metric", "agent"], values="value")
    for agent in set(board.agent) - {"rules"}:
        for metric, column in benchmark.VERSUS.items():
            diff = (wide[metric][agent] - wide[metric]["rules"]).mean()
            row = board.set_index("agent").loc[agent]
            assert row[column] == pytest.approx(diff)
            assert saved["versus_baseline"][agent][metric]["mean"] == pytest.approx(diff)
            assert row[f"{column}_ci_low"] <= row[column] <= row[f"{column}_ci_high"]
    assert np.isnan(board.set_index("agent").loc["rules", "vs_baseline"])
    assert "Against <b>rules</b>, the baseline" in page and "<th>vs rules</th>" in page


def test_report_of_a_folder_without_results_is_refused(tmp_path) -> None:
    from experiments.reporting.leaderboard import render

    with pytest.raises(ValueError, match=r"lacks summary.json"):
        render(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_target_that_is_not_an_agent_is_refused_before_any_work(tmp_path) -> None:
    overrides = ["agent=[no_offer]", "trust=[builtins]", "+agent.bad._target_=builtins.dict"]
    with pytest.raises(ValueError, match=r"agent.bad._target_: 'builtins.dict' has no act\(\)"):
        typed(overrides, tmp_path)  # a class without act(): refused with the config


def test_a_factory_whose_result_is_not_an_agent_is_refused(tmp_path) -> None:
    overrides = ["agent=[no_offer]", "trust=[math]", "+agent.bad._target_=math.isclose"]
    cfg = typed([*overrides, "+agent.bad.a=1", "+agent.bad.b=2"], tmp_path)  # known when built
    with pytest.raises(ValueError, match="has no act"):
        benchmark.build_agent(cfg.agents["bad"], cfg.scenario, cfg.catalogue)


def test_online_agents_learn_from_delayed_attributed_profit() -> None:
    scenario = presets.streaming(n_users=3000, horizon_days=84)
    catalogue = presets.streaming_offers()
    agent = GroupBandit(kind="epsilon", epsilon=1.0, n_actions=8, seed=0)
    seen: list[tuple[np.ndarray, np.ndarray]] = []
    original = agent.update

    def spy(obs, actions, rewards):
        seen.append((actions.copy(), rewards.copy()))
        original(obs, actions, rewards)

    agent.update = spy  # type: ignore[method-assign]
    run_agent(agent, scenario, catalogue, seed=3, attribution_days=28)
    # decisions on days 0..56 get feedback on days 28..84 (the run ends at day 84)
    assert len(seen) == 8
    actions = np.concatenate([a for a, _ in seen])
    rewards = np.concatenate([r for _, r in seen])
    assert agent.count.sum() == actions.size and set(np.unique(actions)) >= {0, 1, 5}
    assert np.isfinite(rewards).all() and rewards.std() > 0


def test_leaderboard_with_one_seed_says_there_is_no_interval() -> None:
    row = {
        "agent": "uplift", "rank": 1, "incremental_profit": 1025.0,
        "incremental_profit_ci_low": float("nan"), "incremental_profit_ci_high": float("nan"),
        "share_of_reference": float("nan"), "reactivation_rate": 0.5,
        "incremental_reactivated_users": 12.0, "cost_per_incremental_reactivation": 10.0,
        "roi": 1.0, "offer_spend": 100.0, "unsubscribes": 3.0,
    }  # fmt: skip
    text = benchmark.format_leaderboard(pd.DataFrame([row]))
    assert "+1,025 (one seed: no CI)" in text and "nan" not in text
    assert "+12" in text  # extra users back


def test_an_roi_on_a_spend_near_zero_is_shown_as_such() -> None:
    from experiments.reporting.leaderboard import ROI_SHOWN_UP_TO, roi_text

    assert roi_text(84.4, 63.0) == "spend near 0"  # what the table used to show
    assert roi_text(-ROI_SHOWN_UP_TO - 1, 10.0) == "spend near 0"
    assert roi_text(ROI_SHOWN_UP_TO, 10.0) == "20.00"
    assert roi_text(1.27, 1_096.0) == "1.27"
    assert roi_text(float("nan"), 0.0) == "-"
