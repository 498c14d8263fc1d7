"""A channel's value per customer and year in a preset: the best blanket campaign on it.

Kevin Hillstrom's "unsubscribe factor" (MineThatData, 2007) charges an opt-out the next
twelve months of what the address would have earned; the presets' ``unsubscribe_cost`` is
that year's value, measured here: every catalogue offer is moved onto the channel in turn and
sent weekly to every lapsed customer, and the best incremental profit per customer and year
(mean over seeds, with its standard error) is the channel's value. Opt-outs are left free
while measuring (the value is what the charge is made of)::

    python -m experiments.evidence.channel_value            # 20,000 users, a year, 3 seeds
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

from agents.evaluate import run_agent
from agents.reference import Blanket
from sim import Simulation, incremental, presets
from sim.offers import Catalogue
from sim.scenario import Scenario


def channel_value(
    scenario: Scenario, catalogue: Catalogue, channel: str, seeds: tuple[int, ...]
) -> tuple[str, float, float]:
    """(best offer, its incremental profit per customer and year, standard error) of a
    weekly blanket campaign on ``channel``, opt-outs free."""
    free = replace(
        scenario, channels=tuple(replace(c, unsubscribe_cost=0.0) for c in scenario.channels)
    )
    years = free.horizon_days / 365
    best = ("", -np.inf, np.nan)
    for offer in catalogue.offers:
        if offer.kind == "free_trial" and not free.is_subscription:
            continue
        moved = Catalogue((replace(offer, channel=channel),))
        values = []
        for seed in seeds:
            control = Simulation(free, moved, seed=seed).run()
            run = run_agent(Blanket(offer=offer.name), free, moved, seed).result
            values.append(incremental(run, control)["incremental_profit"] / free.n_users / years)
        mean = float(np.mean(values))
        if mean > best[1]:
            best = (offer.name, mean, float(np.std(values, ddof=1) / np.sqrt(len(values))))
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args(argv)
    for preset in ("streaming", "retail"):
        scenario = getattr(presets, preset)(n_users=args.users, horizon_days=args.days)
        for channel in scenario.channel_names:
            name, value, se = channel_value(
                scenario, presets.offers_for(preset), channel, tuple(args.seeds)
            )
            print(f"{preset:9s} {channel:5s} {value:6.2f} per customer-year (se {se:.2f}): {name}")


if __name__ == "__main__":
    main()
