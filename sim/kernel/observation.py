"""What the company can see, compiled: observable features and the agents' observation vector.

:func:`raw_features` reads only observable fields (sessions, offers, survey answers,
reachability, price paid); latent traits are not among its arguments. :func:`encode` turns
those raw features into the normalised observation of ``sim.envs.observation``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from sim.constants import (
    CHANNELS,
    CHURNED,
    DAYS_PER_MONTH,
    OFFER_COUNT_SCALE,
    RECENCY_SCALE_DAYS,
    RECENT_WEEKS,
    REVENUE_SCALE,
    SESSION_WEEKS,
    SESSIONS_PER_DAY_SCALE,
    TENURE_SCALE_DAYS,
)
from sim.kernel import named_tuple
from sim.kernel.delivery import observed_status
from sim.offers import OBSERVED_STATUSES
from sim.signals import RATE_SCALE, base_rates

RAW = (
    "status",
    "days_since_activity",
    "sessions_4w",
    "sessions_13w",
    "tenure_days",
    "plan",
    "n_offers",
    "n_opened",
    "last_offer",
    "days_since_offer",
    "last_opened",
    "offers_sent",
    "offers_opened",
    "survey_reason",
    "discount_active",
    "price_paid_monthly",
    "total_sessions",
    "revenue_to_date",
)
"""Raw feature columns, in order; then one ``reachable_<channel>`` per channel, one
``genre_share_<genre>`` per genre and one ``signal_<name>`` (its count so far) per signal
(``sim.signals``)."""
N_CHANNELS = len(CHANNELS)
SIGNAL_BASE = base_rates()
N_SIGNALS = SIGNAL_BASE.shape[0]


OBSERVABLE = (
    "last_activity", "signup_day", "state", "plan", "sessions_week", "n_offers", "n_opened",
    "last_offer", "last_offer_day", "last_opened", "offers_sent", "offers_opened", "survey",
    "disc_until", "disc_depth", "trial_until", "reachable", "genre_counts", "total_sessions",
    "signals", "revenue_to_date",
)  # fmt: skip
"""The population arrays the feature kernel reads: observable fields only, never a latent
trait; passed and named as :data:`sim.kernel.dynamics.USERS` is."""
Observable = named_tuple("Observable", OBSERVABLE, __name__)

N_OBSERVED = len(OBSERVED_STATUSES)
RECENT_SESSIONS_SCALE = 7 * RECENT_WEEKS * SESSIONS_PER_DAY_SCALE  # sessions_4w: 56
ALL_SESSIONS_SCALE = 7 * SESSION_WEEKS * SESSIONS_PER_DAY_SCALE  # sessions_13w: 182


@njit(cache=True, error_model="numpy", inline="always")
def _recent(sessions_week: np.ndarray, i: int, slot: int, weeks: int) -> float:
    total = 0.0
    for k in range(weeks):
        total += sessions_week[(slot - k) % SESSION_WEEKS, i]
    return total


@njit(cache=True, error_model="numpy", nogil=True)
def raw_features(
    users: np.ndarray,
    day: float,
    slot: int,
    Q: np.ndarray,
    list_day: np.ndarray,
    observable: tuple,
) -> np.ndarray:
    """(users, raw features) float64 in raw units, columns as :data:`RAW` then channels,
    genres and signals (the offer bit masks are exact in float64)."""
    u = Observable(*observable)
    n_genres = u.genre_counts.shape[0]
    out = np.empty((users.shape[0], len(RAW) + N_CHANNELS + n_genres + N_SIGNALS))
    for j in range(users.shape[0]):
        i = users[j]
        last = u.last_activity[i]
        row = out[j]
        row[0] = observed_status(i, day, Q, u.last_activity, u.state)
        row[1] = day - last if math.isfinite(last) else day - u.signup_day[i]
        row[2] = _recent(u.sessions_week, i, slot, RECENT_WEEKS)
        row[3] = _recent(u.sessions_week, i, slot, SESSION_WEEKS)
        row[4] = day - u.signup_day[i]
        row[5] = u.plan[i]
        row[6] = u.n_offers[i]
        row[7] = u.n_opened[i]
        row[8] = u.last_offer[i]
        row[9] = day - u.last_offer_day[i]
        row[10] = u.last_opened[i]
        row[11] = u.offers_sent[i]
        row[12] = u.offers_opened[i]
        row[13] = u.survey[i]
        row[14] = 1.0 if u.disc_until[i] > day else 0.0
        paid = list_day[u.plan[i]] * DAYS_PER_MONTH
        if u.disc_until[i] > day:
            paid *= 1.0 - u.disc_depth[i]
        if u.trial_until[i] > day or u.state[i] == CHURNED:
            paid = 0.0
        row[15] = np.float32(paid)
        row[16] = u.total_sessions[i]
        row[17] = u.revenue_to_date[i]
        col = len(RAW)
        for c in range(N_CHANNELS):
            row[col + c] = u.reachable[i, c]
        col += N_CHANNELS
        total = 0.0
        for g in range(n_genres):
            total += u.genre_counts[g, i]
        for g in range(n_genres):
            row[col + g] = u.genre_counts[g, i] / total
        col += n_genres
        for s in range(N_SIGNALS):
            row[col + s] = u.signals[i, s]
    return out


@njit(cache=True, error_model="numpy", inline="always")
def _one_hot(row: np.ndarray, col: int, code: float, k: int) -> int:
    for m in range(k):
        row[col + m] = 1.0 if code == m else 0.0
    return col + k


@njit(cache=True, error_model="numpy", nogil=True)
def encode(
    raw: np.ndarray,
    n_plans: int,
    n_offers: int,
    n_pain: int,
    top_price: float,
    progress: float,
    width: int,
) -> np.ndarray:
    """(users, ``width``) float32 observation vectors from :func:`raw_features` output, as
    documented in ``sim.envs.observation.OBSERVATION_DOC``."""
    out = np.empty((raw.shape[0], width), dtype=np.float32)
    n_genres = raw.shape[1] - len(RAW) - N_CHANNELS - N_SIGNALS
    revenue_scale = math.log1p(REVENUE_SCALE)
    for j in range(raw.shape[0]):
        r, row = raw[j], out[j]
        col = _one_hot(row, 0, r[0], N_OBSERVED)
        row[col] = min(r[1] / RECENCY_SCALE_DAYS, 1.0)
        row[col + 1] = min(r[2] / RECENT_SESSIONS_SCALE, 1.0)
        row[col + 2] = min(r[3] / ALL_SESSIONS_SCALE, 1.0)
        row[col + 3] = min(r[4] / TENURE_SCALE_DAYS, 1.0)
        col = _one_hot(row, col + 4, r[5], n_plans)
        row[col] = r[15] / top_price if top_price > 0 else 0.0
        row[col + 1] = r[14]
        row[col + 2] = min(r[6] / OFFER_COUNT_SCALE, 1.0)
        row[col + 3] = min(r[7] / OFFER_COUNT_SCALE, 1.0)
        col = _one_hot(row, col + 4, r[8], n_offers)
        since = r[9] if math.isfinite(r[9]) else RECENCY_SCALE_DAYS
        row[col] = min(since / RECENCY_SCALE_DAYS, 1.0)
        row[col + 1] = 1.0 if r[10] == 1 else 0.0
        row[col + 2] = 1.0 if r[10] == 0 else 0.0
        col += 3
        sent, opened = np.uint32(r[11]), np.uint32(r[12])
        for o in range(n_offers):
            row[col + o] = 1.0 if (sent >> np.uint32(o)) & np.uint32(1) else 0.0
            row[col + n_offers + o] = 1.0 if (opened >> np.uint32(o)) & np.uint32(1) else 0.0
        col = _one_hot(row, col + 2 * n_offers, r[13], n_pain)
        for c in range(N_CHANNELS + n_genres):
            row[col + c] = r[len(RAW) + c]
        col += N_CHANNELS + n_genres
        sessions = max(r[16], 1.0)
        for s in range(N_SIGNALS):
            shown = r[len(RAW) + N_CHANNELS + n_genres + s]
            row[col + s] = min(shown / sessions / (RATE_SCALE * SIGNAL_BASE[s]), 1.0)
        col += N_SIGNALS
        row[col] = min(math.log1p(max(r[17], 0.0)) / revenue_scale, 1.0)
        row[col + 1] = progress
    return out


@njit(cache=True, error_model="numpy", nogil=True)
def observe(
    users: np.ndarray,
    day: float,
    slot: int,
    Q: np.ndarray,
    list_day: np.ndarray,
    observable: tuple,
    n_plans: int,
    n_catalogue: int,
    n_pain: int,
    top_price: float,
    progress: float,
    width: int,
) -> np.ndarray:
    """:func:`encode` of :func:`raw_features` in one call (the environments' hot path)."""
    raw = raw_features(users, day, slot, Q, list_day, observable)
    return encode(raw, n_plans, n_catalogue, n_pain, top_price, progress, width)
