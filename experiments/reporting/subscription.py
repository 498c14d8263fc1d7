"""The calibration report for a subscription log: retention per plan and per sign-up
cohort (the log's Kaplan-Meier with its 95% band, the calibrated simulator, sBG), the
churned share, the holdout forecast per cohort, parameters with intervals; plots and one
HTML page."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.reporting.calibration import _params_html, periods_sentence
from experiments.reporting.kit import img, page, pyplot, save
from sim.calibration.subscriptions import SubscriptionCalibration, forecast_scope, slug
from sim.presets import PRESET_OFFERS


def make_plots(result: SubscriptionCalibration, folder: Path) -> dict[str, Path]:
    plt = pyplot()
    paths: dict[str, Path] = {}
    for plan, part in result.retention.groupby("plan", sort=False):
        fig, ax = plt.subplots(figsize=(8, 4.2))
        ax.step(part.period, part.kaplan_meier, where="post", color="black", lw=2,
                label="log (Kaplan-Meier)")  # fmt: skip
        ax.fill_between(part.period, part.km_low, part.km_high, step="post", color="grey",
                        alpha=0.3, label="95% band")  # fmt: skip
        ax.plot(part.period, part.calibrated, color="tab:blue", label="calibrated simulator")
        if part.sbg.notna().any():
            ax.plot(part.period, part.sbg, color="tab:orange", ls="--", label="sBG")
        ax.set_xlabel("billing periods since subscribing")
        ax.set_ylabel("still subscribed")
        ax.set_title(f"Retention: {plan}")
        ax.legend()
        paths[f"retention {plan}"] = save(fig, folder / f"retention_{slug(str(plan))}.png")
    if not result.cohorts.empty:
        paths |= _cohort_plots(plt, result.cohorts, folder)
    if not result.forecast.empty:
        total = result.forecast.groupby(["plan", "months_ahead"], sort=False).sum(min_count=1)
        total = total.reset_index()
        fig, ax = plt.subplots(figsize=(8, 4.2))
        for i, (plan, part) in enumerate(total.groupby("plan", sort=False)):
            color = f"C{i}"
            ax.plot(part.months_ahead, part.actual, color=color, lw=2, label=f"{plan}: log")
            ax.plot(part.months_ahead, part.calibrated, color=color, ls=":",
                    label=f"{plan}: calibrated")  # fmt: skip
            if part.sbg.notna().any():
                ax.plot(part.months_ahead, part.sbg, color=color, ls="--", alpha=0.6,
                        label=f"{plan}: sBG")  # fmt: skip
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))  # whole periods
        ax.set_xlabel("billing periods after the calibration period")
        ax.set_ylabel("subscribers left of those at the cut")
        ax.set_title("Holdout: survivors, log vs projections")
        ax.legend(fontsize=8)
        paths["forecast"] = save(fig, folder / "forecast.png")
    if not result.resubscription.empty:
        paths["resubscription"] = _resubscription_plot(plt, result.resubscription, folder)
    return paths


def _cohort_plots(plt: Any, table: pd.DataFrame, folder: Path) -> dict[str, Path]:
    """Per plan: each sign-up cohort's Kaplan-Meier (solid) and the calibrated model on
    the same footing (dotted, the cohort's colour)."""
    paths = {}
    for plan, part in table.groupby("plan", sort=False):
        fig, ax = plt.subplots(figsize=(8, 4.2))
        cohorts = list(dict.fromkeys(part.cohort))
        colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.9, len(cohorts)))
        for color, cohort in zip(colors, cohorts, strict=True):
            mine = part[part.cohort == cohort]
            ax.step(mine.period, mine.kaplan_meier, where="post", color=color, lw=1.2,
                    label=f"{cohort} ({int(mine.customers.iloc[0]):,})")  # fmt: skip
            ax.plot(mine.period, mine.calibrated, color=color, ls=":", lw=1.5)
        ax.plot([], [], color="grey", ls=":", label="calibrated simulator (each cohort's)")
        ax.set_xlabel("billing periods since subscribing")
        ax.set_ylabel("still subscribed")
        ax.set_title(f"Retention by sign-up cohort: {plan}")
        ax.legend(fontsize=7, ncol=2 if len(cohorts) > 6 else 1)
        paths[f"cohorts {plan}"] = save(fig, folder / f"cohorts_{slug(str(plan))}.png")
    return paths


