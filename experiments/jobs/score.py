"""``winback score``: who is about to leave, why, and what they are worth, per customer.

Fits the churn scores (``agents.scores``: lapse within 30 and 90 days, cancelling within 90,
the pain point, 12 months' margin) on ``--train-users`` simulated customers of the scenario
(``--scenario``, ``--config-dir``, ``--set scenario.KEY=VALUE``), or reads a fitted model
(``--model``), and scores ``--users`` customers of an independent run of the same scenario.
Since the simulator knows what became of them, it measures every score against that truth
beside the baselines (``experiments.scores.evaluate``) and names the segments
(``experiments.scores.segments``).

Writes to ``--out``: ``scores.parquet`` (one row per customer: the status in the segments'
words, the scores, a chance blank where it does not apply, the tiers and the segment, and
for simulated customers the truth as ``true_*``), ``segments.csv`` (with the playbook's
offer for each segment's reason and, for simulated customers, how often the reason is
right), ``metrics.csv`` and ``curves.csv`` (tidy), ``summary.json`` (with ``as_of``, the
day a log's customers are scored as of; null for simulated ones), ``scores.skops`` (the
fitted model: ``--model`` reads it back), ``plots/*.png`` and ``report.html``
(``experiments.scores.report``, in the app's words).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.cli.parsers import log_limits
from experiments.files import check_writable, strict_json, write_json, write_table, write_text
from experiments.scores.report import lines, plot, report


def scenario_of(args: argparse.Namespace) -> Any:
    """The scenario named by ``--scenario`` with ``--set`` overrides (Hydra's composition,
    the same keys as ``winback benchmark``)."""
    from omegaconf import OmegaConf

    from experiments.cli.hydra_help import options_of
    from experiments.config.compose import compose
    from experiments.config.scenario import scenario_from
    from sim.validation import check_choice

    sets = list(args.set or [])
    for item in sets:
        if not item.startswith("scenario.") or "=" not in item:
            raise ValueError(
                f"--set: {item!r}; allowed: scenario.KEY=VALUE, e.g. scenario.signals.price=0.9"
            )
    config_dir = str(args.config_dir) if args.config_dir else None
    for option, group, name in (("--scenario", "scenario", args.scenario),
                                ("--offers", "offers", offers_name(args))):  # fmt: skip
        check_choice(option, name, options_of(group, config_dir))
    cfg = compose("benchmark", [f"scenario={args.scenario}", *sets], config_dir)
    node = OmegaConf.to_container(cfg.scenario, resolve=True)
    return scenario_from(node)  # type: ignore[arg-type]


def run_from_args(args: argparse.Namespace) -> int:
    from agents.scores import CUT_DAY, ChurnScores, fit_scores, simulate_customers
    from experiments.scores.evaluate import evaluate
    from experiments.scores.segments import counts, label
    from sim.validation import check_int

    start = time.perf_counter()
    check_int("--users", args.users, 1_000, 10_000_000)
    check_int("--train-users", args.train_users, 1_000, 10_000_000)
    if args.log is None and args.as_of is not None:
        raise ValueError(
            f"--as-of: {args.as_of!r} is for a log; allowed: with --log (simulated customers "
            "are scored on the day they are made)"
        )
    limits = log_limits(args)
    out = args.out or Path("outputs/score") / time.strftime("%Y-%m-%d_%H-%M-%S")
    if (out / "summary.json").exists() and not args.force:
        raise ValueError(
            f"--out: {str(out)!r} holds results already; allowed: a new folder, or --force"
        )
    check_writable(out, "--out")
    model = ChurnScores.load(args.model) if args.model else None
    scenario = scenario_of(args)
    catalogue = catalogue_of(args)
    offers = list(catalogue.names)
    print(f"scenario {scenario.name}: signal strengths {scenario.signals.strengths()}")
    notes: list[str] = []
    as_of = None
    if args.log is not None:
        test, as_of = log_customers(args, scenario, catalogue, limits, notes)
        print(f"log: {test.n:,} customers from {args.log}", flush=True)
    else:
        print(f"simulating {args.users:,} customers to score (day {CUT_DAY})", flush=True)
        test = simulate_customers(scenario, args.users, seed=2 * args.seed + 1)
    if model is not None:
        model.columns(test.names)  # a model of another feature set: refused before any work
    train = None
    if model is None or test.labels:
        print(f"simulating {args.train_users:,} customers to learn from", flush=True)
        train = simulate_customers(scenario, args.train_users, seed=2 * args.seed)
    if model is None:
        print("fitting the scores (gradient boosting: 5 models)", flush=True)
        model = fit_scores(train, seed=args.seed)  # type: ignore[arg-type]
        model.info.update({"scenario": scenario.name, "signals": scenario.signals.strengths()})
    tick = time.perf_counter()
    predicted = model.predict(test.x, test.names)
    score_seconds = time.perf_counter() - tick
    evaluation = None
    if test.labels and train is not None:
        print("measuring the scores against what happened", flush=True)
        evaluation = evaluate(model, train, test)
    table = label(score_table(predicted, test))
    segments = counts(table, offers)
    out.mkdir(parents=True, exist_ok=True)
    write_table(table.drop(columns=["status_code"]), out / "scores.parquet")
    write_table(segments, out / "segments.csv")
    if evaluation is not None:
        write_table(evaluation.metrics, out / "metrics.csv")
        write_table(evaluation.curves, out / "curves.csv")
    if args.model is None:
        model.save(out / "scores.skops")
    summary = {
        "scenario": scenario.name,
        "signals": scenario.signals.strengths(),
        "source": str(args.log) if args.log is not None else "simulated",
        "customers": test.n,
        "as_of": as_of,
        "train_customers": None if train is None else train.n,
        "model": str(args.model) if args.model else str(out / "scores.skops"),
        "features": model.feature_names,
        "score_seconds": round(score_seconds, 2),
        "metrics": [] if evaluation is None else evaluation.metrics.to_dict("records"),
        "segments": segments.to_dict("records"),
        "notes": notes,
        "seconds": round(time.perf_counter() - start, 1),
    }
    write_json(out / "summary.json", summary)
    plots = plot(evaluation, out / "plots") if evaluation is not None else []
    write_text(out / "report.html", report(summary, evaluation, segments, plots))
    for line in lines(summary, evaluation):
        print(line)
    print(f"\nresults: {out.resolve()}  report: {(out / 'report.html').resolve()}")
    if args.json:
        print(strict_json(summary))
    return 0


def log_customers(
    args: argparse.Namespace, scenario: Any, catalogue: Any, limits: Any, notes: list[str]
) -> tuple[Any, str]:
    """The customers of ``--log`` as they stand on ``--as-of`` (default the day after its
    last), their features rebuilt from their events (``experiments.ope.events``), and that
    day as an ISO date."""

    from agents.scores import Customers, score_features
    from experiments.ope.events import features_at
    from sim.calibration.eventlog import read_event_log

    log = read_event_log(args.log, args.skip_bad_rows, **dataclasses.asdict(limits))
    notes += log.notes  # rows left out, duplicates
    day = None
    if args.as_of is not None:
        day = log.day_of(args.as_of, "--as-of")  # ISO only: never guessed day- or month-first
        if not log.window_start < day <= log.end + 1:
            first = log.origin + pd.Timedelta(days=log.window_start)
            after = log.origin + pd.Timedelta(days=log.end + 1)
            raise ValueError(
                f"--as-of: {args.as_of!r}; allowed: a date after the log's first day "
                f"({first:%Y-%m-%d}) and at most the day after its last ({after:%Y-%m-%d})"
            )
    ids, table, more = features_at(log, scenario, catalogue, day)
    as_of = log.origin + pd.Timedelta(days=log.end + 1 if day is None else day)
    notes += more
    names = score_features(list(table.columns))
    status = (table["status_inactive"] + 2 * table["status_churned"]).to_numpy(np.uint8)
    customers = Customers(
        names=names,
        x=table[names].to_numpy(np.float32),
        status=status,
        subscription=scenario.is_subscription,
        ids=ids,
    )
    return customers, f"{as_of:%Y-%m-%d}"  # and the day they are scored as of (ISO)


def offers_name(args: argparse.Namespace) -> str:
    """The run's offers config: ``--offers``; left out, for a log ``streaming`` and for
    simulated customers (scored with no offers; the report names the playbook's offer per
    reason from it) the catalogue that goes with a preset scenario
    (``sim.presets.PRESET_OFFERS``: retail's for retail), else ``streaming``."""
    from sim.presets import PRESET_OFFERS

    if args.offers is not None:
        return str(args.offers)
    return PRESET_OFFERS.get(args.scenario, "streaming") if args.log is None else "streaming"


def catalogue_of(args: argparse.Namespace) -> Any:
    """The catalogue of :func:`offers_name`."""
    from omegaconf import OmegaConf

    from experiments.config.compose import compose
    from experiments.config.scenario import catalogue_from

    config_dir = str(args.config_dir) if args.config_dir else None
    cfg = compose("benchmark", [f"offers={offers_name(args)}"], config_dir)
    return catalogue_from(OmegaConf.to_container(cfg.offers, resolve=True))  # type: ignore[arg-type]


def score_table(predicted: dict[str, np.ndarray], customers: Any) -> pd.DataFrame:
    """One row per customer: id, observed status (in words: ``STATUS``), the scores (a
    chance blank where it does not apply: ``blank_where_moot``), and the truth where
    known."""
    from experiments.scores.segments import blank_where_moot
    from experiments.scores.words import STATUS
    from sim.constants import PAIN_POINTS

    ids = customers.ids
    table = pd.DataFrame(
        {
            "user_id": np.arange(customers.n) if ids is None else ids,
            "status": np.array(STATUS, dtype=object)[customers.status],
            "status_code": customers.status,
        }
    )
    for name, values in predicted.items():
        table[name] = values
    table = blank_where_moot(table)
    table["reason"] = np.array(PAIN_POINTS, dtype=object)[predicted["reason"]]
    for name, values in customers.labels.items():
        table[f"true_{name}"] = (
            np.array(PAIN_POINTS, dtype=object)[values] if name == "reason" else values
        )
    return table
