"""A simulation run: the SimPy calendar drives the compiled engine.

SimPy owns time. The calendar (week boundaries, content releases, price changes), the
campaign epochs and the horizon are SimPy processes; at each of their events the engine
first advances the whole population to that moment, then the event takes effect. Offers
enter through one explicit call, :meth:`Simulation.offer` (who gets which offer, on the
current day): a policy's decisions at the campaign epochs go through it too.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from sim.calendar import epoch_days, freshness_at, list_price_at, week_days
from sim.engine import Engine, RateParams
from sim.ledger import Ledger
from sim.messaging import Delivery, Mailer, OfferTable, delivery_params
from sim.observe import Features, Observer, feature_names
from sim.offers import Catalogue
from sim.population import SEND_WEEKS, Population, sample_population, take
from sim.recording import Recording
from sim.results import SimulationResult, build_result
from sim.scenario import Scenario
from sim.streams import Streams

Decision = tuple[np.ndarray, np.ndarray]
Policy = Callable[["Simulation", int], Decision | None]
"""Called at each campaign epoch (every ``scenario.epoch_days`` days) with the simulation
and the day; returns (users, offers), which the simulation sends (:meth:`Simulation.offer`;
what happened to them is :attr:`Simulation.last_delivery`), or None to send nothing."""


@dataclass
class Prepared:
    """What depends only on a scenario and a catalogue, worked out once: shared by many
    simulations of them (an environment's episodes, a policy run and its control)."""

    scenario: Scenario
    catalogue: Catalogue | None
    catalogue_or_empty: Catalogue
    offer_table: OfferTable
    delivery_params: np.ndarray
    rates: RateParams
    calendar: list[tuple[int, bool]]  # days something changes, and whether a week starts
    drivers: dict[float, tuple[np.ndarray, ...]]  # calendar day -> drivers (f32 and f64)
    prices: dict[bytes, np.ndarray]  # one array per list-price level

    @classmethod
    def of(cls, scenario: Scenario, catalogue: Catalogue | None) -> Prepared:
        cat = catalogue if catalogue is not None else Catalogue(())
        check_catalogue(scenario, cat)
        return cls(
            scenario,
            catalogue,
            cat,
            OfferTable.build(scenario, cat),
            delivery_params(scenario),
            RateParams.of(scenario),
            calendar_days(scenario),
            {},
            {},
        )


def calendar_days(scenario: Scenario) -> list[tuple[int, bool]]:
    """Each day on which the calendar changes something, with whether a week starts then."""
    weeks = set(week_days(scenario))
    days = weeks | {r.day for r in scenario.releases} | {c.day for c in scenario.price_changes}
    return [(day, day in weeks) for day in sorted(days)]


class Simulation:
    """One seeded run of a scenario, optionally with a policy acting at campaign epochs.

    ``population`` continues users from an earlier run (see ``sim.population.take``) instead
    of drawing new ones; the simulation then starts at ``-scenario.warmup_days`` as usual.
    ``prepared`` shares what depends only on the scenario and catalogue (offer table, rate
    tables, the calendar's drivers by day) between simulations of the same scenario, such
    as an environment's episodes. ``record`` keeps what the company's systems would record
    (:attr:`recording`, ``sim.recording``; implies ``trace``), for ``sim.records.event_log``;
    it changes no result.
    """

    def __init__(
        self,
        scenario: Scenario,
        catalogue: Catalogue | None = None,
        seed: int = 0,
        policy: Policy | None = None,
        trace: bool = False,
        population: Population | None = None,
        prepared: Prepared | None = None,
        record: bool = False,
    ) -> None:
        if prepared is None:
            prepared = Prepared.of(scenario, catalogue)
        elif prepared.scenario is not scenario or prepared.catalogue is not catalogue:
            raise ValueError("prepared: made for another scenario or catalogue")
        if population is not None and population.n != scenario.n_users:
            raise ValueError(
                f"population: {population.n} users given; scenario.n_users is {scenario.n_users}"
            )
        pop = (
            population
            if population is not None
            else sample_population(scenario, Streams(seed).population())
        )
        self._build(prepared, seed, pop, policy, trace or record, record)

    def _build(
        self,
        prepared: Prepared,
        seed: int,
        pop: Population,
        policy: Policy | None,
        trace: bool,
        record: bool,
        start: tuple[float, int, int] | None = None,
    ) -> None:
        """Everything but the checks; ``start``: (day, session ring slot, send ring slot) to
        continue from (:meth:`fork`), else the warm-up's start."""
        scenario = prepared.scenario
        self.scenario = scenario
        self.prepared = prepared
        self.catalogue = prepared.catalogue_or_empty
        self.offer_table = prepared.offer_table
        self.delivery_params = prepared.delivery_params
        self.seed = seed
        self.streams = Streams(seed)
        self.pop = pop
        self.ledger = Ledger(scenario.horizon_days, len(scenario.segments))
        self.observer = Observer(self.pop, self.delivery_params)
        self.mailer = Mailer(self.pop, self.offer_table, self.delivery_params, self.ledger)
        dynamics_root, self.offer_root = self.streams.kernel_roots()
        day, session_slot, self.send_slot = start or (-scenario.warmup_days, 0, 0)
        self.engine = Engine(
            scenario, self.pop, dynamics_root, self.ledger, prepared.rates, day, session_slot
        )
        if trace:
            self.engine.trace = []
        self.recording: Recording | None = None
        if record:
            root = self.streams.recording_root()
            self.recording = Recording.start(scenario, self.pop, self.engine.t, root)
            self.engine.recording = self.recording
        self.env = simpy.Environment(initial_time=day)
        self.policy = policy
        self.last_delivery: Delivery | None = None  # of the policy's latest decision
        self._policy_rng: np.random.Generator | None = None
        self._offer_calls = 0
        self._drivers = prepared.drivers
        self._prices = prepared.prices
        self._set_drivers()
        # a fork continues after what its parent's calendar has done today
        self._days = [d for d in prepared.calendar if start is None or d[0] > day]
        self.env.process(self._calendar())
        if policy is not None:
            self.env.process(self._campaign())
        self.env.process(self._horizon())

    def fork(self, seed: int, users: np.ndarray, record: bool = False) -> Simulation:
        """``users`` (copies, accounts from zero: ``sim.population.take``) carried on from
        today with ``seed``'s random numbers and no policy: the same calendar, offers and
        frequency caps, a future of their own. Copies are ordered by user id. ``record``
        keeps what the company's systems would from today on (see the class doc)."""
        sim = Simulation.__new__(Simulation)
        slots = (self.day, self.engine.session_slot, self.send_slot)
        sim._build(self.prepared, seed, take(self.pop, users), None, record, record, slots)
        return sim

    # ------------------------------------------------------------ public API
    @property
    def policy_rng(self) -> np.random.Generator:
        """The random stream a policy may draw from (made on first use)."""
        if self._policy_rng is None:
            self._policy_rng = self.streams.policy()
        return self._policy_rng

    @property
    def day(self) -> float:
        return float(self.env.now)

    def run(self) -> SimulationResult:
        """Run to the horizon and summarise."""
        self.run_until(self.scenario.horizon_days)
        return self.result()

    def run_until(self, day: int) -> None:
        """Advance to ``day`` and let every calendar event due on that day take effect."""
        if day < self.env.now:
            raise ValueError(f"day: {day} is in the past; the simulation is at {self.env.now}")
        if day > self.scenario.horizon_days:
            raise ValueError(
                f"day: {day} is beyond the horizon; allowed: up to {self.scenario.horizon_days}"
            )
        env = self.env
        while env.peek() <= day:  # every calendar event up to and on ``day`` takes effect
            env.step()
        if env.now < day:  # no event fell on ``day``: move the clock there
            env.run(until=day)
        self.engine.advance_to(day)

    def offer(self, users: np.ndarray, offers: np.ndarray) -> Delivery:
        """Send ``offers[i]`` (catalogue index) to ``users[i]`` today."""
        users = np.asarray(users, dtype=np.int64)
        offers = np.asarray(offers, dtype=np.int64)
        day = self.day
        self.engine.advance_to(day)
        stream = (self.offer_root, self._offer_calls)
        self._offer_calls += 1
        delivery = self.mailer.send(users, offers, day, self.send_slot, stream)
        if self.recording is not None:
            sent = delivery.sent
            self.recording.delivered(
                day, users[sent], offers[sent], delivery.opened[sent], delivery.unsubscribed[sent]
            )
        return delivery

    def observe(self, users: np.ndarray | None = None) -> Features:
        """Observable features of ``users`` (all when None) at the current day, raw units
        (the agents' normalised vectors: ``sim.envs.observation.Encoder``)."""
        ids = np.arange(self.pop.n) if users is None else np.asarray(users, dtype=np.int64)
        e = self.engine
        raw = self.observer.raw(ids, self.day, e.session_slot, e.price)
        return Features(raw, feature_names(self.scenario))

    def mask(self, users: np.ndarray | None = None) -> np.ndarray:
        """(users, 1 + offers) bool: which offers each of ``users`` (all when None) can be
        sent today (column 0, nothing, always can)."""
        ids = np.arange(self.pop.n) if users is None else np.asarray(users, dtype=np.int64)
        return self.mailer.mask(ids, self.day)

    def transitions(self) -> dict[str, np.ndarray]:
        """Every transition so far (needs ``trace=True``), by time: user, time, src, dst and
        survey (a cancellation's exit-survey answer, index into ``PAIN_POINTS``; -1: none)."""
        if self.engine.trace is None:
            raise ValueError("trace: the simulation was created with trace=False")
        cols = np.concatenate([np.zeros((5, 0)), *self.engine.trace], axis=1)
        order = np.argsort(cols[1], kind="stable")
        dtypes = {
            "user": np.int64, "time": np.float64, "src": np.uint8, "dst": np.uint8,
            "survey": np.int8,
        }  # fmt: skip
        return {name: cols[k, order].astype(t) for k, (name, t) in enumerate(dtypes.items())}

    def result(self) -> SimulationResult:
        self.engine.settle_retention()
        return build_result(self.scenario, self.seed, self.pop, self.ledger, self.day)

    # -------------------------------------------------------------- calendar
    def _set_drivers(self) -> None:
        now = float(self.env.now)
        if now not in self._drivers:  # each calendar day's drivers are computed once
            fresh = freshness_at(self.scenario, now)
            price = list_price_at(self.scenario, now)
            price = self._prices.setdefault(price.tobytes(), price)  # one object per level
            self._drivers[now] = (fresh, price, fresh.astype(np.float64), price.astype(np.float64))
        self.engine.set_drivers(*self._drivers[now])

    def _at(self, day: int) -> Generator[simpy.Event, Any, None]:
        if day > self.env.now:
            yield self.env.timeout(day - self.env.now)
        self.engine.advance_to(day)

    def _calendar(self) -> Generator[simpy.Event, Any, None]:
        """Week boundaries, content releases and price changes: at each such day the engine
        first brings every user up to it, then the day's changes take effect."""
        env, engine = self.env, self.engine
        for day, week_starts in self._days:
            if day > env.now:
                yield env.timeout(day - env.now)
            engine.advance_to(day)
            if week_starts:
                week = day // 7
                engine.new_week(week)
                self.send_slot = week % SEND_WEEKS
                self.pop.sends_week[:, self.send_slot, :] = 0
            self._set_drivers()

    def _campaign(self) -> Generator[simpy.Event, Any, None]:
        for day in epoch_days(self.scenario):
            yield from self._at(day)
            yield self.env.timeout(0)  # let every other event of this day take effect first
            self._set_drivers()
            if self.policy is not None:
                decision = self.policy(self, day)
                self.last_delivery = None if decision is None else self.offer(*decision)

    def _horizon(self) -> Generator[simpy.Event, Any, None]:
        yield from self._at(self.scenario.horizon_days)


def user_profit(sim: Simulation, users: np.ndarray) -> np.ndarray:
    """Profit so far of ``users`` (revenue less every cost), float64."""
    money = sim.pop.money[:, users].astype(np.float64)
    return money[0] - money[1:].sum(axis=0)


def scheduled(days: np.ndarray, users: np.ndarray, offers: np.ndarray) -> Policy:
    """A fixed offer schedule as a policy: ``offers[i]`` to ``users[i]`` on ``days[i]``.

    Days must be campaign epochs (multiples of the scenario's ``epoch_days``); the
    simulation refuses a schedule with other days when the first epoch runs.
    """
    days, users, offers = (np.asarray(x, dtype=np.int64) for x in (days, users, offers))

    def policy(sim: Simulation, day: int) -> Decision | None:
        off = days[days % sim.scenario.epoch_days != 0]
        if off.size:
            raise ValueError(
                f"schedule.days: {off[:5].tolist()} are not campaign epochs; allowed: "
                f"multiples of epoch_days={sim.scenario.epoch_days}"
            )
        today = days == day
        return (users[today], offers[today]) if today.any() else None

    return policy


def check_catalogue(scenario: Scenario, catalogue: Catalogue) -> None:
    """Offers that the scenario's business model cannot honour are refused up front."""
    for offer in catalogue.offers:
        if offer.kind == "free_trial" and not scenario.is_subscription:
            raise ValueError(
                f"offers.{offer.name}.kind: 'free_trial' needs a subscription scenario; "
                f"scenario {scenario.name!r} is {scenario.business}"
            )
