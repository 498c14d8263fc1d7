"""The reference models of ``winback calibrate``: BG/NBD says when its fit fails instead of
predicting zero, and the shifted-beta-geometric (sBG) reproduces its published fits.

sBG source: Fader, P. S. & Hardie, B. G. S. (2007), "How to project customer retention",
Journal of Interactive Marketing 21(1): 76-90. Its two cohorts of 1,000 customers on annual
contracts (the "regular" and "high end" segments, data from Berry & Linoff 2004), customers
still subscribed at the start of years 0-12, are below; the paper fits years 1-7 (survivors
at years 0-7) and reports alpha 0.704, beta 1.182 (regular) and alpha 0.668, beta 3.806
(high end). Tolerances are stated per test; every random draw has a fixed seed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.cli import main
from sim.calibration import customers_at, fit_bgnbd, validate_events
from sim.calibration.api import errors
from sim.calibration.bgnbd import BGNBD, BGNBDFit
from sim.calibration.datasets import cohort_log
from sim.calibration.mle import Fit, FitStatus, fit_status
from sim.calibration.sbg import SBG, SBGFit, contract_periods, fit_sbg
from sim.calibration.spells import subscription_spells

REGULAR = (1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173)
HIGH_END = (1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394)
FITTED_YEARS = 7  # the paper's calibration period: years 1-7


def cohort(survivors: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Per-customer (renewals survived, churned) from a cohort's survivors at years 0..n:
    those lost between years k - 1 and k churned at renewal k; the last year's are censored."""
    s = np.asarray(survivors)
    lost = s[:-1] - s[1:]
    periods = np.concatenate([np.repeat(np.arange(lost.size), lost), np.full(s[-1], lost.size)])
    churned = np.concatenate([np.ones(lost.sum(), bool), np.zeros(s[-1], bool)])
    return periods, churned


def fit_record(theta: np.ndarray, cov: np.ndarray, converged: bool = True) -> Fit:
    return Fit(theta, 0.0, cov, converged, "stopped" if not converged else "ok", 1)


def converged_sbg(alpha: float, beta: float) -> SBGFit:
    fit = fit_record(np.log([alpha, beta]), np.eye(2) * 1e-4)
    return SBGFit(SBG(alpha, beta), fit, FitStatus("converged"))


# ------------------------------------------------------------------ sBG: the published fits
@pytest.mark.parametrize(
    ("survivors", "alpha", "beta", "loglik"),
    [(REGULAR, 0.704, 1.182, -1680.27), (HIGH_END, 0.668, 3.806, -1611.16)],
    ids=["regular", "high_end"],
)
def test_sbg_reproduces_fader_hardie_2007(survivors, alpha, beta, loglik) -> None:
    """Fitted on years 1-7: alpha and beta within 1e-2 of the paper's (log-likelihood as
    computed here, to 0.01), the intervals around them; the projection of years 8-12 equals
    the one from the paper's rounded estimates within 1 customer and the actual survivors
    within 5% (regular: 1.8% at worst; high end: 4.1%, year 12: 378 vs 394)."""
    fit = fit_sbg(*cohort(survivors[: FITTED_YEARS + 1]))
    assert fit.status == FitStatus("converged")
    assert fit.model.alpha == pytest.approx(alpha, abs=1e-2)
    assert fit.model.beta == pytest.approx(beta, abs=1e-2)
    assert fit.fit.loglik == pytest.approx(loglik, abs=0.01)
    for row, published in zip(fit.table(), (alpha, beta), strict=True):
        assert row["ci_low"] < published < row["ci_high"]
    projected = fit.expected_survivors(np.array([1000.0]), 12)[0, FITTED_YEARS:]
    from_paper = converged_sbg(alpha, beta).expected_survivors(np.array([1000.0]), 12)[0]
    np.testing.assert_allclose(projected, from_paper[FITTED_YEARS:], atol=1.0)
    np.testing.assert_allclose(projected, survivors[FITTED_YEARS + 1 :], rtol=0.05)


def test_sbg_projects_cohorts_from_their_current_age() -> None:
    """A cohort of 241 regular customers alive after 7 renewals is projected exactly as the
    whole cohort of 1,000 from year 0 (to 1e-9): S(7 + k) / S(7) scaled by the survivors."""
    fit = converged_sbg(0.704, 1.182)
    whole = fit.expected_survivors(np.array([1000.0]), 12)[0]
    later = fit.expected_survivors(np.array([whole[6]]), 5, age=np.array([7.0]))[0]
    np.testing.assert_allclose(later, whole[7:], rtol=1e-9)
    two = fit.expected_survivors(np.array([1000.0, 500.0]), 3, age=np.array([0.0, 2.0]))
    assert two.shape == (2, 3) and two[1, 0] == pytest.approx(500 * fit.retention(3.0))


