"""The win-back world: synthetic users, lifecycle dynamics, calendar, economics.

Typical use::

    from sim import Simulation, presets
    scenario = presets.streaming(n_users=100_000)
    result = Simulation(scenario, presets.streaming_offers(), seed=1).run()
    print(result.kpis["profit"])
"""

from sim import presets
from sim.offers import Catalogue, Offer
from sim.results import SimulationResult, incremental
from sim.scenario import (
    Channel,
    Dynamics,
    Plan,
    PriceChange,
    Release,
    Scenario,
    Segment,
    Signals,
)
from sim.simulation import Simulation

__version__ = "0.1.0"

__all__ = [
    "Catalogue",
    "Channel",
    "Dynamics",
    "Offer",
    "Plan",
    "PriceChange",
    "Release",
    "Scenario",
    "Segment",
    "Signals",
    "Simulation",
    "SimulationResult",
    "__version__",
    "incremental",
    "presets",
]
