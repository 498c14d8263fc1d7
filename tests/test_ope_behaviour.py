"""The simulator's log of a behaviour policy's decisions: propensities exact, rewards as the
online learners get them, deterministic per seed; bad settings refused by name."""

from __future__ import annotations

import numpy as np
import pytest

from agents.reference import Playbook
from experiments.ope.behaviour import EpsilonAround, Uniform, log_decisions
from sim import presets

SCENARIO = presets.streaming(n_users=2000, horizon_days=84)
CATALOGUE = presets.streaming_offers()


def test_a_uniform_log_has_exact_propensities_and_is_deterministic() -> None:
    log = log_decisions(Uniform(), SCENARIO, CATALOGUE, seed=3)
    allowed = (log.logging_dist > 0).sum(axis=1)
    assert np.allclose(log.pscore * allowed, 1.0)  # one over the actions the mask allowed
    assert log.n_actions == len(CATALOGUE) + 1 and set(np.unique(log.action)) <= set(range(8))
    again = log_decisions(Uniform(), SCENARIO, CATALOGUE, seed=3)
    assert np.array_equal(log.action, again.action) and np.array_equal(log.reward, again.reward)
    other = log_decisions(Uniform(), SCENARIO, CATALOGUE, seed=4)
    assert not np.array_equal(log.action[:100], other.action[:100])
    assert log.meta["offers"][0] == "no_offer" and len(log.meta["features"]) == log.context.shape[1]


def test_epsilon_around_a_rule_puts_most_weight_on_the_rule() -> None:
    eps = 0.2
    log = log_decisions(EpsilonAround(rule=Playbook(), epsilon=eps), SCENARIO, CATALOGUE, seed=3)
    assert (log.logging_dist.max(axis=1) >= 1 - eps).all()
    assert (log.logging_dist > 0).sum(axis=1).min() >= 2  # full support over what is allowed
    shares = np.bincount(log.action, minlength=log.n_actions) / log.n_rounds
    assert shares.max() > 0.5  # the rule's favourite (a reminder to those who gave no reason)


def test_bad_settings_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"epsilon: 0; allowed: a share in \(0, 1\]"):
        EpsilonAround(rule=Playbook(), epsilon=0)
    with pytest.raises(ValueError, match=r"attribution_days: 200; no decision's window ended"):
        log_decisions(Uniform(), SCENARIO, CATALOGUE, seed=1, attribution_days=200)


def test_a_target_is_read_on_the_logged_rounds_and_the_log_round_trips(tmp_path) -> None:
    from agents.reference import Blanket, NoOffer
    from experiments.ope.behaviour import target_distribution
    from experiments.ope.estimators import estimate
    from experiments.ope.logged import load, save

    log = log_decisions(Uniform(), SCENARIO, CATALOGUE, seed=3)
    nothing = target_distribution(NoOffer(), log)
    assert (nothing[:, 0] == 1).all()
    blanket = target_distribution(Blanket(offer="discount_30"), log)
    k = 1 + CATALOGUE.index("discount_30")
    allowed = log.logging_dist[:, k] > 0
    assert (blanket[allowed, k] == 1).all() and (blanket.sum(axis=1) == 1).all()
    again = load(save(log, tmp_path / "log.npz"))
    assert again.meta == log.meta and np.array_equal(again.pscore, log.pscore)
    assert estimate(again, blanket, None, ("ips",), boot=20) == estimate(
        log, blanket, None, ("ips",), boot=20
    )
    with pytest.raises(ValueError, match=r"log: '.*missing.npz' does not exist"):
        load(tmp_path / "missing.npz")


def test_a_vendor_test_keeps_its_control_and_moves_towards_the_best_offer() -> None:
    from experiments.ope.behaviour import VendorTest

    offers = ("discount_30", "recommendations", "support_call")
    vendor = VendorTest(offers=offers, control=0.2, best=0.5)
    log = log_decisions(vendor, SCENARIO, CATALOGUE, seed=3)
    arms = [0, *(1 + CATALOGUE.index(o) for o in offers)]
    full = (log.logging_dist[:, arms] > 0).all(axis=1)  # customers every arm could reach
    assert set(np.unique(log.action)) <= set(arms)
    assert np.allclose(log.logging_dist[full, 0], 0.2)  # the control's share, week after week
    first = log.logging_dist[full][0, arms[1:]]
    assert np.allclose(first, 0.8 / 3)  # before any feedback: the offers share equally
    told = {a: s / n for a, (s, n) in vendor.totals.items() if a in arms[1:]}
    best = max(told, key=lambda a: told[a])
    assert np.isclose(log.logging_dist[full][-1, best], 0.8 * 0.5)  # the best so far: half
    with pytest.raises(ValueError, match=r"offers: \['discount_30'\]; allowed: 2 to 4 distinct"):
        VendorTest(offers=("discount_30",))
    with pytest.raises(ValueError, match=r"offers: 'gift'; allowed: offers of the catalogue"):
        log_decisions(VendorTest(offers=("gift", "discount_30")), SCENARIO, CATALOGUE, seed=1)


def test_a_thompson_logger_logs_exact_propensities_and_learns() -> None:
    from experiments.ope.behaviour import ThompsonLogger

    logger = ThompsonLogger(seed=5)
    log = log_decisions(logger, SCENARIO, CATALOGUE, seed=3)
    assert (log.pscore > 0).all()  # every allowed action keeps some support
    dist = log.logging_dist

    def lean(p: np.ndarray) -> float:  # the top action's share over an even split
        return float(p.max() * (p > 0).sum())

    assert lean(dist[0]) < 1.1  # before any reward: every action alike (Monte Carlo noise)
    assert lean(dist[-1]) > 1.5  # told rewards, it leans on what paid
    assert logger.sums  # what it was told
    again = log_decisions(ThompsonLogger(seed=5), SCENARIO, CATALOGUE, seed=3)
    assert np.array_equal(log.pscore, again.pscore)  # deterministic per seed
    with pytest.raises(ValueError, match=r"draws: 10; allowed: an integer >= 100"):
        ThompsonLogger(draws=10)


def test_the_truth_of_a_campaign_log_is_what_the_rewards_average_to() -> None:
    """Decided once per customer, each round's truth (every action's expected reward, by
    look-ahead on forks of the run) is the mean of what the log records for the action taken:
    the realised rewards minus the truth of the taken action average to 0 within 3 standard
    errors, pooled over 4 logs (5,000 customers, half a year, 8 replications each; seeds 1
    and 4-13 gave z = 3.5, 0.6, -0.2, 0.6, -0.5, -1.0, 0.2, 0.1, -1.8, 2.4, 1.3)."""
    scenario = presets.streaming(n_users=5000, horizon_days=182)
    gaps = []
    for seed in (2, 3, 4, 5):
        log = log_decisions(Uniform(), scenario, CATALOGUE, seed=seed, once=True, truth_reps=8)
        assert log.truth is not None and log.truth.shape == (log.n_rounds, log.n_actions)
        assert log.n_rounds <= scenario.n_users  # once per customer
        allowed = log.logging_dist > 0
        assert np.isfinite(log.truth[allowed]).all() and np.isnan(log.truth[~allowed]).all()
        gaps.append(log.reward - log.truth[np.arange(log.n_rounds), log.action])
    gap = np.concatenate(gaps)
    assert abs(gap.mean()) < 3 * gap.std(ddof=1) / np.sqrt(gap.size)
    with pytest.raises(ValueError, match=r"truth_reps: 1; allowed: 0 \(none\) or replications"):
        log_decisions(Uniform(), SCENARIO, CATALOGUE, seed=1, truth_reps=1)
