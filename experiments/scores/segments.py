"""Segments a strategist can name: value x risk x predicted reason.

The rules:

- value: ``high`` for the top fifth of predicted 12-month margin among the customers scored,
  ``low`` for the bottom two fifths, ``medium`` between (``VALUE_SHARES``);
- risk: for a customer seen active, by the chance of lapsing within 90 days: ``high`` from
  ``HIGH_RISK`` (one in three), ``low`` under ``LOW_RISK`` (one in seven), ``medium``
  between; a customer seen inactive is ``lapsed`` and one who cancelled ``cancelled``;
- reason: the likeliest pain point (``price``, ``content``, ``discovery``, ``technical``,
  ``none``).

A segment's name joins the three: ``high value, lapsed, price``.

Each segment is counted (:func:`counts`) with its mean predicted value and lapse risk, the
offer the seeds' playbook (``agents.reference.Playbook``'s defaults) sends for its reason,
and, for simulated customers, how reliable its reason is: the share of its customers whose
true pain point is the one named.

A chance that does not apply is blank (NaN) in the scores table (:func:`blank_where_moot`),
as in the truth: stopping (``p_lapse_*``) for a customer who has stopped visiting or
cancelled, cancelling for one who has cancelled.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

from sim.constants import ACTIVE, CHURNED, PAIN_POINTS

VALUE_SHARES = (0.4, 0.8)  # predicted value's quantiles: low up to the first, high above the second
LOW_RISK, HIGH_RISK = 1 / 7, 1 / 3
VALUE_TIERS = ("high", "medium", "low")
RISK_TIERS = ("high", "medium", "low", "lapsed", "cancelled")


def value_tier(value: np.ndarray) -> np.ndarray:
    """``high``/``medium``/``low`` by the quantiles ``VALUE_SHARES`` of ``value``."""
    if value.size == 0:
        return np.array([], dtype=object)
    low, high = np.quantile(value, VALUE_SHARES)
    return np.where(value > high, "high", np.where(value <= low, "low", "medium")).astype(object)


def risk_tier(status: np.ndarray, p_lapse_90: np.ndarray) -> np.ndarray:
    """The risk tier of each customer (module docstring)."""
    tier = np.where(
        p_lapse_90 >= HIGH_RISK, "high", np.where(p_lapse_90 < LOW_RISK, "low", "medium")
    ).astype(object)
    tier[status != ACTIVE] = "lapsed"
    tier[status == CHURNED] = "cancelled"
    return tier


def blank_where_moot(scores: pd.DataFrame) -> pd.DataFrame:
    """``scores`` (``status_code`` and any of ``p_lapse_30``, ``p_lapse_90``,
    ``p_cancel_90``) with each chance NaN where it does not apply: stopping, for a customer
    not seen active; cancelling, for one who has cancelled (as ``agents.scores``' labels)."""
    out = scores.copy()
    status = out["status_code"].to_numpy()
    for name, moot in (
        ("p_lapse_30", status != ACTIVE),
        ("p_lapse_90", status != ACTIVE),
        ("p_cancel_90", status == CHURNED),
    ):
        if name in out:
            out[name] = out[name].astype(np.float64).mask(moot)
    return out


def label(scores: pd.DataFrame) -> pd.DataFrame:
    """``scores`` (``status_code``, ``p_lapse_90``, ``value_12m``, ``reason``) with
    ``value_tier``, ``risk_tier`` and ``segment`` columns added."""
    out = scores.copy()
    out["value_tier"] = value_tier(out["value_12m"].to_numpy())
    out["risk_tier"] = risk_tier(out["status_code"].to_numpy(), out["p_lapse_90"].to_numpy())
    out["segment"] = (
        out["value_tier"] + " value, " + out["risk_tier"] + _risk_suffix(out["risk_tier"])
        + ", " + out["reason"].astype(str)
    )  # fmt: skip
    return out


def _risk_suffix(tier: pd.Series) -> pd.Series:
    return np.where(tier.isin(("lapsed", "cancelled")), "", " risk")  # type: ignore[return-value]


def playbook_offer(reason: str, risk: str, offers: Collection[str] | None = None) -> str:
    """The offer the seeds' playbook (``agents.reference.Playbook()``) sends a customer of
    pain point ``reason`` in risk tier ``risk``; with ``offers`` (the run's offer names), one
    not among them is said to be missing."""
    from agents.reference import Playbook

    rules = Playbook()
    if reason == "content" and risk == "cancelled":
        offer = rules.content_churned
    else:
        offer = rules.offers_by_reason()[PAIN_POINTS.index(reason)]
    if offers is not None and offer not in offers:
        return f"{offer} (not among this run's offers)"
    return offer


def counts(labelled: pd.DataFrame, offers: Collection[str] | None = None) -> pd.DataFrame:
    """One row per segment present: customers, share, mean predicted value and lapse risk
    (NaN where no customer of the segment has one), the share whose true pain point is the
    segment's reason (``reason_precision``: only when ``labelled`` has ``true_reason``) and
    the playbook's offer for it (:func:`playbook_offer`), ordered by value tier, risk tier
    and reason."""
    truth = "true_reason" in labelled
    frame = labelled.assign(
        right=(labelled["true_reason"] == labelled["reason"]).astype(np.float64)
        if truth
        else np.nan
    )
    table = (
        frame.groupby(["value_tier", "risk_tier", "reason"], observed=True)
        .agg(
            customers=("segment", "size"),
            mean_value_12m=("value_12m", "mean"),
            mean_p_lapse_90=("p_lapse_90", "mean"),
            reason_precision=("right", "mean"),
            segment=("segment", "first"),
        )
        .reset_index()
    )
    table["share"] = table["customers"] / max(len(labelled), 1)
    table["playbook_offer"] = [
        playbook_offer(reason, risk, offers)
        for reason, risk in zip(table["reason"], table["risk_tier"], strict=True)
    ]
    order = {
        "value_tier": {v: i for i, v in enumerate(VALUE_TIERS)},
        "risk_tier": {v: i for i, v in enumerate(RISK_TIERS)},
        "reason": {v: i for i, v in enumerate(PAIN_POINTS)},
    }
    keys = pd.DataFrame({k: table[k].map(m) for k, m in order.items()})
    table = table.iloc[np.lexsort([keys[k] for k in reversed(order)])].reset_index(drop=True)
    columns = ["segment", "value_tier", "risk_tier", "reason", "customers", "share",
               "mean_value_12m", "mean_p_lapse_90"]  # fmt: skip
    columns += ["reason_precision"] if truth else []
    return table[[*columns, "playbook_offer"]]
