"""The argparse parser of ``winback`` (Hydra parses ``benchmark``, ``run`` and ``tune``
itself: ``hydra_commands.py``): commands, arguments, defaults and help, nothing else.
Only the command being run gets its arguments (and imports what their choices need), so
``winback --help`` imports no simulator."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

CALIBRATION_FORMATS = ("events", "cdnow", "telco")
COMMANDS = {
    "demo": "the main job: a quick leaderboard of the default scenario (streaming, 10k users, "
    "3 seeds, every reference policy, two bandits, the uplift policy, MaskablePPO)",
    "simulate": "simulate a scenario: control vs each offer sent to all inactive users at "
    "every campaign epoch (28 days)",
    "perf": "benchmarks (ratios measured in one run)",
    "regret": "bandit regret curves on the bandit env (PNG)",
    "benchmark": "the policy leaderboard (Hydra app; overrides like experiment=quick; --help)",
    "run": "one agent on one scenario vs the control (Hydra app; e.g. agent=thompson; --help)",
    "stress": "the policies across an ensemble of plausible worlds: which is robust "
    "(Hydra app; worlds=20; --help)",
    "stress-combine": "join the shards of a winback stress --multirun into the full results",
    "report": "render plots and the HTML report from a benchmark results folder, with 'Before "
    "you roll out' (robustness, the full-information reference's shares, the test plan)",
    "tune": "Optuna over the benchmark (resumable SQLite study): tune experiment=tune_thompson",
    "plan": "the live A/B test that would confirm a policy: size, duration, cost (--help)",
    "calibrate": "fit the simulator to an event log (CSV/Parquet): scenario YAML + HTML report",
    "aggregate": "collect a sweep folder into one table and plot",
    "message-ab": "a one-off message A/B test in a preset, next to Hillstrom's e-mail test",
    "ope-bench": "off-policy estimators (DM, IPS, SNIPS, DR, ...) against the simulator's "
    "truth on logged campaigns: bias, RMSE, interval coverage by log size",
    "ope": "what a new policy would have earned on your logged decisions (off-policy "
    "estimates with intervals, diagnostics, a plain verdict; --predict: the simulator's beside)",
    "ope-log": "a simulated company's logged decisions (a logging policy with its propensities): "
    "a .npz for winback ope, or its event log (.csv/.parquet) as a company would export it",
    "score": "who is about to leave, why, and what they are worth: churn-risk, churn-reason "
    "and value scores per customer, measured against the simulator's truth, with segments",
    "app": "the web app for strategists: scenario, offers, comparisons, long runs, robustness, "
    "test plans, calibration, in a browser (local only by default: 127.0.0.1)",
    "version": "print the version",
}
DESCRIPTIONS = {
    "simulate": "Simulate a built-in scenario with the no-offer control and, for each offer "
    "in the catalogue, a policy that sends it to every inactive or churned user at every "
    "campaign epoch; print KPIs and incremental profit on common random numbers.",
    "message-ab": "Send one offer to a preset's recent customers (active within --history-days, "
    "reachable on its channel) on the first day the company has that much history, and compare "
    "each with their own no-offer run on common random numbers over --window-days: conversion "
    "and spend lifts with 95% intervals, next to Hillstrom's randomised e-mail test (2008).",
    "calibrate": "Fit the simulator's lifecycle model to an event log by maximum likelihood, "
    "simulate the customers with it, compare with the log (and BG/NBD) in and out of sample, "
    "and write a scenario YAML and an HTML report.",
}


class Version(argparse.Action):
    """``--version``, reading the version only when asked."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        from sim import __version__

        parser.exit(message=f"winback {__version__}\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Every command with its help; ``command``'s arguments too."""
    parser = argparse.ArgumentParser(
        prog="winback", description="Win-back sandbox: test customer win-back policies offline."
    )
    parser.add_argument("--version", action=Version)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, text in COMMANDS.items():
        p = sub.add_parser(name, help=text, description=DESCRIPTIONS.get(name, text))
        if name == command and name in ARGUMENTS:
            ARGUMENTS[name](p)
    return parser


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not allowed; expected an integer >= 1")
    return value


def common(p: argparse.ArgumentParser, seed: bool = True) -> None:
    """``--seed`` (optional) and ``--json``, as every measuring command has them."""
    if seed:
        p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="last output line is one JSON object")


