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

Rates are held constant between calendar events and per-user effect ends. The fast path
computes the no-effect part for everyone from cached per-user terms, then adjusts the users
with an effect acting; ``sim.naive.user_rates`` is the same formula written plainly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from sim.constants import ACTIVE, CHURNED, DORMANT
from sim.scenario import Scenario

DEST_FIRST = np.array([DORMANT, ACTIVE, ACTIVE], dtype=np.uint8)  # per current state
DEST_SECOND = np.array([CHURNED, CHURNED, CHURNED], dtype=np.uint8)
MIN_PRICE_RATIO = 0.05  # the price ratio is floored here (a 100% discount is not -inf)
REC_FRICTION_LEFT = 0.2  # share of discovery friction left while recommendations act
F32 = np.float32


class UserArrays(Protocol):
    """The per-user fields the hazards read (a Population or a view of some of its users)."""

    segment: np.ndarray
    state: np.ndarray
    plan: np.ndarray
    price_sens: np.ndarray
    content_need: np.ndarray
    friction: np.ndarray
    tech: np.ndarray
    affinity: np.ndarray  # (genres, users)
    lapse_mult: np.ndarray
    return_mult: np.ndarray
    activity_mult: np.ndarray
    anchor_price: np.ndarray
    disc_until: np.ndarray
    disc_depth: np.ndarray
    trial_until: np.ndarray
    fix_until: np.ndarray
    rec_until: np.ndarray
    content_until: np.ndarray
    boost_until: np.ndarray
    boost: np.ndarray


@dataclass(frozen=True)
class RateTables:
    """Per-segment base rates, indexed [segment, state] (flat: segment * 3 + state)."""

    first: np.ndarray  # rate to DEST_FIRST[state]: lapse, return, comeback
    second: np.ndarray  # rate to DEST_SECOND[state]: cancel, dormant cancel, none
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


@dataclass
class BaseLogRates:
    """Per-user parts of the rates with no offer effect acting; they change only when list
    prices change, so they are computed once per price level for the whole population."""

    leave: np.ndarray  # log lapse mult + tech + friction
    come: np.ndarray  # log return mult - tech - friction - price pull of the list price
    exp_press: np.ndarray  # lapse mult x exp(price pressure of the list price)
    fresh_scale: np.ndarray  # freshness weight x content need
    price_day: np.ndarray  # list price per day of each user's plan
    log_ratio: np.ndarray  # log price ratio at list price


def list_price_ratio(anchor: np.ndarray, price_day: np.ndarray) -> np.ndarray:
    """List price over the price at sign-up (1 where there is no price, as in retail)."""
    safe = np.where(anchor > 0, anchor, 1)
    return np.where(anchor > 0, price_day / safe, 1.0)


def taste_freshness(freshness: np.ndarray, affinity: np.ndarray) -> np.ndarray:
    """Each user's affinity-weighted freshness. ``einsum`` keeps this off the BLAS thread
    pool, which would oversubscribe the cores when chunks run in parallel threads."""
    return np.einsum("g,gn->n", freshness, affinity)


def base_log_rates(pop: UserArrays, drivers: Drivers, scenario: Scenario) -> BaseLogRates:
    dyn = scenario.dynamics
    tech = dyn.tech_weight * pop.tech
    friction = dyn.friction_weight * pop.friction
    price_day = drivers.list_price[pop.plan]
    ratio = list_price_ratio(pop.anchor_price, price_day)
    log_ratio = np.log(np.maximum(ratio, MIN_PRICE_RATIO))
    log_l, log_r = np.log(pop.lapse_mult), np.log(pop.return_mult)
    pull = pop.price_sens * dyn.price_weight * log_ratio
    pressure = pop.price_sens * (dyn.price_weight * log_ratio + dyn.price_level_weight)
    return BaseLogRates(
        leave=(log_l + tech + friction).astype(F32),
        come=(log_r - tech - friction - pull).astype(F32),
        exp_press=np.exp(log_l + pressure).astype(F32),
        fresh_scale=(dyn.freshness_weight * pop.content_need).astype(F32),
        price_day=price_day.astype(F32),
        log_ratio=log_ratio.astype(F32),
    )


