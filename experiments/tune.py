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

The search space is the ``tune`` node of the config (see ``conf/experiment/tune_*.yaml``)::

    tune:
      agent: thompson              # whose incremental profit is maximised
      trials: 12                   # complete trials wanted in the study
      study: thompson
      storage: sqlite:///outputs/tune/thompson.db
      sampler_seed: 0
      rescore_top: 3               # best trials re-run on fresh seeds (0: none)
      rescore_seeds: [201, 202, 203, 204, 205]
      space:                       # name -> {key, low, high, log?, int?} or {key, choices}
        prior_var: {key: agent.thompson.prior_var, low: 1.0, high: 1000.0, log: true}
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from sim.validation import check_int

HELP = """\
usage: winback tune [--out DIR] [OVERRIDES ...]

Tune one agent's settings with Optuna over the benchmark; resumable (run it again).

options:
  -h, --help   show this help and exit
  --out DIR    results folder (default outputs/tune): trial_NNNN/ (one benchmark run per
               trial), trials.csv, rescore.csv, best.json, history.png

OVERRIDES are Hydra overrides of the benchmark config, with a `tune` node, e.g.
  winback tune experiment=tune_thompson
  winback tune experiment=tune_thompson tune.trials=30 scenario.users=20000

The `tune` node:
  agent           the agent whose incremental profit is maximised
  trials          complete trials wanted in the study (raise it to continue a study)
  study, storage  the study's name and its RDB URL (sqlite:///path.db)
  sampler_seed    the TPE sampler's seed
  space           name: {key: <config key>, low, high, log, int} or {key, choices: [...]}
  rescore_top     best trials re-run on fresh seeds before naming a winner (0: none)
  rescore_seeds   those fresh seeds (apart from the config's `seeds`)
"""

TUNE_KEYS = (
    "agent",
    "trials",
    "study",
    "storage",
    "sampler_seed",
    "space",
    "rescore_top",
    "rescore_seeds",
)
RESUMABLE = ("trials", "rescore_top", "rescore_seeds")
"""``tune`` keys a resumed study may change: they do not change what a trial measures."""
SQLITE = "sqlite:///"


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
    rescore_top: int = 3
    rescore_seeds: tuple[int, ...] = (201, 202, 203, 204, 205)


# ------------------------------------------------------------------ the tune node
def tune_config(node: dict[str, Any]) -> TuneConfig:
    """The ``tune`` node -> a typed ``TuneConfig`` (clear errors, before any trial)."""
    for key in node:
        if key not in TUNE_KEYS:
            raise ValueError(f"tune.{key}: unknown key; allowed: {', '.join(sorted(TUNE_KEYS))}")
    space = node.get("space") or {}
    if not isinstance(space, dict) or not space:
        raise ValueError(f"tune.space: {space!r}; allowed: a mapping of config keys to ranges")
    storage = str(node.get("storage", f"{SQLITE}outputs/tune/study.db"))
    if "://" not in storage:
        raise ValueError(f"tune.storage: {storage!r}; allowed: an RDB URL like sqlite:///x.db")
    seeds = node.get("rescore_seeds", list(TuneConfig.rescore_seeds))
    if not isinstance(seeds, list | tuple) or not seeds:
        raise ValueError(f"tune.rescore_seeds: {seeds!r}; allowed: a non-empty list of seeds")
    return TuneConfig(
        agent=str(node.get("agent", "")),
        trials=check_int("tune.trials", node.get("trials", 10), 1, 10_000),
        study=str(node.get("study", "study")),
        storage=storage,
        sampler_seed=check_int("tune.sampler_seed", node.get("sampler_seed", 0), 0),
        space=tuple(_param(k, v) for k, v in space.items()),
        rescore_top=check_int("tune.rescore_top", node.get("rescore_top", 3), 0, 100),
        rescore_seeds=tuple(check_int("tune.rescore_seeds[]", s, 0) for s in seeds),
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
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValueError(f"{where}.{bound}: {v!r}; allowed: a number")
    if not low < high:  # type: ignore[operator]
        raise ValueError(f"{where}: low {low!r} >= high {high!r}; allowed: low < high")
    log = bool(spec.get("log", False))
    if log and low <= 0:  # type: ignore[operator]
        raise ValueError(f"{where}.low: {low!r}; allowed: > 0 on a log scale")
    return Param(name, key, float(low), float(high), log, bool(spec.get("int", False)))  # type: ignore[arg-type]


def check_storage(storage: str) -> None:
    """A SQLite storage must be a database file (or not exist yet) in a writable folder;
    checked before anything is created."""
    if not storage.startswith(SQLITE):
        return  # another database: its driver reports problems when the study opens
    path = Path(storage.removeprefix(SQLITE))
    allowed = "allowed: sqlite:///<a new or SQLite file in a writable folder>"
    if path.exists():
        if not path.is_file():
            raise ValueError(f"tune.storage: {storage!r} is not a file; {allowed}")
        with path.open("rb") as f:
            head = f.read(16)
        if head and head != b"SQLite format 3\x00":
            raise ValueError(f"tune.storage: {storage!r} is not an SQLite database; {allowed}")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir() or not _can_write(folder):
        raise ValueError(f"tune.storage: {storage!r}: {str(folder)!r} is not writable; {allowed}")


def _can_write(folder: Path) -> bool:
    """Whether a file can be made in ``folder`` (tried: permission bits lie for root)."""
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def parse_args(argv: list[str]) -> tuple[Path, list[str]] | None:
    """``[--out DIR] overrides...`` -> (out, overrides); None when help was asked for."""
    out, rest = Path("outputs/tune"), list(argv)
    overrides: list[str] = []
    while rest:
        arg = rest.pop(0)
        if arg in ("-h", "--help"):
            return None
        if arg == "--out":
            if not rest:
                raise ValueError("--out: missing; allowed: --out DIR")
            out = Path(rest.pop(0))
        elif arg.startswith("-"):
            raise ValueError(
                f"tune: unknown option {arg!r}; allowed: --out DIR, --help, then Hydra "
                "overrides key=value"
            )
        else:
            overrides.append(arg)
    return out, overrides


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
    import fcntl

    if cfg.storage.startswith(SQLITE):
        path = Path(cfg.storage.removeprefix(SQLITE) + ".lock")
    else:
        path = out / f".{cfg.study}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(
                f"tune.study: {cfg.study!r} in {cfg.storage!r} is in use by another winback "
                "tune process; allowed: wait for it, or another tune.study or tune.storage"
            ) from None
        try:
            yield
        finally:
            path.unlink(missing_ok=True)
            fcntl.flock(handle, fcntl.LOCK_UN)


