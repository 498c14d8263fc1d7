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
"""

from __future__ import annotations

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


def label(scores: pd.DataFrame) -> pd.DataFrame:
    """``scores`` (``status``, ``p_lapse_90``, ``value_12m``, ``reason``) with
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


def counts(labelled: pd.DataFrame) -> pd.DataFrame:
    """One row per segment present: customers, share, mean predicted value and lapse risk,
    ordered by value tier, risk tier and reason."""
    table = (
        labelled.groupby(["value_tier", "risk_tier", "reason"], observed=True)
        .agg(
            customers=("segment", "size"),
            mean_value_12m=("value_12m", "mean"),
            mean_p_lapse_90=("p_lapse_90", "mean"),
            segment=("segment", "first"),
        )
        .reset_index()
    )
    table["share"] = table["customers"] / max(len(labelled), 1)
    order = {
        "value_tier": {v: i for i, v in enumerate(VALUE_TIERS)},
        "risk_tier": {v: i for i, v in enumerate(RISK_TIERS)},
        "reason": {v: i for i, v in enumerate(PAIN_POINTS)},
    }
    keys = pd.DataFrame({k: table[k].map(m) for k, m in order.items()})
    table = table.iloc[np.lexsort([keys[k] for k in reversed(order)])].reset_index(drop=True)
    return table[
        ["segment", "value_tier", "risk_tier", "reason", "customers", "share",
         "mean_value_12m", "mean_p_lapse_90"]
    ]  # fmt: skip
