"""The simulated company's event log (``sim.records``): recording changes no result, every
history in the log is valid, and the log says what the simulation did.

Tolerances: shares within 4 binomial standard errors; money to the cent (amounts are
rounded to cents) or, for totals, 1e-3 relative (float32 accounting).
"""

from __future__ import annotations

import math
from dataclasses import fields, replace

import numpy as np
import pandas as pd
import pytest

from agents.base import as_agent
from agents.evaluate import AgentPolicy
from agents.reference import Campaign
from sim import Dynamics, Simulation, presets
from sim.constants import CHANNELS, CHURNED, PAIN_POINTS
from sim.ledger import COUNTERS
from sim.records import COLUMNS, event_log, event_times, save
from sim.signals import SIGNAL_NAMES
from tests.conftest import every_28_days, small_streaming

START = pd.Timestamp("2024-01-01")
SUBSCRIBED, CANCELLED = "subscribed", "cancelled"


def mixed_billing(scenario):
    """The streaming plans billed "none", monthly and annually."""
    billing = ("none", "monthly", "annual")
    plans = tuple(replace(p, billing=b) for p, b in zip(scenario.plans, billing, strict=True))
    return replace(scenario, plans=plans)


@pytest.fixture(scope="module")
def campaign_run() -> dict:
    scenario = mixed_billing(small_streaming(n_users=3_000, horizon_days=200))
    catalogue = presets.streaming_offers()
    campaign = Campaign(offers=("discount_30", "recommendations"), holdout_share=0.25)
    policy = AgentPolicy(as_agent(campaign), scenario, catalogue, attribution_days=28)
    sim = Simulation(scenario, catalogue, seed=2, policy=policy, record=True)
    reachable = sim.pop.reachable.copy()  # before anything happens
    sim.run()
    assignments = campaign.assignments()
    log = event_log(sim, start="2024-01-01", assignments=assignments)
    return {
        "sim": sim,
        "log": log,
        "campaign": campaign,
        "assignments": assignments,
        "reachable": reachable,
    }


# ---------------------------------------------------------------- recording changes nothing
def test_recording_changes_no_result() -> None:
    """The same run with and without recording: every result, every user's state and every
    transition agree bit for bit (the log's extra draws come from their own streams)."""
    scenario = small_streaming(n_users=3_000, horizon_days=120)
    catalogue = presets.streaming_offers()
    runs = [
        Simulation(scenario, catalogue, seed=4, policy=every_28_days(1), trace=True, record=rec)
        for rec in (False, True)
    ]
    plain, recorded = (sim.run() for sim in runs)
    assert plain.kpis == recorded.kpis
    for name in ("occupancy", "weekly_money", "weekly_counters", "user_money"):
        assert np.array_equal(getattr(plain, name), getattr(recorded, name))
    for f in fields(runs[0].pop):
        a, b = getattr(runs[0].pop, f.name), getattr(runs[1].pop, f.name)
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), f.name
    for key, values in runs[0].transitions().items():
        assert np.array_equal(values, runs[1].transitions()[key]), key
    assert runs[1].recording is not None and runs[1].recording.sessions


def test_the_same_seed_writes_the_same_log() -> None:
    scenario = small_streaming(n_users=500, horizon_days=60)
    first, second = (event_log(_run(scenario)) for _ in range(2))
    pd.testing.assert_frame_equal(first, second)


def _run(scenario, seed: int = 9, **kwargs) -> Simulation:
    sim = Simulation(scenario, kwargs.pop("catalogue", None), seed=seed, record=True, **kwargs)
    sim.run()
    return sim


