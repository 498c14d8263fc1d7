"""The simulated company's event log: a recorded run as the rows a company would export.

``event_log(sim, start="2024-01-01")`` turns a run made with ``Simulation(..., record=True)``
(``sim.recording``) into a pandas DataFrame in the event-log schema that ``winback
calibrate`` reads (``sim.calibration.eventlog``): one row per event, columns ``user_id``,
``timestamp`` (a date), ``event_type``, ``amount``, ``offer``, ``channel``, ``plan``,
``price``, ``billing``, ``reason``, ``campaign``, ``arm``, ``propensity`` (empty where they
do not apply). Every figure is the simulation's own, so a calibration on the log can be
checked against known truth.

================  ==========================================================================
``subscribe``     at sign-up: ``plan``, ``price`` (list price per billing period), ``billing``
``renew``         at every billing-period end while subscribed: ``amount`` = what the
                  subscriber pays for the period it opens (list price less any discount,
                  nothing on free-trial days; for the period running at the end of the run,
                  the rest at the last price paid)
``cancel``        the day the cancellation takes effect; ``reason`` = the exit-survey answer
                  (price, content, discovery, technical, none) where the user answered
``resubscribe``   a comeback after a cancellation: ``plan``, ``price``, ``billing``, and its
                  first period's payment as ``amount``
``session``       one row per day with at least one session (subscription scenarios)
``purchase``      one row per day with purchases (transactional): ``amount`` = spend that day
``offer_sent``    an offer sent: ``offer``, ``channel``; in a campaign also ``campaign``,
                  ``arm`` (treatment) and ``propensity``. A customer drawn for a campaign's
                  holdout is a row with ``arm`` holdout and no offer: drawn, deliberately not
                  sent (``propensity`` = the chance of being held out)
``offer_opened``  an offer opened (the day it was sent), with the columns of its send
``unsubscribe``   a user opted out of messages on ``channel``: dated the window's first day
                  for every user who could not be reached on the channel when it opens (one
                  row per such user and channel), else the day of the send that made them
                  opt out (after that send's rows). An opt-out lasts for the rest of the log:
                  the simulator never gives reach back (it prices an opt-out as a year of the
                  customer's reach lost, ``sim.constants.REACH_LOST_DAYS``, but the customer
                  stays unreachable), and the schema has no opt-in row
``<signal>``      a behavioural signal, its name as event type (``sim.signals.SIGNAL_NAMES``:
                  ``app_error``, ``failed_signin``, ``search_abandoned``, ``title_abandoned``,
                  ``title_finished``, ``pricing_page_view``, ``payment_failure``): one row per
                  user, day and signal, ``amount`` = how often the user showed it that day
                  (the recording's counts added up). Signals are shown at sessions, so the
                  day has a ``session`` (or ``purchase``) row of the user, and its signal rows
                  follow that row, in the order of ``sim.signals.SIGNALS``. Counts run from
                  the window's first day, as ``Population.signals`` does
================  ==========================================================================

Billing periods are the plan's (``sim.constants.BILLING_DAYS``); plans billed "none"
(cancellations act at once) are written as monthly, with payments every 30 days from the
sign-up (or resubscription), so the log still shows them. Prices are rounded to cents.

The observation window opens on ``start``, the run's first day (day ``-warmup_days`` of the
simulation: the warm-up is simulated too, so the company saw it). Every user signed up before
it and has only the ``subscribe`` row before it (its tenure is as a lifecycle leaves it:
``sim.population.lived_tenure``). A user already cancelled on that day has no past in the
simulation (its start state is drawn from the segment's ``initial_state`` mix), so it gets
``subscribe`` and ``cancel`` both dated the window's first day: the log schema's "lapsed
before the window, history unknown". The window closes
with the last day simulated. Rows are ordered by user, then time (events of one day in the
order they happened; a day's signal rows right after its session or purchase row).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from tqdm import tqdm

from sim.calendar import list_price_at
from sim.calibration.eventlog import NUMBERS, OPTIONAL, REQUIRED
from sim.constants import ARMS, BILLING_DAYS, CHANNELS, CHURNED, PAIN_POINTS
from sim.recording import Recording
from sim.scenario import Scenario
from sim.signals import SIGNAL_NAMES
from sim.simulation import Simulation

EVENTS = (
    "subscribe", "renew", "cancel", "resubscribe", "session", "purchase", "offer_sent",
    "offer_opened", "unsubscribe", *SIGNAL_NAMES,
)  # fmt: skip
SUBSCRIBE, RENEW, CANCEL, RESUBSCRIBE, SESSION, PURCHASE, SENT, OPENED, UNSUBSCRIBE = range(
    len(EVENTS) - len(SIGNAL_NAMES)
)
SIGNAL = UNSUBSCRIBE + 1  # the first signal's code: signal j is SIGNAL + j
ADDED_UP = (SESSION, PURCHASE, *range(SIGNAL, len(EVENTS)))
"""Event codes whose records of one user and day are one row (amounts added up)."""
TREATMENT, HOLDOUT = range(len(ARMS))
BILLED = tuple(BILLING_DAYS)  # the billing column's values
TEXT = ("event_type", "offer", "channel", "plan", "billing", "reason", "campaign", "arm")
COLUMNS = (*REQUIRED, *OPTIONAL)  # the reader's schema, in its order
ASSIGNMENTS = ("user", "day", "offer", "arm", "propensity", "campaign")
"""Columns of a campaign's assignments (``agents.reference.Campaign.assignments``): one row
per customer drawn; ``offer`` the offer name (empty in the holdout), ``arm`` treatment or
holdout, ``propensity`` the chance of that row's outcome, ``campaign`` its name."""


