"""The event log as an input: the subscription schema, row and history rules (errors by
line number, nothing loaded), the guards (date formats, time span, amounts, duplicates,
output folders, --save-scenario), the spells table, and reading speed and memory (a
benchmark test). Every random draw has a fixed seed."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.cli import main
from experiments.config import CONF
from experiments.config.scenario import user_scenario_file
from sim.calibration import EventLogError, eventlog, read_event_log, validate_events
from sim.calibration.spells import COLUMNS, subscription_spells

HEAD = "user_id,timestamp,event_type,amount,plan,price,billing,reason\n"


def write(tmp_path: Path, text: str, name: str = "log.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def refused(path: Path, **kwargs: object) -> str:
    with pytest.raises(EventLogError) as err:
        read_event_log(path, **kwargs)  # type: ignore[arg-type]
    return str(err.value)


# ------------------------------------------------------------------ a subscription log
SUBSCRIPTIONS = HEAD + (
    "a,2023-12-01,subscribe,,basic,9.99,,\n"  # before the window: signed up before export
    "a,2024-01-01,renew,9.99,,,,\n"
    "a,2024-01-15,session,,,,,\n"
    "a,2024-01-31,payment,9.99,basic,,,\n"
    "a,2024-02-10,cancel,,,,,Price\n"
    "a,2024-03-01,resubscribe,,premium,120,annual,\n"
    "b,2024-01-05,subscribe,,basic,9.99,monthly,\n"
    "b,2024-01-06,plan_change,,premium,14.99,,\n"
    "b,2024-01-06T10:00,session,,,,,\n"
    "c,2024-01-03,purchase,5,,,,\n"
)


def test_a_subscription_log_loads_with_its_window_and_spells(tmp_path) -> None:
    log = read_event_log(write(tmp_path, SUBSCRIPTIONS))
    ev = log.events
    assert str(log.origin.date()) == "2023-12-01" and log.bad_rows == [] and log.duplicates == []
    assert log.has_subscriptions and log.window_start == 31 and log.end == 91
    assert ev.day.dtype == np.int32 and isinstance(ev.user_id.dtype, pd.CategoricalDtype)
    assert ev.reason.tolist().count("price") == 1  # read case-insensitively
    spells = subscription_spells(log)
    assert tuple(spells.columns) == COLUMNS
    expected = pd.DataFrame(
        {
            "user_id": ["a", "a", "b"],
            "spell": [0, 1, 0],
            "start": [0, 91, 35],
            "end": [71, 91, 91],  # a's second and b's spell run to the log's last day
            "cancelled": [True, False, False],
            "plan": ["basic", "premium", "premium"],  # b's plan after its plan_change
            "billing": ["monthly", "annual", "monthly"],
            "billing_days": [30, 365, 30],
            "price": [9.99, 120.0, 14.99],
            "monthly_price": [9.99, 120.0 * 30 / 365, 14.99],
            "reason": ["price", "", ""],
        }
    )
    got = spells.assign(user_id=spells.user_id.astype(str))
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_a_purchase_log_has_no_subscriptions_and_no_spells(tmp_path) -> None:
    log = read_event_log(write(tmp_path, HEAD + "x,2024-01-02,purchase,3,,,,\n"))
    assert not log.has_subscriptions and log.window_start == 0 == log.end
    spells = subscription_spells(log)
    assert spells.empty and tuple(spells.columns) == COLUMNS


# ------------------------------------------------------------------ row rules
@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("d,2024-01-02,subscribe,,,9.99,,", "plan empty on subscribe"),
        ("d,2024-01-02,subscribe,,basic,,,", "price not a finite number >= 0"),
        ("d,2024-01-02,plan_change,,basic,-1,,", "price not a finite number >= 0"),
        ("d,2024-01-02,resubscribe,,basic,nan,,", "price not a finite number >= 0"),
        ("d,2024-01-02,subscribe,,basic,5,weekly,", "billing not monthly, annual or empty"),
        ("d,2024-01-02,session,,,,,bored", "reason not price, content, discovery"),
        ("d,2024-01-02,purchase,1e308,,,,", "amount or price above 1,000,000"),
        ("d,2024-01-02,subscribe,,basic,2e6,,", "amount or price above 1,000,000"),
        ("d,2024-01-02,purchase,inf,,,,", "amount not a finite number >= 0"),
        ("d,2024-01-02,purchase,1.5.2,,,,", "amount not a finite number >= 0"),
        ("d,2024-01-02,app_error,-1,,,,", "amount not a finite number >= 0"),
        ("d,2024-01-02,payment_failure,nan,,,,", "amount not a finite number >= 0"),
        ("d,2024-01-02,title_finished,2e6,,,,", "amount or price above 1,000,000"),
        ("d,2024-01-02,teleport,,,,,", "event_type not one of"),
        ("d,1970-01-01,purchase,1,,,,", "timestamp before 1990-01-01"),
        ("d,9999-12-31,purchase,1,,,,", "timestamp before 1990-01-01"),
    ],
)
def test_each_row_rule_names_its_line(tmp_path, row, problem) -> None:
    text = HEAD + "c,2024-01-03,purchase,5,,,,\n" + row + "\n"
    msg = refused(write(tmp_path, text))
    assert "1 bad row(s); nothing was loaded" in msg
    assert f"{problem}" in msg and "1 row(s), lines 3" in msg


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("treatment_arm,1", "arm not treatment, holdout or empty"),
        ("treatment,0", "propensity not a number in (0, 1] or empty"),
        ("holdout,1.01", "propensity not a number in (0, 1] or empty"),
        ("holdout,half", "propensity not a number in (0, 1] or empty"),
    ],
)
def test_offer_arms_and_propensities_are_checked(tmp_path, row, problem) -> None:
    head = "user_id,timestamp,event_type,amount,campaign,arm,propensity\n"
    fine = "c,2024-01-03,purchase,5,,,\nc,2024-01-04,offer_sent,,spring,Holdout,0.5\n"
    msg = refused(write(tmp_path, head + fine + f"c,2024-01-05,offer_sent,,spring,{row}\n"))
    assert f"{problem}: 1 row(s), lines 4" in msg
    log = read_event_log(write(tmp_path, head + fine))
    assert log.events.arm.tolist() == ["", "holdout"] and log.events.propensity.iloc[1] == 0.5


# ------------------------------------------------------------------ signals
SIGNALS = HEAD + (
    "s,2023-12-20,app_error,,,,,\n"  # a signal alone, before any activity: not the window
    "s,2024-01-02,session,,,,,\n"
    "s,2024-01-02,app_error,,,,,\n"  # empty amount: one occurrence
    "s,2024-01-02,app_error,,,,,\n"  # a log may write one row per occurrence: no duplicate
    "s,2024-01-02,Title_Finished,3,,,,\n"  # event types read case-insensitively
    "t,2024-01-05,purchase,5,,,,\n"
    "t,2024-01-05,payment_failure,0,,,,\n"  # a count of 0 is a count
    "t,2024-01-05,purchase,5,,,,\n"  # a duplicate purchase is still one
)


@pytest.mark.parametrize("duplicates", ["drop", "keep"])
def test_signal_rows_are_counts_that_open_no_window(tmp_path, duplicates) -> None:
    """Signal rows load with their counts (an empty amount is 1; repeated rows are more
    occurrences, never duplicates), are ``EventLog.signals``, counted per user and signal by
    ``signal_counts``, and do not open the window."""
    log = read_event_log(write(tmp_path, SIGNALS), duplicates=duplicates)
    assert log.bad_rows == [] and log.duplicates == [9]  # the purchase only
    assert len(log.events) == (8 if duplicates == "keep" else 7)
    assert str(log.origin.date()) == "2023-12-20" and log.window_start == 13 and log.end == 16
    signals = log.signals
    assert signals.event_type.tolist() == ["app_error"] * 3 + ["title_finished", "payment_failure"]
    assert signals.amount.tolist() == [1.0, 1.0, 1.0, 3.0, 0.0]
    assert log.activity.event_type.tolist().count("purchase") == (2 if duplicates == "keep" else 1)
    counts = log.signal_counts()
    assert list(counts.columns) == list(eventlog.SIGNAL_EVENTS) and list(counts.index) == ["s", "t"]
    assert counts.loc["s"].to_dict() == {
        **dict.fromkeys(eventlog.SIGNAL_EVENTS, 0.0),
        "app_error": 3.0,
        "title_finished": 3.0,
    }
    assert counts.loc["t"].sum() == 0.0
    early = log.signal_counts(until=12)
    assert list(early.index) == ["s"] and early.loc["s", "app_error"] == 1.0
    assert log.signal_counts(until=-1).shape == (0, len(eventlog.SIGNAL_EVENTS))


def test_a_signal_table_in_memory_counts_an_empty_amount_once() -> None:
    raw = pd.DataFrame(
        {
            "user_id": [1, 1, 2],
            "timestamp": ["2024-01-01", "2024-01-01", "2024-01-02"],
            "event_type": ["session", "failed_signin", "search_abandoned"],
            "amount": [np.nan, np.nan, 2.0],
        }
    )
    log = validate_events(raw)
    assert log.signals.amount.tolist() == [1.0, 2.0]
    assert log.signal_counts().loc["1", "failed_signin"] == 1.0 and log.window_start == 0


# ------------------------------------------------------------------ history rules
@pytest.mark.parametrize(
    ("rows", "problem", "line"),
    [
        (["cancel,,,,"], "cancel without an active subscription", 2),
        (["subscribe,,a,5,", "cancel,,,,", "cancel,,,,"], "cancel without an active", 4),
        (["subscribe,,a,5,", "subscribe,,b,5,"], "overlapping subscriptions", 3),
        (["subscribe,,a,5,", "resubscribe,,b,5,"], "overlapping subscriptions", 3),
        (["subscribe,,a,5,", "cancel,,,,", "renew,5,,,"], "while not subscribed", 4),
        (["subscribe,,a,5,", "cancel,,,,", "payment,5,,,"], "while not subscribed", 4),
        (["subscribe,,a,5,", "cancel,,,,", "plan_change,,b,5,"], "while not subscribed", 4),
        (["resubscribe,,a,5,"], "resubscribe without an earlier cancel", 2),
        (["subscribe,,a,5,", "renew,5,b,,"], "unknown plan", 3),
        (["subscribe,,a,5,", "plan_change,,b,6,", "cancel,,a,,"], "unknown plan", 4),
    ],
)
def test_inconsistent_histories_are_named_by_line(tmp_path, rows, problem, line) -> None:
    body = "".join(f"u,2024-01-{d + 1:02d},{r}\n" for d, r in enumerate(rows))
    path = write(tmp_path, "user_id,timestamp,event_type,amount,plan,price,reason\n" + body)
    msg = refused(path)
    assert problem in msg and f"lines {line}" in msg and "nothing was loaded" in msg
    assert ("the earlier one" in msg) == (problem == "overlapping subscriptions")


def test_a_subscribe_after_a_cancel_and_same_day_events_in_file_order(tmp_path) -> None:
    text = HEAD + (
        "u,2024-01-01,subscribe,,a,5,,\n"
        "u,2024-01-09,cancel,,,,,\n"
        "u,2024-01-09,subscribe,,a,5,,\n"  # same day, after the cancel in the file
        "u,2024-01-20,renew,5,,,,\n"
    )
    spells = subscription_spells(read_event_log(write(tmp_path, text)))
    assert spells.spell.tolist() == [0, 1] and spells.end.tolist() == [8, 19]
    swapped = text.replace(
        "cancel,,,,,\nu,2024-01-09,subscribe,,a,5,,", "subscribe,,a,5,,\nu,2024-01-09,cancel,,,,,"
    )
    assert "overlapping" in refused(write(tmp_path, swapped))


def test_skipping_bad_rows_leaves_a_consistent_history(tmp_path) -> None:
    """A bad event changes nothing: after a stray cancel and an overlapping subscribe are
    left out, the rest is one spell; the report's line numbers are the file's."""
    text = HEAD + (
        "u,2024-01-01,cancel,,,,,\n"  # line 2: nothing to cancel
        "u,2024-01-02,subscribe,,a,5,,\n"
        "u,2024-01-03,subscribe,,b,5,,\n"  # line 4: overlaps
        "u,2024-01-04,renew,5,b,,,\n"  # line 5: plan b never started
        "u,2024-01-05,renew,5,a,,,\n"
        "u,2024-01-06,cancel,,,,,technical\n"
        "w,2024-01-06,purchase,4,,,,\n"
    )
    log = read_event_log(write(tmp_path, text), skip_bad_rows=True)
    assert log.bad_rows == [2, 4, 5]
    assert log.notes == [
        "3 bad row(s) left out (lines 2, 4, 5), as asked (--skip-bad-rows; skip_bad_rows=True "
        "from Python)."
    ]
    spells = subscription_spells(log)
    assert spells[["start", "end", "plan", "reason"]].values.tolist() == [[0, 4, "a", "technical"]]


# ------------------------------------------------------------------ dates
DAY_FIRST = HEAD + "a,13/04/2024,purchase,5,,,,\na,03/04/2024,purchase,5,,,,\n"


def test_day_first_dates_are_refused_unless_their_format_is_given(tmp_path) -> None:
    """Both rows are refused (today one would be 13 April, the other 4 March); with the
    format both are read day-first, and the format is applied strictly to every row."""
    path = write(tmp_path, DAY_FIRST)
    msg = refused(path)
    assert "timestamp not a date: 2 row(s), lines 2, 3" in msg
    assert "--date-format '%d/%m/%Y'" in msg and "line 2 has '13/04/2024'" in msg
    log = read_event_log(path, date_format="%d/%m/%Y")
    assert [str(t.date()) for t in log.events.timestamp] == ["2024-04-03", "2024-04-13"]
    mixed = write(tmp_path, DAY_FIRST + "a,2024-04-20,purchase,5,,,,\n", "mixed.csv")
    msg = refused(mixed, date_format="%d/%m/%Y")
    assert "timestamp not a date: 1 row(s), lines 4" in msg and "format '%d/%m/%Y'" in msg


@pytest.mark.parametrize(
    "text", ["04-03-2024", "Apr 3 2024", "2024/04/03", "2024-4-3", "20240403", "2024", "then"]
)
def test_other_date_formats_are_refused(tmp_path, text) -> None:
    path = write(tmp_path, HEAD + "c,2024-01-03,purchase,5,,,,\n" + f"c,{text},purchase,5,,,,\n")
    assert "timestamp not a date: 1 row(s), lines 3" in refused(path)


def test_iso_forms_and_typed_parquet_timestamps_are_read(tmp_path) -> None:
    text = HEAD + (
        "a,2024-01-01,purchase,1,,,,\n"
        "a,2024-01-02 23:30:00-05:00,purchase,1,,,,\n"  # 04:30 UTC on the 3rd
        "a,2024-01-04T10:00:00.250Z,purchase,1,,,,\n"
    )
    log = read_event_log(write(tmp_path, text))
    assert log.events.day.tolist() == [0, 2, 3]
    stamps = pd.to_datetime(["2024-01-01T12:00", "2024-01-02T23:30"]).tz_localize("US/Eastern")
    for column in (stamps, stamps.tz_localize(None), stamps.date):
        table = pd.DataFrame(
            {"user_id": ["a", "a"], "timestamp": column, "event_type": "purchase", "amount": 1.0}
        )
        table.to_parquet(tmp_path / "typed.parquet")
        days = read_event_log(tmp_path / "typed.parquet").events.day.tolist()
        assert days == ([0, 2] if column is stamps else [0, 1])


# ------------------------------------------------------------------ span and amounts
def test_a_far_outlier_timestamp_is_refused_before_any_per_day_work(tmp_path) -> None:
    """A 1970 or a 9999 row fails at once by line; accepted, the span check names the first
    and last lines; a longer span allowed, the log loads."""
    rows = "".join(f"u{i},2024-01-{i + 1:02d},purchase,5,,,,\n" for i in range(20))
    for stamp, line_years in (("1970-01-01", "54.1 years"), ("9999-12-31", "7975.8 years")):
        path = write(tmp_path, HEAD + rows + f"x,{stamp},purchase,5,,,,\n")
        t0 = time.perf_counter()
        assert "lines 22" in refused(path) and "--accept-dates" in refused(path)
        msg = refused(path, accept_dates=True)
        assert f"span {line_years}" in msg and "line 22" in msg and "--max-years" in msg
        assert time.perf_counter() - t0 < 5.0
    log = read_event_log(path, accept_dates=True, max_years=10_000, skip_bad_rows=True)
    assert log.end == (pd.Timestamp("9999-12-31") - pd.Timestamp("2024-01-01")).days


def test_the_amount_ceiling_can_be_raised(tmp_path) -> None:
    path = write(tmp_path, HEAD + "c,2024-01-03,purchase,2500000,,,,\n")
    assert "--max-amount" in refused(path)
    assert read_event_log(path, max_amount=1e7).events.amount.tolist() == [2.5e6]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"date_format": "dd/mm/yyyy"}, "date_format: 'dd/mm/yyyy'"),
        ({"max_years": 0}, "max_years: 0; allowed: a finite number > 0"),
        ({"max_amount": float("inf")}, "max_amount: inf"),
        ({"duplicates": "sum"}, "duplicates: 'sum'; allowed: drop, keep"),
    ],
)
def test_limits_are_checked_before_reading(tmp_path, kwargs, expected) -> None:
    with pytest.raises(EventLogError, match="^" + expected.replace("(", r"\(")):
        read_event_log(tmp_path / "not read.csv", **kwargs)


# ------------------------------------------------------------------ duplicates
def test_duplicate_rows_are_reported_and_dropped_or_kept(tmp_path) -> None:
    text = HEAD + (
        "c,2024-01-03,purchase,5,,,,\n"
        "c,2024-01-03,purchase,5,,,,\n"  # line 3: a duplicate
        "c,2024-01-03,purchase,5.0,,,,\n"  # line 4: the same number
        "c,2024-01-03,purchase,6,,,,\n"  # another purchase that day
        "c,2024-01-03,session,,,,,\n"
        "d,2024-01-03,purchase,5,,,,\n"
    )
    path = write(tmp_path, text)
    log = read_event_log(path)
    assert log.duplicates == [3, 4] and len(log.events) == 4
    assert log.notes == [
        "2 exact duplicate row(s) (lines 3, 4): dropped (keep them: --duplicates keep, "
        "duplicates='keep' from Python)."
    ]
    kept = read_event_log(path, duplicates="keep")
    assert kept.duplicates == [3, 4] and len(kept.events) == 6 and "kept" in kept.notes[0]


def test_a_duplicated_subscribe_is_one_subscription(tmp_path) -> None:
    text = HEAD + "u,2024-01-01,subscribe,,a,5,,\n" * 2 + "u,2024-01-02,session,,,,,\n"
    assert len(subscription_spells(read_event_log(write(tmp_path, text)))) == 1
    assert "overlapping" in refused(write(tmp_path, text), duplicates="keep")


# ------------------------------------------------------------------ the CLI
def test_an_unwritable_out_fails_before_the_log_is_read(tmp_path, capsys) -> None:
    blocker = write(tmp_path, "a file")
    argv = ["calibrate", str(tmp_path / "missing.csv"), "--out", str(blocker / "out")]
    assert main(argv) == 2
    assert "--out:" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--save-scenario", "streaming", "--force"], "'streaming' is a built-in scenario"),
        (["--save-scenario", "cdnow", "--force"], "'cdnow' is a built-in scenario"),
        (["--save-scenario", "x", "--config-dir", str(CONF)], "the package's own config"),
        (["--date-format", "%d/%m/%Y", "--max-years", "-1"], "max_years: -1.0"),
    ],
)
def test_bad_calibrate_flags_fail_before_any_work(tmp_path, capsys, extra, expected) -> None:
    argv = ["calibrate", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o"), *extra]
    assert main(argv) == 2
    assert expected in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_user_scenario_files_go_to_the_users_folder(tmp_path) -> None:
    assert user_scenario_file("mine", tmp_path) == tmp_path / "scenario" / "mine.yaml"
    (tmp_path / "scenario").mkdir()
    (tmp_path / "scenario" / "mine.yaml").write_text("{}")
    with pytest.raises(ValueError, match="exists; allowed: a new name, or --force"):
        user_scenario_file("mine", tmp_path)
    assert user_scenario_file("mine", tmp_path, force=True).parent == tmp_path / "scenario"
    with pytest.raises(ValueError, match="package's own config folder"):
        user_scenario_file("mine", CONF / "scenario")


def test_calibrate_reports_duplicates_and_saves_to_the_users_folder(
    tmp_path, capsys, monkeypatch
) -> None:
    """A small purchase log with one duplicated row: the note on stderr and in the
    summary's notes; ``--save-scenario`` writes my_conf/scenario/NAME.yaml under the
    working directory, and nothing in the package's conf/."""
    rows = [f"{u},2024-01-0{d},purchase,5" for u in "abcde" for d in (1, 3, 6)]
    path = write(tmp_path, "\n".join(["user_id,timestamp,event_type,amount", *rows, rows[0]]))
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in (CONF / "scenario").iterdir())
    argv = ["calibrate", str(path), "--classes", "1", "--reps", "2", "--out", "out"]
    assert main([*argv, "--save-scenario", "mine"]) == 0
    err = capsys.readouterr().err
    assert "winback: note: 1 exact duplicate row(s) (lines 17): dropped" in err
    summary = json.loads((tmp_path / "out" / "calibration.json").read_text())
    assert any("exact duplicate" in note for note in summary["notes"])
    assert (tmp_path / "my_conf" / "scenario" / "mine.yaml").is_file()
    assert sorted(p.name for p in (CONF / "scenario").iterdir()) == before


