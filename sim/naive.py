"""The naive model: the same world written the obvious way.

One Python object and one SimPy process per user; hazards computed per user with ``math``
straight from the formula in :mod:`sim.hazards`; sessions drawn as a Poisson count with
uniform times. It is slow on purpose and exists to prove the vectorised engine right
(tests compare the two statistically) and to measure the engine's speed-up.

It shares with the engine only what defines the scenario: the population draw (so both
simulate the same users), the calendar rules (:mod:`sim.calendar`) and the constants.
"""

from __future__ import annotations

import bisect
import contextlib
import math
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from sim.calendar import event_days, freshness_at, list_price_at
from sim.constants import (
    ACTIVE,
    BILLING_DAYS,
    CHANNELS,
    CHURNED,
    DISCOUNT_COST,
    DORMANT,
    MESSAGE_COST,
    MONEY,
    N_STATES,
    REVENUE,
    SEND_WEEKS,
    SERVING_COST,
    SUPPORT_COST,
    TRIAL_COST,
    UNSUBSCRIBE_COST,
)
from sim.hazards import MIN_PRICE_RATIO, REC_FRICTION_LEFT
from sim.kernel.delivery import unreached_share
from sim.offers import OBSERVED_STATUSES, Catalogue, Offer
from sim.population import Population, sample_population
from sim.scenario import Scenario
from sim.streams import Streams

INF = math.inf
TRAIT_OF = {
    "discount": "price_sens",
    "free_trial": "content_need",
    "content_message": "content_need",
    "recommendation": "friction",
    "support": "tech",
}


@dataclass
class NaiveUser:
    """One user, every field a Python scalar."""

    segment: int
    pain: int
    state: int
    plan: int
    price_sens: float
    content_need: float
    friction: float
    tech: float
    affinity: list[float]
    responsiveness: list[float]
    deal_seeker: bool
    lapse_mult: float
    return_mult: float
    activity_mult: float
    basket: float
    anchor_price: float
    subscribed_at: float  # billing periods run from here (sign-up, or the latest comeback)
    reachable: list[bool]
    cancel_at: float = INF  # when a pending cancellation takes effect
    last_activity: float = -INF
    fatigue: float = 0.0
    fatigue_day: float = -INF
    effects: dict[str, float] = field(default_factory=dict)  # name -> until
    disc_depth: float = 0.0
    trial_len: float = 0.0
    boost: float = 0.0
    money: list[float] = field(default_factory=lambda: [0.0] * len(MONEY))
    reactivations: int = 0
    first_react: float = math.nan
    ever_inactive: bool = False
    sends: list[float] = field(default_factory=list)
    process: Any = None

    def on(self, name: str, t: float) -> bool:
        return self.effects.get(name, -INF) > t


INT_FIELDS = ("segment", "pain", "state", "plan")
FLOAT_FIELDS = (
    "price_sens", "content_need", "friction", "tech", "lapse_mult", "return_mult",
    "activity_mult", "basket", "anchor_price", "subscribed_at",
)  # fmt: skip


def users_from(pop: Population) -> list[NaiveUser]:
    """One :class:`NaiveUser` per user of ``pop``, every field a Python value."""
    out = []
    for i in range(pop.n):
        fields: dict[str, Any] = {name: int(getattr(pop, name)[i]) for name in INT_FIELDS}
        fields |= {name: float(getattr(pop, name)[i]) for name in FLOAT_FIELDS}
        out.append(
            NaiveUser(
                **fields,
                affinity=pop.affinity[:, i].tolist(),
                responsiveness=pop.responsiveness[i].tolist(),
                deal_seeker=bool(pop.deal_seeker[i]),
                reachable=pop.reachable[i].tolist(),
            )
        )
    return out


