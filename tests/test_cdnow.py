"""Sanity of the retail scenario against real data (CDNOW sample, Fader & Hardie).

CDNOW, weeks since the last purchase at the end of week 39 -> share of customers who buy
again in weeks 40-78 (same-day purchases merged): [0, 4): 0.758, [4, 13): 0.663,
[13, 26): 0.478, [26, 39]: 0.152. The retail scenario with its default parameters and no
offers, observed at day 91 for the next 273 days (39 weeks), must fall as steeply: every
bucket within 0.15 of CDNOW's share, shares strictly decreasing, the freshest bucket at least
three times the stalest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim import Simulation, presets

BUCKETS = ((0, 4), (4, 13), (13, 26), (26, 40))
DATA = Path(__file__).parent / "data" / "CDNOW_sample.txt"


def cdnow_purchases() -> pd.DataFrame:
    """The sample's purchases: customer ``id``, ``day`` (from 1997-01-01), dollar ``value``."""
    cols = ["master", "sample", "date", "cds", "value"]
    df = pd.read_csv(DATA, sep=r"\s+", header=None, names=cols, dtype={"date": str})
    day = (pd.to_datetime(df["date"], format="%Y%m%d") - pd.Timestamp("1997-01-01")).dt.days
    return pd.DataFrame({"id": df["sample"], "day": day, "value": df["value"]})


def cdnow_return_shares() -> list[float]:
    days = cdnow_purchases()[["id", "day"]].drop_duplicates()
    calib, hold = days[days.day < 273], days[days.day >= 273]
    weeks = (273 - calib.groupby("id").day.max()) / 7
    back = weeks.index.isin(hold.id.unique())
    return [float(back[(weeks >= lo) & (weeks < hi)].mean()) for lo, hi in BUCKETS]


def retail_return_shares(seed: int = 2) -> list[float]:
    sim = Simulation(presets.retail(n_users=40_000), None, seed=seed)
    sim.run_until(91)
    last, before = sim.pop.last_activity.copy(), sim.pop.total_sessions.copy()
    sim.run_until(91 + 273)
    back = sim.pop.total_sessions > before
    weeks = (91 - last) / 7
    return [float(back[(weeks >= lo) & (weeks < hi)].mean()) for lo, hi in BUCKETS]


def test_cdnow_figures_are_the_published_split() -> None:
    shares = cdnow_return_shares()
    assert shares == pytest.approx([0.758, 0.663, 0.478, 0.152], abs=0.001)


def test_retail_lapsed_customers_return_like_cdnow() -> None:
    real = np.array(cdnow_return_shares())
    sim = np.array(retail_return_shares())
    assert np.all(np.abs(sim - real) < 0.15), (sim, real)
    assert np.all(np.diff(sim) < 0), sim
    assert sim[0] >= 3 * sim[-1], sim
