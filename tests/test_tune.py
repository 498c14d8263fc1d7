"""Optuna tuning over the benchmark: an SQLite study that resumes after an interruption,
re-running only what had not finished; bad search spaces fail before any trial."""

from __future__ import annotations

import json

import optuna
import pytest

from experiments.jobs.tune import run_tuning, tune_config


def overrides(tmp_path, trials: int) -> list[str]:
    return [
        "experiment=tune_thompson",
        "agent=[no_offer,thompson]",
        "scenario.users=400",
        "scenario.days=35",
        "seeds=[101]",
        f"tune.trials={trials}",
        f"tune.storage=sqlite:///{tmp_path / 'study.db'}",
        "tune.space.pretrain_users.high=2048",
    ]


def test_interrupted_study_resumes_with_only_unfinished_trials(tmp_path) -> None:
    out = tmp_path / "out"
    run_tuning(overrides(tmp_path, 2), out)
    first = (out / "trial_0000" / "summary.json").stat().st_mtime_ns
    # a third trial starts and is cut off (the process died): left RUNNING in the storage
    study = optuna.load_study(study_name="tune_thompson", storage=f"sqlite:///{tmp_path}/study.db")
    cut = study.ask()
    cut.suggest_float("prior_var", 1.0, 10000.0, log=True)
    cut.suggest_int("pretrain_users", 1024, 2048, log=True)
    table = run_tuning(overrides(tmp_path, 3), out)
    assert (out / "trial_0000" / "summary.json").stat().st_mtime_ns == first
    states = table.set_index("number").state.to_dict()
    assert states == {0: "COMPLETE", 1: "COMPLETE", 2: "FAIL", 3: "COMPLETE"}
    rerun = table.set_index("number").loc[3]
    assert rerun["params_prior_var"] == cut.params["prior_var"]
    best = json.loads((out / "best.json").read_text())
    assert best["value"] == table[table.state == "COMPLETE"].value.max()
    assert (out / "history.png").exists()


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ({"space": {}}, "tune.space: {}"),
        ({"space": {"a": {"key": "k", "low": 5, "high": 1}}}, "tune.space.a: low 5 >= high 1"),
        ({"space": {"a": {"key": "k", "low": 0, "high": 1, "log": True}}}, "tune.space.a.low: 0"),
        ({"space": {"a": {"key": "k", "low": "x", "high": 1}}}, "tune.space.a.low: 'x'"),
        ({"space": {"a": {"low": 1, "high": 2}}}, "tune.space.a.key: None"),
        ({"space": {"a": {"key": "k", "choices": []}}}, "tune.space.a.choices: \\[\\]"),
        ({"space": {"a": {"key": "k", "choices": [1]}}, "trials": 0}, "tune.trials: 0"),
        ({"space": {"a": {"key": "k", "choices": [1]}}, "storage": "x.db"}, "tune.storage: 'x.db'"),
        ({"space": {"a": {"key": "k", "choices": [1]}}, "colour": 1}, "tune.colour: unknown key"),
    ],
)
def test_bad_search_space_is_refused(node, message) -> None:
    with pytest.raises(ValueError, match=message):
        tune_config(node)
