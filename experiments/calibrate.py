"""``winback calibrate LOG``: fit the simulator to an event log and show how well it fits.

Writes into ``--out`` (default ``outputs/calibration/<log name>``): ``scenario.yaml`` (a
``conf/scenario/`` file: ``--save-scenario NAME`` also installs it as
``conf/scenario/NAME.yaml``), ``parameters.csv``, ``weekly.csv``, ``frequency.csv``,
``recency.csv``, ``calibration.json``, ``plots/*.png`` and a self-contained ``report.html``.
With ``--json`` the last line printed is one JSON object (parameters and holdout errors).
"""

from __future__ import annotations

import argparse
import html
import os
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from experiments.jsonio import strict_json
from experiments.report import CSS, _img, _plt
from sim.calibration import Calibration, calibrate, read_event_log, validate_events
from sim.calibration.api import check_calibrate_args, precheck
from sim.calibration.eventlog import read_cdnow
from sim.constants import STATES
from sim.presets import SCENARIOS

CONF_SCENARIOS = Path(__file__).resolve().parents[1] / "conf" / "scenario"
FORMATS = ("events", "cdnow")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("log", type=Path, help="event log: CSV or Parquet (see the README)")
    p.add_argument(
        "--holdout-from",
        metavar="DATE",
        help="hold out events from this date on and predict them (e.g. 1997-10-01)",
    )
    p.add_argument(
        "--format",
        choices=FORMATS,
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


def check_args(args: argparse.Namespace) -> Path | None:
    """Every argument checked before any work; returns the scenario file to install."""
    check_calibrate_args(args.base, args.classes, args.reps, args.seed)
    if args.users is not None and not 1 <= args.users <= 50_000_000:
        raise ValueError(f"--users: {args.users}; allowed: 1 to 50,000,000")
    if args.save_scenario is None:
        return None
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", args.save_scenario):
        raise ValueError(
            f"--save-scenario: {args.save_scenario!r}; allowed: letters, digits and _, "
            "not starting with a digit"
        )
    target = CONF_SCENARIOS / f"{args.save_scenario}.yaml"
    if target.exists() and not args.force:
        raise ValueError(
            f"--save-scenario: {str(target)!r} exists; allowed: a new name, or --force"
        )
    return target


def run_from_args(args: argparse.Namespace) -> int:
    target = check_args(args)
    if args.format == "cdnow":
        log = validate_events(read_cdnow(args.log), str(args.log), args.skip_bad_rows)
    else:
        log = read_event_log(args.log, args.skip_bad_rows)
    precheck(log, args.holdout_from)  # a bad date or a log too thin fails before any work
    out = args.out or Path("outputs/calibration") / args.log.stem
    _check_writable(out)
    result = calibrate(
        log,
        args.holdout_from,
        base=args.base,
        classes=args.classes,
        reps=args.reps,
        seed=args.seed,
        users=args.users,
        progress=not args.json,
    )
    write_results(result, out, args.base, target)
    print(text_summary(result))
    print(f"report: {(out / 'report.html').resolve()}")
    print(f"scenario: {(out / 'scenario.yaml').resolve()}")
    if target is not None:
        print(f"installed: {target} (run: winback benchmark scenario={target.stem})")
    if args.json:
        print(strict_json(json_line(result)))
    return 0


def _check_writable(out: Path) -> None:
    """The folder, or the nearest existing folder above it, must be writable; nothing is
    created until the results are ready."""
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"--out: {str(out)!r} is not writable ({str(existing)!r} is not)")


# ------------------------------------------------------------------ files
def scenario_node(result: Calibration, base: str, name: str) -> dict[str, Any]:
    """The calibrated scenario as a ``conf/scenario/`` mapping (``scenario_from`` form)."""
    sc = result.scenario
    segments = [{k: _tidy(v) for k, v in asdict(seg).items()} for seg in sc.segments]
    return {
        "name": name,
        "preset": base,
        "users": sc.n_users,
        "days": sc.horizon_days,
        "segments": segments,
    }


def _tidy(value: Any) -> Any:
    """Rates to 6 significant digits; mixes (which must sum to 1) exact."""
    if isinstance(value, dict):
        return {k: float(v) for k, v in value.items()}
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value


