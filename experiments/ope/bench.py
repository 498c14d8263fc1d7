"""Off-policy estimators scored against the simulator's truth.

Rules: each replication is one simulated company (a seed) whose logger decides once per
lapsed customer (``log_decisions(once=True)``: a campaign design, so a round's reward holds
no later decision of the logger) with every round's truth recorded (each action's expected
reward, by look-ahead on forks of the run). A target's true value on those rounds is the mean
over them of its probabilities times the truth; each estimator's estimate and 95% interval
come from the same log, its reward model for DM/DR cross-fitted (gradient boosting from
scikit-learn on the observation and the action: a round's prediction never comes from a
model that saw it). Scored per (log size, target, estimator): bias, RMSE, error relative to
the truth, and how often the interval covers it. The truth has Monte Carlo noise of its own
(``truth_reps`` replications per round), unbiased: measured by
``experiments.evidence.ope_truth``, about 0.1% of the value at 14,000 decisions and a sixth
of doubly robust's error there (both shrink as one over the root of the decisions).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from experiments.ope.behaviour import Behaviour, log_decisions, target_distribution
from experiments.ope.estimators import ESTIMATORS, diagnostics, estimate
from experiments.ope.logged import Logged
from sim.offers import Catalogue
from sim.scenario import Scenario


def reward_model(logged: Logged, seed: int = 0, folds: int = 2) -> np.ndarray:
    """Each action's predicted reward in each round (n, actions), cross-fitted: the rounds
    split into ``folds``, each predicted by a model fitted on the others."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    n, k = logged.n_rounds, logged.n_actions
    x = np.asarray(logged.context, dtype=np.float64)
    onehot = np.eye(k)
    fold = np.random.default_rng(seed).integers(0, folds, n)
    q = np.empty((n, k))
    for f in range(folds):
        fit, out = fold != f, fold == f
        model = HistGradientBoostingRegressor(max_iter=100, random_state=seed)
        model.fit(np.hstack([x[fit], onehot[logged.action[fit]]]), logged.reward[fit])
        rows = np.flatnonzero(out)
        for a in range(k):
            features = np.hstack([x[rows], np.repeat(onehot[a : a + 1], rows.size, axis=0)])
            q[rows, a] = model.predict(features)
    return q


def true_value(logged: Logged, target: np.ndarray) -> float:
    """The target's value on the logged rounds: its probabilities times each action's
    expected reward (the simulator's truth), averaged over the rounds."""
    if logged.truth is None:
        raise ValueError("logged.truth: none; allowed: a log written with truth_reps >= 2")
    return float((target * np.nan_to_num(np.asarray(logged.truth))).sum(axis=1).mean())


def bench(
    scenario: Scenario,
    catalogue: Catalogue,
    logger: Callable[[], Behaviour],
    targets: Mapping[str, Any],
    seeds: list[int],
    truth_reps: int = 8,
    boot: int = 100,
    progress: Callable[[str], None] | None = None,
    jobs: int = 1,
) -> pd.DataFrame:
    """One row per (seed, target, estimator): the estimate, its interval, the truth, the
    log's size and the weights' health. ``jobs``: logs scored at once (processes; each
    log is the same whatever the number)."""
    from joblib import Parallel, delayed

    work = (
        delayed(replicate)(scenario, catalogue, logger, targets, seed, truth_reps, boot, jobs > 1)
        for seed in seeds
    )
    rows: list[dict[str, Any]] = []
    for seed, part in zip(seeds, Parallel(n_jobs=jobs, return_as="generator")(work), strict=True):
        rows.extend(part)
        if progress is not None:
            progress(f"seed {seed}")
    return pd.DataFrame(rows)


def replicate(
    scenario: Scenario,
    catalogue: Catalogue,
    logger: Callable[[], Behaviour],
    targets: Mapping[str, Any],
    seed: int,
    truth_reps: int,
    boot: int,
    one_thread: bool = False,
) -> list[dict[str, Any]]:
    """One simulated company's log, every target scored by every estimator (``one_thread``:
    the reward model's fit on one thread, as when logs are scored side by side)."""
    from threadpoolctl import threadpool_limits

    logged = log_decisions(logger(), scenario, catalogue, seed, once=True, truth_reps=truth_reps)
    with threadpool_limits(1 if one_thread else None):
        q = reward_model(logged, seed)
    rows = []
    for name, agent in targets.items():
        pi = target_distribution(agent, logged)
        truth = true_value(logged, pi)
        health = diagnostics(logged, pi)
        for e in estimate(logged, pi, q, ESTIMATORS, boot=boot, seed=seed):
            rows.append(
                {
                    "seed": seed,
                    "rounds": logged.n_rounds,
                    "target": name,
                    "estimator": e.estimator,
                    "estimate": e.value,
                    "low": e.low,
                    "high": e.high,
                    "truth": truth,
                    "ess_share": health.effective_sample_size / logged.n_rounds,
                    "max_weight": health.max_weight,
                }
            )
    return rows


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Per target and estimator: bias, RMSE, mean relative error and interval coverage over
    the replications, with the log's mean size and effective sample share. Two coverages:
    of the truth on each log's own customers (``coverage``), and of the population's value,
    the mean of the truths over the replications (``coverage_population``): a bootstrap
    over decisions counts how the customers vary, so its interval is for the latter."""
    t = table.assign(
        error=table.estimate - table.truth,
        covered=(table.low <= table.truth) & (table.truth <= table.high),
    )
    population = t.groupby(["target", "estimator"], sort=False).truth.transform("mean")
    t["covered_population"] = (t.low <= population) & (population <= t.high)
    t["relative"] = (t.error / t.truth.abs()).abs()
    return (
        t.groupby(["target", "estimator"], sort=False)
        .agg(
            replications=("seed", "nunique"),
            rounds=("rounds", "mean"),
            ess_share=("ess_share", "mean"),
            truth=("truth", "mean"),
            bias=("error", "mean"),
            rmse=("error", lambda e: float(np.sqrt((e**2).mean()))),
            relative_error=("relative", "mean"),
            coverage=("covered", "mean"),
            coverage_population=("covered_population", "mean"),
        )
        .reset_index()
    )