# ------------------------------------------------------------------- the log is valid
def history_errors(log: pd.DataFrame, start: pd.Timestamp) -> list[str]:
    """The rules a subscription log's reader enforces, walked user by user in the log's
    order: a subscribe first and only once, before the window (or on its first day, for a
    user lapsed with no history); cancel only while
    subscribed; resubscribe only after a cancellation (no overlapping subscriptions); renew
    only while subscribed (no payment after a cancellation); nothing but sign-ups before
    the window; subscription terms on subscribe and resubscribe rows."""
    errors: list[str] = []
    subs = log[log.event_type.isin(["subscribe", "resubscribe", "cancel", "renew"])]
    status: dict[int, str] = {}
    for row in subs.itertuples(index=False):
        now, user, kind = status.get(row.user_id), row.user_id, row.event_type
        if kind == "subscribe":
            if now is not None or row.timestamp > start:
                errors.append(f"user {user}: subscribe on {row.timestamp} after {now}")
            status[user] = SUBSCRIBED
        elif kind == "resubscribe" and now != CANCELLED:
            errors.append(f"user {user}: resubscribe while {now} (overlap)")
        elif kind in ("cancel", "renew") and now != SUBSCRIBED:
            errors.append(f"user {user}: {kind} on {row.timestamp} while {now}")
        if kind in ("subscribe", "resubscribe"):
            status[user] = SUBSCRIBED
            terms = isinstance(row.plan, str) and row.price >= 0
            if not terms or row.billing not in ("monthly", "annual"):
                errors.append(f"user {user}: {kind} without plan, price or billing: {row}")
        if kind == "cancel":
            status[user] = CANCELLED
            if not (pd.isna(row.reason) or row.reason in PAIN_POINTS):
                errors.append(f"user {user}: cancel reason {row.reason!r}")
    early = log[(log.timestamp < start) & (log.event_type != "subscribe")]
    pairs = zip(early.user_id, early.event_type, strict=True)
    errors += [f"user {u}: {k} before the window" for u, k in pairs]
    return errors


def test_every_history_in_the_log_is_valid(campaign_run) -> None:
    log = campaign_run["log"]
    assert list(log.columns) == list(COLUMNS)
    assert history_errors(log, START) == []
    in_window = log[log.event_type != "subscribe"]
    assert in_window.timestamp.min() == START  # the window opens on the run's first day


def test_the_self_check_catches_broken_histories(campaign_run) -> None:
    log = campaign_run["log"]
    cancel = log[log.event_type == "cancel"].iloc[:1]
    twice = pd.concat([log, cancel]).sort_values(["user_id", "timestamp"], kind="stable")
    renew = cancel.assign(event_type="renew", timestamp=cancel.timestamp + pd.Timedelta(days=1))
    late = pd.concat([log, renew]).sort_values(["user_id", "timestamp"], kind="stable")
    assert any("cancel" in e for e in history_errors(twice, START))
    assert any("renew" in e for e in history_errors(late, START))


def test_users_cancelled_before_the_window_are_written_as_the_rule_says(campaign_run) -> None:
    """Lapsed with no history known: a subscribe and a cancel, both dated the window's first
    day (the simulation draws their state, not a past)."""
    sim, log = campaign_run["sim"], campaign_run["log"]
    gone = np.flatnonzero(sim.recording.start_state == CHURNED)
    first = log[log.user_id.isin(gone)].groupby("user_id").head(2)
    kinds = first.groupby("user_id").event_type.agg(list)
    assert len(gone) > 100 and (kinds.map(tuple) == ("subscribe", "cancel")).all()
    cancels = first[first.event_type == "cancel"]
    assert (first.timestamp == START).all() and cancels.reason.isna().all()


# ------------------------------------------------------- the log says what happened
def test_subscription_events_are_the_simulated_transitions(campaign_run) -> None:
    sim, log = campaign_run["sim"], campaign_run["log"]
    tr = sim.transitions()
    churned_at_start = int((sim.recording.start_state == CHURNED).sum())
    counts = log.event_type.value_counts()
    assert counts["cancel"] == int((tr["dst"] == CHURNED).sum()) + churned_at_start
    assert counts["resubscribe"] == int((tr["src"] == CHURNED).sum()) > 50
    assert counts["subscribe"] == sim.pop.n
    answered = log[(log.event_type == "cancel") & log.reason.notna()]
    assert len(answered) == int((tr["survey"] >= 0).sum()) > 0