@settings(max_examples=50, deadline=None)
@given(
    alpha=st.floats(0.05, 50.0),
    beta=st.floats(0.05, 50.0),
    t=st.integers(1, 40),
)
def test_sbg_survival_is_the_product_of_retention_rates(alpha, beta, t) -> None:
    """S(t) = prod_{k <= t} r(k) (to 1e-9), and the retention rate never falls with tenure."""
    fit = converged_sbg(alpha, beta)
    rates = fit.retention(np.arange(1, t + 1, dtype=float))
    assert fit.survival(float(t)) == pytest.approx(np.prod(rates), rel=1e-9)
    assert np.all(np.diff(rates) >= -1e-12)


def test_sbg_left_truncation_recovers_the_truth() -> None:
    """20,000 customers drawn from Beta(0.7, 1.2) churn probabilities (seed 7), observed for
    8 renewals; customers who joined before the window are in the data only if they survived
    to it (periods 2 or 4 before). Conditioning on that (first_observed) puts the truth inside
    both 95% intervals; ignoring it puts alpha's interval above the truth (0.87 to 1.04: the
    early churners are missing)."""
    rng = np.random.default_rng(7)
    n, horizon = 20_000, 8
    theta = rng.beta(0.7, 1.2, n)
    churn_at = rng.geometric(theta)  # T: the period in which each customer churns
    first = rng.choice([0, 2, 4], n)
    seen = churn_at > first
    periods = np.minimum(churn_at - 1, horizon)[seen]
    churned = (churn_at <= horizon)[seen]
    fit = fit_sbg(periods, churned, first[seen])
    assert fit.status.ok
    for row, truth in zip(fit.table(), (0.7, 1.2), strict=True):
        assert row["ci_low"] < truth < row["ci_high"], row
    naive = fit_sbg(periods, churned)
    low, high = naive.table()[0]["ci_low"], naive.table()[0]["ci_high"]
    assert not low < 0.7 < high


# ------------------------------------------------------------------ sBG: failures said
def test_sbg_one_churn_rate_for_all_is_a_boundary_with_no_predictions() -> None:
    """A cohort losing exactly 20% a year (no heterogeneity: alpha and beta grow without
    end) is reported as a boundary naming alpha and beta; every prediction is NaN."""
    fit = fit_sbg(*cohort((10_000, 8_000, 6_400, 5_120, 4_096)))
    assert fit.status.code == "boundary" and fit.status.parameters == ("alpha", "beta")
    assert "alpha and beta cannot be told from the edge" in fit.status.reason
    assert np.isnan(fit.survival(np.arange(4.0))).all()
    assert np.isnan(fit.retention(2.0))
    assert np.isnan(fit.expected_survivors(np.array([100.0]), 3)).all()


@pytest.mark.parametrize(
    ("periods", "churned", "first", "left", "key"),
    [
        ([1, -1], [True, False], None, None, "periods"),
        ([1, 1.5], [True, False], None, None, "periods"),
        ([1, 2], ["yes", "no"], None, None, "churned"),
        ([1, 2], [True, False], [0, 3], None, "first_observed"),
        ([1, 2], [True], None, None, "shapes"),
        ([], [], None, None, "shapes"),
        ([1, 2], [True, False], None, [False, True], "left: True at row 1"),  # not churned
        ([0, 2], [True, False], None, [True, False], "left: True at row 0"),  # by period 0
        ([1, 2], [True, False], None, [2, 0], "left"),
    ],
)
def test_sbg_refuses_bad_data_naming_it(periods, churned, first, left, key) -> None:
    def array(values):  # type: ignore[no-untyped-def]
        return None if values is None else np.array(values)

    with pytest.raises(ValueError, match=key):
        fit_sbg(np.array(periods), np.array(churned), array(first), array(left))
    fit = converged_sbg(1.0, 1.0)
    with pytest.raises(ValueError, match="ahead"):
        fit.expected_survivors(np.array([1.0]), 0)
    with pytest.raises(ValueError, match=r"t: 0\.0"):
        fit.retention(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="age"):
        fit.expected_survivors(np.array([1.0]), 2, age=-1.0)


