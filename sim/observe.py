"""What the company can see: observable features derived from behaviour, never latent traits.

The per-user work is done by the compiled kernels of :mod:`sim.kernel.observation` (which
are handed only observable fields); this module names their columns.
"""

from __future__ import annotations

import numpy as np

from sim.constants import CHANNELS
from sim.kernel import arrays_of
from sim.kernel import observation as K
from sim.kernel.delivery import status_all, status_of
from sim.messaging import delivery_params
from sim.population import Population
from sim.scenario import Scenario
from sim.signals import SIGNAL_COLUMNS

ACTIVE_SEEN, INACTIVE_SEEN, CHURNED_SEEN = range(3)
BIT_MASKS = ("offers_sent", "offers_opened")


def _ids(users: np.ndarray | slice, n: int) -> np.ndarray:
    return np.arange(n)[users] if isinstance(users, slice) else np.asarray(users, np.int64)


def observed_status(
    pop: Population, users: np.ndarray | slice, day: float, scenario: Scenario
) -> np.ndarray:
    """0 active, 1 inactive (no session for ``inactive_after_days``), 2 churned.

    Churn is visible (as a cancellation) only in subscription businesses.
    """
    q = delivery_params(scenario)
    if isinstance(users, slice) and users == slice(None):
        return status_all(float(day), q, pop.last_activity, pop.state)
    return status_of(_ids(users, pop.n), float(day), q, pop.last_activity, pop.state)


def feature_names(scenario: Scenario) -> list[str]:
    """Names of the raw feature columns, in the kernel's order."""
    return [
        *K.RAW,
        *(f"reachable_{ch}" for ch in CHANNELS),
        *(f"genre_share_{g}" for g in scenario.genres),
        *SIGNAL_COLUMNS,
    ]


class Observer:
    """Observes one population: the feature kernel's arguments packed once."""

    def __init__(self, pop: Population, params: np.ndarray) -> None:
        self.params = params
        self.arrays = arrays_of(K.OBSERVABLE, pop)

    def raw(self, users: np.ndarray, day: float, slot: int, list_price: np.ndarray) -> np.ndarray:
        """(users, raw features) float64 matrix of ``users`` (int64 ids), columns named by
        :func:`feature_names`; ``list_price`` float64 per day (``sim.kernel.observation``)."""
        return K.raw_features(users, day, slot, self.params, list_price, self.arrays)

    def encoded(
        self,
        users: np.ndarray,
        day: float,
        slot: int,
        list_price: np.ndarray,
        sizes: tuple[int, int, int, float, int],
        progress: float,
    ) -> np.ndarray:
        """The observation vectors of ``users`` (``sim.envs.observation``) in one call;
        ``sizes`` is (plans, catalogue, pain points, top monthly price, width)."""
        plans, offers, pains, top, width = sizes
        return K.observe(
            users, day, slot, self.params, list_price, self.arrays, plans, offers, pains, top,
            progress, width,
        )  # fmt: skip


class Features(dict[str, np.ndarray]):
    """Named observable features (raw units): float32 columns, uint32 offer bit masks
    (what ``Simulation.observe`` returns)."""

    def __init__(self, matrix: np.ndarray, names: list[str]) -> None:
        super().__init__(
            (name, matrix[:, k].astype(np.uint32 if name in BIT_MASKS else np.float32))
            for k, name in enumerate(names)
        )
