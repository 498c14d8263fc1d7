"""The config boundary: everything a scenario and a catalogue are can be said in YAML and as
an override, read back from what a run records; your own config folder; ``_target_`` only
from the project's agents or modules you trust; Hydra's complaints in one line, exit 2;
help that says what the keys mean; a command line that imports only what it uses."""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_module

from experiments.config.agent_schemas import FAMILIES
from experiments.config.agents import resolve_target
from experiments.config.hydra_apps import benchmark_config, finished
from experiments.config.scenario import (
    catalogue_from,
    catalogue_spec,
    scenario_from,
    scenario_spec,
    scenario_yaml,
)
from experiments.files import plain
from experiments.jobs import benchmark
from sim import presets
from sim.scenario import Channel, Plan, PriceChange, Release

TINY = ["scenario.users=600", "scenario.days=28", "seeds=[1]", "progress=false"]


def winback(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "experiments.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        env={**os.environ, **env},
    )


def typed(overrides: list[str], tmp_path: Path) -> benchmark.BenchmarkConfig:
    with initialize_config_module("conf", version_base=None):
        cfg = compose("benchmark", overrides=overrides)
    return benchmark_config(cfg, tmp_path)


def one_error_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("winback: error: "), done.stderr
    return lines[0]


# ------------------------------------------------------------------ every field, both ways
@pytest.mark.parametrize("preset", sorted(presets.SCENARIOS))
def test_a_recorded_scenario_reads_back_equal(preset) -> None:
    scenario = presets.SCENARIOS[preset](n_users=1234, horizon_days=100)
    spec = json.loads(json.dumps(scenario_spec(scenario)))  # as summary.json holds it
    assert scenario_from(spec) == scenario
    assert scenario_spec(scenario, preset) == {
        "name": preset, "preset": preset, "users": 1234, "days": 100
    }  # fmt: skip
    text = scenario_yaml(scenario, preset, ["a comment"])
    assert text.startswith("# a comment\n") and scenario_from(yaml.safe_load(text)) == scenario


@pytest.mark.parametrize("name", sorted(presets.CATALOGUES))
def test_a_recorded_catalogue_reads_back_equal(name) -> None:
    catalogue = presets.CATALOGUES[name]()
    assert catalogue_from(json.loads(json.dumps(catalogue_spec(catalogue)))) == catalogue


def test_every_scenario_field_can_be_set_by_override(tmp_path) -> None:
    """ "Our prices rise by $2 next month", and every other field of sim.Scenario."""
    overrides = [
        "scenario.price_changes=[{day: 30, plan: standard, monthly_price: 17.49}]",
        "scenario.plans=[{name: basic, monthly_price: 8.99}, {name: standard, "
        "monthly_price: 15.49, billing: annual}, {name: premium, monthly_price: 22.99}]",
        "scenario.releases=[{day: 14, genre: drama, appeal: 3.0}]",
        "scenario.genres=[drama, comedy]",
        "scenario.channels=[{name: email, cost_per_send: 0.01, open_rate: 0.5, "
        "unsubscribe_prob: 0.01, frequency_cap: 2}, {name: push, cost_per_send: 0.0, "
        "open_rate: 0.4, unsubscribe_prob: 0.01, frequency_cap: 4}, {name: sms, "
        "cost_per_send: 0.05, open_rate: 0.9, unsubscribe_prob: 0.02, frequency_cap: 1}]",
        "scenario.segments=[{name: loyal, weight: 2.0}, {name: newcomers, lapse_rate: 0.02}]",
        "scenario.dynamics.deal_shock_prob=0.3",
        "+scenario.dynamics.nudge_days=7",  # the + of earlier versions still works
        "scenario.epoch_days=14",
        "scenario.warmup_days=28",
        "scenario.inactive_after_days=42",
        "scenario.serving_cost_per_session=0.05",
        "scenario.name=price_rise",
    ]
    s = typed(overrides, tmp_path).scenario
    assert s.price_changes == (PriceChange(day=30, plan="standard", monthly_price=17.49),)
    assert s.plans[0] == Plan("basic", 8.99) and s.releases == (Release(14, "drama", 3.0),)
    assert s.plans[1] == Plan("standard", 15.49, billing="annual")
    assert s.genres == ("drama", "comedy") and s.channels[2] == Channel("sms", 0.05, 0.9, 0.02, 1)
    loyal = presets.streaming().segments[0]
    assert s.segments[0].weight == 2.0 and s.segments[0].lapse_rate == loyal.lapse_rate
    assert s.segments[1].name == "newcomers" and s.segments[1].lapse_rate == 0.02
    assert s.dynamics.deal_shock_prob == 0.3 and s.dynamics.nudge_days == 7
    assert (s.epoch_days, s.warmup_days, s.inactive_after_days) == (14, 28, 42)
    assert s.serving_cost_per_session == 0.05 and s.name == "price_rise"
    assert s.n_users == 50_000 and s.horizon_days == 365  # the schema's defaults