# ------------------------------------------------------------------ spells -> sBG data
def spells(complete: bool = False) -> pd.DataFrame:
    rows = [  # user_id, spell, start, end, cancelled, billing_days (window opens on day 400)
        ("a", 0, 0, 730, True, 365),  # cancelled at its 2nd renewal: survived 1, seen from 1
        ("b", 0, 450, 450, True, 365),  # cancelled on its first day: survived 0
        ("c", 0, 100, 1000, False, 365),  # still subscribed: survived 2, censored
        ("d", 0, 0, 1095, True, 365),  # began before the window: observed from renewal 1
        ("e", 1, 500, 620, True, 30),  # monthly, after a resubscription: survived 3
        ("f", 0, 380, 1000, False, 30),  # monthly, began 20 days before the window
    ]
    if complete:  # the export lists a customer who had left by the window's first day
        rows.append(("e", 0, 0, 400, True, 365))
    cols = ["user_id", "spell", "start", "end", "cancelled", "billing_days"]
    return pd.DataFrame(rows, columns=cols).sort_values(["user_id", "spell"])


def test_contract_periods_turn_spells_into_sbg_data() -> None:
    """Without a spell that ended before the window, those begun before it are
    left-truncated (observed from the renewals survived by then)."""
    annual = contract_periods(spells(), 365, window_start=400)
    assert annual.user_id.tolist() == ["a", "b", "c", "d"]
    assert annual.periods.tolist() == [1, 0, 2, 2]
    assert annual.churned.tolist() == [True, True, False, True]
    assert annual.first_observed.tolist() == [1, 0, 0, 1]
    assert not annual.left.any()
    monthly = contract_periods(spells(), 30, window_start=400)
    assert monthly[["user_id", "spell"]].values.tolist() == [["e", 1], ["f", 0]]
    assert monthly.periods.tolist() == [3, 20] and monthly.first_observed.tolist() == [0, 0]
    fit = fit_sbg(annual.periods, annual.churned, annual.first_observed, annual.left)
    assert fit.status.code in ("converged", "boundary", "not_converged")  # 4 rows: any


def test_a_complete_export_is_not_truncated_and_keeps_who_left_before_the_window() -> None:
    """The likelihood's rule (``histories.encode``): a spell cancelled on the window's first
    day makes the table complete: no truncation, and that spell churned within its first
    floor(400 / 365) = 1 renewal (likelihood 1 - S(1))."""
    annual = contract_periods(spells(complete=True), 365, window_start=400)
    assert annual.user_id.tolist() == ["a", "b", "c", "d", "e"]
    assert annual.periods.tolist() == [1, 0, 2, 2, 1]
    assert annual.first_observed.tolist() == [0, 0, 0, 0, 0]
    assert annual.left.tolist() == [False, False, False, False, True]
    model = SBG(0.7, 1.2)
    columns = ("periods", "churned", "first_observed", "left")
    log_lik = model.loglik(*(annual[c].to_numpy() for c in columns))
    assert log_lik[-1] == pytest.approx(np.log(1.0 - np.exp(model.log_survival(1.0))))


def test_sbg_through_the_calibration_reproduces_fader_hardie_2007() -> None:
    """The cohort written as a log (everyone subscribes on day 0; the window opens at the
    first renewal, so the first year's leavers are left-censored on its first day): the
    calibration's sBG is the paper's (regular: alpha 0.704, beta 1.182)."""
    log = validate_events(cohort_log(list(REGULAR[: FITTED_YEARS + 1])), "cohort")
    spells = subscription_spells(log)
    data = contract_periods(spells, 365, log.window_start)
    fit = fit_sbg(data.periods, data.churned, data.first_observed, data.left)
    assert fit.model.alpha == pytest.approx(0.704, abs=1e-2)
    assert fit.model.beta == pytest.approx(1.182, abs=1e-2)


def test_contract_periods_refuse_a_table_without_the_spell_columns() -> None:
    with pytest.raises(ValueError, match="billing_days"):
        contract_periods(spells().drop(columns="billing_days"), 365)
    with pytest.raises(ValueError, match="billing_days"):
        contract_periods(spells(), 0)


# ------------------------------------------------------------------ fit status
def test_fit_status_names_each_way_a_fit_ends() -> None:
    """Inside the box with a tight interval: converged. The optimiser's failure: not
    converged, with its message. An interval reaching an edge, or no standard error:
    boundary, naming the parameter."""
    box = ((1e-4, 1e4), (1e-4, 1e4))
    tight = np.eye(2) * 0.01
    assert fit_status(fit_record(np.zeros(2), tight), ("p", "q"), box).ok
    failed = fit_status(fit_record(np.zeros(2), tight, converged=False), ("p", "q"), box)
    assert failed.code == "not_converged" and "stopped" in failed.reason
    edge = fit_status(fit_record(np.array([0.0, np.log(9e3)]), tight), ("p", "q"), box)
    assert edge.code == "boundary" and edge.parameters == ("q",)
    assert "upper edge 10000" in edge.detail
    loose = fit_status(fit_record(np.zeros(2), np.full((2, 2), np.nan)), ("p", "q"), box)
    assert loose.parameters == ("p", "q") and "no finite standard error" in loose.detail


