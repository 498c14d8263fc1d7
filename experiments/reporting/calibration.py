"""The calibration report: plots of the log against the calibrated simulator and BG/NBD,
and one self-contained HTML page (``winback calibrate`` writes both)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.reporting.kit import img, page, pyplot, save
from sim.calibration import Calibration
from sim.constants import STATES
from sim.presets import PRESET_OFFERS


def make_plots(result: Calibration, folder: Path) -> dict[str, Path]:
    plt = pyplot()
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
    paths["cumulative"] = save(fig, folder / "cumulative.png")

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
    paths["weekly"] = save(fig, folder / "weekly.png")

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
    fig, ax = pyplot().subplots(figsize=(8, 4))
    x = np.arange(len(labels))
    ax.bar(x - 0.2, actual, 0.4, color="black", label="actual")
    ax.bar(x + 0.2, simulated, 0.4, color="tab:blue", label="simulator")
    ax.set_xticks(x, labels)
    ax.set_xlabel(axes[0])
    ax.set_ylabel(axes[1])
    ax.set_title(title)
    ax.legend()
    return save(fig, path)


def periods_sentence(summary: dict[str, Any]) -> str:
    """'calibrated on A to B, holdout C to D.' (or '(no holdout).')."""
    cal0, cal1 = summary["calibration_period"]
    hold = summary["holdout_period"]
    tail = f", holdout {hold[0]} to {hold[1]}." if hold else " (no holdout)."
    return f"calibrated on {cal0} to {cal1}" + tail


def report_html(result: Calibration, plots: dict[str, Path], base: str) -> str:
    s = result.summary()
    cal1 = s["calibration_period"][1]
    body = [
        "<h1>Calibration report</h1>",
        f"<p>Log <code>{html.escape(result.log.path)}</code>: {s['customers']:,} customers "
        f"with a first activity by {cal1}; "
        + periods_sentence(s)
        + ("" if s["bad_rows_skipped"] else " No bad rows.")
        + "</p>",
        "<h2>How well it fits</h2>",
        _errors_html(result),
        *[f'<div class="finding">{html.escape(f)}</div>' for f in findings(result)],
        img(plots["cumulative"]),
        img(plots["weekly"]),
        img(plots["frequency"]),
    ]
    if "recency" in plots:
        body += [_recency_html(result), img(plots["recency"])]
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
        "<p>Copy <code>scenario.yaml</code> to <code>my_conf/scenario/NAME.yaml</code> (or "
        "rerun with <code>--save-scenario NAME</code>), then <code>winback benchmark "
        f"--config-dir my_conf scenario=NAME offers={PRESET_OFFERS[base]}</code>.</p>",
    ]
    return page("Calibration report", body)


def _errors_html(result: Calibration) -> str:
    rows = []
    for period, r in result.errors.items():
        rows.append(
            f"<tr><td>{period.split('_')[0]}</td><td>{r['weeks']}</td>"
            f"<td>{r['actual']:,.0f}</td><td>{r['simulated']:,.0f}</td>"
            f"<td>{percent_error(r['simulated_error_pct'])}</td>"
            f"<td>{html.escape(reference_total(r))}</td>"
            f"<td>{percent_error(r['bgnbd_error_pct'])}</td></tr>"
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
            f"log ({percent_error(sim)}), {better} BG/NBD ({percent_error(bg)})."
        )
    return out


def reference_total(row: dict[str, Any]) -> str:
    """BG/NBD's total in a row of ``Calibration.errors``, or why there is none."""
    return row["bgnbd_note"] if row["bgnbd"] is None else f"{row['bgnbd']:,.0f}"


def percent_error(value: float | None) -> str:
    """A percent error, or n/a when there is none (no actual activity, or not finite)."""
    return "n/a" if value is None or not np.isfinite(value) else f"{value:+.1f}%"
