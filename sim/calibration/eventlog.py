"""Event logs: load, validate and summarise a company's own activity and subscription log.

An event log is a CSV or Parquet file with one row per event and the columns

=============== ====================================================================================
``user_id``     any non-empty identifier
``timestamp``   an ISO 8601 date or date-time (``2024-03-01``, ``2024-03-01T10:15``, ``...:00Z``,
                ``2024-03-01T10:15:00+01:00``: zones are converted to UTC, plain times count as
                UTC), a typed Parquet timestamp, or any other format given as ``date_format``
                (``'%d/%m/%Y'``), which is then applied strictly to every row
``event_type``  activity ``purchase``, ``session``; offers ``offer_sent``, ``offer_opened``,
                ``offer_redeemed``; ``signup``; subscriptions ``subscribe``, ``renew``,
                ``payment`` (a synonym of renew), ``cancel``, ``resubscribe``, ``plan_change``;
                reach ``unsubscribe`` (the customer opted out of messages on ``channel``, one
                of ``sim.constants.CHANNELS``, required there; the opt-out holds for the rest
                of the log: the schema has no opt-in. Calibration reads none of these rows:
                they are not activity, subscriptions or offers, and do not open the window);
                behavioural signals ``app_error``, ``failed_signin``, ``search_abandoned``,
                ``title_abandoned``, ``title_finished``, ``pricing_page_view``,
                ``payment_failure`` (``sim.signals``: what the customer showed that day;
                ``EventLog.signals``, ``EventLog.signal_counts``. Calibration reads none of
                these rows either, and they do not open the window)
``amount``      spend of a purchase, what was paid on a renew/payment (>= 0; may be empty except
                on a purchase); on a signal, how often the customer showed it that day (>= 0;
                empty -> 1: a log may write one row per occurrence instead, and repeated
                signal rows are never duplicates, see below)
=============== ====================================================================================

and optionally ``offer`` (the offer's name on offer events), ``channel``, ``plan`` and ``price``
(required on subscribe, resubscribe and plan_change: a non-empty plan name and its list price
per billing period, >= 0), ``billing`` (``monthly`` or ``annual``; empty -> monthly),
``reason`` (on a cancel, the exit survey: one of ``sim.constants.PAIN_POINTS``, or empty),
``campaign``, ``arm`` (``treatment`` or ``holdout``, or empty) and ``propensity`` (in (0, 1], or
empty) on offer events. A cancel's timestamp is the day it takes effect. An
``unsubscribe``'s timestamp is the day of the opt-out; customers who could not be reached on a
channel when the export began are written with that day (or any earlier one).

Every row is checked on load; bad rows are reported with their line numbers (the file's own
line numbers, header = line 1) and a count per problem, and are never dropped silently: by
default they stop the load (nothing is loaded), with ``skip_bad_rows=True`` they are left out
and counted. Beyond its own fields, a row is bad when it lies outside the plausible range:
a timestamp before 1990-01-01 or more than a year after today (``accept_dates=True`` accepts
it), an amount or price above ``max_amount`` (1,000,000).

Subscription histories are read per user in time order (events at the same time in file
order) and must be consistent: no cancel without an active subscription; no subscribe or
resubscribe while subscribed (overlapping subscriptions); no renew, payment or plan_change
while not subscribed; no resubscribe without an earlier cancel (a subscribe after a cancel is
a resubscription too); a renew, payment or cancel that names a plan names the current one.
Inconsistent rows are bad rows like the others; a bad event changes nothing (with
``skip_bad_rows`` the rest is checked again until it is consistent). Exact duplicate rows
(field for field, numbers as numbers) are counted and reported (``EventLog.notes``) and
dropped unless ``duplicates="keep"``, before the histories are checked (a duplicated
subscribe is one subscription); signal rows are the exception, always kept as they are (a
signal repeated on a day is another occurrence: a log may write one row per occurrence).
Last, before any per-day work, a log spanning more than ``max_years`` (20) is refused, naming
its first and last lines.
The file is read and checked in batches of rows and kept compact (text as integer codes,
integer user ids as numbers until their distinct values are named, whole-day timestamps as
int32 days, numbers only where given), so that the memory a log takes is a few tens of bytes
per row however it is written; only the table finally loaded has a column per field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from tqdm import tqdm

from sim.constants import ARMS, BILLING_DAYS, CHANNELS, PAIN_POINTS
from sim.signals import SIGNAL_NAMES

REQUIRED = ("user_id", "timestamp", "event_type", "amount")
OPTIONAL = (
    "offer",
    "channel",
    "plan",
    "price",
    "billing",
    "reason",
    "campaign",
    "arm",
    "propensity",
)
ACTIVITY = ("purchase", "session")
OFFER_EVENTS = ("offer_sent", "offer_opened", "offer_redeemed")
STARTS = ("subscribe", "resubscribe")  # a subscription spell begins
RENEWALS = ("renew", "payment")
PLAN_EVENTS = (*STARTS, "plan_change")  # carry plan, price and billing
SUBSCRIPTION_EVENTS = ("subscribe", *RENEWALS, "cancel", "resubscribe", "plan_change")
OPT_OUTS = ("unsubscribe",)  # a customer no longer reachable on ``channel`` (no calibration)
SIGNAL_EVENTS = SIGNAL_NAMES  # behavioural signals, ``amount`` the count (no calibration)
UNCALIBRATED = (*OPT_OUTS, *SIGNAL_EVENTS)
"""Event types no calibration reads: not activity, subscriptions or offers, and they do not
open the window (``EventLog.window_start``)."""
EVENT_TYPES = (
    *ACTIVITY, *OFFER_EVENTS, "signup", *SUBSCRIPTION_EVENTS, *OPT_OUTS, *SIGNAL_EVENTS,
)  # fmt: skip
BILLING = tuple(BILLING_DAYS)
DEFAULT_BILLING = "monthly"
NUMBERS = ("amount", "price", "propensity")
UNKNOWN_CHANNEL = f"channel not {', '.join(CHANNELS)} on an unsubscribe (required there)"
LOWERCASE = ("event_type", "billing", "reason", "arm")  # read case-insensitively
EARLIEST = pd.Timestamp("1990-01-01")
MAX_YEARS = 20.0
MAX_AMOUNT = 1_000_000.0
DUPLICATES = ("drop", "keep")
SHOW_LINES = 10
US_PER_DAY = 86_400_000_000
NAT = np.iinfo(np.int64).min  # a missing timestamp, in microseconds
NAT_DAY = np.iinfo(np.int32).min  # a missing timestamp, in days
BATCH_ROWS = 1 << 20  # rows read and checked at a time (Parquet, tables)
CSV_BLOCK_BYTES = 64 << 20  # bytes of CSV read and checked at a time
SLICE_ROWS = 1 << 22  # rows gathered at a time
SPARSE_ROWS = 1 << 16  # room first made for the given values of a number column
CSV_ROW_BYTES = 16  # the fewest bytes a CSV row takes (room is made for size / this rows)
NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
ISO = r"\d{4}-\d{2}-\d{2}([T ]\d{2}(:\d{2}(:\d{2}([.,]\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?"


class EventLogError(ValueError):
    """A log that cannot be used as it is: the message says what is wrong and where."""


@dataclass(frozen=True)
class Limits:
    """The plausible ranges a log is checked against (see the module docstring)."""

    date_format: str | None = None  # e.g. '%d/%m/%Y'; None: ISO 8601 only
    max_years: float = MAX_YEARS  # longest span from the first to the last event
    accept_dates: bool = False  # accept timestamps before 1990 or over a year ahead
    max_amount: float = MAX_AMOUNT  # ceiling of an amount or a price
    duplicates: str = "drop"  # exact duplicate rows: drop or keep

    def __post_init__(self) -> None:
        fmt = self.date_format
        if fmt is not None and (not isinstance(fmt, str) or "%" not in fmt):
            raise EventLogError(
                f"date_format: {fmt!r}; allowed: a strptime format such as '%d/%m/%Y'"
            )
        for key in ("max_years", "max_amount"):
            value = getattr(self, key)
            if not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
                raise EventLogError(f"{key}: {value!r}; allowed: a finite number > 0")
        if self.duplicates not in DUPLICATES:
            raise EventLogError(f"duplicates: {self.duplicates!r}; allowed: drop, keep")

    @property
    def latest(self) -> pd.Timestamp:
        return pd.Timestamp.now("UTC").tz_localize(None).normalize() + pd.Timedelta(days=366)


# a log the simulator wrote: its sign-ups' exponential tenures can reach decades before the
# window, and a simulated future runs past next year
SIMULATED = Limits(max_years=1000.0, accept_dates=True)


@dataclass
class EventLog:
    """A validated log: every kept row, sorted by user and time (same time: file order),
    with the day of each event (0 = the log's first day). Text columns are categorical (the
    optional ones with "" for empty), numbers float64 (an empty amount 0, or 1 on a signal
    row; an empty price or propensity NaN), days int32; timestamps UTC to the microsecond,
    or, when every one is a whole day, a categorical of the days (as light as the days)."""

    events: pd.DataFrame  # user_id, timestamp, event_type, amount, day, [optional columns]
    origin: pd.Timestamp  # midnight of the first event's day
    path: str = ""
    bad_rows: list[int] = field(default_factory=list)  # file line numbers left out
    duplicates: list[int] = field(default_factory=list)  # lines repeating an earlier row
    duplicates_kept: bool = False

    @property
    def activity(self) -> pd.DataFrame:
        return self.events[self.events.event_type.isin(ACTIVITY)]

    @property
    def has_offers(self) -> bool:
        return bool(self.events.event_type.isin(OFFER_EVENTS).any())

    @cached_property
    def has_subscriptions(self) -> bool:
        return bool(self.events.event_type.isin(SUBSCRIPTION_EVENTS).any())

    @cached_property
    def end(self) -> int:
        """The log's last day."""
        return int(self.events.day.max())

    @cached_property
    def window_start(self) -> int:
        """The first day of any event that is not a ``subscribe``, an ``unsubscribe`` or a
        signal (earlier rows are sign-ups of customers who subscribed, and opt-outs of
        customers who opted out, before the export began; signals are read by no
        calibration); the last day if there is none."""
        # numpy, not a Series mask: pandas would keep the row numbers (8 bytes a row)
        kind = self.events.event_type.cat.codes.to_numpy()  # categories: EVENT_TYPES
        before = [EVENT_TYPES.index(k) for k in ("subscribe", *UNCALIBRATED)]
        days = self.events.day.to_numpy()[~np.isin(kind, before)]
        return int(days.min()) if days.size else self.end

    @property
    def opt_outs(self) -> pd.DataFrame:
        """The ``unsubscribe`` rows (user_id, day, channel...): no calibration reads them."""
        return self.events[self.events.event_type.isin(OPT_OUTS)]

    @property
    def signals(self) -> pd.DataFrame:
        """The behavioural signal rows (user_id, day, event_type the signal, amount the count
        that day: an empty one is 1): no calibration reads them."""
        return self.events[self.events.event_type.isin(SIGNAL_EVENTS)]

    def signal_counts(self, until: int | None = None) -> pd.DataFrame:
        """Each user's count of each signal (the sum of its rows' amounts) over the log's
        days up to ``until`` (None: all): float64, one row per user with a signal row (index
        ``user_id``), one column per signal in :data:`SIGNAL_EVENTS` order."""
        rows = self.signals
        if until is not None:
            rows = rows[rows.day <= until]
        sums = rows.groupby(["user_id", "event_type"], observed=True)["amount"].sum()
        table = sums.unstack("event_type", fill_value=0)
        table = table.reindex(columns=list(SIGNAL_EVENTS), fill_value=0.0).astype(np.float64)
        table.index = pd.Index(table.index.astype(object), name="user_id")
        table.columns = pd.Index(list(SIGNAL_EVENTS))
        return table

    @property
    def notes(self) -> list[str]:
        """What a report should say about the reading (bad rows left out, duplicate rows)."""
        out = []
        if self.bad_rows:
            out.append(
                f"{len(self.bad_rows):,} bad row(s) left out ({_lines(self.bad_rows)}), as "
                "asked (--skip-bad-rows; skip_bad_rows=True from Python)."
            )
        if self.duplicates:
            fate = (
                "kept as separate events (--duplicates keep)"
                if self.duplicates_kept
                else "dropped (keep them: --duplicates keep, duplicates='keep' from Python)"
            )
            lines = _lines(self.duplicates)
            out.append(f"{len(self.duplicates):,} exact duplicate row(s) ({lines}): {fate}.")
        return out

    def day_of(self, date: str | pd.Timestamp, key: str = "date") -> int:
        """Whole days from the log's first day to ``date`` (``key`` names it in errors): a
        date given as text must be ISO (``1997-10-01``), never guessed day- or month-first."""
        if isinstance(date, str) and not re.fullmatch(ISO, date.strip()):
            raise EventLogError(
                f"{key}: {date!r} is not a date written YYYY-MM-DD; allowed: an ISO date such "
                "as 1997-10-01 (a date such as 01/09/2025 could be the first of September or "
                "9 January)"
            )
        try:
            stamp = pd.Timestamp(date)
        except (ValueError, TypeError) as err:
            raise EventLogError(
                f"{key}: {date!r} is not a date; allowed: an ISO date such as 1997-10-01"
            ) from err
        if pd.isna(stamp):
            raise EventLogError(f"{key}: {date!r} is not a date; allowed: an ISO date")
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        return int((stamp.normalize() - self.origin).days)