# ------------------------------------------------------------------ spells at scale
def subscription_log(users: int, days: int = 730, seed: int = 0) -> tuple[pa.Table, pd.DataFrame]:
    """A synthetic subscription log over ``days`` (from 2023-01-01) and its true spells:
    each customer subscribes (up to 300 days before the window: then the subscribe row
    comes before it), renews every billing period, sessions about 6.5 times a month while
    subscribed, may cancel and some resubscribe once; rows shuffled."""
    rng = np.random.default_rng(seed)
    annual = rng.random(users) < 0.2
    first = rng.integers(-300, days - 30, users)
    again = rng.random(users) < 0.3
    start = np.concatenate([first, np.zeros(users, dtype=np.int64)])
    life = rng.exponential(np.tile(np.where(annual, 900, 300), 2)).astype(np.int64) + 1
    start[users:] = first + life[:users] + rng.integers(1, 90, users)
    stop = start + life
    spell = np.repeat([0, 1], users)
    owner = np.tile(np.arange(users), 2)
    real = (spell == 0) | (again & (stop[:users] >= 0) & (start[users:] < days))[owner]
    start, stop, spell, owner = start[real], stop[real], spell[real], owner[real]
    stop = np.where(stop < days, np.maximum(stop, 0), days)  # days: still subscribed
    period = np.where(annual[owner], 365, 30)
    rows = [_starts(start, spell, owner, annual), _renewals(start, stop, period, owner, days)]
    rows += [_cancels(stop, owner, days, rng), _sessions(start, stop, owner, days, rng)]
    frame = pd.concat(rows, ignore_index=True).sample(frac=1.0, random_state=seed)
    frame["timestamp"] = (
        pd.Timestamp("2023-01-01") + pd.to_timedelta(frame.pop("second"), unit="s")
    ).dt.strftime("%Y-%m-%dT%H:%M:%S")
    frame["user_id"] = "u" + frame.user_id.astype(str)
    truth = pd.DataFrame(  # days from the log's first day, the earliest subscribe
        {"user": owner, "spell": spell, "start": start - start.min(), "cancelled": stop < days}
    )
    truth["stop"] = stop - start.min()
    return pa.Table.from_pandas(frame, preserve_index=False), truth