@dataclass
class Block:
    """Rows of one event type: ``user``, ``time`` (the simulation's day, exact), and some
    columns: codes of text columns (index into their names, -1 for empty) or numbers (NaN
    for empty)."""

    user: np.ndarray
    time: np.ndarray
    event: int
    columns: dict[str, np.ndarray] = field(default_factory=dict)


def simulated_log(scenario: Scenario, seed: int, start: str = "2024-01-01") -> pd.DataFrame:
    """The event log of one recorded run of ``scenario`` without any policy (the company
    sending nothing), its day 0 dated ``start``."""
    sim = Simulation(scenario, seed=seed, record=True)
    sim.run()
    return event_log(sim, start=start)


def event_log(
    sim: Simulation,
    start: str = "2024-01-01",
    assignments: pd.DataFrame | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """The event log of recorded run ``sim`` (see the module docstring); ``start`` is the
    date of the run's first day, ``assignments`` a campaign's draws (:data:`ASSIGNMENTS`)."""
    rec = _recording_of(sim)
    origin = _date(start)
    names = _names(sim, assignments)
    steps: list[tuple[str, Callable[[], list[Block]]]] = [
        ("subscriptions", lambda: _subscriptions(sim, rec)),
        ("sessions", lambda: [_sessions(sim, rec)]),
        ("signals", lambda: _signals(rec)),
        ("offers", lambda: _offers(sim, rec, assignments, names["campaign"])),
        ("opt-outs", lambda: _opt_outs(sim, rec)),
    ]
    blocks: list[Block] = []
    with tqdm(total=len(steps) + 1, desc="event log", unit="step", disable=not progress) as bar:
        for what, make in steps:
            bar.set_postfix_str(what)
            blocks += make()
            bar.update()
        bar.set_postfix_str("table")
        places, n = _positions(blocks)
        table = _frame(_columns(blocks, places, n), names, origin, rec.start_day)
        bar.update()
    return table


def event_times(sim: Simulation, events: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """User id and time (the simulation's day, exact: the log's date is its floor) of the rows
    of the types ``events`` (of :data:`EVENTS`) that :func:`event_log` writes for recorded run
    ``sim`` without campaign assignments, without building the table: the same users on the
    same dates, except that a session, purchase or signal day may come more than once (the
    log adds up a day's records into one row)."""
    unknown = sorted(set(events) - set(EVENTS))
    if unknown:
        raise ValueError(f"events: {unknown} given; allowed: {', '.join(EVENTS)}")
    rec = _recording_of(sim)
    codes = {EVENTS.index(e) for e in events}
    blocks = [
        *_subscriptions(sim, rec),
        _sessions(sim, rec),
        *_signals(rec),
        *_offers(sim, rec, None, ()),
        *_opt_outs(sim, rec),
    ]
    kept = [b for b in blocks if b.event in codes]
    user = np.concatenate([np.zeros(0, np.int64), *(b.user for b in kept)])
    return user, np.concatenate([np.zeros(0), *(b.time for b in kept)])


def _recording_of(sim: Simulation) -> Recording:
    if sim.recording is None:
        raise ValueError(
            "sim: the simulation was created without record=True; allowed: a recorded run, "
            "Simulation(..., record=True)"
        )
    return sim.recording


def _date(start: str) -> np.datetime64:
    refused = f"start: {start!r} is not a date; allowed: an ISO date such as 2024-01-01"
    try:
        stamp = pd.Timestamp(start)
    except (ValueError, TypeError):
        raise ValueError(refused) from None
    if pd.isna(stamp):
        raise ValueError(refused)
    return np.datetime64(stamp.date(), "D")


def _names(sim: Simulation, assignments: pd.DataFrame | None) -> dict[str, tuple[str, ...]]:
    """The values of each text column, in code order."""
    campaigns: tuple[str, ...] = ()
    if assignments is not None:
        _check_assignments(assignments, sim)
        campaigns = tuple(sorted(assignments["campaign"].astype(str).unique()))
    return {
        "event_type": EVENTS,
        "offer": tuple(sim.catalogue.names),
        "channel": CHANNELS,
        "plan": tuple(sim.scenario.plan_names),
        "billing": BILLED,
        "reason": PAIN_POINTS,
        "campaign": campaigns,
        "arm": ARMS,
    }


def _check_assignments(table: pd.DataFrame, sim: Simulation) -> None:
    """A campaign's assignments name real users, offers and arms, with propensities in
    (0, 1]."""
    missing = [c for c in ASSIGNMENTS if c not in table.columns]
    if missing:
        raise ValueError(
            f"assignments: missing column(s) {', '.join(missing)}; required: "
            f"{', '.join(ASSIGNMENTS)}"
        )
    arms = set(table["arm"].astype(str))
    offers = set(table.loc[table["arm"] == "treatment", "offer"].astype(str))
    p = table["propensity"].to_numpy(dtype=np.float64)
    for key, bad, allowed in (
        ("arm", arms - set(ARMS), ", ".join(ARMS)),
        ("offer", offers - set(sim.catalogue.names), "the catalogue's offers"),
        ("propensity", set(p[~((p > 0) & (p <= 1))].tolist()), "numbers in (0, 1]"),
        ("user", set(table["user"][~table["user"].between(0, sim.pop.n - 1)]), "user ids"),
    ):
        if bad:
            raise ValueError(f"assignments.{key}: {sorted(bad)[:5]} given; allowed: {allowed}")


# ----------------------------------------------------------------------------- blocks
def _block(user: np.ndarray, time: np.ndarray, event: int, **columns: np.ndarray) -> Block:
    return Block(np.asarray(user, np.int64), np.asarray(time, np.float64), event, columns)


def _subscriptions(sim: Simulation, rec: Recording) -> list[Block]:
    """Sign-ups, cancellations already made when the window opens, cancellations and
    resubscriptions during it, and renewals."""
    if not sim.scenario.is_subscription:
        return []
    pop = sim.pop
    users = np.arange(pop.n)
    gone = np.flatnonzero(rec.start_state == CHURNED)
    signed = pop.signup_day.astype(np.float64)
    signed[gone] = rec.start_day  # cancelled at the start: no history (module docstring)
    payments = _payments(sim, rec)
    renewals = payments[:, payments[3] >= 1]
    return [
        _block(users, signed, SUBSCRIBE, **_terms(sim, users, signed)),
        _block(gone, np.full(gone.size, rec.start_day), CANCEL),
        *_moves(sim, payments[:, payments[3] == 0]),
        _block(renewals[0].astype(np.int64), renewals[1], RENEW, amount=_cents(renewals[2])),
    ]


def _terms(sim: Simulation, users: np.ndarray, times: np.ndarray) -> dict[str, np.ndarray]:
    """Plan, list price per billing period and billing of ``users``' subscriptions made at
    ``times``."""
    plan = sim.pop.plan[users].astype(np.int64)
    labels = [p.billing if p.billing in BILLED else "monthly" for p in sim.scenario.plans]
    days = np.array([BILLING_DAYS[label] for label in labels], dtype=np.float64)
    changes = sorted({c.day for c in sim.scenario.price_changes})
    regime = np.searchsorted(changes, times, side="right")  # price changes before each
    daily = np.stack([list_price_at(sim.scenario, d) for d in [-np.inf, *changes]]).astype(float)
    return {
        "plan": plan,
        "price": _cents(daily[regime, plan] * days[plan]),
        "billing": np.array([BILLED.index(label) for label in labels])[plan],
    }


def _payments(sim: Simulation, rec: Recording) -> np.ndarray:
    """(4, k): user, start, paid, index of every billing period that opened in the window:
    those closed during the run, then those still running (the rest at the last price)."""
    pop = sim.pop
    closed = np.concatenate([np.zeros((4, 0)), *rec.payments], axis=1)
    running = np.flatnonzero(pop.state != CHURNED)
    days = rec.billing_days[pop.plan[running]]
    index = rec.period_index[running]
    start = pop.subscribed_at[running] + index * days
    rest = np.maximum(start + days - sim.engine.t, 0.0)
    paid = rec.period_paid[running] + rec.period_rate[running] * rest
    every = np.concatenate([closed, np.stack([running, start, paid, index])], axis=1)
    return every[:, every[1] >= rec.start_day]


def _moves(sim: Simulation, first_periods: np.ndarray) -> list[Block]:
    """Cancellations (with their exit-survey answers) and resubscriptions (with their first
    period's payment, from ``first_periods``: user, start, paid, index 0)."""
    tr = sim.transitions()
    cancel = tr["dst"] == CHURNED
    back = tr["src"] == CHURNED
    user, time = tr["user"][back], tr["time"][back]
    first = pd.DataFrame({"user": first_periods[0].astype(np.int64), "time": first_periods[1]})
    first["amount"] = _cents(first_periods[2])
    paid = pd.DataFrame({"user": user, "time": time}).merge(first, how="left", on=["user", "time"])
    return [
        _block(tr["user"][cancel], tr["time"][cancel], CANCEL, reason=tr["survey"][cancel]),
        _block(
            user, time, RESUBSCRIBE, amount=paid["amount"].to_numpy(), **_terms(sim, user, time)
        ),
    ]


def _sessions(sim: Simulation, rec: Recording) -> Block:
    """Session days (subscription scenarios) or purchase days with their spend."""
    cols = np.concatenate([np.zeros((4, 0), dtype=np.int32), *rec.sessions], axis=1)
    user, day = cols[0].astype(np.int64), cols[1].astype(np.float64)
    if sim.scenario.is_subscription:
        return _block(user, day, SESSION)
    return _block(user, day, PURCHASE, amount=cols[3] / 100.0)


def _signals(rec: Recording) -> list[Block]:
    """Each signal's records (one block per signal, in :data:`sim.signals.SIGNALS` order):
    user, day and count; a day's records add up into one row (``_positions``)."""
    cols = np.concatenate([np.zeros((4, 0), dtype=np.int32), *rec.signals], axis=1)
    user, day, signal = cols[0].astype(np.int64), cols[1].astype(np.float64), cols[2]
    count = cols[3].astype(np.float64)
    blocks = []
    for j in range(len(SIGNAL_NAMES)):
        mine = signal == j
        blocks.append(_block(user[mine], day[mine], SIGNAL + j, amount=count[mine]))
    return blocks


def _offers(
    sim: Simulation, rec: Recording, assignments: pd.DataFrame | None, campaigns: tuple[str, ...]
) -> list[Block]:
    """Offers sent and opened, and a campaign's holdout draws."""
    sends = rec.deliveries
    day = np.concatenate([np.zeros(0), *(np.full(u.size, d) for d, u, _, _ in sends)])
    user = np.concatenate([np.zeros(0, np.int64), *(u for _, u, _, _ in sends)])
    offer = np.concatenate([np.zeros(0, np.int64), *(o for _, _, o, _ in sends)])
    opened = np.concatenate([np.zeros(0, bool), *(op for _, _, _, op in sends)])
    tags = _campaign_tags(assignments, campaigns, sim, user, day, offer)
    columns = {"offer": offer, "channel": sim.offer_table.channel[offer], **tags}
    blocks = [
        _block(user, day, SENT, **columns),
        _block(user[opened], day[opened], OPENED, **{k: v[opened] for k, v in columns.items()}),
    ]
    if assignments is not None:
        held = assignments[assignments["arm"] == "holdout"]
        blocks.append(
            _block(
                held["user"].to_numpy(np.int64),
                held["day"].to_numpy(np.float64),
                SENT,
                arm=np.full(len(held), HOLDOUT),
                propensity=held["propensity"].to_numpy(np.float64),
                campaign=np.searchsorted(campaigns, held["campaign"].astype(str).to_numpy()),
            )
        )
    return blocks


def _opt_outs(sim: Simulation, rec: Recording) -> list[Block]:
    """Who could not be reached on each channel when the window opened (dated its first
    day), then the opt-outs that sends caused (the day of the send)."""
    user, channel = np.nonzero(~rec.start_reachable)
    day = np.concatenate([np.zeros(0), *(np.full(u.size, d) for d, u, _ in rec.opt_outs)])
    users = np.concatenate([np.zeros(0, np.int64), *(u for _, u, _ in rec.opt_outs)])
    offer = np.concatenate([np.zeros(0, np.int64), *(o for _, _, o in rec.opt_outs)])
    return [
        _block(user, np.full(user.size, rec.start_day), UNSUBSCRIBE, channel=channel),
        _block(users, day, UNSUBSCRIBE, channel=sim.offer_table.channel[offer]),
    ]


def _campaign_tags(
    assignments: pd.DataFrame | None,
    campaigns: tuple[str, ...],
    sim: Simulation,
    user: np.ndarray,
    day: np.ndarray,
    offer: np.ndarray,
) -> dict[str, np.ndarray]:
    """Campaign, arm and propensity of each send that was a campaign's treatment."""
    if assignments is None:
        return {}
    treated = assignments[assignments["arm"] == "treatment"]
    drawn = pd.DataFrame(
        {
            "user": treated["user"].to_numpy(np.int64),
            "day": treated["day"].to_numpy(np.float64),
            "offer": [sim.catalogue.index(o) for o in treated["offer"].astype(str)],
            "campaign": np.searchsorted(campaigns, treated["campaign"].astype(str).to_numpy()),
            "propensity": treated["propensity"].to_numpy(np.float64),
        }
    )
    sends = pd.DataFrame({"user": user, "day": day, "offer": offer})
    tagged = sends.merge(drawn, how="left", on=["user", "day", "offer"])
    found = tagged["campaign"].notna().to_numpy()
    return {
        "campaign": np.where(found, tagged["campaign"].fillna(-1), -1).astype(np.int64),
        "arm": np.where(found, TREATMENT, -1),
        "propensity": tagged["propensity"].to_numpy(np.float64),
    }


def _cents(amount: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(amount, dtype=np.float64), 2)


# ------------------------------------------------------------------------- the table
SPAN = 2.0**15  # sort keys hold times in [-2^15, 2^15) days (earlier sign-ups: at -2^15)


def _sort_keys(blocks: list[Block]) -> np.ndarray:
    """One int64 per row: the user in the high bits, the time in the rest (to about 2^-25
    of a day for 10^6 users: finer than any two events of one user are apart)."""
    users = max(1, int(max((b.user.max(initial=0) for b in blocks), default=0)).bit_length())
    scale = 2.0 ** (63 - users) / (2 * SPAN)
    keys = [
        (b.user << (63 - users))
        | (np.clip(b.time + SPAN, 0, 2 * SPAN - 1) * scale).astype(np.int64)
        for b in blocks
    ]
    return np.concatenate([np.zeros(0, np.int64), *keys])


def _positions(blocks: list[Block]) -> tuple[list[np.ndarray], int]:
    """Each block's rows' places in the log (by user, then time; ties in block order; the
    session, purchase or same-signal rows of one user and day share a place), and the number
    of places."""
    key = _sort_keys(blocks)
    kind = np.concatenate(
        [np.zeros(0, np.int8), *(np.full(b.user.size, b.event, np.int8) for b in blocks)]
    )
    order = np.argsort(key, kind="stable")
    key, kind = key[order], kind[order]
    added = np.isin(kind, ADDED_UP)
    new = np.ones(key.size, dtype=bool)
    new[1:] = ~((key[1:] == key[:-1]) & added[1:] & (kind[1:] == kind[:-1]))
    place = np.empty(key.size, dtype=np.int64)
    place[order] = np.cumsum(new) - 1
    bounds = np.cumsum([0, *(b.user.size for b in blocks)])
    return [place[a:z] for a, z in itertools.pairwise(bounds)], int(new.sum())


def _columns(blocks: list[Block], places: list[np.ndarray], n: int) -> dict[str, np.ndarray]:
    """Every column, each block's values at its rows' places (empty elsewhere); a day's
    purchases add up their spend, and a day's records of a signal their counts."""
    out: dict[str, np.ndarray] = {
        "user": np.zeros(n, np.int64),
        "time": np.zeros(n),
        "event_type": np.zeros(n, np.int8),
        **{name: np.full(n, -1, np.int16) for name in TEXT[1:]},
        **{name: np.full(n, np.nan) for name in NUMBERS},
    }
    for block, at in zip(blocks, places, strict=True):
        out["user"][at] = block.user
        out["time"][at] = block.time
        out["event_type"][at] = block.event
        for name, values in block.columns.items():
            if name == "amount" and block.event in ADDED_UP:  # a day's records add up
                out[name][at] = 0.0
                np.add.at(out[name], at, values)
                continue
            out[name][at] = values
    return out


def _frame(
    cols: dict[str, np.ndarray],
    names: dict[str, tuple[str, ...]],
    origin: np.datetime64,
    start_day: float,
) -> pd.DataFrame:
    """The rows as the log's table: dates from ``origin`` (the date of ``start_day``), text
    columns as strings."""
    days = (np.floor(cols["time"]) - start_day).astype(np.int64).astype("timedelta64[D]")
    data = {
        "user_id": cols["user"],
        "timestamp": origin + days,
        **{name: _text(cols[name], names[name]) for name in TEXT},
        **{name: cols[name] for name in NUMBERS},
    }
    return pd.DataFrame(data)[list(COLUMNS)]


def _text(codes: np.ndarray, names: tuple[str, ...]) -> pd.api.extensions.ExtensionArray:
    """String column from codes into ``names`` (-1: empty), built in Arrow (fast)."""
    picked = pa.array(names, pa.large_string()).take(pa.array(codes, pa.int32(), mask=codes < 0))
    return pd.array(picked, dtype=pd.StringDtype("pyarrow", np.nan))


def save(log: pd.DataFrame, path: str | Path) -> None:
    """``log`` to ``path`` through Arrow (fast): Parquet for ``*.parquet``, else CSV (dates
    as YYYY-MM-DD, text quoted, empty cells where a column does not apply)."""
    table = pa.Table.from_pandas(log, preserve_index=False)
    if Path(path).suffix.lower() == ".parquet":
        pq.write_table(table, path)
        return
    at = table.schema.get_field_index("timestamp")
    table = table.set_column(at, "timestamp", table.column(at).cast(pa.date32()))
    pa_csv.write_csv(table, path)


__all__ = [
    "ASSIGNMENTS",
    "COLUMNS",
    "EVENTS",
    "event_log",
    "event_times",
    "save",
    "simulated_log",
]