def test_offers_can_be_set_by_override(tmp_path) -> None:
    offers = "offers.offers=[{name: win_back, kind: discount, channel: sms, discount: 0.2}]"
    catalogue = typed([offers, "agent=[no_offer]"], tmp_path).catalogue
    assert catalogue.names == ["win_back"] and catalogue.offers[0].duration_days == 30


def test_a_benchmark_run_from_python_records_its_scenario_and_catalogue(tmp_path) -> None:
    scenario = presets.price_shock(n_users=500, horizon_days=28)
    catalogue = presets.streaming_offers()
    cfg = benchmark.BenchmarkConfig(
        scenario=scenario,
        catalogue=catalogue,
        agents={"no_offer": {"_target_": "agents.reference.NoOffer"}},
        seeds=(1,),
        out=tmp_path,
        progress=False,
    )
    result = benchmark.run(cfg)
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["scenario_spec"] == result["scenario_spec"]
    assert scenario_from(saved["scenario_spec"]) == scenario
    assert catalogue_from(saved["catalogue_spec"]) == catalogue
    assert saved["epoch_days"] == scenario.epoch_days


# ------------------------------------------------------------------ the command line
def test_your_own_config_folder(tmp_path) -> None:
    """The README's example: a folder with scenario/mine.yaml and offers/mine.yaml."""
    mine = tmp_path / "my_conf"
    (mine / "scenario").mkdir(parents=True)
    (mine / "offers").mkdir()
    (mine / "scenario" / "mine.yaml").write_text(
        "preset: streaming\nname: mine\nusers: 600\ndays: 28\n"
        "price_changes: [{day: 14, plan: standard, monthly_price: 17.49}]\n"
    )
    (mine / "offers" / "mine.yaml").write_text(
        "offers:\n  - {name: nudge, kind: reminder, channel: email, lift: 0.5}\n"
    )
    out = tmp_path / "run"
    done = winback(
        "benchmark", "--config-dir", str(mine), "scenario=mine", "offers=mine",
        "agent=[no_offer,blanket]", "seeds=[1]", "progress=false", f"hydra.run.dir={out}",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "mine" and set(summary["agents"]) == {"no_offer", "blanket_nudge"}
    assert summary["scenario_spec"]["price_changes"][0]["monthly_price"] == 17.49
    assert "mine" in winback("benchmark", "--config-dir", str(mine), "--help").stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["agent.thompson.pretrain_users=abc"], "agent.thompson.pretrain_users: Value 'abc'"),
        (["agent.thompson.colour=red"], "agent.thompson.colour: unknown key; allowed: _target_"),
        (["scenario=moon"], "Could not find 'scenario/moon'; Available options in 'scenario'"),
        (["every_days=14"], "every_days: unknown key; allowed: scenario, offers"),
        (["scenario.price_changes=[{day: 30}]"], "price_changes[0].plan: missing"),
        (["--frobnicate"], "--frobnicate: unknown option"),
        (["scenario.users=1,2"], "Ambiguous value for argument 'scenario.users=1,2'"),
        (["--config-dir", "/nowhere/at/all"], "--config-dir: '/nowhere/at/all' is not a folder"),
        (["scenario=retail"], "offers.free_trial_30.kind: 'free_trial' needs a subscription"),
    ],
)
def test_composition_errors_are_one_line_and_exit_2(args, expected, tmp_path) -> None:
    done = winback("benchmark", *args, f"hydra.run.dir={tmp_path / 'run'}")
    assert expected in one_error_line(done)
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------ the allow-list
EVIL = {
    "read_pickle": {"_target_": "pandas.read_pickle", "filepath_or_buffer": "{tmp}/crafted.pkl"},
    "copyfile": {"_target_": "shutil.copyfile", "src": "{tmp}/a", "dst": "{tmp}/written"},
    "marker": {"_target_": "evil_module.Policy"},
}


@pytest.mark.parametrize("name", sorted(EVIL))
def test_a_shared_config_cannot_run_code(name, tmp_path) -> None:
    """An experiment file naming any callable outside the allow-list is refused before
    anything is imported or written."""
    (tmp_path / "a").write_text("secret")
    (tmp_path / "evil_module.py").write_text(
        f"open({str(tmp_path / 'imported')!r}, 'w').write('x')\nclass Policy: pass\n"
    )
    node = {k: v.replace("{tmp}", str(tmp_path)) for k, v in EVIL[name].items()}
    conf = tmp_path / "shared_conf" / "experiment"
    conf.mkdir(parents=True)
    text = "# @package _global_\nagent:\n  evil: " + json.dumps(node) + "\n"
    (conf / "shared.yaml").write_text(text)
    args = ["--config-dir", str(conf.parent), "experiment=shared", "agent=[no_offer]"]
    done = winback("benchmark", *args, *TINY, f"hydra.run.dir={tmp_path / 'run'}",
                   cwd=tmp_path, PYTHONPATH=str(tmp_path))  # fmt: skip
    line = one_error_line(done)
    assert f"agent.evil._target_: {node['_target_']!r} is not allowed" in line
    assert "--trust MODULE" in line
    for left in ("imported", "written", "run"):
        assert not (tmp_path / left).exists()


