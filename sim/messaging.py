"""Delivering offers: eligibility, reachability, frequency caps, fatigue, opens, unsubscribes.

``deliver`` is the one place an offer touches a user. It refuses what cannot be sent (and
says why), charges what is sent, and switches on the effects of what is opened. The work is
done per user by the compiled kernels of :mod:`sim.kernel.delivery`; this module checks the
request and packs the scenario, the catalogue and the population for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from sim.constants import CHANNELS, OFFER_KINDS
from sim.kernel import arrays_of
from sim.kernel import delivery as K
from sim.ledger import Ledger
from sim.offers import OBSERVED_STATUSES, Catalogue
from sim.population import Population
from sim.scenario import Scenario

REFUSAL_REASONS = ("ok", "not_eligible", "unreachable", "frequency_cap")
OK, NOT_ELIGIBLE, UNREACHABLE, CAPPED = K.OK, K.NOT_ELIGIBLE, K.UNREACHABLE, K.CAPPED
DISCOUNT, FREE_TRIAL, RECOMMENDATION, SUPPORT, CONTENT_MESSAGE, REMINDER = range(6)


class Delivery(NamedTuple):
    """What happened to each requested (user, offer) pair, in request order."""

    users: np.ndarray
    offers: np.ndarray
    refusal: np.ndarray  # int8 index into REFUSAL_REASONS (0: sent)
    opened: np.ndarray  # bool
    unsubscribed: np.ndarray  # bool
    message_cost: np.ndarray  # float32 charged per send
    support_cost: np.ndarray  # float32 charged per support contact made
    unsubscribe_cost: np.ndarray  # float32 charged per opt-out (the reachability lost)

    @property
    def sent(self) -> np.ndarray:
        return self.refusal == OK


def check_request(users: np.ndarray, offers: np.ndarray) -> None:
    """The shape of an offer request (the delivery kernel checks the ids before any change)."""
    if users.shape != offers.shape or users.ndim != 1:
        raise ValueError(
            f"offers: users {users.shape} and offers {offers.shape} must be 1-d and equal length"
        )


def raise_request_error(error: int, n_users: int, n_offers: int) -> None:
    """The delivery kernel's verdict on a request's ids, as a clear error."""
    if error == K.BAD_USER:
        raise ValueError(f"offers.users: ids must be in [0, {n_users - 1}]")
    if error == K.BAD_OFFER:
        raise ValueError(f"offers.offer: ids must be in [0, {n_offers - 1}] (the catalogue)")
    if error == K.TWICE:
        raise ValueError("offers.users: a user appears twice; at most one offer per user per day")


@dataclass(frozen=True)
class OfferTable:
    """A catalogue as arrays (one entry per offer), resolved against a scenario's channels."""

    channel: np.ndarray  # index into CHANNELS
    send_cost: np.ndarray  # channel cost per send + the offer's own cost per send
    open_rate: np.ndarray
    unsubscribe_prob: np.ndarray
    unsubscribe_cost: np.ndarray  # the channel's value of a reachable customer lost
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
            unsubscribe_cost=arr([c.unsubscribe_cost for c in chans]),
            cap=arr([c.frequency_cap for c in chans], np.int64),
            eligible=arr([[s in o.eligible for s in OBSERVED_STATUSES] for o in offers], bool),
            kind=arr([OFFER_KINDS.index(o.kind) for o in offers], np.int64),
            lift=arr([o.lift for o in offers]),
            discount=arr([o.discount for o in offers]),
            duration=arr([o.duration_days for o in offers]),
            trial_days=arr([o.trial_days for o in offers]),
            support_cost=arr([o.support_cost for o in offers]),
        )


def delivery_params(scenario: Scenario) -> np.ndarray:
    """The scenario's messaging scalars in the order the delivery kernels read them."""
    dyn = scenario.dynamics
    q = np.zeros(K.N_PARAMS, dtype=np.float64)
    q[K.INACTIVE_AFTER] = scenario.inactive_after_days
    q[K.SUBSCRIPTION] = float(scenario.is_subscription)
    q[K.FATIGUE_HALFLIFE] = dyn.fatigue_halflife_days
    q[K.FATIGUE_PER_MESSAGE] = dyn.fatigue_per_message
    q[K.NUDGE_DAYS] = dyn.nudge_days
    q[K.NUDGE_LIFT] = dyn.nudge_lift
    q[K.HORIZON] = scenario.horizon_days
    return q


def _ids(users: np.ndarray | slice, n: int) -> np.ndarray:
    return np.arange(n)[users] if isinstance(users, slice) else np.asarray(users, np.int64)


def refusals(
    pop: Population,
    users: np.ndarray,
    offers: np.ndarray,
    day: float,
    scenario: Scenario,
    table: OfferTable,
) -> np.ndarray:
    """Why each requested offer cannot be sent (0 where it can)."""
    users, offers = _ids(users, pop.n), np.asarray(offers, np.int64)
    return K.refusals(
        users, offers, float(day), delivery_params(scenario), arrays_of(K.REACH, table, pop)
    )


class Mailer:
    """Sends offers to one population: the delivery kernel's arguments packed once."""

    def __init__(
        self, pop: Population, table: OfferTable, params: np.ndarray, ledger: Ledger
    ) -> None:
        self.n_users, self.n_offers = pop.n, table.kind.size
        self.args = (params, arrays_of(K.SENDING, table, pop), ledger.money, ledger.counters)
        self.mask_args = (params, arrays_of(K.REACH, table, pop))

    def mask(self, users: np.ndarray, day: float) -> np.ndarray:
        """(users, 1 + offers) bool: which offers each of ``users`` (int64 ids) can be sent
        on ``day`` (column 0, nothing, always can): the refusal checks of :meth:`send`."""
        return _mask(users, day, *self.mask_args)

    def send(
        self,
        users: np.ndarray,
        offers: np.ndarray,
        day: float,
        send_slot: int,
        stream: tuple[np.uint64, int],
    ) -> Delivery:
        """Send offers ``offers[i]`` to users ``users[i]`` on ``day``.

        ``stream`` is (root key, call number) of the offers' per-user random streams; the
        ledger receives the counts and the message, support and opt-out costs of the day's
        week.
        """
        check_request(users, offers)
        n = users.size
        refusal = np.zeros(n, dtype=np.int8)
        flags = np.zeros((2, n), dtype=bool)
        costs = np.zeros((3, n), dtype=np.float32)
        root, call = stream
        error = _deliver(
            users, offers, day, send_slot, root, call, *self.args, refusal, flags, costs
        )
        if error:
            raise_request_error(error, self.n_users, self.n_offers)
        return Delivery(users, offers, refusal, flags[0], flags[1], *costs)


_deliver: Callable[..., int] = K.deliver
_mask: Callable[..., np.ndarray] = K.action_mask  # numba's stub cannot count *args
