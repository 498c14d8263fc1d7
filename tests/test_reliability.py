"""Bad input and faults from the reliability trial (issue 15, items 8-9): each is refused
before any work with one line naming the key, the value and what is allowed (exit code 2,
no traceback), and nothing already written is lost or left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_config import one_error_line

TINY = ["agent=[no_offer]", "scenario.users=200", "scenario.days=28", "seeds=[1]", "progress=false"]


def winback(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd)} if cwd else None
    cmd = [sys.executable, "-m", "experiments.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


def test_a_multirun_with_one_invalid_combination_runs_nothing(tmp_path) -> None:
    sweep = tmp_path / "sweep"
    done = winback("benchmark", "-m", *TINY, "scenario.days=28,-5,56", f"hydra.sweep.dir={sweep}")
    line = one_error_line(done)
    assert "multirun: run 1 of 3 (scenario.days=-5) is invalid: scenario.days: -5" in line
    assert not sweep.exists()


def test_a_folder_holding_another_configs_results_is_refused(tmp_path) -> None:
    run = tmp_path / "run"
    first = winback("benchmark", *TINY, f"hydra.run.dir={run}")
    assert first.returncode == 0, first.stderr
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    again = winback("benchmark", *TINY, f"hydra.run.dir={run}")  # the same config: skipped
    assert "already finished, skipped" in again.stdout
    other = winback("benchmark", *TINY, "seeds=[2]", f"hydra.run.dir={run}")
    assert "holds the results of another config" in one_error_line(other)
    after = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert after == before  # nothing of the first run touched
    assert json.loads((run / "config.json").read_text())["seeds"] == [1]


def test_a_run_folder_in_use_is_refused(tmp_path) -> None:
    from experiments.config.guard import hold

    run = tmp_path / "run"
    with hold(run, {"someone": "else"}):  # another run works in the folder
        done = winback("benchmark", *TINY, f"hydra.run.dir={run}")
    assert "holds the results of another config" in one_error_line(done)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["agent=[playbook]", "agent.playbook.min_recency_days=abc"], "min_recency_days"),
        (["agent=[playbook]", "agent.playbook.min_recency_days=nan"], "min_recency_days: nan"),
        (["seeds=[1,1]"], "seeds: [1, 1]; allowed: a non-empty list of distinct"),
        (["--trust", "builtins", "+agent.bad._target_=builtins.dict"], "has no act()"),
        (["+agent.x._target_=pandas.read_pickle"], "agent.x._target_: 'pandas.read_pickle'"),
        (["scenario=retail"], "offers.free_trial_30.kind: 'free_trial' needs a subscription"),
    ],
)
def test_bad_agent_and_scenario_values_fail_before_any_work(args, words, tmp_path) -> None:
    done = winback("benchmark", *TINY, *args, f"hydra.run.dir={tmp_path / 'run'}")
    assert words in one_error_line(done)
    assert not (tmp_path / "run").exists()


def test_an_import_error_in_your_module_names_its_cause(tmp_path) -> None:
    (tmp_path / "my_rules.py").write_text("import numpy\nraise RuntimeError('config file gone')\n")
    args = ["--trust", "my_rules", "+agent.mine._target_=my_rules.Policy"]
    done = winback("benchmark", *TINY, *args, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert "RuntimeError: config file gone" in one_error_line(done)


def test_malformed_yaml_in_your_config_folder_is_one_line(tmp_path) -> None:
    (tmp_path / "mine" / "scenario").mkdir(parents=True)
    (tmp_path / "mine" / "scenario" / "bad.yaml").write_text("preset: [streaming\n")
    args = ["--config-dir", str(tmp_path / "mine"), "scenario=bad"]
    done = winback("benchmark", *TINY, *args, f"hydra.run.dir={tmp_path / 'run'}")
    assert "bad.yaml: malformed YAML" in one_error_line(done)
    assert not (tmp_path / "run").exists()


def test_simulate_checks_its_output_folder_before_simulating() -> None:
    done = winback("simulate", "--users", "100000", "--out", "/proc/winback/x")
    assert "--out: '/proc/winback/x' cannot be created" in one_error_line(done)


def test_a_corrupt_summary_is_named_by_its_path(tmp_path) -> None:
    for name in ("leaderboard.csv", "offer_mix.parquet", "occupancy.parquet"):
        (tmp_path / name).write_text("")
    (tmp_path / "summary.json").write_text('{"agents": {')
    done = winback("report", str(tmp_path))
    assert f"{tmp_path / 'summary.json'}: unreadable" in one_error_line(done)


def test_your_policy_missing_a_required_parameter_fails_before_any_work(tmp_path) -> None:
    (tmp_path / "req_rules.py").write_text(
        "class Req:\n    def __init__(self, k):\n        self.k = k\n"
        "    def act(self, obs, mask, ctx): return mask[:, 0] * 0\n"
        "    def update(self, obs, actions, rewards): pass\n"
        "    def describe(self): return {'k': self.k}\n"
    )
    args = ["--trust", "req_rules", "+agent.r._target_=req_rules.Req"]
    done = winback("benchmark", *TINY, *args, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert "agent.r.k: missing; allowed: a value for every required parameter" in (
        one_error_line(done)
    )
    assert not (tmp_path / "run").exists()


def test_a_run_that_fails_before_any_result_leaves_the_folder_free(tmp_path) -> None:
    from experiments.config.guard import OWNER, check_folder, hold

    with pytest.raises(RuntimeError), hold(tmp_path, {"seeds": [1]}):
        raise RuntimeError("training crashed")
    assert not (tmp_path / OWNER).exists()
    check_folder(tmp_path, {"seeds": [2]})  # another config may use it now


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["tune.trials=1"], "cannot set a key inside an empty node (tune.trials"),
        (["experiment=tune_thompson", "tune.storage=postgresql://u@h/db"], "cannot be opened"),
        (["experiment=tune_thompson", "--out", "/proc/winback"], "--out: '/proc/winback'"),
    ],
)
def test_tune_refuses_what_it_cannot_use_in_one_line(args, words, tmp_path) -> None:
    storage = f"tune.storage=sqlite:///{tmp_path / 'db' / 's.db'}"
    extra = [] if any(a.startswith("tune.storage") for a in args) else [storage]
    done = winback("tune", *args, *extra)
    assert words in one_error_line(done)
    assert not (tmp_path / "db").exists()
