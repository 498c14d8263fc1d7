"""The ``winback`` command: help, version, a small simulation, clear errors on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from experiments.cli import main
from sim import __version__


def winback(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "experiments.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_help_lists_the_commands() -> None:
    out = winback("--help")
    assert out.returncode == 0
    for command in ("demo", "simulate", "perf", "benchmark", "report", "tune", "aggregate", "plan"):
        assert command in out.stdout


def test_plan_refuses_bad_input_with_the_key(capsys, tmp_path) -> None:
    assert main(["plan", "plan.power=2", "--out", str(tmp_path / "p")]) == 2
    assert "plan.power: 2.0; allowed: a number in (0, 1)" in capsys.readouterr().err
    assert main(["plan", "--help"]) == 0
    assert "plan.validate" in capsys.readouterr().out
    assert not (tmp_path / "p").exists()


def test_version(capsys) -> None:
    assert main(["version"]) == 0
    assert __version__ in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--version"])


def test_simulate_prints_a_ranked_table_and_json(tmp_path) -> None:
    out = winback(
        "simulate",
        "--users",
        "3000",
        "--days",
        "56",
        "--offers",
        "reminder_email,discount_30",
        "--epoch-days",
        "28",
        "--out",
        str(tmp_path),
        "--json",
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    names = [p["policy"] for p in summary["policies"]]
    assert len(names) == 3 and "no offer (control)" in names
    profits = [p["incremental_profit"] for p in summary["policies"]]
    assert profits == sorted(profits, reverse=True)
    assert (tmp_path / "results.csv").stat().st_size > 0
    assert json.loads((tmp_path / "summary.json").read_text())["users"] == 3000


def test_simulate_writes_the_event_log_of_a_campaign(tmp_path) -> None:
    path = tmp_path / "logs" / "company.parquet"
    out = winback(
        "simulate", "--users", "2000", "--days", "56", "--offers", "reminder_email",
        "--campaign", "discount_30,recommendations", "--holdout-share", "0.3",
        "--event-log", str(path), "--json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    log = pd.read_parquet(path)
    assert summary["event_log"]["rows"] == len(log) > 2000
    assert set(log.arm.dropna()) == {"treatment", "holdout"}
    assert (log.propensity[log.arm == "holdout"] == 0.3).all()
    assert any(p["policy"].startswith("campaign: discount_30") for p in summary["policies"])
    assert list(path.parent.iterdir()) == [path]  # written whole, nothing left beside it


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["simulate", "--offers", "bribe"], ["offer", "bribe", "reminder_email"]),
        (["simulate", "--users", "0"], ["--users", "expected an integer >= 1"]),
        (["simulate", "--users", "abc"], ["--users", "'abc' is not an integer"]),
        (["simulate", "--scenario", "moon"], ["--scenario", "moon", "streaming"]),
        (["simulate", "--event-log", "log.txt"], ["--event-log", "*.csv or *.parquet"]),
        (["simulate", "--holdout-share", "0.3"], ["--holdout-share", "needs --campaign"]),
        (
            ["simulate", "--campaign", "bribe", "--event-log", "x.csv"],
            ["offers: 'bribe'", "discount_30"],
        ),
    ],
)
def test_bad_input_fails_fast_with_a_clear_message(args, words, tmp_path) -> None:
    out = winback(*args, "--out", str(tmp_path / "never"))
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    for word in words:
        assert word in out.stderr, out.stderr
    assert not (tmp_path / "never").exists()


def test_regret_command_writes_the_plot_and_data(tmp_path) -> None:
    out = winback("regret", "--users", "2048", "--block", "256", "--out", str(tmp_path), "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["users"] == 2048 and set(summary["regret"]) >= {"linucb", "thompson"}
    assert (tmp_path / "regret.png").stat().st_size > 10_000
    assert (tmp_path / "regret.csv").stat().st_size > 0


def test_benchmark_malformed_yaml_fails_in_one_clear_line(tmp_path) -> None:
    (tmp_path / "agent").mkdir()
    (tmp_path / "agent" / "broken.yaml").write_text("broken:\n  _target_: [agents.x\n")
    out = winback(
        "benchmark", f"hydra.searchpath=[file://{tmp_path}]", "agent=[broken]",
        f"hydra.run.dir={tmp_path / 'run'}",
    )  # fmt: skip
    assert out.returncode == 2
    assert "broken.yaml: malformed YAML, line 3" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "run").exists()


def test_benchmark_unwritable_output_folder_fails_clearly(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("I am a file, not a folder")
    out = winback("benchmark", f"hydra.run.dir={blocker / 'run'}", "agent=[no_offer]")
    assert out.returncode == 2
    assert "hydra.run.dir:" in out.stderr and "cannot be created" in out.stderr
    assert blocker.read_text() == "I am a file, not a folder"  # nothing lost


def test_benchmark_bad_value_exits_2_without_results(tmp_path) -> None:
    out = winback("benchmark", "scenario.users=-5", f"hydra.run.dir={tmp_path / 'run'}")
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "winback: error: scenario.users: -5 is not allowed; expected an integer >= 1 and "
        "<= 50000000"
    )
    assert not (tmp_path / "run" / "summary.json").exists()


def test_simulate_bills_every_plan_as_asked(tmp_path) -> None:
    """``--billing monthly``: the event log of a preset billed 'none' (cancellations at once)
    would otherwise be calibrated as if they waited for a period's end."""
    from experiments.jobs.simulate import simulate

    done = simulate("streaming", 300, 28, 1, "reminder_email", 28, record=True, billing="monthly")
    assert {p.billing for p in done.logged.scenario.plans} == {"monthly"}
    out = winback(
        "simulate", "--users", "300", "--days", "28", "--offers", "reminder_email",
        "--event-log", str(tmp_path / "log.csv"),
    )  # fmt: skip
    assert out.returncode == 0 and "simulate with --billing monthly" in out.stderr