def _rows(owner, day, second, kind, **extra) -> pd.DataFrame:
    return pd.DataFrame(
        {"user_id": owner, "second": day * 86_400 + second, "event_type": kind, **extra}
    )


def _starts(start, spell, owner, annual) -> pd.DataFrame:
    return _rows(
        owner,
        start,
        0,
        np.where(spell == 0, "subscribe", "resubscribe"),
        plan=np.where(annual[owner], "yearly", "basic"),
        price=np.where(annual[owner], 99.0, 9.99),
        billing=np.where(annual[owner], "annual", "monthly"),
    )


def _renewals(start, stop, period, owner, days) -> pd.DataFrame:
    count = np.maximum((np.minimum(stop, days) - start - 1) // period, 0)
    at = np.repeat(np.arange(start.size), count)
    k = np.arange(at.size) - np.repeat(np.cumsum(count) - count, count) + 1
    day = start[at] + k * period[at]
    seen = day >= 0  # before the window only the subscribe row is written
    return _rows(
        owner[at][seen], day[seen], 60, "renew", amount=np.where(period[at] > 30, 99.0, 9.99)[seen]
    )


def _cancels(stop, owner, days, rng) -> pd.DataFrame:
    done = stop < days
    reasons = np.array(["price", "content", "discovery", "technical", "none", ""])
    pick = reasons[rng.integers(0, reasons.size, int(done.sum()))]
    return _rows(owner[done], stop[done], 86_399, "cancel", reason=pick)


def _sessions(start, stop, owner, days, rng) -> pd.DataFrame:
    low, high = np.maximum(start, 0), np.minimum(stop, days)
    count = rng.poisson(np.maximum(high - low, 0) * 6.5 / 30)
    at = np.repeat(np.arange(start.size), count)
    day = low[at] + (rng.random(at.size) * (high - low)[at]).astype(np.int64)
    return _rows(owner[at], day, rng.integers(120, 86_000, at.size), "session")


def test_spells_of_a_synthetic_log_are_its_true_spells(tmp_path) -> None:
    """2,000 customers, rows shuffled, through CSV: every spell recovered exactly."""
    table, truth = subscription_log(2000, seed=1)
    pcsv.write_csv(table, tmp_path / "subs.csv")
    log = read_event_log(tmp_path / "subs.csv")
    spells = subscription_spells(log)
    got = spells.assign(user=spells.user_id.astype(str).str[1:].astype(int))
    got = got.sort_values(["user", "spell"]).reset_index(drop=True)
    want = truth.sort_values(["user", "spell"]).reset_index(drop=True)
    assert len(got) == len(want) and got.spell.max() == 1
    np.testing.assert_array_equal(got.start, want.start)
    np.testing.assert_array_equal(got.cancelled, want.cancelled)
    np.testing.assert_array_equal(got.end, np.where(want.cancelled, want.stop, log.end))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 60), st.integers(1, 90), st.booleans()), min_size=1, max_size=5
    ),
    st.integers(0, 2**32 - 1),
)
def test_spells_rebuild_any_valid_history(gaps, seed) -> None:
    """Any alternating history (gap before a start, length, cancelled or not for the last)
    in shuffled rows gives back its spells."""
    rows, want, day = [], [], 0
    for i, (gap, length, _) in enumerate(gaps):
        day += gap
        rows.append(("u", day, "subscribe" if i == 0 else "resubscribe", "", "p", "5"))
        rows += [("u", day + d, "renew", "5", "", "") for d in range(30, length, 30)]
        last = i == len(gaps) - 1 and not gaps[-1][2]
        if not last:
            rows.append(("u", day + length, "cancel", "", "", ""))
        want.append((day, day + length, not last))
        day += length
    cols = ["user_id", "day", "event_type", "amount", "plan", "price"]
    raw = pd.DataFrame(rows, columns=cols).sample(frac=1.0, random_state=seed)
    raw["timestamp"] = (pd.Timestamp("2024-01-01") + pd.to_timedelta(raw.pop("day"), "D")).astype(
        str
    )
    spells = subscription_spells(validate_events(raw))
    first = want[0][0]
    end = max(r[1] for r in rows) - first  # the log's last day
    got = list(zip(spells.start, spells.end, spells.cancelled, strict=True))
    expected = [(s - first, e - first if c else end, c) for s, e, c in want]
    assert got == expected