def fixed_settings(composed: Any) -> dict[str, Any]:
    """What a trial's answer depends on besides its sampled values: the composed config
    less the keys a resumed study may change."""
    from omegaconf import OmegaConf

    plain: Any = OmegaConf.to_container(composed, resolve=True)
    plain.pop("hydra", None)
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
def compose_benchmark(overrides: list[str]) -> Any:
    """The benchmark config with ``overrides``; Hydra's complaints as one-line errors."""
    from hydra import compose, initialize_config_module
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    import experiments.hydra_apps  # noqa: F401  (registers the structured schema)

    try:
        with initialize_config_module("conf", version_base=None):
            return compose("benchmark", overrides=overrides)
    except (HydraException, OmegaConfBaseException) as err:
        lines = [x.strip() for x in str(err).splitlines() if x.strip()][:2] or [repr(err)]
        allowed = "allowed: keys of the benchmark config"
        raise ValueError(f"overrides: {' '.join(lines)}; {allowed}") from None


def run_config(overrides: list[str], folder: Path, agent: str | None = None) -> Any:
    """Run the benchmark composed from ``overrides`` into ``folder`` (only ``agent`` and the
    control when given); returns the per-seed incremental profit of the tuned agent."""
    from experiments import benchmark
    from experiments.hydra_apps import benchmark_config

    typed = benchmark_config(compose_benchmark(overrides), folder)
    if agent is not None:
        typed = replace(typed, agents={agent: typed.agents[agent]})
    return benchmark.run(typed)


def run_tuning(overrides: list[str], out: Path) -> pd.DataFrame:
    """Run the study until it has ``tune.trials`` complete trials, re-score the best on
    fresh seeds and name a winner; returns the trials table."""
    from experiments.hydra_apps import benchmark_config

    base = compose_benchmark(overrides)
    cfg = tune_setup(base)
    benchmark_config(base, out / "trial_check")  # the untouched config must be valid
    with study_lock(cfg, out):
        study = open_study(cfg, fixed_settings(base))
        optimise(study, cfg, overrides, out)
        table = study.trials_dataframe()
        out.mkdir(parents=True, exist_ok=True)
        table.to_csv(out / "trials.csv", index=False)
        verdict = rescore(study, cfg, overrides, out)
        best = {
            "value": study.best_value,
            "params": study.best_params,
            "trials": len(table),
            **verdict,
        }
        write_text(out / "best.json", json.dumps(best, indent=2))
        plot_history(table, out / "history.png")
    for line in verdict["verdict"]:
        print(line)
    return table


def tune_setup(base: Any) -> TuneConfig:
    """The ``tune`` node checked against the composed config, before any work."""
    from omegaconf import OmegaConf

    raw: Any = base.get("tune")
    if raw is None:
        raise ValueError("tune: missing; allowed: experiment=tune_thompson or a tune node")
    cfg = tune_config(OmegaConf.to_container(raw, resolve=True))  # type: ignore[arg-type]
    if cfg.agent not in base.agent:
        raise ValueError(f"tune.agent: {cfg.agent!r}; allowed: {', '.join(base.agent)}")
    overlap = sorted(set(cfg.rescore_seeds) & set(base.seeds))
    if cfg.rescore_top and overlap:
        raise ValueError(
            f"tune.rescore_seeds: {list(cfg.rescore_seeds)} share {overlap} with seeds; "
            "allowed: fresh seeds, apart from the tuning seeds"
        )
    check_storage(cfg.storage)
    return cfg


def optimise(study: Any, cfg: TuneConfig, overrides: list[str], out: Path) -> None:
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
        result = run_config(trial_overrides, out / f"trial_{trial.number:04d}")
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
def rescore(study: Any, cfg: TuneConfig, overrides: list[str], out: Path) -> dict[str, Any]:
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
        run_config([*overrides, "++progress=false", seeds, *sets], folder, cfg.agent)
        tidy = pd.read_parquet(folder / "tidy.parquet")
        kept = tidy[(tidy.agent == cfg.agent) & (tidy.metric == "incremental_profit")]
        rows += [{"candidate": name, "seed": s, "incremental_profit": v} for s, v in
                 zip(kept.seed, kept.value, strict=True)]  # fmt: skip
    table = pd.DataFrame(rows)
    write_text(out / "rescore.csv", table.to_csv(index=False))
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
    if not scores[winner]["ci_low"] > 0:
        lines.append(
            f"None of them is clearly better than doing nothing: the best, {winner}, has a 95% "
            "interval that reaches zero or below. Keep sending nothing, or widen the search."
        )
    if len(order) > 1:
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


# ------------------------------------------------------------------ files
def write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def plot_history(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = table[table.state == "COMPLETE"].sort_values("number")
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(done.number, done.value, "o", label="trial")
    ax.plot(done.number, done.value.cummax(), "-", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("incremental profit")
    ax.set_title("Optuna study")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
