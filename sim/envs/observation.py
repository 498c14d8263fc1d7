"""Observation vectors: observable features only, named and normalised to about [0, 1].

Latent traits (pain point, price sensitivity, affinity, ...) never enter; the oracle of the
agents reads them through ``info`` or ``WinBackBatch.latent`` instead.
"""

from __future__ import annotations

import numpy as np

from sim.constants import CHANNELS, PAIN_POINTS
from sim.kernel import observation as K
from sim.observe import Features
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
    feats: Features,
    scenario: Scenario,
    catalogue: Catalogue,
    progress: float,
) -> np.ndarray:
    """(users, features) float32 observation matrix from ``sim.observe.features`` output."""
    return encode_raw(feats.matrix, scenario, catalogue, progress)


def encode_raw(
    raw: np.ndarray, scenario: Scenario, catalogue: Catalogue, progress: float
) -> np.ndarray:
    """The observation matrix from the raw feature matrix (``sim.observe.raw_features``)."""
    return Encoder(scenario, catalogue)(raw, progress)


class Encoder:
    """:func:`encode_raw` for one scenario and catalogue, with their sizes worked out once."""

    def __init__(self, scenario: Scenario, catalogue: Catalogue) -> None:
        self.top = float(max(p.monthly_price for p in scenario.plans))
        self.width = n_features(scenario, catalogue)
        self.plans, self.offers = len(scenario.plans), len(catalogue)

    @property
    def sizes(self) -> tuple[int, int, int, float, int]:
        """(plans, catalogue, pain points, top monthly price, width), for fused kernels."""
        return self.plans, self.offers, len(PAIN_POINTS), self.top, self.width

    def __call__(self, raw: np.ndarray, progress: float) -> np.ndarray:
        n_pain = len(PAIN_POINTS)
        return K.encode(raw, self.plans, self.offers, n_pain, self.top, progress, self.width)


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