def read_event_log(
    path: str | Path,
    skip_bad_rows: bool = False,
    *,
    date_format: str | None = None,
    max_years: float = MAX_YEARS,
    accept_dates: bool = False,
    max_amount: float = MAX_AMOUNT,
    duplicates: str = "drop",
    progress: bool = False,
) -> EventLog:
    """Load and validate an event log (CSV or Parquet), batch by batch (``progress``: a bar
    on stderr, with the stage); the keywords are ``Limits``."""
    limits = Limits(date_format, max_years, accept_dates, max_amount, duplicates)
    path = Path(path)
    names, total, batches = _open(path)
    with tqdm(
        total=total, desc="reading the log", unit=" rows", unit_scale=True, disable=not progress
    ) as bar:
        rows = total if total is not None else path.stat().st_size // CSV_ROW_BYTES
        log = _read(names, batches, rows, limits, _where(str(path)), bar)
        bar.set_postfix_str("checking order, duplicates and histories")
        return _validated(log, str(path), skip_bad_rows, limits)


# ------------------------------------------------------------------ reading
def _open(path: Path) -> tuple[list[str], int | None, Iterator[pa.RecordBatch]]:
    """The file's column names, its number of rows (None for CSV: not known before reading)
    and its batches of the schema's columns (text dictionary-encoded)."""
    if not path.is_file():
        raise EventLogError(f"event log: {str(path)!r} does not exist or is not a file")
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv", ".txt", ".gz"):
        raise EventLogError(
            f"event log: {str(path)!r} has suffix {suffix!r}; allowed: .csv (also .txt, .gz "
            "holding CSV) or .parquet"
        )
    try:
        names, total, batches = (_open_parquet if suffix == ".parquet" else _open_csv)(path)
    except (pa.ArrowException, ValueError, OSError) as err:
        raise _unreadable(path, err) from err
    return names, total, _guarded(batches, path)


