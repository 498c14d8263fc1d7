"""``winback perf sweep``: the same 8-run ``--multirun`` sweep, serial (Hydra's basic
launcher) and in parallel (the joblib launcher, 2 workers), timed in one run; their result
files must be identical, and the ratio is the parallel speed-up."""

from __future__ import annotations

import argparse
import filecmp
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = ("tidy.parquet", "leaderboard.csv", "summary.json")


def sweep_args(users: int, days: int, folder: Path) -> list[str]:
    return [
        "benchmark",
        "-m",
        "agent=[no_offer,random,playbook,pain_point_rule]",
        f"scenario.users={users}",
        f"scenario.days={days}",
        "seeds=[1,2]",
        "progress=false",
        "scenario=streaming,price_shock",
        "agent.random.seed=0,1,2,3",
        f"hydra.sweep.dir={folder}",
    ]


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "experiments.cli", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"sweep failed:\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - start


def perf_sweep(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        serial_dir, joblib_dir = Path(tmp) / "serial", Path(tmp) / "joblib"
        print("8 runs, serial ...", flush=True)
        serial = timed(sweep_args(args.users, args.days, serial_dir))
        print(f"  {serial:.1f} s\n8 runs, joblib launcher, {args.workers} workers ...", flush=True)
        parallel = timed(
            [
                *sweep_args(args.users, args.days, joblib_dir),
                "hydra/launcher=joblib",
                f"hydra.launcher.n_jobs={args.workers}",
            ]
        )
        same = all(
            filecmp.cmp(serial_dir / str(j) / f, joblib_dir / str(j) / f, shallow=False)
            for j in range(8)
            for f in RESULTS
        )
    ratio = serial / parallel
    print(f"  {parallel:.1f} s\nspeed-up {ratio:.2f}x; result files identical: {same}")
    return {
        "runs": 8,
        "workers": args.workers,
        "users": args.users,
        "days": args.days,
        "serial_seconds": round(serial, 2),
        "joblib_seconds": round(parallel, 2),
        "speedup": round(ratio, 2),
        "identical_results": same,
    }
