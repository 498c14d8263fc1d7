"""``winback ope-log --out LOG``: a simulated company's logged decisions, to try ``winback
ope`` on (or to hand to Open Bandit Pipeline).

A logging policy (``--logger``: uniform, epsilon around the playbook, a vendor-style test,
Thompson sampling; ``experiments.ope.behaviour``) decides for the streaming preset's lapsed
customers with known propensities, once each (a campaign design) or, with ``--repeat``, at
every epoch. ``--out`` by its suffix: ``.npz``, the rounds in ``bandit_feedback`` layout with
the feature and offer names; ``.csv``/``.parquet``, the run's event log in the calibration
schema, every decision an ``offer_sent`` row with its arm (treatment, or holdout for no
offer) and propensity: what a company would export.
"""

from __future__ import annotations

import argparse
import time

from experiments.files import atomic, check_writable
from experiments.jobs.ope import SUFFIXES


def run_from_args(args: argparse.Namespace) -> int:
    from experiments.jobs.ope_bench import logger_factory
    from experiments.ope.behaviour import log_decisions, log_with_events
    from experiments.ope.logged import save
    from sim import presets
    from sim.records import save as save_events
    from sim.validation import check_int

    out = args.out
    if out.suffix not in SUFFIXES:
        raise ValueError(f"--out: {str(out)!r}; allowed: a .npz, .csv or .parquet file")
    if out.exists() and not args.force:
        raise ValueError(f"--out: {str(out)!r} exists; allowed: a new file, or --force")
    check_int("--users", args.users, 100, 10_000_000)
    check_int("--window", args.window, 1, 365)
    catalogue = presets.streaming_offers()
    make = logger_factory(args.logger, catalogue.names)
    scenario = presets.streaming(n_users=args.users, horizon_days=args.days)
    check_writable(out.parent, "--out")
    start = time.perf_counter()
    once = not args.repeat
    print(f"logging {args.logger}'s decisions for {args.users:,} customers, {args.days} days")
    if out.suffix == ".npz":
        logged = log_decisions(make(), scenario, catalogue, args.seed, args.window, once)
        with atomic(out) as tmp:
            save(logged, tmp)
        rows = logged.n_rounds
    else:
        logged, events = log_with_events(make(), scenario, catalogue, args.seed, args.window, once)
        with atomic(out) as tmp:
            save_events(events, tmp)
        rows = len(events)
    print(
        f"{logged.n_rounds:,} decisions whose {args.window}-day outcome is inside the run "
        f"({rows:,} rows) in {time.perf_counter() - start:.1f} s: {out.resolve()}"
    )
    return 0