def _unreadable(path: Path, err: Exception) -> EventLogError:
    return EventLogError(f"event log: {str(path)!r} could not be read: {err}")


def _guarded(batches: Iterator[pa.RecordBatch], path: Path) -> Iterator[pa.RecordBatch]:
    """``batches``, a reading error as an ``EventLogError``."""
    try:
        yield from batches
    except (pa.ArrowException, ValueError, OSError) as err:
        raise _unreadable(path, err) from err


def _open_csv(path: Path) -> tuple[list[str], None, Iterator[pa.RecordBatch]]:
    import pyarrow.csv as pcsv

    with pcsv.open_csv(path) as reader:  # reads the header (and one block) only
        names = reader.schema.names
    text = pa.dictionary(pa.int32(), pa.string())
    types = {c: text if c not in (*NUMBERS, "timestamp") else pa.string() for c in names}
    options = pcsv.ConvertOptions(
        column_types=types, include_columns=_known(names), strings_can_be_null=False
    )
    blocks = pcsv.ReadOptions(block_size=CSV_BLOCK_BYTES)
    return names, None, iter(pcsv.open_csv(path, read_options=blocks, convert_options=options))


def _open_parquet(path: Path) -> tuple[list[str], int, Iterator[pa.RecordBatch]]:
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    columns = _known(schema.names)
    text = [c for c in columns if pa.types.is_string(schema.field(c).type)]
    text += [c for c in columns if pa.types.is_large_string(schema.field(c).type)]
    file = pq.ParquetFile(path, read_dictionary=text)
    return schema.names, file.metadata.num_rows, file.iter_batches(BATCH_ROWS, columns=columns)


def _known(names: list[str]) -> list[str]:
    """The schema's columns among ``names`` (others are not read); all of them when one
    required column is missing, so that the error lists what the file has."""
    known = [c for c in names if c in (*REQUIRED, *OPTIONAL)]
    return known if all(c in names for c in REQUIRED) else names


def _table(raw: pd.DataFrame | pa.Table) -> pa.Table:
    """``raw`` as an Arrow table; pandas object columns (of mixed types) as text."""
    if isinstance(raw, pa.Table):
        return raw
    raw = raw.copy(deep=False)
    for name in raw.columns:
        col = raw[name]
        if col.dtype == object or isinstance(col.dtype, pd.CategoricalDtype):
            raw[name] = col.astype(object).where(col.notna(), "").astype(str)
    return pa.Table.from_pandas(raw, preserve_index=False)


def _read(
    names: list[str],
    batches: Iterator[pa.RecordBatch],
    rows: int,
    limits: Limits,
    where: str,
    bar: tqdm,
) -> _Log:
    """Every batch converted and checked row by row (``_Store.add``, room made for about
    ``rows`` rows), then joined."""
    _check_columns(names, None, where)
    store = _Store([c for c in OPTIONAL if c in names], rows)
    for batch in batches:
        store.add(batch, limits)
        bar.update(batch.num_rows)
    _check_columns(names, store.n, where)
    return store.finish()


