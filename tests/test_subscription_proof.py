"""The subscription calibration against real data and simulated logs with known truth
(issue 16's proofs). Figures measured on 2026-12-04 are in the README."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim import presets
from sim.calibration import calibrate
from sim.calibration import subscriptions as subs
from sim.calibration.datasets import IBM_NAMES, cohort_log, read_telco
from sim.calibration.eventlog import SIMULATED, validate_events
from sim.calibration.lifecycle import Traits
from sim.constants import CHURNED
from sim.records import event_log, simulated_log
from sim.scenario import Plan, blend_segments
from sim.simulation import Simulation

DATA = Path(__file__).parent / "data"

# Fader & Hardie (2007), "How to project customer retention", survivors of 1,000 per year
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394]


def forecast_errors(survivors: list[int]) -> dict[str, float]:
    """Calibrated on years 1-7 (annual renewals), years 8-12 projected."""
    log = validate_events(cohort_log(survivors), "cohort")
    result = calibrate(log, "2006-12-31", classes=2)
    errors = result.summary()["forecast_errors"]
    assert errors is not None
    return errors


def test_published_cohort_projection_no_worse_than_sbg() -> None:
    """High-end customers: the calibrated simulator's mean absolute error of survivors in
    years 8-12 is no larger than sBG's on the same split (measured 0.62% vs 2.42%; sBG at
    the paper's alpha 0.668, beta 3.806)."""
    errors = forecast_errors(HIGH_END)
    assert errors["calibrated_mape_pct"] <= errors["sbg_mape_pct"]


@pytest.mark.slow
def test_regular_cohort_projection_within_2_5_percent() -> None:
    """Regular customers: sBG does better here (0.67%, at the paper's alpha 0.704, beta
    1.182); the calibrated simulator stays within 2.5% (measured 2.00%)."""
    assert forecast_errors(REGULAR)["calibrated_mape_pct"] < 2.5


def retention_table_at(result, period: int) -> float:
    rt = result.retention
    return float(rt[rt.period == period].calibrated.iloc[0])


def telco(contracts: tuple[str, ...] | None = None) -> pd.DataFrame:
    raw = read_telco(DATA / "wa_churn.csv")
    if contracts is not None:
        raw = raw[raw.plan.isin(contracts)]
    return raw


def test_ibms_own_column_names_read_as_the_same_log(tmp_path) -> None:
    """IBM's file spells the columns customerID, Contract, MonthlyCharges, Churn (a
    newcomer's trial was refused on them): read as the modeldata spelling."""
    raw = pd.read_csv(DATA / "wa_churn.csv").head(200)
    ibm = raw.rename(columns={v: k for k, v in IBM_NAMES.items()})
    ibm.to_csv(tmp_path / "ibm.csv", index=False)
    raw.to_csv(tmp_path / "modeldata.csv", index=False)
    pd.testing.assert_frame_equal(
        read_telco(tmp_path / "ibm.csv"), read_telco(tmp_path / "modeldata.csv")
    )
    ibm.drop(columns="Churn").to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match=r"missing column.*churn .*or IBM's"):
        read_telco(tmp_path / "bad.csv")


def test_telco_month_to_month_churned_share_and_retention() -> None:
    """IBM Telco, month-to-month contracts (3,875 customers): the share who cancelled
    within 2 points of the data (measured +0.37), and the calibrated retention inside
    Kaplan-Meier's 95% band in at least 85% of the months and 95% of those with 100+
    customers at risk (measured 65 of 73 and 61 of 62; 64 and 60 before the fitting
    changes of 2026-12-04's third session)."""
    log = validate_events(telco(("Month-to-month",)), "telco")
    result = calibrate(log, classes=2)
    row = result.churned.iloc[0]
    assert abs(row.difference_pp) < 2.0
    rt = result.retention
    inside = (rt.calibrated >= rt.km_low - 1e-6) & (rt.calibrated <= rt.km_high + 1e-6)
    assert inside.mean() >= 0.85
    assert inside[rt.at_risk >= 100].mean() >= 0.95
    # the scenario written is the fitted model: its new subscribers, simulated, keep the
    # fitted retention after a year (the frailty once fell out of the scenario: 25% vs 71%)
    new = tuple(  # new subscribers; no comeback: the first subscription's retention
        replace(seg, initial_state={"active": 1.0}, mean_tenure_days=1e-3, comeback_rate=0.0)
        for seg in result.scenario.segments
    )
    cohort = replace(result.scenario, n_users=6000, warmup_days=0, segments=new)
    sim = Simulation(cohort, seed=1)
    sim.run_until(361)  # twelve 30-day periods
    kept = float((sim.pop.state != CHURNED).mean())
    fitted = float(retention_table_at(result, 12))
    assert kept == pytest.approx(fitted, abs=0.03)


