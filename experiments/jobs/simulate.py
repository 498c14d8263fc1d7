"""``winback simulate``: a scenario, its no-offer control and blanket offers, side by side.

Each blanket policy sends one offer to every user the company sees as inactive or churned
(and eligible) at every campaign epoch (``--epoch-days``: the scenario's ``epoch_days``).
Every run uses the same seed as the control, so the differences are the policy's effect on
common random numbers.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from experiments.files import check_writable, strict_json, write_json, write_table
from sim import Simulation, incremental, presets
from sim.observe import observed_status
from sim.offers import Catalogue
from sim.simulation import Decision, Policy

SHOWN = (
    "incremental_profit",
    "roi",
    "incremental_reactivated_users",
    "offer_spend",
    "messages_sent",
    "unsubscribes",
    "reactivation_rate",
    "profit",
)


def blanket(offer: int) -> Policy:
    """Send ``offer`` to every user seen as inactive or churned, at every campaign epoch."""

    def policy(sim: Simulation, day: int) -> Decision | None:
        status = observed_status(sim.pop, slice(None), day, sim.scenario)
        users = np.flatnonzero(status > 0)
        return users, np.full(users.size, offer)

    return policy


def _selected(catalogue: Catalogue, names: str) -> list[int]:
    if names == "all":
        return list(range(len(catalogue)))
    return [catalogue.index(name.strip()) for name in names.split(",") if name.strip()]


def simulate(
    scenario_name: str, users: int, days: int, seed: int, offers: str, epoch_days: int
) -> pd.DataFrame:
    """One row per policy: KPIs and incremental figures vs the control."""
    scenario = presets.SCENARIOS[scenario_name](n_users=users, horizon_days=days)
    scenario = replace(scenario, epoch_days=epoch_days)  # the blanket sends at every epoch
    catalogue = presets.offers_for(scenario_name)
    chosen = _selected(catalogue, offers)  # validated before any simulation
    rows = []
    with tqdm(total=len(chosen) + 1, desc=f"{scenario_name} x{users:,}", unit="run") as bar:
        control = Simulation(scenario, catalogue, seed=seed).run()
        bar.update()
        rows.append(
            {"policy": "no offer (control)", **control.kpis, **incremental(control, control)}
        )
        for k in chosen:
            policy = blanket(k)
            run = Simulation(scenario, catalogue, seed=seed, policy=policy).run()
            name = f"everyone inactive: {catalogue.offers[k].name}"
            rows.append({"policy": name, **run.kpis, **incremental(run, control)})
            bar.update()
    table = pd.DataFrame(rows).sort_values("incremental_profit", ascending=False)
    return table.reset_index(drop=True)


LEGEND = (
    "Money in the scenario's currency over the horizon. incremental_* = policy minus the "
    "no-offer control on the same simulated customers; roi = incremental profit / "
    "incremental spend (a ratio); offer_spend, messages_sent, unsubscribes, profit = the "
    "policy's own totals; reactivation_rate includes users who return on their own."
)


def _print_table(table: pd.DataFrame) -> None:
    shown = table[["policy", *SHOWN]].copy()
    counts = ["incremental_reactivated_users", "messages_sent", "unsubscribes"]
    shown[counts] = shown[counts].round().astype("int64")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(shown.to_string(index=False, float_format=lambda x: f"{x:,.2f}"))
    print(LEGEND)


def write(table: pd.DataFrame, out: Path, meta: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tidy = table.melt(id_vars="policy", var_name="metric", value_name="value")
    write_table(tidy, out / "results.csv")
    write_json(out / "summary.json", {**meta, "policies": table.to_dict(orient="records")})


def run_from_args(args: argparse.Namespace) -> int:
    if args.out is not None:
        check_writable(args.out, "--out")  # before minutes of simulation
    table = simulate(args.scenario, args.users, args.days, args.seed, args.offers, args.epoch_days)
    _print_table(table)
    meta = {"scenario": args.scenario, "users": args.users, "days": args.days, "seed": args.seed}
    if args.out is not None:
        write(table, args.out, meta)
        print(f"results: {args.out / 'results.csv'}  summary: {args.out / 'summary.json'}")
    if args.json:
        print(strict_json({**meta, "policies": table.to_dict(orient="records")}))
    return 0