# ------------------------------------------------------------------ reading in batches
def batch_logs(tmp_path: Path, layout: str) -> list[Path]:
    """A 300-customer log with a bad timestamp and five repeated rows, as CSV, Parquet and
    gzipped CSV: ``shuffled`` (text ids, times to the second) or ``by_user`` (integer ids
    written user by user, whole days)."""
    frame = subscription_log(300, seed=2)[0].to_pandas()
    if layout == "by_user":
        frame["user_id"] = frame.user_id.str[1:].astype(np.int64)
        frame["timestamp"] = frame.timestamp.str[:10]
        frame = frame.sort_values(["user_id", "timestamp"], kind="stable")
    frame = pd.concat([frame, frame.iloc[:5]], ignore_index=True)
    frame.loc[7, "timestamp"] = "not a date"
    paths = [tmp_path / f"{layout}.csv", tmp_path / f"{layout}.parquet", tmp_path / "log.gz"]
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pcsv.write_csv(table, paths[0])
    pq.write_table(table, paths[1])
    paths[2].write_bytes(gzip.compress(paths[0].read_bytes()))  # more rows than room made
    return paths


@pytest.mark.parametrize("layout", ["shuffled", "by_user"])
def test_reading_in_batches_changes_nothing(tmp_path, monkeypatch, layout) -> None:
    """The rows read and checked a few at a time (Parquet batches of 97 rows, CSV blocks of
    4 KB) give the table, bad rows and duplicates of one batch; the file types agree."""
    paths = batch_logs(tmp_path, layout)
    whole = [read_event_log(p, skip_bad_rows=True) for p in paths]
    monkeypatch.setattr(eventlog, "BATCH_ROWS", 97)
    monkeypatch.setattr(eventlog, "CSV_BLOCK_BYTES", 4096)
    for path, once in zip(paths, whole, strict=True):
        log = read_event_log(path, skip_bad_rows=True)
        pd.testing.assert_frame_equal(log.events, once.events)
        assert (log.bad_rows, log.duplicates) == (once.bad_rows, once.duplicates)
        assert len(log.duplicates) >= 5 and 9 in log.bad_rows  # line 9: row 7
    for other in whole[1:]:
        pd.testing.assert_frame_equal(whole[0].events, other.events)
    stamps = whole[0].events.timestamp
    assert isinstance(stamps.dtype, pd.CategoricalDtype) == (layout == "by_user")
    assert (pd.to_datetime(np.asarray(stamps)).normalize() - whole[0].origin).days.equals(
        pd.Index(whole[0].events.day.to_numpy(np.int64))
    )


