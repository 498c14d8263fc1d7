"""Delivering offers: eligibility, reachability, frequency caps, fatigue, opens, unsubscribes.

``deliver`` is the one place an offer touches a user. It refuses what cannot be sent (and
says why), charges what is sent, and switches on the effects of what is opened.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.constants import CHANNELS, CHURNED, MESSAGE_COST, SUPPORT_COST
from sim.engine import next_effect_end
from sim.observe import observed_status
from sim.offers import OBSERVED_STATUSES, Catalogue, Offer
from sim.population import SEND_WEEKS, Population
from sim.scenario import Scenario

REFUSAL_REASONS = ("ok", "not_eligible", "unreachable", "frequency_cap")
OK, NOT_ELIGIBLE, UNREACHABLE, CAPPED = range(4)


@dataclass(frozen=True)
class Delivery:
    """What happened to each requested (user, offer) pair, in request order."""

    users: np.ndarray
    offers: np.ndarray
    refusal: np.ndarray  # int8 index into REFUSAL_REASONS (0: sent)
    opened: np.ndarray  # bool
    unsubscribed: np.ndarray  # bool
    message_cost: np.ndarray  # float32 charged per send
    support_cost: np.ndarray  # float32 charged per support contact made

    @property
    def sent(self) -> np.ndarray:
        return self.refusal == OK


def _trait(pop: Population, users: np.ndarray, offer: Offer) -> np.ndarray:
    """The latent trait an offer's kind matches."""
    return {
        "discount": pop.price_sens,
        "free_trial": pop.content_need,
        "content_message": pop.content_need,
        "recommendation": pop.friction,
        "support": pop.tech,
    }.get(offer.kind, np.zeros_like(pop.price_sens))[users]


def check_request(users: np.ndarray, offers: np.ndarray, n_users: int, n_offers: int) -> None:
    """Validate an offer request before any state changes."""
    if users.shape != offers.shape or users.ndim != 1:
        raise ValueError(
            f"offers: users {users.shape} and offers {offers.shape} must be 1-d and equal length"
        )
    if users.size and (users.min() < 0 or users.max() >= n_users):
        raise ValueError(f"offers.users: ids must be in [0, {n_users - 1}]")
    if offers.size and (offers.min() < 0 or offers.max() >= n_offers):
        raise ValueError(f"offers.offer: ids must be in [0, {n_offers - 1}] (the catalogue)")
    if users.size > 1 and (np.diff(np.sort(users)) == 0).any():
        raise ValueError("offers.users: a user appears twice; at most one offer per user per day")


def refusals(
    pop: Population,
    users: np.ndarray,
    offers: np.ndarray,
    day: float,
    scenario: Scenario,
    catalogue: Catalogue,
) -> np.ndarray:
    """Why each requested offer cannot be sent (0 where it can)."""
    status = observed_status(pop, users, day, scenario)
    eligible = np.array(
        [[s in o.eligible for s in OBSERVED_STATUSES] for o in catalogue.offers], dtype=bool
    )
    channel = np.array([CHANNELS.index(o.channel) for o in catalogue.offers], dtype=np.int64)
    cap = np.array([scenario.channel(o.channel).frequency_cap for o in catalogue.offers])
    ch = channel[offers]
    recent = pop.sends_week[ch, :, users].sum(axis=1)
    refusal = np.zeros(users.size, dtype=np.int8)
    refusal[recent >= cap[offers]] = CAPPED
    refusal[~pop.reachable[users, ch]] = UNREACHABLE
    refusal[~eligible[offers, status]] = NOT_ELIGIBLE
    return refusal