def scenario_yaml(result: Calibration, base: str, name: str = "calibrated") -> str:
    s = result.summary()
    head = [
        f"# Calibrated by `winback calibrate` from {Path(result.log.path).name or 'an event log'}",
        f"# ({s['customers']:,} customers, {s['calibration_period'][0]} to "
        f"{s['calibration_period'][1]}; {result.lifecycle.model.k} class(es)).",
        "# Lifecycle rates (per day), class weights, activity heterogeneity, state mix and",
        f"# basket value are fitted; pain points, channels and responses are the '{base}'",
        "# preset's. Use it: copy to conf/scenario/NAME.yaml, then",
        f"#   winback benchmark scenario=NAME offers={_catalogue(base)}",
    ]
    body = yaml.safe_dump(scenario_node(result, base, name), sort_keys=False)
    return "\n".join(head) + "\n" + body


def write_results(result: Calibration, out: Path, base: str, target: Path | None) -> None:
    """Every file, each written whole (temp file, then rename)."""
    (out / "plots").mkdir(parents=True, exist_ok=True)
    name = target.stem if target is not None else "calibrated"
    text = scenario_yaml(result, base, name)
    _write(out / "scenario.yaml", text)
    _write(out / "parameters.csv", pd.DataFrame(result.lifecycle.table()).to_csv(index=False))
    _write(out / "weekly.csv", result.weekly.to_csv(index=False))
    _write(out / "frequency.csv", result.frequency.to_csv(index=False))
    optional = {
        out / "recency.csv": result.recency if result.holdout else None,
        out / "offers.csv": result.offers if not result.offers.empty else None,
    }
    for path, table in optional.items():
        if table is None:
            path.unlink(missing_ok=True)  # a previous run's, not this one's
        else:
            _write(path, table.to_csv(index=False))
    if not result.holdout:
        (out / "plots" / "recency.png").unlink(missing_ok=True)
    plots = make_plots(result, out / "plots")
    _write(out / "report.html", report_html(result, plots, base))
    _write(out / "calibration.json", strict_json(result.summary(), indent=2))
    if target is not None:
        _write(target, text)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


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
    table = pd.DataFrame(result.lifecycle.table())
    for col in ("ci_low", "ci_high"):
        table[col] = table[col].where(table.identified)
    table = table.drop(columns="identified")
    lines.append(table.to_string(index=False, float_format=lambda v: f"{v:.5g}", na_rep="-"))
    for period, row in result.errors.items():
        sim, bg = row["simulated_error_pct"], row["bgnbd_error_pct"]
        lines.append(
            f"{period.replace('_', ' ')} ({row['weeks']} weeks): actual {row['actual']:,.0f}, "
            f"simulator {row['simulated']:,.0f} ({_pct(sim)}), BG/NBD {row['bgnbd']:,.0f} "
            f"({_pct(bg)})"
        )
    if not result.offers.empty:
        cols = ["offer", "sends", "open_share", "back_share", "expected_without_offer"]
        shown = result.offers[[*cols, "ratio", "ratio_low", "ratio_high", "lift_per_open"]]
        lines.append(shown.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    return "\n".join(lines)


# ------------------------------------------------------------------ plots
def make_plots(result: Calibration, folder: Path) -> dict[str, Path]:
    plt = _plt()
    w = result.weekly
    cut_week = float((w.period == "calibration").sum()) + 0.5
    paths: dict[str, Path] = {}

    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.plot(w.week, w.actual_cumulative, color="black", lw=2, label="actual (log)")
    se = np.nan_to_num(w.simulated_cumulative_se)
    ax.plot(w.week, w.simulated_cumulative, color="tab:blue", label="simulator (calibrated)")
    ax.fill_between(
        w.week,
        w.simulated_cumulative - 2 * se,
        w.simulated_cumulative + 2 * se,
        color="tab:blue",
        alpha=0.2,
    )
    ax.plot(w.week, w.bgnbd_cumulative, color="tab:orange", ls="--", label="BG/NBD")
    if result.holdout:
        ax.axvline(cut_week, color="grey", ls=":", label="holdout starts")
    ax.set_xlabel("week")
    ax.set_ylabel("cumulative repeat activity days")
    ax.set_title("Cumulative repeat activity: log vs calibrated simulator vs BG/NBD")
    ax.legend()
    paths["cumulative"] = _save(fig, folder / "cumulative.png")

    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(w.week, w.actual, color="black", lw=1.5, label="actual")
    ax.plot(w.week, w.simulated, color="tab:blue", label="simulator")
    ax.plot(w.week, w.bgnbd, color="tab:orange", ls="--", label="BG/NBD")
    if result.holdout:
        ax.axvline(cut_week, color="grey", ls=":")
    ax.set_xlabel("week")
    ax.set_ylabel("repeat activity days in the week")
    ax.set_title("Weekly repeat activity")
    ax.legend()
    paths["weekly"] = _save(fig, folder / "weekly.png")

    f = result.frequency
    paths["frequency"] = _actual_vs_simulated(
        f.repeats,
        f.actual,
        f.simulated,
        ("repeat activity days in the calibration period", "customers"),
        "Frequency: customers by repeat activity",
        folder / "frequency.png",
    )
    if result.holdout:
        r = result.recency
        paths["recency"] = _actual_vs_simulated(
            r.weeks_since_last,
            r.actual_share_back,
            r.simulated_share_back,
            (
                "weeks since last activity at the end of calibration",
                "share active again in the holdout",
            ),
            "Return rates by time since last activity",
            folder / "recency.png",
        )
    return paths


def _actual_vs_simulated(
    labels: pd.Series,
    actual: pd.Series,
    simulated: pd.Series,
    axes: tuple[str, str],
    title: str,
    path: Path,
) -> Path:
    """Side-by-side bars, log (black) vs simulator (blue), one pair per label."""
    fig, ax = _plt().subplots(figsize=(8, 4))
    x = np.arange(len(labels))
    ax.bar(x - 0.2, actual, 0.4, color="black", label="actual")
    ax.bar(x + 0.2, simulated, 0.4, color="tab:blue", label="simulator")
    ax.set_xticks(x, labels)
    ax.set_xlabel(axes[0])
    ax.set_ylabel(axes[1])
    ax.set_title(title)
    ax.legend()
    return _save(fig, path)


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _plt().close(fig)
    return path


# ------------------------------------------------------------------ html
def report_html(result: Calibration, plots: dict[str, Path], base: str) -> str:
    s = result.summary()
    cal0, cal1 = s["calibration_period"]
    body = [
        "<h1>Calibration report</h1>",
        f"<p>Log <code>{html.escape(result.log.path)}</code>: {s['customers']:,} customers "
        f"with a first activity by {cal1}; calibrated on {cal0} to {cal1}"
        + (
            f", holdout {s['holdout_period'][0]} to {s['holdout_period'][1]}."
            if result.holdout
            else " (no holdout)."
        )
        + f" Bad rows left out: {s['bad_rows_skipped']}.</p>",
        "<h2>How well it fits</h2>",
        _errors_html(result),
        *[f'<div class="finding">{html.escape(f)}</div>' for f in findings(result)],
        _img(plots["cumulative"]),
        _img(plots["weekly"]),
        _img(plots["frequency"]),
    ]
    if "recency" in plots:
        body += [_recency_html(result), _img(plots["recency"])]
    if not result.offers.empty:
        body += [_offers_html(result)]
    body += [
        "<h2>Fitted parameters</h2>",
        "<p>Rates are per day; intervals are 95% (from the outer product of the customers' "
        "score vectors, BHHH). "
        f"Class weights sum to one; activity_shape is the gamma shape of each customer's "
        f"activity multiplier (small: very unequal customers). Log-likelihood "
        f"{s['loglik']:,.1f}, BIC {s['bic']:,.1f}. Spend per activity day "
        f"{s['spend_per_activity_day']['mean']:.2f} "
        f"(s.e. {s['spend_per_activity_day']['se']:.2f}).</p>",
        _params_html(s["parameters"]),
        _comparison_html(s["model_comparison"]),
        f"<p>State mix at the end of the calibration period (posterior): {_state_mix(result)}</p>",
        "<h3>BG/NBD on the same data (weeks)</h3>",
        _params_html(s["bgnbd"]["parameters"]),
        "<h2>Notes</h2><ul>",
        *[f"<li>{html.escape(n)}</li>" for n in s["notes"]],
        "</ul>",
        "<h2>Use the scenario</h2>",
        "<p>Copy <code>scenario.yaml</code> to <code>conf/scenario/NAME.yaml</code> (or rerun "
        "with <code>--save-scenario NAME</code>), then "
        f"<code>winback benchmark scenario=NAME offers={_catalogue(base)}</code>.</p>",
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>Calibration report</title>"
        f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>"
    )


def _catalogue(base: str) -> str:
    return "streaming" if base in ("streaming", "price_shock", "content_drought") else "retail"


def _errors_html(result: Calibration) -> str:
    rows = []
    for period, r in result.errors.items():
        rows.append(
            f"<tr><td>{period.split('_')[0]}</td><td>{r['weeks']}</td>"
            f"<td>{r['actual']:,.0f}</td><td>{r['simulated']:,.0f}</td>"
            f"<td>{_pct(r['simulated_error_pct'])}</td><td>{r['bgnbd']:,.0f}</td>"
            f"<td>{_pct(r['bgnbd_error_pct'])}</td></tr>"
        )
    return (
        "<table><tr><th>period</th><th>weeks</th><th>actual repeat days</th>"
        "<th>simulator</th><th>error</th><th>BG/NBD</th><th>error</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _params_html(rows: list[dict[str, Any]]) -> str:
    def num(v: float) -> str:
        return "-" if v is None or not np.isfinite(v) else f"{v:.4g}"

    def interval(r: dict[str, Any]) -> str:
        if not r.get("identified", True):
            return "not identified by this log"
        return f"{num(r['ci_low'])} to {num(r['ci_high'])}"

    cells = "".join(
        f"<tr><td style='text-align:left'>{html.escape(r['parameter'])}</td>"
        f"<td>{num(r['estimate'])}</td><td>{num(r['se'])}</td><td>{interval(r)}</td></tr>"
        for r in rows
    )
    return (
        "<table><tr><th>parameter</th><th>estimate</th><th>s.e.</th><th>95% interval</th></tr>"
        + cells
        + "</table>"
    )


def _offers_html(result: Calibration) -> str:
    cells = "".join(
        f"<tr><td style='text-align:left'>{html.escape(str(r.offer))}</td><td>{r.sends:,}</td>"
        f"<td>{r.open_share:.1%}</td><td>{r.back_share:.1%} ({r.back_low:.1%} to "
        f"{r.back_high:.1%})</td><td>{r.expected_without_offer:.1%}</td>"
        f"<td>{r.ratio:.2f} ({r.ratio_low:.2f} to {r.ratio_high:.2f})</td>"
        f"<td>{r.lift_per_open:+.2f}</td></tr>"
        for r in result.offers.itertuples()
    )
    return (
        "<h2>Offer effects in the log</h2><p>Customers active again within 28 days of a "
        "send, against the fitted model's expectation for the same customers without an "
        "offer (95% Wilson intervals); the lift is the log-hazard boost per opened offer "
        "that explains the difference.</p><table><tr><th>offer</th><th>sends</th>"
        "<th>opened</th><th>active again</th><th>expected without offer</th>"
        "<th>ratio</th><th>lift per open</th></tr>" + cells + "</table>"
    )


def _comparison_html(rows: list[dict[str, Any]]) -> str:
    best = min(r["bic"] for r in rows)
    cells = "".join(
        f"<tr><td>{r['classes']}</td><td>{r['parameters']}</td><td>{r['loglik']:,.1f}</td>"
        f"<td>{r['aic']:,.1f}</td><td>{r['bic']:,.1f}{' (best)' if r['bic'] == best else ''}"
        "</td></tr>"
        for r in rows
    )
    return (
        "<h3>Model comparison (fewer classes)</h3><table><tr><th>classes</th>"
        "<th>parameters</th><th>log-likelihood</th><th>AIC</th><th>BIC</th></tr>"
        + cells
        + "</table>"
    )


def _recency_html(result: Calibration) -> str:
    r = result.recency
    cells = "".join(
        f"<tr><td>{x.weeks_since_last}</td><td>{x.customers:,}</td>"
        f"<td>{x.actual_share_back:.1%}</td><td>{x.simulated_share_back:.1%}</td></tr>"
        for x in r.itertuples()
    )
    return (
        "<h3>Return rates by time since last activity</h3><table><tr><th>weeks since last"
        "</th><th>customers</th><th>actual back</th><th>simulator back</th></tr>"
        + cells
        + "</table>"
    )


def _state_mix(result: Calibration) -> str:
    parts = []
    for seg in result.scenario.segments:
        mix = ", ".join(f"{s} {seg.initial_state[s]:.0%}" for s in STATES)
        parts.append(f"{html.escape(seg.name)}: {mix}")
    return "; ".join(parts)


def findings(result: Calibration) -> list[str]:
    out = []
    for period, r in result.errors.items():
        sim, bg = r["simulated_error_pct"], r["bgnbd_error_pct"]
        if sim is None or bg is None or not np.isfinite(sim) or not np.isfinite(bg):
            continue  # no activity to compare with, or a degenerate reference fit
        better = "closer than" if abs(sim) < abs(bg) else "not as close as"
        out.append(
            f"{period.split('_')[0].capitalize()} period: the simulator predicts "
            f"{r['simulated']:,.0f} repeat activity days against {r['actual']:,.0f} in the "
            f"log ({_pct(sim)}), {better} BG/NBD ({_pct(bg)})."
        )
    return out


def _pct(value: float | None) -> str:
    """A percent error, or n/a when there is none (no actual activity, or not finite)."""
    return "n/a" if value is None or not np.isfinite(value) else f"{value:+.1f}%"
