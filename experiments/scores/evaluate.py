"""Churn scores against the simulator's truth, beside the baselines a company already has.

Fitted on one simulated population and measured on another (independent seeds, the same
scenario), so every figure is out of sample:

* risk (``lapse_30``, ``lapse_90``, ``cancel_90``): AUC, Brier score and a calibration curve
  (ten bins of equal count: mean predicted against share that happened), each for the
  model and two baselines. *Recency*: the share of training customers with the same whole
  weeks since their last session who went on to lapse or cancel (an empirical rule, so it
  has a Brier score too). *BG/NBD*: ``1 - P(alive)`` (``sim.calibration.bgnbd``) fitted on
  the training customers' sessions (repeat sessions x, the last at t_x, over the T weeks of
  history the company holds; a customer's first session in that history is taken as its
  start, as the model wants a birth).
* reason: accuracy, recall per pain point (of the customers with it, the share named it)
  and precision per pain point (of the customers named it, the share with it) of the
  likeliest predicted pain point, beside the exit survey alone (its answer where there is
  one, else the training customers' commonest pain point).
* value: R^2 and Spearman rank correlation of the 12-month margin, and the share of all
  margin held by the top tenth as predicted, beside a run rate (money paid so far per day
  of history x 365).

All figures are one row each of a tidy table (``score``, ``method``, ``metric``,
``value``, ``customers``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from agents.scores import RISKS, ChurnScores, Customers
from sim.calibration.bgnbd import fit_bgnbd
from sim.constants import PAIN_POINTS

BINS = 10
METHODS = ("model", "recency", "bgnbd")  # risk methods, in report order
WEEK = 7.0


@dataclass(frozen=True)
class Evaluation:
    """The tidy figures and the calibration curves (``score``, ``method``, ``bin``,
    ``predicted``, ``observed``, ``customers``)."""

    metrics: pd.DataFrame
    curves: pd.DataFrame

    def figure(self, score: str, method: str, metric: str) -> float:
        m = self.metrics
        row = m[(m.score == score) & (m.method == method) & (m.metric == metric)]
        return float(row.value.iloc[0]) if len(row) else float("nan")


def evaluate(model: ChurnScores, train: Customers, test: Customers) -> Evaluation:
    """Every figure of the module docstring for ``model`` on ``test``."""
    predicted = model.predict(test.x, test.names)
    rows: list[dict] = []
    curves: list[pd.DataFrame] = []
    alive = bgnbd_risk(train, test)
    for name in RISKS:
        if name not in test.labels:
            continue
        y = test.labels[name]
        at_risk = ~np.isnan(y)
        methods = {
            "model": predicted[f"p_{name}"],
            "recency": recency_risk(train, test, name),
            "bgnbd": alive,
        }
        for method, p in methods.items():
            rows += _risk_rows(name, method, y[at_risk], p[at_risk])
            curves.append(_curve(name, method, y[at_risk], p[at_risk]))
    rows += _reason_rows("model", test.labels["reason"], predicted["reason"])
    rows += _reason_rows("survey", test.labels["reason"], survey_reason(train, test))
    rows += _value_rows("model", test.labels["value"], predicted["value_12m"])
    rows += _value_rows("run_rate", test.labels["value"], run_rate_value(test))
    return Evaluation(pd.DataFrame(rows), pd.concat(curves, ignore_index=True))


# ----------------------------------------------------------------------- baselines
def recency_risk(train: Customers, test: Customers, name: str) -> np.ndarray:
    """Each test customer's risk as the share of training customers at risk with the same
    whole weeks since their last session who went on to ``name`` (weeks beyond the training
    customers' last pooled into it; a week with none: the overall share)."""
    y = train.labels[name]
    rows = ~np.isnan(y)
    weeks = np.floor(train.raw["days_since_activity"][rows] / WEEK).astype(np.int64)
    top = int(weeks.max()) if weeks.size else 0
    count = np.bincount(weeks, minlength=top + 1).astype(np.float64)
    hits = np.bincount(weeks, weights=y[rows], minlength=top + 1)
    overall = float(y[rows].mean()) if rows.any() else 0.0
    share = np.where(count > 0, hits / np.maximum(count, 1.0), overall)
    at = np.clip(np.floor(test.raw["days_since_activity"] / WEEK).astype(np.int64), 0, top)
    return share[at]


def bgnbd_inputs(c: Customers) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T) in weeks: repeat sessions, the last one's time and the history since the
    first, from the sessions and the days of history (see the module docstring)."""
    sessions = c.raw["sessions"]
    history = c.raw["history_days"]
    last = np.clip(history - c.raw["days_since_activity"], 0.0, history)
    x = np.maximum(sessions - 1.0, 0.0)
    return x, last / WEEK, history / WEEK


def bgnbd_risk(train: Customers, test: Customers) -> np.ndarray:
    """``1 - P(alive)`` of each test customer under BG/NBD fitted on the training ones
    (NaN everywhere when the fit does not converge: its status says why)."""
    fit = fit_bgnbd(*bgnbd_inputs(train))
    if not fit.status.ok:
        return np.full(test.n, np.nan)
    return 1.0 - fit.model.p_alive(*bgnbd_inputs(test))


def survey_reason(train: Customers, test: Customers) -> np.ndarray:
    """The exit survey's answer where there is one, else the training customers' commonest
    pain point."""
    common = int(np.bincount(train.labels["reason"], minlength=len(PAIN_POINTS)).argmax())
    answer = test.raw["survey"]
    return np.where(answer >= 0, answer, common)


def run_rate_value(test: Customers) -> np.ndarray:
    """Money paid so far per day of history, times 365 (0 with no history)."""
    days = test.raw["history_days"]
    return np.where(days > 0, test.raw["revenue_to_date"] / np.maximum(days, 1.0) * 365.0, 0.0)


# ----------------------------------------------------------------------- figures
def _row(score: str, method: str, metric: str, value: float, n: int) -> dict:
    return {"score": score, "method": method, "metric": metric, "value": value, "customers": n}


def _risk_rows(name: str, method: str, y: np.ndarray, p: np.ndarray) -> list[dict]:
    from sklearn.metrics import brier_score_loss, roc_auc_score

    n = int(y.size)
    ok = np.isfinite(p).all() and np.unique(y).size == 2
    return [
        _row(name, method, "auc", float(roc_auc_score(y, p)) if ok else np.nan, n),
        _row(name, method, "brier", float(brier_score_loss(y, p)) if ok else np.nan, n),
        _row(name, method, "share", float(y.mean()) if n else np.nan, n),
    ]


def _curve(name: str, method: str, y: np.ndarray, p: np.ndarray) -> pd.DataFrame:
    """Ten bins of equal count by predicted risk: mean predicted and share observed."""
    if not np.isfinite(p).all() or y.size == 0:
        return pd.DataFrame()
    order = np.argsort(p, kind="stable")
    parts = np.array_split(order, BINS)
    return pd.DataFrame(
        {
            "score": name,
            "method": method,
            "bin": range(len(parts)),
            "predicted": [float(p[b].mean()) for b in parts],
            "observed": [float(y[b].mean()) for b in parts],
            "customers": [int(b.size) for b in parts],
        }
    )


def _reason_rows(method: str, truth: np.ndarray, guess: np.ndarray) -> Iterator[dict]:
    n = int(truth.size)
    yield _row("reason", method, "accuracy", float((truth == guess).mean()), n)
    for k, pain in enumerate(PAIN_POINTS):
        mine = truth == k
        recall = float((guess[mine] == k).mean()) if mine.any() else np.nan
        yield _row("reason", method, f"recall_{pain}", recall, int(mine.sum()))
    for k, pain in enumerate(PAIN_POINTS):
        named = guess == k
        precision = float((truth[named] == k).mean()) if named.any() else np.nan
        yield _row("reason", method, f"precision_{pain}", precision, int(named.sum()))


def _value_rows(method: str, truth: np.ndarray, guess: np.ndarray) -> list[dict]:
    from scipy.stats import spearmanr

    n = int(truth.size)
    r2 = 1.0 - float(((truth - guess) ** 2).sum()) / float(((truth - truth.mean()) ** 2).sum())
    top = np.argsort(-guess, kind="stable")[: max(n // 10, 1)]
    captured = float(truth[top].sum() / truth.sum()) if truth.sum() else np.nan
    return [
        _row("value", method, "r2", r2, n),
        _row("value", method, "spearman", float(spearmanr(truth, guess).statistic), n),
        _row("value", method, "top_tenth_share", captured, n),
    ]
