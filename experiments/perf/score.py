"""``winback perf score``: 1,000,000 customers scored by the churn scores, measured in one run.

The scores (``agents.scores``: five gradient-boosted models) are fitted on ``--train-users``
simulated streaming customers, then ``--users`` customers of another run are scored as they
stand on the scoring day: every score of every customer, the seconds (target: 10 s for
1,000,000 after training). The reference in the same run: one customer at a time (a Python
call per customer, as a service scoring customers one by one would), on
``--reference-users`` customers, scaled per customer.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from typing import Any


def perf_score(args: argparse.Namespace) -> dict[str, Any]:
    from agents.scores import CUT_DAY, features_of, fit_scores, simulate_customers
    from sim import Simulation, presets

    scenario = presets.streaming()
    tick = time.perf_counter()
    model = fit_scores(simulate_customers(scenario, args.train_users, seed=args.seed))
    fit_seconds = time.perf_counter() - tick
    big = replace(scenario, n_users=args.users)
    sim = Simulation(big, seed=args.seed + 1)
    sim.run_until(CUT_DAY)
    names, x = features_of(sim)
    model.predict(x[:1_000], names)  # first-call set-up out of the timing
    tick = time.perf_counter()
    scores = model.predict(x, names)
    seconds = time.perf_counter() - tick
    few = x[: args.reference_users]
    tick = time.perf_counter()
    for i in range(few.shape[0]):
        model.predict(few[i : i + 1], names)
    per_customer = (time.perf_counter() - tick) / few.shape[0]
    out = {
        "users": args.users,
        "train_users": args.train_users,
        "models": len(model.models),
        "trees": int(sum(m.n_iter_ * m.n_trees_per_iteration_ for m in model.models.values())),
        "fit_seconds": round(fit_seconds, 1),
        "seconds": round(seconds, 2),
        "target_seconds": 10,
        "one_at_a_time_seconds_per_million": round(per_customer * 1e6, 1),
        "ratio": round(per_customer * args.users / seconds, 1),
        "scores": len(scores),
    }
    print(
        f"{args.users:,} customers x {len(scores)} scores ({out['trees']} trees in "
        f"{out['models']} models, fitted on {args.train_users:,} customers in "
        f"{out['fit_seconds']} s): {seconds:.2f} s (target 10 s)\n"
        f"one customer at a time: {out['one_at_a_time_seconds_per_million']:,} s per million "
        f"({args.reference_users:,} measured): {out['ratio']}x"
    )
    return out
