"""Off-policy estimators against hand-computed cases and a synthetic bandit whose true value
is known exactly: IPS unbiased on a uniform logger, DR exact with a perfect reward model, DM
biased with a wrong one, intervals that cover; bad logs refused by name."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.ope.estimators import ESTIMATORS, diagnostics, estimate
from experiments.ope.logged import Logged


# ------------------------------------------------------------------ by hand
def tiny() -> tuple[Logged, np.ndarray, np.ndarray]:
    """Four rounds, two actions; logger 0.5/0.5 then 0.8/0.2; the target always action 1."""
    logged = Logged(
        action=np.array([0, 1, 1, 0]),
        reward=np.array([1.0, 2.0, 0.0, 3.0]),
        pscore=np.array([0.5, 0.5, 0.2, 0.8]),
        context=np.zeros((4, 1)),
        n_actions=2,
        logging_dist=np.array([[0.5, 0.5], [0.5, 0.5], [0.8, 0.2], [0.8, 0.2]]),
    )
    target = np.tile([0.0, 1.0], (4, 1))
    q = np.array([[1.0, 1.5], [1.0, 1.5], [2.0, 0.5], [2.0, 0.5]])
    return logged, target, q


def test_each_estimator_matches_a_hand_computation() -> None:
    logged, target, q = tiny()
    got = {e.estimator: e.value for e in estimate(logged, target, q, boot=20)}
    w = np.array([0.0, 2.0, 5.0, 0.0])  # pi(a_i) / p_i
    r = np.array([1.0, 2.0, 0.0, 3.0])
    direct = np.array([1.5, 1.5, 0.5, 0.5])  # q(x_i, 1)
    residual = r - np.array([1.0, 1.5, 0.5, 2.0])  # r_i - q(x_i, a_i)
    assert got["dm"] == pytest.approx(1.0)
    assert got["ips"] == pytest.approx((w * r).mean())  # 1.0
    assert got["snips"] == pytest.approx((w * r).sum() / w.sum())  # 4 / 7
    assert got["dr"] == pytest.approx((direct + w * residual).mean())  # (1.5+2.5+(-2)+0.5)/4
    assert got["sndr"] == pytest.approx(direct.mean() + (w * residual).sum() / w.sum())
    switch = direct + np.where(w <= 3.0, w * residual, 0.0)  # the weight 5 switched to DM
    assert estimate(logged, target, q, ("switch_dr",), tau=3.0, boot=20)[0].value == (
        pytest.approx(switch.mean())
    )
    clipped = estimate(logged, target, q, ("ips",), clip=3.0, boot=20)[0].value
    assert clipped == pytest.approx((np.minimum(w, 3.0) * r).mean())


def test_diagnostics_by_hand() -> None:
    logged, target, _ = tiny()
    d = diagnostics(logged, target, clip=3.0)
    w = np.array([0.0, 2.0, 3.0, 0.0])
    assert d.effective_sample_size == pytest.approx(w.sum() ** 2 / (w**2).sum())
    assert (d.max_weight, d.clipped) == (3.0, 1)
    assert d.unsupported_share == 0.0  # the logger could take action 1 everywhere
    rows = np.array([[1.0, 0.0], [0.5, 0.5], [0.8, 0.2], [1.0, 0.0]])  # 0 and 3: never 1
    pscore = np.array([1.0, 0.5, 0.2, 1.0])
    never = Logged(**{**logged.__dict__, "logging_dist": rows, "pscore": pscore})
    assert diagnostics(never, target).unsupported_share == 0.5
    assert diagnostics(never, target).unsupported_mass == 0.5


# ------------------------------------------------------------------ a bandit with a known value
K, D = 5, 3


def world(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Contexts and each action's expected reward (a logistic model), fixed by ``seed``."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=(K, D))
    return theta, rng.normal(size=K) * 0.5


def expected(x: np.ndarray, theta: np.ndarray, bias: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(x @ theta.T + bias)))


def log(n: int, seed: int, logger: str = "uniform") -> tuple[Logged, np.ndarray, np.ndarray]:
    """``n`` rounds from the logger; the target (greedy on a noisy view); the true means."""
    theta, bias = world(0)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, D))
    mean = expected(x, theta, bias)
    if logger == "uniform":
        dist = np.full((n, K), 1.0 / K)
    else:  # epsilon-greedy around a different rule
        dist = np.full((n, K), 0.1 / K)
        dist[np.arange(n), np.argmax(x @ theta[::-1].T, axis=1)] += 0.9
    action = (
        np.array([rng.choice(K, p=p) for p in dist])
        if n <= 2000
        else ((rng.random(n)[:, None] > np.cumsum(dist, axis=1)).sum(axis=1))
    )
    reward = (rng.random(n) < mean[np.arange(n), action]).astype(float)
    target = np.zeros((n, K))
    target[np.arange(n), np.argmax(x @ theta.T + 0.3 * rng.normal(size=(n, K)), axis=1)] = 1.0
    logged = Logged(
        action=action,
        reward=reward,
        pscore=dist[np.arange(n), action],
        context=x,
        n_actions=K,
        logging_dist=dist,
    )
    return logged, target, mean


def test_ips_is_unbiased_on_a_uniform_logger_and_intervals_cover() -> None:
    """200 logs of 1,000 rounds: the mean IPS estimate is the true value within 3 standard
    errors; the bootstrap 95% intervals of IPS, SNIPS and DR (a slightly wrong model) cover
    the true value in 90-98% of the logs."""
    errors, covered = [], {"ips": 0, "snips": 0, "dr": 0}
    reps = 200
    for seed in range(reps):
        logged, target, mean = log(1000, seed)
        truth = (target * mean).sum(axis=1).mean()
        q = np.clip(mean + 0.05, 0, 1)  # a model with a small bias
        got = estimate(logged, target, q, ("ips", "snips", "dr"), boot=100, seed=seed)
        by = {e.estimator: e for e in got}
        errors.append(by["ips"].value - truth)
        for name in covered:
            covered[name] += by[name].low <= truth <= by[name].high
    errors_ = np.array(errors)
    assert abs(errors_.mean()) < 3 * errors_.std(ddof=1) / np.sqrt(reps)
    for name, hits in covered.items():
        assert 0.90 <= hits / reps <= 0.98, (name, hits / reps)


def test_dr_is_exact_with_a_perfect_model_and_dm_biased_with_a_wrong_one() -> None:
    logged, target, mean = log(2000, 7, logger="eps")
    noiseless = Logged(**{**logged.__dict__, "reward": mean[np.arange(2000), logged.action]})
    truth = (target * mean).sum(axis=1).mean()
    exact = {e.estimator: e.value for e in estimate(noiseless, target, mean, boot=20)}
    assert exact["dr"] == pytest.approx(truth, abs=1e-12)
    assert exact["dm"] == pytest.approx(truth, abs=1e-12)
    wrong = np.clip(mean + 0.15, 0, 1)
    got = {e.estimator: e for e in estimate(logged, target, wrong, boot=100)}
    assert got["dm"].low > truth  # biased: its interval misses the truth
    assert got["dr"].low <= truth <= got["dr"].high  # the propensities rescue DR


def test_estimates_are_deterministic_per_seed() -> None:
    logged, target, mean = log(500, 3)
    a = estimate(logged, target, mean, boot=50, seed=11)
    assert a == estimate(logged, target, mean, boot=50, seed=11)
    assert a != estimate(logged, target, mean, boot=50, seed=12)  # the intervals move
    assert [e.estimator for e in a] == list(ESTIMATORS)


# ------------------------------------------------------------------ bad logs
PSCORE_0 = r"pscore\[1\]: 0.0; allowed: a probability in \(0, 1\]"
OUTSIDE = r"action\[1\]: 2 is outside the catalogue; allowed: 0 \(no offer\) to 1"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"pscore": np.array([0.5, 0.0, 0.2, 0.8]), "logging_dist": None}, PSCORE_0),
        ({"pscore": np.array([0.5, 1.5, 0.2, 0.8]), "logging_dist": None}, r"pscore\[1\]: 1.5;"),
        ({"action": np.array([0, 2, 1, 0])}, OUTSIDE),
        ({"reward": np.array([1.0, np.nan, 0.0, 3.0])}, r"reward\[1\]: nan; allowed: a finite"),
        ({"reward": np.array([1.0, 2.0])}, r"reward: 2 rounds; allowed: 4, as action"),
        ({"pscore": np.array([0.5, 0.4, 0.2, 0.8])}, r"pscore\[1\]: 0.4 but logging_dist gives"),
        ({"logging_dist": None, "pscore": np.array([0.5, 0.4, 0.2, 0.8])}, None),
    ],
)
def test_bad_logs_are_refused_by_name(change: dict, message: str | None) -> None:
    logged, _, _ = tiny()
    if message is None:
        Logged(**{**logged.__dict__, **change})  # no logger distribution: any pscore in (0, 1]
        return
    with pytest.raises(ValueError, match=message):
        Logged(**{**logged.__dict__, **change})


def test_bandit_feedback_round_trip_and_missing_keys() -> None:
    logged, target, q = tiny()
    feedback = logged.to_bandit_feedback()
    assert set(feedback) >= {"n_rounds", "n_actions", "action", "position", "reward", "pscore",
                             "context", "action_context"}  # fmt: skip
    again = Logged.from_bandit_feedback(feedback)
    assert estimate(again, target, q, boot=20) == estimate(logged, target, q, boot=20)
    del feedback["pscore"]
    with pytest.raises(ValueError, match=r"bandit_feedback: missing pscore; allowed: a dict with"):
        Logged.from_bandit_feedback(feedback)


def test_no_overlap_and_bad_targets_are_refused_before_work() -> None:
    logged, _, q = tiny()
    never = np.tile([1.0, 0.0], (4, 1))
    never[1] = never[2] = [1.0, 0.0]  # the target takes action 0; the log took 1 there ...
    only_unlogged = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match=r"target: gives probability 0 to every action the log"):
        estimate(logged, only_unlogged, q)
    with pytest.raises(ValueError, match=r"target\[0\]: sums to 0.5; allowed: rows summing to 1"):
        estimate(logged, np.tile([0.25, 0.25], (4, 1)), q)
    with pytest.raises(ValueError, match=r"reward_model: none given"):
        estimate(logged, np.tile([0.0, 1.0], (4, 1)), None, ("dr",))
    with pytest.raises(ValueError, match=r"estimators: 'magic'; allowed: dm, ips"):
        estimate(logged, np.tile([0.0, 1.0], (4, 1)), q, ("magic",))
    assert estimate(logged, np.tile([0.0, 1.0], (4, 1)), None, ("ips", "snips"), boot=20)


def test_a_customers_repeated_decisions_are_resampled_together() -> None:
    """Each decision copied ten times as one customer's (ten decisions, one outcome): the
    plain bootstrap counts them as ten independent rounds and its interval shrinks by about
    sqrt(10); resampled by customer, the interval is the one-decision log's (within 20%);
    the point estimates do not change."""
    logged, target, mean = log(2000, 7)
    q = np.clip(mean + 0.05, 0, 1)
    copies = Logged(
        action=np.repeat(logged.action, 10),
        reward=np.repeat(logged.reward, 10),
        pscore=np.repeat(logged.pscore, 10),
        context=np.repeat(logged.context, 10, axis=0),
        n_actions=logged.n_actions,
    )
    customers = np.repeat(np.arange(logged.n_rounds), 10)
    wide = {"ips", "snips", "dr", "sndr"}
    one = estimate(logged, target, q, tuple(wide), boot=200, seed=1)
    plain = estimate(copies, np.repeat(target, 10, 0), np.repeat(q, 10, 0), tuple(wide), boot=200)
    grouped = estimate(
        copies, np.repeat(target, 10, 0), np.repeat(q, 10, 0), tuple(wide), boot=200,
        groups=customers,
    )  # fmt: skip
    for a, b, c in zip(one, plain, grouped, strict=True):
        assert a.value == pytest.approx(b.value) == pytest.approx(c.value)
        width = a.high - a.low
        assert (c.high - c.low) == pytest.approx(width, rel=0.2), a.estimator
        assert (b.high - b.low) < 0.5 * width, a.estimator