def simulate_arguments(p: argparse.ArgumentParser) -> None:
    from sim.presets import SCENARIOS

    p.add_argument("--scenario", default="streaming", choices=sorted(SCENARIOS))
    p.add_argument("--users", type=positive_int, default=100_000, help="population size")
    p.add_argument("--days", type=positive_int, default=365, help="horizon in days")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--offers", default="all", help="comma-separated offer names, or 'all'")
    p.add_argument(
        "--epoch-days",
        type=positive_int,
        default=28,
        help="days between campaign epochs (scenario.epoch_days): the sends",
    )
    p.add_argument("--out", type=Path, default=None, help="folder for CSV + JSON results")
    p.add_argument(
        "--event-log",
        type=Path,
        default=None,
        metavar="PATH",
        help="write the simulated company's event log (.csv or .parquet) of one run: the "
        "campaign's if --campaign is given, else the no-offer control's",
    )
    p.add_argument(
        "--campaign",
        default=None,
        metavar="OFFER[,OFFER...]",
        help="also run a randomised campaign: every user seen as inactive or churned, once, "
        "held out or sent one of these offers at random",
    )
    p.add_argument(
        "--holdout-share",
        type=float,
        default=None,
        help="the campaign's share held out (sent nothing; default 0.2)",
    )
    p.add_argument(
        "--billing",
        default=None,
        choices=("none", "monthly", "annual"),
        help="bill every plan so (default the preset's; the presets bill 'none': a "
        "cancellation acts at once). For an event log to calibrate on: monthly",
    )
    p.add_argument(
        "--log-start",
        default="2024-01-01",
        metavar="DATE",
        help="date of the event log's first day (the start of the simulated warm-up)",
    )
    common(p, seed=False)


PERF_TARGETS = {
    "sim": (
        "simulator speed: fast engine vs naive reference",
        {
            "--users": 1_000_000,
            "--days": 365,
            "--reference-users": 100_000,
            "--reference-days": 365,
        },
    ),
    "calibrate": (
        "subscription calibration: time and memory, sampled fit vs fit on everyone",
        {"--users": 100_000, "--days": 730, "--reference-users": 10_000},
    ),
    "env": (
        "environment speed: single, batched, SB3 PPO vs CartPole",
        {
            "--seconds": 5.0,
            "--batch-users": 4096,
            "--episodes": 2,
            "--ppo-envs": 64,
            "--ppo-steps": 65_536,
        },
    ),
    "stress": (
        "winback stress at the issue's size: 20 worlds x 15 policies x 3 seeds (20 min target)",
        {"--users": 20_000, "--days": 365, "--worlds": 20, "--seeds": 3},
    ),
    "ope": (
        "off-policy evaluation: 1,000,000 decisions by all six estimators (60 s target) vs "
        "a per-decision loop",
        {"--rounds": 1_000_000, "--boot": 200, "--reference-rounds": 20_000},
    ),
    "score": (
        "churn scores: 1,000,000 customers scored after training (10 s target) vs one "
        "customer at a time",
        {"--users": 1_000_000, "--train-users": 50_000, "--reference-users": 2_000},
    ),
    "sweep": (
        "an 8-run sweep: serial vs joblib launcher (2 workers)",
        {"--users": 30_000, "--days": 182, "--workers": 2},
    ),
    "app": (
        "the web app in Chromium: start-up, the quick comparison (5 policies), an edit's "
        "re-validation, against their targets (10 s, 30 s, 1 s)",
        {"--users": 10_000, "--days": 182, "--seeds": 3},
    ),
}
"""``winback perf TARGET``: its help and its options' defaults (``--seconds``: per single env)."""


def perf_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="target", metavar="TARGET", required=True)
    for target, (text, defaults) in PERF_TARGETS.items():
        t = sub.add_parser(target, help=text)
        for flag, default in defaults.items():
            kind = float if isinstance(default, float) else positive_int
            t.add_argument(flag, type=kind, default=default)
        if target == "stress":
            t.add_argument(
                "--full-training",
                action="store_true",
                help="learned agents with their default budgets, not experiment=quick's",
            )
        if target == "app":
            t.add_argument("--port", type=int, default=0, help="the app's port (0: a free one)")
        common(t, seed=target not in ("sweep", "stress", "app"))


