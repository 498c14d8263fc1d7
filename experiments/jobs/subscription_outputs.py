"""What ``winback calibrate`` writes and prints for a subscription log: ``scenario.yaml``,
``parameters.csv``, ``retention.csv`` (per plan and billing period: Kaplan-Meier with its
95% band, calibrated, sBG), ``cohorts.csv`` (the same per sign-up cohort),
``resubscription.csv``, ``churned.csv``, ``forecast.csv`` (with a holdout),
``price_exposure.csv`` (per plan and month: subscribers, those exposed to a logged price
change, cancellations of each), ``campaigns.csv`` and ``offers.yaml`` (logged campaigns
with a randomised holdout: each offer's effect, and the base catalogue with the lifts that
reproduce it on the calibrated scenario), ``calibration.json``, ``plots/*.png`` and
``report.html``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from experiments.config.scenario import catalogue_spec
from experiments.files import write_json, write_table, write_text
from experiments.jobs.offer_lifts import FittedOffers, fit_lifts
from experiments.reporting.subscription import make_plots, report_html
from sim.calibration.subscriptions import SubscriptionCalibration, forecast_scope
from sim.presets import offers_for


def parameter_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Fitted parameters as written and printed: one the log does not identify keeps its
    estimate and flag but no interval (its Wald interval spans many orders of magnitude and
    means nothing)."""
    table = pd.DataFrame(rows)
    for col in ("ci_low", "ci_high"):
        table[col] = table[col].where(table.identified)
    return table


def write_results(
    result: SubscriptionCalibration,
    out: Path,
    scenario_text: str,
    base: str,
    offers: FittedOffers | None,
) -> None:
    """Every file, each written whole (temp file, then rename)."""
    (out / "plots").mkdir(parents=True, exist_ok=True)
    write_text(out / "scenario.yaml", scenario_text)
    write_table(parameter_table(result.parameters()), out / "parameters.csv")
    write_table(result.retention, out / "retention.csv")
    write_table(result.churned, out / "churned.csv")
    if not result.resubscription.empty:
        write_table(result.resubscription, out / "resubscription.csv")
    if not result.cohorts.empty:
        write_table(result.cohorts, out / "cohorts.csv")
    write_table(result.prices.exposure, out / "price_exposure.csv")
    if result.holdout:
        write_table(result.forecast, out / "forecast.csv")
    else:
        (out / "forecast.csv").unlink(missing_ok=True)  # a previous run's, not this one's
    campaign_files = ("campaigns.csv", "offers_fitted.csv", "offers.yaml")
    if offers is not None:
        write_table(result.campaigns, out / "campaigns.csv")
        write_table(offers.table, out / "offers_fitted.csv")
        write_text(out / "offers.yaml", offers_yaml(offers, base, Path(result.log.path).name))
    else:
        for name in campaign_files:
            (out / name).unlink(missing_ok=True)  # a previous run's, not this one's
    plots = make_plots(result, out / "plots")
    fitted = offers.table if offers is not None else None
    notes = offers.notes if offers is not None else ()
    write_text(out / "report.html", report_html(result, plots, base, fitted, notes))
    write_json(out / "calibration.json", result.summary())


def yaml_comment(result: SubscriptionCalibration, base: str) -> list[str]:
    s = result.summary()
    plans = ", ".join(f"{p.plan} ({p.fit.model.k} class(es))" for p in result.plans)
    return [
        f"Calibrated by `winback calibrate` from {Path(result.log.path).name or 'a log'}",
        f"({s['customers']:,} subscribers, {s['calibration_period'][0]} to "
        f"{s['calibration_period'][1]}; plans: {plans}).",
        "Per plan and class: engagement, cancellation, resubscription rates (per day), the",
        "leave multiplier's heterogeneity, weights, state mix and tenure are fitted; pain",
        f"points (unless the exit survey says), channels and responses are the '{base}'",
        "preset's.",
    ]


def json_line(result: SubscriptionCalibration) -> dict[str, Any]:
    s = result.summary()
    return {
        "customers": s["customers"],
        "parameters": {r["parameter"]: r["estimate"] for r in s["parameters"]},
        "prices": s["prices"],
        "churned": s["churned"],
        "forecast_errors": s["forecast_errors"],
        "seconds": result.seconds,
    }


