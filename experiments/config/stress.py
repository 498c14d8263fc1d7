"""The stress test's config (``conf/stress.yaml``) -> a typed ``StressConfig``, every value
checked before any work: the benchmark's keys as for ``winback benchmark`` (scenario,
offers, agents, seeds, ...), and the stress keys of :class:`StressKeys`.

``calibration`` names a ``winback calibrate`` results folder (or its ``parameters.csv``):
each fitted segment rate with a finite 95% interval that the log identifies becomes a
``ParameterDoubt`` whose log-scale standard deviation is read off that interval
(``(ln high - ln low) / 3.92``: the fit's intervals are Wald intervals on the log scale).
``winback calibrate`` writes each estimate's standard error and interval but not their
covariance, so the rates are drawn independently (their correlations are not known here);
class weights, the activity shape and price parameters are not drawn.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional  # noqa: UP035  (OmegaConf reads typing forms)

from omegaconf import DictConfig, OmegaConf

from experiments.config import schema
from experiments.jobs.stress import StressConfig
from sim.scenario import Scenario
from sim.validation import check_int
from sim.worlds import CALIBRATED_FIELDS, RANGE_KEYS, ParameterDoubt, Range

Z95 = 1.959963984540054


@dataclass
class StressKeys:
    worlds: int = 20
    world_seed: int = 0
    nominal: bool = True
    retrain: bool = False
    within: float = 0.05
    calibration: Optional[str] = None  # noqa: UP045
    shards: int = 1
    shard: int = 0
    ranges: Dict[str, Any] = field(default_factory=dict)  # noqa: UP006


STRESS_KEYS = tuple(StressKeys.__dataclass_fields__)


@dataclass
class StressSchema(schema.BenchmarkSchema, StressKeys):
    """``benchmark_schema`` and the stress keys: the root of ``conf/stress.yaml``."""


def register() -> None:
    from hydra.core.config_store import ConfigStore

    schema.register()
    ConfigStore.instance().store(name="stress_schema", node=StressSchema)


def stress_config(
    cfg: Any, out: Path, trusted: tuple[str, ...] = (), notes: bool = True
) -> StressConfig:
    """The composed config -> a typed, validated ``StressConfig`` (before any simulation)."""
    from experiments.config.hydra_apps import benchmark_config

    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_container(
            OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]), resolve=True
        )
    raw: dict[str, Any] = dict(cfg)
    keys = schema.checked(StressKeys, {k: raw[k] for k in STRESS_KEYS if k in raw}, "")
    bench = benchmark_config(
        {k: v for k, v in raw.items() if k not in STRESS_KEYS}, out, trusted, notes
    )
    worlds = check_int("worlds", keys["worlds"], 1, 10_000)
    doubts: tuple[ParameterDoubt, ...] = ()
    if keys["calibration"]:
        doubts = read_doubts(Path(keys["calibration"]), bench.scenario)
    return StressConfig(
        scenario=bench.scenario,
        catalogue=bench.catalogue,
        agents=bench.agents,
        ranges=ranges_from(keys["ranges"]),
        worlds=worlds,
        world_seed=check_int("world_seed", keys["world_seed"], 0),
        nominal=keys["nominal"],
        retrain=keys["retrain"],
        within=float(keys["within"]),
        doubts=doubts,
        seeds=bench.seeds,
        attribution_days=bench.attribution_days,
        out=out,
        progress=bench.progress,
        shards=check_int("shards", keys["shards"], 1, worlds),
        shard=check_int("shard", keys["shard"], 0),
        extra={"config": raw},
    )


def ranges_from(node: Any) -> dict[str, Range]:
    """``{key: {low, high, log}}`` -> ranges (a key set to null: not scaled)."""
    if not isinstance(node, dict):
        raise ValueError(f"ranges: {node!r}; allowed: a mapping of {', '.join(RANGE_KEYS)}")
    out = {}
    for key, item in node.items():
        if key not in RANGE_KEYS:
            raise ValueError(f"ranges.{key}: unknown key; allowed: {', '.join(RANGE_KEYS)}")
        if item is None:
            continue
        if not isinstance(item, dict) or set(item) - {"low", "high", "log"}:
            extra = sorted(set(item) - {"low", "high", "log"}) if isinstance(item, dict) else []
            what = f"unknown key {extra[0]!r}" if extra else repr(item)
            raise ValueError(f"ranges.{key}: {what}; allowed: {{low, high, log}} (factors > 0)")
        r = Range(item.get("low", 1.0), item.get("high", 1.0), item.get("log", True))
        r.check(f"ranges.{key}")
        out[key] = r
    return out


PARAMETER = re.compile(r"^(?:(?P<plan>.+)\.)?(?P<field>\w+)\[(?P<cls>\d+)\]$")


def read_doubts(path: Path, scenario: Scenario) -> tuple[ParameterDoubt, ...]:
    """A ``winback calibrate`` folder's ``parameters.csv`` -> the segment rates' doubts
    (see the module docstring). The segments are those ``winback calibrate`` names:
    ``class_<c>`` (a transactional log) or ``<plan>_<c>`` (a subscription log)."""
    import pandas as pd

    from sim.calibration.subscriptions import slug

    file = path / "parameters.csv" if path.is_dir() else path
    if not file.is_file():
        raise ValueError(
            f"calibration: {str(path)!r} has no parameters.csv; allowed: a winback calibrate "
            "results folder (or its parameters.csv)"
        )
    table = pd.read_csv(file)
    needed = {"parameter", "ci_low", "ci_high", "identified"}
    if not needed <= set(table.columns):
        raise ValueError(
            f"calibration: {str(file)!r} lacks columns {sorted(needed - set(table.columns))}; "
            "allowed: a parameters.csv written by winback calibrate"
        )
    names = set(scenario.segment_names)
    out = []
    for row in table.itertuples():
        m = PARAMETER.match(str(row.parameter))
        if m is None or m["field"] not in CALIBRATED_FIELDS:
            continue
        segment = f"{slug(m['plan'])}_{m['cls']}" if m["plan"] else f"class_{m['cls']}"
        lo, hi = float(row.ci_low), float(row.ci_high)
        usable = bool(row.identified) and math.isfinite(lo) and math.isfinite(hi) and lo > 0
        if segment in names and usable and hi >= lo:
            sd = (math.log(hi) - math.log(lo)) / (2 * Z95)
            out.append(ParameterDoubt(segment, m["field"], sd))
    if not out:
        raise ValueError(
            f"calibration: no identified segment rate of {str(file)!r} matches scenario "
            f"{scenario.name!r}'s segments ({', '.join(sorted(names))}); allowed: the results "
            "folder of the calibration that wrote this scenario"
        )
    return tuple(out)
