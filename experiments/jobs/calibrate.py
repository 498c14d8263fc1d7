"""``winback calibrate LOG``: fit the simulator to an event log and show how well it fits.

Writes into ``--out`` (default ``outputs/calibration/<log name>/<date>_<time>``, a new
folder every run): ``scenario.yaml`` (a ``conf/scenario/`` file: ``--save-scenario NAME``
also writes it into your config folder as ``my_conf/scenario/NAME.yaml``, ``--config-dir``
to choose the folder), ``parameters.csv``,
``weekly.csv``, ``frequency.csv``, ``recency.csv``, ``calibration.json``, ``plots/*.png`` and
a self-contained ``report.html``. With ``--json`` the last line printed is one JSON object
(parameters and holdout errors). Every argument and both output folders are checked before
the log is read; notes about the reading (duplicate rows) go to stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from experiments.cli.parsers import log_limits
from experiments.config.scenario import scenario_yaml, user_scenario_file
from experiments.files import check_writable, strict_json, write_json, write_table, write_text
from experiments.jobs import subscription_outputs
from experiments.jobs.subscription_outputs import parameter_table
from experiments.reporting.calibration import (
    make_plots,
    percent_error,
    reference_total,
    report_html,
)
from sim.calibration import Calibration, EventLog, calibrate, read_event_log, validate_events
from sim.calibration.api import base_for, check_calibrate_args, precheck
from sim.calibration.datasets import read_telco
from sim.calibration.eventlog import Limits, read_cdnow
from sim.calibration.subscriptions import SubscriptionCalibration
from sim.presets import PRESET_OFFERS
from sim.scenario import Scenario


def check_args(args: argparse.Namespace) -> tuple[Path, Path | None, Limits]:
    """Every argument checked before any work, the output folder (``--out``) and the
    scenario file to write (``--save-scenario``) writable: returns both and the log's
    limits."""
    check_calibrate_args(args.base or "retail", args.classes, args.reps, args.seed, args.fit_sample)
    if args.users is not None and not 1 <= args.users <= 50_000_000:
        raise ValueError(f"--users: {args.users}; allowed: 1 to 50,000,000")
    low, high = subscription_outputs.OFFER_USERS
    if args.offer_users is not None and not low <= args.offer_users <= high:
        raise ValueError(f"--offer-users: {args.offer_users}; allowed: {low:,} to {high:,}")
    limits = log_limits(args)
    out = args.out or default_out(args.log)
    check_writable(out, "--out")
    target = None
    if args.save_scenario is not None:
        target = user_scenario_file(args.save_scenario, args.config_dir, args.force)
        check_writable(target.parent, "--config-dir")
    return out, target, limits


def load_log(args: argparse.Namespace, limits: Limits) -> EventLog:
    """The validated log; notes about its reading (bad rows left out, duplicate rows) on
    stderr."""
    if args.format in ("cdnow", "telco"):
        raw = read_cdnow(args.log) if args.format == "cdnow" else read_telco(args.log)
        log = validate_events(raw, str(args.log), args.skip_bad_rows, limits)
    else:
        limits_kw = dataclasses.asdict(limits)
        log = read_event_log(args.log, args.skip_bad_rows, progress=not args.json, **limits_kw)
    for note in log.notes:
        print(f"winback: note: {note}", file=sys.stderr)
    return log


def run_from_args(args: argparse.Namespace) -> int:
    out, target, limits = check_args(args)
    log = load_log(args, limits)
    precheck(log, args.holdout_from)  # a bad date or a log too thin fails before any work
    base = base_for(log, args.base)
    result = calibrate(
        log,
        args.holdout_from,
        base=base,
        classes=args.classes,
        reps=args.reps,
        seed=args.seed,
        users=args.users,
        progress=not args.json,
        fit_sample=args.fit_sample,
    )
    offers_file: Path | None = None
    if isinstance(result, SubscriptionCalibration):
        name = target.stem if target is not None else "calibrated"
        comment = subscription_outputs.yaml_comment(result, base)
        text = scenario_yaml(rounded(result.scenario, name), base, comment)
        users = args.offer_users or subscription_outputs.USERS_FOR_OFFERS
        t0 = time.perf_counter()
        offers = subscription_outputs.fitted_offers(result, base, args.seed, users)
        if offers is not None:  # the campaigns' lifts, fitted by simulation, count too
            result.seconds["offers"] = time.perf_counter() - t0
            result.seconds["total"] += result.seconds["offers"]
        subscription_outputs.write_results(result, out, text, base, offers)
        save(target, text)
        if offers is not None and target is not None:
            offers_file = target.parent.parent / "offers" / target.name
            save(offers_file, subscription_outputs.offers_yaml(offers, base, args.log.name))
        print(subscription_outputs.text_summary(result, offers, base))
    else:
        write_results(result, out, base, target)
        print(text_summary(result))
    print(f"report: {(out / 'report.html').resolve()}")
    print(f"scenario: {(out / 'scenario.yaml').resolve()}")
    if target is not None:
        print(saved_line(target, offers_file))
    if args.json:
        line = (
            subscription_outputs.json_line(result)
            if isinstance(result, SubscriptionCalibration)
            else json_line(result)
        )
        print(strict_json(line))
    return 0


# ------------------------------------------------------------------ files
def saved_line(target: Path, offers_file: Path | None) -> str:
    """What was saved into the user's config folder and the benchmark command that uses it
    (the fitted offers too, when the log's campaigns gave them)."""
    run = f"winback benchmark --config-dir {target.parent.parent} scenario={target.stem}"
    if offers_file is None:
        return f"saved: {target} (run: {run})"
    return f"saved: {target} and {offers_file} (run: {run} offers={offers_file.stem})"


def default_out(log: Path) -> Path:
    """``outputs/calibration/<log name>/<date>_<time>``: every run keeps its own folder."""
    return Path("outputs/calibration") / log.stem / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")


def write_results(result: Calibration, out: Path, base: str, target: Path | None) -> None:
    """Every file, each written whole (temp file, then rename)."""
    (out / "plots").mkdir(parents=True, exist_ok=True)
    name = target.stem if target is not None else "calibrated"
    text = scenario_yaml(rounded(result.scenario, name), base, yaml_comment(result, base))
    write_text(out / "scenario.yaml", text)
    write_table(parameter_table(result.lifecycle.table()), out / "parameters.csv")
    write_table(result.weekly, out / "weekly.csv")
    write_table(result.frequency, out / "frequency.csv")
    optional = {
        out / "recency.csv": result.recency if result.holdout else None,
        out / "offers.csv": result.offers if not result.offers.empty else None,
    }
    for path, table in optional.items():
        if table is None:
            path.unlink(missing_ok=True)  # a previous run's, not this one's
        else:
            write_table(table, path)
    if not result.holdout:
        (out / "plots" / "recency.png").unlink(missing_ok=True)
    plots = make_plots(result, out / "plots")
    write_text(out / "report.html", report_html(result, plots, base))
    write_json(out / "calibration.json", result.summary())
    save(target, text)


def save(target: Path | None, text: str) -> None:
    """The scenario into the user's config folder (``--save-scenario``)."""
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text(target, text)


def rounded(scenario: Scenario, name: str) -> Scenario:
    """``scenario`` named ``name``, its segments' rates to 6 significant digits (the mixes,
    which must sum to 1, exact): what the YAML file holds."""
    segments = tuple(
        replace(seg, **{k: float(f"{v:.6g}") for k, v in vars(seg).items() if isinstance(v, float)})
        for seg in scenario.segments
    )
    return replace(scenario, name=name, segments=segments)


def yaml_comment(result: Calibration, base: str) -> list[str]:
    s = result.summary()
    return [
        f"Calibrated by `winback calibrate` from {Path(result.log.path).name or 'an event log'}",
        f"({s['customers']:,} customers, {s['calibration_period'][0]} to "
        f"{s['calibration_period'][1]}; {result.lifecycle.model.k} class(es)).",
        "Lifecycle rates (per day), class weights, activity heterogeneity, state mix and",
        f"basket value are fitted; pain points, channels and responses are the '{base}'",
        "preset's. Use it: copy to my_conf/scenario/NAME.yaml (or calibrate with",
        "--save-scenario NAME), then",
        f"  winback benchmark --config-dir my_conf scenario=NAME offers={PRESET_OFFERS[base]}",
    ]


def json_line(result: Calibration) -> dict[str, Any]:
    params = {r["parameter"]: r["estimate"] for r in result.lifecycle.table()}
    bg = {r["parameter"]: r["estimate"] for r in result.bgnbd.table()}
    return {
        "customers": result.customers.n,
        "parameters": params,
        "loglik": result.lifecycle.fit.loglik,
        "bgnbd": bg,
        "errors": result.errors,
        "seconds": result.seconds,
    }


# ------------------------------------------------------------------ text
def text_summary(result: Calibration) -> str:
    lines = [f"customers: {result.customers.n:,}  classes: {result.lifecycle.model.k}"]
    table = parameter_table(result.lifecycle.table()).drop(columns="identified")
    lines.append(table.to_string(index=False, float_format=lambda v: f"{v:.5g}", na_rep="-"))
    for period, row in result.errors.items():
        sim, bg = row["simulated_error_pct"], row["bgnbd_error_pct"]
        lines.append(
            f"{period.replace('_', ' ')} ({row['weeks']} weeks): actual {row['actual']:,.0f}, "
            f"simulator {row['simulated']:,.0f} ({percent_error(sim)}), BG/NBD "
            f"{reference_total(row)} ({percent_error(bg)})"
        )
    if not result.offers.empty:
        cols = ["offer", "sends", "open_share", "back_share", "expected_without_offer"]
        shown = result.offers[[*cols, "ratio", "ratio_low", "ratio_high", "lift_per_open"]]
        lines.append(shown.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    return "\n".join(lines)