def _resubscription_plot(plt: Any, table: pd.DataFrame, folder: Path) -> Path:
    fig, ax = plt.subplots(figsize=(8, 4.2))
    for i, (plan, part) in enumerate(table.groupby("plan", sort=False)):
        color = f"C{i}"
        ax.step(part.month, part.kaplan_meier, where="post", color=color, lw=2,
                label=f"{plan}: log (Kaplan-Meier)")  # fmt: skip
        ax.fill_between(part.month, part.km_low, part.km_high, step="post", color=color,
                        alpha=0.15)  # fmt: skip
        ax.plot(part.month, part.calibrated, color=color, ls=":", label=f"{plan}: calibrated")
    ax.set_xlabel("months since cancelling")
    ax.set_ylabel("share resubscribed")
    ax.set_title("Win-backs without an offer: the cancelled coming back")
    ax.legend(fontsize=8)
    return save(fig, folder / "resubscription.png")


def report_html(
    result: SubscriptionCalibration,
    plots: dict[str, Path],
    base: str,
    fitted: pd.DataFrame | None = None,
    offer_notes: tuple[str, ...] = (),
) -> str:
    s = result.summary()
    body = [
        "<h1>Calibration report: a subscription business</h1>",
        f"<p>Log <code>{html.escape(result.log.path)}</code>: {s['customers']:,} subscribers "
        f"in {len(result.plans)} plan(s); " + periods_sentence(s) + "</p>",
        "<h2>Retention by plan</h2>",
        "<p>The share of new subscribers still subscribed after each billing period: the log "
        "(Kaplan-Meier, with its 95% band), the calibrated simulator and the shifted-beta-"
        "geometric reference (sBG).</p>",
        *[f'<div class="finding">{html.escape(f)}</div>' for f in findings(result)],
        _churned_html(result.churned),
        *[img(path) for key, path in plots.items() if key.startswith("retention")],
    ]
    if any(key.startswith("cohorts") for key in plots):
        body += [
            "<h2>Retention by sign-up cohort</h2>",
            "<p>Each cohort of subscribers (by the quarter, or year, they signed up; cohorts "
            "of fewer than 30 left out), solid, against the calibrated simulator, dotted in "
            "the same colour. A cohort that signed up before the log began is seen only from "
            "then: its curves start there, as the share still subscribed of those subscribed "
            "then. Cohorts that part from the model show a change it does not have (a price "
            "change, a better product, a different audience); the numbers, with sBG, are in "
            "<code>cohorts.csv</code>.</p>",
            *[img(path) for key, path in plots.items() if key.startswith("cohorts")],
        ]
    if "forecast" in plots:
        body += [
            "<h2>Holdout forecast</h2>",
            _forecast_html(s["forecast_errors"]),
            img(plots["forecast"]),
        ]
    if "resubscription" in plots:
        body += [
            "<h2>Resubscription: the natural win-back rate</h2>",
            "<p>Of the customers who cancelled, the share who had come back (without any "
            "offer credited) by each month since cancelling: the log (Kaplan-Meier, its 95% "
            "band shaded) and the calibrated simulator. Every offer's effect is measured "
            "against this.</p>",
            img(plots["resubscription"]),
        ]
    if fitted is not None:
        body += [_offers_html(fitted), *[f"<p>{html.escape(n)}</p>" for n in offer_notes]]
    body += [
        "<h2>Fitted parameters</h2>",
        "<p>Rates are per day; 95% intervals from the outer product of the customers' score "
        "vectors (BHHH). A parameter the log barely constrains (no finite interval, or one "
        "wider than a factor of 100) is flagged 'not identified'.</p>",
        _params_html(s["parameters"]),
        _price_html(result, base),
        "<h2>Notes</h2><ul>",
        *[f"<li>{html.escape(n)}</li>" for n in s["notes"] if n != result.prices.note(base)],
        "</ul>",
        "<h2>Use the scenario</h2>",
        _use_html(base, fitted is not None),
    ]
    return page("Calibration report", body)


def _use_html(base: str, offers_fitted: bool) -> str:
    """How to benchmark on the calibrated scenario (with the fitted offers, if any)."""
    offers = "NAME" if offers_fitted else PRESET_OFFERS[base]
    mine = (
        " (the offers with the lifts fitted to your campaigns: <code>--save-scenario</code> "
        "writes them as <code>my_conf/offers/NAME.yaml</code>)"
        if offers_fitted
        else ""
    )
    return (
        "<p>Rerun with <code>--save-scenario NAME</code>, then <code>winback benchmark "
        f"--config-dir my_conf scenario=NAME offers={offers}</code>{mine}.</p>"
    )


