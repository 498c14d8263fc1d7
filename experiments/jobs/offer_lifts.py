"""Offers calibrated to a logged campaign: each offer's ``lift`` set so that running the same
campaign (``agents.reference.Campaign``: the same offers and holdout share) on the
calibrated scenario moves the share of customers who come back within the attribution
window by what the log's randomised holdout measured (``sim.calibration.campaigns``).

The lifts are found together by bisection on a log scale, every trial on the same simulated
customers (common random numbers), so the simulated effect moves with the lift and not with
the draw. A lift's 95% interval is where the simulated effect meets the ends of the logged
interval widened by the simulated campaign's own sampling error (its customers are a sample
too: with as many as the log, the interval would otherwise be too narrow). An offer whose
effect does not move with its lift (a reminder acts through the message itself,
``dynamics.nudge_lift``, not through a trait) keeps its lift, with a note.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from tqdm import tqdm

from agents.base import as_agent
from agents.evaluate import AgentPolicy
from agents.reference import Campaign
from sim.calibration.campaigns import campaign_effects
from sim.calibration.eventlog import SIMULATED, validate_events
from sim.offers import Catalogue
from sim.records import event_log
from sim.scenario import Scenario
from sim.simulation import Simulation

LIFT_RANGE = (0.01, 20.0)  # the search box of a lift (log-hazard per unit of trait)
Z95 = 1.959964  # the normal quantile of a two-sided 95% interval
STEPS = 10


def bisect(
    effect: Callable[[np.ndarray], np.ndarray], goal: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """The log-lifts at which ``effect`` (increasing in each lift) meets ``goal``, each
    offer's by bisection between ``lo`` and ``hi`` (all offers in one simulation a step)."""
    lo, hi = lo.copy(), hi.copy()
    for _ in tqdm(range(STEPS), desc="fitting offer lifts", unit="simulation", leave=False):
        mid = (lo + hi) / 2
        below = effect(mid) < goal
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return (lo + hi) / 2


@dataclass(frozen=True)
class FittedOffers:
    catalogue: Catalogue
    table: pd.DataFrame  # per offer: logged effect and interval, simulated effect, lifts
    notes: tuple[str, ...]


def simulated_campaign(
    scenario: Scenario,
    catalogue: Catalogue,
    offers: tuple[str, ...],
    holdout_share: float,
    window: int,
    seed: int,
) -> pd.DataFrame:
    """The campaign run on ``scenario`` and measured as the log is: per offer (the index)
    the come-back effect against the holdout and its 95% interval, in points, and how many
    were sent the offer (``back_n_treated``)."""
    campaign = Campaign(offers=offers, holdout_share=holdout_share, seed=seed)
    policy = AgentPolicy(as_agent(campaign), scenario, catalogue, attribution_days=window)
    sim = Simulation(scenario, catalogue, seed=seed, policy=policy, record=True)
    sim.run()
    raw = event_log(sim, assignments=campaign.assignments())
    log = validate_events(raw, "simulated", limits=SIMULATED)
    columns = ["back_effect_pp", "back_low_pp", "back_high_pp", "back_n_treated"]
    effects = campaign_effects(log, window)
    if effects.empty:  # no one drawn (no one lapsed could be sent every offer): nothing measured
        return pd.DataFrame(np.nan, index=pd.Index(list(offers), name="offer"), columns=columns)
    return effects.set_index("offer").reindex(list(offers))[columns]


