"""The ``winback`` command line.

winback demo                 the main job: a quick leaderboard (= benchmark experiment=quick)
winback simulate ...         one scenario, the no-offer control and blanket offers
winback perf sim [--json]    engine speed and memory vs the naive per-user reference
winback benchmark [...]      the policy leaderboard (Hydra overrides, e.g. experiment=quick)
winback run [...]            one agent on one scenario vs the control (e.g. agent=thompson)
winback report FOLDER        plots and a self-contained HTML report from a results folder
winback aggregate FOLDER     a sweep folder's runs in one table (sweep.csv) and plot
winback tune [--out DIR] ... Optuna study over the benchmark (e.g. experiment=tune_thompson)
winback calibrate LOG ...    fit the simulator to an event log; scenario YAML + HTML report
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from experiments.cli import parsers
from sim import __version__


def _add_simulate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "simulate",
        help="simulate a scenario: control vs each offer sent to all inactive users every 28 days",
        description="Simulate a built-in scenario with the no-offer control and, for each "
        "offer in the catalogue, a policy that sends it to every inactive or cancelled user "
        "every 28 days; print KPIs and incremental profit on common random numbers.",
    )
    parsers.simulate_arguments(p)


def _add_perf(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("perf", help="benchmarks (ratios measured in one run)")
    parsers.perf_arguments(p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="winback",
        description="Win-back sandbox: test customer win-back policies offline.",
    )
    parser.add_argument("--version", action="version", version=f"winback {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser(
        "demo",
        help="the main job: a quick leaderboard of the default scenario (streaming, 10k users, "
        "3 seeds, every reference policy, two bandits, MaskablePPO)",
    )
    _add_simulate(sub)
    _add_perf(sub)
    parsers.regret_arguments(
        sub.add_parser("regret", help="bandit regret curves on the bandit env (PNG)")
    )
    bench = sub.add_parser(
        "benchmark",
        help="the policy leaderboard (Hydra app; overrides like experiment=quick)",
        add_help=False,
    )
    bench.add_argument("overrides", nargs=argparse.REMAINDER)
    sub.add_parser(
        "run",
        help="one agent on one scenario vs the control (Hydra app; e.g. agent=thompson)",
        add_help=False,
    )
    rep = sub.add_parser(
        "report", help="render plots and the HTML report from a benchmark results folder"
    )
    rep.add_argument("folder", type=Path, help="a folder written by winback benchmark")
    sub.add_parser(
        "tune",
        help="Optuna over the benchmark (resumable SQLite study): tune experiment=tune_thompson",
    )
    parsers.calibrate_arguments(
        sub.add_parser(
            "calibrate",
            help="fit the simulator to an event log (CSV/Parquet): scenario YAML + HTML report",
            description="Fit the simulator's lifecycle model to an event log by maximum "
            "likelihood, simulate the customers with it, compare with the log (and BG/NBD) "
            "in and out of sample, and write a scenario YAML and an HTML report.",
        )
    )
    agg = sub.add_parser("aggregate", help="collect a sweep folder into one table and plot")
    agg.add_argument("folder", type=Path, help="a --multirun sweep folder (hydra.sweep.dir)")
    sub.add_parser("version", help="print the version")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["benchmark"], ["run"]):  # Hydra parses the rest (-m, --cfg, --help)
        from experiments.config.hydra_apps import run_benchmark

        return run_benchmark(argv[1:], argv[0])
    if argv[:1] == ["tune"]:
        return _tune(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _dispatch(parser, args)
    except ValueError as err:  # our validation: key, value and what is allowed
        print(f"winback: error: {err}", file=sys.stderr)
        return 2


def _tune(argv: list[str]) -> int:
    """``winback tune [--out DIR] overrides...``: an Optuna study over the benchmark."""
    from experiments.jobs.tune import run_tuning

    out = Path("outputs/tune")
    if argv[:1] == ["--out"] and len(argv) > 1:
        out, argv = Path(argv[1]), argv[2:]
    try:
        run_tuning(argv, out)
    except ValueError as err:
        print(f"winback: error: {err}", file=sys.stderr)
        return 2
    return 0


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "version":
        print(f"winback {__version__}")
        return 0
    if args.command == "demo":  # the main job: a quick leaderboard of the default scenario
        from experiments.config.hydra_apps import run_benchmark

        return run_benchmark(["experiment=quick"])
    if args.command == "simulate":
        from experiments.jobs.simulate import run_from_args

        return run_from_args(args)
    if args.command == "aggregate":
        from experiments.jobs.aggregate import aggregate

        table = aggregate(args.folder)
        shown = table.drop(columns=["overrides"])
        print(shown.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
        print(f"table: {args.folder / 'sweep.csv'}  plot: {args.folder / 'sweep.png'}")
        return 0
    if args.command == "report":
        from experiments.reporting.leaderboard import render

        print(f"report: {render(args.folder).resolve()}")
        return 0
    if args.command == "regret":
        from experiments.jobs.regret import run_from_args as regret_run

        return regret_run(args)
    if args.command == "calibrate":
        from experiments.jobs.calibrate import run_from_args as calibrate_run

        return calibrate_run(args)
    if args.command == "perf":
        return _perf(args)
    parser.error(f"unknown command {args.command!r}")
    return 2


def _perf(args: argparse.Namespace) -> int:
    if args.target == "sim":
        from experiments.perf.sim import perf_sim as measure
    elif args.target == "sweep":
        from experiments.perf.sweep import perf_sweep as measure
    else:
        from experiments.perf.env import perf_env as measure
    out = measure(args)
    if args.json:
        print(json.dumps(out))
    return 0
