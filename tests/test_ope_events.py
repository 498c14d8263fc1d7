"""A company's event log as logged decisions: the simulator's own log read back gives its
rounds exactly, the features the log determines as the simulator's agents see them (reach
from its ``unsubscribe`` rows included), what the company could do in each round
(``allowed``) exactly, the rewards as cash close to the simulator's accrued profit; the rules
on a small hand-made log; bad logs refused by name; the decisions table and ``Logged`` one
schema both ways."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from experiments.ope.behaviour import Uniform, log_with_events
from experiments.ope.events import (
    COLUMNS,
    allowed_columns,
    decisions_from_events,
    decisions_of,
    logged_from_decisions,
)
from experiments.ope.logged import Logged, load, save
from sim import presets
from sim.calibration.eventlog import EventLogError, read_event_log
from sim.offers import OBSERVED_STATUSES
from sim.records import save as save_events

SCENARIO = presets.streaming(n_users=3000, horizon_days=182)
CATALOGUE = presets.streaming_offers()
START = "2024-01-01"

EXACT = (
    "status_", "plan_", "price_paid", "discount_active", "offers_received", "offers_opened",
    "last_offer_", "since_last_offer", "ever_sent_", "ever_opened_", "survey_",
    "reachable_", "episode_progress",
)  # fmt: skip
"""Features the log determines (equal to the simulator's up to float32 rounding)."""


@pytest.fixture(scope="module", params=[True, False], ids=["once", "every-epoch"])
def both(request, tmp_path_factory):
    """The simulator's rounds and the decisions table read from the same run's event log,
    aligned row for row."""
    logged, events = log_with_events(Uniform(), SCENARIO, CATALOGUE, seed=1, once=request.param)
    path = tmp_path_factory.mktemp("events") / "log.csv"
    save_events(events, path)
    log = read_event_log(path, accept_dates=True, max_years=1000.0)  # sign-ups decades back
    table, notes = decisions_from_events(log, SCENARIO, CATALOGUE)
    sim_day = (table.date - pd.Timestamp(START)).dt.days - SCENARIO.warmup_days
    ours = pd.DataFrame({"user": table.user_id.astype(int), "day": sim_day, "i": table.index})
    theirs = pd.DataFrame({"user": logged.user, "day": logged.day, "j": range(logged.n_rounds)})
    pairs = ours.merge(theirs, on=["user", "day"], how="outer", indicator=True)
    return logged, log, table, notes, pairs


def test_the_decisions_are_the_simulators_rounds_exactly(both) -> None:
    logged, _, table, notes, pairs = both
    assert (pairs._merge == "both").all() and len(pairs) == logged.n_rounds == len(table)
    i, j = pairs.i.to_numpy(int), pairs.j.to_numpy(int)
    assert np.array_equal(table.action.to_numpy()[i], logged.action[j])
    assert np.array_equal(table.propensity.to_numpy()[i], logged.pscore[j])
    assert list(table.columns) == [
        *COLUMNS,
        *allowed_columns(CATALOGUE.names),
        *logged.meta["features"],
    ]
    assert any("window runs past the log's last day" in n for n in notes)


def test_the_features_the_log_determines_are_the_simulators(both) -> None:
    logged, log, table, _, pairs = both
    i, j = pairs.i.to_numpy(int), pairs.j.to_numpy(int)
    names = logged.meta["features"]
    ours, theirs = table[names].to_numpy()[i], logged.context[j].astype(np.float64)

    def diff(name: str) -> np.ndarray:
        k = names.index(name)
        return ours[:, k] - theirs[:, k]

    exact = [n for n in names if n.startswith(EXACT)]
    assert len(exact) == 3 + 3 + 2 + 2 + 9 + 1 + 7 + 7 + 5 + 3 + 1  # last_offer_: 7 + 2
    worst = {n: float(np.abs(diff(n)).max()) for n in exact}
    assert max(worst.values()) < 1e-6, {n: d for n, d in worst.items() if d >= 1e-6}
    # whole days against the time of day: the log's are up to a day more, except for the
    # customers already cancelled when the log opens (history unknown: no earlier sign-up)
    ev = log.events
    first = ev[ev.day == log.window_start]
    lapsed = set(first[first.event_type == "subscribe"].user_id.astype(str)) & set(
        first[first.event_type == "cancel"].user_id.astype(str)
    )
    known = ~np.isin(table.user_id.astype(str).to_numpy()[i], list(lapsed))
    for name, scale in (("recency", 365), ("tenure", 1825)):
        assert diff(name)[known].min() > -1e-6 and diff(name)[known].max() < 1 / scale
    assert (~known).any() and np.abs(diff("tenure")[~known]).max() > 0.1
    # days with a session: never more than the sessions, present exactly when they are
    for name in ("sessions_4w", "sessions_13w"):
        k = names.index(name)
        assert (ours[:, k] <= theirs[:, k] + 1e-6).all()
        assert np.array_equal(ours[:, k] > 0, theirs[:, k] > 0)
    # filled in: equal genre shares
    assert np.allclose(table.filter(like="genre_share_"), 1 / len(SCENARIO.genres))
    # signals: exact counts over days with a session, so a rate never below the simulator's
    # (sessions), zero exactly when it is, and equal where every session day had one session
    signals = [n for n in names if n.startswith("signal_")]
    assert len(signals) == 7
    for name in signals:
        k = names.index(name)
        assert (ours[:, k] >= theirs[:, k] - 1e-6).all(), name
        assert np.array_equal(ours[:, k] > 0, theirs[:, k] > 0), name
    k = names.index("signal_title_finished")
    assert np.mean(np.abs(ours[:, k] - theirs[:, k]) < 0.05) > 0.5
    # revenue to date: payments as billed against revenue accrued a day at a time
    k = names.index("revenue_to_date")
    assert np.corrcoef(ours[:, k], theirs[:, k])[0, 1] > 0.9


def test_reach_and_what_the_company_could_do_are_the_simulators_exactly(both) -> None:
    """The rebuilt ``reachable_*`` are the simulator's observation and the rebuilt
    ``allowed`` its mask (``Simulation.mask``, which ``log_decisions`` records) in every
    round: no tolerance. Every rule is at work: opt-outs, eligibility, and (deciding every
    epoch) the frequency caps."""
    logged, _, table, _, pairs = both
    i, j = pairs.i.to_numpy(int), pairs.j.to_numpy(int)
    names = logged.meta["features"]
    for channel in ("email", "push", "sms"):
        ours = table[f"reachable_{channel}"].to_numpy()[i]
        theirs = logged.context[j, names.index(f"reachable_{channel}")]
        assert np.array_equal(ours, theirs), channel
        assert (theirs == 0).any() and (theirs == 1).any(), channel
    rebuilt = logged_from_decisions(table, CATALOGUE.names).allowed
    assert rebuilt is not None and logged.allowed is not None
    assert rebuilt.dtype == bool and np.array_equal(rebuilt[i], logged.allowed[j])
    assert rebuilt[np.arange(len(rebuilt)), table.action.to_numpy()].all()  # what was done
    # each rule refuses something: unreachable, ineligible, and over the cap
    status = (table.status_inactive + 2 * table.status_churned).to_numpy(int)
    eligible = np.stack(
        [np.isin(np.array(OBSERVED_STATUSES)[status], o.eligible) for o in CATALOGUE.offers], 1
    )
    reach = np.stack([table[f"reachable_{o.channel}"] > 0 for o in CATALOGUE.offers], 1)
    assert (~eligible).any() and (eligible & ~reach).any()
    capped = (eligible & reach & ~rebuilt[:, 1:]).sum()
    assert capped > 0 if not logged.meta["once"] else capped == 0


def test_cash_rewards_agree_with_the_simulators_accrued_profit(both) -> None:
    logged, _, table, _, pairs = both
    i, j = pairs.i.to_numpy(int), pairs.j.to_numpy(int)
    cash, profit, action = table.reward.to_numpy()[i], logged.reward[j], logged.action[j]
    seen = cash  # less a support call's cost when the customer took it up (opened)
    gaps = {a: float(seen[action == a].mean() - profit[action == a].mean()) for a in range(8)}
    assert max(abs(g) for g in gaps.values()) < 1.0, gaps  # timing of cash; serving costs
    assert abs(cash.mean() - profit.mean()) < 0.5
    assert np.corrcoef(cash, profit)[0, 1] > 0.85


# ------------------------------------------------------------- a small hand-made log
HEADER = (
    "user_id,timestamp,event_type,amount,offer,channel,plan,price,billing,reason,arm,propensity"
)
ROWS = [
    "a,2024-01-01,subscribe,,,,basic,9.99,monthly,,,",
    "a,2024-01-05,session,,,,,,,,,",
    "a,2024-01-31,renew,9.99,,,,,,,,",
    "a,2024-02-10,cancel,,,,,,,price,,",
    "a,2024-03-01,offer_sent,,discount_30,email,,,,,treatment,0.5",
    "a,2024-03-01,offer_opened,,discount_30,email,,,,,,",
    "a,2024-03-03,resubscribe,6.99,,,basic,9.99,monthly,,,",
    "a,2024-03-04,session,,,,,,,,,",
    "b,2024-01-01,subscribe,,,,standard,15.49,monthly,,,",
    "b,2024-02-20,session,,,,,,,,,",
    "b,2024-02-27,session,,,,,,,,,",
    "b,2024-03-01,offer_sent,,discount_30,,,,,,holdout,0.5",
    "b,2024-03-01,offer_sent,,reminder_email,email,,,,,treatment,0.25",
    "b,2024-03-01,renew,15.49,,,,,,,,",
    "b,2024-03-31,renew,15.49,,,,,,,,",
    "c,2024-01-01,subscribe,,,,premium,22.99,monthly,,,",
    "c,2024-01-10,session,,,,,,,,,",
    "c,2024-02-01,offer_sent,,reminder_email,email,,,,,,",
    "c,2024-03-08,offer_sent,,reminder_email,email,,,,,treatment,0.25",
    "c,2024-04-20,offer_sent,,reminder_email,email,,,,,treatment,0.25",
    "c,2024-04-30,session,,,,,,,,,",
]


def _log(tmp_path, rows=ROWS, header=HEADER):
    path = tmp_path / "log.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return read_event_log(path)


def test_the_rules_on_a_small_log(tmp_path) -> None:
    table, notes = decisions_from_events(_log(tmp_path), SCENARIO, CATALOGUE)
    t = table.set_index("user_id")
    assert list(t.index) == ["a", "b", "c"]  # c's decision of April 20 outlasts the log
    assert list(t.offer) == ["discount_30", "no_offer", "reminder_email"]  # b: holdout first
    assert list(t.action) == [2, 0, 1] and list(t.propensity) == [0.5, 0.5, 0.25]
    email = SCENARIO.channel("email").cost_per_send
    # money in over the 28 days from the decision day, less the send
    assert t.reward.to_numpy() == pytest.approx([6.99 - email, 15.49, -email])
    assert list(t.reactivated) == [True, False, False]
    assert t.status_churned["a"] == 1 and t.status_active["b"] == 1 and t.status_inactive["c"] == 1
    assert t.survey_price["a"] == 1 and t.plan_premium["c"] == 1
    assert t.recency["a"] == pytest.approx(56 / 365) and t.tenure["a"] == pytest.approx(60 / 1825)
    assert t.price_paid.to_numpy() == pytest.approx([0, 15.49 / 22.99, 22.99 / 22.99])
    # the episode begins warmup_days after the first event that is not a sign-up (Jan 5)
    assert t.episode_progress["b"] == 0 and t.sessions_4w["b"] == pytest.approx(2 / 56)
    assert t.offers_received["c"] == pytest.approx(1 / 20) and t.last_offer_reminder_email["c"]
    assert t.since_last_offer["c"] == pytest.approx(36 / 365) and t.last_offer_ignored["c"] == 1
    assert t.since_last_offer["a"] == 1 and t.offers_received["a"] == 0
    said = " ".join(notes)
    assert "The log records no unsubscribe rows: every customer is taken as reachable" in said
    assert "1 offer_sent row(s) without a propensity" in said
    assert "1 decision(s) whose 28-day window runs past the log's last day (2024-04-30)" in said
    assert "1 further decision row(s) for a customer already decided for that day" in said


def test_opt_outs_and_caps_on_a_small_log(tmp_path) -> None:
    """An opt-out holds from the next day for the rest of the log (one dated before the
    window too, and it does not open the window); the cap counts a channel's sends in the
    decision's episode week and the three before (weeks begin on the episode's day 0, here
    March 1: ``window_start`` January 5 + 56 warm-up days), not a rolling 28 days."""
    rows = [
        *ROWS,
        "a,2023-06-01,unsubscribe,,,sms,,,,,,",  # before the window: unreachable all along
        "b,2024-03-01,unsubscribe,,,email,,,,,,",  # on b's decision day: after the decision
        "c,2024-02-10,offer_sent,,support_call,sms,,,,,,",  # 27 days before c's decision
        "c,2024-02-27,offer_sent,,support_call,,,,,,,",  # its offer's channel (sms)
    ]
    log = _log(tmp_path, rows)
    opens = log.origin + pd.Timedelta(days=log.window_start)
    assert log.origin == pd.Timestamp("2023-06-01") and opens == pd.Timestamp("2024-01-05")
    table, notes = decisions_from_events(log, SCENARIO, CATALOGUE)
    t = table.set_index("user_id")
    assert list(t.reachable_sms) == [0, 1, 1] and list(t.reachable_email) == [1, 1, 1]
    assert not any("records no unsubscribe rows" in n for n in notes)
    # a: churned (a free trial is eligible), not reachable by SMS
    assert t.loc["a", allowed_columns(CATALOGUE.names)].to_dict() == {
        "allowed_reminder_email": True,
        "allowed_discount_30": True,
        "allowed_discount_50_sms": False,
        "allowed_free_trial_30": True,
        "allowed_recommendations": True,
        "allowed_support_call": False,
        "allowed_new_release_push": True,
    }
    assert not t.loc["b", "allowed_free_trial_30"]  # active, not churned
    # c on March 8: one SMS send since February 16 (cap 2), two in the 28 days before
    assert t.loc["c", "allowed_support_call"] and t.loc["c", "allowed_discount_50_sms"]
    rows.append("c,2024-03-07,offer_sent,,reminder_email,sms,,,,,,")  # the row's channel
    t = decisions_from_events(_log(tmp_path, rows), SCENARIO, CATALOGUE)[0].set_index("user_id")
    assert not t.loc["c", "allowed_support_call"] and t.loc["c", "allowed_reminder_email"]


@pytest.mark.parametrize("channel", ["fax", ""])
def test_an_opt_out_on_an_unknown_channel_is_refused_by_name(tmp_path, channel) -> None:
    rows = [*ROWS[:2], f"a,2024-01-06,unsubscribe,,,{channel},,,,,,", *ROWS[2:]]
    with pytest.raises(
        EventLogError,
        match=rf"channel not email, push, sms on an unsubscribe \(required there\): 1 row\(s\), "
        rf"lines 4\n.*\n?  channel: '{channel}' on the unsubscribe of line 4; allowed: email, "
        r"push, sms",
    ):
        _log(tmp_path, rows)
    log = _log(tmp_path, [*ROWS, "a,2024-01-06,unsubscribe,,,sms,,,,,,"])  # edited in memory:
    ev = log.events
    ev["channel"] = ev.channel.cat.add_categories(["fax"])
    ev.loc[ev.event_type == "unsubscribe", "channel"] = "fax"
    with pytest.raises(
        ValueError,
        match=r"channel: 'fax' on the unsubscribe row of user 'a' \(log day 5\); allowed: "
        r"email, push, sms \(1 such row\(s\)\)",
    ):
        decisions_from_events(log, SCENARIO, CATALOGUE)


@pytest.mark.parametrize("value", [0.0, -0.5, 1.5, np.inf])
def test_a_bad_propensity_is_refused_by_name(tmp_path, value) -> None:
    log = _log(tmp_path)  # the reader refuses it in a file, naming the line ...
    row = ROWS[4].replace("treatment,0.5", f"treatment,{value}")
    with pytest.raises(ValueError, match=r"propensity not a number in \(0, 1\] or empty: 1 "):
        _log(tmp_path, [*ROWS[:4], row, *ROWS[5:]])
    ev = log.events  # ... and a log built or edited in memory is refused here
    ev.loc[(ev.user_id == "a") & (ev.event_type == "offer_sent"), "propensity"] = value
    with pytest.raises(
        ValueError,
        match=rf"propensity: {value!r} on the offer_sent row of user 'a' on 2024-03-01; "
        r"allowed: a probability in \(0, 1\]",
    ):
        decisions_from_events(log, SCENARIO, CATALOGUE)


def test_an_offer_outside_the_catalogue_is_refused_by_name(tmp_path) -> None:
    rows = [
        r.replace("discount_30,email,,,,,treatment", "coupon_99,email,,,,,treatment") for r in ROWS
    ]
    with pytest.raises(
        ValueError,
        match=r"offer: 'coupon_99' on the offer_sent row of user 'a' on 2024-03-01; allowed: an "
        r"offer of the catalogue \(reminder_email, discount_30, .*\), or arm holdout",
    ):
        decisions_from_events(_log(tmp_path, rows), SCENARIO, CATALOGUE)


def test_a_log_without_propensities_is_refused_by_name(tmp_path) -> None:
    header = HEADER.removesuffix(",propensity")
    rows = [r.rsplit(",", 1)[0] for r in ROWS]
    with pytest.raises(ValueError, match=r"propensity: no such column in the log; allowed: the "):
        decisions_from_events(_log(tmp_path, rows, header), SCENARIO, CATALOGUE)
    rows = [r.rsplit(",", 1)[0] + "," for r in ROWS]
    with pytest.raises(ValueError, match=r"propensity: no offer_sent row carries one \(6 "):
        decisions_from_events(_log(tmp_path, rows), SCENARIO, CATALOGUE)


def test_the_table_and_logged_are_one_schema_both_ways(tmp_path) -> None:
    table, _ = decisions_from_events(_log(tmp_path), SCENARIO, CATALOGUE)
    logged = logged_from_decisions(table, CATALOGUE.names)
    assert logged.meta["offers"] == ["no_offer", *CATALOGUE.names]
    assert logged.meta["origin"] == "2024-01-01" and logged.n_actions == len(CATALOGUE) + 1
    assert logged.allowed is not None and logged.allowed[:, 0].all()
    back = decisions_of(logged)
    pd.testing.assert_frame_equal(back, table, check_dtype=False)
    again = load(save(logged, tmp_path / "log.npz"))  # customer ids as text, nothing pickled
    assert list(again.user) == ["a", "b", "c"]
    pd.testing.assert_frame_equal(decisions_of(again), table, check_dtype=False)
    with pytest.raises(ValueError, match=r"decisions: missing column\(s\) propensity, reward; "):
        logged_from_decisions(table.drop(columns=["propensity", "reward"]), CATALOGUE.names)
    # the allowed_* columns are optional, but all or none, and true or false
    bare = table.drop(columns=allowed_columns(CATALOGUE.names))
    assert logged_from_decisions(bare, CATALOGUE.names).allowed is None
    with pytest.raises(ValueError, match=r"allowed column\(s\) allowed_support_call missing"):
        logged_from_decisions(table.drop(columns="allowed_support_call"), CATALOGUE.names)
    with pytest.raises(ValueError, match=r"decisions.allowed_discount_30\[1\]: 0.5; allowed: True"):
        bad = table.astype({"allowed_discount_30": float})
        bad.loc[1, "allowed_discount_30"] = 0.5
        logged_from_decisions(bad, CATALOGUE.names)
    csv = tmp_path / "decisions.csv"  # through a file: 0/1 or True/False
    table.to_csv(csv, index=False)
    read = logged_from_decisions(pd.read_csv(csv), CATALOGUE.names).allowed
    assert read is not None and np.array_equal(read, logged.allowed)


def test_a_simulators_log_reads_as_the_table_without_outcomes_it_does_not_know() -> None:
    from experiments.ope.behaviour import log_decisions

    small = presets.streaming(n_users=400, horizon_days=56)
    logged = log_decisions(Uniform(), small, CATALOGUE, seed=2)
    table = decisions_of(logged)
    features = logged.meta["features"]
    assert list(table.columns) == [*COLUMNS, *allowed_columns(CATALOGUE.names), *features]
    assert table.reactivated.isna().all() and table.date.isna().all()
    again = logged_from_decisions(table, logged.meta["offers"])
    assert isinstance(again, Logged) and again.reactivated is None
    assert np.array_equal(again.context, logged.context) and np.array_equal(again.user, logged.user)
    assert again.allowed is not None and np.array_equal(again.allowed, logged.allowed)
