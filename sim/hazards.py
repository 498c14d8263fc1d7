"""Competing hazards per user: how drivers, traits and offers set the transition rates.

All rates are per day. Out of each state a user has two competing exits::

    ACTIVE  -> DORMANT  lapse     = base_lapse  x m_leave x exp(tech + friction - fresh)
    ACTIVE  -> CHURNED  cancel    = base_cancel x m_leave x exp(pressure)
    DORMANT -> ACTIVE   return    = base_return x m_come  x exp(fresh - tech - friction
                                                               + boost - price_pull)
    DORMANT -> CHURNED  cancel    = base_dcancel x m_leave x exp(pressure)
    CHURNED -> ACTIVE   comeback  = base_comeback x m_come x exp(same as return)

with, per user (traits in [0, 1]):

* ``tech = tech_weight x tech_propensity`` (0 while a support fix acts),
* ``friction = friction_weight x discovery_friction`` (x 0.2 while recommendations act),
* ``fresh = freshness_weight x content_need x (affinity . genre freshness)``
  (x (1 + content_message_gain) while a new-release message acts),
* ``pressure = price_sens x (price_weight x log(price ratio) + price_level_weight)``,
  ``price_pull = price_sens x price_weight x log(price ratio)``, where the price ratio is the
  price paid (list price, less any discount) over the price at sign-up,
* ``boost`` = the lift of an opened offer while its window is open.

Rates are held constant between calendar events and per-user effect ends. The compiled
kernel (:mod:`sim.kernel.dynamics`) caches the no-effect part per user and state and adds
the acting effects' terms to it (an effect that adds nothing leaves the rates bit for bit);
``sim.naive.user_rates`` is the same formula written plainly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.scenario import Scenario

MIN_PRICE_RATIO = 0.05  # the price ratio is floored here (a 100% discount is not -inf)
REC_FRICTION_LEFT = 0.2  # share of discovery friction left while recommendations act
F32 = np.float32


@dataclass(frozen=True)
class RateTables:
    """Per-segment base rates, indexed [segment, state] (flat: segment * N_STATES + state)."""

    first: np.ndarray  # rate of the first exit: lapse (to dormant), return, comeback (to active)
    second: np.ndarray  # rate of the second exit (to churned): cancel, dormant cancel, none
    activity: np.ndarray  # sessions per day: active, dormant, churned (0)

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> RateTables:
        segs = scenario.segments
        sub = scenario.is_subscription
        first = [[s.lapse_rate, s.return_rate, s.comeback_rate] for s in segs]
        second = [[s.cancel_rate if sub else 0.0, s.dormant_cancel_rate, 0.0] for s in segs]
        activity = [[s.activity_rate, s.dormant_activity_rate, 0.0] for s in segs]
        flat = [np.asarray(x, dtype=F32).reshape(-1) for x in (first, second, activity)]
        return cls(*flat)


@dataclass
class Drivers:
    """The calendar's current state: held constant until the next calendar event."""

    freshness: np.ndarray  # float32 (genres,)
    list_price: np.ndarray  # float32 (plans,) list price per day


def taste_freshness(freshness: np.ndarray, affinity: np.ndarray) -> np.ndarray:
    """Each user's affinity-weighted freshness. ``einsum`` keeps this off the BLAS thread
    pool, which would oversubscribe the cores when chunks run in parallel threads."""
    return np.einsum("g,gn->n", freshness, affinity)
