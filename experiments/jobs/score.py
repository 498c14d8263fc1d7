"""``winback score``: who is about to leave, why, and what they are worth, per customer.

Fits the churn scores (``agents.scores``: lapse within 30 and 90 days, cancelling within 90,
the pain point, 12 months' margin) on ``--train-users`` simulated customers of the scenario
(``--scenario``, ``--config-dir``, ``--set scenario.KEY=VALUE``), or reads a fitted model
(``--model``), and scores ``--users`` customers of an independent run of the same scenario.
Since the simulator knows what became of them, it measures every score against that truth
beside the baselines (``experiments.scores.evaluate``) and names the segments
(``experiments.scores.segments``).

Writes to ``--out``: ``scores.parquet`` (one row per customer: the scores, the tiers and the
segment, and for simulated customers the truth as ``true_*``), ``segments.csv``,
``metrics.csv`` and ``curves.csv`` (tidy), ``summary.json``, ``scores.skops`` (the fitted
model: ``--model`` reads it back), ``plots/*.png`` and ``report.html``.
"""

from __future__ import annotations

import argparse
import dataclasses
import html
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.cli.parsers import log_limits
from experiments.files import check_writable, strict_json, write_json, write_table, write_text

STATUS_NAMES = ("active", "inactive", "cancelled")


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
                                ("--offers", "offers", args.offers or "streaming")):  # fmt: skip
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
    if args.log is None:
        for option, value in (("--as-of", args.as_of), ("--offers", args.offers)):
            if value is not None:
                raise ValueError(
                    f"{option}: {value!r} is for a log; allowed: with --log (simulated "
                    "customers are scored on the day they are made, with the scenario's offers)"
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
    print(f"scenario {scenario.name}: signal strengths {scenario.signals.strengths()}")
    notes: list[str] = []
    if args.log is not None:
        test = log_customers(args, scenario, limits, notes)
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
    segments = counts(table)
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


def log_customers(args: argparse.Namespace, scenario: Any, limits: Any, notes: list[str]) -> Any:
    """The customers of ``--log`` as they stand on ``--as-of`` (default the day after its
    last), their features rebuilt from their events (``experiments.ope.events``)."""
    from omegaconf import OmegaConf

    from agents.scores import Customers, score_features
    from experiments.config.compose import compose
    from experiments.config.scenario import catalogue_from
    from experiments.ope.events import features_at
    from sim.calibration.eventlog import read_event_log

    config_dir = str(args.config_dir) if args.config_dir else None
    cfg = compose("benchmark", [f"offers={args.offers or 'streaming'}"], config_dir)
    catalogue = catalogue_from(OmegaConf.to_container(cfg.offers, resolve=True))  # type: ignore[arg-type]
    log = read_event_log(args.log, args.skip_bad_rows, **dataclasses.asdict(limits))
    notes += log.notes  # rows left out, duplicates
    day = None
    if args.as_of is not None:
        try:
            when = pd.Timestamp(args.as_of)
        except ValueError:
            raise ValueError(f"--as-of: {args.as_of!r}; allowed: a date, e.g. 2024-06-30") from None
        day = int((when.normalize() - log.origin).days)
        if not log.window_start < day <= log.end + 1:
            first = log.origin + pd.Timedelta(days=log.window_start)
            after = log.origin + pd.Timedelta(days=log.end + 1)
            raise ValueError(
                f"--as-of: {args.as_of!r}; allowed: a date after the log's first day "
                f"({first:%Y-%m-%d}) and at most the day after its last ({after:%Y-%m-%d})"
            )
    ids, table, more = features_at(log, scenario, catalogue, day)
    notes += more
    names = score_features(list(table.columns))
    status = (table["status_inactive"] + 2 * table["status_churned"]).to_numpy(np.uint8)
    return Customers(
        names=names,
        x=table[names].to_numpy(np.float32),
        status=status,
        subscription=scenario.is_subscription,
        ids=ids,
    )


def score_table(predicted: dict[str, np.ndarray], customers: Any) -> pd.DataFrame:
    """One row per customer: id, observed status, the scores, and the truth where known."""
    from sim.constants import PAIN_POINTS

    ids = customers.ids
    table = pd.DataFrame(
        {
            "user_id": np.arange(customers.n) if ids is None else ids,
            "status": np.array(STATUS_NAMES, dtype=object)[customers.status],
            "status_code": customers.status,
        }
    )
    for name, values in predicted.items():
        table[name] = values
    table["reason"] = np.array(PAIN_POINTS, dtype=object)[predicted["reason"]]
    for name, values in customers.labels.items():
        table[f"true_{name}"] = (
            np.array(PAIN_POINTS, dtype=object)[values] if name == "reason" else values
        )
    return table


# ----------------------------------------------------------------------- outputs
def plot(evaluation: Any, folder: Path) -> list[Path]:
    """Calibration curves of the risks and recall by pain point (PNG)."""
    from experiments.reporting.kit import pyplot, save
    from sim.constants import PAIN_POINTS

    plt = pyplot()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    curves = evaluation.curves
    risks = list(dict.fromkeys(curves.score))
    fig, axes = plt.subplots(1, len(risks), figsize=(4.2 * len(risks), 4), squeeze=False)
    for ax, risk in zip(axes[0], risks, strict=True):
        for method, part in curves[curves.score == risk].groupby("method", sort=False):
            ax.plot(part.predicted, part.observed, marker="o", label=str(method))
        ax.plot([0, 1], [0, 1], color="#999", lw=1, ls="--")
        ax.set(title=risk, xlabel="predicted chance", ylabel="share that happened")
        ax.legend(fontsize=8)
    paths.append(save(fig, folder / "calibration.png"))
    m = evaluation.metrics
    fig, ax = plt.subplots(figsize=(7, 3.6))
    width = 0.38
    for k, method in enumerate(("model", "survey")):
        rows = m[(m.score == "reason") & (m.method == method)].set_index("metric")
        recall = [rows.value.get(f"recall_{p}", np.nan) for p in PAIN_POINTS]
        ax.bar(np.arange(len(PAIN_POINTS)) + (k - 0.5) * width, recall, width, label=method)
    ax.set_xticks(range(len(PAIN_POINTS)), PAIN_POINTS)
    ax.set(ylabel="recall (share found)", ylim=(0, 1), title="why they leave: found by")
    ax.legend()
    paths.append(save(fig, folder / "reason.png"))
    return paths


def lines(summary: dict, evaluation: Any) -> list[str]:
    """The terminal summary."""
    out = [f"\n{summary['customers']:,} customers scored in {summary['score_seconds']} s"]
    out += [f"  note: {n}" for n in summary["notes"]]
    top = sorted(summary["segments"], key=lambda r: -r["customers"])[:5]
    out += [f"  {r['customers']:>9,}  {r['segment']}" for r in top]
    if evaluation is None:
        return out
    for risk in ("lapse_30", "lapse_90", "cancel_90"):
        model = evaluation.figure(risk, "model", "auc")
        if np.isnan(model):
            continue
        recency, bgnbd = (evaluation.figure(risk, m, "auc") for m in ("recency", "bgnbd"))
        out.append(
            f"  {risk:<10} AUC {model:.3f} (recency {recency:.3f}, BG/NBD {bgnbd:.3f}); "
            f"Brier {evaluation.figure(risk, 'model', 'brier'):.3f}"
        )
    out.append(
        f"  reason     accuracy {evaluation.figure('reason', 'model', 'accuracy'):.3f} "
        f"(exit survey alone {evaluation.figure('reason', 'survey', 'accuracy'):.3f})"
    )
    out.append(
        f"  value      R^2 {evaluation.figure('value', 'model', 'r2'):.3f} "
        f"(run rate {evaluation.figure('value', 'run_rate', 'r2'):.3f})"
    )
    return out


def report(summary: dict, evaluation: Any, segments: pd.DataFrame, plots: list[Path]) -> str:
    """The HTML page: what the scores say, how well they do, the segments."""
    from experiments.reporting.kit import img, page

    e = html.escape
    segment_part = [
        "<h2>Segments</h2><p>Value by predicted 12-month margin (top fifth high, bottom two "
        "fifths low); risk by the chance of lapsing within 90 days (high from one in three, "
        "low under one in seven; lapsed and cancelled customers as such); reason the likeliest "
        "pain point.</p>",
        _table(segments),
    ]
    if evaluation is None:  # a company's log: no truth to measure against
        body = [
            f"<h1>Who is about to leave, and why: {e(summary['source'])}</h1>",
            f"<p>{summary['customers']:,} customers scored by models fitted on the simulated "
            f"business {e(summary['scenario'])} ({e(summary['model'])}). The scores are as "
            "good as that business resembles yours: calibrate it on this log first "
            "(winback calibrate).</p>",
            *(f'<p class="finding">{e(n)}</p>' for n in summary["notes"]),
            *segment_part,
        ]
        return page(f"Churn scores: {summary['source']}", body)
    f = evaluation.figure
    body = [
        f"<h1>Who is about to leave, and why: {e(summary['scenario'])}</h1>",
        f"<p>{summary['customers']:,} customers scored; the models learned from "
        f"{summary['train_customers']:,} others of the same simulated business. Signal "
        f"strengths (0 noise, 1 plain): {e(str(summary['signals']))}.</p>",
        "<h2>How well the scores do, measured against what happened</h2><dl>",
        f"<dt>Who lapses within 90 days</dt><dd>The model ranks a customer who lapses above "
        f"one who stays {f('lapse_90', 'model', 'auc'):.0%} of the time (AUC); days since "
        f"the last visit alone {f('lapse_90', 'recency', 'auc'):.0%}, BG/NBD's P(alive) "
        f"{f('lapse_90', 'bgnbd', 'auc'):.0%}.</dd>",
        f"<dt>Why they leave</dt><dd>The model names the true pain point for "
        f"{f('reason', 'model', 'accuracy'):.0%} of customers; the exit survey alone (its "
        f"answer where there is one, else the commonest reason) "
        f"{f('reason', 'survey', 'accuracy'):.0%}.</dd>",
        f"<dt>What they are worth</dt><dd>The predicted 12-month margin explains "
        f"{f('value', 'model', 'r2'):.0%} of its spread (R&sup2;); the run rate so far "
        f"{f('value', 'run_rate', 'r2'):.0%}.</dd></dl>",
        *(img(p) for p in plots),
        *segment_part,
        "<h2>All figures</h2>",
        _table(evaluation.metrics),
    ]
    return page(f"Churn scores: {summary['scenario']}", body)


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, float_format=lambda v: f"{v:,.3f}", border=0)
