"""``winback ope`` and ``winback ope-log`` as a team uses them: a simulated company's log in,
each policy's estimates, diagnostics and verdict out; every bad input named before any work
(nothing written); the verdict's rules one by one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from experiments.cli import main
from experiments.ope.estimators import Diagnostics, Estimate
from experiments.ope.logged import load
from experiments.ope.verdict import MIN_ESS, reading


@pytest.fixture(scope="module")
def npz_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("log") / "log.npz"
    args = ["ope-log", "--out", str(path), "--users", "3000", "--days", "112", "--seed", "4"]
    assert main(args) == 0
    return path


def test_a_log_in_estimates_and_a_verdict_out(npz_log: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "ope"
    args = ["ope", str(npz_log), "--policy", "playbook", "--policy", "blanket_discount_30",
            "--boot", "50", "--out", str(out), "--json"]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    summary = json.loads(printed.strip().splitlines()[-1])
    assert set(summary["policies"]) == {"playbook", "blanket_discount_30"}
    assert summary["kind"] == "npz" and summary["decisions"] == load(npz_log).n_rounds
    for name, policy in summary["policies"].items():
        assert policy["verdict"] and policy["diagnostics"]["effective_sample_size"] > 0
        rows = [e for e in summary["estimates"] if e["policy"] == name]
        assert {r["estimator"] for r in rows} == {"dm", "ips", "snips", "dr", "sndr", "switch_dr"}
        assert all(r["low"] <= r["value"] <= r["high"] for r in rows)
    # a uniform logger could do whatever the playbook does: supported, said in words
    assert summary["policies"]["playbook"]["supported"]
    assert "The log supports this estimate" in printed
    for name in ("estimates.csv", "summary.json", "report.html", "plots/estimates.png"):
        assert (out / name).exists(), name
    assert "What the log says about a new policy" in (out / "report.html").read_text()


def test_the_simulators_prediction_sits_beside_the_estimate(npz_log: Path, tmp_path: Path) -> None:
    out = tmp_path / "ope"
    args = ["ope", str(npz_log), "--policy", "blanket_discount_30", "--predict", "--boot", "20",
            "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    pred = summary["policies"]["blanket_discount_30"]["prediction"]
    assert pred["users"] == 3000 and pred["days"] == 112  # the log's own size
    assert pred["value"]["ci_low"] <= pred["value"]["mean"] <= pred["value"]["ci_high"]
    # the same scenario as the log's: the simulator's value and the log's DR agree
    dr = next(e for e in summary["estimates"] if e["estimator"] == "dr")
    assert abs(pred["value"]["mean"] - dr["value"]) < 1.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"pscore": "zero"}, "pscore[0]: 0.0; allowed: a probability in (0, 1]"),
        ({"pscore": "above"}, "pscore[0]: 1.5; allowed: a probability in (0, 1]"),
        ({"action": "outside"}, "is outside the catalogue; allowed: 0 (no offer) to 7"),
        ({"pscore": None}, "bandit_feedback: missing pscore"),
    ],
)
def test_bad_logs_are_named_before_any_work(
    npz_log: Path, tmp_path: Path, capsys, change: dict, message: str
) -> None:
    feedback = load(npz_log).to_bandit_feedback()
    key, how = next(iter(change.items()))
    if how == "zero":
        value = feedback["pscore"].copy()
        value[0] = 0.0
    elif how == "above":
        value = feedback["pscore"].copy()
        value[0] = 1.5
    elif how == "outside":
        value = feedback["action"].copy()
        value[0] = 9
    else:
        value = None
    feedback.pop("logging_dist")  # else the distribution disagrees first
    feedback[key] = value
    path = tmp_path / "bad.npz"
    with open(path, "wb") as file:
        np.savez(file, **{k: v for k, v in feedback.items() if v is not None})
    out = tmp_path / "ope"
    assert main(["ope", str(path), "--policy", "playbook", "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_bad_arguments_are_named_before_any_work(npz_log: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "ope"
    cases = [
        (["ope", str(tmp_path / "none.npz"), "--policy", "playbook"], "does not exist"),
        (["ope", str(npz_log.with_suffix(".json")), "--policy", "playbook"], "allowed: a .npz"),
        (["ope", str(npz_log)], "--policy: none given"),
        (["ope", str(npz_log), "--policy", "psychic"], "psychic"),
        (["ope", str(npz_log), "--policy", "full_information"], "reads what no log holds"),
        (["ope", str(npz_log), "--policy", "no_offer", "--offers", "retail"], "LOG: its actions"),
        (["ope", str(npz_log), "--policy", "blanket_telepathy"], "telepathy"),
        (["ope", str(npz_log), "--policy", "playbook", "--clip", "0"], "--clip: 0.0"),
    ]
    for args, message in cases:
        assert main([*args, "--out", str(out)]) == 2, args
        assert message in capsys.readouterr().err, args
        assert not out.exists(), args


def test_a_log_that_never_did_what_the_policy_does_is_refused(
    npz_log: Path, tmp_path: Path, capsys
) -> None:
    """No overlap: every logged decision sent an offer; the target sends nothing."""
    log = load(npz_log)
    sent = np.asarray(log.action) > 0
    feedback = log.to_bandit_feedback()
    keep = {
        k: (v[sent] if isinstance(v, np.ndarray) and v.shape[:1] == sent.shape else v)
        for k, v in feedback.items()
    }
    keep["n_rounds"] = int(sent.sum())
    keep.pop("logging_dist")
    path = tmp_path / "sent.npz"
    with open(path, "wb") as file:
        np.savez(file, **keep)
    out = tmp_path / "ope"
    assert main(["ope", str(path), "--policy", "no_offer", "--out", str(out)]) == 2
    assert "no overlap" in capsys.readouterr().err
    assert not out.exists()


def test_a_decisions_table_missing_columns_is_named(tmp_path: Path, capsys) -> None:
    path = tmp_path / "decisions.csv"
    path.write_text("user_id,day,action\n1,3,0\n")
    out = tmp_path / "ope"
    assert main(["ope", str(path), "--policy", "playbook", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "decisions: missing column(s)" in err and "propensity" in err
    assert not out.exists()


def test_ope_log_refuses_what_it_cannot_write(tmp_path: Path, capsys) -> None:
    assert main(["ope-log", "--out", str(tmp_path / "x.txt")]) == 2
    assert "allowed: a .npz, .csv or .parquet file" in capsys.readouterr().err
    existing = tmp_path / "log.npz"
    existing.write_text("mine")
    assert main(["ope-log", "--out", str(existing)]) == 2
    assert "exists; allowed: a new file, or --force" in capsys.readouterr().err
    assert existing.read_text() == "mine"  # nothing lost
    assert main(["ope-log", "--logger", "psychic", "--out", str(tmp_path / "y.npz")]) == 2
    assert "--logger: 'psychic'" in capsys.readouterr().err


# ---------------------------------------------------------------- the verdict's rules
def _health(**change: float) -> Diagnostics:
    base = {
        "effective_sample_size": 2000.0,
        "max_weight": 8.0,
        "mean_weight": 1.0,
        "mean_weight_se": 0.02,
        "clipped": 0,
        "unsupported_share": 0.0,
        "unsupported_mass": 0.0,
    }
    return Diagnostics(**{**base, **change})  # type: ignore[arg-type]


def _estimates(dr: tuple[float, float, float], ips: tuple[float, float, float]) -> list[Estimate]:
    return [
        Estimate(estimator="dr", value=dr[0], low=dr[1], high=dr[2]),
        Estimate(estimator="ips", value=ips[0], low=ips[1], high=ips[2]),
    ]


AGREE = _estimates((6.5, 6.4, 6.6), (6.4, 6.1, 6.7))


def test_the_verdict_supports_an_estimate_the_log_can_make() -> None:
    r = reading("p", AGREE, _health(), {}, 10_000, 0.0)
    assert r.supported and r.headline.startswith("The log supports this estimate")


def test_the_verdict_names_actions_the_log_never_tried_and_their_share() -> None:
    r = reading("p", AGREE, _health(unsupported_share=0.3), {"reminder_email": 0.3}, 10_000, 0.0)
    assert not r.supported
    assert "never tried there for 30% of the decisions (reminder_email for 30%)" in r.headline
    tiny = reading("p", AGREE, _health(unsupported_share=0.004), {"x": 0.004}, 10_000, 0.0)
    assert tiny.supported  # under the 1% threshold


def test_the_verdict_reads_weights_that_do_not_average_one() -> None:
    r = reading("p", AGREE, _health(mean_weight=0.6, mean_weight_se=0.01), {}, 10_000, 0.0)
    assert not r.supported and "the weights average 0.60" in r.headline
    assert "for about 40% of the decisions" in r.headline
    noisy = reading("p", AGREE, _health(mean_weight=0.9, mean_weight_se=0.05), {}, 10_000, 0.0)
    assert noisy.supported  # within three standard errors of 1


def test_the_verdict_wants_enough_weight_and_agreeing_estimators() -> None:
    thin = reading("p", AGREE, _health(effective_sample_size=MIN_ESS - 1), {}, 10_000, 0.0)
    assert not thin.supported and "Too little evidence" in thin.headline
    apart = _estimates((6.5, 6.4, 6.6), (5.6, 5.3, 5.9))
    r = reading("p", apart, _health(), {}, 10_000, 0.0)
    assert not r.supported and "The estimators disagree" in r.headline


def test_repeated_decisions_state_the_estimand() -> None:
    r = reading("p", AGREE, _health(), {}, 10_000, 0.25)
    assert "25% of the customers were decided for more than once" in r.details[0]
    assert "not the value of running p week after week" in r.details[0]


def test_the_same_log_as_an_event_log_gives_the_same_decisions(
    npz_log: Path, tmp_path: Path
) -> None:
    """One schema: the company's export of the same run (its event log, each decision an
    offer_sent row with arm and propensity) gives the same decisions as the .npz, and
    estimates close to it (its outcome is the cash the log shows, not accrued profit)."""
    events = tmp_path / "events.parquet"
    args = ["ope-log", "--out", str(events), "--users", "3000", "--days", "112", "--seed", "4"]
    assert main(args) == 0
    found = {}
    for path in (npz_log, events):
        out = tmp_path / path.suffix[1:]
        assert (
            main(["ope", str(path), "--policy", "no_offer", "--boot", "20", "--out", str(out)]) == 0
        )
        found[path.suffix] = json.loads((out / "summary.json").read_text())
    assert found[".npz"]["decisions"] == found[".parquet"]["decisions"]
    assert found[".parquet"]["kind"] == "events"
    dr = {
        k: next(e["value"] for e in s["estimates"] if e["estimator"] == "dr")
        for k, s in found.items()
    }
    assert abs(dr[".npz"] - dr[".parquet"]) < 1.0, dr


def test_the_speed_benchmark_runs_and_agrees_with_the_loop() -> None:
    import argparse

    from experiments.perf.ope import loop_dr, perf_ope, synthetic_log

    out = perf_ope(argparse.Namespace(rounds=3000, boot=10, reference_rounds=500, seed=1))
    assert out["seconds_all_estimators"] >= 0 and out["ratio_dr"] > 0  # a fast machine: ~0 s
    logged, target, q = synthetic_log(3000, 1)
    assert out["dr"] == round(loop_dr(logged, target, q), 4)  # the same estimate both ways


def test_results_are_not_replaced_unasked_and_names_are_listed(
    npz_log: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "ope"
    args = ["ope", str(npz_log), "--policy", "no_offer", "--boot", "10", "--out", str(out)]
    assert main(args) == 0
    before = (out / "summary.json").read_text()
    assert main(args) == 2
    assert "holds results already; allowed: a new folder, or --force" in capsys.readouterr().err
    assert (out / "summary.json").read_text() == before  # nothing lost
    assert main([*args, "--force"]) == 0
    assert main(["ope", str(npz_log), "--policy", "psychic", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "--policy: 'psychic'; allowed:" in err and "playbook" in err and "uplift" in err


def test_a_decisions_table_with_a_bad_propensity_is_named(
    npz_log: Path, tmp_path: Path, capsys
) -> None:
    from experiments.ope.events import decisions_of

    table = decisions_of(load(npz_log))
    table.loc[3, "propensity"] = 1.5
    path = tmp_path / "decisions.csv"
    table.to_csv(path, index=False)
    out = tmp_path / "ope"
    assert main(["ope", str(path), "--policy", "playbook", "--out", str(out)]) == 2
    assert "decisions.propensity: 1.5 on row 4" in capsys.readouterr().err
    assert not out.exists()


def test_weekly_decisions_state_their_estimand_and_resample_customers(tmp_path: Path) -> None:
    path = tmp_path / "weekly.npz"
    args = ["ope-log", "--out", str(path), "--users", "600", "--days", "84", "--repeat"]
    assert main(args) == 0
    out = tmp_path / "ope"
    assert main(["ope", str(path), "--policy", "playbook", "--boot", "20", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["repeated_share"] > 0.5
    assert "decided for more than once" in summary["policies"]["playbook"]["details"][0]
