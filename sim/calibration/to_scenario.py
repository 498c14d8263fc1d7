"""A fitted lifecycle model as a simulator scenario.

The fitted classes become the scenario's segments with the fitted rates. Everything the log
cannot tell (pain points, channels, responsiveness, deal seekers, the response model, the
release calendar) is kept from the base preset, averaged over its segments by weight.

In the simulator a user's hazards also carry their pain-point traits (technical issues and
discovery friction speed lapsing and slow returning; fresh releases pull the other way).
:func:`scenario_traits` summarises those multipliers as a few weighted draws, which the fit
integrates out, so the fitted rates are the scenario's base rates and the simulated
population is the fitted model, offers acting on the traits that decide which offer works.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from sim.calendar import freshness_at
from sim.calibration.lifecycle import Lifecycle, Traits
from sim.constants import STATES
from sim.hazards import taste_freshness
from sim.population import sample_population
from sim.scenario import Scenario, Segment, blend_segments

ALIKE = 1e4  # gamma shape of the lapse / return multipliers: classes carry heterogeneity
TRAIT_SAMPLE = 20_000


def class_segments(
    model: Lifecycle, base: Segment, initial_state: np.ndarray, basket: np.ndarray
) -> tuple[Segment, ...]:
    """One segment per class: the fitted rates, the given state mix and basket value."""
    out = []
    for c in range(model.k):
        out.append(
            replace(
                base,
                name=f"class_{c}",
                weight=float(model.weight[c]),
                initial_state={s: float(initial_state[c, i]) for i, s in enumerate(STATES)},
                activity_rate=float(model.activity_rate[c]),
                activity_heterogeneity=float(model.activity_shape),
                dormant_activity_rate=0.0,
                lapse_rate=float(model.lapse_rate[c]),
                cancel_rate=0.0,
                return_rate=float(model.return_rate[c]),
                dormant_cancel_rate=float(model.dormant_cancel_rate[c]),
                comeback_rate=float(model.comeback_rate[c]),
                heterogeneity=ALIKE,
                basket_value=float(basket[c]),
            )
        )
    return tuple(out)


def scenario_traits(base: Scenario, bins: int = 4, seed: int = 0) -> Traits:
    """The trait multipliers of the base scenario's users at sign-up (its segments blended) as
    ``bins`` weighted draws. Freshness pulses with the release calendar faster than users
    change state, so each user's multipliers are their hazards' averages over the
    scenario's weeks."""
    dyn = base.dynamics
    blended = replace(blend_segments(base.segments), weight=1.0)
    pop = sample_population(  # as at sign-up: the fit's classes and multiplier select
        replace(base, n_users=TRAIT_SAMPLE, segments=(blended,)),
        np.random.default_rng(seed),
        survivors=False,
    )
    still = dyn.tech_weight * pop.tech + dyn.friction_weight * pop.friction
    days = range(0, base.horizon_days, 7)
    leave = np.zeros(pop.n)
    come = np.zeros(pop.n)
    for day in days:
        fresh = taste_freshness(freshness_at(base, day), pop.affinity)
        fresh = dyn.freshness_weight * pop.content_need * fresh
        leave += np.exp(still - fresh)
        come += np.exp(fresh - still)
    press = np.exp(pop.price_sens * dyn.price_level_weight)
    return Traits.from_samples(leave / len(days), come / len(days), press, bins)


def calibrated_scenario(
    model: Lifecycle,
    base: Scenario,
    initial_state: np.ndarray,
    basket: np.ndarray,
    name: str = "calibrated",
) -> Scenario:
    """The base scenario with the fitted classes as its segments (see the module doc)."""
    segments = class_segments(model, blend_segments(base.segments), initial_state, basket)
    return replace(base, name=name, segments=segments)
