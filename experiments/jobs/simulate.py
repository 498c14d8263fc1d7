"""``winback simulate``: a scenario, its no-offer control and blanket offers, side by side.

Each blanket policy sends one offer to every user the company sees as inactive or churned
(and eligible) at every campaign epoch (``--epoch-days``: the scenario's ``epoch_days``).
Every run uses the same seed as the control, so the differences are the policy's effect on
common random numbers.

``--campaign OFFER[,OFFER...]`` adds a randomised campaign with a holdout
(``agents.reference.Campaign``, ``--holdout-share``). ``--event-log PATH`` writes the
simulated company's event log (``sim.records``; CSV or Parquet by the suffix) of one run:
the campaign's when there is one, else the no-offer control's.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from agents.base import as_agent
from agents.evaluate import AgentPolicy
from agents.reference import Campaign
from experiments.files import atomic, check_writable, strict_json, write_json, write_table
from sim import Simulation, incremental, presets
from sim.observe import observed_status
from sim.offers import Catalogue
from sim.records import event_log, save
from sim.simulation import Decision, Policy

LOG_SUFFIXES = (".csv", ".parquet")

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


@dataclass
class Simulated:
    """What :func:`simulate` returns: the table, and the run whose event log was asked for
    (recorded) with its campaign, if any."""

    table: pd.DataFrame
    logged: Simulation | None = None
    campaign: Campaign | None = None


def simulate(
    scenario_name: str,
    users: int,
    days: int,
    seed: int,
    offers: str,
    epoch_days: int,
    campaign: Campaign | None = None,
    record: bool = False,
    billing: str | None = None,
) -> Simulated:
    """One row per policy: KPIs and incremental figures vs the control; with ``campaign``,
    its run too. With ``record``, the campaign's run (or else the control's) is recorded.
    ``billing``: every plan billed so (None: the preset's)."""
    scenario = presets.SCENARIOS[scenario_name](n_users=users, horizon_days=days)
    scenario = replace(scenario, epoch_days=epoch_days)  # the blanket sends at every epoch
    if billing is not None:
        plans = tuple(replace(p, billing=billing) for p in scenario.plans)
        scenario = replace(scenario, plans=plans)
    catalogue = presets.offers_for(scenario_name)
    chosen = _selected(catalogue, offers)  # validated before any simulation
    if campaign is not None:
        Campaign.validate(catalogue, offers=campaign.offers)
    out = Simulated(pd.DataFrame(), campaign=campaign)
    rows = []
    runs = len(chosen) + 1 + (campaign is not None)
    with tqdm(total=runs, desc=f"{scenario_name} x{users:,}", unit="run") as bar:
        sim = Simulation(scenario, catalogue, seed=seed, record=record and campaign is None)
        control = sim.run()
        out.logged = sim if sim.recording is not None else None
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
        if campaign is not None:
            policy = AgentPolicy(as_agent(campaign), scenario, catalogue, attribution_days=28)
            sim = Simulation(scenario, catalogue, seed=seed, policy=policy, record=record)
            run = sim.run()
            out.logged = sim if record else None
            name = f"campaign: {', '.join(campaign.offers)} (holdout {campaign.holdout_share:.0%})"
            rows.append({"policy": name, **run.kpis, **incremental(run, control)})
            bar.update()
    table = pd.DataFrame(rows).sort_values("incremental_profit", ascending=False)
    out.table = table.reset_index(drop=True)
    return out


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


def write_event_log(
    sim: Simulation, campaign: Campaign | None, path: Path, start: str
) -> dict[str, object]:
    """Recorded run ``sim``'s event log to ``path`` (whole or not at all); what was written."""
    began = time.perf_counter()
    assignments = campaign.assignments() if campaign is not None else None
    log = event_log(sim, start=start, assignments=assignments, progress=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic(path) as tmp:
        save(log, tmp)
    seconds = time.perf_counter() - began
    print(f"event log: {len(log):,} rows -> {path} ({seconds:.1f} s)")
    return {"path": str(path), "rows": len(log), "seconds": round(seconds, 2)}


def _checked_log_path(path: Path) -> Path:
    """``--event-log``: a .csv or .parquet file in a folder that can be written."""
    if path.suffix.lower() not in LOG_SUFFIXES or path.is_dir():
        raise ValueError(f"--event-log: {str(path)!r}; allowed: a file named *.csv or *.parquet")
    check_writable(path.parent, "--event-log")
    return path


def _campaign_from(args: argparse.Namespace) -> Campaign | None:
    if args.campaign is None:
        if args.holdout_share is not None:
            raise ValueError("--holdout-share: needs --campaign OFFER[,OFFER...]")
        return None
    offers = tuple(o.strip() for o in args.campaign.split(",") if o.strip())
    share = 0.2 if args.holdout_share is None else args.holdout_share
    return Campaign(offers=offers, holdout_share=share, seed=args.seed)


def run_from_args(args: argparse.Namespace) -> int:
    if args.out is not None:
        check_writable(args.out, "--out")  # before minutes of simulation
    log_path = _checked_log_path(args.event_log) if args.event_log is not None else None
    campaign = _campaign_from(args)
    done = simulate(
        args.scenario, args.users, args.days, args.seed, args.offers, args.epoch_days,
        campaign=campaign, record=log_path is not None, billing=args.billing,
    )  # fmt: skip
    if log_path is not None and done.logged is not None:
        unbilled = [p.name for p in done.logged.scenario.plans if p.billing == "none"]
        if unbilled and done.logged.scenario.is_subscription:
            print(
                f"note: plans {', '.join(unbilled)} are billed 'none' (a cancellation acts at "
                "once) and are written as monthly: `winback calibrate` will read cancellations "
                "as taking effect at a period's end, which they did not. For a log to calibrate "
                "on, simulate with --billing monthly.",
                file=sys.stderr,
            )
    _print_table(done.table)
    meta: dict[str, object] = {
        "scenario": args.scenario, "users": args.users, "days": args.days, "seed": args.seed
    }  # fmt: skip
    if log_path is not None and done.logged is not None:
        meta["event_log"] = write_event_log(done.logged, campaign, log_path, args.log_start)
    if args.out is not None:
        write(done.table, args.out, meta)
        print(f"results: {args.out / 'results.csv'}  summary: {args.out / 'summary.json'}")
    if args.json:
        print(strict_json({**meta, "policies": done.table.to_dict(orient="records")}))
    return 0