@dataclass
class EffectUsers:
    """The users of a pass with an offer effect acting: their positions in the pass, their
    ids, their segment start times and their arrays."""

    pos: np.ndarray
    users: np.ndarray
    t: np.ndarray | float
    arrays: UserArrays


def rates(
    u: UserArrays,
    sel: np.ndarray | slice,
    code: np.ndarray,
    base: BaseLogRates,
    drivers: Drivers,
    tables: RateTables,
    scenario: Scenario,
    effects: EffectUsers | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Rates out of the current state of users ``sel`` (to DEST_FIRST, to DEST_SECOND).

    ``u`` holds those users' arrays, ``base`` the whole population's cached terms and
    ``code`` is segment * 3 + state; ``effects`` adjusts the users with an effect acting.
    """
    fresh = base.fresh_scale[sel] * taste_freshness(drivers.freshness, u.affinity)
    leave = base.leave[sel] - fresh
    come = base.come[sel] + fresh
    r2 = base.exp_press[sel] * tables.second[code]
    if effects is not None and effects.pos.size:
        pos = effects.pos
        d_leave, d_come, d_press = effect_log_terms(effects, fresh[pos], base, scenario)
        leave[pos] += d_leave
        come[pos] += d_come
        r2[pos] *= np.exp(d_press)
    r1 = np.exp(np.where(u.state == ACTIVE, leave, come)) * tables.first[code]
    return r1, r2


def effect_log_terms(
    effects: EffectUsers, fresh: np.ndarray, base: BaseLogRates, scenario: Scenario
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-rate changes (leave, come, pressure) from the effects acting on ``effects``."""
    dyn, e, t = scenario.dynamics, effects.arrays, effects.t
    tech = dyn.tech_weight * e.tech * (e.fix_until > t)
    friction = dyn.friction_weight * (1.0 - REC_FRICTION_LEFT) * e.friction * (e.rec_until > t)
    extra_fresh = dyn.content_message_gain * fresh * (e.content_until > t)
    boost = np.where(e.boost_until > t, e.boost, 0.0)
    log_ratio = base.log_ratio[effects.users]
    price_w = dyn.price_weight
    ratio = np.exp(log_ratio) * (1.0 - e.disc_depth)
    disc = e.disc_until > t
    d_ratio = np.where(disc, np.log(np.maximum(ratio, MIN_PRICE_RATIO)) - log_ratio, 0.0)
    d_price = e.price_sens * price_w * d_ratio
    d_leave = -tech - friction - extra_fresh
    d_come = tech + friction + extra_fresh + boost - d_price
    return d_leave.astype(F32), d_come.astype(F32), d_price.astype(F32)


class StateRates:
    """Per-user rate parts that change only when a user's state or the list price changes.

    The engine's fast path reads these instead of recomputing them every pass:
    ``r1 = exp(log1 + sign x fresh)``, ``r2``, the session rate and the price paid per day.
    """

    def __init__(
        self, pop: UserArrays, seg3: np.ndarray, tables: RateTables, subscription: bool
    ) -> None:
        n = pop.state.shape[0]
        self.pop, self.seg3, self.tables, self.subscription = pop, seg3, tables, subscription
        with np.errstate(divide="ignore"):
            self.log_first = np.log(tables.first).astype(F32)
        self.log1 = np.empty(n, F32)
        self.sign = np.empty(n, F32)
        self.r2 = np.empty(n, F32)
        self.lam = np.empty(n, F32)
        self.pay = np.empty(n, F32)

    def refresh(self, base: BaseLogRates, users: np.ndarray | slice) -> None:
        """Recompute the parts of ``users`` (after a state change or a new price)."""
        pop, tables = self.pop, self.tables
        state = pop.state[users]
        code = self.seg3[users] + state
        active = state == ACTIVE
        self.log1[users] = (
            np.where(active, base.leave[users], base.come[users]) + self.log_first[code]
        )
        self.sign[users] = np.where(active, -1.0, 1.0)
        self.r2[users] = base.exp_press[users] * tables.second[code]
        self.lam[users] = tables.activity[code] * pop.activity_mult[users]
        paying = state != CHURNED if self.subscription else np.zeros(state.shape, bool)
        self.pay[users] = np.where(paying, base.price_day[users], 0.0)
