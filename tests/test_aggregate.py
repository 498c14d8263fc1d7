"""``winback aggregate``: one column per swept parameter, other commands' results passed
over, an unreadable summary named by its path, runs paired seed by seed against one
(sweep folders made by hand: no simulation)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

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
    table, _ = aggregate(tmp_path)
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
    table, _ = aggregate(tmp_path)
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
    table, _ = aggregate(tmp_path)
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


def fake_seeds(folder: Path, profits: dict[str, list[float]]) -> None:
    """The run's tidy.parquet: incremental profit per agent and seed 1, 2, ..."""
    rows = [
        {"agent": a, "seed": s, "metric": m, "value": v if m == "incremental_profit" else 1.0}
        for a, values in profits.items()
        for s, v in enumerate(values, start=1)
        for m in ("incremental_profit", "roi")
    ]
    pd.DataFrame(rows).to_parquet(folder / "tidy.parquet")


def test_against_pairs_each_agent_seed_by_seed(tmp_path) -> None:
    arms = {
        "{}": {"uplift": [10.0, 20.0, 30.0], "playbook": [5.0, 5.0, 5.0]},
        "{price:0}": {"uplift": [8.0, 17.0, 29.0], "playbook": [5.0, 5.0, 5.0]},
        "{content:0}": {"uplift": [10.0, 20.0], "thompson": [1.0, 2.0]},  # seed 3 not run
    }
    for i, (signals, profits) in enumerate(arms.items()):
        fake_run(tmp_path / str(i), [f"scenario.signals={signals}", "seeds=[1,2,3]"], 1.0)
        fake_seeds(tmp_path / str(i), profits)
    aggregate(tmp_path, against="scenario.signals={}")
    pairs = pd.read_csv(tmp_path / "paired.csv").set_index(["scenario.signals", "agent"])
    assert set(pairs.index) == {("{price:0}", "uplift"), ("{price:0}", "playbook")} | {
        ("{content:0}", "uplift")
    }  # the base run is not compared with itself; thompson is not in the base run
    price = pairs.loc[("{price:0}", "uplift")]
    differences = np.array([-2.0, -3.0, -1.0])
    half = stats.t.ppf(0.975, 2) * differences.std(ddof=1) / np.sqrt(3)
    assert price.run_minus_against == pytest.approx(-2.0)
    assert (price.ci_low, price.ci_high) == pytest.approx((-2.0 - half, -2.0 + half))
    assert pairs.loc[("{price:0}", "playbook")].run_minus_against == 0.0  # inert: nothing
    assert pairs.loc[("{content:0}", "uplift")].seeds == 2  # the seeds both ran
    assert (tmp_path / "paired.png").stat().st_size > 5000


@pytest.mark.parametrize(
    "against, message",
    [
        ("scenario.signals", r"has no '='; allowed: KEY=VALUE of a swept key"),
        ("seeds=[1,2,3]", r"'seeds' is not a swept key .*; allowed keys: scenario.signals"),
        ("scenario.signals={technical:0}", r"picks no run; allowed: \{\}, \{price:0\}"),
    ],
)
def test_a_bad_against_is_named_before_anything_is_written(tmp_path, against, message) -> None:
    for i, signals in enumerate(["{}", "{price:0}"]):
        fake_run(tmp_path / str(i), [f"scenario.signals={signals}"], 1.0)
        fake_seeds(tmp_path / str(i), {"uplift": [1.0, 2.0]})
    with pytest.raises(ValueError, match=message):
        aggregate(tmp_path, against=against)
    assert not (tmp_path / "sweep.csv").exists()


def test_a_run_without_its_tidy_table_is_named(tmp_path) -> None:
    for i, signals in enumerate(["{}", "{price:0}"]):
        fake_run(tmp_path / str(i), [f"scenario.signals={signals}"], 1.0)
    fake_seeds(tmp_path / "0", {"uplift": [1.0, 2.0]})
    with pytest.raises(ValueError, match=f"{tmp_path / '1' / 'tidy.parquet'}: unreadable"):
        aggregate(tmp_path, against="scenario.signals={}")


def test_signal_value_reads_a_signal_sweep(tmp_path) -> None:
    """The evidence script joins shares, the paired ablation and the matched-offer shares."""
    from experiments.evidence.signal_value import signal_value

    for i, (signals, uplift) in enumerate([("{}", [9.0, 11.0]), ("{price:0}", [6.0, 7.0])]):
        run = tmp_path / str(i)
        fake_run(run, [f"scenario.signals={signals}"], 1.0)
        fake_seeds(run, {"pain_point_rule": uplift})
        summary = json.loads((run / "summary.json").read_text())
        summary["agents"]["pain_point_rule"]["learned"] = True
        (run / "summary.json").write_text(json.dumps(summary))
        mix = pd.DataFrame(
            {
                "agent": "pain_point_rule",
                "pain_point": ["price", "price", "technical"],
                "offer": ["discount_30", "reminder_email", "support_call"],
                "sends": [3 - i, 1 + i, 2],
            }
        )
        mix.to_parquet(run / "offer_mix.parquet")
    table = signal_value(tmp_path).set_index("signals")
    assert table.at["{price:0}", "worth"] == pytest.approx(3.5)  # all signals minus silenced
    assert pd.isna(table.at["{}", "worth"])  # the run the others are paired with
    assert table.at["{}", "matched_price"] == 0.75
    assert table.at["{price:0}", "matched_price"] == 0.5
    assert table.at["{}", "matched_technical"] == 1.0
    assert table.at["{}", "matched_price_elsewhere"] == 0.0  # no discount to the technical
    assert table.at["{}", "matched_technical_elsewhere"] == 0.0
    assert pd.isna(table.at["{}", "matched_content"])  # no sends to that pain point
    assert table.learned.all()
    assert (tmp_path / "signal_value.csv").exists()


