"""Behavioural signals (sim.signals): functions of the latent traits plus noise, inert on
everything else, deterministic, validated.

The signal AUCs are within strata of equal session counts: a signal is shown at sessions, so
its raw count also carries how much the user played, which the pain points drive through the
hazards; within a stratum only the signal's own rate is compared. Standard error of one
stratified AUC here (20,000 users, ~5,000 with the pain point) is about 0.005, so the pure-noise
tolerance of 0.02 is four of them.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from sim import Signals, Simulation, presets
from sim.calendar import daily_prices
from sim.envs.observation import Encoder, observation_names
from sim.signals import FAMILIES, SIGNALS, family_of
from tests.conftest import every_28_days

N = 20_000


def stratified_auc(score: np.ndarray, label: np.ndarray, strata: np.ndarray) -> float:
    """P(score of a positive > score of a negative, ties half) over pairs in the same
    stratum: the Mann-Whitney AUC of each stratum, weighted by its pairs."""
    frame = pd.DataFrame({"s": score, "y": label.astype(bool), "g": strata})
    frame["r"] = frame.groupby("g")["s"].rank()
    per = frame.groupby("g").agg(pos=("y", "sum"), n=("y", "size"))
    per["rank_pos"] = frame[frame.y].groupby("g")["r"].sum()
    per = per[(per.pos > 0) & (per.pos < per.n)]
    neg = per.n - per.pos
    u = per.rank_pos - per.pos * (per.pos + 1) / 2
    return float(u.sum() / (per.pos * neg).sum())


def warmed(strength: float, seed: int = 3, n: int = N) -> Simulation:
    scenario = replace(
        presets.streaming(n_users=n), signals=Signals(strength, strength, strength, strength)
    )
    sim = Simulation(scenario, seed=seed)
    sim.run_until(0)
    return sim


def aucs(sim: Simulation) -> dict[str, float]:
    pop = sim.pop
    seen = pop.total_sessions > 0
    return {
        name: stratified_auc(
            pop.signals[:, j][seen],
            pop.pain[seen] == FAMILIES.index(family),
            pop.total_sessions[seen],
        )
        for j, (name, family, _) in enumerate(SIGNALS)
    }


@pytest.fixture(scope="module")
def by_strength() -> dict[float, dict[str, float]]:
    return {s: aucs(warmed(s)) for s in (0.0, 0.5, 1.0)}


def test_pure_noise_strength_makes_every_signal_uninformative(by_strength) -> None:
    for name, auc in by_strength[0.0].items():
        assert auc == pytest.approx(0.5, abs=0.02), name


def test_more_strength_shows_the_pain_point_more_plainly(by_strength) -> None:
    for name in by_strength[0.0]:
        low, mid, high = (by_strength[s][name] for s in (0.0, 0.5, 1.0))
        assert low < mid < high, name
        assert high > 0.57, name  # at day 0 the rarest signals have few counts (56 days)
    best = {f: max(a for n, a in by_strength[1.0].items() if family_of(n) == f) for f in FAMILIES}
    assert min(best.values()) > 0.65, best


def test_a_signal_counts_only_sessions_of_its_user() -> None:
    sim = warmed(0.5, n=3_000)
    idle = sim.pop.total_sessions == 0
    assert idle.any() and not sim.pop.signals[idle].any()
    assert sim.pop.signals.sum() > 0


def test_signals_change_no_other_number() -> None:
    """Strength moves only the signal draws (a stream of their own): the run's results, the
    users' paths and every other observable are the same bit for bit."""
    runs = []
    for strength in (0.0, 1.0):
        scenario = replace(
            presets.streaming(n_users=2_000, horizon_days=84),
            signals=Signals(strength, strength, strength, strength),
        )
        catalogue = presets.streaming_offers()
        sim = Simulation(scenario, catalogue, seed=11, policy=every_28_days(1))
        result = sim.run()
        obs = Encoder(scenario, catalogue)(sim, 0.5)
        runs.append((sim, result, obs, observation_names(scenario, catalogue)))
    (a, ra, oa, names), (b, rb, ob, _) = runs
    assert ra.kpis.keys() == rb.kpis.keys()
    for key, value in ra.kpis.items():  # nan where a rate has no one to count (== fails)
        assert value == rb.kpis[key] or (np.isnan(value) and np.isnan(rb.kpis[key])), key
    assert np.array_equal(ra.user_money, rb.user_money)
    for field in ("state", "last_activity", "total_sessions", "revenue_to_date", "survey"):
        assert np.array_equal(getattr(a.pop, field), getattr(b.pop, field)), field
    signal_cols = [k for k, n in enumerate(names) if n.startswith("signal_")]
    other = [k for k in range(len(names)) if k not in signal_cols]
    assert np.array_equal(oa[:, other], ob[:, other])
    assert not np.array_equal(oa[:, signal_cols], ob[:, signal_cols])


def test_same_seed_same_signals_and_another_seed_others() -> None:
    one, two, other = (warmed(0.5, seed=s, n=2_000) for s in (5, 5, 6))
    assert np.array_equal(one.pop.signals, two.pop.signals)
    assert np.array_equal(one.pop.revenue_to_date, two.pop.revenue_to_date)
    assert not np.array_equal(one.pop.signals, other.pop.signals)


def test_revenue_to_date_is_what_subscribers_paid() -> None:
    """No offers: a subscriber pays the list price a day while subscribed, so revenue to
    date is at most the days since the warm-up began times the highest daily price, and the
    population's total is the list price times its subscribed days."""
    sim = warmed(0.5, n=2_000)
    top = float(daily_prices(p.monthly_price for p in sim.scenario.plans).max())
    days = sim.scenario.warmup_days
    assert sim.pop.revenue_to_date.max() <= top * days * (1 + 1e-5)
    assert sim.pop.revenue_to_date.mean() > 0.5 * top * days * 0.5


@pytest.mark.parametrize("value", [-0.1, 1.5, "high", None])
def test_a_strength_outside_0_1_is_refused_by_name(value) -> None:
    with pytest.raises(ValueError, match=r"signals\.technical: .* allowed: a number in \[0, 1\]"):
        Signals(technical=value)


def test_every_family_has_signals_and_every_signal_a_family() -> None:
    assert {family_of(name) for name, _, _ in SIGNALS} == set(FAMILIES)
    assert set(Signals().strengths()) == set(FAMILIES)