def test_bgnbd_without_convergence_predicts_nothing() -> None:
    fit = fit_record(np.log([0.243, 4.414, 0.793, 2.426]), np.eye(4) * 1e-3, converged=False)
    bg = BGNBDFit(
        BGNBD(0.243, 4.414, 0.793, 2.426), fit, fit_status(fit, "rlab", ((1e-4, 1e6),) * 4)
    )
    assert bg.status.code == "not_converged"
    assert np.isnan(bg.expected(np.array([10.0, 20.0]))).all()


# ------------------------------------------------------------------ BG/NBD on renewals
def yearly_renewals(n: int = 300, cancel: float = 0.1, years: int = 5) -> pd.DataFrame:
    """A subscription cohort written as purchases: each customer pays once a year from a
    day in the first year until they cancel (each renewal with probability ``cancel``)."""
    rng = np.random.default_rng(3)
    origin = pd.Timestamp("2015-01-01")
    rows = []
    for u, first in enumerate(rng.integers(0, 365, n)):
        day = int(first)
        while day < 365 * years:
            rows.append((f"u{u}", origin + pd.Timedelta(days=day), "purchase", 100.0))
            if rng.random() < cancel:
                break
            day += 365
    return pd.DataFrame(rows, columns=["user_id", "timestamp", "event_type", "amount"])


def test_bgnbd_on_yearly_renewals_is_a_boundary_not_a_zero() -> None:
    """Everyone buying once a year leaves no variation in purchase rates: r runs to the
    edge of its box (it went to 1e98 before, predicting 0). Reported, with NaN predictions."""
    log = validate_events(yearly_renewals(), "yearly")
    c = customers_at(log, 365 * 4 - 1)
    bg = fit_bgnbd(c.x, c.t_x / 7, c.T / 7)
    assert bg.status.code == "boundary" and "r" in bg.status.parameters
    assert bg.model.r <= 1e4 * 1.0001
    assert np.isnan(bg.expected(np.array([52.0]))).all()


def test_a_missing_bgnbd_prediction_is_not_available_never_minus_100() -> None:
    """A NaN in the BG/NBD column (even from a converged fit) is no total and no error."""
    weekly = pd.DataFrame(
        {
            "period": ["calibration", "calibration", "holdout"],
            "actual": [5.0, 7.0, 4.0],
            "simulated": [6.0, 6.0, 4.0],
            "bgnbd": [5.0, np.nan, 3.0],
        }
    )
    fit = fit_record(np.zeros(4), np.eye(4) * 1e-3)
    bg = BGNBDFit(BGNBD(1.0, 1.0, 1.0, 1.0), fit, FitStatus("converged"))
    out = errors(weekly, bg)
    cal, hold = out["calibration_repeats"], out["holdout_repeats"]
    assert cal["bgnbd"] is None and cal["bgnbd_error_pct"] is None
    assert cal["bgnbd_note"] == "not available: its prediction is not finite"
    assert hold["bgnbd_error_pct"] == pytest.approx(-25.0) and "bgnbd_note" not in hold


def test_calibrate_reports_the_failed_reference_in_plain_words(tmp_path: Path, capsys) -> None:
    """End to end on the yearly-renewal log: the summary's bgnbd entry has the status and
    reason, each error row says "not available: ...", a note says so, and no output shows a
    BG/NBD error of -100%."""
    path = tmp_path / "yearly.csv"
    yearly_renewals().to_csv(path, index=False)
    out = tmp_path / "out"
    argv = ["calibrate", str(path), "--holdout-from", "2019-01-01", "--classes", "1"]
    assert main([*argv, "--reps", "2", "--out", str(out), "--json"]) == 0
    summary = json.loads((out / "calibration.json").read_text())
    assert summary["bgnbd"]["status"] == "boundary"
    assert "cannot be told from the edge" in summary["bgnbd"]["reason"]
    for row in summary["errors"].values():
        assert row["bgnbd"] is None and row["bgnbd_error_pct"] is None
        assert row["bgnbd_note"].startswith("not available: ")
    assert any(n.startswith("The BG/NBD reference is not available") for n in summary["notes"])
    printed = capsys.readouterr().out
    page = (out / "report.html").read_text()
    assert "BG/NBD not available" in printed and "not available" in page
    assert "-100" not in printed and "-100" not in page