def text_summary(result: SubscriptionCalibration, offers: FittedOffers | None, base: str) -> str:
    lines = [
        f"subscribers: {sum(p.histories.customers_total for p in result.plans):,}  plans: "
        + ", ".join(
            f"{p.plan} ({p.fit.model.k} class(es), fitted on {p.fit.n_customers:,} of "
            f"{p.histories.customers_total:,} customers)"
            for p in result.plans
        ),
        "rates are per day; [k] is the latent class; '-': not identified by this log",
    ]
    table = parameter_table(result.parameters()).drop(columns="identified")
    lines.append(table.to_string(index=False, float_format=lambda v: f"{v:.5g}", na_rep="-"))
    churned = result.churned.assign(
        churned_actual=lambda d: (100 * d.churned_actual).round(1),
        churned_calibrated=lambda d: (100 * d.churned_calibrated).round(1),
        difference_pp=lambda d: d.difference_pp.round(2),
    )
    lines.append("cancelled (% of first subscriptions):")
    lines.append(churned.to_string(index=False))
    if offers is not None:
        lines.append("offers fitted to the logged campaigns (effects in points, 28 days):")
        lines.append(offers.table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
        lines += [f"note: {note}" for note in offers.notes]
    price = result.prices.note(base)
    lines.append(f"price response: {price}")
    errors = result.summary()["forecast_errors"]
    if errors:
        lines.append(
            "holdout survivors, mean absolute percentage error: calibrated "
            f"{_pct(errors['calibrated_mape_pct'])}, sBG {_pct(errors['sbg_mape_pct'])}"
            + forecast_scope(errors)
        )
    lines += [f"note: {note}" for note in result.notes if note != price]
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "not available" if value is None else f"{value:.2f}%"


USERS_FOR_OFFERS = 40_000  # simulated customers when offers are fitted to a campaign
OFFER_USERS = (1_000, 5_000_000)  # and what --offer-users allows


def fitted_offers(
    result: SubscriptionCalibration, base: str, seed: int, users: int = USERS_FOR_OFFERS
) -> FittedOffers | None:
    """The base catalogue with each campaign's offers' lifts fitted on ``users`` simulated
    customers (None without campaigns); a later campaign's fit of the same offer wins."""
    if result.campaigns.empty:
        return None
    catalogue = offers_for(base)
    scenario = replace(result.scenario, n_users=users)
    tables, notes = [], []
    for _, rows in result.campaigns.groupby("campaign", sort=True):
        share = float(rows.holdout_share.iloc[0])
        fit = fit_lifts(scenario, catalogue, rows, share, int(rows.window_days.iloc[0]), seed)
        catalogue = fit.catalogue
        tables.append(fit.table.assign(campaign=rows.campaign.iloc[0]))
        notes += fit.notes
    return FittedOffers(catalogue, pd.concat(tables, ignore_index=True), tuple(notes))


_NOT_MATCHED = "; NOT matched: no lift in its search box reaches the logged effect"


def offers_yaml(fitted: FittedOffers, base: str, log_name: str) -> str:
    head = [
        f"# The '{base}' catalogue, lifts fitted by `winback calibrate` to the randomised",
        f"# campaigns in {log_name}: each offer's lift is set so that the same campaign,",
        "# simulated on the calibrated scenario, moves the share of customers who come back",
        "# within the window by what the campaign's holdout measured (campaigns.csv), as",
        "# near as a lift in its search box can. Per offer: the logged effect, the simulated",
        "# one at the fitted lift (points of customers back), and the lift with its 95%",
        "# interval (a wide one: the campaign bounds the offer's effect weakly, and a",
        "# benchmark's ranking of that offer inherits the uncertainty):",
        *[
            f"#   {row.offer}: logged {row.back_effect_pp:+.2f} points ({row.back_low_pp:+.2f} to "
            f"{row.back_high_pp:+.2f}), simulated {row.simulated_effect_pp:+.2f}; lift "
            f"{row.lift_fitted:.3g} ({_lift_interval(row)}){_NOT_MATCHED if row.at_edge else ''}"
            for row in fitted.table.itertuples(index=False)
        ],
    ]
    body = yaml.safe_dump({"offers": catalogue_spec(fitted.catalogue)["offers"]}, sort_keys=False)
    return "\n".join(head) + "\n" + body


def _lift_interval(row: Any) -> str:
    if not row.moves_with_lift:
        return "kept: its effect does not move with its lift"
    return f"95% interval {row.lift_low:.3g} to {row.lift_high:.3g}"
