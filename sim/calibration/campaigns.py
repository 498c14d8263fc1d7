"""Offer effects from logged campaigns with a randomised holdout arm.

A campaign's rows are ``offer_sent`` events with a ``campaign`` name and an ``arm``:
``treatment`` (sent the row's offer) or ``holdout`` (drawn, deliberately not sent). A customer
counts once per campaign, at their first draw, and only if the whole attribution window
after it lies inside the log. Per campaign and offer, against the campaign's holdout:

* *came back*: a resubscription, session or purchase within the window after the draw;
* *cancelled*: a cancellation taking effect within the window (customers still subscribed
  when drawn);

each as the treatment's share minus the holdout's, in percentage points, with a 95% interval
(Newcombe's hybrid score interval for a difference of independent proportions,
``statsmodels``). Randomisation makes these causal; offers sent outside a campaign with a
holdout get no estimate here. Columns per outcome (``back_``, ``cancelled_``): ``n_treated``
and ``n_holdout`` (the customers each share is of: all drawn for *came back*, those still
subscribed when drawn for *cancelled*), ``share_treated``, ``share_holdout``, ``effect_pp``,
``low_pp``, ``high_pp``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import confint_proportions_2indep

from sim.calibration.eventlog import EventLog

ATTRIBUTION_DAYS = 28  # offer effects: what happens within this many days of a send
BACK = ("resubscribe", "subscribe", "session", "purchase")


def campaign_draws(log: EventLog, window: int) -> pd.DataFrame:
    """One row per customer and campaign (the first draw): user_id, campaign, arm, offer,
    day, subscribed (at the draw), back and cancelled (within the window)."""
    ev = log.events
    if "campaign" not in ev.columns or "arm" not in ev.columns:
        return pd.DataFrame()
    sent = ev[(ev.event_type == "offer_sent") & ev.arm.isin(("treatment", "holdout"))]
    sent = sent[sent.campaign.astype(str) != ""]
    cols = ["user_id", "campaign", "arm", "offer", "day"]
    draws = sent[cols].astype({"user_id": str, "campaign": str, "arm": str, "offer": str})
    draws = draws.sort_values("day", kind="stable").drop_duplicates(["user_id", "campaign"])
    draws = draws[draws.day + window <= log.end].reset_index(drop=True)
    if draws.empty:
        return draws
    draws["back"] = _within(draws, ev[ev.event_type.isin(BACK)], window)
    draws["cancelled"] = _within(draws, ev[ev.event_type == "cancel"], window)
    draws["subscribed"] = _subscribed(draws, ev)
    return draws


def _within(draws: pd.DataFrame, events: pd.DataFrame, window: int) -> np.ndarray:
    """For each draw: an event of ``events`` for the customer in (day, day + window]."""
    hits = events[["user_id", "day"]].astype({"user_id": str})
    merged = draws[["user_id", "day"]].reset_index().merge(hits, on="user_id", suffixes=("", "_e"))
    ok = (merged.day_e > merged.day) & (merged.day_e <= merged.day + window)
    out = np.zeros(len(draws), dtype=bool)
    out[merged.loc[ok, "index"].unique()] = True
    return out


def _subscribed(draws: pd.DataFrame, ev: pd.DataFrame) -> np.ndarray:
    """For each draw: the customer's last subscription event on or before the draw day
    was a start, not a cancellation."""
    subs = ev[ev.event_type.isin(("subscribe", "resubscribe", "cancel"))]
    subs = subs[["user_id", "day", "event_type"]].astype({"user_id": str, "event_type": str})
    merged = draws[["user_id", "day"]].reset_index().merge(subs, on="user_id", suffixes=("", "_e"))
    merged = merged[merged.day_e <= merged.day].sort_values(["index", "day_e"], kind="stable")
    last = merged.groupby("index").event_type.last()
    out = np.zeros(len(draws), dtype=bool)
    out[last.index.to_numpy()] = (last != "cancel").to_numpy()
    return out


def campaign_effects(log: EventLog, window: int = ATTRIBUTION_DAYS) -> pd.DataFrame:
    """One row per campaign and offer (see the module doc; ``holdout_share`` is the share
    of the campaign's draws held out); empty without campaigns."""
    draws = campaign_draws(log, window)
    if draws.empty:
        return pd.DataFrame()
    rows = []
    for name, part in draws.groupby("campaign", sort=True):
        hold = part[part.arm == "holdout"]
        share = len(hold) / len(part)
        for offer, treat in part[part.arm == "treatment"].groupby("offer", sort=True):
            rows.append(
                {"campaign": name, "offer": offer, "window_days": window, "holdout_share": share}
                | _difference("back", treat, hold)
                | _difference("cancelled", treat[treat.subscribed], hold[hold.subscribed])
            )
    return pd.DataFrame(rows)


def _difference(outcome: str, treat: pd.DataFrame, hold: pd.DataFrame) -> dict[str, float]:
    n1, n0 = len(treat), len(hold)
    k1, k0 = int(treat[outcome].sum()), int(hold[outcome].sum())
    lo = hi = np.nan
    if n1 and n0:
        lo, hi = confint_proportions_2indep(k1, n1, k0, n0, method="newcomb", compare="diff")
    return {
        f"{outcome}_n_treated": n1,
        f"{outcome}_n_holdout": n0,
        f"{outcome}_share_treated": k1 / n1 if n1 else np.nan,
        f"{outcome}_share_holdout": k0 / n0 if n0 else np.nan,
        f"{outcome}_effect_pp": 100.0 * (k1 / n1 - k0 / n0) if n1 and n0 else np.nan,
        f"{outcome}_low_pp": 100.0 * float(lo),
        f"{outcome}_high_pp": 100.0 * float(hi),
    }
