"""``winback tune``: hyperparameter tuning with Optuna over the benchmark, resumable.

Why not Hydra's Optuna sweeper plugin: it pins ``optuna<3`` (Optuna 2.10), whose SQLite
storage fails under SQLAlchemy 2 unless that is pinned back too. Current Optuna is driven
directly instead: each trial composes the benchmark config with Hydra's compose API (the
user's overrides + the trial's sampled values), runs it, and reports the tuned agent's mean
incremental profit.

The rules:

* The study lives in an RDB storage (SQLite by default). Run the same command again and it
  resumes: finished trials are kept, a trial cut off mid-run is marked failed and its
  parameters are tried again. One ``winback tune`` process at a time per study (a lock
  beside the SQLite file): a second one is refused, never left to fail the first's trials.
* A study remembers the settings it was started with (the composed config without
  ``tune.trials`` and the re-scoring keys); resuming it with other settings is refused, since
  its trials would then answer different questions.
* A study's best score is the best of many noisy tries, so it flatters. Before naming a
  winner the best ``rescore_top`` trials and the config's own defaults are run again on
  ``rescore_seeds`` (fresh seeds, apart from the tuning seeds), paired on the same seeds.
  The report says when the best cannot be told apart from the runner-up, and when no
  candidate beats doing nothing.
The ``tune`` node and its checks: ``experiments.config.tune``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.config.tune import RESUMABLE, SQLITE, Param, TuneConfig, tune_setup
from experiments.files import check_writable, exclusive, write_json, write_table
from experiments.reporting.plots import plot_tune_history


# ------------------------------------------------------------------ the study
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


@contextmanager
def study_lock(cfg: TuneConfig, out: Path) -> Iterator[None]:
    """Hold the study for this process; a second ``winback tune`` on it is refused."""
    if cfg.storage.startswith(SQLITE):
        path = Path(cfg.storage.removeprefix(SQLITE) + ".lock")
    else:
        path = out / f".{cfg.study}.lock"
    refused = (
        f"tune.study: {cfg.study!r} in {cfg.storage!r} is in use by another winback tune "
        "process; allowed: wait for it, or another tune.study or tune.storage"
    )
    with exclusive(path, refused):
        try:
            yield
        finally:
            path.unlink(missing_ok=True)


def fixed_settings(composed: Any) -> dict[str, Any]:
    """What a trial's answer depends on besides its sampled values: the composed config
    less the keys a resumed study may change."""
    from omegaconf import OmegaConf

    kept = OmegaConf.masked_copy(composed, [k for k in composed if k != "hydra"])
    plain: Any = OmegaConf.to_container(kept, resolve=True)
    plain["tune"] = {k: v for k, v in (plain.get("tune") or {}).items() if k not in RESUMABLE}
    return plain


def _differences(old: Any, new: Any, where: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(set(old) | set(new))
        return [d for k in keys for d in _differences(old.get(k), new.get(k), f"{where}.{k}")]
    return [] if old == new else [f"{where.lstrip('.')}: {old!r} -> {new!r}"]


def open_study(cfg: TuneConfig, fixed: dict[str, Any]) -> Any:
    """Create or resume the study (refused when its fixed settings differ); trials cut off
    mid-run are failed and queued again."""
    import optuna
    from optuna.trial import TrialState

    if cfg.storage.startswith(SQLITE):
        Path(cfg.storage.removeprefix(SQLITE)).parent.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(
        study_name=cfg.study, storage=cfg.storage, direction="maximize", load_if_exists=True
    )
    started = study.user_attrs.get("fixed_settings")
    if started is None:
        study.set_user_attr("fixed_settings", fixed)
    elif started != json.loads(json.dumps(fixed)):
        changed = _differences(started, json.loads(json.dumps(fixed)))
        raise ValueError(
            f"tune.study: {cfg.study!r} was started with other settings ("
            + "; ".join(changed[:5])
            + (f"; {len(changed) - 5} more" if len(changed) > 5 else "")
            + "); allowed: the same settings (only tune.trials and the re-scoring may "
            "change), or a new tune.study name"
        )
    # a resumed study must not replay the first session's draws: seed by trials so far
    seen = len(study.get_trials(deepcopy=False))
    study.sampler = optuna.samplers.TPESampler(seed=cfg.sampler_seed + 7919 * seen)
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(t.number, state=TrialState.FAIL)  # we hold the lock: nobody runs it
        study.enqueue_trial(t.params)
    return study


# ------------------------------------------------------------------ running
def run_config(
    overrides: list[str], folder: Path, trusted: tuple[str, ...], agent: str | None = None
) -> dict[str, Any]:
    """Run the benchmark composed from ``overrides`` into ``folder`` (only ``agent`` and the
    control when given); returns its summary."""
    from experiments.config.compose import compose
    from experiments.config.hydra_apps import benchmark_config
    from experiments.jobs import benchmark

    typed = benchmark_config(compose("benchmark", overrides), folder, trusted)
    if agent is not None:
        typed = replace(typed, agents={agent: typed.agents[agent]})
    return benchmark.run(typed)


def run_tuning(overrides: list[str], out: Path, trusted: tuple[str, ...] = ()) -> pd.DataFrame:
    """Run the study until it has ``tune.trials`` complete trials, re-score the best on
    fresh seeds and name a winner; returns the trials table. ``trusted``: modules whose
    ``_target_`` the config may name (``--trust``)."""
    from experiments.config.compose import compose
    from experiments.config.hydra_apps import benchmark_config

    base = compose("benchmark", overrides)
    cfg = tune_setup(base)
    benchmark_config(base, out, trusted)  # the untouched config is valid before any trial
    check_writable(out, "--out")
    with study_lock(cfg, out):
        study = open_study(cfg, fixed_settings(base))
        optimise(study, cfg, overrides, out, trusted)
        table = study.trials_dataframe()
        write_table(table, out / "trials.csv")
        verdict = rescore(study, cfg, overrides, out, trusted)
        best = {"value": study.best_value, "params": study.best_params, "trials": len(table)}
        write_json(out / "best.json", {**best, **verdict})
        plot_tune_history(table, out / "history.png")
    for line in verdict["verdict"]:
        print(line)
    return table


def optimise(
    study: Any, cfg: TuneConfig, overrides: list[str], out: Path, trusted: tuple[str, ...]
) -> None:
    """Trials until the study has ``cfg.trials`` complete ones, with a progress bar."""
    import optuna
    from optuna.trial import TrialState
    from tqdm import tqdm

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    if done >= cfg.trials:
        return
    bar = tqdm(total=cfg.trials, initial=done, desc=f"tuning {cfg.agent}", unit="trial")

    def objective(trial: Any) -> float:
        values = sample(trial, cfg.space)
        trial_overrides = [*overrides, "++progress=false", *_sets(values)]
        result = run_config(trial_overrides, out / f"trial_{trial.number:04d}", trusted)
        score = float(result["agents"][cfg.agent]["incremental_profit"]["mean"])
        bar.write(f"trial {trial.number}: {json.dumps(values)} -> {score:+,.1f}")
        return score

    def advance(study: Any, trial: Any) -> None:
        bar.update(1)
        bar.set_postfix_str(f"best {study.best_value:+,.0f}")

    try:
        study.optimize(objective, n_trials=cfg.trials - done, callbacks=[advance])
    finally:
        bar.close()


def _sets(values: dict[str, Any]) -> list[str]:
    return [f"++{k}={v}" for k, v in values.items()]


# ------------------------------------------------------------------ re-scoring
def rescore(
    study: Any, cfg: TuneConfig, overrides: list[str], out: Path, trusted: tuple[str, ...]
) -> dict[str, Any]:
    """The best trials and the defaults on fresh seeds, paired; the winner and a verdict."""
    from optuna.trial import TrialState

    if cfg.rescore_top == 0:
        best = study.best_trial
        return {"winner": f"trial {best.number}", "verdict": ["Not re-scored (rescore_top=0)."]}
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    top = sorted(done, key=lambda t: -t.value)[: cfg.rescore_top]
    seeds = "seeds=[" + ",".join(str(s) for s in cfg.rescore_seeds) + "]"
    candidates = {f"trial {t.number}": _sets(_values(t, cfg)) for t in top}
    candidates["defaults"] = []
    rows = []
    for name, sets in candidates.items():
        folder = out / "rescore" / name.replace(" ", "_")
        run_config([*overrides, "++progress=false", seeds, *sets], folder, trusted, cfg.agent)
        tidy = pd.read_parquet(folder / "tidy.parquet")
        kept = tidy[(tidy.agent == cfg.agent) & (tidy.metric == "incremental_profit")]
        rows += [{"candidate": name, "seed": s, "incremental_profit": v} for s, v in
                 zip(kept.seed, kept.value, strict=True)]  # fmt: skip
    table = pd.DataFrame(rows)
    write_table(table, out / "rescore.csv")
    return judge(table, {f"trial {t.number}": t.value for t in top})


def _values(trial: Any, cfg: TuneConfig) -> dict[str, Any]:
    return {p.key: trial.params[p.name] for p in cfg.space}


def judge(table: pd.DataFrame, tuned: dict[str, float]) -> dict[str, Any]:
    """Name the best candidate on fresh seeds and say how sure that is, in plain words."""
    from agents.evaluate import t_interval

    wide = table.pivot(index="seed", columns="candidate", values="incremental_profit")
    scores = {c: t_interval(wide[c].to_numpy()) for c in wide.columns}
    order = sorted(scores, key=lambda c: -scores[c]["mean"])
    winner = order[0]
    lines = [
        f"On {len(wide)} fresh seeds: "
        + "; ".join(f"{c} {_ci(scores[c])}" + _tuned(tuned.get(c)) for c in order)
        + "."
    ]
    pays = scores[winner]["ci_low"] > 0
    if scores[winner]["ci_high"] < 0:
        lines.append(
            "All of them lose money against doing nothing (every 95% interval is below zero): "
            "keep sending nothing, or widen the search."
        )
    elif not pays:
        lines.append(
            f"None of them is clearly better than doing nothing: the best, {winner}, has a 95% "
            "interval that reaches zero. Keep sending nothing, or widen the search."
        )
    if len(order) > 1 and pays:
        runner = order[1]
        gap = t_interval((wide[winner] - wide[runner]).to_numpy())
        if gap["ci_low"] > 0:
            lines.append(f"Winner: {winner}, ahead of {runner} by {_ci(gap)} (paired).")
        else:
            lines.append(
                f"{winner} and {runner} cannot be told apart on these seeds (difference "
                f"{_ci(gap)}): either will do; more rescore_seeds would separate them."
            )
    return {
        "winner": winner,
        "fresh_seeds": {c: scores[c] for c in order},
        "verdict": lines,
    }


def _ci(s: dict[str, float]) -> str:
    if s["ci_low"] != s["ci_low"]:  # NaN: one seed
        return f"{s['mean']:+,.0f} (one seed: no interval)"
    return f"{s['mean']:+,.0f} ({s['ci_low']:+,.0f} to {s['ci_high']:+,.0f})"


def _tuned(value: float | None) -> str:
    return "" if value is None else f" [in tuning {value:+,.0f}]"
