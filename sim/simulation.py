"""A simulation run: the SimPy calendar drives the vectorised engine.

SimPy owns time. Week boundaries, content releases, price changes, campaign epochs and the
horizon are SimPy processes; at each of their events the engine first advances the whole
population to that moment in numpy, then the event takes effect. Offers enter through one
explicit call, :meth:`Simulation.offer` (who gets which offer, on the current day).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import simpy

from sim.calendar import epoch_days, freshness_at, list_price_at, week_days
from sim.constants import MESSAGE_COST, MONEY, SUPPORT_COST
from sim.engine import Engine
from sim.ledger import Ledger
from sim.messaging import OK, SUPPORT, Delivery, OfferTable, deliver
from sim.observe import features
from sim.offers import Catalogue
from sim.population import SEND_WEEKS, Population, sample_population
from sim.results import SimulationResult, build_result
from sim.rng import Streams
from sim.scenario import Scenario

Decision = tuple[np.ndarray, np.ndarray]
Policy = Callable[["Simulation", int], Decision | None]
"""Called at each campaign epoch with the simulation and the day; returns (users, offers)."""


class Simulation:
    """One seeded run of a scenario, optionally with a policy acting at campaign epochs.

    ``population`` continues users from an earlier run (see ``sim.population.take``) instead
    of drawing new ones; the simulation then starts at ``-scenario.warmup_days`` as usual.
    """

    def __init__(
        self,
        scenario: Scenario,
        catalogue: Catalogue | None = None,
        seed: int = 0,
        policy: Policy | None = None,
        trace: bool = False,
        population: Population | None = None,
    ) -> None:
        self.scenario = scenario
        self.catalogue = catalogue if catalogue is not None else Catalogue(())
        check_catalogue(scenario, self.catalogue)
        self.offer_table = OfferTable.build(scenario, self.catalogue)
        self.seed = seed
        self.streams = Streams(seed)
        if population is not None and population.n != scenario.n_users:
            raise ValueError(
                f"population: {population.n} users given; scenario.n_users is {scenario.n_users}"
            )
        self.pop = (
            population
            if population is not None
            else sample_population(scenario, self.streams.population())
        )
        self.ledger = Ledger(scenario.horizon_days, len(scenario.segments))
        self.engine = Engine(scenario, self.pop, self.streams, self.ledger)
        if trace:
            self.engine.trace = []
        self.env = simpy.Environment(initial_time=-scenario.warmup_days)
        self.policy = policy
        self.policy_rng = self.streams.policy()
        self.send_slot = 0
        self._offer_calls = 0
        self._drivers: dict[float, tuple[np.ndarray, np.ndarray]] = {}
        self._set_drivers()
        self.env.process(self._weeks())
        self.env.process(self._releases())
        self.env.process(self._price_changes())
        if policy is not None:
            self.env.process(self._campaign())
        self.env.process(self._horizon())

    # ------------------------------------------------------------ public API
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
        if day > self.env.now:
            self.env.run(until=day)
        while self.env.peek() == day:
            self.env.step()
        self.engine.advance_to(day)

    def offer(self, users: np.ndarray, offers: np.ndarray) -> Delivery:
        """Send ``offers[i]`` (catalogue index) to ``users[i]`` today."""
        users = np.asarray(users, dtype=np.int64)
        offers = np.asarray(offers, dtype=np.int64)
        day = self.day
        self.engine.advance_to(day)
        rng = self.streams.offers(self._offer_calls)
        self._offer_calls += 1
        d = deliver(
            self.pop, users, offers, day, self.send_slot, self.scenario, self.offer_table, rng
        )
        self._record(d, day)
        return d

    def observe(self, users: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Observable features of ``users`` (all when None) at the current day."""
        sel: np.ndarray | slice = slice(None) if users is None else np.asarray(users)
        slot = self.engine.session_slot
        return features(
            self.pop, sel, self.day, slot, self.scenario, self.engine.drivers.list_price
        )

    def transitions(self) -> dict[str, np.ndarray]:
        """Every transition so far (needs ``trace=True``): user, time, src, dst, by time."""
        if self.engine.trace is None:
            raise ValueError("trace: the simulation was created with trace=False")
        parts = self.engine.trace or [(np.zeros(0, np.int64),) * 4]
        cols = [np.concatenate([p[k] for p in parts]) for k in range(4)]
        order = np.argsort(cols[1], kind="stable")
        names = ("user", "time", "src", "dst")
        return {name: col[order] for name, col in zip(names, cols, strict=True)}

    def result(self) -> SimulationResult:
        self.engine.settle_retention()
        return build_result(self.scenario, self.seed, self.pop, self.ledger, self.day)

    # -------------------------------------------------------------- calendar
    def _set_drivers(self) -> None:
        now = float(self.env.now)
        if now not in self._drivers:  # each calendar day's drivers are computed once
            self._drivers[now] = (
                freshness_at(self.scenario, now),
                list_price_at(self.scenario, now),
            )
        self.engine.set_drivers(*self._drivers[now])

    def _at(self, day: int) -> Generator[simpy.Event, Any, None]:
        if day > self.env.now:
            yield self.env.timeout(day - self.env.now)
        self.engine.advance_to(day)

    def _weeks(self) -> Generator[simpy.Event, Any, None]:
        for day in week_days(self.scenario):
            yield from self._at(day)
            week = day // 7
            self.engine.new_week(week)
            self.send_slot = week % SEND_WEEKS
            self.pop.sends_week[:, self.send_slot, :] = 0
            self._set_drivers()

    def _releases(self) -> Generator[simpy.Event, Any, None]:
        for day in sorted({r.day for r in self.scenario.releases}):
            yield from self._at(day)
            self._set_drivers()

    def _price_changes(self) -> Generator[simpy.Event, Any, None]:
        for day in sorted({c.day for c in self.scenario.price_changes}):
            yield from self._at(day)
            self._set_drivers()

    def _campaign(self) -> Generator[simpy.Event, Any, None]:
        for day in epoch_days(self.scenario):
            yield from self._at(day)
            yield self.env.timeout(0)  # let every other event of this day take effect first
            self._set_drivers()
            if self.policy is not None:
                decision = self.policy(self, day)
                if decision is not None:
                    self.offer(*decision)

    def _horizon(self) -> Generator[simpy.Event, Any, None]:
        yield from self._at(self.scenario.horizon_days)

    def _record(self, d: Delivery, day: float) -> None:
        seg = self.pop.segment
        days = np.full(d.users.size, day)
        self.ledger.count_at(days[d.sent], "sent", seg[d.users[d.sent]])
        self.ledger.count_at(days[d.opened], "opened", seg[d.users[d.opened]])
        self.ledger.count_at(days[d.unsubscribed], "unsubscribed", seg[d.users[d.unsubscribed]])
        refused = d.refusal != OK
        self.ledger.count_at(days[refused], "refused", seg[d.users[refused]])
        support = d.opened & (self.offer_table.kind[d.offers] == SUPPORT)
        self.ledger.count_at(days[support], "support_contacts", seg[d.users[support]])
        n_seg = len(self.scenario.segments)
        week = np.zeros((len(MONEY), n_seg))
        user_seg = seg[d.users]
        week[MESSAGE_COST] = np.bincount(user_seg, weights=d.message_cost, minlength=n_seg)
        week[SUPPORT_COST] = np.bincount(user_seg, weights=d.support_cost, minlength=n_seg)
        self.ledger.add_money(day, week)


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
