"""Optuna tuning over the benchmark: an SQLite study that resumes after an interruption,
re-running only what had not finished; bad search spaces fail before any trial."""

from __future__ import annotations

import json
import subprocess
import sys

import optuna
import pandas as pd
import pytest

from experiments.config.tune import tune_config
from experiments.jobs.tune import judge, run_tuning, study_lock


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
        "tune.rescore_top=2",
        "tune.rescore_seeds=[7,8]",
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
    # the two best trials and the defaults re-run on the fresh seeds 7 and 8, paired
    rescored = pd.read_csv(out / "rescore.csv")
    assert set(rescored.seed) == {7, 8} and rescored.candidate.nunique() == 3
    assert "defaults" in set(rescored.candidate) and best["winner"] in set(rescored.candidate)
    assert best["verdict"][0].startswith("On 2 fresh seeds:")


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


def test_resumed_study_with_other_settings_is_refused(tmp_path) -> None:
    run_tuning([*overrides(tmp_path, 1), "tune.rescore_top=0"], tmp_path / "out")
    changed = [*overrides(tmp_path, 2), "tune.rescore_top=0", "scenario.users=500"]
    expected = r"started with other settings \(scenario.users: 400 -> 500"
    with pytest.raises(ValueError, match=expected):
        run_tuning(changed, tmp_path / "out")


def test_a_study_in_use_by_another_process_is_refused(tmp_path) -> None:
    cfg = tune_config(
        {"space": {"a": {"key": "k", "choices": [1]}}, "study": "tune_thompson",
         "storage": f"sqlite:///{tmp_path / 'study.db'}"}
    )  # fmt: skip
    with study_lock(cfg, tmp_path), pytest.raises(ValueError, match="in use by another"):
        run_tuning(overrides(tmp_path, 1), tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("storage", "message"),
    [
        ("sqlite:///{tmp}/notes.txt", "is not an SQLite database"),
        ("sqlite:///{tmp}", "is not a file"),
        ("sqlite:////proc/winback/study.db", "cannot be created"),
    ],
)
def test_bad_storage_is_refused_before_any_work(tmp_path, storage, message) -> None:
    (tmp_path / "notes.txt").write_text("my notes, not a database")
    args = [*overrides(tmp_path, 1), f"tune.storage={storage.format(tmp=tmp_path)}"]
    with pytest.raises(ValueError, match=message):
        run_tuning(args, tmp_path / "out")
    assert (tmp_path / "notes.txt").read_text() == "my notes, not a database"
    assert not (tmp_path / "out").exists()


def _table(values: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"candidate": c, "seed": s, "incremental_profit": v}
            for c, vs in values.items()
            for s, v in enumerate(vs)
        ]
    )


def test_verdict_names_a_clear_winner() -> None:
    table = _table({"trial 3": [110, 120, 130], "defaults": [50, 61, 70]})
    verdict = judge(table, {"trial 3": 140})
    assert verdict["winner"] == "trial 3"
    assert "Winner: trial 3, ahead of defaults" in verdict["verdict"][-1]
    assert "[in tuning +140]" in verdict["verdict"][0]


def test_verdict_says_when_trials_cannot_be_told_apart_or_none_pays() -> None:
    close = judge(_table({"trial 1": [100, 90, 120], "trial 2": [105, 80, 118]}), {})
    assert "cannot be told apart" in close["verdict"][-1]
    unclear = judge(_table({"trial 1": [-5, 10, -20], "defaults": [-30, -25, -40]}), {})
    assert any("None of them is clearly better than doing" in v for v in unclear["verdict"])
    assert not any("either will do" in v for v in unclear["verdict"])  # nothing to choose
    losing = judge(_table({"trial 1": [-50, -40, -45], "defaults": [-60, -55, -58]}), {})
    assert "All of them lose money" in losing["verdict"][1] and len(losing["verdict"]) == 2


def winback_tune(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "experiments.cli", "tune", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_tune_help_says_what_the_keys_mean() -> None:
    out = winback_tune("--help")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: winback tune")
    for key in ("rescore_top", "storage", "--out"):
        assert key in out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--frobnicate"], "winback: error: --frobnicate: unknown option"),
        (["experiment=tune_thompson", "tune.colour=red"], "winback: error: tune.colour"),
        (["scenario.users=5"], "winback: error: tune: missing; allowed: experiment=tune_thompson"),
    ],
)
def test_tune_bad_arguments_fail_in_one_line(tmp_path, args, message) -> None:
    out = winback_tune("--out", str(tmp_path / "out"), *args)
    assert out.returncode == 2
    assert out.stderr.startswith(message), out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert not (tmp_path / "out").exists()
