"""Delivering offers: eligibility, reachability, frequency caps, fatigue, opens, unsubscribes.

``deliver`` is the one place an offer touches a user. It refuses what cannot be sent (and
says why), charges what is sent, and switches on the effects of what is opened.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.constants import CHANNELS, CHURNED, MESSAGE_COST, OFFER_KINDS, SUPPORT_COST
from sim.engine import next_effect_end
from sim.observe import observed_status
from sim.offers import OBSERVED_STATUSES, Catalogue
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


@dataclass(frozen=True)
class OfferTable:
    """A catalogue as arrays (one entry per offer), resolved against a scenario's channels."""

    channel: np.ndarray  # index into CHANNELS
    send_cost: np.ndarray  # channel cost per send + the offer's own cost per send
    open_rate: np.ndarray
    unsubscribe_prob: np.ndarray
    cap: np.ndarray  # the channel's frequency cap per four calendar weeks
    eligible: np.ndarray  # (offers, observed statuses) bool
    kind: np.ndarray  # index into OFFER_KINDS
    lift: np.ndarray
    discount: np.ndarray
    duration: np.ndarray
    trial_days: np.ndarray
    support_cost: np.ndarray

    @classmethod
    def build(cls, scenario: Scenario, catalogue: Catalogue) -> OfferTable:
        offers = catalogue.offers
        chans = [scenario.channel(o.channel) for o in offers]

        def arr(values: list, dtype: type = np.float64) -> np.ndarray:
            return np.array(values, dtype=dtype).reshape(len(offers), *np.shape(values)[1:])

        return cls(
            channel=arr([CHANNELS.index(o.channel) for o in offers], np.int64),
            send_cost=arr(
                [c.cost_per_send + o.cost_per_send for c, o in zip(chans, offers, strict=True)]
            ),
            open_rate=arr([c.open_rate for c in chans]),
            unsubscribe_prob=arr([c.unsubscribe_prob for c in chans]),
            cap=arr([c.frequency_cap for c in chans], np.int64),
            eligible=arr([[s in o.eligible for s in OBSERVED_STATUSES] for o in offers], bool),
            kind=arr([OFFER_KINDS.index(o.kind) for o in offers], np.int64),
            lift=arr([o.lift for o in offers]),
            discount=arr([o.discount for o in offers]),
            duration=arr([o.duration_days for o in offers]),
            trial_days=arr([o.trial_days for o in offers]),
            support_cost=arr([o.support_cost for o in offers]),
        )


# the latent trait each kind of offer works through (reminders match none)
TRAIT_OF_KIND = {
    OFFER_KINDS.index("discount"): "price_sens",
    OFFER_KINDS.index("free_trial"): "content_need",
    OFFER_KINDS.index("content_message"): "content_need",
    OFFER_KINDS.index("recommendation"): "friction",
    OFFER_KINDS.index("support"): "tech",
}
DISCOUNT, FREE_TRIAL, RECOMMENDATION, SUPPORT, CONTENT_MESSAGE, REMINDER = range(6)


def refusals(
    pop: Population,
    users: np.ndarray,
    offers: np.ndarray,
    day: float,
    scenario: Scenario,
    table: OfferTable,
) -> np.ndarray:
    """Why each requested offer cannot be sent (0 where it can)."""
    status = observed_status(pop, users, day, scenario)
    ch = table.channel[offers]
    recent = pop.sends_week[ch, :, users].sum(axis=1)
    refusal = np.zeros(users.size, dtype=np.int8)
    refusal[recent >= table.cap[offers]] = CAPPED
    refusal[~pop.reachable[users, ch]] = UNREACHABLE
    refusal[~table.eligible[offers, status]] = NOT_ELIGIBLE
    return refusal


def action_mask(
    pop: Population, users: np.ndarray, day: float, scenario: Scenario, table: OfferTable
) -> np.ndarray:
    """(users, 1 + offers) bool: which offers each user can be sent now (column 0, nothing,
    always can)."""
    # the three reasons of ``refusals``, with each channel's part computed once
    status = observed_status(pop, users, day, scenario)
    recent = pop.sends_week[:, :, users].sum(axis=1)  # (channels, users)
    reachable = pop.reachable[users].T  # (channels, users)
    mask = np.ones((users.size, 1 + table.kind.size), dtype=bool)
    for k in range(table.kind.size):
        ch = table.channel[k]
        ok = (recent[ch] < table.cap[k]) & reachable[ch] & table.eligible[k, status]
        mask[:, k + 1] = ok
    return mask