@pytest.mark.slow
def test_telco_churned_share_per_contract_within_2_points() -> None:
    """All three contracts (7,043 customers), contract as the segment: measured +0.37,
    -0.60 and -0.11 points."""
    result = calibrate(validate_events(telco(), "telco"), classes=2)
    assert (result.churned.difference_pp.abs() < 2.0).all()
    assert len(result.scenario.plans) == 3


TRUTH = {
    "activity_rate": 0.5,
    "dormant_activity_rate": 0.02,
    "lapse_rate": 1 / 60,
    "return_rate": 1 / 40,
    "cancel_rate": 1 / 600,
    "dormant_cancel_rate": 1 / 100,
    "comeback_rate": 1 / 200,
}


@pytest.mark.slow
def test_rates_are_recovered_from_a_simulated_log(monkeypatch) -> None:
    """A simulated company (2,000 monthly subscribers, one segment, trait effects off) writes
    its log; the calibration recovers the cancellation, return and comeback rates inside
    their 95% intervals and every rate within 10% (measured: activity -0.2%, lapse +4.5%,
    cancel -2.7%)."""
    base = presets.SCENARIOS["streaming"](n_users=2000, horizon_days=365)
    quiet = replace(
        base.dynamics, tech_weight=0.0, friction_weight=0.0, freshness_weight=0.0,
        price_level_weight=0.0, price_weight=0.0,
    )  # fmt: skip
    seg = replace(
        blend_segments(base.segments), name="s", weight=1.0, heterogeneity=1e4,
        initial_state={"active": 0.7, "dormant": 0.3, "churned": 0.0}, plan_mix={"basic": 1.0},
        activity_heterogeneity=3.0, mean_tenure_days=200, **TRUTH,
    )  # fmt: skip
    plans = (Plan("basic", 9.99, billing="monthly"),)
    truth = replace(base, dynamics=quiet, segments=(seg,), plans=plans, price_changes=())
    sim = Simulation(truth, seed=0, record=True)
    sim.run()
    log = validate_events(event_log(sim), "simulated")
    monkeypatch.setattr(subs, "scenario_traits", lambda *a, **k: Traits.none())
    result = calibrate(log, classes=1)
    table = pd.DataFrame(result.parameters()).set_index("parameter")
    for name, value in TRUTH.items():
        row = table.loc[f"basic.{name}[0]"]
        assert row.estimate == pytest.approx(value, rel=0.10), name
        if name in ("return_rate", "cancel_rate", "dormant_cancel_rate", "comeback_rate"):
            assert row.ci_low <= value <= row.ci_high, name
    assert np.isfinite(table.estimate).all()


def test_a_holdout_that_leaves_nothing_to_calibrate_on_is_refused() -> None:
    """A holdout from before the window opens plus one billing period would fit on nothing
    (a newcomer's trial got positive log-likelihoods and a 1%-retention scenario): refused
    before any fit, naming the key, the value and the earliest allowed date."""
    log = validate_events(telco(("Month-to-month",)), "telco")
    early = str((log.origin + pd.Timedelta(days=log.window_start + 10)).date())
    with pytest.raises(ValueError, match=r"holdout_from: .*at least one billing period"):
        calibrate(log, early)


def test_a_holdout_with_no_cancellation_before_it_is_refused() -> None:
    """Telco dates every cancellation on its export day (2018-09-01): a holdout from three
    months earlier once fitted 0% churn and reported a 0.0% forecast error (a newcomer's
    trial). Refused before any fit, naming the first cancellation's date."""
    log = validate_events(telco(("One year",)), "telco")
    with pytest.raises(
        ValueError, match=r"holdout_from: '2018-06-01'.*first takes effect on 2018-09-01"
    ):
        calibrate(log, "2018-06-01")


@pytest.mark.parametrize("size", [1, 199, -5])
def test_a_fit_sample_too_small_to_place_a_plan_is_refused(size: int) -> None:
    """``--fit-sample 1`` once fitted one customer per plan and wrote a nonsense scenario:
    0 (every customer) or at least 200, checked before any work."""
    log = validate_events(telco(("Month-to-month",)), "telco")
    with pytest.raises(ValueError, match=r"fit_sample \(--fit-sample\): .* 0 .* >= 200"):
        calibrate(log, fit_sample=size)


