"""``winback perf stress``: the issue's figure, ``winback stress`` at 20 worlds x 15 policies x
3 seeds on 20,000 users over a year, timed against its 20-minute target in one run.

The 15 policies are the benchmark's default agents (``conf/stress.yaml``): ``no_offer``,
``random``, the seven blankets of the streaming catalogue (``blanket_reminder_email``,
``blanket_discount_30``, ``blanket_discount_50_sms``, ``blanket_free_trial_30``,
``blanket_recommendations``, ``blanket_support_call``, ``blanket_new_release_push``),
``playbook``, ``pain_point_rule``, ``thompson``, ``linucb``, ``uplift`` and ``maskable_ppo``; the
learned ones with ``experiment=quick``'s training budgets (``--full-training``: the
defaults, whose MaskablePPO alone trains for about 9 minutes). The config is composed as
``winback stress`` composes it and run in-process; training (once, in the nominal world)
and scoring are timed apart.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_SECONDS = 20 * 60


def overrides(args: argparse.Namespace) -> list[str]:
    quick = [] if getattr(args, "full_training", False) else ["experiment=quick"]
    return [
        *quick,
        f"scenario.users={args.users}",
        f"scenario.days={args.days}",
        f"worlds={args.worlds}",
        f"seeds=[{','.join(str(s) for s in range(1, args.seeds + 1))}]",
        "progress=false",
    ]


def perf_stress(args: argparse.Namespace) -> dict[str, Any]:
    from experiments.config.compose import compose
    from experiments.config.stress import stress_config
    from experiments.jobs import stress

    cfg = compose("stress", overrides(args))
    with tempfile.TemporaryDirectory() as tmp:
        typed = stress_config(cfg, Path(tmp), notes=False)
        names = list(typed.agents)
        print(
            f"winback stress: {args.worlds} worlds x {len(names)} policies x {args.seeds} seeds, "
            f"{args.users:,} users x {args.days} days ({os.cpu_count()} cores; load "
            f"{os.getloadavg()[0]:.2f})\npolicies: {', '.join(names)}",
            flush=True,
        )
        start = time.perf_counter()
        stress.run(typed)
        wall = time.perf_counter() - start
        timings = stress.read_json(Path(tmp) / "timings.json", "timings")
    train = float(sum(timings["build_seconds"].values()))
    score = wall - train
    runs = args.worlds * args.seeds * (len(names) + 1)  # the control too
    print(
        f"\nwall {wall / 60:.1f} min (training {train / 60:.1f} min, scoring {score / 60:.1f} min:"
        f" {runs} simulations, {score / runs:.2f} s each) against the 20-minute target: "
        f"{wall / TARGET_SECONDS:.2f} of it ({'met' if wall <= TARGET_SECONDS else 'NOT met'}); "
        f"load at the end {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    return {
        "worlds": args.worlds,
        "policies": names,
        "seeds": args.seeds,
        "users": args.users,
        "days": args.days,
        "wall_seconds": round(wall, 1),
        "training_seconds": round(train, 1),
        "scoring_seconds": round(score, 1),
        "seconds_per_simulation": round(score / runs, 3),
        "target_seconds": TARGET_SECONDS,
        "ratio_to_target": round(wall / TARGET_SECONDS, 3),
        "load_average_1min_end": round(os.getloadavg()[0], 2),
    }