def test_signal_value_across_training_replicates(tmp_path) -> None:
    """Each sweep folder a training replicate on the same evaluation seeds: the difference
    from all signals averaged over both, its interval holding the replicates' and the seeds'
    spread; shares of the one reference."""
    from experiments.evidence.signal_value import across

    folders = []
    for k, (base, silenced) in enumerate([([9.0, 11.0], [6.0, 7.0]), ([10.0, 10.0], [9.0, 9.0])]):
        folder = tmp_path / f"replicate_{k}"
        for i, (signals, profits) in enumerate([("{}", base), ("{price:0}", silenced)]):
            run = folder / str(i)
            fake_run(run, [f"scenario.signals={signals}"], 1.0)
            reference = {"full_information": [20.0, 20.0]} if k == 0 else {}
            fake_seeds(run, {"pain_point_rule": profits, **reference})
            summary = json.loads((run / "summary.json").read_text())
            template = summary["agents"]["pain_point_rule"]
            agents = {"pain_point_rule": profits, **reference}
            means = {a: float(np.mean(v)) for a, v in agents.items()}
            interval = {a: {"mean": m, "ci_low": m - 1, "ci_high": m + 1} for a, m in means.items()}
            summary["agents"] = {a: {**template, "incremental_profit": interval[a]} for a in means}
            summary["reference"] = "full_information"
            (run / "summary.json").write_text(json.dumps(summary))
            pd.DataFrame(
                {"agent": ["pain_point_rule"], "pain_point": ["price"], "offer": ["discount_30"],
                 "sends": [1]}
            ).to_parquet(run / "offer_mix.parquet")  # fmt: skip
        folders.append(folder)
    table = across(folders).set_index(["signals", "agent"])
    row = table.loc[("{price:0}", "pain_point_rule")]
    # differences: replicate 0 seeds 1, 2: -3, -4; replicate 1: -1, -1. The variance of the
    # replicate means (-3.5, -1) over 2 plus that of the seed means (-2, -2.5) over 2
    variance = np.var([-3.5, -1.0], ddof=1) / 2 + np.var([-2.0, -2.5], ddof=1) / 2
    half = stats.t.ppf(0.975, 1) * np.sqrt(variance)
    assert row.replicates == 2 and row.worth == pytest.approx(2.25)
    assert (row.worth_ci_low, row.worth_ci_high) == pytest.approx((2.25 - half, 2.25 + half))
    assert row.share_of_reference == pytest.approx((6.5 + 9.0) / 2 / 20.0)


def test_against_a_number_picks_the_run_whatever_its_spelling(tmp_path) -> None:
    for i, threshold in enumerate(["0.5", "1"]):
        fake_run(tmp_path / str(i), [f"agent.uplift.threshold={threshold}"], 1.0)
        fake_seeds(tmp_path / str(i), {"uplift": [1.0 + i, 2.0 + i]})
    _, pairs = aggregate(tmp_path, against="agent.uplift.threshold=1.0")
    assert pairs is not None and pairs["agent.uplift.threshold"].tolist() == [0.5]
    assert pairs.run_minus_against.tolist() == [-1.0]


def test_against_reads_a_mapping_as_hydra_does(tmp_path) -> None:
    for i, signals in enumerate(["{price:0,content:0}", "{}"]):
        fake_run(tmp_path / str(i), [f"scenario.signals={signals}"], 1.0)
        fake_seeds(tmp_path / str(i), {"uplift": [1.0 + i, 2.0 + i]})
    _, pairs = aggregate(tmp_path, against="scenario.signals={content: 0, price: 0}")
    assert pairs is not None and pairs["scenario.signals"].tolist() == ["{}"]


def test_replicates_must_be_of_one_sweep(tmp_path, capsys) -> None:
    """The evidence script refuses a folder given twice and a folder of another world, by
    name, and writes nothing before every folder is checked."""
    from experiments.evidence.signal_value import across, main

    for name, users in [("a", 600), ("b", 600), ("c", 900)]:
        for i, signals in enumerate(["{}", "{price:0}"]):
            run = tmp_path / name / str(i)
            fake_run(run, [f"scenario.signals={signals}"], 1.0)
            summary = json.loads((run / "summary.json").read_text())
            (run / "summary.json").write_text(json.dumps({**summary, "users": users}))
            fake_seeds(run, {"pain_point_rule": [1.0, 2.0]})
            pd.DataFrame({"agent": [], "pain_point": [], "offer": [], "sends": []}).to_parquet(
                run / "offer_mix.parquet"
            )
    with pytest.raises(ValueError, match="is given twice"):
        across([tmp_path / "a", tmp_path / "a"])
    with pytest.raises(ValueError, match=r"c: world .*'users': 900.* is not the first folder's"):
        across([tmp_path / "a", tmp_path / "c"])
    assert not list(tmp_path.rglob("signal_value.csv"))  # nothing written
    import sys

    sys.argv = ["signal_value", str(tmp_path / "a"), str(tmp_path / "c")]
    assert main() == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert len(across([tmp_path / "a", tmp_path / "b"])) == 2  # one agent, two settings