def test_annual_plans_cancel_and_renew_only_on_anniversaries(campaign_run) -> None:
    log = campaign_run["log"]
    annual = log[(log.plan == "premium") | log.user_id.isin(log.user_id[log.plan == "premium"])]
    rows = annual[annual.event_type.isin(["subscribe", "resubscribe", "renew", "cancel"])]
    rows = rows[~((rows.event_type == "cancel") & (rows.timestamp == START))]  # before the window
    anchor = rows.timestamp.where(rows.event_type.isin(["subscribe", "resubscribe"]))
    anchor = anchor.groupby(rows.user_id).ffill()
    days = (rows.timestamp - anchor).dt.days
    moved = rows.event_type.isin(["renew", "cancel"])
    years = days[moved] / 365
    assert moved.sum() > 20
    # dates are whole days: a period end can fall on the day before or after the day count
    assert (np.abs(years - np.round(years)) * 365 <= 1).all()


def test_sessions_are_one_row_per_active_day(campaign_run) -> None:
    """One row per (user, day); each user's last row is the day of the last session."""
    sim, log = campaign_run["sim"], campaign_run["log"]
    sessions = log[log.event_type == "session"]
    assert not sessions.duplicated(["user_id", "timestamp"]).any()
    last = sessions.groupby("user_id").timestamp.max()
    seen = np.isfinite(sim.pop.last_activity)
    day = np.floor(sim.pop.last_activity[seen]) + sim.scenario.warmup_days
    expected = pd.Series(START + pd.to_timedelta(day, unit="D"), index=np.flatnonzero(seen))
    assert last.index.equals(expected.index)
    assert (last == expected).all()


def signal_errors(sim: Simulation, log: pd.DataFrame, activity: str) -> list[str]:
    """What is wrong with ``log``'s signal rows: one row per user, day and signal with a
    whole count >= 1; summed per user and signal, the population's counts exactly (both run
    from the window's first day); each on a day with an ``activity`` row of the user, right
    after it (with the day's other signal rows, in ``SIGNAL_NAMES`` order)."""
    errors: list[str] = []
    rows = log[log.event_type.isin(SIGNAL_NAMES)]
    if rows.duplicated(["user_id", "timestamp", "event_type"]).any():
        errors.append("a user, day and signal on more than one row")
    count = rows.amount.to_numpy()
    if not ((count >= 1) & (count == np.round(count))).all():
        errors.append(f"counts not whole numbers >= 1: {sorted(set(count[count < 1]))[:5]}")
    signal = rows.event_type.map(SIGNAL_NAMES.index).to_numpy()
    got = np.zeros_like(sim.pop.signals, dtype=np.float64)
    np.add.at(got, (rows.user_id.to_numpy(), signal), count)
    if not np.array_equal(got, sim.pop.signals.astype(np.float64)):
        wrong = np.argwhere(got != sim.pop.signals)[:3].tolist()
        errors.append(f"counts per (user, signal) not the population's: {wrong}")
    days = log.loc[log.event_type == activity, ["user_id", "timestamp"]]
    on = rows[["user_id", "timestamp"]].merge(days.drop_duplicates(), how="left", indicator=True)
    if (on["_merge"] != "both").any():
        errors.append(
            f"{int((on['_merge'] != 'both').sum())} signal row(s) on a day without a {activity} row"
        )
    at = np.flatnonzero(log.event_type.isin(SIGNAL_NAMES).to_numpy())
    before = log.iloc[np.maximum(at - 1, 0)]  # the row before each signal row
    kind = before.event_type.to_numpy()
    earlier = np.array(
        [SIGNAL_NAMES.index(k) if k in SIGNAL_NAMES else len(SIGNAL_NAMES) for k in kind],
        dtype=np.int64,
    )
    same_day = (before.user_id.to_numpy() == rows.user_id.to_numpy()) & (
        before.timestamp.to_numpy() == rows.timestamp.to_numpy()
    )
    right = (at > 0) & same_day & ((kind == activity) | (earlier < signal))
    if not right.all():
        errors.append(
            f"{int((~right).sum())} signal row(s) not right after their day's "
            f"{activity} row or its signal rows (in SIGNAL_NAMES order)"
        )
    return errors


