"""The estimators scored against the simulator's truth: a small bench end to end."""

from __future__ import annotations

import numpy as np

from agents.reference import Blanket, NoOffer
from experiments.ope.behaviour import Uniform, log_decisions, target_distribution
from experiments.ope.bench import bench, reward_model, summarise, true_value
from sim import presets

SCENARIO = presets.streaming(n_users=2000, horizon_days=84)
CATALOGUE = presets.streaming_offers()


def test_a_small_bench_scores_every_estimator_against_the_truth() -> None:
    targets = {"nothing": NoOffer(), "discount_30": Blanket(offer="discount_30")}
    table = bench(SCENARIO, CATALOGUE, Uniform, targets, seeds=[1, 2], truth_reps=4, boot=20)
    assert len(table) == 2 * 2 * 6 and table.truth.notna().all()
    summary = summarise(table)
    assert set(summary.columns) >= {"bias", "rmse", "relative_error", "coverage", "ess_share"}
    assert (summary.replications == 2).all()
    direct = table[(table.estimator == "dm")]
    assert (direct.low <= direct.high).all()


def test_the_reward_model_is_cross_fitted_and_the_truth_is_a_weighted_mean() -> None:
    log = log_decisions(Uniform(), SCENARIO, CATALOGUE, seed=3, once=True, truth_reps=4)
    q = reward_model(log, seed=0)
    assert q.shape == (log.n_rounds, log.n_actions) and np.isfinite(q).all()
    assert np.array_equal(q, reward_model(log, seed=0))  # deterministic per seed
    nothing = target_distribution(NoOffer(), log)
    assert true_value(log, nothing) == np.mean(log.truth[:, 0])


def test_the_command_writes_its_tables_and_plots_and_names_bad_input(tmp_path, capsys) -> None:
    import json

    from experiments.cli import main

    out = tmp_path / "ob"
    args = ["ope-bench", "--users", "1000", "--days", "84", "--replications", "2",
            "--truth-reps", "2", "--boot", "20", "--targets", "nothing,blanket_discount_30",
            "--out", str(out), "--json"]  # fmt: skip
    assert main(args) == 0
    for name in ("rounds.csv", "summary.csv", "summary.json", "plots/coverage.png"):
        assert (out / name).exists(), name
    meta = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert meta["replications"] == 2 and meta["targets"] == ["nothing", "blanket_discount_30"]
    assert main(["ope-bench", "--logger", "psychic", "--out", str(tmp_path / "x")]) == 2
    assert "--logger: 'psychic'; allowed: uniform" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # refused before any work


def test_log_sizes_are_checked_before_any_work(tmp_path, capsys) -> None:
    from experiments.cli import main

    out = tmp_path / "ob"
    assert main(["ope-bench", "--users", "500", "--out", str(out)]) == 2
    assert "--users: 500 is not allowed" in capsys.readouterr().err
    assert not out.exists()