# ------------------------------------------------------------------ columns
def _strings(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Any column as plain text, missing -> ''."""
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        col = col.cast(pa.string())
    return pc.fill_null(col, "")


def _text(col: pa.ChunkedArray | None, n: int, lower: bool) -> tuple[np.ndarray, np.ndarray]:
    """A text column as codes into its distinct stripped values in sorted order (the
    smallest integer type that holds them), code -1 = empty; a missing column is all empty
    (a read-only view, no memory)."""
    if col is None:
        return np.broadcast_to(np.int8(-1), (n,)), np.array([], dtype=object)
    if not (pa.types.is_dictionary(col.type) and col.null_count == 0):
        col = pc.dictionary_encode(_strings(col))
    arr = col.combine_chunks()  # one dictionary for all chunks
    values = pd.Index(arr.dictionary.to_pandas(), dtype=object).str.strip()
    if lower:
        values = values.str.lower()
    remap, distinct = pd.factorize(values, sort=True)
    empty = distinct == ""
    remap = np.where(empty[remap], -1, remap - np.cumsum(empty)[remap])
    dtype = np.min_scalar_type(-max(len(distinct), 1))  # signed, holds -1 .. len - 1
    return remap.astype(dtype)[arr.indices.to_numpy()], np.asarray(distinct[~empty], dtype=object)


def _numbers(col: pa.ChunkedArray | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A number column as float64 (empty -> NaN) and where the text was not a number (a
    missing column: read-only views, no memory)."""
    if col is None:
        return np.broadcast_to(np.nan, (n,)), np.broadcast_to(False, (n,))
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        values = col.cast(pa.float64()).to_numpy()  # nulls -> NaN
        return values, np.broadcast_to(False, (n,))
    text = pc.utf8_trim_whitespace(_strings(col))
    given = pc.not_equal(text, "")
    try:  # every value a number Arrow reads (nan and inf too: not finite, so refused later)
        values = pc.if_else(given, text, None).cast(pa.float64()).to_numpy()
        return values, np.isnan(values) & given.to_numpy()
    except pa.ArrowInvalid:
        ok = pc.match_substring_regex(text, NUMBER)
        values = pc.if_else(ok, text, None).cast(pa.float64())
        return values.to_numpy(), pc.and_(pc.invert(ok), given).to_numpy()


def _timestamps(col: pa.ChunkedArray, date_format: str | None) -> np.ndarray:
    """Microseconds since 1970, UTC (``NAT`` where not a date: not ISO 8601, or not in
    ``date_format`` when one is given)."""
    if pa.types.is_timestamp(col.type) or pa.types.is_date(col.type):
        stamps = col.cast(pa.timestamp("us", getattr(col.type, "tz", None)), safe=False)
    else:
        text = pc.utf8_trim_whitespace(_strings(col))
        if date_format is None:
            return _iso(text)
        stamps = pc.strptime(text, format=date_format, unit="us", error_is_null=True)
    return stamps.cast(pa.int64()).fill_null(NAT).to_numpy()


def _iso(text: pa.ChunkedArray) -> np.ndarray:
    """ISO 8601 text as microseconds: by Arrow when every row has one form (with or without
    a zone), else each distinct value by pandas (a log mixing forms, or with bad rows)."""
    for kind in (pa.timestamp("us"), pa.timestamp("us", "UTC")):
        try:
            return text.cast(kind).cast(pa.int64()).to_numpy()
        except pa.ArrowInvalid:
            pass
    coded = pc.dictionary_encode(text).combine_chunks()
    values = coded.dictionary.to_pandas()
    values = values.where(values.str.fullmatch(ISO), "")  # pandas reads 2024/04/03 too
    stamps = pd.to_datetime(values, format="ISO8601", utc=True, errors="coerce")
    micros = stamps.dt.tz_localize(None).to_numpy(dtype="datetime64[us]").view(np.int64)
    return micros[coded.indices.to_numpy()]


def _ids(col: pa.ChunkedArray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """User ids: integers as they are, codes into the batch's distinct ids (their text is
    made once per distinct id, by ``_Column``); any other type as ``_text``."""
    if not pa.types.is_integer(col.type):
        return _text(col, n, lower=False)
    coded = pc.dictionary_encode(col).combine_chunks()
    return coded.indices.fill_null(-1).to_numpy(), coded.dictionary.to_numpy()


@dataclass
class _Rows:
    """One batch of rows as arrays: text as codes into its distinct values (-1 = empty),
    numbers as float64 (NaN = empty) with where the text was not a number."""

    text: dict[str, tuple[np.ndarray, np.ndarray]]
    numbers: dict[str, tuple[np.ndarray, np.ndarray]]
    stamp: np.ndarray  # int64 microseconds (UTC), NAT where not a date
    kind: np.ndarray  # int8 index into EVENT_TYPES, -1 = not an event type
    not_a_date: tuple[int, Any] | None  # the first row whose timestamp is not a date, its text

    @property
    def n(self) -> int:
        return int(self.stamp.shape[0])

    def of_kind(self, kinds: tuple[str, ...]) -> np.ndarray:
        return _of_kind(self.kind, kinds)


def _of_kind(kind: np.ndarray, kinds: tuple[str, ...]) -> np.ndarray:
    return np.isin(kind, [EVENT_TYPES.index(k) for k in kinds])


def _rows(columns: dict[str, Any], n: int, date_format: str | None) -> _Rows:
    """The schema's ``columns`` (Arrow, ``n`` rows) as arrays; each column leaves
    ``columns`` as it is converted, so that its memory is freed."""
    text = {"user_id": _ids(columns.pop("user_id"), n)}
    text.update(
        (c, _text(columns.pop(c, None), n, c in LOWERCASE))
        for c in ("event_type", *(c for c in OPTIONAL if c not in NUMBERS))
    )
    numbers = {c: _numbers(columns.pop(c, None), n) for c in NUMBERS}
    codes, values = text.pop("event_type")
    known = np.array([EVENT_TYPES.index(v) if v in EVENT_TYPES else -1 for v in values])
    kind = np.append(known, -1)[codes].astype(np.int8)  # code -1 (empty) -> -1
    amount, not_number = numbers["amount"]
    once = _of_kind(kind, SIGNAL_EVENTS) & np.isnan(amount) & ~not_number
    if once.any():  # an empty amount on a signal row: one occurrence
        numbers["amount"] = (np.where(once, 1.0, amount), not_number)
    stamps = columns.pop("timestamp")
    stamp = _timestamps(stamps, date_format)
    bad = np.flatnonzero(stamp == NAT)[:1]
    first_bad = (int(bad[0]), stamps[int(bad[0])].as_py()) if bad.size else None
    return _Rows(text, numbers, stamp, kind, first_bad)


# ------------------------------------------------------------------ the whole log, compact
def _code_type(size: int) -> np.dtype:
    """The smallest signed integer type holding -1 .. size - 1."""
    return np.min_scalar_type(-max(size, 1))


class _Buffer:
    """An array filled batch by batch, in place: room for ``capacity`` rows taken at once
    (pages not yet written take no memory), grown by half when full, its integer type
    widened (``widen``) when a value needs it."""

    def __init__(self, dtype: Any, capacity: int) -> None:
        self.data = np.empty(max(capacity, 1), dtype=dtype)
        self.n = 0

    @property
    def array(self) -> np.ndarray:
        return self.data[: self.n]

    def widen(self, dtype: Any) -> None:
        if np.dtype(dtype).itemsize > self.data.dtype.itemsize:
            self._move(self.data.size, dtype)

    def append(self, values: np.ndarray) -> None:
        end = self.n + values.size
        if end > self.data.size:
            self._move(max(end, self.data.size * 3 // 2), self.data.dtype)
        self.data[self.n : end] = values
        self.n = end

    def _move(self, size: int, dtype: Any) -> None:
        data = np.empty(size, dtype=dtype)
        data[: self.n] = self.data[: self.n]
        self.data = data


class _Column:
    """A text column over the batches: each batch's codes as ids of its values in order of
    first appearance (``add``), then as codes into the sorted values (``finish``, in
    place). Until a value appears the column takes no memory."""

    def __init__(self, capacity: int) -> None:
        self.ids: dict[Any, int] = {}
        self.capacity = capacity
        self.codes: _Buffer | None = None
        self.n = 0

    def add(self, codes: np.ndarray, values: np.ndarray) -> None:
        if len(values) and self.codes is None:
            self.codes = _Buffer(np.int8, self.capacity)
            self.codes.append(np.full(self.n, -1, dtype=np.int8))
        if self.codes is not None:
            ids = [self.ids.setdefault(v, len(self.ids)) for v in values.tolist()]
            self.codes.widen(_code_type(len(self.ids)))
            self.codes.append(np.array([*ids, -1], dtype=self.codes.data.dtype)[codes])
        self.n += codes.size

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """Codes into the distinct values as text, sorted (integer ids become text here)."""
        if self.codes is None:
            return np.broadcast_to(np.int8(-1), (self.n,)), np.array([], dtype=object)
        remap, distinct = pd.factorize(
            pd.Index([str(v) for v in self.ids], dtype=object), sort=True
        )
        codes = self.codes.array
        table = np.append(remap, -1).astype(codes.dtype)
        for at in range(0, codes.size, SLICE_ROWS):
            codes[at : at + SLICE_ROWS] = table[codes[at : at + SLICE_ROWS]]
        return codes, np.asarray(distinct, dtype=object)


class _Stamps:
    """Timestamps over the batches: whole days (int32) while every one is a midnight, else
    microseconds (int64); a missing one is the type's least value."""

    def __init__(self, capacity: int) -> None:
        self.values = _Buffer(np.int32, capacity)
        self.days = True

    def add(self, stamp: np.ndarray) -> None:
        given = stamp != NAT
        if self.days and np.any(stamp[given] % US_PER_DAY):
            self.days = False
            days = self.values.array
            self.values = _Buffer(np.int64, self.values.data.size)
            self.values.append(np.where(days == NAT_DAY, NAT, days.astype(np.int64) * US_PER_DAY))
        if self.days:
            stamp = np.where(given, stamp // US_PER_DAY, NAT_DAY).astype(np.int32)
        self.values.append(stamp)

    def finish(self) -> tuple[np.ndarray, int]:
        """The stamps and their unit in microseconds."""
        return self.values.array, US_PER_DAY if self.days else 1


class _Sparse:
    """A number column where given (most rows of a log leave amount, price and propensity
    empty): the rows' positions and values."""

    def __init__(self) -> None:
        self.rows = _Buffer(np.int64, SPARSE_ROWS)
        self.values = _Buffer(np.float64, SPARSE_ROWS)

    def add(self, values: np.ndarray, offset: int) -> None:
        given = np.flatnonzero(~np.isnan(values))
        self.rows.append(given + offset)
        self.values.append(values[given])

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The values at file rows ``rows``, NaN where empty."""
        at, values = self.rows.array, self.values.array
        if not at.size:
            return np.full(rows.size, np.nan)
        i = np.minimum(np.searchsorted(at, rows), at.size - 1)
        return np.where(at[i] == rows, values[i], np.nan)

    def dense(self, rank: np.ndarray | None, size: int, fill: float) -> np.ndarray:
        """The column over ``size`` loaded rows, ``fill`` where empty; ``rank``: each file
        row's place among them (-1: left out; None: every row in file order). A column
        left empty everywhere is a read-only view of ``fill`` (no memory)."""
        if not self.rows.n:
            return np.broadcast_to(np.float64(fill), (size,))
        out = np.full(size, fill)
        at = self.rows.array if rank is None else rank[self.rows.array]
        given = at >= 0
        out[at[given]] = self.values.array[given]
        return out


@dataclass
class _Log:
    """Every row of a log, compact: text as codes into its sorted distinct values (-1 =
    empty), numbers where given, the problems each row has on its own."""

    text: dict[str, tuple[np.ndarray, np.ndarray]]
    numbers: dict[str, _Sparse]
    stamp: np.ndarray  # int32 days or int64 microseconds (see unit); missing: the least value
    unit: int  # microseconds per stamp unit: US_PER_DAY or 1
    kind: np.ndarray  # int8 index into EVENT_TYPES, -1 = not an event type
    optional: list[str]  # the optional columns the log has
    problems: dict[str, np.ndarray]  # per problem, the rows (0 = the first) that have it
    not_a_date: tuple[int, Any] | None

    @property
    def n(self) -> int:
        return int(self.kind.shape[0])


class _Store:
    """A log read batch by batch: each batch converted (``_rows``), checked row by row
    (``_row_problems``: the problems kept as positions), and kept compact in arrays with
    room for ``capacity`` rows (more are made room for)."""

    def __init__(self, optional: list[str], capacity: int) -> None:
        self.optional = optional
        self.capacity = capacity
        self.text: dict[str, _Column] = {}
        self.numbers: dict[str, _Sparse] = {}
        self.stamps = _Stamps(capacity)
        self.kind = _Buffer(np.int8, capacity)
        self.problems: dict[str, list[np.ndarray]] = {}
        self.not_a_date: tuple[int, Any] | None = None
        self.n = 0

    def add(self, batch: pa.RecordBatch, limits: Limits) -> None:
        columns = {c: pa.chunked_array([batch.column(c)]) for c in batch.schema.names}
        rows = _rows(columns, batch.num_rows, limits.date_format)
        for label, mask in _row_problems(rows, limits).items():
            self.problems.setdefault(label, []).append(np.flatnonzero(mask) + self.n)
        if self.not_a_date is None and rows.not_a_date is not None:
            self.not_a_date = (rows.not_a_date[0] + self.n, rows.not_a_date[1])
        for c, (codes, values) in rows.text.items():
            self.text.setdefault(c, _Column(self.capacity)).add(codes, values)
        for c, (numbers, _) in rows.numbers.items():
            self.numbers.setdefault(c, _Sparse()).add(numbers, self.n)
        self.kind.append(rows.kind)
        self.stamps.add(rows.stamp)
        self.n += rows.n

    def finish(self) -> _Log:
        stamp, unit = self.stamps.finish()
        pa.default_memory_pool().release_unused()  # what Arrow freed, back to the system
        return _Log(
            text={c: column.finish() for c, column in self.text.items()},
            numbers=self.numbers,
            stamp=stamp,
            unit=unit,
            kind=self.kind.array,
            optional=self.optional,
            problems={k: np.concatenate(v) for k, v in self.problems.items()},
            not_a_date=self.not_a_date,
        )


# ------------------------------------------------------------------ row rules
def _row_problems(rows: _Rows, limits: Limits) -> dict[str, np.ndarray]:
    """One mask per problem a row can have on its own (the label names it in the report)."""
    plan_event = rows.of_kind(PLAN_EVENTS)
    amount, amount_text = rows.numbers["amount"]
    price, price_text = rows.numbers["price"]
    propensity, propensity_text = rows.numbers["propensity"]
    with np.errstate(invalid="ignore"):
        return {
            "empty user_id": rows.text["user_id"][0] < 0,
            f"event_type not one of {', '.join(EVENT_TYPES)}": rows.kind < 0,
            "timestamp not a date": rows.stamp == NAT,
            **_date_range(rows.stamp, limits),
            "amount not a finite number >= 0": _negative(amount, amount_text)
            | (rows.of_kind(("purchase",)) & np.isnan(amount)),
            "price not a finite number >= 0 (required on subscribe, resubscribe, plan_change)": (
                _negative(price, price_text) | (plan_event & np.isnan(price))
            ),
            f"amount or price above {limits.max_amount:,.0f}": np.isfinite(amount)
            & (amount > limits.max_amount)
            | np.isfinite(price) & (price > limits.max_amount),
            "plan empty on subscribe, resubscribe or plan_change": plan_event
            & (rows.text["plan"][0] < 0),
            f"billing not {', '.join(BILLING)} or empty": _not_in(rows.text["billing"], BILLING),
            f"reason not {', '.join(PAIN_POINTS)} or empty": _not_in(
                rows.text["reason"], PAIN_POINTS
            ),
            f"arm not {', '.join(ARMS)} or empty": _not_in(rows.text["arm"], ARMS),
            UNKNOWN_CHANNEL: rows.of_kind(OPT_OUTS) & ~_among(rows.text["channel"], CHANNELS),
            "propensity not a number in (0, 1] or empty": propensity_text
            | ~(np.isnan(propensity) | (propensity > 0) & (propensity <= 1)),
        }


def _negative(values: np.ndarray, not_number: np.ndarray) -> np.ndarray:
    """Given, but not a finite number >= 0."""
    return not_number | ~np.isnan(values) & ~(np.isfinite(values) & (values >= 0))


def _among(column: tuple[np.ndarray, np.ndarray], allowed: tuple[str, ...]) -> np.ndarray:
    """One of ``allowed`` (empty is not)."""
    codes, values = column
    return np.append(np.isin(values, allowed), False)[codes]


def _not_in(column: tuple[np.ndarray, np.ndarray], allowed: tuple[str, ...]) -> np.ndarray:
    """Non-empty and not one of ``allowed``."""
    codes, values = column
    fine = np.append(np.isin(values, allowed), True)  # code -1 (empty) is fine
    return ~fine[codes]


def _date_range(stamp: np.ndarray, limits: Limits) -> dict[str, np.ndarray]:
    """Timestamps before 1990-01-01 or more than a year ahead (unless accepted)."""
    if limits.accept_dates:
        return {}
    latest = limits.latest
    low, high = (int(np.datetime64(t, "us").astype(np.int64)) for t in (EARLIEST, latest))
    label = f"timestamp before {EARLIEST.date()} or after {latest.date()}"
    return {label: (stamp != NAT) & ((stamp < low) | (stamp >= high + US_PER_DAY))}


# ------------------------------------------------------------------ histories
NOT_ACTIVE = "cancel without an active subscription"
OVERLAP = "subscribe or resubscribe while subscribed (overlapping subscriptions)"
LAPSED = "renew, payment or plan_change while not subscribed"
NO_CANCEL = "resubscribe without an earlier cancel"
UNKNOWN_PLAN = "plan not the current subscription's (unknown plan)"


def _history_problems(user: np.ndarray, kind: np.ndarray, plan: np.ndarray) -> dict[str, Any]:
    """Masks of the rows that break a subscription history (see the module docstring), for
    rows sorted by user and time; only subscription events are looked at.

    A bad event changes nothing, so a customer is subscribed from their first subscribe on
    whenever their last start or cancel before was a start: of a run of starts only the
    first is good (the rest overlap), of a run of cancels only the first."""
    code = {k: EVENT_TYPES.index(k) for k in SUBSCRIPTION_EVENTS}
    at = np.flatnonzero(np.isin(kind, list(code.values())))
    if not at.size:
        return {}
    u, k, p = user[at], kind[at], plan[at]
    pos = np.arange(at.size)
    new_user = np.r_[True, u[1:] != u[:-1]]
    first = np.maximum.accumulate(np.where(new_user, pos, 0))
    first_sub = np.where(k == code["subscribe"], pos, at.size)
    first_sub = np.minimum.reduceat(first_sub, np.flatnonzero(new_user))[np.cumsum(new_user) - 1]
    starts = np.isin(k, [code[s] for s in STARTS])
    cancel = k == code["cancel"]
    switch = _previous(starts | cancel, first)  # the last start or cancel before each row
    active = (switch >= first_sub) & starts[np.maximum(switch, 0)]
    renewal = np.isin(k, [code[e] for e in RENEWALS])
    changes = (k == code["plan_change"]) & active
    plan_row = _previous(starts & ~active & (pos >= first_sub) | changes, first)
    current = np.where(plan_row >= 0, p[np.maximum(plan_row, 0)], -1)
    found = {
        NOT_ACTIVE: cancel & ~active,
        OVERLAP: starts & active,
        LAPSED: (renewal | (k == code["plan_change"])) & ~active,
        NO_CANCEL: (k == code["resubscribe"]) & (pos < first_sub),
        UNKNOWN_PLAN: (renewal | cancel) & active & (p >= 0) & (p != current),
    }
    out = {}
    for label, mask in found.items():
        full = np.zeros(user.shape[0], dtype=bool)
        full[at[mask]] = True
        out[label] = full
    return out


def _previous(mark: np.ndarray, first: np.ndarray) -> np.ndarray:
    """For each row, the position of the last marked row before it of the same user (rows
    from ``first`` on), or -1."""
    last = np.maximum.accumulate(np.where(mark, np.arange(mark.size), -1))
    before = np.r_[-1, last[:-1]]
    return np.where(before >= first, before, -1)


# ------------------------------------------------------------------ the whole log
def validate_events(
    raw: pd.DataFrame | pa.Table,
    path: str = "",
    skip_bad_rows: bool = False,
    limits: Limits | None = None,
) -> EventLog:
    """Check the columns and every row of ``raw``; see the module docstring."""
    limits = limits or Limits()
    table = _table(raw)
    batches = iter(table.to_batches(BATCH_ROWS))
    with tqdm(disable=True) as bar:
        log = _read(table.column_names, batches, table.num_rows, limits, _where(path), bar)
    return _validated(log, path, skip_bad_rows, limits)


def _where(path: str) -> str:
    return f"event log {path!r}" if path else "event log"


def _validated(log: _Log, path: str, skip_bad_rows: bool, limits: Limits) -> EventLog:
    """The checks after reading, in order (see the module docstring)."""
    where = _where(path)
    problems = log.problems
    order = _sorted(log, _union(problems.values()))
    repeats = _duplicates(log, order)
    duplicates = np.sort(_at(order, repeats)) + 2  # file lines: header is line 1
    keep = None
    if limits.duplicates == "drop" and repeats.size:
        keep = np.ones(log.n if order is None else order.size, dtype=bool)
        keep[repeats] = False
    broken, history = _histories(log, order, keep, skip_bad_rows)
    problems.update(history)
    bad = _union(problems.values())
    if bad.size and not skip_bad_rows:
        raise EventLogError(_bad_rows_message(where, problems, bad, log, limits))
    kept = _kept(order, keep, broken, log.n)
    del order, keep, problems
    _check_content(log, kept, where)
    _check_span(log, kept, where, limits.max_years)
    events, origin = _frame(log, kept)
    return EventLog(
        events=events,
        origin=origin,
        path=path,
        bad_rows=(bad + 2).tolist(),
        duplicates=duplicates.tolist(),
        duplicates_kept=limits.duplicates == "keep",
    )


def _union(positions: Any) -> np.ndarray:
    return np.unique(np.concatenate([np.zeros(0, dtype=np.int64), *positions]))


def _any(masks: Any, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    for mask in masks:
        out |= mask
    return out


def _check_columns(names: list[str], n: int | None, where: str) -> None:
    """The required columns (and, ``n`` given, at least one row)."""
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise EventLogError(
            f"{where}: missing column(s) {', '.join(missing)}; found {names}; "
            f"required: {', '.join(REQUIRED)} (optional: {', '.join(OPTIONAL)})"
        )
    if n == 0:
        raise EventLogError(f"{where}: no rows; expected at least one {'/'.join(ACTIVITY)} event")


def _check_content(log: _Log, kept: np.ndarray | None, where: str) -> None:
    if kept is not None and not kept.size:
        raise EventLogError(f"{where}: every row is bad; nothing to calibrate on")
    if not _take(_of_kind(log.kind, (*ACTIVITY, *SUBSCRIPTION_EVENTS)), kept).any():
        raise EventLogError(
            f"{where}: no {'/'.join(ACTIVITY)} events and no subscriptions; nothing to calibrate on"
        )


def _check_span(log: _Log, kept: np.ndarray | None, where: str, max_years: float) -> None:
    """Refuse a log longer than ``max_years``, naming its first and last lines."""
    stamp = _take(log.stamp, kept)
    first, last = (int(_at(kept, int(i(stamp)))) for i in (np.argmin, np.argmax))
    del stamp
    micros = [int(log.stamp[i]) * log.unit for i in (first, last)]
    years = (micros[1] - micros[0]) / US_PER_DAY / 365.25
    if years > max_years:
        dates = [str(pd.Timestamp(t, unit="us").date()) for t in micros]
        raise EventLogError(
            f"{where}: the events span {years:.1f} years ({dates[0]} on line {first + 2} "
            f"to {dates[1]} on line {last + 2}); allowed: at most {max_years:g} years (a row "
            "far from the rest is usually a typo: fix or leave out that row; for a longer "
            "log: --max-years N, max_years= from Python)"
        )


def _index_type(n: int) -> type:
    return np.int32 if n < 2**31 else np.int64


def _take(values: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    """``values`` at ``rows`` (None: all, as they are), gathered in slices (numpy widens an
    index array to int64 whole)."""
    if rows is None:
        return values
    out = np.empty(rows.size, dtype=values.dtype)
    for at in range(0, rows.size, SLICE_ROWS):
        out[at : at + SLICE_ROWS] = values[rows[at : at + SLICE_ROWS]]
    return out


def _at(order: np.ndarray | None, positions: Any) -> Any:
    """The file rows at ``positions`` of ``order`` (None: the file's order)."""
    return positions if order is None else order[positions]


def _sorted(log: _Log, bad: np.ndarray) -> np.ndarray | None:
    """The rows but ``bad``, by user and time (same time: file order); None when that is
    every row in the file's order."""
    user = log.text["user_id"][0]
    if not bad.size:
        starts = _user_runs(user, log.stamp)
        if starts is not None:
            return _by_user(user, starts)
    at = np.delete(np.arange(log.n), bad) if bad.size else None  # None: every row
    keys = pa.table({"user": _take(user, at), "stamp": _take(log.stamp, at)})
    order = pc.sort_indices(keys, sort_keys=[("user", "ascending"), ("stamp", "ascending")])
    del keys
    order = order.to_numpy().astype(_index_type(log.n))  # Arrow's sort is stable
    return order if at is None else at[order]


def _user_runs(user: np.ndarray, stamp: np.ndarray) -> np.ndarray | None:
    """Where each user's rows begin, when they are together and in time order (a log
    written user by user); else None."""
    change = user[1:] != user[:-1]
    if not np.all(change | (stamp[1:] >= stamp[:-1])):
        return None
    starts = np.flatnonzero(np.r_[True, change])
    return starts if np.unique(user[starts]).size == starts.size else None


def _by_user(user: np.ndarray, starts: np.ndarray) -> np.ndarray | None:
    """The rows with each user's run (beginning at ``starts``) moved into the order of the
    user codes; None when they are in it."""
    first = user[starts]
    if np.all(first[1:] > first[:-1]):
        return None
    order = np.argsort(first)
    lengths = np.diff(np.r_[starts, user.size])[order]
    index = _index_type(user.size)
    out = np.repeat((starts[order] - (np.cumsum(lengths) - lengths)).astype(index), lengths)
    out += np.arange(user.size, dtype=index)
    return out


def _duplicates(log: _Log, order: np.ndarray | None) -> np.ndarray:
    """The positions of ``order`` whose row repeats an earlier row field for field (only
    rows with the same user and time as a neighbour can: compared in slices of such runs);
    never a signal row (a repeated signal is another occurrence)."""
    same = _same_as_previous(log, order)
    near = np.flatnonzero(same | np.r_[same[1:], False])
    cuts = near[~same[near]]  # where a run of equal user and time begins
    bounds = np.searchsorted(near, cuts[:: max(SLICE_ROWS // 64, 1)])
    out = []
    for part in np.split(near, bounds[1:]):
        at = _at(order, part)
        fields = {c: codes[at] for c, (codes, _) in log.text.items()}
        fields["event_type"] = log.kind[at]
        fields.update({c: values.take(at) for c, values in log.numbers.items()})
        repeated = pd.DataFrame({**fields, "timestamp": log.stamp[at]}).duplicated()
        out.append(part[repeated.to_numpy() & ~_of_kind(fields["event_type"], SIGNAL_EVENTS)])
    return np.concatenate([np.zeros(0, dtype=np.int64), *out])


def _same_as_previous(log: _Log, order: np.ndarray | None) -> np.ndarray:
    """For each position of ``order``: its row has the user and time of the one before."""
    size = log.n if order is None else order.size
    same = np.zeros(size, dtype=bool)
    for start in range(1, size, SLICE_ROWS):
        rows = _at(order, slice(start - 1, min(start + SLICE_ROWS, size)))
        user, stamp = log.text["user_id"][0][rows], log.stamp[rows]
        same[start : start + user.size - 1] = (user[1:] == user[:-1]) & (stamp[1:] == stamp[:-1])
    return same


def _histories(
    log: _Log, order: np.ndarray | None, keep: np.ndarray | None, skip_bad_rows: bool
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The positions of ``order`` (of those ``keep`` keeps; None: all) whose row breaks a
    subscription history, and the rows with each problem found. Leaving a row out can break
    a later one: with ``skip_bad_rows`` the rest is checked again until it is consistent;
    without, the first pass is reported."""
    ours = np.flatnonzero(_of_kind(_take(log.kind, order), SUBSCRIPTION_EVENTS))
    if keep is not None:
        ours = ours[keep[ours]]
    rows = _at(order, ours)
    user, plan, kind = log.text["user_id"][0][rows], log.text["plan"][0][rows], log.kind[rows]
    good = np.ones(ours.size, dtype=bool)
    found: dict[str, list[np.ndarray]] = {}
    while True:
        alive = np.flatnonzero(good)
        masks = _history_problems(user[alive], kind[alive], plan[alive])
        broken = _any(masks.values(), alive.size)
        if not broken.any():
            break
        for label, mask in masks.items():
            found.setdefault(label, []).append(rows[alive[mask]])
        good[alive[broken]] = False
        if not skip_bad_rows:
            break
    return ours[~good], {label: _union(parts) for label, parts in found.items()}


def _kept(
    order: np.ndarray | None, keep: np.ndarray | None, broken: np.ndarray, n: int
) -> np.ndarray | None:
    """The rows loaded, in order (None: every row, in the file's order)."""
    if broken.size:
        keep = np.ones(n if order is None else order.size, dtype=bool) if keep is None else keep
        keep[broken] = False
    if keep is None:
        return order
    return np.flatnonzero(keep).astype(_index_type(n)) if order is None else order[keep]


def _frame(log: _Log, kept: np.ndarray | None) -> tuple[pd.DataFrame, pd.Timestamp]:
    """The kept rows as the events table (see ``EventLog``) and the first day; each column
    leaves ``log`` as it is copied, and the table takes the columns as they are (no copy)."""
    size = log.n if kept is None else kept.size
    rank: np.ndarray | None = None
    if kept is not None:
        rank = np.full(log.n, -1, dtype=_index_type(log.n))
        rank[kept] = np.arange(size, dtype=rank.dtype)
    numbers = {
        c: log.numbers.pop(c).dense(rank, size, 0.0 if c == "amount" else np.nan)
        for c in NUMBERS
        if c == "amount" or c in log.optional
    }
    del rank
    stamp, timestamp, origin = _days(log, kept)
    columns = {
        "user_id": _categorical(log.text.pop("user_id"), kept, empty=False),
        "timestamp": timestamp,
        "event_type": pd.Categorical.from_codes(_take(log.kind, kept), pd.Index(EVENT_TYPES)),
        "amount": numbers.pop("amount"),
        "day": stamp,
    }
    for col in log.optional:
        columns[col] = (
            numbers.pop(col) if col in NUMBERS else _categorical(log.text.pop(col), kept, True)
        )
    return pd.DataFrame(columns, copy=False), origin


def _days(log: _Log, kept: np.ndarray | None) -> tuple[np.ndarray, Any, pd.Timestamp]:
    """The kept rows' days from the first (int32), their timestamps (whole days: a
    categorical of the days, as light as the days; else microseconds) and the first day."""
    stamp, log.stamp = _take(log.stamp, kept), np.zeros(0, dtype=log.stamp.dtype)
    if log.unit == 1:
        first = int(stamp.min()) // US_PER_DAY
        day = (stamp // US_PER_DAY - first).astype(np.int32)
        return day, stamp.view("datetime64[us]"), pd.Timestamp(first * US_PER_DAY, unit="us")
    first = int(stamp.min())
    stamp -= first  # a copy unless every row is kept in the file's order: then log's own
    dates = (first + np.arange(int(stamp.max()) + 1)) * US_PER_DAY
    timestamp = pd.Categorical.from_codes(stamp, pd.Index(dates.astype("datetime64[us]")))
    return stamp, timestamp, pd.Timestamp(first * US_PER_DAY, unit="us")


def _categorical(
    column: tuple[np.ndarray, np.ndarray], kept: np.ndarray | None, empty: bool
) -> pd.Categorical:
    """Codes (-1 = empty) as a categorical; with ``empty``, "" is its first category (a
    column empty everywhere: codes that are a read-only view, no memory)."""
    codes, values = column
    if empty and not len(values):
        size = codes.size if kept is None else kept.size
        return pd.Categorical.from_codes(
            np.broadcast_to(np.int8(0), (size,)), pd.Index([""], dtype=object)
        )
    if not empty:
        return pd.Categorical.from_codes(
            _take(codes, kept), categories=pd.Index(values, dtype=object)
        )
    categories = pd.Index(["", *values], dtype=object)
    shifted = _take(codes, kept).astype(_code_type(len(categories)))
    shifted += 1
    return pd.Categorical.from_codes(shifted, categories=categories)


def _bad_rows_message(
    where: str, problems: dict[str, np.ndarray], bad: np.ndarray, log: _Log, limits: Limits
) -> str:
    parts = [f"{where}: {bad.size} bad row(s); nothing was loaded"]
    for what, at in problems.items():
        if at.size:
            parts.append(f"  {what}: {at.size} row(s), {_lines(at + 2)}")
    parts += _hints(problems, log, limits)
    parts.append("  fix them, or leave them out: --skip-bad-rows (skip_bad_rows=True from Python)")
    return "\n".join(parts)


def _lines(lines: Any) -> str:
    shown = ", ".join(map(str, lines[:SHOW_LINES]))
    more = f" and {len(lines) - SHOW_LINES} more" if len(lines) > SHOW_LINES else ""
    return f"lines {shown}{more}"


def _hints(problems: dict[str, np.ndarray], log: _Log, limits: Limits) -> list[str]:
    """What to do about each kind of problem found (the flags that accept a row)."""
    out = []
    if log.not_a_date is not None:
        line, value = log.not_a_date[0] + 2, log.not_a_date[1]
        read = (
            f"with the format {limits.date_format!r} given"
            if limits.date_format
            else "as ISO 8601 (2024-04-13, 2024-04-13T10:15, 2024-04-13T10:15:00+01:00); "
            "another format: give it, --date-format '%d/%m/%Y' (date_format= from Python)"
        )
        out.append(f"  timestamps are read {read}; line {line} has {value!r}")
    if any(k.startswith("timestamp before") and m.size for k, m in problems.items()):
        out.append("  dates that far out are accepted with --accept-dates (accept_dates=True)")
    unknown = problems.get(UNKNOWN_CHANNEL, np.zeros(0, dtype=np.int64))
    if unknown.size:
        codes, values = log.text["channel"]
        first = int(unknown.min())
        value = str(values[codes[first]]) if codes[first] >= 0 else ""
        out.append(
            f"  channel: {value!r} on the unsubscribe of line {first + 2}; allowed: "
            f"{', '.join(CHANNELS)} (the channel the customer opted out of)"
        )
    if any(k.startswith("amount or price above") and m.size for k, m in problems.items()):
        out.append("  a higher ceiling: --max-amount X (max_amount= from Python)")
    if any(
        k in problems and problems[k].size
        for k in (NOT_ACTIVE, OVERLAP, LAPSED, NO_CANCEL, UNKNOWN_PLAN)
    ):
        out.append("  histories are read per user in time order (same time: file order)")
    if OVERLAP in problems and problems[OVERLAP].size:
        out.append(
            "  an overlap is flagged on the later start: the earlier one, on that user's lines "
            "before it, may be the wrong row (a stray or accepted far-out date, a repeated "
            "sign-up)"
        )
    return out


def read_cdnow(path: str | Path) -> pd.DataFrame:
    """The CDNOW files (Fader & Hardie; via the MIT-licensed ``lifetimes`` package) as an
    event-log table: the master file (header; id, date, CDs, dollars) or the 1/10 sample
    (no header; master id, sample id, date, CDs, dollars)."""
    path = Path(path)
    if not path.is_file():
        raise EventLogError(f"CDNOW file: {str(path)!r} does not exist or is not a file")
    df = pd.read_csv(path, sep=r"\s+", header=None, dtype=str)
    if df.shape[1] == 5:
        df = df.iloc[:, [1, 2, 4]]
    elif df.shape[1] == 4:
        header = not str(df.iloc[0, 1]).isdigit()  # the master file has a header line
        df = df.iloc[1:, [0, 1, 3]] if header else df.iloc[:, [0, 1, 3]]
    else:
        raise EventLogError(
            f"CDNOW file: {str(path)!r} has {df.shape[1]} columns; expected 4 (master) or "
            "5 (sample)"
        )
    df.columns = ["user_id", "date", "amount"]
    return pd.DataFrame(
        {
            "user_id": df.user_id.str.lstrip("0").to_numpy(),
            "timestamp": pd.to_datetime(df.date, format="%Y%m%d").dt.strftime("%Y-%m-%d"),
            "event_type": "purchase",
            "amount": df.amount.to_numpy(),
        }
    )
