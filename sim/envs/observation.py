"""Observation vectors: observable features only, named and normalised to about [0, 1].

Latent traits (pain point, price sensitivity, affinity, ...) never enter; the oracle of the
agents reads them through ``info`` or ``WinBackBatch.latent`` instead.
"""

from __future__ import annotations

import numpy as np

from sim.constants import CHANNELS, PAIN_POINTS
from sim.offers import Catalogue
from sim.scenario import Scenario


def observation_names(scenario: Scenario, catalogue: Catalogue) -> list[str]:
    """Names of the observation vector's entries, in order."""
    names = [
        "status_active",
        "status_inactive",
        "status_cancelled",
        "recency",
        "sessions_4w",
        "sessions_13w",
        "tenure",
    ]
    names += [f"plan_{p}" for p in scenario.plan_names]
    names += ["price_paid", "discount_active", "offers_received", "offers_opened"]
    names += [f"last_offer_{o}" for o in catalogue.names]
    names += ["since_last_offer", "last_offer_opened", "last_offer_ignored"]
    names += [f"ever_sent_{o}" for o in catalogue.names]
    names += [f"ever_opened_{o}" for o in catalogue.names]
    names += [f"survey_{p}" for p in PAIN_POINTS]
    names += [f"reachable_{c}" for c in CHANNELS]
    names += [f"genre_share_{g}" for g in scenario.genres]
    names += ["episode_progress"]
    return names


OBSERVATION_DOC = """
| feature | meaning (normalised) |
|---|---|
| status_active / _inactive / _cancelled | observed status, one-hot (inactive: no session for |
| | `inactive_after_days`) |
| recency | days since the last session / 365, capped at 1 |
| sessions_4w, sessions_13w | sessions in the last 4 / 13 calendar weeks / (2 a day), capped |
| tenure | days since sign-up / 1825, capped at 1 |
| plan_<name> | plan, one-hot |
| price_paid | monthly price paid now / highest list price (0 while cancelled or on trial) |
| discount_active | 1 while a discount runs |
| offers_received, offers_opened | counts / 20, capped at 1 |
| last_offer_<name> | the last offer sent, one-hot (all 0: none yet) |
| since_last_offer | days since the last offer / 365, capped at 1 (1: never) |
| last_offer_opened / _ignored | response to the last offer (both 0: none yet) |
| ever_sent_<name>, ever_opened_<name> | 1 if that offer was ever sent to / opened by the user |
| survey_<reason> | exit-survey answer, one-hot (all 0: no answer); answers are noisy |
| reachable_<channel> | 1 while the user can be reached on the channel |
| genre_share_<genre> | share of past sessions by genre (a noisy view of taste) |
| episode_progress | steps taken / horizon |
"""


def encode(
    feats: dict[str, np.ndarray],
    scenario: Scenario,
    catalogue: Catalogue,
    progress: float,
) -> np.ndarray:
    """(users, features) float32 observation matrix from ``sim.observe.features`` output.

    Columns are written straight into one preallocated matrix (no per-column casts or a
    final stack): the batched environments call this every step."""
    n = feats["status"].shape[0]
    out = np.empty((n, n_features(scenario, catalogue)), dtype=np.float32)
    col = 0

    def put(values: np.ndarray | float) -> None:
        nonlocal col
        out[:, col] = values
        col += 1

    def one_hot(codes: np.ndarray, k: int) -> None:
        nonlocal col
        out[:, col : col + k] = codes[:, None] == np.arange(k)
        col += k

    one_hot(feats["status"].astype(np.int64), 3)
    put(np.minimum(feats["days_since_activity"] / 365.0, 1.0))
    put(np.minimum(feats["sessions_4w"] / 56.0, 1.0))
    put(np.minimum(feats["sessions_13w"] / 182.0, 1.0))
    put(np.minimum(feats["tenure_days"] / 1825.0, 1.0))
    one_hot(feats["plan"].astype(np.int64), len(scenario.plans))
    top = max(p.monthly_price for p in scenario.plans)
    put(feats["price_paid_monthly"] / top if top > 0 else 0.0)
    put(feats["discount_active"])
    put(np.minimum(feats["n_offers"] / 20.0, 1.0))
    put(np.minimum(feats["n_opened"] / 20.0, 1.0))
    one_hot(feats["last_offer"].astype(np.int64), len(catalogue))
    since = np.nan_to_num(feats["days_since_offer"], posinf=365.0)
    put(np.minimum(since / 365.0, 1.0))
    put(feats["last_opened"] == 1)
    put(feats["last_opened"] == 0)
    bits = np.left_shift(np.uint32(1), np.arange(len(catalogue), dtype=np.uint32))
    for mask in (feats["offers_sent"], feats["offers_opened"]):
        out[:, col : col + len(catalogue)] = (mask[:, None] & bits) != 0
        col += len(catalogue)
    one_hot(feats["survey_reason"].astype(np.int64), len(PAIN_POINTS))
    for c in CHANNELS:
        put(feats[f"reachable_{c}"])
    for g in scenario.genres:
        put(feats[f"genre_share_{g}"])
    put(progress)
    return out


def n_features(scenario: Scenario, catalogue: Catalogue) -> int:
    """Length of the observation vector (``len(observation_names(...))``, without the names)."""
    plans, offers = len(scenario.plans), len(catalogue)
    return (
        3
        + 4
        + plans
        + 4
        + offers
        + 3
        + 2 * offers
        + len(PAIN_POINTS)
        + len(CHANNELS)
        + len(scenario.genres)
        + 1
    )
