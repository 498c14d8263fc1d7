"""``winback tune``: hyperparameter tuning with Optuna over the benchmark, resumable.

Why not Hydra's Optuna sweeper plugin: it pins ``optuna<3`` (Optuna 2.10), whose SQLite
storage fails under SQLAlchemy 2 unless that is pinned back too. Current Optuna is driven
directly instead: each trial composes the benchmark config with Hydra's compose API (the
user's overrides + the trial's sampled values), runs it, and reports the tuned agent's mean
incremental profit. The study lives in an RDB storage (SQLite by default), so a study that
was interrupted resumes where it stopped: finished trials are kept, a trial cut off mid-run
is marked failed and its parameters are tried again.

The search space is the ``tune`` node of the config (see ``conf/experiment/tune_*.yaml``)::

    tune:
      agent: thompson              # whose incremental profit is maximised
      trials: 12                   # complete trials wanted in the study
      study: thompson
      storage: sqlite:///outputs/tune/thompson.db
      sampler_seed: 0
      space:                       # name -> {key, low, high, log?, int?} or {key, choices}
        prior_var: {key: agent.thompson.prior_var, low: 1.0, high: 1000.0, log: true}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.files import write_json, write_table
from experiments.reporting.plots import plot_tune_history
from sim.validation import check_int


@dataclass(frozen=True)
class Param:
    name: str  # the Optuna parameter
    key: str  # the config key it sets
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: tuple[Any, ...] = ()


@dataclass(frozen=True)
class TuneConfig:
    agent: str
    trials: int
    study: str
    storage: str
    sampler_seed: int
    space: tuple[Param, ...]


def tune_config(node: dict[str, Any]) -> TuneConfig:
    """The ``tune`` node -> a typed ``TuneConfig`` (clear errors, before any trial)."""
    known = {"agent", "trials", "study", "storage", "sampler_seed", "space"}
    for key in node:
        if key not in known:
            raise ValueError(f"tune.{key}: unknown key; allowed: {', '.join(sorted(known))}")
    space = node.get("space") or {}
    if not isinstance(space, dict) or not space:
        raise ValueError(f"tune.space: {space!r}; allowed: a mapping of config keys to ranges")
    params = tuple(_param(k, v) for k, v in space.items())
    storage = str(node.get("storage", "sqlite:///outputs/tune/study.db"))
    if "://" not in storage:
        raise ValueError(f"tune.storage: {storage!r}; allowed: an RDB URL like sqlite:///x.db")
    return TuneConfig(
        agent=str(node.get("agent", "")),
        trials=check_int("tune.trials", node.get("trials", 10), 1, 10_000),
        study=str(node.get("study", "study")),
        storage=storage,
        sampler_seed=check_int("tune.sampler_seed", node.get("sampler_seed", 0), 0),
        space=params,
    )


def _param(name: str, spec: Any) -> Param:
    where = f"tune.space.{name}"
    if not isinstance(spec, dict):
        raise ValueError(
            f"{where}: {spec!r}; allowed: {{key, low, high, log, int}} or {{key, choices}}"
        )
    key = spec.get("key")
    if not isinstance(key, str) or not key:
        raise ValueError(f"{where}.key: {key!r}; allowed: the config key to set, e.g. agent.x.y")
    if "choices" in spec:
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise ValueError(f"{where}.choices: {choices!r}; allowed: a non-empty list")
        return Param(name, key, choices=tuple(choices))
    low, high = spec.get("low"), spec.get("high")
    for bound, v in (("low", low), ("high", high)):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"{where}.{bound}: {v!r}; allowed: a number")
    if not low < high:  # type: ignore[operator]
        raise ValueError(f"{where}: low {low!r} >= high {high!r}; allowed: low < high")
    log = bool(spec.get("log", False))
    if log and low <= 0:  # type: ignore[operator]
        raise ValueError(f"{where}.low: {low!r}; allowed: > 0 on a log scale")
    return Param(name, key, float(low), float(high), log, bool(spec.get("int", False)))  # type: ignore[arg-type]


def sample(trial: Any, params: tuple[Param, ...]) -> dict[str, Any]:
    """Config key -> the trial's value."""
    values: dict[str, Any] = {}
    for p in params:
        if p.choices:
            values[p.key] = trial.suggest_categorical(p.name, list(p.choices))
        elif p.integer:
            values[p.key] = trial.suggest_int(p.name, int(p.low), int(p.high), log=p.log)  # type: ignore[arg-type]
        else:
            values[p.key] = trial.suggest_float(p.name, p.low, p.high, log=p.log)
    return values


def open_study(cfg: TuneConfig) -> Any:
    """Create or resume the study; trials cut off mid-run are failed and queued again."""
    import optuna
    from optuna.trial import TrialState

    if cfg.storage.startswith("sqlite:///"):
        Path(cfg.storage.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(
        study_name=cfg.study,
        storage=cfg.storage,
        direction="maximize",
        load_if_exists=True,
    )
    # a resumed study must not replay the first session's draws: seed by trials so far
    seen = len(study.get_trials(deepcopy=False))
    study.sampler = optuna.samplers.TPESampler(seed=cfg.sampler_seed + 7919 * seen)
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(t.number, state=TrialState.FAIL)
        study.enqueue_trial(t.params)
    return study


def run_tuning(overrides: list[str], out: Path, trusted: tuple[str, ...] = ()) -> pd.DataFrame:
    """Run the study until it has ``tune.trials`` complete trials; returns the trials table.
    ``trusted``: modules whose ``_target_`` the config may name (``--trust``)."""
    import optuna
    from optuna.trial import TrialState

    from experiments.config.compose import compose
    from experiments.config.hydra_apps import benchmark_config
    from experiments.jobs import benchmark

    base = compose("benchmark", overrides)
    raw: Any = base.get("tune")
    if raw is None:
        raise ValueError("tune: missing; allowed: experiment=tune_thompson or a tune node")
    from omegaconf import OmegaConf

    cfg = tune_config(OmegaConf.to_container(raw, resolve=True))  # type: ignore[arg-type]
    if cfg.agent not in base.agent:
        raise ValueError(f"tune.agent: {cfg.agent!r}; allowed: {', '.join(base.agent)}")
    benchmark_config(base, out, trusted)  # the untouched config is valid before any trial
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = open_study(cfg)

    def objective(trial: Any) -> float:
        values = sample(trial, cfg.space)
        trial_overrides = [*overrides, *(f"++{k}={v}" for k, v in values.items())]
        folder = out / f"trial_{trial.number:04d}"
        typed = benchmark_config(compose("benchmark", trial_overrides), folder, trusted)
        result = benchmark.run(typed)
        score = float(result["agents"][cfg.agent]["incremental_profit"]["mean"])
        print(f"trial {trial.number}: {json.dumps(values)} -> {score:+,.1f}", flush=True)
        return score

    done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    if done < cfg.trials:
        study.optimize(objective, n_trials=cfg.trials - done)
    table = study.trials_dataframe()
    out.mkdir(parents=True, exist_ok=True)
    write_table(table, out / "trials.csv")
    best = {"value": study.best_value, "params": study.best_params, "trials": len(table)}
    write_json(out / "best.json", best)
    plot_tune_history(table, out / "history.png")
    print(f"best {cfg.agent}: {study.best_value:+,.1f} with {study.best_params}")
    return table
