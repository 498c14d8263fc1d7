"""A message A/B test run in the simulator, and the published test it is checked against.

The reference is Kevin Hillstrom's MineThatData E-Mail Analytics challenge (2008): 64,000
customers of a retailer who last purchased within twelve months, randomised into a men's
merchandise e-mail, a women's merchandise e-mail or no e-mail, with visits, purchases and
spend tracked over the following two weeks (:data:`HILLSTROM`).

:func:`message_ab` runs the same test in a scenario. On the first day on which the company
has ``history_days`` of history, it takes the customers it sees as recent (a purchase or
session within ``history_days``), reachable on the offer's channel and in the chosen observed
statuses, and simulates each of them twice on common random numbers: once sent the offer that
day, once not. Over the next ``window_days`` it counts, per customer, whether they bought
(a purchase, or a session in a subscription business: the conversion) and what they paid
(purchases at their basket value, or subscription fees: the spend). Both runs draw the same
random numbers, so each customer is their own control: the difference is the offer's effect
on that customer, the estimand of Hillstrom's random split without its between-arm noise.
Intervals are 95% t-intervals over the customers of every seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
from scipy import stats

from sim.constants import CHANNELS, REVENUE
from sim.observe import observed_status
from sim.offers import OBSERVED_STATUSES, Catalogue, Offer
from sim.scenario import Scenario
from sim.simulation import Simulation
from sim.validation import check_choice, check_int


@dataclass(frozen=True)
class Arm:
    """One arm of a published test: counts and dollars over its tracking window."""

    customers: int
    visitors: int
    purchasers: int
    spend: float

    @property
    def conversion(self) -> float:
        return self.purchasers / self.customers

    @property
    def spend_per_customer(self) -> float:
        return self.spend / self.customers

    @property
    def spend_per_purchaser(self) -> float:
        return self.spend / self.purchasers


@dataclass(frozen=True)
class PublishedTest:
    """A randomised message test with a no-message control arm."""

    name: str
    source: str
    window_days: int
    control: Arm
    treatments: dict[str, Arm]

    def conversion_lifts(self) -> tuple[float, float]:
        """(smallest, largest) conversion lift of a treatment over control (shares)."""
        lifts = [a.conversion - self.control.conversion for a in self.treatments.values()]
        return min(lifts), max(lifts)

    def spend_lifts(self) -> tuple[float, float]:
        """(smallest, largest) spend lift per customer of a treatment over control."""
        c = self.control.spend_per_customer
        lifts = [a.spend_per_customer - c for a in self.treatments.values()]
        return min(lifts), max(lifts)


HILLSTROM = PublishedTest(
    name="Hillstrom, MineThatData E-Mail Analytics challenge (2008)",
    source="https://blog.minethatdata.com/2008/03/minethatdata-e-mail-analytics-and-data.html",
    window_days=14,
    control=Arm(customers=21_306, visitors=2_262, purchasers=122, spend=13_908.33),
    treatments={
        "womens_email": Arm(customers=21_387, visitors=3_238, purchasers=189, spend=23_038.11),
        "mens_email": Arm(customers=21_307, visitors=3_894, purchasers=267, spend=30_311.69),
    },
)
"""Per-arm totals of the public data set (64,000 rows, one per customer): control conversion
0.573%, e-mails +0.311 and +0.681 percentage points; spend $0.653 per customer, e-mails
+$0.424 and +$0.770; about $114 per purchaser in every arm."""


class Estimate(NamedTuple):
    """A mean with its 95% interval."""

    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class MessageAB:
    """What :func:`message_ab` measured (shares as fractions, money in the scenario's
    currency, per customer in the test)."""

    scenario: str
    business: str  # the scenario's: spend is purchases (transactional) or fees
    offer: str
    statuses: tuple[str, ...]
    seeds: tuple[int, ...]
    window_days: int
    history_days: int
    customers: int  # in the test, summed over seeds
    opened: float  # share of the sent offers that were opened
    control_conversion: float
    control_spend: float
    conversion_lift: Estimate
    spend_lift: Estimate

    @property
    def control_spend_per_buyer(self) -> float:
        return self.control_spend / self.control_conversion if self.control_conversion else 0.0

    def against(self, published: PublishedTest = HILLSTROM) -> dict[str, tuple[float, float]]:
        """The published ranges this test is judged by: the conversion lift, and the spend
        lift scaled to this scenario's spend per buyer (``published`` spend lifts x control
        spend per buyer here / there: purchase values differ between businesses)."""
        scale = self.control_spend_per_buyer / published.control.spend_per_purchaser
        low, high = published.spend_lifts()
        return {
            "conversion_lift": published.conversion_lifts(),
            "spend_lift": (low * scale, high * scale),
        }


def message_ab(
    scenario: Scenario,
    offer: Offer,
    seeds: Sequence[int] = (1, 2, 3),
    window_days: int = 14,
    history_days: int = 365,
    statuses: Sequence[str] = OBSERVED_STATUSES,
) -> MessageAB:
    """Run ``offer`` as a one-off A/B test on ``scenario``'s recent customers (module doc)."""
    check_int("window_days", window_days, 1, 365)
    check_int("history_days", history_days, 1, 3650)
    if not seeds:
        raise ValueError("seeds: empty; expected at least one seed")
    if not statuses:
        raise ValueError(f"statuses: empty; allowed: some of {', '.join(OBSERVED_STATUSES)}")
    for status in statuses:
        check_choice("statuses", status, OBSERVED_STATUSES)
    day = max(0, history_days - scenario.warmup_days)
    if day + window_days > scenario.horizon_days:
        raise ValueError(
            f"scenario.horizon_days: {scenario.horizon_days}; the test needs at least "
            f"{day + window_days} (the send on day {day}, then {window_days} days)"
        )
    test = replace(offer, eligible=tuple(statuses))
    runs = [_paired_run(scenario, test, seed, day, window_days, history_days) for seed in seeds]
    control, lift = (np.concatenate([r[k] for r in runs], axis=1) for k in (0, 1))
    if control.shape[1] == 0:
        raise ValueError(
            f"no customer qualifies: none active within {history_days} days, reachable on "
            f"{offer.channel} and {' or '.join(statuses)} on day {day}"
        )
    return MessageAB(
        scenario=scenario.name,
        business=scenario.business,
        offer=offer.name,
        statuses=tuple(statuses),
        seeds=tuple(seeds),
        window_days=window_days,
        history_days=history_days,
        customers=int(control.shape[1]),
        opened=float(np.mean(np.concatenate([r[2] for r in runs]))),
        control_conversion=float(control[0].mean()),
        control_spend=float(control[1].mean()),
        conversion_lift=_interval(lift[0]),
        spend_lift=_interval(lift[1]),
    )


