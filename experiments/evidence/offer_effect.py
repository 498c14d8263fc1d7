"""What an offer does in business terms: extra returns within 28 days per 1,000 customers
sent it, measured on the same simulated customers with and without it; and the lift that
gives a wanted effect.

An offer's ``lift`` (the log-hazard boost to coming back per unit of the trait it matches)
means little to a retention team. Here it is measured as only a simulator can: the
simulator's own paired effect on the same customers, which no real campaign measures (a
company sees each customer once, sent the offer or not). The scenario is run to day 0 with
nothing sent; the customers then seen lapsed (observed inactive or churned) are copied as
they are (``Simulation.fork``: state, traits, history, reachability, frequency caps) and
carried on twice with one seed, so with the same random numbers each (common random
numbers, ``sim.streams``; the copies' seed is a look-ahead stream of the run's,
``Streams.lookahead_seed``, never the run's own numbers): once with nothing sent (the
control) and once with the offer sent on day 0 to every one of them who can be sent it
(``Simulation.mask``: reachable on its channel, eligible, under the frequency caps). For
each customer it was sent to (the delivery's ``sent`` flags) the two runs say whether they
came back within :data:`WINDOW` days of the send, as
``sim.calibration.campaigns.campaign_draws`` reads a logged campaign: an event-log row of
its ``BACK`` types (a resubscription, session or purchase: ``sim.records.event_times``, the
rows ``sim.records.event_log`` writes) dated 1 to ``window`` days after the send day.

The effect is 1,000 x the mean over them of (came back with the offer - came back without
it). Its 95% interval is a t interval on those per-user differences (each -1, 0 or 1): mean
+- t(0.975, n - 1) x sd / sqrt(n), clipped to +-1,000: the sampling error of these customers
as a sample of the scenario's; a rerun with the same seed gives the same figure, and where no
one's outcome differs the interval is 0 to 0. One control run serves every offer (each
offer: one run with it sent); a customer not sent the offer keeps their whole future, so an
offer's figure depends on no other offer. Only the send and the window after it are
simulated after day 0 (to day ``window + 1``, whatever the scenario's horizon, which must be
longer than the window; :data:`DAYS` is that horizon for a quick scenario).

Paired, the difference is 0 for every customer whose return the offer does not change, so
the intervals are narrow: streaming with the default :data:`USERS` (100,000), +-0.5 to +-3
per 1,000 (+-1 to +-6.5 with 20,000 users) where a randomised campaign with a holdout (its
arms are different customers) gives +-12 to +-32 with 20,000 and +-3.5 to +-10 with 200,000;
the campaign's figures at 200,000 agree with these within their intervals. On the same
customers the effect rises with the lift at every lift tried (0.01 to 20; module tests), though
not customer by customer (a changed path draws other numbers: a few of those who came back
at one lift do not at a higher one, more the other way round), and moves in small steps (a
customer comes back within the window or does not).

``winback calibrate`` fits lifts to logged campaigns the campaign way
(``experiments.jobs.offer_lifts``: a simulated randomised campaign with a holdout, read as
the log is), so a lift set here by its effect and one fitted to a campaign's effect agree
only within the campaign's interval. :func:`lift_for` finds by bisection on a log scale
(``experiments.jobs.offer_lifts.bisect``) the lift at which an offer's paired effect meets a
target on the same customers::

    python -m experiments.evidence.offer_effect        # streaming, 100,000 users, 29 days
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from numbers import Real

import numpy as np

from agents.evaluate import t_interval
from experiments.jobs.offer_lifts import LIFT_RANGE, bisect
from sim import presets
from sim.calibration.campaigns import BACK
from sim.naive import TRAIT_OF
from sim.observe import ACTIVE_SEEN, observed_status
from sim.offers import Catalogue, Offer
from sim.records import event_times
from sim.scenario import Scenario
from sim.simulation import Simulation
from sim.validation import check_int

WINDOW = 28  # days after the send in which a return counts
USERS = 100_000  # customers simulated by default (module doc)
MIN_USERS = 1_000
MAX_USERS = 50_000_000  # the scenario's own ceiling
DAYS = WINDOW + 1  # the runs' horizon: the send on day 0 and its window (module doc)
LAPSED = ("inactive", "churned")  # the observed statuses sent an offer


@dataclass(frozen=True, kw_only=True)
class Effect:
    """One offer's simulated effect (nan with ``reached`` 0 when no one could be sent it)."""

    offer: str
    lift: float
    per_1000: float  # extra returns within the window per 1,000 sent: 1000 x mean(with - without)
    low: float  # its 95% interval (t, on the per-user differences), same units
    high: float
    reached: int  # customers sent the offer on day 0
    moves_with_lift: bool  # False when the lift does nothing (a reminder: dynamics.nudge_lift)


