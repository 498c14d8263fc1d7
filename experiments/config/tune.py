"""The ``tune`` node of a config (``winback tune``; see ``experiments.jobs.tune``) -> a typed
``TuneConfig``, every value checked before any trial, and the study's storage checked before
anything is created: a SQLite file must be a database (or not exist yet) in a writable folder.

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

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.files import check_writable
from sim.validation import check_int

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
        _check_database(storage)
        return
    path = Path(storage.removeprefix(SQLITE))
    allowed = "allowed: sqlite:///<a new or SQLite file in a writable folder>"
    if path.exists():
        if not path.is_file():
            raise ValueError(f"tune.storage: {storage!r} is not a file; {allowed}")
        with path.open("rb") as f:
            head = f.read(16)
        if head and head != b"SQLite format 3\x00":
            raise ValueError(f"tune.storage: {storage!r} is not an SQLite database; {allowed}")
    check_writable(path.parent, "tune.storage")


def _check_database(storage: str) -> None:
    """Another database (PostgreSQL, MySQL): its driver is installed and it answers."""
    import sqlalchemy

    try:
        sqlalchemy.create_engine(storage).connect().close()
    except Exception as err:  # a missing driver, a refused connection, a bad URL
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(
            f"tune.storage: {storage!r} cannot be opened ({type(err).__name__}: {first}); "
            "allowed: sqlite:///path.db, or a database URL whose driver is installed and "
            "which answers"
        ) from None


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
