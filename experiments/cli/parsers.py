"""The argparse sub-commands of ``winback`` (Hydra parses ``benchmark``, ``run`` and
``tune`` itself): arguments, their defaults and their help, nothing else."""

from __future__ import annotations

import argparse
from pathlib import Path

CALIBRATION_FORMATS = ("events", "cdnow")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not allowed; expected an integer >= 1")
    return value


def simulate_arguments(p: argparse.ArgumentParser) -> None:
    from sim.presets import SCENARIOS

    p.add_argument("--scenario", default="streaming", choices=sorted(SCENARIOS))
    p.add_argument("--users", type=positive_int, default=100_000, help="population size")
    p.add_argument("--days", type=positive_int, default=365, help="horizon in days")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--offers", default="all", help="comma-separated offer names, or 'all'")
    p.add_argument("--every", type=positive_int, default=28, help="days between sends")
    p.add_argument("--out", type=Path, default=None, help="folder for CSV + JSON results")
    p.add_argument("--json", action="store_true", help="last output line is one JSON object")


def perf_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="target", metavar="TARGET", required=True)
    s = sub.add_parser("sim", help="simulator speed: fast engine vs naive reference")
    s.add_argument("--users", type=positive_int, default=1_000_000)
    s.add_argument("--days", type=positive_int, default=365)
    s.add_argument("--reference-users", type=positive_int, default=100_000)
    s.add_argument("--reference-days", type=positive_int, default=365)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--json", action="store_true", help="last output line is one JSON object")
    e = sub.add_parser("env", help="environment speed: single, batched, SB3 PPO vs CartPole")
    e.add_argument("--seconds", type=float, default=5.0, help="seconds per single env")
    e.add_argument("--batch-users", type=positive_int, default=4096)
    e.add_argument("--episodes", type=positive_int, default=2)
    e.add_argument("--ppo-envs", type=positive_int, default=64)
    e.add_argument("--ppo-steps", type=positive_int, default=65_536)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--json", action="store_true", help="last output line is one JSON object")
    w = sub.add_parser("sweep", help="an 8-run sweep: serial vs joblib launcher (2 workers)")
    w.add_argument("--users", type=positive_int, default=30_000)
    w.add_argument("--days", type=positive_int, default=182)
    w.add_argument("--workers", type=positive_int, default=2)
    w.add_argument("--json", action="store_true", help="last output line is one JSON object")


def regret_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--users", type=positive_int, default=102_400, help="users in the stream")
    p.add_argument("--block", type=positive_int, default=512)
    p.add_argument("--window-weeks", type=positive_int, default=26)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("outputs/regret"))
    p.add_argument("--json", action="store_true", help="last output line is one JSON object")


def calibrate_arguments(p: argparse.ArgumentParser) -> None:
    from sim.presets import SCENARIOS

    p.add_argument("log", type=Path, help="event log: CSV or Parquet (see the README)")
    p.add_argument(
        "--holdout-from",
        metavar="DATE",
        help="hold out events from this date on and predict them (e.g. 1997-10-01)",
    )
    p.add_argument(
        "--format",
        choices=CALIBRATION_FORMATS,
        default="events",
        help="events: our event-log schema (default); cdnow: the raw CDNOW files",
    )
    p.add_argument(
        "--base",
        default="retail",
        help=f"preset whose pain points, channels, response model and calendar the scenario "
        f"keeps ({', '.join(SCENARIOS)}; default retail)",
    )
    p.add_argument(
        "--classes",
        type=int,
        default=2,
        help="latent customer classes (1-5, default 2; fits with fewer are reported too)",
    )
    p.add_argument(
        "--reps",
        type=int,
        help="simulated copies of each customer (default: about 200,000 simulated in all)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--users",
        type=int,
        help="users in the scenario (default: the log's customers, at least 1,000)",
    )
    p.add_argument("--out", type=Path, help="results folder")
    p.add_argument(
        "--save-scenario",
        metavar="NAME",
        help="also write conf/scenario/NAME.yaml (then: winback benchmark scenario=NAME)",
    )
    p.add_argument("--force", action="store_true", help="overwrite an existing NAME.yaml")
    p.add_argument("--skip-bad-rows", action="store_true", help="leave bad rows out (counted)")
    p.add_argument("--json", action="store_true", help="last line: one JSON object")