def moves_with_lift(offer: Offer) -> bool:
    """Whether ``offer``'s effect depends on its lift: it matches a trait (a reminder matches
    none and acts only through the message itself, ``dynamics.nudge_lift``)."""
    return offer.kind in TRAIT_OF


def _check(
    scenario: Scenario,
    catalogue: Catalogue,
    offers: Sequence[str] | None,
    users: int,
    window: int,
    seed: int,
) -> tuple[str, ...]:
    """The named offers (default: all), checked with the other arguments; before any run."""
    allowed = ", ".join(catalogue.names)
    if offers is None:
        names = tuple(catalogue.names)
    elif isinstance(offers, str):
        raise ValueError(f"offers: {offers!r}; allowed: a list of offer names ({allowed})")
    else:
        names = tuple(offers)
    if not names:
        raise ValueError(f"offers: []; allowed: one or more of {allowed}")
    for name in names:
        if name not in catalogue.names:
            raise ValueError(f"offer: {name!r} is unknown; allowed: {allowed}")
    if len(set(names)) != len(names):
        raise ValueError(f"offers: {list(names)}; allowed: distinct offer names")
    if not _is_int(users) or not MIN_USERS <= users <= MAX_USERS:
        raise ValueError(
            f"users: {users!r}; allowed: an integer from {MIN_USERS:,} to {MAX_USERS:,} "
            "(fewer leave too few customers lapsed to measure)"
        )
    if not _is_int(window) or not 1 <= window <= 365:
        raise ValueError(f"window: {window!r}; allowed: an integer number of days from 1 to 365")
    if window >= scenario.horizon_days:
        raise ValueError(
            f"window: {window!r}; allowed: fewer days than the scenario's horizon "
            f"({scenario.horizon_days}): a return counts only when the whole window after the "
            "send is simulated"
        )
    check_int("seed", seed, 0)
    return names


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class _DayZero:
    """The scenario run to day 0 with nothing sent, and who the copies measured from there
    are: the customers then seen lapsed (observed inactive or churned)."""

    sim: Simulation  # at day 0
    lapsed: np.ndarray  # their ids, sorted (the copies' order)
    can: np.ndarray  # (lapsed, offers) bool: which offers each can be sent today (the mask)
    seed: int  # the copies' random numbers: a look-ahead stream of the run's, never its own


def _day_zero(scenario: Scenario, catalogue: Catalogue, seed: int) -> _DayZero:
    sim = Simulation(scenario, catalogue, seed=seed)
    sim.run_until(0)
    lapsed = np.flatnonzero(observed_status(sim.pop, slice(None), 0, scenario) != ACTIVE_SEEN)
    can = sim.mask(lapsed)[:, 1:] if lapsed.size else np.zeros((0, len(catalogue)), dtype=bool)
    return _DayZero(sim, lapsed, can, sim.streams.lookahead_seed(0))


def _came_back(sim: Simulation, window: int) -> np.ndarray:
    """Per user of run ``sim`` (from day 0 to ``window + 1`` or later): whether they came
    back within ``window`` days of day 0 as ``campaign_draws`` reads a log: a row of
    ``BACK`` dated after day 0 and at most ``window`` days after it."""
    user, when = event_times(sim, BACK)
    day = np.floor(when)  # the log's date
    back = np.zeros(sim.pop.n, dtype=bool)
    back[user[(day > 0) & (day <= window)]] = True
    return back


def _run(start: _DayZero, offer: int | None, window: int) -> tuple[np.ndarray, np.ndarray]:
    """The lapsed carried on from day 0 to ``window + 1``, ``offer`` (catalogue index; None:
    nothing) sent first to those who can be sent it: the copies it was sent to (positions
    in ``start.lapsed``) and, for every copy, whether they came back within the window."""
    sim = start.sim.fork(start.seed, start.lapsed, record=True)
    sent = np.zeros(0, dtype=np.int64)
    if offer is not None:
        who = np.flatnonzero(start.can[:, offer])
        delivery = sim.offer(who, np.full(who.size, offer))
        sent = delivery.users[delivery.sent]
    sim.run_until(window + 1)
    return sent, _came_back(sim, window)


