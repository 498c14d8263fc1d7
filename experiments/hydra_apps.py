"""Hydra entry points: thin ``@hydra.main`` wrappers that turn the composed config into the
typed objects of ``sim/`` and ``agents/`` and call the importable ``run()`` functions.

Run them as ``winback benchmark [overrides]`` or ``python -m experiments.hydra_apps``.
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

from experiments import benchmark
from sim.validation import check_int

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
    catalogue = benchmark.catalogue_from(raw.get("offers") or {})
    seeds = raw.get("seeds")
    if not isinstance(seeds, list) or not seeds:
        raise ValueError(f"seeds: {seeds!r}; allowed: a non-empty list of integers")
    return benchmark.BenchmarkConfig(
        scenario=benchmark.scenario_from(raw.get("scenario") or {}),
        catalogue=catalogue,
        agents=benchmark.expand_agents(raw.get("agent") or {}, catalogue),
        seeds=tuple(check_int("seeds[]", s, 0) for s in seeds),
        every_days=check_int("every_days", raw.get("every_days", 7), 1, 365),
        attribution_days=check_int("attribution_days", raw.get("attribution_days", 28), 1, 3650),
        out=out,
        progress=bool(raw.get("progress", True)),
        extra={"config": raw},
    )


@hydra.main(config_path="pkg://conf", config_name="benchmark", version_base=None)
def benchmark_app(cfg: DictConfig) -> None:
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
    if not done.exists():
        return False
    try:
        return bool(json.loads(done.read_text()).get("config") == cfg.extra["config"])
    except (OSError, ValueError):
        return False


def run_benchmark(overrides: list[str]) -> int:
    """``winback benchmark [overrides]``: the Hydra app with these command-line overrides."""
    sys.argv = ["winback benchmark", *overrides]
    # Ray (the ray_local launcher) listens on loopback only, and reports nothing home
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    benchmark_app()
    return 0


if __name__ == "__main__":
    benchmark_app()