def deliver(
    pop: Population,
    users: np.ndarray,
    offers: np.ndarray,
    day: float,
    send_slot: int,
    scenario: Scenario,
    catalogue: Catalogue,
    rng: np.random.Generator,
) -> Delivery:
    """Send offers ``offers[i]`` to users ``users[i]`` on ``day``."""
    check_request(users, offers, pop.n, len(catalogue))
    refusal = refusals(pop, users, offers, day, scenario, catalogue)
    opened = np.zeros(users.size, dtype=bool)
    unsub = np.zeros(users.size, dtype=bool)
    msg_cost = np.zeros(users.size, dtype=np.float32)
    sup_cost = np.zeros(users.size, dtype=np.float32)
    u = rng.random((2, users.size))
    for k, offer in enumerate(catalogue.offers):
        mine = np.flatnonzero((offers == k) & (refusal == OK))
        if mine.size:
            o, s, m, c = _send(pop, users[mine], k, offer, day, send_slot, scenario, u[:, mine])
            opened[mine], unsub[mine], msg_cost[mine], sup_cost[mine] = o, s, m, c
    return Delivery(users, offers, refusal, opened, unsub, msg_cost, sup_cost)


def _send(
    pop: Population,
    users: np.ndarray,
    offer_index: int,
    offer: Offer,
    day: float,
    send_slot: int,
    scenario: Scenario,
    u: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    dyn = scenario.dynamics
    ch = scenario.channel(offer.channel)
    c = CHANNELS.index(offer.channel)
    decay = np.exp2(-(day - pop.fatigue_day[users]) / dyn.fatigue_halflife_days)
    fatigue = pop.fatigue[users] * np.where(np.isfinite(decay), decay, 0.0)
    p_open = (
        pop.responsiveness[users, c] * ch.open_rate * np.exp(-dyn.fatigue_per_message * fatigue)
    )
    opened = u[0] < p_open
    unsub = u[1] < np.minimum(1.0, ch.unsubscribe_prob * (1.0 + fatigue))
    pop.fatigue[users] = (fatigue + 1.0).astype(np.float32)
    pop.fatigue_day[users] = day
    pop.sends_week[c, send_slot % SEND_WEEKS, users] += 1
    pop.reachable[users[unsub], c] = False
    pop.n_offers[users] += 1
    pop.last_offer[users] = offer_index
    pop.last_offer_day[users] = day
    pop.last_opened[users] = opened.astype(np.int8)
    pop.n_opened[users[opened]] += 1
    cost = np.full(users.size, ch.cost_per_send + offer.cost_per_send, dtype=np.float32)
    support = opened & (offer.kind == "support")
    cost_support = np.where(support, offer.support_cost, 0.0).astype(np.float32)
    in_horizon = day >= 0
    if in_horizon:
        pop.money[MESSAGE_COST, users] += cost
        pop.money[SUPPORT_COST, users] += cost_support
        pop.messages[users] += 1
        pop.unsubscribed[users[unsub]] += 1
    _switch_on(pop, users[opened], offer, day, dyn.nudge_days, dyn.nudge_lift)
    return opened, unsub, cost, cost_support


def _switch_on(
    pop: Population, users: np.ndarray, offer: Offer, day: float, nudge_days: int, nudge: float
) -> None:
    """Start the effects of an opened offer."""
    if users.size == 0:
        return
    window = np.float32(day + max(nudge_days, 1))
    lift = nudge + offer.lift * _trait(pop, users, offer)
    active = pop.boost_until[users] > day
    pop.boost[users] = np.where(active, np.maximum(pop.boost[users], lift), lift)
    pop.boost_until[users] = np.maximum(pop.boost_until[users], window)
    until = np.float32(day + offer.duration_days)
    if offer.kind == "discount":
        pop.disc_until[users] = until
        pop.disc_depth[users] = offer.discount
    elif offer.kind == "free_trial":
        _grant_trial(pop, users, offer, day, window)
    elif offer.kind == "recommendation":
        pop.rec_until[users] = np.maximum(pop.rec_until[users], until)
    elif offer.kind == "support":
        pop.fix_until[users] = np.maximum(pop.fix_until[users], until)
    elif offer.kind == "content_message":
        pop.content_until[users] = np.maximum(pop.content_until[users], window)
    pop.next_change[users] = next_effect_end(pop, users, day)


def _grant_trial(
    pop: Population, users: np.ndarray, offer: Offer, day: float, window: np.float32
) -> None:
    """Churned users get free days if they return within the window; others get them now."""
    churned = pop.state[users] == CHURNED
    pop.trial_len[users] = offer.trial_days
    pop.trial_window_until[users[churned]] = window
    now = users[~churned]
    pop.trial_until[now] = np.float32(day + offer.trial_days)