def test_retention_by_sign_up_cohort_is_each_cohorts_own_kaplan_meier() -> None:
    """Two published cohorts signed up a year apart in one log (annual renewals): the
    cohort table holds each one's survivors exactly (a complete log: the first year's
    leavers are on the window's first day), beside the plan's one calibrated curve."""
    first = cohort_log(REGULAR[:6], start="2000-01-01")
    second = cohort_log(HIGH_END[:5], start="2001-01-02")
    second["user_id"] = "h" + second.user_id
    log = validate_events(pd.concat([first, second], ignore_index=True), "two cohorts")
    result = calibrate(log, classes=1)
    table = result.cohorts
    assert sorted(table.cohort.unique()) == ["2000-Q1", "2001-Q1"]  # quarters: a year apart
    for name, survivors in (("2000-Q1", REGULAR[:6]), ("2001-Q1", HIGH_END[:5])):
        part = table[table.cohort == name]
        assert part.customers.iloc[0] == 1000
        np.testing.assert_allclose(part.kaplan_meier, np.array(survivors) / 1000, atol=1e-12)
        plan = result.retention.set_index("period").calibrated
        np.testing.assert_allclose(part.calibrated, plan.loc[part.period], rtol=1e-12)


def test_kaplan_meier_leaves_out_a_cancellation_it_cannot_place() -> None:
    """Spells known only to have ended somewhere in the several periods before the window
    (cancelled on its first day, begun years before) cannot be placed: they are left out,
    and the others begun that long before are conditioned on reaching the window
    (entry); one that left within the one period before the window is placed exactly."""
    from types import SimpleNamespace

    window = 400
    rows = [  # user_id, start, end, cancelled (monthly billing)
        (0, 0, 400, True),  # left within 13 periods before the window: unplaceable
        (1, 10, 700, True),  # began 13 periods before: entry 13, cancelled at renewal 23
        (2, 380, 400, True),  # left within the period before the window: T = 1
        (3, 390, 800, False),  # began within it: observed from 0, 13 renewals survived
    ]
    spells = pd.DataFrame(rows, columns=["user_id", "start", "end", "cancelled"])
    spells = spells.assign(spell=0, billing_days=30)
    periods = subs.plan_periods(SimpleNamespace(spells=spells, period=30), window)
    data = subs.renewal_data(periods, 30, window)
    assert data.user_id.tolist() == [1, 2, 3]
    assert data.entry.tolist() == [13, 0, 0]
    assert data.duration.tolist() == [23, 1, 13]
    assert data.churned.tolist() == [True, True, False]


def test_a_customer_back_on_the_windows_first_day_is_left_out_of_first_spells() -> None:
    """A customer lapsed before the window (a no-history spell, begun and cancelled on its
    first day) who resubscribes that same day has two spells starting together; whichever
    order the rows come in, their first subscription is not seen and they are left out (a
    newcomer's holdout on a simulated log failed with a KeyError when an unstable sort
    kept them in one table and not the other)."""
    rows = [
        {"user_id": 7, "spell": 0, "start": 0, "end": 0, "cancelled": True},
        {"user_id": 7, "spell": 1, "start": 0, "end": 90, "cancelled": False},
        {"user_id": 8, "spell": 0, "start": 0, "end": 40, "cancelled": True},
        {"user_id": 8, "spell": 1, "start": 60, "end": 90, "cancelled": False},
    ]
    spells = pd.DataFrame(rows)
    for order in ([0, 1, 2, 3], [1, 0, 3, 2], [3, 1, 2, 0]):
        first = subs.first_spells(spells.iloc[order])
        assert first.user_id.tolist() == [8] and first.spell.tolist() == [0]


@pytest.mark.slow
def test_the_simulated_companys_own_log_calibrates() -> None:
    """The README's example: the streaming company (20,000 subscribers, three plans billed
    monthly, four segments, traits on) writes two years of its log; calibrated with the
    defaults on the months before 2025-07-01, every plan's retention is within 5 points of
    Kaplan-Meier's in every period with 100+ customers at risk (measured at most 3.1, 4.0
    and 1.5 points; before 2026-12-05, 8-14 points above), its churned share within 2
    points of the log's (measured +1.1, -0.3, -0.4; before, +5 to +17), and the holdout's
    survivors no further off than sBG's (measured 0.49% and 0.55%; before, 1.70% and
    0.81%)."""
    base = presets.streaming(n_users=20_000, horizon_days=730)
    monthly = replace(base, plans=tuple(replace(p, billing="monthly") for p in base.plans))
    log = validate_events(simulated_log(monthly, 0), "simulated", limits=SIMULATED)
    result = calibrate(log, "2025-07-01")
    ret = result.retention[result.retention.at_risk >= 100]
    gap = (ret.calibrated - ret.kaplan_meier).abs().groupby(ret.plan).max()
    print(gap.round(3).to_dict(), result.churned.difference_pp.round(2).tolist())
    assert (gap <= 0.05).all(), gap.to_dict()
    assert (result.churned.difference_pp.abs() <= 2.0).all(), result.churned.to_dict("records")
    errors = result.summary()["forecast_errors"]
    assert errors["calibrated_mape_pct"] <= errors["sbg_mape_pct"], errors