def test_hydra_callbacks_and_launchers_are_checked_too(tmp_path) -> None:
    done = winback("benchmark", "+hydra.callbacks.x._target_=shutil.copyfile",
                   f"hydra.run.dir={tmp_path / 'run'}")  # fmt: skip
    assert "hydra.callbacks.x._target_: 'shutil.copyfile' is not allowed" in one_error_line(done)


def test_trust_only_from_the_command_line(tmp_path) -> None:
    conf = tmp_path / "conf" / "experiment"
    conf.mkdir(parents=True)
    (conf / "sneaky.yaml").write_text("# @package _global_\ntrust: [examples.byop]\n")
    done = winback("benchmark", "--config-dir", str(tmp_path / "conf"), "experiment=sneaky")
    assert "trust: ['examples.byop'] set in a config file" in one_error_line(done)
    assert "set as an override" in one_error_line(winback("benchmark", "trust=[os]"))


def test_your_own_policy_with_trust(tmp_path) -> None:
    """The README's bring-your-own-policy route, with its one added flag."""
    args = ["benchmark", "agent=[no_offer]", "+agent.rules._target_=examples.byop.RecencyRules",
            *TINY, f"hydra.run.dir={tmp_path / 'run'}"]  # fmt: skip
    assert "is not allowed" in one_error_line(winback(*args))
    done = winback(*args, "--trust", "examples.byop")
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert "rules" in summary["agents"] and summary["config"]["trust"] == ["examples.byop"]


# ------------------------------------------------------------------ help and start-up
@pytest.mark.parametrize("command", ["benchmark", "run"])
def test_help_says_what_the_keys_mean(command) -> None:
    done = winback(command, "--help")
    assert done.returncode == 0, done.stderr
    words = ("seeds", "attribution_days", "scenario.KEY", "price_changes", "--trust")
    words += ("--config-dir", "Config groups", "cdnow, content_drought", "Examples:")
    for word in words:
        assert word in done.stdout, word
    assert len(done.stdout.splitlines()) < 80  # not the whole config


def test_tune_help_and_hydra_flags_still_work() -> None:
    assert "tune.space" in winback("tune", "--help").stdout
    assert "--frobnicate: unknown option" in one_error_line(winback("tune", "--frobnicate"))
    job = winback("benchmark", "agent=[no_offer]", "--cfg", "job")
    assert job.returncode == 0 and yaml.safe_load(job.stdout)["agent"]["no_offer"]


HEAVY = ("torch", "stable_baselines3", "matplotlib", "optuna")


@pytest.mark.parametrize(
    "code",
    [
        "from experiments.cli import main; main(['--help'])",
        "from experiments.cli import main; main(['version'])",
        "import experiments.config.hydra_apps",  # what a sweep worker imports
    ],
)
def test_start_up_imports_only_what_it_uses(code) -> None:
    probe = f"import sys\ntry:\n    {code}\nexcept SystemExit:\n    pass\n"
    probe += f"print([m for m in {HEAVY!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_agent_schema_has_its_targets_parameters(family) -> None:
    """The schemas name exactly the keyword arguments of the agents they describe (a renamed
    or added parameter fails here, not in a user's run)."""
    path, schema = FAMILIES[family]
    target = resolve_target(family, path)
    params = inspect.signature(target).parameters
    takes = {n for n, p in params.items() if p.kind is not p.VAR_KEYWORD}
    takes -= {"self", "scenario", "catalogue"}
    keys = {f.name for f in dataclasses.fields(schema)} - {"_target_"}
    assert takes <= keys, takes - keys
    for extra in keys - takes:  # passed on through **params: the target's check knows them
        target.validate(**{extra: 1.0})


def test_a_finished_run_with_no_budget_is_recognised(tmp_path) -> None:
    """summary.json holds an infinite budget as null; the restart compares like with like."""
    cfg = typed(["agent=[thompson]", "agent.thompson.pretrain_users=0"], tmp_path)
    assert cfg.extra["config"]["agent"]["thompson"]["budget_per_period"] == float("inf")
    (tmp_path / "summary.json").write_text(json.dumps({"config": plain(cfg.extra["config"])}))
    (tmp_path / "report.html").write_text("done")
    assert finished(tmp_path, cfg.extra["config"], ("report.html",))
