"""Offer effects from a log that holds win-back messages (``offer_sent``,
``offer_opened``, ``offer_redeemed`` events).

For every send whose attribution window lies inside the log, to a customer already seen
active, the fitted no-offer model gives the chance that the customer is active
again within the attribution window, from their record up to the send day; the log shows
whether they were. Per offer: sends, open and redemption shares (Wilson 95% intervals),
customers active again within the window, the model's expectation for the same customers
without an offer, their ratio (with the Wilson interval of the observed share), and the
implied log-hazard lift per opened offer::

    p_obs = (1 - o) p0 + o p1,   h(p) = -log(1 - p) / W,   lift = log(h(p1) / h(p0))

with ``o`` the open share. The baseline is fitted on every customer's activity, offer-driven
activity included: where offers work it is a little high, so the effects are, if anything,
understated.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.calibration.customers import activity_days, customers_at
from sim.calibration.eventlog import EventLog
from sim.calibration.lifecycle import Lifecycle, Traits
from sim.calibration.likelihood import activity_probability

Z = 1.959964


def wilson(hits: float, n: float) -> tuple[float, float]:
    """Wilson score 95% interval of a binomial share."""
    if n <= 0:
        return (np.nan, np.nan)
    p = hits / n
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z * np.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2)) / (1 + Z**2 / n)
    return (float(centre - half), float(centre + half))


def _responded(sends: pd.DataFrame, events: pd.DataFrame, kind: str, window: int) -> np.ndarray:
    """For each send: an event of ``kind`` for the same user and offer within the window."""
    hits = events[events.event_type == kind][["user_id", "offer", "day"]]
    merged = sends.reset_index().merge(hits, on=["user_id", "offer"], suffixes=("", "_hit"))
    ok = (merged.day_hit >= merged.day) & (merged.day_hit <= merged.day + window)
    found = np.zeros(len(sends), dtype=bool)
    found[merged.loc[ok, "index"].unique()] = True
    return found


def offer_effects(
    log: EventLog, model: Lifecycle, traits: Traits | None, window: int = 28
) -> pd.DataFrame:
    """One row per offer (see the module doc); empty when the log holds no sends."""
    events = log.events.copy()
    offer = events["offer"].astype(str) if "offer" in events else ""
    events["offer"] = pd.Series(offer, index=events.index).replace("", "unnamed")
    sends = events[events.event_type == "offer_sent"][["user_id", "day", "offer"]]
    sends = sends.reset_index(drop=True)
    if sends.empty:
        return pd.DataFrame()
    sends["opened"] = _responded(sends, events, "offer_opened", window)
    sends["redeemed"] = _responded(sends, events, "offer_redeemed", window)
    days = activity_days(log)
    last = int(days.day.max())
    sends["expected"], sends["back"] = np.nan, False
    for day in np.unique(sends.day.to_numpy()).tolist():
        group = sends[sends.day == day]
        first = int(days.day.min())
        if day + window > last or day < first:
            continue  # the window runs past the log, or nobody is a customer yet
        data = customers_at(log, day, days)
        known = np.isin(group.user_id.to_numpy(), data.ids)
        if not known.any():
            continue
        prob = pd.Series(activity_probability(model, data, traits, window), index=data.ids)
        rows = group.index[known]
        sends.loc[rows, "expected"] = prob.loc[group.user_id[known]].to_numpy()
        later = days[(days.day > day) & (days.day <= day + window)].user_id.unique()
        sends.loc[rows, "back"] = np.isin(group.user_id[known].to_numpy(), later)
    return pd.DataFrame([_summary(str(name), part) for name, part in sends.groupby("offer")])


def _summary(name: str, part: pd.DataFrame) -> dict[str, float | str | int]:
    seen = part[part.expected.notna()]
    n, back = len(seen), float(seen.back.sum())
    p0 = float(seen.expected.mean()) if n else np.nan
    p_obs = back / n if n else np.nan
    lo, hi = wilson(back, n)
    o = float(part.opened.mean())
    o_lo, o_hi = wilson(float(part.opened.sum()), len(part))
    return {
        "offer": name,
        "sends": len(part),
        "sends_judged": int(n),  # to known customers, with the whole window in the log
        "open_share": o,
        "open_low": o_lo,
        "open_high": o_hi,
        "redeem_share": float(part.redeemed.mean()),
        "back_share": p_obs,
        "back_low": lo,
        "back_high": hi,
        "expected_without_offer": p0,
        "ratio": p_obs / p0 if n and p0 > 0 else np.nan,
        "ratio_low": lo / p0 if n and p0 > 0 else np.nan,
        "ratio_high": hi / p0 if n and p0 > 0 else np.nan,
        "lift_per_open": implied_lift(p_obs, p0, o),
    }


def implied_lift(p_obs: float, p0: float, opened: float) -> float:
    """The log-hazard lift of an opened offer that explains ``p_obs`` (see the module
    doc); NaN when it cannot (no opens, or shares at 0 or 1)."""
    if not (opened > 0 and 0 < p0 < 1 and 0 <= p_obs < 1):
        return float("nan")
    p1 = (p_obs - (1 - opened) * p0) / opened
    if not 0 < p1 < 1:
        return float("nan")
    return float(np.log(np.log1p(-p1) / np.log1p(-p0)))
