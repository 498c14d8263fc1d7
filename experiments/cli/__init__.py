"""The ``winback`` command line.

winback demo                 the main job: a quick leaderboard (= benchmark experiment=quick)
winback simulate ...         one scenario, the no-offer control and blanket offers
winback perf sim [--json]    engine speed and memory vs the naive per-user reference
winback perf calibrate       a subscription log's calibration: time, memory, sampled vs all
winback perf app             the web app in a browser: start-up, a quick comparison, an edit
winback perf ope             1,000,000 logged decisions by every off-policy estimator
winback perf score           1,000,000 customers scored by the churn scores
winback benchmark [...]      the policy leaderboard (Hydra overrides, e.g. experiment=quick)
winback run [...]            one agent on one scenario vs the control (e.g. agent=thompson)
winback stress [...]         the policies across an ensemble of plausible worlds (worlds=20)
winback stress-combine DIR   a stress multirun's shards joined into the full results
winback report FOLDER [--json] plots and an HTML report from a results folder, with
                             'Before you roll out' (--stress DIR, --plan DIR)
winback aggregate FOLDER     a sweep folder's runs in one table (sweep.csv) and plot;
                             --against KEY=VALUE: each run against one, paired by seed
winback tune [--out DIR] ... Optuna study over the benchmark (e.g. experiment=tune_thompson)
winback plan [--out DIR] ... the live A/B test that would confirm a policy (plan.policy=...)
winback calibrate LOG ...    fit the simulator to an event log; scenario YAML + HTML report
winback message-ab ...       a preset's message effect vs Hillstrom's randomised e-mail test
winback ope-bench ...        off-policy estimators against the simulator's truth
winback ope-log --out LOG    a simulated company's logged decisions (.npz or its event log)
winback ope LOG --policy P   a new policy's value estimated from the log, with a verdict
winback score ...            churn risk, reason and value per customer, with segments
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from experiments.cli.parsers import build_parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["benchmark"], ["run"], ["stress"]):  # Hydra parses the rest (-m, --cfg, ...)
        from experiments.cli.hydra_commands import run_benchmark

        return run_benchmark(argv[1:], argv[0])
    if argv[:1] == ["tune"]:
        from experiments.cli.hydra_commands import run_tune

        return run_tune(argv[1:])
    if argv[:1] == ["plan"]:
        from experiments.cli.hydra_commands import run_plan

        return run_plan(argv[1:])
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    try:
        return _dispatch(parser, args)
    except ValueError as err:  # our validation: key, value and what is allowed
        print(f"winback: error: {err}", file=sys.stderr)
        return 2


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "version":
        from sim import __version__

        print(f"winback {__version__}")
        return 0
    if args.command == "demo":  # the main job: a quick leaderboard of the default scenario
        from experiments.cli.hydra_commands import run_benchmark

        return run_benchmark(["experiment=quick"])
    if args.command == "simulate":
        from experiments.jobs.simulate import run_from_args

        return run_from_args(args)
    if args.command == "stress-combine":
        from experiments.jobs.stress import combine

        combine(args.folder)
        return 0
    if args.command == "aggregate":
        from experiments.jobs.aggregate import aggregate

        table, pairs = aggregate(args.folder, args.against)
        print(table.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
        print(f"table: {args.folder / 'sweep.csv'}  plot: {args.folder / 'sweep.png'}")
        if pairs is not None:
            print(f"\nagainst {args.against}, same agent, same seeds:")
            print(pairs.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
            print(f"table: {args.folder / 'paired.csv'}  plot: {args.folder / 'paired.png'}")
        return 0
    if args.command == "report":
        from experiments.reporting.leaderboard import render

        report = render(args.folder, args.stress, args.plan)
        if args.json:  # stdout is the JSON alone
            print((args.folder / "rollout.json").read_text())
        print(f"report: {report.resolve()}", file=sys.stderr if args.json else sys.stdout)
        return 0
    if args.command == "regret":
        from experiments.jobs.regret import run_from_args as regret_run

        return regret_run(args)
    if args.command == "calibrate":
        from experiments.jobs.calibrate import run_from_args as calibrate_run

        return calibrate_run(args)
    if args.command == "message-ab":
        from experiments.jobs.message_ab import run_from_args as message_ab_run

        return message_ab_run(args)
    if args.command == "perf":
        return _perf(args)
    if args.command == "ope-bench":
        from experiments.jobs.ope_bench import run_from_args as ope_bench_run

        return ope_bench_run(args)
    if args.command == "ope":
        from experiments.jobs.ope import run_from_args as ope_run

        return ope_run(args)
    if args.command == "ope-log":
        from experiments.jobs.ope_log import run_from_args as ope_log_run

        return ope_log_run(args)
    if args.command == "score":
        from experiments.jobs.score import run_from_args as score_run

        return score_run(args)
    if args.command == "app":
        from experiments.app.launch import launch

        return launch(args.address, args.port, args.config_dir, args.out, args.open)
    parser.error(f"unknown command {args.command!r}")
    return 2


def _perf(args: argparse.Namespace) -> int:
    if args.target == "sim":
        from experiments.perf.sim import perf_sim as measure
    elif args.target == "sweep":
        from experiments.perf.sweep import perf_sweep as measure
    elif args.target == "stress":
        from experiments.perf.stress import perf_stress as measure
    elif args.target == "calibrate":
        from experiments.perf.calibrate import perf_calibrate as measure
    elif args.target == "app":
        from experiments.perf.app import perf_app as measure
    elif args.target == "ope":
        from experiments.perf.ope import perf_ope as measure
    elif args.target == "score":
        from experiments.perf.score import perf_score as measure
    else:
        from experiments.perf.env import perf_env as measure
    out = measure(args)
    if args.json:
        print(json.dumps(out))
    return 0
