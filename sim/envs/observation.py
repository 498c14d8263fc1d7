"""Observation vectors: observable features only, named and normalised to about [0, 1].

Latent traits (pain point, price sensitivity, affinity, ...) never enter; the pain-point rule of the
agents reads them through ``info`` or ``WinBackBatch.latent`` instead.
"""

from __future__ import annotations

import numpy as np

from sim.constants import CHANNELS, PAIN_POINTS
from sim.offers import Catalogue
from sim.scenario import Scenario
from sim.signals import SIGNAL_COLUMNS
from sim.simulation import Simulation


def observation_names(scenario: Scenario, catalogue: Catalogue) -> list[str]:
    """Names of the observation vector's entries, in order."""
    names = [
        "status_active",
        "status_inactive",
        "status_churned",
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
    names += list(SIGNAL_COLUMNS)
    names += ["revenue_to_date", "episode_progress"]
    return names


OBSERVATION_DOC = """
| feature | meaning (normalised) |
|---|---|
| status_active / _inactive / _churned | observed status, one-hot (inactive: no session for |
| | `inactive_after_days`) |
| recency | days since the last session / 365, capped at 1 |
| sessions_4w, sessions_13w | sessions in the last 4 / 13 calendar weeks / (2 a day), capped |
| tenure | days since sign-up / 1825, capped at 1 |
| plan_<name> | plan, one-hot |
| price_paid | monthly price paid now / highest list price (0 while churned or on trial) |
| discount_active | 1 while a discount runs |
| offers_received, offers_opened | counts / 20, capped at 1 |
| last_offer_<name> | the last offer sent, one-hot (all 0: none yet) |
| since_last_offer | days since the last offer / 365, capped at 1 (1: never) |
| last_offer_opened / _ignored | response to the last offer (both 0: none yet) |
| ever_sent_<name>, ever_opened_<name> | 1 if that offer was ever sent to / opened by the user |
| survey_<reason> | exit-survey answer, one-hot (all 0: no answer); answers are noisy |
| reachable_<channel> | 1 while the user can be reached on the channel |
| genre_share_<genre> | share of past sessions by genre (a noisy view of taste) |
| signal_<name> | how often the user showed a behavioural signal per session so far, over 4 x |
| | its base rate, capped (`sim.signals`: app_error, failed_signin, search_abandoned, |
| | title_abandoned, title_finished, pricing_page_view, payment_failure) |
| revenue_to_date | log(1 + paid so far) / log(1 + 5000), capped |
| episode_progress | steps taken / horizon |
"""


class Encoder:
    """The observation vectors of a simulation of one scenario and catalogue (their sizes
    worked out once): one compiled call from the population's arrays to the vectors."""

    def __init__(self, scenario: Scenario, catalogue: Catalogue) -> None:
        top = float(max(p.monthly_price for p in scenario.plans))
        width = n_features(scenario, catalogue)
        self.sizes = (len(scenario.plans), len(catalogue), len(PAIN_POINTS), top, width)

    def __call__(
        self, sim: Simulation, progress: float, users: np.ndarray | None = None
    ) -> np.ndarray:
        """(users, features) float32 observations of ``users`` (all when None) of ``sim``
        today; ``progress`` fills ``episode_progress``."""
        ids = np.arange(sim.pop.n) if users is None else users
        e = sim.engine
        return sim.observer.encoded(ids, sim.day, e.session_slot, e.price, self.sizes, progress)


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
        + len(SIGNAL_COLUMNS)
        + 2
    )