def _price_html(result: SubscriptionCalibration, base: str) -> str:
    """The price response: the logged changes, and what they say (or why nothing)."""
    changes = result.prices.summary()["changes"]
    cells = "".join(
        f"<tr><td>{html.escape(str(c['plan']))}</td><td>{result.date(int(c['day']))}</td>"
        f"<td>{c['previous']:.2f}</td><td>{c['price']:.2f}</td><td>{c['ratio'] - 1:+.1%}</td></tr>"
        for c in changes
    )
    table = (
        "<table><tr><th>plan</th><th>from</th><th>price before</th><th>price after</th>"
        "<th>change</th></tr>" + cells + "</table>"
        if changes
        else ""
    )
    return (
        "<h3>Price response (dynamics.price_weight)</h3><p>List-price changes found in the log "
        "(per billing period), compared by a Cox model of cancellation with the log price "
        "ratio as a time-varying covariate (lifelines), and matched to the simulator's "
        "weight by simulating the calibrated scenario with the same changes.</p>"
        + table
        + f"<p>{html.escape(result.prices.note(base))}</p>"
    )


def findings(result: SubscriptionCalibration) -> list[str]:
    out = []
    rt = result.retention
    inside = (rt.calibrated >= rt.km_low - 1e-6) & (rt.calibrated <= rt.km_high + 1e-6)
    for plan, part in rt.assign(inside=inside).groupby("plan", sort=False):
        gap = float((part.calibrated - part.kaplan_meier).abs().max())
        out.append(
            f"{plan}: the calibrated retention lies inside the log's 95% band in "
            f"{int(part.inside.sum())} of {len(part)} periods; the largest gap to the log is "
            f"{100 * gap:.1f} percentage points."
        )
    return out


def _churned_html(churned: pd.DataFrame) -> str:
    cells = "".join(
        f"<tr><td>{html.escape(str(r.plan))}</td><td>{r.customers:,}</td>"
        f"<td>{100 * r.churned_actual:.1f}%</td><td>{100 * r.churned_calibrated:.1f}%</td>"
        f"<td>{r.difference_pp:+.1f}</td></tr>"
        for r in churned.itertuples()
    )
    return (
        "<h3>Share of subscribers who cancelled</h3><table><tr><th>plan</th><th>subscribers"
        "</th><th>log</th><th>calibrated</th><th>difference (points)</th></tr>" + cells + "</table>"
    )


def _forecast_html(errors: dict[str, Any] | None) -> str:
    if not errors:
        return ""

    def pct(v: float | None) -> str:
        return "not available" if v is None or not np.isfinite(v) else f"{v:.1f}%"

    return (
        "<p>Subscribers at the end of the calibration period, followed into the holdout: "
        "mean absolute percentage error of the survivors per plan and period, calibrated "
        "simulator "
        f"{pct(errors['calibrated_mape_pct'])}, sBG {pct(errors['sbg_mape_pct'])}"
        f"{html.escape(forecast_scope(errors))}.</p>"
    )


def _offers_html(fitted: pd.DataFrame) -> str:
    def lift_range(r: Any) -> str:
        if not r.moves_with_lift:
            return "kept (does not move with its lift)"
        return f"{r.lift_fitted:.2g} ({r.lift_low:.2g} to {r.lift_high:.2g})"

    cells = "".join(
        f"<tr><td>{html.escape(str(r.campaign))}</td><td>{html.escape(str(r.offer))}</td>"
        f"<td>{r.back_effect_pp:+.1f} ({r.back_low_pp:+.1f} to {r.back_high_pp:+.1f})</td>"
        f"<td>{r.simulated_effect_pp:+.1f}</td><td>{r.lift_before:.2g}</td>"
        f"<td>{lift_range(r)}</td></tr>"
        for r in fitted.itertuples()
    )
    return (
        "<h2>Offers, from your randomised campaigns</h2><p>For each offer: how many more "
        "customers per hundred came back within 28 days than in the campaign's holdout (95% "
        "interval), the same campaign simulated on the calibrated scenario with the fitted "
        "offer, and the offer's lift before and after (95% interval). A wide interval means "
        "the campaign was too small to pin the effect down. offers.yaml holds the fitted "
        "catalogue.</p><table><tr><th>campaign</th><th>offer</th><th>logged effect (points)"
        "</th><th>simulated</th><th>lift before</th><th>lift fitted</th></tr>" + cells + "</table>"
    )