def deliver(
    pop: Population,
    users: np.ndarray,
    offers: np.ndarray,
    day: float,
    send_slot: int,
    scenario: Scenario,
    table: OfferTable,
    rng: np.random.Generator,
) -> Delivery:
    """Send offers ``offers[i]`` to users ``users[i]`` on ``day``."""
    check_request(users, offers, pop.n, table.kind.size)
    refusal = refusals(pop, users, offers, day, scenario, table)
    u = rng.random((2, users.size))
    sent = np.flatnonzero(refusal == OK)
    s_users, s_offers = users[sent], offers[sent]
    dyn = scenario.dynamics
    decay = np.exp2(-(day - pop.fatigue_day[s_users]) / dyn.fatigue_halflife_days)
    fatigue = pop.fatigue[s_users] * np.where(np.isfinite(decay), decay, 0.0)
    c = table.channel[s_offers]
    p_open = pop.responsiveness[s_users, c] * table.open_rate[s_offers]
    opened_s = u[0, sent] < p_open * np.exp(-dyn.fatigue_per_message * fatigue)
    unsub_s = u[1, sent] < np.minimum(1.0, table.unsubscribe_prob[s_offers] * (1.0 + fatigue))
    _record_send(pop, s_users, s_offers, c, day, send_slot, opened_s, unsub_s, fatigue)
    support = opened_s & (table.kind[s_offers] == SUPPORT)
    costs = np.zeros((2, users.size), dtype=np.float32)
    costs[0, sent] = table.send_cost[s_offers]
    costs[1, sent] = np.where(support, table.support_cost[s_offers], 0.0)
    if day >= 0:
        row = pop.money[MESSAGE_COST]
        row[s_users] += costs[0, sent]
        row = pop.money[SUPPORT_COST]
        row[s_users] += costs[1, sent]
        pop.messages[s_users] += 1
        pop.unsubscribed[s_users[unsub_s]] += 1
    _switch_on(
        pop, s_users[opened_s], s_offers[opened_s], day, dyn.nudge_days, dyn.nudge_lift, table
    )
    opened = np.zeros(users.size, dtype=bool)
    unsub = np.zeros(users.size, dtype=bool)
    opened[sent], unsub[sent] = opened_s, unsub_s
    return Delivery(users, offers, refusal, opened, unsub, costs[0], costs[1])


def _record_send(
    pop: Population,
    users: np.ndarray,
    offers: np.ndarray,
    channel: np.ndarray,
    day: float,
    send_slot: int,
    opened: np.ndarray,
    unsub: np.ndarray,
    fatigue: np.ndarray,
) -> None:
    """The observable trace of a send: offer history, fatigue, caps, reachability."""
    pop.fatigue[users] = (fatigue + 1.0).astype(np.float32)
    pop.fatigue_day[users] = day
    pop.sends_week[channel, send_slot % SEND_WEEKS, users] += 1
    pop.reachable[users[unsub], channel[unsub]] = False
    pop.n_offers[users] += 1
    pop.last_offer[users] = offers
    pop.last_offer_day[users] = day
    pop.last_opened[users] = opened.astype(np.int8)
    pop.n_opened[users[opened]] += 1
    bits = np.left_shift(np.uint32(1), offers.astype(np.uint32))
    pop.offers_sent[users] |= bits  # users are unique in a request (check_request)
    pop.offers_opened[users[opened]] |= bits[opened]


def _switch_on(
    pop: Population,
    users: np.ndarray,
    offers: np.ndarray,
    day: float,
    nudge_days: int,
    nudge: float,
    table: OfferTable,
) -> None:
    """Start the effects of opened offers (one per user)."""
    if users.size == 0:
        return
    kind = table.kind[offers]
    trait = np.zeros(users.size, dtype=np.float32)
    for code, name in TRAIT_OF_KIND.items():
        mine = kind == code
        trait[mine] = getattr(pop, name)[users[mine]]
    window = np.float32(day + max(nudge_days, 1))
    lift = nudge + table.lift[offers] * trait
    active = pop.boost_until[users] > day
    pop.boost[users] = np.where(active, np.maximum(pop.boost[users], lift), lift)
    pop.boost_until[users] = np.maximum(pop.boost_until[users], window)
    until = (day + table.duration[offers]).astype(np.float32)
    disc = kind == DISCOUNT
    pop.disc_until[users[disc]] = until[disc]
    pop.disc_depth[users[disc]] = table.discount[offers[disc]]
    for code, field in ((RECOMMENDATION, "rec_until"), (SUPPORT, "fix_until")):
        mine = users[kind == code]
        ends = getattr(pop, field)
        ends[mine] = np.maximum(ends[mine], until[kind == code])
    content = users[kind == CONTENT_MESSAGE]
    pop.content_until[content] = np.maximum(pop.content_until[content], window)
    trial = kind == FREE_TRIAL
    _grant_trial(pop, users[trial], table.trial_days[offers[trial]], day, window)
    pop.next_change[users] = next_effect_end(pop, users, day)


def _grant_trial(
    pop: Population, users: np.ndarray, days: np.ndarray, day: float, window: np.float32
) -> None:
    """Churned users get free days if they return within the window; others get them now."""
    churned = pop.state[users] == CHURNED
    pop.trial_len[users] = days
    pop.trial_window_until[users[churned]] = window
    now = ~churned
    pop.trial_until[users[now]] = (day + days[now]).astype(np.float32)
