"""How exact is ``winback ope-bench``'s truth? Its Monte Carlo error beside the estimators'.

The bench scores each estimator against a target's true value on a log's rounds: the mean
over the rounds of the target's probabilities times each action's expected reward, from
``truth_reps`` look-ahead replications per round (``experiments.ope.behaviour``). That truth
is itself an average of random forks. Here the same logs (same seed: the log does not depend
on the look-ahead's numbers, checked) get their truth twice, under two look-ahead keys; for
each target the difference of the two truths, over ``LOGS`` logs, gives the truth's own
Monte Carlo standard deviation (sd of the difference / sqrt 2), shown relative to the truth
and beside the spread of doubly robust's error on the same logs.

It also shows why DR's bootstrap intervals over-cover: the truth scored is the target's value
on *these* customers (their contexts fixed), while a bootstrap over rounds also counts how
the customers themselves vary (``context_se``: the sd of the rounds' true values / sqrt n).
DR's per-round terms are mostly that variation, so its bootstrap standard error
(``boot_se``) exceeds its error on these customers by about it: the conditional standard
error sqrt(boot_se^2 - context_se^2) is what ``dr_error_sd`` should be close to.

    python -m experiments.evidence.ope_truth            # 10 logs x 20,000 customers (2-5 min)
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

LOGS = 10
USERS = 20_000
REPS = 8


def measure(logs: int = LOGS, users: int = USERS, reps: int = REPS) -> pd.DataFrame:
    from experiments.jobs.ope_bench import targets_from
    from experiments.ope.behaviour import Uniform, log_decisions, target_distribution
    from experiments.ope.bench import reward_model, true_value
    from experiments.ope.estimators import estimate, round_values
    from sim import presets

    catalogue = presets.streaming_offers()
    scenario = presets.streaming(n_users=users, horizon_days=182)
    names = ["nothing", "playbook", "blanket_discount_30", "blanket_support_call"]
    targets = targets_from(names, catalogue.names)
    rows = []
    for seed in range(1, logs + 1):
        a = log_decisions(Uniform(), scenario, catalogue, seed, once=True, truth_reps=reps)
        b = log_decisions(
            Uniform(),
            scenario,
            catalogue,
            seed,
            once=True,
            truth_reps=reps,
            truth_key=10_000 + seed,
        )
        if not np.array_equal(a.action, b.action) or not np.array_equal(a.reward, b.reward):
            raise RuntimeError("the log changed with the look-ahead's key")
        q = reward_model(a, seed)
        for name, agent in targets.items():
            pi = target_distribution(agent, a)
            dr = estimate(a, pi, q, ("dr",), boot=10, seed=seed)[0].value
            terms, _ = round_values("dr", a, pi, q)
            truths = (pi * np.nan_to_num(np.asarray(a.truth))).sum(axis=1)
            rows.append(
                {
                    "seed": seed,
                    "rounds": a.n_rounds,
                    "target": name,
                    "truth_a": true_value(a, pi),
                    "truth_b": true_value(b, pi),
                    "dr": dr,
                    "boot_se": float(terms.std(ddof=1) / np.sqrt(a.n_rounds)),
                    "context_se": float(truths.std(ddof=1) / np.sqrt(a.n_rounds)),
                }
            )
    t = pd.DataFrame(rows)
    t["gap"] = t.truth_a - t.truth_b
    t["dr_error"] = t.dr - t.truth_a
    return (
        t.groupby("target", sort=False)
        .agg(
            rounds=("rounds", "mean"),
            truth=("truth_a", "mean"),
            truth_mc_sd=("gap", lambda g: float(g.std(ddof=1) / np.sqrt(2))),
            dr_error_sd=("dr_error", lambda e: float(e.std(ddof=1))),
            boot_se=("boot_se", "mean"),
            context_se=("context_se", "mean"),
        )
        .assign(
            truth_mc_relative=lambda d: d.truth_mc_sd / d.truth.abs(),
            share_of_dr_error=lambda d: d.truth_mc_sd / d.dr_error_sd,
            conditional_se=lambda d: np.sqrt(np.maximum(d.boot_se**2 - d.context_se**2, 0)),
        )
        .reset_index()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--logs", type=int, default=LOGS)
    parser.add_argument("--users", type=int, default=USERS)
    parser.add_argument("--reps", type=int, default=REPS)
    args = parser.parse_args()
    table = measure(args.logs, args.users, args.reps)
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.4f}"))


if __name__ == "__main__":
    main()