def test_signal_rows_are_the_populations_counts(campaign_run) -> None:
    """One row per user, day and signal; their counts add up to ``Population.signals``
    exactly; each on a session day of the user, right after the session row."""
    sim, log = campaign_run["sim"], campaign_run["log"]
    assert signal_errors(sim, log, "session") == []
    counts = log.event_type.value_counts()
    assert all(counts.get(name, 0) > 20 for name in SIGNAL_NAMES), counts
    moved = log.copy()  # the self-check catches a signal moved to another day
    at = moved.index[moved.event_type == "app_error"][0]
    moved.loc[at, "timestamp"] += pd.Timedelta(days=1000)
    assert len(signal_errors(sim, moved, "session")) == 2
    twice = log.copy()
    twice.loc[at, "amount"] += 1
    assert len(signal_errors(sim, twice, "session")) == 1


def test_offer_rows_carry_the_campaign(campaign_run) -> None:
    sim, log, drawn = campaign_run["sim"], campaign_run["log"], campaign_run["assignments"]
    sent = log[log.event_type == "offer_sent"]
    held = sent[sent.arm == "holdout"]
    treated = sent[sent.arm == "treatment"]
    deliveries = sim.recording.deliveries
    assert (
        len(treated) == sum(u.size for _, u, _, _ in deliveries) == (drawn.arm == "treatment").sum()
    )
    assert len(held) == (drawn.arm == "holdout").sum() > 50
    assert held.offer.isna().all() and held.channel.isna().all()
    assert (held.propensity == 0.25).all() and np.allclose(treated.propensity, 0.375)
    assert (sent.campaign == "winback").all()
    opened = log[log.event_type == "offer_opened"]
    assert len(opened) == sum(int(o.sum()) for *_, o in deliveries) > 0
    assert set(opened.channel) <= {"email", "push"} and (opened.arm == "treatment").all()


def test_opt_outs_are_the_simulators(campaign_run) -> None:
    """One ``unsubscribe`` row per user and channel the user cannot be reached on at the
    end: dated the window's first day for those unreachable then, else the day of the send
    that made them opt out (the ledger's count of unsubscribes), right after its rows."""
    sim, log, before = campaign_run["sim"], campaign_run["log"], campaign_run["reachable"]
    rows = log[log.event_type == "unsubscribe"]
    unsubscribed = int(sim.ledger.counters[:, COUNTERS.index("unsubscribed")].sum())
    assert len(rows) == unsubscribed + int((~before).sum()) and unsubscribed > 0
    channel = rows.channel.map(CHANNELS.index).to_numpy()
    got = pd.DataFrame({"user": rows.user_id.to_numpy(), "channel": channel})
    user, ch = np.nonzero(~sim.pop.reachable)  # never given back
    want = pd.DataFrame({"user": user, "channel": ch})
    key = ["user", "channel"]
    assert not got.duplicated().any()
    pd.testing.assert_frame_equal(
        got.sort_values(key, ignore_index=True), want.sort_values(key, ignore_index=True)
    )
    first = rows.timestamp == START
    user, ch = np.nonzero(~before)
    assert sorted(zip(rows.user_id[first], channel[first], strict=True)) == sorted(
        zip(user.tolist(), ch.tolist(), strict=True)
    )
    previous = log.shift(1)[log.event_type == "unsubscribe"][~first.to_numpy()]
    later = rows[~first]
    assert (previous.event_type.isin(["offer_sent", "offer_opened"])).all()
    assert (previous.user_id == later.user_id).all() and (
        previous.timestamp == later.timestamp
    ).all()
    assert (previous.channel == later.channel).all()