def user_rates(
    u: NaiveUser, t: float, fresh_genre: list[float], list_price: list[float], sc: Scenario
) -> tuple[float, float, int, int]:
    """(rate to first exit, rate to second exit, first exit, second exit) for one user."""
    dyn, seg = sc.dynamics, sc.segments[u.segment]
    tech = 0.0 if u.on("fix", t) else dyn.tech_weight * u.tech
    fric = dyn.friction_weight * u.friction * (REC_FRICTION_LEFT if u.on("rec", t) else 1.0)
    fresh = sum(a * f for a, f in zip(u.affinity, fresh_genre, strict=True))
    if u.on("content", t):
        fresh *= 1.0 + dyn.content_message_gain
    fresh_term = dyn.freshness_weight * u.content_need * fresh
    price = list_price[u.plan]
    ratio = price / u.anchor_price if u.anchor_price > 0 else 1.0
    if u.on("disc", t):
        ratio *= 1.0 - u.disc_depth
    log_ratio = math.log(max(ratio, MIN_PRICE_RATIO))
    pressure = u.price_sens * (dyn.price_weight * log_ratio + dyn.price_level_weight)
    boost = u.boost if u.on("boost", t) else 0.0
    come = fresh_term - tech - fric + boost - u.price_sens * dyn.price_weight * log_ratio
    leave_cancel = u.lapse_mult * math.exp(pressure)
    if u.state == ACTIVE:
        lapse = seg.lapse_rate * u.lapse_mult * math.exp(tech + fric - fresh_term)
        cancel = seg.cancel_rate * leave_cancel if sc.is_subscription else 0.0
        return lapse, cancel, DORMANT, CHURNED
    if u.state == DORMANT:
        back = seg.return_rate * u.return_mult * math.exp(come)
        return back, seg.dormant_cancel_rate * leave_cancel, ACTIVE, CHURNED
    return seg.comeback_rate * u.return_mult * math.exp(come), 0.0, ACTIVE, CHURNED


@dataclass(frozen=True)
class ScheduledOffer:
    day: int
    user: int
    offer: int


