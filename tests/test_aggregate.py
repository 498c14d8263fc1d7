"""``winback aggregate``: one column per swept parameter, other commands' results passed
over, an unreadable summary named by its path (sweep folders made by hand: no simulation)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from experiments.jobs.aggregate import aggregate


def fake_run(folder: Path, overrides: list[str], profit: float) -> None:
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    agent = {
        "incremental_profit": {"mean": profit, "ci_low": profit - 10, "ci_high": profit + 10},
        "share_of_reference": 0.5, "roi": 1.2, "offer_spend": 100.0, "unsubscribes": 3.0,
    }  # fmt: skip
    summary = {"scenario": "streaming", "users": 600, "agents": {"pain_point_rule": agent}}
    (folder / "summary.json").write_text(json.dumps(summary))


def test_one_column_per_swept_parameter(tmp_path) -> None:
    for i, (scenario, seed) in enumerate([("streaming", 0), ("streaming", 1), ("price_shock", 0)]):
        overrides = [f"scenario={scenario}", f"agent.random.seed={seed}", "seeds=[1,2]"]
        fake_run(tmp_path / str(i), [*overrides, "hydra.launcher.n_jobs=2"], 100.0 * i)
    table = aggregate(tmp_path)
    assert list(table.columns[:3]) == ["run", "agent.random.seed", "scenario (swept)"]
    assert table["agent.random.seed"].tolist() == [0, 1, 0]  # numbers, not text
    assert "seeds" not in table.columns  # the same in every run: not swept
    saved = pd.read_csv(tmp_path / "sweep.csv")
    assert saved["scenario (swept)"].tolist() == ["streaming", "streaming", "price_shock"]
    assert (tmp_path / "sweep.png").stat().st_size > 5000


def test_other_commands_results_are_left_out_with_a_note(tmp_path, capsys) -> None:
    fake_run(tmp_path / "0", ["scenario=retail"], 5.0)
    (tmp_path / "simulated").mkdir()
    (tmp_path / "simulated" / "summary.json").write_text(json.dumps({"policies": []}))
    table = aggregate(tmp_path)
    assert len(table) == 1
    assert "left out: simulated" in capsys.readouterr().err


def test_unreadable_summary_is_named_by_its_path(tmp_path) -> None:
    fake_run(tmp_path / "0", ["scenario=retail"], 5.0)
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "summary.json").write_text('{"agents": {"ora')
    with pytest.raises(ValueError, match=f"{tmp_path / '1' / 'summary.json'}: unreadable"):
        aggregate(tmp_path)


def test_a_folder_without_benchmark_results_is_refused(tmp_path) -> None:
    (tmp_path / "summary.json").write_text(json.dumps({"policies": []}))
    with pytest.raises(ValueError, match="holds no finished benchmark run"):
        aggregate(tmp_path)


def test_a_swept_agent_list_keeps_the_agent_column(tmp_path) -> None:
    fake_run(tmp_path / "0", ["agent=[no_offer,pain_point_rule]"], 5.0)
    fake_run(tmp_path / "1", ["agent=[no_offer,playbook]"], 7.0)
    table = aggregate(tmp_path)
    assert table["agent"].tolist() == [
        "pain_point_rule",
        "pain_point_rule",
    ]  # the row's agent, as summarised
    assert table["agent (swept)"].tolist() == ["[no_offer,pain_point_rule]", "[no_offer,playbook]"]
    assert (tmp_path / "sweep.png").exists()


def test_the_aggregate_command_prints_the_table(tmp_path) -> None:
    import subprocess
    import sys

    fake_run(tmp_path / "0", ["scenario=retail"], 5.0)
    fake_run(tmp_path / "1", ["scenario=streaming"], 6.0)
    cmd = [sys.executable, "-m", "experiments.cli", "aggregate", str(tmp_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "scenario (swept)" in done.stdout and "sweep.csv" in done.stdout