def _paired_run(
    scenario: Scenario, offer: Offer, seed: int, day: int, window: int, history: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One seed: (2, customers) conversion and spend without the offer, (2, customers)
    their differences with it, and whether each sent offer was opened."""
    runs = [Simulation(scenario, Catalogue((offer,)), seed=seed) for _ in range(2)]
    for sim in runs:
        sim.run_until(day)
    pop = runs[0].pop
    status = observed_status(pop, slice(None), day, scenario)
    recent = pop.last_activity >= day - history
    reachable = pop.reachable[:, CHANNELS.index(offer.channel)]
    codes = [OBSERVED_STATUSES.index(s) for s in offer.eligible]
    users = np.flatnonzero(recent & reachable & np.isin(status, codes))
    before = [_totals(sim, users) for sim in runs]
    sent = runs[1].offer(users, np.zeros(users.size, dtype=np.int64))
    for sim in runs:
        sim.run_until(day + window)
    control, treated = (_totals(sim, users) - b for sim, b in zip(runs, before, strict=True))
    control[0], treated[0] = control[0] > 0, treated[0] > 0  # bought at all: conversion
    return control, treated - control, sent.opened[sent.sent]


def _totals(sim: Simulation, users: np.ndarray) -> np.ndarray:
    """(2, users) float64: activity count and money paid so far (purchases at the user's
    basket value, or subscription fees)."""
    pop = sim.pop
    count = pop.total_sessions[users].astype(np.float64)
    if sim.scenario.is_subscription:
        return np.stack([count, pop.money[REVENUE, users].astype(np.float64)])
    return np.stack([count, count * pop.basket[users]])


def _interval(values: np.ndarray) -> Estimate:
    """Mean and 95% t-interval of ``values`` (a point when they do not vary)."""
    mean = float(values.mean())
    se = float(values.std(ddof=1) / np.sqrt(values.size)) if values.size > 1 else 0.0
    if se == 0.0:
        return Estimate(mean, mean, mean)
    low, high = stats.t.interval(0.95, values.size - 1, loc=mean, scale=se)
    return Estimate(mean, float(low), float(high))
