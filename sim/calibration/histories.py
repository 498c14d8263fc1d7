"""Subscription histories encoded for the likelihood of :mod:`sim.calibration.subscription`.

A subscribed spell runs from its start ``s`` (subscribe or resubscribe: ACTIVE) to its end
``e`` (the day a cancellation took effect, or the log's last day). Cancellations take effect
at billing-period ends, so a spell that was renewed up to ``tau`` (its last period end before
``e``) had no cancellation decision before ``tau``: on ``(s, tau]`` the decision acts as a
killing rate (regime K); after ``tau`` the decision may have been taken (regime X), which
for a cancelled spell must have happened. Session days are seen only from the log's window
start ``W`` on. A spell begun and cancelled on the same day is a customer lapsed before the
window whose history is unknown (:func:`sim.calibration.spells.no_history`): it adds
nothing but its time away.

The spell is cut at its session days into segments, kept in time order; the likelihood
multiplies the state distribution (ACTIVE, DORMANT) through them, exactly. A segment inside
one regime and the window, ending in a session, is a *gap* of ``d`` days, one matrix per
distinct ``d``; the others (crossing ``W`` or ``tau``, and the last one, which ends at
``e``) are *special*: up to three runs, each ``(kind, length)`` with kind 0 = unobserved in
K, 1 = silent in K, 2 = unobserved in X, 3 = silent in X, then a terminal (a session in K or
in X, or the end).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.calibration.spells import no_history

UNSEEN_K, SILENT_K, UNSEEN_X, SILENT_X = range(4)
GAP_K, GAP_X, SPECIAL = range(3)
SESSION_K, SESSION_X, END = range(3)
RUNS = 3
ENCODE_DAYS = 1 << 22  # session days encoded at a time (``encode``)


@dataclass(frozen=True)
class Histories:
    """Every spell and cancelled stretch of one group of customers, encoded."""

    customers: np.ndarray  # user ids, one per customer
    spell_owner: np.ndarray  # (n_spells,) customer index of each spell
    cancelled: np.ndarray  # (n_spells,) bool
    lengths_k: np.ndarray  # the distinct gap lengths inside regime K
    lengths_x: np.ndarray  # and inside regime X
    order_kind: np.ndarray  # int8, every segment in time order: GAP_K, GAP_X or SPECIAL
    order_ref: np.ndarray  # int64: index into lengths_k / lengths_x, or the special's index
    spell_ptr: np.ndarray  # (n_spells + 1,) spell i's segments: order_*[ptr[i]:ptr[i+1]]
    seg_spell: np.ndarray  # (n_special,) spell of each special segment
    seg_runs: np.ndarray  # (n_special, RUNS, 2) int64 (kind, length)
    seg_end: np.ndarray  # (n_special,) terminal
    trunc_spell: np.ndarray  # spells conditioned on surviving to the window (left truncation)
    trunc_days: np.ndarray  # days of regime K before the window, for those spells
    left_spell: np.ndarray  # spells cancelled on or before the window's first day
    left_days: np.ndarray  # days of regime K up to the window's last period end
    lapsed_spell: np.ndarray  # spells begun and cancelled the same day (no history known)
    away_owner: np.ndarray  # (n_away,) customer of each cancelled stretch
    away_days: np.ndarray  # days in CHURNED seen
    away_back: np.ndarray  # bool: ended by a resubscription
    sessions: bool  # the log shows sessions (engagement is identified)
    session_rate: np.ndarray  # (n,) a rough session rate while engaged: see session_rate
    count: np.ndarray  # (n,) customers with this history (identical histories are one row)

    @property
    def n(self) -> int:
        """Distinct histories (rows); ``count.sum()`` customers."""
        return int(self.customers.shape[0])

    @property
    def customers_total(self) -> int:
        return int(self.count.sum())

    @property
    def n_spells(self) -> int:
        return int(self.spell_owner.shape[0])


def encode(
    spells: pd.DataFrame,
    session_days: pd.DataFrame,
    window: int,
    end: int,
    truncate: bool = True,
) -> Histories:
    """Encode ``spells`` (the spells table: user_id, start, end, cancelled, billing_days) and
    ``session_days`` (user_id, day: one row per day with a session). ``truncate``: condition
    spells begun before the window on having lasted into it (the export omits customers who
    left before it); a log that lists them (cancelled on the window's first day) is complete
    and is not conditioned. With sessions, the customers are encoded in groups of about
    ``ENCODE_DAYS`` session days (the work's memory grows with them) and joined."""
    spells = spells.sort_values(["user_id", "start"], kind="stable").reset_index(drop=True)
    start, stop = spells.start.to_numpy(np.int64), spells.end.to_numpy(np.int64)
    left = spells.cancelled.to_numpy(bool) & (stop <= window) & (start < window)
    complete = bool(left.any()) or not truncate
    if session_days.empty:
        return _encode(*_distinct(spells), session_days, window, end, complete)
    parts = [
        _encode(mine, None, seen, window, end, complete)
        for mine, seen in _groups(spells, session_days)
    ]
    return parts[0] if len(parts) == 1 else join(parts)


def _groups(
    spells: pd.DataFrame, session_days: pd.DataFrame
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """The customers (``spells`` sorted by user) in groups of consecutive ids, each with
    about ``ENCODE_DAYS`` session days: their spells and the session days of their ids."""
    days_user = session_days.user_id.to_numpy()
    if not np.all(days_user[1:] >= days_user[:-1]):
        session_days = session_days.sort_values("user_id", kind="stable")
        days_user = session_days.user_id.to_numpy()
    users = spells.user_id.to_numpy()
    customers = np.unique(users)
    before = np.searchsorted(days_user, customers)  # session days before each customer's
    cuts = np.unique(np.searchsorted(before, np.arange(ENCODE_DAYS, days_user.size, ENCODE_DAYS)))
    bounds = np.r_[0, cuts[(cuts > 0) & (cuts < customers.size)], customers.size]
    for lo, hi in itertools.pairwise(bounds.tolist()):
        first, last = customers[lo], customers[hi - 1]
        rows = slice(int(np.searchsorted(users, first)), int(np.searchsorted(users, last, "right")))
        days = slice(
            int(np.searchsorted(days_user, first)) if lo else 0,
            int(np.searchsorted(days_user, last, "right")) if hi < customers.size else None,
        )
        yield spells.iloc[rows], session_days.iloc[days]


def _encode(
    spells: pd.DataFrame,
    count: np.ndarray | None,
    session_days: pd.DataFrame,
    window: int,
    end: int,
    complete: bool,
) -> Histories:
    """``encode`` on ``spells`` sorted by user and start (``count``: customers per history,
    None: one each); ``complete``: no spell is conditioned on lasting into the window."""
    sessions = count is None
    customers, owner = np.unique(spells.user_id.to_numpy(), return_inverse=True)
    start = spells.start.to_numpy(np.int64)
    stop = spells.end.to_numpy(np.int64)
    cancelled = spells.cancelled.to_numpy(bool)
    period = spells.billing_days.to_numpy(np.int64)
    left = cancelled & (stop <= window) & (start < window)
    lapsed = no_history(spells)
    tau = last_renewal(start, stop, period, cancelled)
    seen_from = window if sessions else end + 1  # no session in the log: none is seen
    a, b, spell_of, is_session = _breakpoints(spells, owner, customers, session_days, left | lapsed)
    t = tau[spell_of]
    gap = is_session & (a + 1 >= seen_from) & ((b <= t) | (a >= t))
    in_k = gap & (b <= t)
    in_x = gap & (b > t)
    lengths_k, ref_k = np.unique((b - a)[in_k], return_inverse=True)
    lengths_x, ref_x = np.unique((b - a)[in_x], return_inverse=True)
    sp = ~gap
    kind = np.full(b.size, SPECIAL, np.int8)
    kind[in_k], kind[in_x] = GAP_K, GAP_X
    ref = np.zeros(b.size, np.int64)
    ref[in_k], ref[in_x], ref[sp] = ref_k, ref_x, np.arange(int(sp.sum()))
    ptr = np.concatenate([[0], np.cumsum(np.bincount(spell_of, minlength=len(spells)))])
    last = np.where(is_session[sp], b[sp] - 1, b[sp])  # a session day is the terminal itself
    runs = _runs(a[sp], last, t[sp], seen_from)
    seg_end = np.where(is_session[sp], np.where(b[sp] <= t[sp], SESSION_K, SESSION_X), END)
    begun = (start < window) & ~left
    t_w = start + period * np.maximum((window - start) // period, 0)
    trunc = np.flatnonzero(begun & (t_w > start)) if not complete else np.zeros(0, np.int64)
    left_idx = np.flatnonzero(left)
    away = _away(spells, owner, customers, end, window)
    return Histories(
        customers=customers,
        spell_owner=owner,
        cancelled=cancelled,
        lengths_k=lengths_k,
        lengths_x=lengths_x,
        order_kind=kind,
        order_ref=ref,
        spell_ptr=ptr,
        seg_spell=spell_of[sp],
        seg_runs=runs,
        seg_end=seg_end.astype(np.int64),
        trunc_spell=trunc,
        trunc_days=(t_w - start)[trunc],
        left_spell=left_idx,
        left_days=(t_w - start)[left_idx],
        lapsed_spell=np.flatnonzero(lapsed),
        away_owner=away[0],
        away_days=away[1],
        away_back=away[2],
        sessions=sessions,
        session_rate=session_rate(
            owner[spell_of], b - np.maximum(a, seen_from - 1), is_session, customers.size
        ),
        count=np.ones(customers.size) if count is None else count,
    )


def split(h: Histories, days: int = ENCODE_DAYS) -> Iterator[Histories]:
    """``h`` in groups of consecutive customers of about ``days`` segments each (``join``
    undoes it): work done customer by customer in bounded memory."""
    seg_of_customer = h.spell_ptr[np.searchsorted(h.spell_owner, np.arange(h.n))]
    cuts = np.unique(np.searchsorted(seg_of_customer, np.arange(days, h.order_kind.size, days)))
    bounds = np.r_[0, cuts[(cuts > 0) & (cuts < h.n)], h.n]
    for lo, hi in itertools.pairwise(bounds.tolist()):
        yield _customers(h, lo, hi)


def _customers(h: Histories, lo: int, hi: int) -> Histories:
    """Customers ``lo`` to ``hi - 1`` of ``h``."""
    s0, s1 = np.searchsorted(h.spell_owner, [lo, hi])
    g0, g1 = h.spell_ptr[s0], h.spell_ptr[s1]
    p0, p1 = np.searchsorted(h.seg_spell, [s0, s1])
    kind, ref = h.order_kind[g0:g1], h.order_ref[g0:g1].copy()
    ref[kind == SPECIAL] -= p0
    trunc = (h.trunc_spell >= s0) & (h.trunc_spell < s1)
    left = (h.left_spell >= s0) & (h.left_spell < s1)
    lapsed = (h.lapsed_spell >= s0) & (h.lapsed_spell < s1)
    a0, a1 = np.searchsorted(h.away_owner, [lo, hi])
    return Histories(
        customers=h.customers[lo:hi],
        spell_owner=h.spell_owner[s0:s1] - lo,
        cancelled=h.cancelled[s0:s1],
        lengths_k=h.lengths_k,
        lengths_x=h.lengths_x,
        order_kind=kind,
        order_ref=ref,
        spell_ptr=h.spell_ptr[s0 : s1 + 1] - g0,
        seg_spell=h.seg_spell[p0:p1] - s0,
        seg_runs=h.seg_runs[p0:p1],
        seg_end=h.seg_end[p0:p1],
        trunc_spell=h.trunc_spell[trunc] - s0,
        trunc_days=h.trunc_days[trunc],
        left_spell=h.left_spell[left] - s0,
        left_days=h.left_days[left],
        lapsed_spell=h.lapsed_spell[lapsed] - s0,
        away_owner=h.away_owner[a0:a1] - lo,
        away_days=h.away_days[a0:a1],
        away_back=h.away_back[a0:a1],
        sessions=h.sessions,
        session_rate=h.session_rate[lo:hi],
        count=h.count[lo:hi],
    )


def join(parts: list[Histories]) -> Histories:
    """Histories of consecutive groups of customers as one (as if encoded at once)."""
    lengths_k = np.unique(np.concatenate([h.lengths_k for h in parts]))
    lengths_x = np.unique(np.concatenate([h.lengths_x for h in parts]))
    customers = np.cumsum([0] + [h.n for h in parts])
    spells = np.cumsum([0] + [h.n_spells for h in parts])
    specials = np.cumsum([0] + [h.seg_end.size for h in parts])
    segments = np.cumsum([0] + [h.order_kind.size for h in parts])
    refs = []
    for i, h in enumerate(parts):
        ref = h.order_ref.copy()
        for kind, lengths, mine in (
            (GAP_K, lengths_k, h.lengths_k),
            (GAP_X, lengths_x, h.lengths_x),
        ):
            at = h.order_kind == kind
            ref[at] = np.searchsorted(lengths, mine)[ref[at]]
        ref[h.order_kind == SPECIAL] += specials[i]
        refs.append(ref)

    def cat(name: str, offsets: np.ndarray | None = None) -> np.ndarray:
        values = [getattr(h, name) for h in parts]
        if offsets is not None:
            values = [v + offsets[i] for i, v in enumerate(values)]
        return np.concatenate(values)

    return Histories(
        customers=cat("customers"),
        spell_owner=cat("spell_owner", customers),
        cancelled=cat("cancelled"),
        lengths_k=lengths_k,
        lengths_x=lengths_x,
        order_kind=cat("order_kind"),
        order_ref=np.concatenate(refs),
        spell_ptr=np.r_[
            0, np.concatenate([h.spell_ptr[1:] + segments[i] for i, h in enumerate(parts)])
        ],
        seg_spell=cat("seg_spell", spells),
        seg_runs=cat("seg_runs"),
        seg_end=cat("seg_end"),
        trunc_spell=cat("trunc_spell", spells),
        trunc_days=cat("trunc_days"),
        left_spell=cat("left_spell", spells),
        left_days=cat("left_days"),
        lapsed_spell=cat("lapsed_spell", spells),
        away_owner=cat("away_owner", customers),
        away_days=cat("away_days"),
        away_back=cat("away_back"),
        sessions=parts[0].sessions,
        session_rate=cat("session_rate"),
        count=cat("count"),
    )


def _distinct(spells: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Without sessions a customer's likelihood depends only on their spells' starts, ends,
    cancellations and billing periods: one representative per distinct history, and how
    many customers share it (sorted by the representatives' ids, as ``encode`` orders)."""
    cols = ["start", "end", "cancelled", "billing_days"]
    text = spells[cols].astype(str).agg(",".join, axis=1)
    key = text.groupby(spells.user_id, sort=False).agg(";".join)
    first = ~key.duplicated()
    reps = key[first]
    count = key.map(key.value_counts())[first]
    keep = spells[spells.user_id.isin(reps.index)]
    order = np.argsort(reps.index.to_numpy())
    return keep, count.to_numpy(np.float64)[order]


_NONE = np.zeros(0, np.int64)
LONG = 4.0  # a silent stretch over this many times the customer's median gap is dormancy


def session_rate(owner: np.ndarray, seen: np.ndarray, is_session: np.ndarray, n: int) -> np.ndarray:
    """Per customer, a rough session rate per day while engaged, from the data alone (where
    the likelihood's activity quadrature starts looking): session days over seen days, each
    stretch of silence (the days up to a session, or to the spell's end) counted up to
    ``LONG`` times the customer's median gap (longer ones are mostly dormancy), as a rate
    ``-log(1 - p)`` of the daily chance ``p`` (a half session and a day added: never 0 or 1).
    ``owner``, ``seen`` (seen days), ``is_session``: per segment."""
    frame = pd.DataFrame({"owner": owner, "seen": np.maximum(seen, 0), "session": is_session})
    median = frame[frame.session].groupby("owner").seen.median()
    cap = LONG * median.reindex(np.arange(n)).to_numpy()
    days = np.minimum(frame.seen.to_numpy(float), np.nan_to_num(cap[owner], nan=np.inf))
    total = np.bincount(owner, days, minlength=n)
    hits = np.bincount(owner, frame.session.to_numpy(float), minlength=n)
    return -np.log1p(-(hits + 0.5) / (total + 1.0))


def last_renewal(
    start: np.ndarray, stop: np.ndarray, period: np.ndarray, cancelled: np.ndarray
) -> np.ndarray:
    """The last period end before a cancellation took effect (the decision fell after it),
    or the last period end on or before the log's last day for a spell still running."""
    full = np.where(cancelled, (stop - start - 1) // period, (stop - start) // period)
    return start + period * np.maximum(full, 0)


def _breakpoints(
    spells: pd.DataFrame,
    owner: np.ndarray,
    customers: np.ndarray,
    session_days: pd.DataFrame,
    left: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every segment of every spell (but those cancelled before the window): from ``a`` (the
    spell's start or a session day) to ``b`` (the next session day in the spell, or its
    end), the spell, and whether ``b`` is a session day."""
    start = spells.start.to_numpy(np.int64)
    stop = spells.end.to_numpy(np.int64)
    idx = np.flatnonzero(~left)
    days = np.zeros(0, np.int64)
    in_spell = np.zeros(0, np.int64)
    if not session_days.empty:
        user = np.searchsorted(customers, session_days.user_id.to_numpy())
        user = np.minimum(user, max(customers.size - 1, 0))
        ok = customers[user] == session_days.user_id.to_numpy()
        day = session_days.day.to_numpy(np.int64)[ok]
        user = user[ok]
        # the spell holding each session: the customer's last spell starting before the day
        key_spell = owner[idx].astype(np.int64) * (1 << 32) + start[idx]
        order = np.argsort(key_spell, kind="stable")
        pos = np.searchsorted(key_spell[order], user * (1 << 32) + day - 1, side="right") - 1
        cand = idx[order[np.maximum(pos, 0)]]
        hit = (pos >= 0) & (owner[cand] == user) & (day > start[cand]) & (day <= stop[cand])
        key = np.sort(cand[hit] * (1 << 32) + day[hit], kind="stable")  # by spell and day
        key = key[np.r_[True, key[1:] != key[:-1]]]  # once each (np.unique: slow when sorted)
        in_spell, days = key >> 32, key & ((1 << 32) - 1)
    spell_of = np.concatenate([in_spell, idx])
    b = np.concatenate([days, stop[idx]])
    is_session = np.concatenate([np.ones(days.size, bool), np.zeros(idx.size, bool)])
    key = (spell_of << 33) + (b << 1) + ~is_session  # by spell, then day; the end last
    order = np.argsort(key, kind="stable")
    spell_of, b, is_session = spell_of[order], b[order], is_session[order]
    first = np.ones(b.size, bool)
    first[1:] = spell_of[1:] != spell_of[:-1]
    a = np.where(first, start[spell_of], np.roll(b, 1))
    return a, b, spell_of, is_session


def _away(
    spells: pd.DataFrame, owner: np.ndarray, customers: np.ndarray, end: int, window: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cancelled stretches: from each cancellation (or the window's first day, for one on or
    before it: the time in CHURNED before is unknown, and the rate memoryless) to the next
    spell's start, or to the log's end."""
    nxt_same = np.append(owner[1:] == owner[:-1], False)
    nxt_start = np.append(spells.start.to_numpy(np.int64)[1:], end)
    off = spells.end.to_numpy(np.int64)
    mask = spells.cancelled.to_numpy(bool)
    back = nxt_same & mask
    stop = np.where(back, nxt_start, end)
    begin = np.maximum(off, window)
    return owner[mask], (stop - begin)[mask], back[mask]


def _runs(a: np.ndarray, last: np.ndarray, tau: np.ndarray, window: int) -> np.ndarray:
    """Days a+1..last split at the window start and at ``tau`` into (kind, length) runs,
    padded with empty runs: (n, RUNS, 2)."""
    n = a.size
    cut_w = np.where((a < window - 1) & (window - 1 < last), window - 1, last)
    cut_t = np.where((a < tau) & (tau < last), tau, last)
    points = np.stack([a, np.minimum(cut_w, cut_t), np.maximum(cut_w, cut_t), last], axis=1)
    out = np.zeros((n, RUNS, 2), np.int64)
    for r in range(RUNS):
        lo, hi = points[:, r], points[:, r + 1]
        seen = lo + 1 >= window
        in_k = hi <= tau
        kind = np.where(
            in_k, np.where(seen, SILENT_K, UNSEEN_K), np.where(seen, SILENT_X, UNSEEN_X)
        )
        out[:, r, 0] = kind
        out[:, r, 1] = np.maximum(hi - lo, 0)
    return out