# ------------------------------------------------------------------ speed and memory
MEASURE = """
import sys, time
from sim.calibration import read_event_log
from sim.calibration.spells import subscription_spells
def peak():  # this process's own peak RSS (getrusage's ru_maxrss keeps the parent's)
    status = open("/proc/self/status").read()
    return int(status.split("VmHWM:")[1].split()[0]) * 1024
imported = peak()
t0 = time.perf_counter()
log = read_event_log(sys.argv[1])
spells = subscription_spells(log)
print(len(log.events), time.perf_counter() - t0, peak(), imported, len(spells))
"""


@pytest.mark.benchmark
def test_five_million_rows_read_in_20_s_and_250_bytes_a_row(tmp_path) -> None:
    """100,000 subscribers over two years (about 5 million rows, time-stamped to the
    second, shuffled): read, validated and made into spells in <= 20 s, peak memory <= 250
    bytes per row (the process in all, the interpreter and libraries included)."""
    table, _ = subscription_log(100_000)
    pcsv.write_csv(table, tmp_path / "big.csv")
    del table
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(tmp_path / "big.csv")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    rows, seconds, peak, imported = int(out[0]), float(out[1]), int(out[2]), int(out[3])
    print(
        f"{rows:,} rows: {seconds:.1f} s, peak {peak / 1e6:.0f} MB ({peak / rows:.0f} B/row; "
        f"{(peak - imported) / rows:.0f} B/row over the imports)"
    )
    assert rows > 4_500_000 and seconds <= 20.0 and peak / rows <= 250