def _effect(offer: Offer, control: np.ndarray, sent: np.ndarray, back: np.ndarray) -> Effect:
    """The paired effect on the copies ``sent`` of the run whose outcomes are ``back``
    (``control``: the outcomes with nothing sent)."""
    n = int(sent.size)
    if not n:
        return _nobody(offer)
    ci = t_interval(back[sent].astype(np.float64) - control[sent])
    low, high = (ci["ci_low"], ci["ci_high"]) if n > 1 else (-1.0, 1.0)  # one: no interval
    return Effect(
        offer=offer.name,
        lift=float(offer.lift),
        per_1000=1000.0 * ci["mean"],
        low=1000.0 * max(low, -1.0),
        high=1000.0 * min(high, 1.0),
        reached=n,
        moves_with_lift=moves_with_lift(offer),
    )


def _measure(start: _DayZero, control: np.ndarray, name: str, window: int) -> Effect:
    """``name``'s paired effect: one run of the copies with it sent."""
    catalogue = start.sim.catalogue
    k = catalogue.index(name)
    if not start.can[:, k].any():
        return _nobody(catalogue.offers[k])
    sent, back = _run(start, k, window)
    return _effect(catalogue.offers[k], control, sent, back)


def _control(start: _DayZero, window: int) -> np.ndarray:
    """Whether each copy came back within the window with nothing sent (none if no one can
    be sent any offer: nothing to compare)."""
    return _run(start, None, window)[1] if start.can.any() else np.zeros(0, dtype=bool)


def effects(
    scenario: Scenario,
    catalogue: Catalogue,
    offers: Sequence[str] | None = None,
    *,
    users: int = USERS,
    window: int = WINDOW,
    seed: int = 0,
) -> list[Effect]:
    """Each named offer's (default: all) extra returns within ``window`` days per 1,000 sent
    it, at its catalogue lift, on ``scenario`` with ``users`` customers: the paired effect on
    the same customers (see the module doc), in ``offers``' order. An offer no lapsed
    customer could be sent on day 0 has nan and ``reached`` 0. An offer's figure depends on
    no other offer's.

    The scenario run to day 0, then the lapsed carried on with nothing sent and once per
    offer, each to day ``window + 1`` (streaming, 100,000 users: about 1 s for its seven
    offers, whatever the horizon)."""
    names = _check(scenario, catalogue, offers, users, window, seed)
    start = _day_zero(replace(scenario, n_users=users), catalogue, seed)
    control = _control(start, window)
    return [_measure(start, control, name, window) for name in names]


def _nobody(offer: Offer) -> Effect:
    """The effect of an offer no lapsed customer was sent: unmeasured."""
    nan = math.nan
    return Effect(
        offer=offer.name,
        lift=float(offer.lift),
        per_1000=nan,
        low=nan,
        high=nan,
        reached=0,
        moves_with_lift=moves_with_lift(offer),
    )


