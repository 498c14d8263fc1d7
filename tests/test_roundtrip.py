"""Issue 16, proof 2: the round trip. A simulated streaming company (monthly billing) is
calibrated on its first 12 months; the calibrated scenario, simulated, reproduces the next
12 months' subscribers, cancellations, resubscriptions and revenue per month within 5% of the
original or within the 95% band of the difference (both worlds' spread over seeds).

Design (``sim.calibration.roundtrip``): both worlds start from scratch on the same calendar,
every customer subscribing on day 0, so the customers left at the cut are those each world's
own dynamics let survive (the leave multipliers selected by their history in both), and the
months after the cut are compared. Measured figures are in the README ("A subscription
business")."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from sim import presets
from sim.calibration.roundtrip import monthly_figures, round_trip


def test_monthly_figures_count_a_small_log() -> None:
    """Two customers: a renews on day 29 and cancels on day 45; b cancels on day 10 and
    resubscribes on day 40 (paying 9.99)."""
    rows = [
        ("a", "2023-12-31", "subscribe", None),
        ("a", "2024-01-30", "renew", 9.99),
        ("a", "2024-02-15", "cancel", None),
        ("b", "2023-12-31", "subscribe", None),
        ("b", "2024-01-11", "cancel", None),
        ("b", "2024-02-10", "resubscribe", 9.99),
    ]
    events = pd.DataFrame(rows, columns=["user_id", "timestamp", "event_type", "amount"])
    got = monthly_figures(events, 3)
    np.testing.assert_array_equal(got.subscribers, [1, 1, 1])
    np.testing.assert_array_equal(got.cancellations, [1, 1, 0])
    np.testing.assert_array_equal(got.resubscriptions, [0, 1, 0])
    np.testing.assert_allclose(got.revenue, [9.99, 9.99, 0.0])


@pytest.mark.slow
def test_the_calibrated_scenario_reproduces_the_next_12_months() -> None:
    """3,000 streaming subscribers (three plans billed monthly, traits on), calibrated with
    up to two classes per plan without sessions; ten seeds per world for the spread.
    Subscribers and revenue within 5% in every one of the 12 held-out months; the monthly
    cancellation and resubscription counts (a few dozen each) within 5% or the 95% band of
    the difference in at least 21 of their 24 months (a faithful model misses 1.2 on
    average; more than 3 misses has probability 3%)."""
    base = presets.streaming(n_users=3000, horizon_days=720)
    monthly = replace(base, plans=tuple(replace(p, billing="monthly") for p in base.plans))
    result = round_trip(monthly, 3000, replications=10, classes=2)
    ahead = result.holdout()
    print(ahead.round(2).to_string())
    big = ahead[ahead.figure.isin(["subscribers", "revenue"])]
    assert (big.error_pct.abs() <= 5.0).all(), big.to_string()
    counts = ahead[ahead.figure.isin(["cancellations", "resubscriptions"])]
    assert (~counts.within).sum() <= 3, counts[~counts.within].to_string()
