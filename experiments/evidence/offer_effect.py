"""What an offer does in business terms: extra returns within 28 days per 1,000 customers
sent it, from a quick simulated campaign; and the lift that gives a wanted effect.

An offer's ``lift`` (the log-hazard boost to coming back per unit of the trait it matches)
means little to a retention team. Here it is measured the way a company measures an offer
(``experiments.jobs.offer_lifts.simulated_campaign``): a randomised campaign
(``agents.reference.Campaign``: every customer seen inactive or cancelled, once, sent one of
the offers or held out) read as a logged campaign is (``sim.calibration.campaigns``): the
share of those sent the offer who come back (resubscription, session or purchase) within the
window, less the holdout's, x 1,000, with Newcombe's 95% interval.

A campaign draws only customers who can be sent every one of its offers, so one campaign for
a whole catalogue measures every offer on the customers all of them reach: in streaming only
cancelled customers (the free trial goes to no one else) reachable by email, SMS and push:
1,363 of 20,000 in a 60-day run, with intervals of +-50 per 1,000. The named offers are
therefore grouped by which lapsed customers can be sent them (channel and eligible statuses:
the same refusal rules), and each group is one campaign with one holdout, its share 1 / (1 +
sqrt(k)) for k offers (a holdout shared by k comparisons is best sqrt(k) times an arm: that
minimises each offer-vs-holdout difference's variance; one offer: half and half).
Streaming's seven offers take four simulations, every one on the same customers (one seed),
so a changed lift moves its offer's effect and nothing else.

Every customer lapsed on the first day is drawn then, so a horizon one day past the window,
:data:`DAYS`, measures a campaign sent once to the lapsed base, with the window after it
simulated. A longer run adds those who lapse later (a draw counts when its whole window is
inside the run): in streaming a 120-day run has half as many customers again and takes 1.6
times as long; with 200,000 users its figures differed by -3 to +9 per 1,000 (the recently
lapsed respond a little more), well inside the intervals of the 20,000-user default.

Those intervals are wide, +-12 to +-32 per 1,000 (streaming, 20,000 users; half as wide
takes four times the customers): few of those sent an offer open it, and an arm is one or two
thousand customers. How an offer's effect moves with its lift is sharp (the same customers
at every lift); its level is not. :func:`lift_for` finds by bisection on a log scale
(``experiments.jobs.offer_lifts.bisect``) the lift at which an offer's effect meets a target
on those customers. The effect is a step function of the lift (a customer comes back within
the window or does not), flat at small lifts (below about 0.3 a 14-day boost rarely changes
whether anyone comes back)::

    python -m experiments.evidence.offer_effect        # streaming, 20,000 users, 29 days
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from numbers import Real

import numpy as np

from experiments.jobs.offer_lifts import LIFT_RANGE, bisect, simulated_campaign
from sim import presets
from sim.naive import TRAIT_OF
from sim.offers import Catalogue, Offer
from sim.scenario import Scenario
from sim.validation import check_int

WINDOW = 28  # days after the send in which a return counts
USERS = 20_000  # customers simulated by default
MIN_USERS = 1_000
MAX_USERS = 50_000_000  # the scenario's own ceiling
DAYS = WINDOW + 1  # the quick horizon: the first day's draws and their window (module doc)
LAPSED = ("inactive", "churned")  # the statuses a campaign draws


@dataclass(frozen=True, kw_only=True)
class Effect:
    """One offer's simulated effect (nan with ``reached`` 0 when no one could be sent it)."""

    offer: str
    lift: float
    per_1000: float  # extra returns within the window per 1,000 sent: (treated - holdout) x 1000
    low: float  # its 95% interval (Newcombe), same units
    high: float
    reached: int  # customers sent the offer in the simulated campaign
    moves_with_lift: bool  # False when the lift does nothing (a reminder: dynamics.nudge_lift)


def moves_with_lift(offer: Offer) -> bool:
    """Whether ``offer``'s effect depends on its lift: it matches a trait (a reminder matches
    none and acts only through the message itself, ``dynamics.nudge_lift``)."""
    return offer.kind in TRAIT_OF


def holdout_share(k: int) -> float:
    """The holdout of a campaign of ``k`` offers: 1 / (1 + sqrt(k)) (see the module doc)."""
    return 1.0 / (1.0 + math.sqrt(k))


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


