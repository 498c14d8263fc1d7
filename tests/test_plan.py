"""``winback plan``: the live test that would confirm a policy, planned from the simulator.

Bad input is refused before any work; the power formulas are statsmodels' (checked against
textbook values); the plan's effect is the paired mean of both arms' simulated outcomes;
the same seed gives the same plan; and (slow) the planned test, run 2,000 times on fresh
simulated customers, finds the effect as often as planned and raises false alarms at alpha.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace

import numpy as np
import pytest

from experiments.config.plan import PlanConfig, plan_config
from experiments.jobs import plan
from sim import presets


def _overrides(*extra: str) -> list[str]:
    return ["experiment=quick", "scenario.users=3000", "scenario.days=119", *extra]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["plan.power=1.5"], "plan.power: 1.5; allowed: a number in \\(0, 1\\)"),
        (["plan.alpha=0"], "plan.alpha: 0"),
        (["plan.mde=0"], "plan.mde: 0"),
        (["plan.metric=revenue"], "plan.metric: 'revenue'"),
        (["plan.policy=no_offer"], "plan.policy: 'no_offer' never sends an offer"),
        (["plan.policy=playbook", "plan.against=playbook"], "plan.against: 'playbook' is the"),
        (["plan.policy=champion"], "plan.policy: 'champion'; allowed: no_offer, "),
        (["plan.policy=full_information"], "plan.policy: 'full_information' sees what no real"),
        (["plan.against=pain_point_rule"], "plan.against: 'pain_point_rule' sees what no real"),
        (["plan.follow_days=30"], "plan.follow_days: 30; allowed: a multiple of"),
        (["plan.follow_days=112"], "plan.follow_days: 112 with plan.pre_days 28 leaves"),
        (["plan.size=1"], "plan.size: 1"),
    ],
)
def test_bad_input_is_refused_before_any_work(overrides, message, tmp_path) -> None:
    start = time.perf_counter()
    with pytest.raises(ValueError, match=message):
        plan.run_from_overrides(_overrides(*overrides), tmp_path / "out")
    assert time.perf_counter() - start < 5.0  # composing only: no agent built, no simulation
    assert not (tmp_path / "out").exists()


def test_an_unknown_plan_key_names_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match=r"plan\.budget: unknown key; allowed: against, alpha"):
        plan_config({"budget": 3})


def test_the_power_formulas_are_the_textbook_ones() -> None:
    # Cohen (1988): d = 0.2, alpha 0.05 two-sided, power 0.8 -> 393.4 per group (t-test)
    assert plan.size_per_arm(0.2, 1.0, 0.05, 0.8) == pytest.approx(393.4, abs=0.1)
    assert plan.size_per_arm(-2.0, 10.0, 0.05, 0.8) == pytest.approx(393.4, abs=0.1)
    assert plan.detectable(394, 1.0, 0.05, 0.8) == pytest.approx(0.2, abs=1e-3)
    assert plan.power_at(394, 0.2, 1.0, 0.05) == pytest.approx(0.8, abs=2e-3)
    assert math.isinf(plan.size_per_arm(0.0, 1.0, 0.05, 0.8))


def test_cuped_removes_the_variance_the_covariate_explains() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=20_000)
    y = (2 * x + rng.normal(size=x.size), 2 * x + 0.5 + rng.normal(size=x.size))
    adjusted, rho2 = plan.cuped(y, x)
    assert rho2 == pytest.approx(0.8, abs=0.01)  # var(2x) / (var(2x) + 1)
    assert adjusted[0].var() == pytest.approx(1.0, abs=0.05)
    same_effect = y[1].mean() - y[0].mean()  # the covariate is alike in both arms: unbiased
    assert adjusted[1].mean() - adjusted[0].mean() == pytest.approx(same_effect, abs=1e-12)
    same, none = plan.cuped(y, np.zeros(x.size))
    assert none == 0.0 and same is y


def test_a_plan_from_both_arms_outcomes(tmp_path) -> None:
    result = plan.run_from_overrides(
        _overrides("plan.policy=blanket_support_call", "plan.metric=reactivation", "plan.size=500"),
        tmp_path,
    )
    saved = json.loads((tmp_path / "plan.json").read_text())
    assert saved == json.loads(json.dumps(result))
    table = __import__("pandas").read_parquet(tmp_path / "outcomes.parquet")
    assert len(table) == result["entrants"] > 1_000
    assert result["effect"]["mean"] == pytest.approx((table.policy - table.comparison).mean())
    assert result["effect"]["mean"] > 0  # support calls bring lapsed customers back
    n = result["per_arm"]
    sd = plan.pooled_sd((table.policy.to_numpy(), table.comparison.to_numpy()))
    assert n == math.ceil(plan.size_per_arm(result["effect"]["mean"], sd, 0.05, 0.8))
    low, high = result["per_arm_range"]
    assert low <= n <= high
    assert result["holdout_cost"] == pytest.approx(n * result["profit_effect"]["mean"])
    assert result["per_arm_with_cuped"] <= n
    assert result["entrants_at_start"] + result["entrants_per_week"] * 0 <= result["entrants"]
    assert result["detectable_at_size"]["size"] == 500
    assert result["guardrails"]["unsubscribes_per_1000"]["mean"] > 0  # calls make opt-outs


def test_the_same_seed_gives_the_same_plan(tmp_path) -> None:
    cfg = PlanConfig(policy="blanket", metric="reactivation")
    scenario = presets.streaming(n_users=2_000, horizon_days=119)
    catalogue = presets.streaming_offers()
    from agents.reference import Blanket

    arms = (lambda: Blanket(offer="support_call"), None)
    a = plan.run(cfg, scenario, catalogue, arms, tmp_path / "a")
    b = plan.run(cfg, scenario, catalogue, arms, tmp_path / "b")
    assert a == b
    c = plan.run(replace(cfg, seed=2), scenario, catalogue, arms, tmp_path / "c")
    assert c["effect"] != a["effect"]


@pytest.mark.slow
def test_the_planned_test_finds_the_effect_as_often_as_planned(tmp_path) -> None:
    """2,000 tests of the planned size on fresh simulated customers (a pool of 20 tests'
    worth), and 2,000 A/A tests. Tolerances (binomial sd of 2,000 tests: 0.9 points at 80%,
    0.5 at 5%): the power within 3 points of the formula's at those customers' own effect,
    within 5 of the plan's (which also carries the plan's estimate of the effect, from
    300,000 simulated customers); the false-positive rate within 1.5 points of alpha.
    Measured (2026-12-05): planned 80%, 82.3% at the fresh customers' effect, observed
    82.9%; false alarms 4.4%."""
    result = plan.run_from_overrides(
        [
            "experiment=quick",
            "scenario.users=300000",
            "plan.policy=blanket_support_call",
            "plan.metric=reactivation",
            "plan.validate=2000",
        ],
        tmp_path,
    )
    v = result["validation"]
    assert v["tests"] == 2000 and v["pool"] >= 20 * 2 * result["per_arm"]
    assert abs(v["power"] - v["power_at_its_effect"]) <= 0.03
    assert abs(v["power"] - 0.8) <= 0.05
    assert abs(v["false_positive_rate"] - 0.05) <= 0.015


def test_a_customer_enters_at_the_first_epoch_they_are_seen_lapsed() -> None:
    """The README's rule: from the test's start, a customer enters at the first epoch they
    are seen inactive or churned, whatever they were before it (one lapsed before the test,
    active at its start and lapsed later enters then). Checked against the observed status
    recorded at every epoch of a 3,000-user run."""
    from sim.observe import observed_status
    from sim.simulation import Simulation

    scenario = presets.streaming(n_users=3000, horizon_days=182)
    window = plan.Window(start=28, last=126, follow_days=56, pre_days=28, epoch_days=7)
    enrol = plan.Enrolment(scenario.n_users, window, None)
    seen: dict[int, np.ndarray] = {}

    def policy(sim: Simulation, day: int) -> None:
        seen[day] = observed_status(sim.pop, slice(None), day, sim.scenario) > 0
        enrol(sim, day)

    Simulation(scenario, seed=4, policy=policy).run()
    days = sorted(d for d in seen if window.start <= d <= window.last)
    want = np.full(scenario.n_users, -1)
    for day in reversed(days):
        want[seen[day]] = day
    np.testing.assert_array_equal(enrol.entered, want)
    before = np.logical_or.reduce([seen[d] for d in seen if d < window.start])
    late = (want > window.start) & before
    assert late.sum() > 0  # the case the rule is about occurs