def regret_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--users", type=positive_int, default=102_400, help="users in the stream")
    p.add_argument("--block", type=positive_int, default=512)
    p.add_argument(
        "--attribution-days",
        type=positive_int,
        default=182,
        help="days of profit a decision is credited with (a multiple of 7)",
    )
    p.add_argument("--out", type=Path, default=Path("outputs/regret"))
    common(p)


def calibrate_arguments(p: argparse.ArgumentParser) -> None:
    from experiments.config.scenario import USER_CONF
    from experiments.jobs.subscription_outputs import USERS_FOR_OFFERS
    from sim.calibration.subscriptions import FIT_SAMPLE
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
        help="events: our event-log schema (default); cdnow: the raw CDNOW files; telco: "
        "the IBM Telco churn table (customer, tenure, contract, monthly_charges, churn)",
    )
    p.add_argument(
        "--base",
        default=None,
        help=f"preset whose pain points, channels, response model and calendar the scenario "
        f"keeps ({', '.join(SCENARIOS)}; default streaming for a subscription log, else "
        "retail)",
    )
    p.add_argument(
        "--classes",
        type=int,
        default=2,
        help="latent customer classes (1-5, default 2; fits with fewer are reported too; "
        "for a subscription log, per plan, the number BIC prefers up to this)",
    )
    p.add_argument(
        "--reps",
        type=int,
        help="simulated copies of each customer (default: about 200,000 simulated in all)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--fit-sample",
        type=int,
        metavar="N",
        help=f"subscription log with sessions: fit each plan's lifecycle on N of its "
        f"customers drawn at random (default {FIT_SAMPLE:,}; 0: all of them, slower); "
        "everything else uses every customer",
    )
    p.add_argument(
        "--users",
        type=int,
        help="users in the scenario (default: the log's customers, at least 1,000)",
    )
    p.add_argument(
        "--offer-users",
        type=int,
        metavar="N",
        help=f"log with randomised campaigns: simulated customers on which each offer's lift "
        f"is fitted to its logged effect (default {USERS_FOR_OFFERS:,}; more: a finer fit, "
        "slower)",
    )
    p.add_argument("--out", type=Path, help="results folder")
    p.add_argument(
        "--save-scenario",
        metavar="NAME",
        help="also write NAME.yaml into your config folder's scenario/ (then: winback "
        "benchmark --config-dir my_conf scenario=NAME); built-in names are refused",
    )
    p.add_argument(
        "--config-dir",
        type=Path,
        default=USER_CONF,
        metavar="DIR",
        help=f"your config folder, where --save-scenario writes (default: {USER_CONF})",
    )
    p.add_argument("--force", action="store_true", help="overwrite an existing NAME.yaml of yours")
    log_arguments(p)
    p.add_argument("--json", action="store_true", help="last line: one JSON object")


def log_arguments(p: argparse.ArgumentParser) -> None:
    """How an event log is read (``sim.calibration.eventlog.Limits``; :func:`log_limits`)."""
    from sim.calibration.eventlog import DUPLICATES, MAX_AMOUNT, MAX_YEARS

    p.add_argument("--skip-bad-rows", action="store_true", help="leave bad rows out (counted)")
    p.add_argument(
        "--date-format",
        metavar="FMT",
        help="timestamps not in ISO 8601, e.g. '%%d/%%m/%%Y' (applied strictly to every row)",
    )
    p.add_argument(
        "--max-years",
        type=float,
        default=MAX_YEARS,
        help=f"refuse a log spanning more years than this (default {MAX_YEARS:g})",
    )
    p.add_argument(
        "--accept-dates",
        action="store_true",
        help="accept timestamps before 1990-01-01 or more than a year ahead",
    )
    p.add_argument(
        "--max-amount",
        type=float,
        default=MAX_AMOUNT,
        help=f"refuse an amount or price above this (default {MAX_AMOUNT:,.0f})",
    )
    p.add_argument(
        "--duplicates",
        choices=DUPLICATES,
        default="drop",
        help="exact duplicate rows (reported either way): drop (default) or keep",
    )