def test_calibration_reads_no_opt_out_and_no_signal(campaign_run) -> None:
    """A simulated log reads and calibrates the same with or without its ``unsubscribe``
    rows, and with or without its signal rows: they are not activity, subscriptions or
    offers, and do not open the window."""
    from sim.calibration.api import calibrate
    from sim.calibration.eventlog import SIMULATED, EventLog, validate_events
    from sim.calibration.spells import subscription_spells

    def read(raw: pd.DataFrame, *left_out: str) -> EventLog:
        rows = raw[~raw.event_type.isin(left_out)].reset_index(drop=True)
        return validate_events(rows, "simulated", limits=SIMULATED)

    def values(table: pd.DataFrame) -> pd.DataFrame:
        """``table``'s values (categories as their values: the logs' categories differ, a
        channel more, sms, where opt-outs are kept), compared whole (fast)."""
        cats = [c for c in table.columns if isinstance(table[c].dtype, pd.CategoricalDtype)]
        return table.astype(dict.fromkeys(cats, object)).reset_index(drop=True)

    raw = campaign_run["log"]
    log = read(raw)
    assert (log.events.event_type == "unsubscribe").sum() > 0 and len(log.signals) > 0
    activity, spells = values(log.activity), subscription_spells(log)
    for without in (read(raw, "unsubscribe"), read(raw, *SIGNAL_NAMES)):
        assert log.origin == without.origin and log.window_start == without.window_start
        assert log.end == without.end and log.has_subscriptions and log.has_offers
        pd.testing.assert_frame_equal(activity, values(without.activity))
        pd.testing.assert_frame_equal(spells, subscription_spells(without))
    retail = replace(presets.retail(n_users=600, horizon_days=120), warmup_days=28)
    sim = _run(retail, catalogue=presets.retail_offers(), policy=every_28_days(0))
    raw = event_log(sim)
    shop, without = read(raw), read(raw, "unsubscribe", *SIGNAL_NAMES)
    assert len(shop.signals) > 0 and len(shop.opt_outs) > 0
    assert shop.origin == without.origin and shop.window_start == without.window_start
    summaries = [calibrate(x, classes=1, reps=5).summary() for x in (shop, without)]
    for summary in summaries:
        summary.pop("seconds")
    assert summaries[0] == summaries[1]  # neither kind of row changes a figure


def test_payments_are_the_list_price_when_no_offer_acts() -> None:
    """Without offers every billing period costs its list price, except the last period of
    a plan billed "none", cut short by the cancellation (less, never more)."""
    scenario = mixed_billing(small_streaming(n_users=2_000, horizon_days=150))
    log = event_log(_run(scenario))
    plan = log.plan.where(log.event_type.isin(["subscribe", "resubscribe"]))
    plan = plan.groupby(log.user_id).ffill()
    paid = log[log.event_type.isin(["renew", "resubscribe"])]
    price = {"basic": 9.99, "standard": 15.49, "premium": round(22.99 * 365 / 30, 2)}
    listed = plan[paid.index].map(price)
    billed = plan[paid.index] != "basic"
    assert np.allclose(paid.amount[billed], listed[billed], atol=0.005)
    assert (paid.amount[~billed] <= listed[~billed] + 0.005).all()
    assert (paid.amount[~billed] == listed[~billed]).mean() > 0.8


def test_a_price_change_shows_in_the_price_of_later_resubscriptions() -> None:
    scenario = small_streaming(n_users=3_000, horizon_days=150)
    shock = replace(presets.price_shock(n_users=3_000, horizon_days=150), warmup_days=28)
    assert shock.plans == scenario.plans
    log = event_log(_run(shock))
    resub = log[(log.event_type == "resubscribe") & (log.plan == "standard")]
    after = resub.timestamp >= START + pd.Timedelta(days=28 + 90)
    assert after.sum() > 5 and (~after).sum() > 5
    assert (resub.price[after] == 18.59).all() and (resub.price[~after] == 15.49).all()