def _groups(catalogue: Catalogue, names: Sequence[str]) -> list[tuple[str, ...]]:
    """``names`` grouped by which lapsed customers can be sent them (channel and eligible
    lapsed statuses), each group in catalogue order, the groups in the order of their first
    offer; offers for no lapsed status are left out (no campaign can draw for them)."""
    key: dict[tuple[str, frozenset[str]], list[str]] = {}
    for offer in catalogue.offers:
        statuses = frozenset(offer.eligible) & frozenset(LAPSED)
        if offer.name in names and statuses:
            key.setdefault((offer.channel, statuses), []).append(offer.name)
    return [tuple(group) for group in key.values()]


def _measure(
    scenario: Scenario, catalogue: Catalogue, group: tuple[str, ...], window: int, seed: int
) -> dict[str, Effect]:
    """One campaign of ``group`` (scenario already resized): each offer's :class:`Effect`."""
    table = simulated_campaign(scenario, catalogue, group, holdout_share(len(group)), window, seed)
    sent = np.nan_to_num(table.back_n_treated.to_numpy(dtype=float)).astype(int)
    per_1000, low, high = (
        10.0 * table[c].to_numpy(dtype=float)
        for c in ("back_effect_pp", "back_low_pp", "back_high_pp")
    )
    out = {}
    for i, name in enumerate(group):
        offer = catalogue.offers[catalogue.index(name)]
        n = int(sent[i])
        out[name] = Effect(
            offer=name,
            lift=float(offer.lift),
            per_1000=float(per_1000[i]) if n else math.nan,
            low=float(low[i]) if n else math.nan,
            high=float(high[i]) if n else math.nan,
            reached=n,
            moves_with_lift=moves_with_lift(offer),
        )
    return out


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
    it, at its catalogue lift, on ``scenario`` with ``users`` customers: one campaign per
    group of offers the same customers can be sent (see the module doc), in ``offers``'
    order. An offer no lapsed customer could be sent in the run has nan and ``reached`` 0.
    An offer's figure depends on the offers named with it (those sharing its campaign and
    holdout): :func:`lift_for` matches the whole catalogue's.

    The run is ``scenario``'s horizon: one of :data:`DAYS` days is the quick one (streaming,
    20,000 users: 2 to 3 s for its seven offers; a 365-day scenario takes 8 to 10 s)."""
    names = _check(scenario, catalogue, offers, users, window, seed)
    run = replace(scenario, n_users=users)
    measured: dict[str, Effect] = {}
    for group in _groups(catalogue, names):
        measured |= _measure(run, catalogue, group, window, seed)
    return [measured.get(name) or _nobody(catalogue, name) for name in names]


def _nobody(catalogue: Catalogue, name: str) -> Effect:
    """The effect of an offer no lapsed customer may be sent: unmeasured."""
    offer = catalogue.offers[catalogue.index(name)]
    nan = math.nan
    return Effect(
        offer=name,
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

    The offer is measured in the campaign :func:`effects` runs it in for the whole
    catalogue, so ``effects`` on the catalogue with the lift found gives the same figure.
    The lift is found by bisection on a log scale within ``LIFT_RANGE``
    (``experiments.jobs.offer_lifts``: 10 steps; 12 simulations with the range's ends),
    every step on the same customers; the effect moves in steps (a customer comes back or
    does not), so the answer is the measured lift of the last bracket whose effect is
    nearer the target, within a few per 1,000 of it at 20,000 users. A target outside the
    effects at the range's ends is refused, naming them; so is an offer whose effect does
    not move with its lift (a reminder: before any simulation)."""
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
    groups = [g for g in _groups(catalogue, catalogue.names) if offer in g]
    if not groups:
        raise ValueError(
            f"{key}: {target:g}; {offer!r} is for {', '.join(base.eligible)} customers only: a "
            f"campaign draws the lapsed ({', '.join(LAPSED)}), so it has no effect to set"
        )
    group, run = groups[0], replace(scenario, n_users=users)

    def at(lift: float) -> Effect:
        moved = tuple(replace(o, lift=lift) if o.name == offer else o for o in catalogue.offers)
        return _measure(run, replace(catalogue, offers=moved), group, window, seed)[offer]

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
            f", {users:,} users, {scenario.horizon_days} days, seed {seed})"
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
