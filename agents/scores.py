"""Churn scores from observable behaviour: who is about to leave, why, and what they are worth.

Five gradient-boosted models (scikit-learn's ``HistGradientBoosting*``) read the customer
features of the observation (:func:`score_features`: everything an agent sees but the
per-offer columns and the episode's progress), so a model fitted for one catalogue scores
customers under any other:

=============  ======================================================================
``lapse_30``   P(a customer seen active now is seen inactive or cancelled 30 days on)
``lapse_90``   the same 90 days on
``cancel_90``  P(a customer not cancelled now has cancelled 90 days on) (subscriptions)
``reason``     P(each pain point: price, content, discovery, technical, none)
``value``      expected margin over the next 12 months with no offers (revenue less costs)
=============  ======================================================================

"Seen active" is the company's own flag (a session within ``inactive_after_days``). Each
model learns from simulated customers whose futures and pain points the simulator knows
(:func:`simulate_customers`: a population run to ``cut_day``, its features then, and what
happened next with no offers); a risk label is NaN where it does not apply (lapse for a
customer already inactive, cancel for one already cancelled) and those customers are left out
of that model. Missing features (a company log without signal rows) are NaN, which the models
take as missing, not as zero: each learns from a copy of a fifth of its customers
(``BLIND_SHARE``) with their signal features blanked, so a log without signals is scored from
the rest of what it shows (without it, a tree would send every missing value down its larger
branch: the reason model then did worse than the exit survey alone).

A fitted :class:`ChurnScores` is saved with skops (no pickle: only the models' own types are
trusted on load) together with its feature names; it refuses features that do not include
every one it was fitted on, naming the missing ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from sim.constants import ACTIVE, CHURNED, PAIN_POINTS
from sim.observe import observed_status
from sim.scenario import Scenario
from sim.signals import SIGNAL_COLUMNS
from sim.simulation import Simulation

RAW = ("days_since_activity", "sessions", "history_days", "revenue_to_date", "survey")
"""What the baselines read, in raw units: days since the last session, sessions and days of
history the company holds (from the later of sign-up and the log's opening), money paid in
that history, and the exit-survey answer (index into ``PAIN_POINTS``, -1: none)."""
RISKS = {"lapse_30": 30, "lapse_90": 90, "cancel_90": 90}
"""Risk scores and the days ahead each looks."""
VALUE_DAYS = 365
CUT_DAY = 91  # the simulated customers' day of scoring: 13 weeks into the run (sessions ring)
LEFT_OUT_PREFIXES = ("last_offer_", "ever_sent_", "ever_opened_")
KEPT = ("last_offer_opened", "last_offer_ignored")  # per-customer, despite the prefix
LEFT_OUT = ("episode_progress",)
BLIND_SHARE = 0.2
LEARNING_RATE, LEAVES = 0.3, 15  # against scikit-learn's 0.1 and 31: a third of the trees to
# walk when scoring (a million customers in seconds), at the same accuracy within 0.003
# (40,000 customers: lapse_30 AUC 0.815 vs 0.818, reason accuracy 0.546 vs 0.549)
TRUSTED = ("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",)
"""The only types a model file may hold beyond skops's own safe ones."""
FORMAT = 1


def score_features(names: list[str]) -> list[str]:
    """The observation's features the scores read: all but the per-offer columns and
    ``episode_progress``, in the observation's order."""
    return [
        n for n in names if n not in LEFT_OUT and (n in KEPT or not n.startswith(LEFT_OUT_PREFIXES))
    ]


@dataclass
class Customers:
    """Customers on one day: their score features and observed status, and, for simulated
    customers, what the scores predict (``labels``: ``lapse_30``, ``lapse_90``,
    ``cancel_90`` as 0/1 with NaN where a risk does not apply, ``reason`` the pain point's
    index, ``value`` the next 12 months' margin)."""

    names: list[str]
    x: np.ndarray  # float32 (customers, features)
    status: np.ndarray  # uint8 observed status: 0 active, 1 inactive, 2 cancelled
    subscription: bool
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    raw: dict[str, np.ndarray] = field(default_factory=dict)  # the baselines' inputs (RAW)
    ids: np.ndarray | None = None  # a company's customer ids (None: 0, 1, ... simulated)

    @property
    def n(self) -> int:
        return int(self.x.shape[0])


def simulate_customers(
    scenario: Scenario, n_users: int, seed: int, cut_day: int = CUT_DAY
) -> Customers:
    """``n_users`` customers of ``scenario`` on ``cut_day`` of a run with no offers, and
    their next 12 months (the run's horizon is set to ``cut_day + VALUE_DAYS``)."""
    sc = replace(scenario, n_users=n_users, horizon_days=cut_day + VALUE_DAYS)
    sim = Simulation(sc, seed=seed)
    sim.run_until(cut_day)
    names, x = features_of(sim)
    seen = sim.observe()
    raw = {
        "days_since_activity": seen["days_since_activity"].astype(np.float64),
        "sessions": seen["total_sessions"].astype(np.float64),
        "history_days": np.minimum(seen["tenure_days"], cut_day + sc.warmup_days).astype(
            np.float64
        ),
        "revenue_to_date": seen["revenue_to_date"].astype(np.float64),
        "survey": seen["survey_reason"].astype(np.int64),
    }
    status = observed_status(sim.pop, slice(None), cut_day, sc)
    money0 = _profit(sim)
    later = {}
    for days in sorted(set(RISKS.values())):
        sim.run_until(cut_day + days)
        later[days] = observed_status(sim.pop, slice(None), cut_day + days, sc)
    sim.run_until(cut_day + VALUE_DAYS)
    labels: dict[str, np.ndarray] = {}
    for name, days in RISKS.items():
        if name.startswith("lapse"):
            labels[name] = np.where(status == ACTIVE, (later[days] != ACTIVE).astype(float), np.nan)
        elif sc.is_subscription:
            labels[name] = np.where(
                status != CHURNED, (later[days] == CHURNED).astype(float), np.nan
            )
    labels["reason"] = sim.pop.pain.astype(np.int64)
    labels["value"] = _profit(sim) - money0
    return Customers(
        names=names,
        x=x,
        status=status.astype(np.uint8),
        subscription=sc.is_subscription,
        labels=labels,
        raw=raw,
    )


def features_of(sim: Simulation) -> tuple[list[str], np.ndarray]:
    """The score features of every customer of ``sim`` today: (names, float32 matrix)."""
    from sim.envs.observation import Encoder, observation_names

    names = observation_names(sim.scenario, sim.catalogue)
    keep = [names.index(n) for n in score_features(names)]
    x = np.ascontiguousarray(Encoder(sim.scenario, sim.catalogue)(sim, 0.0)[:, keep])
    return [names[k] for k in keep], x


def _profit(sim: Simulation) -> np.ndarray:
    money = sim.pop.money.astype(np.float64)
    return money[0] - money[1:].sum(axis=0)


@dataclass
class ChurnScores:
    """The fitted models (see the module docstring) and the features they read."""

    feature_names: list[str]
    models: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)  # how it was fitted, for reports

    def columns(self, names: list[str]) -> list[int]:
        """Where each model feature is among ``names``; a name missing is refused."""
        col = {n: i for i, n in enumerate(names)}
        missing = [n for n in self.feature_names if n not in col]
        if missing:
            extra = sorted(set(names) - set(self.feature_names))
            raise ValueError(
                f"features: {len(missing)} the scores were fitted on are missing "
                f"({', '.join(missing[:6])}{', ...' if len(missing) > 6 else ''}); "
                f"present but unknown to them: {', '.join(extra[:6]) or 'none'}. Fit the "
                "scores on a scenario with these plans, genres and signals"
            )
        return [col[n] for n in self.feature_names]

    def predict(self, x: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
        """Every score of customers ``x`` (columns named ``names``): ``p_<risk>``,
        ``p_reason_<pain point>``, ``reason`` (the likeliest pain point's index) and
        ``value_12m``."""
        data = np.asarray(x, dtype=np.float64)[:, self.columns(names)]
        out: dict[str, np.ndarray] = {}
        for name in RISKS:
            if name in self.models:
                out[f"p_{name}"] = self.models[name].predict_proba(data)[:, 1]
        proba = self.models["reason"].predict_proba(data)
        full = np.zeros((data.shape[0], len(PAIN_POINTS)))
        full[:, self.models["reason"].classes_.astype(np.int64)] = proba
        for k, pain in enumerate(PAIN_POINTS):
            out[f"p_reason_{pain}"] = full[:, k]
        out["reason"] = full.argmax(axis=1)
        out["value_12m"] = self.models["value"].predict(data)
        return out

    def predict_reason(self, x: np.ndarray, names: list[str]) -> np.ndarray:
        """The likeliest pain point of customers ``x`` (index into ``PAIN_POINTS``): the
        reason model alone."""
        model = self.models["reason"]
        data = np.asarray(x, dtype=np.float64)[:, self.columns(names)]
        if data.shape[0] == 0:
            return np.zeros(0, dtype=np.int64)
        return model.classes_.astype(np.int64)[model.predict_proba(data).argmax(axis=1)]

    def save(self, path: str | Path) -> None:
        import skops.io as sio

        meta = {"format": FORMAT, "feature_names": self.feature_names, "info": self.info}
        sio.dump({"meta": json.dumps(meta), "models": self.models}, Path(path))

    @classmethod
    def load(cls, path: str | Path) -> ChurnScores:
        """A model file written by :meth:`save`; any type beyond the models' own is
        refused before anything is built."""
        import skops.io as sio

        path = Path(path)
        if not path.is_file():
            raise ValueError(f"scores: {str(path)!r} is not a file; expected a .skops file")
        try:
            unknown = sorted(set(sio.get_untrusted_types(file=path)) - set(TRUSTED))
        except Exception as err:  # not a zip, or not skops's layout
            raise ValueError(f"scores: {str(path)!r} is not a scores file ({err})") from None
        if unknown:
            raise ValueError(
                f"scores: {str(path)!r} holds types a scores file never does: {unknown}"
            )
        data = sio.load(path, trusted=list(TRUSTED))
        try:
            meta, models = json.loads(data["meta"]), dict(data["models"])
            if not isinstance(meta, dict):
                raise TypeError(f"its meta is a {type(meta).__name__}")
        except (TypeError, KeyError, IndexError, ValueError) as err:  # another object
            raise ValueError(
                f"scores: {str(path)!r} is a skops file but not a scores file ({err}); "
                "allowed: the scores.skops that winback score writes"
            ) from None
        if meta.get("format") != FORMAT:
            raise ValueError(
                f"scores: {str(path)!r} has format {meta.get('format')!r}; this version "
                f"reads format {FORMAT}"
            )
        return cls(meta["feature_names"], models, meta.get("info", {}))


REASON_SOURCES = ("survey", "predicted", "both")
"""Where a policy reads a customer's reason: the exit survey's answer, the reason model's
likeliest pain point, or the survey's answer where there is one, else the prediction."""


def reasons_of(
    obs: np.ndarray,
    names: list[str],
    source: str,
    model: ChurnScores | None,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Each customer's reason by ``source`` (:data:`REASON_SOURCES`): an index into
    ``PAIN_POINTS``, ``len(PAIN_POINTS)`` where none is known (no survey answer); the
    prediction is made for ``rows`` only (all when None)."""
    col = {n: i for i, n in enumerate(names)}
    answers = obs[:, [col[f"survey_{p}"] for p in PAIN_POINTS]]
    reason = np.where(answers.max(axis=1) > 0.5, answers.argmax(axis=1), len(PAIN_POINTS))
    if source == "survey":
        return reason
    if model is None:
        raise ValueError(
            f"reasons: {source!r} needs the churn scores (agents.scores); build the policy "
            "with its factory (scored_playbook, make_bandit with reasons), or reasons: survey"
        )
    ask = np.ones(obs.shape[0], dtype=bool) if rows is None else rows.copy()
    if source == "both":
        ask &= reason == len(PAIN_POINTS)
    if ask.any():
        reason[ask] = model.predict_reason(obs[ask], names)
    return reason


def fit_reason(scenario: Scenario, train_users: int, seed: int) -> ChurnScores:
    """The reason model alone, fitted on ``train_users`` simulated customers of
    ``scenario`` (what a policy targeting by reason needs)."""
    from sim.validation import check_int

    check_int("train_users", train_users, 1_000, 10_000_000)
    return fit_scores(simulate_customers(scenario, train_users, seed), seed=seed, only=("reason",))


def fit_scores(
    train: Customers, seed: int = 0, max_iter: int = 300, only: tuple[str, ...] | None = None
) -> ChurnScores:
    """Each model of the module docstring (or those named in ``only``) fitted on ``train``
    (risks on the customers they apply to); early stopping on a tenth held out, with
    ``seed``'s random state. One OpenMP thread: on a machine busy with other work,
    scikit-learn's threads wait on each other far longer than they save (a newcomer's run
    took 87 s against 8 s with one)."""
    from threadpoolctl import threadpool_limits

    common = {
        "max_iter": max_iter,
        "learning_rate": LEARNING_RATE,
        "max_leaf_nodes": LEAVES,
        "early_stopping": True,
        "validation_fraction": 0.1,
        "n_iter_no_change": 10,
        "random_state": seed,
    }
    wanted = set(only) if only is not None else {*RISKS, "reason", "value"}
    with threadpool_limits(1):  # OpenMP threads on a busy machine cost far more than they save
        models = _fitted(with_blind_copies(train, seed), wanted, common)
    info = {"customers": train.n, "seed": seed, "max_iter": max_iter}
    return ChurnScores(list(train.names), models, info)


def _fitted(train: Customers, wanted: set[str], common: dict[str, Any]) -> dict[str, Any]:
    """The models of :func:`fit_scores`, by name."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    models: dict[str, Any] = {}
    for name in RISKS:
        if name not in train.labels or name not in wanted:
            continue
        y = train.labels[name]
        rows = ~np.isnan(y)
        if np.unique(y[rows]).size < 2:
            raise ValueError(
                f"train: every customer at risk has {name} = {y[rows][:1]}; the model needs both"
            )
        models[name] = HistGradientBoostingClassifier(**common).fit(train.x[rows], y[rows])
    if "reason" in wanted:
        y = train.labels["reason"]
        models["reason"] = HistGradientBoostingClassifier(**common).fit(train.x, y)
    if "value" in wanted:
        y = train.labels["value"]
        models["value"] = HistGradientBoostingRegressor(**common).fit(train.x, y)
    return models


def with_blind_copies(train: Customers, seed: int) -> Customers:
    """``train`` and a copy of ``BLIND_SHARE`` of its customers (drawn with ``seed``) whose
    signal features are NaN, as a log without signal rows shows them."""
    signals = [k for k, n in enumerate(train.names) if n in SIGNAL_COLUMNS]
    rows = np.random.default_rng(seed).random(train.n) < BLIND_SHARE
    if not signals or not rows.any():
        return train
    blind = train.x[rows].copy()
    blind[:, signals] = np.nan
    return replace(
        train,
        x=np.concatenate([train.x, blind]),
        status=np.concatenate([train.status, train.status[rows]]),
        labels={k: np.concatenate([v, v[rows]]) for k, v in train.labels.items()},
        raw={},
    )


TRAIN_USERS = 50_000


def scored_playbook(
    *,
    scenario: Scenario,
    train_users: int = TRAIN_USERS,
    seed: int = 0,
    reasons: str = "both",
    name: str = "playbook_scored",
    price: str = "discount_30",
    content_churned: str = "free_trial_30",
    content: str = "new_release_push",
    discovery: str = "recommendations",
    technical: str = "support_call",
    default: str = "reminder_email",
    min_recency_days: float = 28.0,
) -> Any:
    """The playbook targeting by reason from behaviour (``reasons``: ``predicted`` or
    ``both``, see ``agents.reference.Playbook``, whose rule book the other keywords are):
    the reason model fitted on ``train_users`` simulated customers of ``scenario``."""
    from agents.reference import Playbook

    policy = Playbook(
        reasons=reasons,
        name=name,
        price=price,
        content_churned=content_churned,
        content=content,
        discovery=discovery,
        technical=technical,
        default=default,
        min_recency_days=min_recency_days,
    )
    policy.reason_model = fit_reason(scenario, train_users, seed)
    return policy