class NaiveSimulation:
    """Per-user SimPy model of a scenario with a fixed offer schedule."""

    def __init__(
        self,
        scenario: Scenario,
        catalogue: Catalogue | None = None,
        seed: int = 0,
        schedule: tuple[ScheduledOffer, ...] = (),
    ) -> None:
        self.sc = scenario
        self.catalogue = catalogue if catalogue is not None else Catalogue(())
        streams = Streams(seed)
        self.users = users_from(sample_population(scenario, streams.population()))
        self.rng = np.random.Generator(
            np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(9,)))
        )
        self.env = simpy.Environment(initial_time=-scenario.warmup_days)
        self.fresh = list(freshness_at(scenario, -scenario.warmup_days).astype(float))
        self.price = list(list_price_at(scenario, -scenario.warmup_days).astype(float))
        self.transitions: list[tuple[int, float, int, int]] = []  # user, time, src, dst
        self.periods = [BILLING_DAYS.get(p.billing, 0) for p in scenario.plans]
        self.start_states: list[int] = []
        self.schedule = sorted(schedule, key=lambda s: s.day)
        self.calendar = [float(d) for d in event_days(scenario)]
        self.calendar_set = set(self.calendar)
        self.env.process(self._calendar())
        if self.schedule:
            self.env.process(self._offers())
        for i, u in enumerate(self.users):
            u.process = self.env.process(self._life(i, u))

    def run(self) -> NaiveSimulation:
        self.env.run(until=self.sc.horizon_days)
        return self

    # ------------------------------------------------------------ calendar
    def _calendar(self) -> Generator[simpy.Event, Any, None]:
        for day in event_days(self.sc):
            if day > self.env.now:
                yield self.env.timeout(day - self.env.now)
            if day == 0:
                self.start_states = [u.state for u in self.users]
                for u in self.users:
                    u.ever_inactive = u.state != ACTIVE
            self.fresh = list(freshness_at(self.sc, day).astype(float))
            self.price = list(list_price_at(self.sc, day).astype(float))

    def _offers(self) -> Generator[simpy.Event, Any, None]:
        for item in self.schedule:
            if item.day > self.env.now:
                yield self.env.timeout(item.day - self.env.now)
            yield self.env.timeout(0)  # after the calendar event of the same day
            u = self.users[item.user]
            self._deliver(u, self.catalogue.offers[item.offer], float(item.day))
            if u.process.is_alive:
                u.process.interrupt()

    # ---------------------------------------------------------------- users
    def _life(self, i: int, u: NaiveUser) -> Generator[simpy.Event, Any, None]:
        env = self.env
        while True:
            if env.now in self.calendar_set:
                # the calendar sets this day's drivers first; an offer in the same instant
                # may interrupt this wait, and the rates below include it either way
                with contextlib.suppress(simpy.Interrupt):
                    yield env.timeout(0)
            now = env.now
            r1, r2, d1, d2 = user_rates(u, now, self.fresh, self.price, self.sc)
            if u.cancel_at < INF:  # a cancellation is pending: no second one
                r2 = 0.0
            q = r1 + r2
            dt = self.rng.exponential(1.0 / q) if q > 0 else INF
            ends = [v for v in u.effects.values() if v > now]
            bp = min([*ends, u.cancel_at])
            next_event = self.calendar[bisect.bisect_right(self.calendar, now)]
            wait = min(dt, bp - now, next_event - now)
            try:
                yield env.timeout(wait)
                fired = True
            except simpy.Interrupt:  # the calendar or an offer changed this user's hazards
                fired = False
            self._accrue(u, now, env.now)
            if env.now >= self.sc.horizon_days:
                return
            if fired and dt <= min(bp, next_event) - now:
                dst = d1 if self.rng.random() * q < r1 else d2
                self._decide(i, u, env.now, dst)
            elif fired and bp == u.cancel_at and bp <= next_event:
                u.cancel_at = INF
                self._move(i, u, bp, CHURNED)
            elif fired and bp <= next_event:
                self._effect_end(i, u, env.now)

    def _accrue(self, u: NaiveUser, a: float, b: float) -> None:
        seg = self.sc.segments[u.segment]
        rate = {ACTIVE: seg.activity_rate, DORMANT: seg.dormant_activity_rate}.get(u.state, 0.0)
        n = int(self.rng.poisson(rate * u.activity_mult * (b - a))) if b > a else 0
        if n:
            u.last_activity = a + (b - a) * float(self.rng.random(n).max())
        if a < 0:
            return
        if self.sc.is_subscription:
            gross = self.price[u.plan] * (b - a) if u.state != CHURNED else 0.0
            if u.on("trial", a):
                u.money[TRIAL_COST] += gross
            elif u.on("disc", a):
                u.money[DISCOUNT_COST] += gross * u.disc_depth
        else:
            gross = n * u.basket * self.sc.margin
            if u.on("disc", a):
                u.money[DISCOUNT_COST] += n * u.basket * u.disc_depth
        u.money[REVENUE] += gross
        u.money[SERVING_COST] += n * self.sc.serving_cost_per_session

    def _decide(self, i: int, u: NaiveUser, t: float, dst: int) -> None:
        """A transition decided at ``t``; a cancellation on a plan billed in periods takes
        effect at the end of the current period (one pending at a time)."""
        period = self.periods[u.plan]
        if dst != CHURNED or not period:
            self._move(i, u, t, dst)
        elif u.cancel_at == INF:
            k = math.floor((t - u.subscribed_at) / period) + 1
            u.cancel_at = u.subscribed_at + k * period

    def _move(self, i: int, u: NaiveUser, t: float, dst: int) -> None:
        src = u.state
        u.state = dst
        self.transitions.append((i, t, src, dst))
        if t >= 0 and dst != ACTIVE:
            u.ever_inactive = True
        if t >= 0 and dst == ACTIVE:
            u.reactivations += 1
            if math.isnan(u.first_react):
                u.first_react = t
        if src == CHURNED:
            u.subscribed_at = t
        if src == CHURNED and dst == ACTIVE and u.on("trial_window", t):
            u.effects["trial"] = t + u.trial_len
            u.effects.pop("trial_window")

    def _effect_end(self, i: int, u: NaiveUser, t: float) -> None:
        ended = u.effects.get("disc") == t or u.effects.get("trial") == t
        if not (ended and u.deal_seeker and u.state != CHURNED):
            return
        target = CHURNED if self.sc.is_subscription else DORMANT
        if not self.sc.is_subscription and u.state != ACTIVE:
            return
        if self.rng.random() < self.sc.dynamics.deal_shock_prob:
            self._decide(i, u, t, target)

    # ------------------------------------------------------------- messaging
    def _status(self, u: NaiveUser, day: float) -> str:
        if self.sc.is_subscription and u.state == CHURNED:
            return "churned"
        inactive = u.last_activity <= day - self.sc.inactive_after_days
        return "inactive" if inactive else "active"

    def _deliver(self, u: NaiveUser, offer: Offer, day: float) -> None:
        c = CHANNELS.index(offer.channel)
        ch = self.sc.channel(offer.channel)
        recent = sum(1 for d in u.sends if d > day - 7 * SEND_WEEKS)
        if (
            self._status(u, day) not in offer.eligible
            or not u.reachable[c]
            or recent >= ch.frequency_cap
        ):
            return
        dyn = self.sc.dynamics
        fatigue = u.fatigue * 2.0 ** (-(day - u.fatigue_day) / dyn.fatigue_halflife_days)
        p_open = u.responsiveness[c] * ch.open_rate * math.exp(-dyn.fatigue_per_message * fatigue)
        opened = self.rng.random() < p_open
        unsub = self.rng.random() < min(1.0, ch.unsubscribe_prob * (1.0 + fatigue))
        if unsub:
            u.reachable[c] = False
        u.fatigue, u.fatigue_day = fatigue + 1.0, day
        u.sends.append(day)
        if day >= 0:
            u.money[MESSAGE_COST] += ch.cost_per_send + offer.cost_per_send
            if opened and offer.kind == "support":
                u.money[SUPPORT_COST] += offer.support_cost
            if unsub:
                share = unreached_share(day, self.sc.horizon_days)
                u.money[UNSUBSCRIBE_COST] += ch.unsubscribe_cost * share
        if opened:
            self._switch_on(u, offer, day)

    def _switch_on(self, u: NaiveUser, offer: Offer, day: float) -> None:
        dyn = self.sc.dynamics
        window = day + max(dyn.nudge_days, 1)
        trait = getattr(u, TRAIT_OF[offer.kind]) if offer.kind in TRAIT_OF else 0.0
        lift = dyn.nudge_lift + offer.lift * trait
        u.boost = max(u.boost, lift) if u.on("boost", day) else lift
        u.effects["boost"] = max(u.effects.get("boost", -INF), window)
        until = day + offer.duration_days
        if offer.kind == "discount":
            u.effects["disc"], u.disc_depth = until, offer.discount
        elif offer.kind == "free_trial":
            u.trial_len = offer.trial_days
            if u.state == CHURNED:
                u.effects["trial_window"] = window
            else:
                u.effects["trial"] = day + offer.trial_days
        elif offer.kind == "recommendation":
            u.effects["rec"] = max(u.effects.get("rec", -INF), until)
        elif offer.kind == "support":
            u.effects["fix"] = max(u.effects.get("fix", -INF), until)
        elif offer.kind == "content_message":
            u.effects["content"] = max(u.effects.get("content", -INF), window)

    # --------------------------------------------------------------- results
    def occupancy(self) -> np.ndarray:
        """Users per (day, state) for days 0..horizon (state at time ``day``)."""
        h = self.sc.horizon_days
        occ = np.zeros((h + 1, N_STATES), dtype=np.int64)
        for s in self.start_states:
            occ[0, s] += 1
        delta = np.zeros((h + 2, N_STATES), dtype=np.int64)
        for _, t, src, dst in self.transitions:
            if 0 < t <= h:
                d = math.ceil(t)
                delta[d, dst] += 1
                delta[d, src] -= 1
        return occ[0] + np.cumsum(delta[: h + 1], axis=0)

    def money_totals(self) -> np.ndarray:
        return np.array([u.money for u in self.users]).sum(axis=0)


__all__ = ["OBSERVED_STATUSES", "NaiveSimulation", "ScheduledOffer", "user_rates"]
