"""The web app's logic without a browser: the scenario form, the offers table, the config
folders, the command a comparison runs, past runs."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.app import comparison, history, workspace
from experiments.app.offers_table import copy_row, read, table_of
from experiments.app.scenario_form import build, cadence, form_of
from experiments.config import CONF
from experiments.config.scenario import catalogue_from
from sim import presets

BASE = presets.streaming(n_users=10_000, horizon_days=182)
OFFERS = presets.streaming_offers()


# ------------------------------------------------------------------ the scenario form
def test_the_untouched_form_gives_the_base_scenario_back() -> None:
    scenario, problems = build(BASE, form_of(BASE))
    assert problems == {} and scenario == BASE


def test_a_price_rise_and_a_scheduled_change_reach_the_scenario() -> None:
    form = form_of(BASE)
    form = replace(
        form,
        prices={**form.prices, "standard": "17.49"},
        price_changes=[{"day": 30, "plan": "premium", "monthly_price": 24.99}],
    )
    scenario, problems = build(BASE, form)
    assert problems == {} and scenario is not None
    assert {p.name: p.monthly_price for p in scenario.plans}["standard"] == 17.49
    assert [(c.day, c.plan, c.monthly_price) for c in scenario.price_changes] == [
        (30, "premium", 24.99)
    ]


def test_every_bad_field_gets_its_own_message_at_once() -> None:
    form = replace(
        form_of(BASE),
        users=500,
        prices={**form_of(BASE).prices, "standard": "$17.99", "basic": "-1"},
        price_changes=[{"day": 400, "plan": "standard", "monthly_price": 20}],
        release_every="weekly",
        shares={**form_of(BASE).shares, "loyal": 0},
    )
    scenario, problems = build(BASE, form)
    assert scenario is None
    assert problems["users"] == (
        "scenario.users: 500 is not allowed; allowed: a whole number from 1,000 to 1,000,000"
    )
    assert problems["price.standard"] == (
        "plans.standard.monthly_price: '$17.99' is not a number; allowed: a number >= 0, e.g. 17.99"
    )
    assert problems["price.basic"].startswith("plans.basic.monthly_price: '-1' is negative")
    assert problems["price_changes"].startswith("price_changes[0].day: 400 is not allowed")
    assert problems["release_every"].startswith("releases (every): 'weekly' is not a number")
    assert problems["share.loyal"] == "segments.loyal.weight: 0; allowed: a share in % above 0"


def test_a_price_change_names_only_plans_the_scenario_has() -> None:
    form = replace(form_of(BASE), price_changes=[{"day": 3, "plan": "gold", "monthly_price": 9}])
    _, problems = build(BASE, form)
    assert problems["price_changes"] == (
        "price_changes[0].plan: 'gold'; allowed: basic, standard, premium"
    )


def test_release_cadence_and_segment_mix() -> None:
    scenario, _ = build(BASE, replace(form_of(BASE), release_every="14"))
    assert scenario is not None and [r.day for r in scenario.releases][:3] == [0, 14, 28]
    assert cadence(BASE).startswith("a new title about every 7 days")
    none, _ = build(BASE, replace(form_of(BASE), release_every=0))
    assert none is not None and none.releases == () and cadence(none) == "no releases"
    shares = dict.fromkeys(form_of(BASE).shares, 10.0)
    mixed, _ = build(BASE, replace(form_of(BASE), shares=shares))
    assert mixed is not None and len({s.weight for s in mixed.segments}) == 1


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=8))
def test_any_typed_price_is_a_scenario_or_a_named_message(text: str) -> None:
    form = form_of(BASE)
    scenario, problems = build(BASE, replace(form, prices={**form.prices, "basic": text}))
    assert (scenario is None) == bool(problems)
    if problems:
        assert problems["price.basic"].startswith("plans.basic.monthly_price: ")
        assert "allowed: " in problems["price.basic"]


# ------------------------------------------------------------------ the offers table
def test_the_table_round_trips_the_catalogue() -> None:
    catalogue, problems = read(table_of(OFFERS), BASE)
    assert problems == {} and catalogue == OFFERS


def test_offer_messages_are_the_clis() -> None:
    table = table_of(OFFERS)
    table.loc[1, "discount"] = 1.5
    table.loc[2, "lift"] = None
    table.loc[3, "eligible"] = "lapsed"
    table["duration_days"] = table["duration_days"].astype(float)  # as the editor gives it
    table.loc[4, "duration_days"] = 2.5
    catalogue, problems = read(table, BASE)
    assert catalogue is None
    assert problems[1] == (
        "offers.discount_30.discount: 1.5 is not a probability; allowed: a number in [0, 1]"
    )
    assert problems[2] == "offers.discount_50_sms.lift: empty; allowed: a number >= 0"
    assert problems[3].startswith("offers.free_trial_30.eligible: 'lapsed'")
    assert problems[4].startswith("offers.recommendations.duration_days: 2.5 is not whole")
    with pytest.raises(ValueError, match=r"discount: 1.5 is not a probability"):
        offer = {"name": "discount_30", "kind": "discount", "channel": "email", "discount": 1.5}
        catalogue_from({"offers": [offer]})  # the CLI's reader: the same words


def test_an_empty_catalogue_and_duplicate_names_are_refused() -> None:
    empty = table_of(OFFERS).iloc[0:0]
    assert read(empty, BASE) == (
        None,
        {-1: "offers.offers: []; allowed: a list of at least one offer"},
    )
    twice = pd.concat([table_of(OFFERS).iloc[:1]] * 2, ignore_index=True)
    _, problems = read(twice, BASE)
    assert problems[-1].startswith("offers: duplicate offer names")


def test_a_free_trial_needs_a_subscription_business() -> None:
    _, problems = read(table_of(OFFERS), presets.retail(n_users=1_000))
    assert "free_trial_30" in problems[-1]


def test_copy_gives_a_new_name_below_the_row() -> None:
    table = copy_row(copy_row(table_of(OFFERS), 1), 1)
    assert list(table["name"][:4]) == [
        "reminder_email", "discount_30", "discount_30_copy2", "discount_30_copy",
    ]  # fmt: skip
    catalogue, problems = read(table, BASE)
    assert problems == {} and catalogue is not None and len(catalogue) == 9


# ------------------------------------------------------------------ config folders
def test_scenarios_load_as_the_cli_composes_them(tmp_path: Path) -> None:
    (tmp_path / "scenario").mkdir()
    (tmp_path / "scenario" / "mine.yaml").write_text("preset: retail\nname: mine\nusers: 2000\n")
    (tmp_path / "scenario" / "broken.yaml").write_text("preset: streaming\nusres: 5\n")
    names = {c.name: c.source for c in workspace.choices("scenario", tmp_path)}
    assert names["streaming"] == "built-in" and names["mine"] == "yours"
    scenario, preset = workspace.load_scenario("mine", tmp_path)
    assert (scenario.name, scenario.n_users, preset) == ("mine", 2000, "retail")
    with pytest.raises(ValueError, match=r"usres"):
        workspace.load_scenario("broken", tmp_path)
    (tmp_path / "scenario" / "bad.yaml").write_text("preset: [streaming\n")
    with pytest.raises(ValueError, match=r"bad.yaml: malformed YAML, line 2"):
        workspace.load_scenario("mine", tmp_path)


def test_saves_go_to_the_users_folder_and_the_cli_reads_them(tmp_path: Path) -> None:
    path = workspace.save_offers(OFFERS, "spring", tmp_path, overwrite=False)
    assert path == tmp_path / "offers" / "spring.yaml"
    assert workspace.load_offers("spring", tmp_path) == OFFERS
    with pytest.raises(ValueError, match=r"save as: .* exists; allowed: a new name"):
        workspace.save_offers(OFFERS, "spring", tmp_path, overwrite=False)
    with pytest.raises(ValueError, match=r"save as: 'retail' is a built-in offers name"):
        workspace.save_offers(OFFERS, "retail", tmp_path, overwrite=True)
    with pytest.raises(ValueError, match=r"--config-dir: .* the package's own config folder"):
        workspace.save_offers(OFFERS, "spring", CONF, overwrite=True)
    risen = replace(
        BASE, plans=tuple(replace(p, monthly_price=p.monthly_price + 2) for p in BASE.plans)
    )
    workspace.save_scenario(risen, "streaming", "rise", tmp_path, overwrite=False)
    loaded, _ = workspace.load_scenario("rise", tmp_path)
    assert loaded == replace(risen, name="rise")


# ------------------------------------------------------------------ the command it runs
def spec(**changes: object) -> comparison.Spec:
    base = comparison.Spec(
        scenario=BASE,
        preset="streaming",
        catalogue=OFFERS,
        policies=("no_offer", "playbook", "uplift"),
        blankets=("discount_30",),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_the_command_is_the_benchmarks_with_the_runs_own_config(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    args = comparison.check(spec(), folder)
    assert args[:3] == ["benchmark", "--config-dir", str((folder / "config").resolve())]
    assert "agent=[no_offer,playbook,uplift,blanket_discount_30]" in args
    assert "agent.uplift.users=40960" in args  # quick budgets, for selected agents only
    assert not any(a.startswith("agent.thompson") for a in args)
    assert args[-1] == f"hydra.run.dir={folder.resolve()}"
    written = yaml.safe_load((folder / "config" / "scenario" / "app.yaml").read_text())
    assert written == {"name": "streaming", "preset": "streaming", "users": 10000, "days": 182}
    assert not (folder / "summary.json").exists()  # checked, nothing run


def test_a_bad_run_is_refused_with_the_clis_message(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"Could not load 'agent/nobody'"):
        comparison.check(spec(policies=("nobody",)), tmp_path / "a")
    lean = replace(OFFERS, offers=OFFERS.offers[:2])
    with pytest.raises(
        ValueError,
        match=r"agent.playbook.content_churned: 'free_trial_30'; allowed: an offer of the "
        r"catalogue: reminder_email, discount_30",
    ):
        comparison.check(spec(catalogue=lean, blankets=()), tmp_path / "b")


def test_a_users_own_policy_is_trusted_and_on_the_search_path(tmp_path: Path) -> None:
    conf = tmp_path / "my_conf"
    (conf / "agent").mkdir(parents=True)
    (conf / "agent" / "mine.yaml").write_text("mine:\n  _target_: examples.byop.RecencyRules\n")
    mine = {p.name: p for p in comparison.policies(conf)}["mine"]
    assert (mine.source, mine.module) == ("yours", "examples.byop")
    s = spec(policies=("no_offer", "mine"), user_conf=conf, user_policies={"mine": mine.target})
    args = comparison.check(s, tmp_path / "run")
    assert args[1] == "--trust=examples.byop"
    assert f"hydra.searchpath=[file://{conf.resolve()}]" in args


def test_plan_and_stress_commands(tmp_path: Path) -> None:
    stress = comparison.argv(spec(command="stress", extra=("worlds=3",)), tmp_path / "s")
    assert stress[0] == "stress" and "worlds=3" in stress
    plan = comparison.check(spec(command="plan", extra=("plan.policy=playbook",)), tmp_path / "p")
    assert plan[:3] == ["plan", "--out", str((tmp_path / "p").resolve())]
    assert any(a.startswith("hydra.searchpath=[file://") for a in plan)
    with pytest.raises(ValueError, match=r"plan.policy: 'pain_point_rule' sees what no real"):
        comparison.check(
            spec(
                command="plan",
                policies=("pain_point_rule",),
                extra=("plan.policy=pain_point_rule",),
            ),
            tmp_path / "q",
        )


def test_every_policy_is_described_by_its_config_file() -> None:
    offered = {p.name: p.words for p in comparison.policies(Path("no_such_folder"))}
    assert "blanket" not in offered and "campaign" not in offered
    assert offered["no_offer"].startswith("sends nothing: the control")
    assert all(offered.values())
    assert set(offered) <= set(comparison.PLAIN)  # every built-in policy has plain words


def test_the_ranked_table_leaves_out_columns_with_no_value(tmp_path: Path) -> None:
    nan = float("nan")
    board = pd.DataFrame(
        {
            "agent": ["no_offer", "playbook"],
            "rank": [1, 2],
            "incremental_profit": [0.0, -200.7],
            "incremental_profit_ci_low": [nan, nan],  # one seed: no interval
            "incremental_profit_ci_high": [nan, nan],
            "incremental_reactivated_users": [0.0, 14.0],
            "cost_per_incremental_reactivation": [nan, 13.2],
            "roi": [nan, -1.08],
            "offer_spend": [0.0, 185.0],
            "unsubscribes": [0.0, 211.0],
            "share_of_reference": [nan, nan],  # no reference run
        }
    )
    res = comparison.Results(
        folder=tmp_path, summary={"reference": None}, board=board, mix=pd.DataFrame()
    )
    table = comparison.ranked_table(res)
    assert "95% interval" not in table and "% of the reference" not in table
    assert list(table.columns[:3]) == ["#", "policy", "incremental profit"]
    assert list(table["cost per extra back"].isna()) == [True, False]  # kept: one value
    board["incremental_profit_ci_low"] = [0.0, -400.0]
    board["incremental_profit_ci_high"] = [0.0, -1.0]
    shown = comparison.ranked_table(replace(res, board=board))
    assert list(shown["95% interval"]) == ["+0 to +0", "-400 to -1"]


# ------------------------------------------------------------------ past runs
def test_past_runs_lists_finished_folders_newest_first(tmp_path: Path) -> None:
    done = tmp_path / "benchmark" / "a"
    done.mkdir(parents=True)
    (done / "leaderboard.csv").write_text("agent\n")
    summary = {"agents": {"uplift": {"incremental_profit": {"mean": 12.0}}}}
    (done / "summary.json").write_text(json.dumps(summary))
    unfinished = tmp_path / "benchmark" / "b"
    unfinished.mkdir()
    (unfinished / "leaderboard.csv").write_text("agent\n")
    runs = history.past_runs(tmp_path)
    assert [r.folder for r in runs] == [done]
    assert runs[0].kind == "benchmark" and runs[0].headline == "best: uplift +12"


def test_your_playbook_is_a_config_file_the_cli_checks(tmp_path: Path) -> None:
    fields = dict.fromkeys(comparison.PLAYBOOK_FIELDS, "nothing") | {"price": "discount_30"}
    args = comparison.check(spec(playbook={**fields, "min_recency_days": 14}), tmp_path / "a")
    assert "agent=[no_offer,playbook,uplift,my_playbook,blanket_discount_30]" in args
    node = yaml.safe_load((tmp_path / "a" / "config" / "agent" / "my_playbook.yaml").read_text())
    assert node["my_playbook"]["price"] == "discount_30"
    assert node["my_playbook"]["default"] == "nothing"
    with pytest.raises(ValueError, match=r"agent.my_playbook.price: 'half_off'; allowed: an offer"):
        comparison.check(spec(playbook={**fields, "price": "half_off"}), tmp_path / "b")


def test_long_runs_are_the_benchmark_or_a_sweep_checked_whole(tmp_path: Path) -> None:
    conf = tmp_path / "my_conf"
    conf.mkdir()
    full = comparison.check_plain("benchmark", None, ["seeds=[1,2]"], tmp_path / "a", conf)
    assert full[:3] == ["benchmark", "--config-dir", str(conf.resolve())]
    assert full[-1] == f"hydra.run.dir={(tmp_path / 'a').resolve()}"
    sweep = comparison.check_plain("sweep", "sweep_budget", [], tmp_path / "b", conf)
    assert sweep[:2] == ["benchmark", "-m"] and "experiment=sweep_budget" in sweep
    assert sweep[-1] == f"hydra.sweep.dir={(tmp_path / 'b').resolve()}"
    with pytest.raises(ValueError, match=r"scenario.dayz: unknown key \(did you mean days\?\)"):
        comparison.check_plain("benchmark", None, ["scenario.dayz=5"], tmp_path / "c", conf)
    with pytest.raises(ValueError, match=r"kind: 'tune'; allowed: benchmark, sweep"):
        comparison.check_plain("tune", None, [], tmp_path / "d", conf)
    assert not any((tmp_path / x).exists() for x in "abcd")  # checked, nothing written
