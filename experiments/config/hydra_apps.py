"""Hydra entry points: thin ``@hydra.main`` wrappers that turn the composed config into the
typed objects of ``sim/`` and ``agents/`` and call the importable ``run()`` functions.

Run them as ``winback benchmark [overrides]`` or ``python -m experiments.config.hydra_apps``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from experiments.config import schema
from experiments.config.agents import expand_agents
from experiments.config.scenario import catalogue_from, scenario_from
from experiments.jobs import benchmark
from sim.validation import check_int

schema.register()  # the structured configs that conf/benchmark.yaml and run.yaml build on

ALLOWED = {
    "scenario",
    "offers",
    "agent",
    "seeds",
    "every_days",
    "attribution_days",
    "progress",
    "tune",  # read by winback tune only
}


def benchmark_config(cfg: DictConfig, out: Path) -> benchmark.BenchmarkConfig:
    """The composed Hydra config -> a typed, validated ``BenchmarkConfig``."""
    raw: Any = OmegaConf.to_container(cfg, resolve=True)
    raw.pop("hydra", None)
    for key in raw:
        if key not in ALLOWED:
            raise ValueError(f"{key}: unknown key; allowed: {', '.join(sorted(ALLOWED))}")
    seeds = raw.get("seeds")
    if not isinstance(seeds, list) or not seeds:
        raise ValueError(f"seeds: {seeds!r}; allowed: a non-empty list of integers")
    checked_seeds = tuple(check_int("seeds[]", s, 0) for s in seeds)
    every = check_int("every_days", raw.get("every_days", 7), 1, 365)
    window = check_int("attribution_days", raw.get("attribution_days", 28), 1, 3650)
    scenario = scenario_from(raw.get("scenario") or {})
    catalogue = catalogue_from(raw.get("offers") or {})
    return benchmark.BenchmarkConfig(  # agents last: resolving them imports their code
        scenario=scenario,
        catalogue=catalogue,
        agents=expand_agents(raw.get("agent") or {}, catalogue),
        seeds=checked_seeds,
        every_days=every,
        attribution_days=window,
        out=out,
        progress=bool(raw.get("progress", True)),
        extra={"config": raw},
    )


@hydra.main(config_path="pkg://conf", config_name="benchmark", version_base=None)
def benchmark_app(cfg: DictConfig) -> None:
    _run(cfg)


@hydra.main(config_path="pkg://conf", config_name="run", version_base=None)
def run_app(cfg: DictConfig) -> None:
    _run(cfg)


def _run(cfg: DictConfig) -> None:
    out = Path(HydraConfig.get().runtime.output_dir)
    try:
        typed = benchmark_config(cfg, out)  # every check before any simulation
    except ValueError as err:
        print(f"winback: error: {err}", file=sys.stderr)
        sys.exit(2)
    if finished(out, typed):
        print(f"already finished, skipped: {out} (delete its summary.json to run it again)")
        return
    benchmark.run(typed)


def finished(out: Path, cfg: benchmark.BenchmarkConfig) -> bool:
    """A run whose folder holds a summary of the same config finished before: a restarted
    sweep (same ``hydra.sweep.dir``) re-runs only the runs that had not."""
    done = out / "summary.json"
    if not done.exists() or not (out / "report.html").exists():
        return False
    try:
        return bool(json.loads(done.read_text()).get("config") == cfg.extra["config"])
    except (OSError, ValueError):
        return False


def precheck(overrides: list[str]) -> None:
    """What Hydra would report with a long traceback, reported in one line instead: malformed
    YAML in the config search path, and an output folder that cannot be created."""
    import yaml

    folders = [Path(__file__).resolve().parents[2] / "conf"]
    for o in overrides:
        if o.startswith("hydra.searchpath="):
            inner = o.split("=", 1)[1].strip("[]")
            folders += [Path(x.strip().removeprefix("file://")) for x in inner.split(",") if x]
    for folder in folders:
        for path in sorted(folder.rglob("*.yaml")) if folder.is_dir() else []:
            try:
                yaml.safe_load(path.read_text())
            except yaml.YAMLError as err:
                mark = getattr(err, "problem_mark", None)
                where = f", line {mark.line + 1}" if mark else ""
                problem = getattr(err, "problem", None) or str(err).splitlines()[0]
                raise ValueError(
                    f"{path}: malformed YAML{where}: {problem}; allowed: valid YAML"
                ) from None
    for o in overrides:
        key, _, value = o.partition("=")
        if key in ("hydra.run.dir", "hydra.sweep.dir") and value:
            try:
                Path(value).mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise ValueError(
                    f"{key}: {value!r} cannot be created ({err.strerror}); allowed: a "
                    "writable folder"
                ) from None


def run_benchmark(overrides: list[str], command: str = "benchmark") -> int:
    """``winback benchmark|run [overrides]``: the Hydra app with these overrides."""
    try:
        precheck(overrides)
    except ValueError as err:
        print(f"winback: error: {err}", file=sys.stderr)
        return 2
    sys.argv = [f"winback {command}", *overrides]
    # Ray (the ray_local launcher) listens on loopback only, and reports nothing home
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    (run_app if command == "run" else benchmark_app)()
    return 0


if __name__ == "__main__":
    benchmark_app()
