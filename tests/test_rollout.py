"""The report's "Before you roll out" (``experiments.reporting.rollout``) on results folders
made by hand (no simulation): what it says when the benchmark's winner is or is not the
robust choice, when nothing beats doing nothing, when the plan is for another policy; the
JSON that ``winback report --json`` prints; a wrong folder named before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.cli import main
from experiments.reporting.rollout import rollout, section_html


def _agent(rank: int, profit: float, share: float | None, hidden: bool = False) -> dict:
    return {
        "rank": rank,
        "incremental_profit": {"mean": profit, "ci_low": profit - 100, "ci_high": profit + 100},
        "share_of_reference": share,
        "learned": False,
        "hidden": hidden,
        "diagnostics": {},
    }


def _benchmark(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    agents = {
        "full_information": _agent(1, 10_000.0, 1.0, hidden=True),
        "uplift": _agent(2, 6_000.0, 0.6) | {"learned": True},
        "playbook": _agent(3, 1_000.0, 0.1),
        "no_offer": _agent(4, 0.0, 0.0),
    }
    agents["full_information"]["diagnostics"] = {
        "predicted_gain": {"mean": 20_000.0, "ci_low": 19_000.0, "ci_high": 21_000.0, "n": 3}
    }
    summary = {
        "scenario": "streaming", "users": 10_000, "days": 182, "agents": agents,
        "reference": "full_information", "best_learned": "uplift",
    }  # fmt: skip
    (folder / "summary.json").write_text(json.dumps(summary))


def _stress(folder: Path, choice: str, users: int = 10_000) -> None:
    folder.mkdir(parents=True)
    rows = [
        {"agent": choice, "candidate": True, "mean": 5000.0, "p10": 3000.0, "worst": 2000.0,
         "nominal": 5000.0, "share_best": 0.8, "share_within": 0.9, "worst_regret": 900.0,
         "share_losing": 0.0},
        {"agent": "pain_point_rule", "candidate": False, "mean": 4000.0, "p10": 2000.0,
         "worst": 1000.0, "nominal": 4000.0, "share_best": 0.0, "share_within": 0.1,
         "worst_regret": 3000.0, "share_losing": 0.0},
    ]  # fmt: skip
    summary = {
        "scenario": "streaming", "users": users, "days": 182, "worlds": 20, "within": 0.05,
        "robust_choice": choice, "recommendation": f"Across 20 plausible worlds, `{choice}` ...",
        "rule": "the highest 10th percentile", "robustness": rows,
    }  # fmt: skip
    (folder / "summary.json").write_text(json.dumps(summary))
    (folder / "robustness.csv").write_text("agent\n")
    (folder / "rank_stability.png").write_bytes(b"\x89PNG\r\n\x1a\n")


def _plan(folder: Path, policy: str) -> None:
    folder.mkdir(parents=True)
    effect = {"mean": 0.0331, "ci_low": 0.02, "ci_high": 0.045}
    plan = {
        "metric": "reactivation", "alpha": 0.05, "power": 0.8, "entrants": 5000,
        "simulated_customers": 10_000, "effect": effect, "per_arm": 4810,
        "per_arm_range": [3000, 9000], "cuped_variance_removed": 0.1, "per_arm_with_cuped": 4400,
        "entrants_at_start": 3000, "entrants_per_week": 400.0, "weeks_to_enrol": 6.0,
        "weeks_to_enrol_with_cuped": 5.0, "follow_days": 56, "holdout_cost": 9000.0,
        "profit_effect": {"mean": 1.2, "ci_low": 0.5, "ci_high": 1.9},
        "guardrails": {
            "unsubscribes_per_1000": {"mean": 12.0, "ci_low": 10.0, "ci_high": 14.0},
            "discount_spend_per_customer": {"mean": 0.0, "ci_low": 0.0, "ci_high": 0.0},
        },
        "policy": policy, "against": "no_offer",
    }  # fmt: skip
    (folder / "plan.json").write_text(json.dumps(plan))


def test_the_winner_that_survives_and_its_test(tmp_path) -> None:
    _benchmark(tmp_path)
    _stress(tmp_path / "stress", "uplift")
    _plan(tmp_path / "plan", "uplift")
    part = rollout(tmp_path)
    assert json.loads(json.dumps(part)) == part  # plain JSON: what --json prints
    verdict = " ".join(part["verdict"])
    assert "uplift earns the most of the policies you could run" in verdict  # not the reference
    assert "60% of what full information earns" in verdict
    assert (
        "It is also the robust choice across 20 plausible worlds (10th percentile across "
        "worlds +3,000; best or within 5% of the best in 90% of them; loses money in 0%)."
    ) in verdict
    assert "live on the share of customers who come back (profit is a guardrail there)" in verdict
    assert "4,810 customers per arm (4,400 with CUPED), about 6 weeks of enrolment" in verdict
    assert "What you run today, playbook, earns +1,000 (95% CI +900 to +1,100)" in verdict
    assert part["missing"] == [] and part["notes"] == []
    ref = part["reference"]
    assert ref["shares"] == {"uplift": 0.6, "playbook": 0.1, "no_offer": 0.0}
    assert ref["left_between"] == 4_000.0 and ref["best_learned_share"] == 0.6
    html = "".join(section_html(part))
    assert "Before you roll out" in html and "pain_point_rule (reference)" in html
    assert "The live test" in html and "data:image/png;base64" in html


def test_when_the_robust_choice_differs_or_is_doing_nothing(tmp_path) -> None:
    _benchmark(tmp_path)
    _stress(tmp_path / "stress", "playbook", users=5_000)
    _plan(tmp_path / "plan", "uplift")
    part = rollout(tmp_path)
    verdict = " ".join(part["verdict"])
    assert "But across 20 plausible worlds the robust choice is playbook" in verdict
    assert "The plan is for uplift, not playbook" in verdict
    assert "`winback plan plan.policy=playbook`" in verdict
    assert part["notes"] == [
        "The robustness run's users (5000) differs from the benchmark's (10000)."
    ]
    nothing = tmp_path / "other"
    _stress(nothing, "no_offer")
    verdict = " ".join(rollout(tmp_path, stress=nothing)["verdict"])
    assert "no policy's 10th percentile beats sending nothing: do not roll one out" in verdict
    assert "plan.policy=no_offer" not in verdict


def test_parts_not_run_are_named_with_their_command(tmp_path) -> None:
    _benchmark(tmp_path)
    part = rollout(tmp_path)
    assert part["robustness"] is None and part["plan"] is None
    assert [m.split(":")[0] for m in part["missing"]] == ["robustness", "test plan"]
    assert "winback stress" in part["missing"][0] and "winback plan" in part["missing"][1]


@pytest.mark.parametrize("flag", ["--stress", "--plan"])
def test_a_folder_without_results_is_named_before_anything_is_written(
    flag, tmp_path, capsys
) -> None:
    _benchmark(tmp_path / "bench")
    for name in ("leaderboard.csv", "offer_mix.parquet", "occupancy.parquet"):
        (tmp_path / "bench" / name).write_text("")  # present: the flag is checked first
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(tmp_path / "bench"), flag, str(empty)]) == 2
    assert f"winback: error: {flag}: '{empty}' lacks " in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "bench").iterdir()) == [
        "leaderboard.csv", "occupancy.parquet", "offer_mix.parquet", "summary.json"
    ]  # fmt: skip


def test_a_test_that_enrols_at_once_says_so(tmp_path) -> None:
    _benchmark(tmp_path)
    _plan(tmp_path / "plan", "uplift")
    plan = json.loads((tmp_path / "plan" / "plan.json").read_text())
    (tmp_path / "plan" / "plan.json").write_text(json.dumps(plan | {"weeks_to_enrol": 0.0}))
    verdict = " ".join(rollout(tmp_path)["verdict"])
    assert "enough customers lapsed at the start to enrol at once" in verdict
    assert "more weeks of enrolment than the simulation saw" not in verdict
