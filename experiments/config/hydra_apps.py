"""Hydra entry points: thin ``@hydra.main`` wrappers that turn the composed config into the
typed ``BenchmarkConfig`` (``benchmark_config``) and call the importable ``run()``.

Run them as ``winback benchmark|run [overrides]`` (``cli/``: help, ``--trust`` and the checks
that come before Hydra starts) or ``python -m experiments.config.hydra_apps``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from experiments.config import schema
from experiments.config.agents import expand_agents
from experiments.config.scenario import catalogue_from, scenario_from
from experiments.config.stress import register as _register_stress
from experiments.files import plain
from experiments.jobs.benchmark import BenchmarkConfig
from sim.simulation import check_catalogue
from sim.validation import check_int

schema.register()  # the structured configs that conf/benchmark.yaml and run.yaml build on
_register_stress()  # and conf/stress.yaml


def benchmark_config(
    cfg: Any, out: Path, trusted: Iterable[str] = (), notes: bool = True
) -> BenchmarkConfig:
    """The composed config -> a typed, validated ``BenchmarkConfig``; every check before any
    simulation (agents last: checking them imports their modules). ``notes``: say which
    agent parameters are ignored (agents not selected)."""
    if isinstance(cfg, DictConfig):  # without hydra: (as the app gets it), resolved
        cfg = OmegaConf.to_container(
            OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]), resolve=True
        )
    raw: dict[str, Any] = dict(cfg)
    scenario = scenario_from(raw.get("scenario") or {})
    catalogue = catalogue_from(raw.get("offers") or {})
    check_catalogue(scenario, catalogue)  # e.g. a free trial needs a subscription business
    top = schema.checked(schema.BenchmarkSchema, raw, "")  # keys added with +key=...
    seeds = top["seeds"]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds: {seeds!r}; allowed: a non-empty list of distinct integers")
    return BenchmarkConfig(
        scenario=scenario,
        catalogue=catalogue,
        agents=expand_agents(top["agent"], catalogue, trusted, notes),
        seeds=tuple(check_int("seeds[]", s, 0) for s in seeds),
        attribution_days=check_int("attribution_days", top["attribution_days"], 1, 3650),
        out=out,
        progress=top["progress"],
        extra={"config": raw},
        baseline=top["baseline"],
        reference=top["reference"],
    )


@hydra.main(config_path="pkg://conf", config_name="benchmark", version_base=None)
def benchmark_app(cfg: DictConfig) -> None:
    _run(cfg)


@hydra.main(config_path="pkg://conf", config_name="run", version_base=None)
def run_app(cfg: DictConfig) -> None:
    _run(cfg)


def _run(cfg: DictConfig) -> None:
    from experiments.jobs.benchmark import run

    launch(cfg, benchmark_config, run, ("report.html",))


def launch(
    cfg: DictConfig,
    typed_of: Callable[[DictConfig, Path, tuple[str, ...]], Any],
    job: Callable[[Any], Any],
    marks: tuple[str, ...] = (),
) -> None:
    """Type the config (a bad value: the error, exit 2, before any work), hold the run's
    folder (another config's folder, or one in use: no), skip a run that finished before
    (:func:`finished`), then run ``job``."""
    from experiments.config.guard import hold

    out = Path(HydraConfig.get().runtime.output_dir)
    try:
        typed = typed_of(cfg, out, trusted_modules(cfg))
    except ValueError as err:
        print(f"winback: error: {err}", file=sys.stderr)
        sys.exit(2)
    started = False
    try:
        with hold(out, typed.extra["config"]):
            if finished(out, typed.extra["config"], marks):
                print(f"already finished, skipped: {out} (delete its summary.json to run again)")
                return
            started = True
            job(typed)
    except ValueError as err:
        if started:
            raise
        print(f"winback: error: {err}", file=sys.stderr)
        sys.exit(2)


def trusted_modules(cfg: DictConfig) -> tuple[str, ...]:
    """The modules named with ``--trust`` (the ``trust`` key), honoured only when set on
    the command line: a config file cannot trust code for you."""
    given = tuple(cfg.get("trust") or ())
    overrides = HydraConfig.get().overrides.task
    if given and not any(o.split("=", 1)[0].lstrip("+~") == "trust" for o in overrides):
        raise ValueError(
            f"trust: {list(given)} set in a config file; allowed: --trust MODULE on the "
            "command line only"
        )
    return given


def finished(out: Path, config: dict[str, Any], marks: tuple[str, ...] = ()) -> bool:
    """A run whose folder holds a summary of the same config (and the files ``marks``)
    finished before: a restarted sweep (same ``hydra.sweep.dir``) re-runs only the runs that
    had not. The config is compared as the file holds it (no budget = infinity is null
    there)."""
    done = out / "summary.json"
    if not done.exists() or not all((out / m).exists() for m in marks):
        return False
    try:
        return bool(json.loads(done.read_text()).get("config") == plain(config))
    except (OSError, ValueError):
        return False


@hydra.main(config_path="pkg://conf", config_name="stress", version_base=None)
def stress_app(cfg: DictConfig) -> None:
    """``winback stress``: the policies across an ensemble of worlds (``jobs/stress.py``)."""
    from experiments.config.stress import stress_config
    from experiments.jobs.stress import run

    launch(cfg, stress_config, run)


if __name__ == "__main__":
    benchmark_app()