def test_session_days_follow_the_poisson_law() -> None:
    """With a constant session rate lam and nobody leaving, a day has a session with
    probability 1 - exp(-lam); keeping only each stretch's last session would give far
    fewer days."""
    base = small_streaming(n_users=2_000, horizon_days=100, warmup_days=0)
    seg = replace(
        base.segments[0],
        weight=1.0,
        initial_state={"active": 1.0},
        activity_heterogeneity=1e7,
        activity_rate=0.5,
        lapse_rate=0.0,
        cancel_rate=0.0,
    )
    flat = Dynamics(tech_weight=0, friction_weight=0, freshness_weight=0)
    log = event_log(_run(replace(base, segments=(seg,), dynamics=flat, releases=())))
    days = 2_000 * 100
    share = (log.event_type == "session").sum() / days
    p = 1 - math.exp(-0.5)
    assert abs(share - p) < 4 * math.sqrt(p * (1 - p) / days), (share, p)


def test_a_shops_log_holds_purchases_with_their_spend() -> None:
    retail = replace(presets.retail(n_users=2_000, horizon_days=90), warmup_days=28)
    sim = _run(retail)
    log = event_log(sim)
    # the unreachable, on day one; the signals shown at purchase visits
    assert set(log.event_type) == {"purchase", "unsubscribe", *SIGNAL_NAMES}
    assert (log.timestamp[log.event_type == "unsubscribe"] == START).all()
    assert signal_errors(sim, log, "purchase") == []
    log = log[log.event_type == "purchase"]
    assert not log.duplicated(["user_id", "timestamp"]).any()
    in_horizon = log.timestamp >= START + pd.Timedelta(days=28)
    spend = log.amount[in_horizon].sum()
    assert spend * retail.margin == pytest.approx(sim.result().kpis["revenue"], rel=1e-3)


# ------------------------------------------------------------------- files and errors
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_log_file_reads_back_as_written(campaign_run, tmp_path, suffix) -> None:
    log = campaign_run["log"]
    path = tmp_path / f"log{suffix}"
    save(log, path)
    back = pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path)
    assert list(back.columns) == list(COLUMNS) and len(back) == len(log)
    as_text = back.astype(str).replace({"nan": "", "None": "", "<NA>": ""})
    want = log.astype(str).replace({"nan": "", "None": "", "<NA>": ""})
    want["timestamp"] = log.timestamp.dt.strftime("%Y-%m-%d")
    as_text["timestamp"] = pd.to_datetime(back.timestamp).dt.strftime("%Y-%m-%d")
    pd.testing.assert_frame_equal(as_text, want, check_dtype=False)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_signal_rows_load_through_the_calibration_reader(campaign_run, tmp_path, suffix) -> None:
    """The log saved as CSV or Parquet reads back through ``sim.calibration.eventlog`` with
    every signal row: the counts per user and signal are the population's."""
    from sim.calibration.eventlog import SIGNAL_EVENTS, read_event_log

    sim, log = campaign_run["sim"], campaign_run["log"]
    path = tmp_path / f"log{suffix}"
    save(log, path)
    back = read_event_log(path, accept_dates=True, max_years=1000.0)
    assert back.bad_rows == [] and back.duplicates == []
    assert len(back.signals) == int(log.event_type.isin(SIGNAL_NAMES).sum())
    counts = back.signal_counts()
    assert list(counts.columns) == list(SIGNAL_EVENTS) == list(SIGNAL_NAMES)
    users = counts.index.astype(int)
    want = sim.pop.signals.astype(np.float64)
    assert np.array_equal(counts.to_numpy(), want[users])
    assert not want[np.setdiff1d(np.arange(sim.pop.n), users)].any()


