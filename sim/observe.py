"""What the company can see: observable features derived from behaviour, never latent traits."""

from __future__ import annotations

import numpy as np

from sim.constants import CHANNELS, CHURNED
from sim.population import SESSION_WEEKS, Population
from sim.scenario import Scenario

ACTIVE_SEEN, INACTIVE_SEEN, CHURNED_SEEN = range(3)


def observed_status(
    pop: Population, users: np.ndarray | slice, day: float, scenario: Scenario
) -> np.ndarray:
    """0 active, 1 inactive (no session for ``inactive_after_days``), 2 cancelled.

    Cancellation is visible only in subscription businesses.
    """
    status = (pop.last_activity[users] <= day - scenario.inactive_after_days).astype(np.int8)
    if scenario.is_subscription:
        status[pop.state[users] == CHURNED] = CHURNED_SEEN
    return status


def recent_sessions(
    pop: Population, users: np.ndarray | slice, slot: int, weeks: int
) -> np.ndarray:
    """Sessions in the current and previous ``weeks - 1`` calendar weeks."""
    cols = [(slot - k) % SESSION_WEEKS for k in range(weeks)]
    return pop.sessions_week[cols][:, users].sum(axis=0).astype(np.float32)


def genre_shares(pop: Population, users: np.ndarray | slice) -> np.ndarray:
    """Noisy view of taste: shares of past sessions by genre, blurred by pseudo-counts."""
    counts = pop.genre_counts[:, users]
    return (counts / counts.sum(axis=0, keepdims=True)).T


def features(
    pop: Population,
    users: np.ndarray | slice,
    day: float,
    slot: int,
    scenario: Scenario,
    list_price: np.ndarray,
) -> dict[str, np.ndarray]:
    """Named observable features for ``users`` at ``day`` (raw units, not normalised)."""
    last = pop.last_activity[users]
    since = np.where(np.isfinite(last), day - last, day - pop.signup_day[users])
    out: dict[str, np.ndarray] = {
        "status": observed_status(pop, users, day, scenario).astype(np.float32),
        "days_since_activity": since.astype(np.float32),
        "sessions_4w": recent_sessions(pop, users, slot, 4),
        "sessions_13w": recent_sessions(pop, users, slot, 13),
        "tenure_days": (day - pop.signup_day[users]).astype(np.float32),
        "plan": pop.plan[users].astype(np.float32),
        "n_offers": pop.n_offers[users].astype(np.float32),
        "n_opened": pop.n_opened[users].astype(np.float32),
        "last_offer": pop.last_offer[users].astype(np.float32),
        "days_since_offer": (day - pop.last_offer_day[users]).astype(np.float32),
        "last_opened": pop.last_opened[users].astype(np.float32),
        "offers_sent": pop.offers_sent[users],  # bit masks over the catalogue
        "offers_opened": pop.offers_opened[users],
        "survey_reason": pop.survey[users].astype(np.float32),
        "discount_active": (pop.disc_until[users] > day).astype(np.float32),
        "price_paid_monthly": _price_paid(pop, users, day, list_price),
    }
    for c, ch in enumerate(CHANNELS):
        out[f"reachable_{ch}"] = pop.reachable[users, c].astype(np.float32)
    shares = genre_shares(pop, users)
    for g, genre in enumerate(scenario.genres):
        out[f"genre_share_{genre}"] = shares[:, g].astype(np.float32)
    return out


def _price_paid(
    pop: Population, users: np.ndarray | slice, day: float, list_price: np.ndarray
) -> np.ndarray:
    listed = list_price[pop.plan[users]] * 30.0
    disc = pop.disc_until[users] > day
    paid = np.where(disc, listed * (1.0 - pop.disc_depth[users]), listed)
    paid = np.where(pop.trial_until[users] > day, 0.0, paid)
    return np.where(pop.state[users] == CHURNED, 0.0, paid).astype(np.float32)