def message_ab_arguments(p: argparse.ArgumentParser) -> None:
    from sim.offers import OBSERVED_STATUSES
    from sim.presets import SCENARIOS

    p.add_argument("--scenario", default="retail", choices=sorted(SCENARIOS))
    p.add_argument("--offer", default="reminder_email", help="an offer of the preset's catalogue")
    p.add_argument("--users", type=positive_int, default=100_000, help="population size")
    p.add_argument(
        "--seeds", type=seed_list, default=(1, 2, 3, 4, 5), help="comma-separated (1,2,3,4,5)"
    )
    p.add_argument("--window-days", type=positive_int, default=14, help="outcome window")
    p.add_argument(
        "--history-days", type=positive_int, default=365, help="recent: active within this"
    )
    p.add_argument(
        "--statuses",
        type=lambda text: tuple(s.strip() for s in text.split(",")),
        default=OBSERVED_STATUSES,
        help=f"observed statuses in the test (default all: {','.join(OBSERVED_STATUSES)})",
    )
    common(p, seed=False)


def seed_list(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected integers like 1,2,3") from None
    return seeds


def report_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", type=Path, help="a folder written by winback benchmark")
    p.add_argument(
        "--stress",
        type=Path,
        help="a winback stress results folder for 'Before you roll out' (default: FOLDER/stress "
        "if it holds one)",
    )
    p.add_argument(
        "--plan",
        type=Path,
        help="a winback plan folder for 'Before you roll out' (default: FOLDER/plan if it "
        "holds one)",
    )
    p.add_argument("--json", action="store_true", help="also print 'Before you roll out' as JSON")


def folder_argument(help_text: str) -> Callable[[argparse.ArgumentParser], None]:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("folder", type=Path, help=help_text)

    return add


def aggregate_arguments(p: argparse.ArgumentParser) -> None:
    folder_argument("a --multirun sweep folder (hydra.sweep.dir)")(p)
    p.add_argument(
        "--against",
        metavar="KEY=VALUE",
        help="also compare every run with the run this swept override picks, agent by agent "
        "and seed by seed (paired.csv, paired.png), e.g. --against 'scenario.signals={}'",
    )


def logger_argument(p: argparse.ArgumentParser) -> None:
    """``--logger``: the simulated company's logging policy (``ope-bench``, ``ope-log``)."""
    p.add_argument(
        "--logger",
        default="uniform",
        help="uniform, epsilon_playbook, vendor or thompson (the logging policy)",
    )


def ope_bench_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--users",
        type=seed_list,
        default=(2000, 5000, 20000),
        help="customers per log, comma-separated sizes (each 1,000 or more)",
    )
    p.add_argument("--days", type=positive_int, default=182, help="the logs' horizon")
    p.add_argument("--replications", type=positive_int, default=50, help="logs per size")
    p.add_argument(
        "--first-seed",
        type=positive_int,
        default=1,
        help="the first log's seed (seeds run on from it: a run continued in parts)",
    )
    logger_argument(p)
    p.add_argument(
        "--targets",
        default="nothing,playbook,blanket_discount_30,blanket_support_call",
        help="target policies: nothing, playbook, blanket_<offer>",
    )
    p.add_argument("--truth-reps", type=positive_int, default=8, help="look-ahead replications")
    p.add_argument("--boot", type=positive_int, default=100, help="bootstrap resamples")
    p.add_argument("--jobs", type=positive_int, default=1, help="logs scored at once")
    p.add_argument("--out", type=Path, default=Path("outputs/ope-bench"))
    common(p, seed=False)


def log_limits(args: argparse.Namespace) -> Any:
    """The ``Limits`` of :func:`log_arguments`' options (checked: a bad one is named)."""
    from sim.calibration.eventlog import Limits

    return Limits(
        args.date_format, args.max_years, args.accept_dates, args.max_amount, args.duplicates
    )