def test_bad_requests_are_refused(campaign_run) -> None:
    sim = campaign_run["sim"]
    with pytest.raises(ValueError, match="record=True"):
        event_log(Simulation(small_streaming(n_users=100, horizon_days=10), None, seed=1))
    with pytest.raises(ValueError, match=r"start: '2024-13-45' is not a date"):
        event_log(sim, start="2024-13-45")
    with pytest.raises(ValueError, match=r"assignments: missing column\(s\) propensity"):
        event_log(sim, assignments=campaign_run["assignments"].drop(columns="propensity"))
    bad = campaign_run["assignments"].assign(arm="placebo")
    with pytest.raises(ValueError, match=r"assignments.arm: \['placebo'\]"):
        event_log(sim, assignments=bad)


def test_event_times_are_the_logs_rows_without_the_table(campaign_run) -> None:
    """event_times gives, for the event types asked, the users and (exact) times of the rows
    event_log writes without assignments: the same users on the same dates (a session or
    signal day may come more than once: the log adds up a day's records); an unknown event
    type is refused by name."""
    sim = campaign_run["sim"]
    log = event_log(sim, start="2024-01-01")
    key = ["user_id", "timestamp"]
    for events in (
        ("resubscribe", "session"),
        ("cancel",),
        ("offer_sent", "subscribe"),
        ("app_error", "title_finished"),
        ("session", "payment_failure"),
    ):
        user, time = event_times(sim, events)
        days = (np.floor(time) - sim.recording.start_day).astype(int)
        got = pd.DataFrame({"user_id": user, "timestamp": START + pd.to_timedelta(days, "D")})
        want = log[log.event_type.isin(events)][key].astype({"timestamp": got.timestamp.dtype})
        assert len(got) >= len(want) > 0, events
        pd.testing.assert_frame_equal(
            got.drop_duplicates().sort_values(key, ignore_index=True),
            want.drop_duplicates().sort_values(key, ignore_index=True),
            check_dtype=False,
        )
    with pytest.raises(ValueError, match=r"events: \['visit'\] given; allowed: subscribe, "):
        event_times(sim, ("session", "visit"))


# ----------------------------------------------------------------- the campaign policy
def test_the_campaign_draws_each_lapsed_user_once_at_the_stated_odds(campaign_run) -> None:
    sim, drawn = campaign_run["sim"], campaign_run["assignments"]
    assert not drawn.user.duplicated().any() and len(drawn) > 500
    held = (drawn.arm == "holdout").mean()
    assert abs(held - 0.25) < 4 * math.sqrt(0.25 * 0.75 / len(drawn)), held
    offers = drawn.offer[drawn.arm == "treatment"].value_counts(normalize=True)
    assert offers.index.sort_values().tolist() == ["discount_30", "recommendations"]
    assert abs(offers.iloc[0] - 0.5) < 4 * math.sqrt(0.25 / (drawn.arm == "treatment").sum())
    assert set(drawn.day) <= set(range(0, sim.scenario.horizon_days, sim.scenario.epoch_days))


def test_a_campaign_may_draw_users_again_after_a_wait() -> None:
    scenario = small_streaming(n_users=1_000, horizon_days=120)
    catalogue = presets.streaming_offers()
    campaign = Campaign(offers=("reminder_email",), redraw_after_days=28, seed=3)
    policy = AgentPolicy(as_agent(campaign), scenario, catalogue, attribution_days=28)
    Simulation(scenario, catalogue, seed=1, policy=policy).run()
    drawn = campaign.assignments().sort_values(["user", "day"])
    gaps = drawn.groupby("user").day.diff().dropna()
    assert len(gaps) > 50 and (gaps >= 28).all()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"holdout_share": 1.0}, r"holdout_share: 1.0; allowed: a number in \[0, 1\)"),
        ({"offers": ("discount_30", "discount_30")}, "offers: .*distinct"),
        ({"offers": ("bribe",)}, "offers: 'bribe'; allowed: offers of the catalogue"),
        ({"redraw_after_days": 0}, "redraw_after_days: 0"),
    ],
)
def test_campaign_values_are_checked(params, message) -> None:
    with pytest.raises(ValueError, match=message):
        Campaign.validate(presets.streaming_offers(), **params)