def lift_for(
    scenario: Scenario,
    catalogue: Catalogue,
    offer: str,
    per_1000: float,
    *,
    users: int = USERS,
    window: int = WINDOW,
    seed: int = 0,
) -> Effect:
    """The lift at which ``offer``'s simulated effect meets ``per_1000`` extra returns per
    1,000 sent, as the :class:`Effect` measured at it (all else in ``catalogue`` as is).

    The effect is the paired one :func:`effects` measures (the control once, then the
    offer at each lift tried, all on the same customers with the same random numbers), so
    ``effects`` on the catalogue with the lift found gives the same figure. The lift is
    found by bisection on a log scale within ``LIFT_RANGE`` (``experiments.jobs.offer_lifts``:
    10 steps; 12 lifts with the range's ends, each a run to day 0 and one of the copies:
    streaming, 100,000 users, about 5 s); the effect moves in steps (a customer comes back
    or does not), so the answer is the measured lift of the last bracket whose effect is
    nearer the target. A target outside the effects at the range's ends is refused, naming
    them; so is an offer whose effect does not move with its lift (a reminder) or that no
    lapsed customer may be sent (before any simulation)."""
    key = f"offers.{offer}.effect"
    _check(scenario, catalogue, [offer], users, window, seed)
    if not isinstance(per_1000, Real) or isinstance(per_1000, bool):
        raise ValueError(f"{key}: {per_1000!r}; allowed: a number of returns per 1,000 sent")
    target = float(per_1000)
    if not math.isfinite(target) or not -1000.0 <= target <= 1000.0:
        raise ValueError(f"{key}: {per_1000!r}; allowed: a finite number from -1000 to 1000")
    base = catalogue.offers[catalogue.index(offer)]
    if not moves_with_lift(base):
        raise ValueError(
            f"{key}: {target:g}; a {base.kind} matches no trait, so its lift does nothing: it "
            "acts through the message itself (dynamics.nudge_lift); allowed: an offer of kind "
            + ", ".join(TRAIT_OF)
        )
    if not set(base.eligible) & set(LAPSED):
        raise ValueError(
            f"{key}: {target:g}; {offer!r} is for {', '.join(base.eligible)} customers only: it "
            f"is sent to the lapsed ({', '.join(LAPSED)}), so it has no effect to set"
        )
    run = replace(scenario, n_users=users)
    control = _control(_day_zero(run, catalogue, seed), window)

    def at(lift: float) -> Effect:
        moved = tuple(replace(o, lift=lift) if o.name == offer else o for o in catalogue.offers)
        return _measure(
            _day_zero(run, replace(catalogue, offers=moved), seed), control, offer, window
        )

    seen: dict[float, Effect] = {}  # lift -> its effect: every simulation is kept

    def measure(lift: float) -> Effect:
        if lift not in seen:
            seen[lift] = at(lift)
        return seen[lift]

    lo, hi = (measure(lift) for lift in LIFT_RANGE)
    if not lo.reached:
        raise ValueError(
            f"{key}: {target:g}; no customer seen lapsed could be sent {offer!r} in the run "
            f"({users:,} users, {scenario.horizon_days} days): it has no effect to set"
        )
    if not hi.per_1000 > lo.per_1000:
        raise ValueError(
            f"{key}: {target:g}; {offer!r}'s effect does not move with its lift in this "
            f"scenario ({lo.per_1000:.1f} per 1,000 at lift {LIFT_RANGE[0]:g} and "
            f"{hi.per_1000:.1f} at {LIFT_RANGE[1]:g}): its trait is absent or the lift is "
            "drowned by the offer's other effects"
        )
    if not lo.per_1000 <= target <= hi.per_1000:
        raise ValueError(
            f"{key}: {target:g} per 1,000 is out of reach; allowed: {lo.per_1000:.1f} to "
            f"{hi.per_1000:.1f} (the effects at lifts {LIFT_RANGE[0]:g} and {LIFT_RANGE[1]:g}"
            f", {users:,} users, seed {seed})"
        )

    def effect(log_lift: np.ndarray) -> np.ndarray:
        return np.array([measure(float(np.exp(log_lift[0]))).per_1000])

    ends = np.log(np.array(LIFT_RANGE, dtype=float))
    middle = float(np.exp(bisect(effect, np.array([target]), ends[:1], ends[1:])[0]))
    # The effect is a step function of the lift: of the two measured lifts around the
    # bisection's last bracket (its middle is not measured), the one nearer the target.
    below = max(lift for lift in seen if lift <= middle)
    above = min(lift for lift in seen if lift >= middle)
    return min(seen[below], seen[above], key=lambda e: abs(e.per_1000 - target))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="streaming", choices=sorted(presets.SCENARIOS))
    parser.add_argument("--users", type=int, default=USERS)
    parser.add_argument("--days", type=int, default=DAYS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    scenario = presets.SCENARIOS[args.preset](n_users=args.users, horizon_days=args.days)
    catalogue = presets.offers_for(args.preset)
    start = time.perf_counter()
    rows = effects(scenario, catalogue, users=args.users, seed=args.seed)
    took = time.perf_counter() - start
    print(f"{args.preset}: {args.users:,} users, {args.days} days, seed {args.seed} ({took:.1f} s)")
    print(f"{'offer':18s} {'lift':>5s} {'per 1,000':>9s} {'95% interval':>16s} {'sent':>6s}")
    for e in rows:
        note = "" if e.moves_with_lift else "  (the message's own nudge: lift does nothing)"
        print(
            f"{e.offer:18s} {e.lift:5.2g} {e.per_1000:+9.1f} {e.low:+7.1f} to {e.high:+6.1f} "
            f"{e.reached:6,d}{note}"
        )


if __name__ == "__main__":
    main()
