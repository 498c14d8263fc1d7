"""``winback perf ope``: off-policy evaluation of 1,000,000 logged decisions, measured in one
run.

A log of ``--rounds`` decisions over 8 actions (no offer and the streaming catalogue's seven)
with 60 context features, a uniform logger and a reward model given (as
``experiments.ope.bench.reward_model`` would give it), evaluated for a deterministic target
by all six estimators with ``--boot`` bootstrap resamples each, and its diagnostics: the
seconds (target: 60 s for 1,000,000 decisions). The reference in the same run: the
textbook per-decision loop (one Python step per logged decision, as a notebook would write
doubly robust) on ``--reference-rounds`` decisions, scaled per decision; the ratio is ours
against it for the doubly robust point estimate alone.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

ACTIONS = 8
FEATURES = 60


def synthetic_log(rounds: int, seed: int) -> tuple[Any, np.ndarray, np.ndarray]:
    """A uniform logger's rounds, a one-hot target and a reward model (rounds, actions)."""
    from experiments.ope.logged import Logged

    rng = np.random.default_rng(seed)
    context = rng.random((rounds, FEATURES), dtype=np.float32)
    action = rng.integers(0, ACTIONS, rounds)
    q = rng.normal(6.0, 2.0, (rounds, ACTIONS))
    reward = q[np.arange(rounds), action] + rng.normal(0.0, 5.0, rounds)
    logged = Logged(
        action=action,
        reward=reward,
        pscore=np.full(rounds, 1.0 / ACTIONS),
        context=context,
        n_actions=ACTIONS,
    )
    target = np.zeros((rounds, ACTIONS))
    target[np.arange(rounds), (context[:, 0] * ACTIONS).astype(np.int64)] = 1.0
    return logged, target, q


def loop_dr(logged: Any, target: np.ndarray, q: np.ndarray) -> float:
    """Doubly robust, one decision at a time (the reference)."""
    total = 0.0
    for i in range(logged.n_rounds):
        direct = sum(target[i, a] * q[i, a] for a in range(ACTIONS))
        a = int(logged.action[i])
        w = target[i, a] / float(logged.pscore[i])
        total += direct + w * (float(logged.reward[i]) - q[i, a])
    return total / logged.n_rounds


def perf_ope(args: argparse.Namespace) -> dict[str, Any]:
    from experiments.ope.estimators import ESTIMATORS, diagnostics, estimate, round_values

    logged, target, q = synthetic_log(args.rounds, args.seed)
    start = time.perf_counter()
    estimates = estimate(logged, target, q, ESTIMATORS, boot=args.boot, seed=args.seed)
    diagnostics(logged, target)
    seconds = time.perf_counter() - start
    one = time.perf_counter()
    fast = float(round_values("dr", logged, target, q)[0].mean())
    fast_seconds = (time.perf_counter() - one) / logged.n_rounds
    small, small_target, small_q = synthetic_log(args.reference_rounds, args.seed)
    ref = time.perf_counter()
    loop_dr(small, small_target, small_q)
    ref_seconds = (time.perf_counter() - ref) / small.n_rounds
    out = {
        "rounds": args.rounds,
        "actions": ACTIONS,
        "boot": args.boot,
        "seconds_all_estimators": round(seconds, 3),
        "target_seconds": 60,
        "dr_seconds_per_million": round(fast_seconds * 1e6, 3),
        "loop_dr_seconds_per_million": round(ref_seconds * 1e6, 1),
        "ratio_dr": round(ref_seconds / fast_seconds, 1),
        "dr": round(fast, 4),
    }
    for e in estimates:
        print(f"{e.estimator:>10} {e.value:8.4f}  ({e.low:.4f} to {e.high:.4f})")
    print(
        f"{args.rounds:,} decisions x {ACTIONS} actions, all six estimators with {args.boot} "
        f"bootstrap resamples and the diagnostics: {seconds:.1f} s (target 60 s)\n"
        f"doubly robust point estimate: {out['dr_seconds_per_million']} s "
        f"per million decisions; the per-decision loop: {out['loop_dr_seconds_per_million']} s "
        f"per million ({args.reference_rounds:,} measured): {out['ratio_dr']}x"
    )
    return out
