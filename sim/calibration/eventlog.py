"""Event logs: load, validate and summarise a company's own activity log.

An event log is a CSV or Parquet file with one row per event and the columns

=============  ==============================================================================
``user_id``    any non-empty identifier
``timestamp``  a date or date-time (ISO 8601, e.g. ``2024-03-01`` or ``2024-03-01T10:15``)
``event_type`` ``purchase`` or ``session`` (activity); ``offer_sent``, ``offer_opened``,
               ``offer_redeemed`` (win-back messages and responses); ``signup``
``amount``     spend of a purchase (>= 0; may be empty for other events)
=============  ==============================================================================

and optionally ``offer`` (the offer's name on offer events), ``channel``, ``plan`` and
``price``. Every row is checked on load; bad rows are reported with their line numbers (the
file's own line numbers, header = line 1) and a count, and are never dropped silently: by
default they stop the load, with ``skip_bad_rows=True`` they are left out and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

REQUIRED = ("user_id", "timestamp", "event_type", "amount")
OPTIONAL = ("offer", "channel", "plan", "price")
ACTIVITY = ("purchase", "session")
OFFER_EVENTS = ("offer_sent", "offer_opened", "offer_redeemed")
EVENT_TYPES = (*ACTIVITY, *OFFER_EVENTS, "signup")
SHOW_LINES = 10


class EventLogError(ValueError):
    """A log that cannot be used as it is: the message says what is wrong and where."""


@dataclass
class EventLog:
    """A validated log: every kept row, with the day of each event (0 = the log's first day)."""

    events: pd.DataFrame  # user_id, timestamp, event_type, amount, day, [optional columns]
    origin: pd.Timestamp  # midnight of the first event's day
    path: str = ""
    bad_rows: list[int] = field(default_factory=list)  # file line numbers left out

    @property
    def activity(self) -> pd.DataFrame:
        return self.events[self.events.event_type.isin(ACTIVITY)]

    @property
    def has_offers(self) -> bool:
        return bool(self.events.event_type.isin(OFFER_EVENTS).any())

    def day_of(self, date: str | pd.Timestamp, key: str = "date") -> int:
        """Whole days from the log's first day to ``date`` (``key`` names it in errors)."""
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


def read_event_log(path: str | Path, skip_bad_rows: bool = False) -> EventLog:
    """Load and validate an event log (CSV or Parquet)."""
    path = Path(path)
    raw = _read_table(path)
    return validate_events(raw, str(path), skip_bad_rows)


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise EventLogError(f"event log: {str(path)!r} does not exist or is not a file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in (".csv", ".txt", ".gz"):
            return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (ValueError, OSError, pd.errors.ParserError) as err:
        raise EventLogError(f"event log: {str(path)!r} could not be read: {err}") from err
    raise EventLogError(
        f"event log: {str(path)!r} has suffix {suffix!r}; allowed: .csv (also .txt, .gz "
        "holding CSV) or .parquet"
    )


def validate_events(raw: pd.DataFrame, path: str = "", skip_bad_rows: bool = False) -> EventLog:
    """Check the columns and every row of ``raw``; see the module docstring."""
    where = f"event log {path!r}" if path else "event log"
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise EventLogError(
            f"{where}: missing column(s) {', '.join(missing)}; found {list(raw.columns)}; "
            f"required: {', '.join(REQUIRED)} (optional: {', '.join(OPTIONAL)})"
        )
    if raw.empty:
        raise EventLogError(f"{where}: no rows; expected at least one {'/'.join(ACTIVITY)} event")
    df = raw.reset_index(drop=True)
    for col in REQUIRED:  # one text form whatever the file's types; missing -> ""
        df[col] = df[col].where(df[col].notna(), "").astype(str)
    user = df.user_id.str.strip()
    kind = df.event_type.str.strip().str.lower()
    # time zones, where given, are converted to UTC (plain dates and times count as UTC)
    stamp = pd.to_datetime(df.timestamp.str.strip(), errors="coerce", format="mixed", utc=True)
    stamp = stamp.dt.tz_localize(None)
    text = df.amount.str.strip()
    amount = pd.to_numeric(text, errors="coerce")
    problems = {
        "empty user_id": user.eq("") | user.eq("nan"),
        f"event_type not one of {', '.join(EVENT_TYPES)}": ~kind.isin(EVENT_TYPES),
        "timestamp not a date": stamp.isna(),
        "amount not a finite number >= 0": (
            text.ne("") & (amount.isna() | (amount < 0) | ~np.isfinite(amount))
        )
        | (kind.eq("purchase") & text.eq("")),
    }
    bad = np.zeros(len(df), dtype=bool)
    for mask in problems.values():
        bad |= mask.to_numpy()
    lines = (np.flatnonzero(bad) + 2).tolist()  # header is line 1
    if lines and not skip_bad_rows:
        raise EventLogError(_bad_rows_message(where, problems, len(lines)))
    keep = ~bad
    if not keep.any():
        raise EventLogError(f"{where}: every row is bad; nothing to calibrate on")
    events = pd.DataFrame(
        {
            "user_id": user[keep].to_numpy(),
            "timestamp": stamp[keep].to_numpy(),
            "event_type": kind[keep].to_numpy(),
            "amount": amount[keep].fillna(0.0).to_numpy(dtype=np.float64),
        }
    )
    for col in OPTIONAL:
        if col in df.columns:
            events[col] = df.loc[keep, col].to_numpy()
    if not events.event_type.isin(ACTIVITY).any():
        raise EventLogError(f"{where}: no {'/'.join(ACTIVITY)} events; nothing to calibrate on")
    origin = events.timestamp.min().normalize()
    events["day"] = (events.timestamp.dt.normalize() - origin).dt.days.astype(np.int64)
    events = events.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)
    return EventLog(events=events, origin=origin, path=path, bad_rows=lines)


def _bad_rows_message(where: str, problems: dict[str, pd.Series], n_bad: int) -> str:
    parts = [f"{where}: {n_bad} bad row(s); nothing was loaded"]
    for what, mask in problems.items():
        rows = (np.flatnonzero(mask.to_numpy()) + 2).tolist()
        if rows:
            shown = ", ".join(map(str, rows[:SHOW_LINES]))
            more = f" and {len(rows) - SHOW_LINES} more" if len(rows) > SHOW_LINES else ""
            parts.append(f"  {what}: {len(rows)} row(s), lines {shown}{more}")
    parts.append("  fix them, or leave them out: --skip-bad-rows (skip_bad_rows=True from Python)")
    return "\n".join(parts)


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