def fit_lifts(
    scenario: Scenario,
    catalogue: Catalogue,
    logged: pd.DataFrame,
    holdout_share: float,
    window: int,
    seed: int = 0,
) -> FittedOffers:
    """``catalogue`` with the lifts of the logged offers (one campaign's rows of
    :func:`sim.calibration.campaigns.campaign_effects`) fitted; see the module doc."""
    mine = logged[logged.offer.isin(catalogue.names)]
    offers = tuple(mine.offer)
    lo = np.full(len(offers), np.log(LIFT_RANGE[0]))
    hi = np.full(len(offers), np.log(LIFT_RANGE[1]))

    def with_lifts(log_lift: np.ndarray) -> Catalogue:
        lifts = dict(zip(offers, np.exp(log_lift), strict=True))
        out = [
            replace(o, lift=float(lifts[o.name])) if o.name in lifts else o
            for o in catalogue.offers
        ]
        return replace(catalogue, offers=tuple(out))

    def effect(x: np.ndarray) -> np.ndarray:
        sims = simulated_campaign(scenario, with_lifts(x), offers, holdout_share, window, seed)
        return sims.back_effect_pp.to_numpy()

    flat = np.abs(effect(hi) - effect(lo)) < 0.5  # the effect does not move with the lift

    logged_at = mine.set_index("offer").reindex(list(offers))
    point = bisect(effect, logged_at.back_effect_pp.to_numpy(), lo, hi)
    keep = {o.name: o.lift for o in catalogue.offers}
    fitted = with_lifts(point)
    fitted = replace(  # an offer whose effect does not move with its lift keeps it
        fitted,
        offers=tuple(
            replace(o, lift=keep[o.name]) if o.name in offers and flat[offers.index(o.name)] else o
            for o in fitted.offers
        ),
    )
    lift = {o.name: o.lift for o in fitted.offers}
    got = simulated_campaign(scenario, fitted, offers, holdout_share, window, seed)
    # The lift's interval: the effects at which the logged interval's ends are met, widened
    # by the simulated campaign's own noise (its customers are a sample too): each side of
    # the logged interval x sqrt(1 + (se simulated / se logged)^2).
    mid = logged_at.back_effect_pp.to_numpy()
    logged_se = (logged_at.back_high_pp - logged_at.back_low_pp).to_numpy() / (2 * Z95)
    simulated_se = (got.back_high_pp - got.back_low_pp).to_numpy() / (2 * Z95)
    widen = np.sqrt(1 + (simulated_se / np.maximum(logged_se, 1e-12)) ** 2)
    ends = {
        "low": bisect(effect, mid - (mid - logged_at.back_low_pp.to_numpy()) * widen, lo, hi),
        "high": bisect(effect, mid + (logged_at.back_high_pp.to_numpy() - mid) * widen, lo, hi),
    }
    table = mine[["offer", "back_effect_pp", "back_low_pp", "back_high_pp"]].copy()
    table["simulated_effect_pp"] = got.back_effect_pp.to_numpy()
    table["simulated_se_pp"] = simulated_se
    table["lift_before"] = [keep[o] for o in offers]
    table["lift_fitted"] = [lift[o] for o in offers]
    table["lift_low"] = np.where(flat, np.nan, np.exp(ends["low"]))
    table["lift_high"] = np.where(flat, np.nan, np.exp(ends["high"]))
    table["moves_with_lift"] = ~flat
    fitted_lift = table.lift_fitted.to_numpy()
    edge = ~flat & ((fitted_lift < LIFT_RANGE[0] * 1.05) | (fitted_lift > LIFT_RANGE[1] / 1.05))
    table["at_edge"] = edge  # no lift in the search box reaches the logged effect
    low, high = table.lift_low.to_numpy(), table.lift_high.to_numpy()
    open_ended = ~flat & ~edge & ((low < LIFT_RANGE[0] * 1.05) | (high > LIFT_RANGE[1] / 1.05))
    notes = (
        tuple(
            f"offer {o}: its effect does not move with its lift (it acts through the message, "
            "dynamics.nudge_lift); lift kept"
            for o, f in zip(offers, flat, strict=True)
            if f
        )
        + tuple(
            f"offer {o}: the fitted lift sits at the edge of its search box ({LIFT_RANGE[0]:g} to "
            f"{LIFT_RANGE[1]:g}): the campaign cannot tell this offer's effect (see its interval)"
            for o, e in zip(offers, edge, strict=True)
            if e
        )
        + tuple(
            f"offer {o}: the lift's 95% interval ({lo:.2g} to {hi:.3g}) reaches the edge of its "
            f"search box ({LIFT_RANGE[0]:g} to {LIFT_RANGE[1]:g}): the campaign does not bound "
            f"this offer's effect; the fitted lift {fit:.2g} is a weak guide (a larger campaign "
            "or holdout would narrow it)"
            for o, lo, hi, fit, e in zip(offers, low, high, fitted_lift, open_ended, strict=True)
            if e
        )
    )
    return FittedOffers(fitted, table.reset_index(drop=True), notes)