def ope_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "log",
        type=Path,
        help="the log: .npz (bandit_feedback, as winback ope-log writes), a decisions table or "
        "an event log with a propensity column (.csv/.parquet)",
    )
    p.add_argument(
        "--policy",
        action="append",
        default=[],
        help="a policy to evaluate, repeatable: an agent name (playbook, uplift, thompson, "
        "blanket_<offer>, one of --config-dir's) or a _target_ (my_module.MyPolicy)",
    )
    p.add_argument("--scenario", default="streaming", help="scenario config (default streaming)")
    p.add_argument("--offers", default="streaming", help="offers config (default streaming)")
    p.add_argument("--config-dir", type=Path, default=None, help="your config folder (my_conf)")
    p.add_argument("--trust", action="append", default=[], help="a module of yours to import")
    p.add_argument(
        "--predict",
        action="store_true",
        help="also simulate the scenario with each policy: the simulator's value beside the log's",
    )
    p.add_argument("--window", type=positive_int, default=28, help="attribution days (28)")
    p.add_argument("--boot", type=positive_int, default=200, help="bootstrap resamples (200)")
    p.add_argument("--clip", type=float, default=None, help="cut weights above this (none)")
    p.add_argument("--out", type=Path, default=None, help="results folder (outputs/ope/<time>)")
    p.add_argument("--force", action="store_true", help="replace results already in --out")
    log_arguments(p)
    common(p)


def ope_log_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        help="where: .npz (bandit_feedback) or .csv/.parquet (the company's event log)",
    )
    logger_argument(p)
    p.add_argument("--users", type=positive_int, default=20_000, help="customers (20,000)")
    p.add_argument("--days", type=positive_int, default=182, help="days logged (182)")
    p.add_argument("--window", type=positive_int, default=28, help="attribution days (28)")
    p.add_argument(
        "--repeat",
        action="store_true",
        help="decide for a lapsed customer at every epoch (default: once, a campaign design)",
    )
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    common(p)


def score_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scenario", default="streaming", help="scenario config (default streaming)")
    p.add_argument("--config-dir", type=Path, default=None, help="your config folder (my_conf)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        help="a scenario override, repeatable: scenario.KEY=VALUE (scenario.signals.price=0.9)",
    )
    p.add_argument("--users", type=positive_int, default=100_000, help="customers to score")
    p.add_argument(
        "--train-users", type=positive_int, default=100_000, help="customers to learn from"
    )
    p.add_argument("--model", type=Path, default=None, help="a fitted scores.skops to use")
    p.add_argument(
        "--log",
        type=Path,
        default=None,
        help="score your own customers: an event log (CSV/Parquet, the calibration schema)",
    )
    p.add_argument(
        "--as-of",
        default=None,
        metavar="DATE",
        help="with --log: score the customers as they stood on DATE, from the events before "
        "it (default: the day after the log's last event)",
    )
    p.add_argument(
        "--offers",
        default=None,
        help="offers config: a log's offers are read with it; the report names the playbook's "
        "offer per reason from it (default: the scenario's own, else streaming)",
    )
    log_arguments(p)
    p.add_argument("--out", type=Path, default=None, help="results folder (outputs/score/<time>)")
    p.add_argument("--force", action="store_true", help="replace results already in --out")
    common(p)


def app_arguments(p: argparse.ArgumentParser) -> None:
    from experiments.config.scenario import USER_CONF

    p.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    p.add_argument(
        "--address",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 lets "
        "anyone on your network use it and run code here)",
    )
    p.add_argument(
        "--config-dir",
        type=Path,
        default=USER_CONF,
        help=f"your config folder: scenarios, offers and agents of yours, where saves go "
        f"(default {USER_CONF}, what winback benchmark --config-dir {USER_CONF} reads)",
    )
    p.add_argument("--out", type=Path, default=Path("outputs"), help="results (default outputs)")
    p.add_argument("--open", action="store_true", help="open it in your browser")


ARGUMENTS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "app": app_arguments,
    "ope-bench": ope_bench_arguments,
    "ope": ope_arguments,
    "ope-log": ope_log_arguments,
    "score": score_arguments,
    "simulate": simulate_arguments,
    "perf": perf_arguments,
    "regret": regret_arguments,
    "calibrate": calibrate_arguments,
    "message-ab": message_ab_arguments,
    "report": report_arguments,
    "aggregate": aggregate_arguments,
    "stress-combine": folder_argument(
        "the hydra.sweep.dir of winback stress -m shards=N shard=0,...,N-1"
    ),
}
