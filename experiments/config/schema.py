"""Structured configs: the shape and types of ``conf/benchmark.yaml`` and ``conf/run.yaml``,
registered in Hydra's ConfigStore so that a wrong type or an unknown key fails while Hydra
composes the config (before our own value checks in ``experiments.config.hydra_apps``, which turn
the composed config into the typed objects of ``sim/`` and ``agents/``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore


@dataclass
class ScenarioSchema:
    name: str = ""  # shown in reports; default: the preset's name
    preset: str = "streaming"
    users: int = 50_000
    days: int = 365
    dynamics: dict[str, float] = field(default_factory=dict)  # sim.Dynamics fields
    segments: list[Any] = field(default_factory=list)  # sim.Segment fields by name


@dataclass
class OfferSchema:
    name: str = "?"
    kind: str = "reminder"
    channel: str = "email"
    cost_per_send: float = 0.0
    discount: float = 0.0
    duration_days: int = 30
    trial_days: int = 0
    support_cost: float = 0.0
    lift: float = 1.0
    eligible: list[str] = field(default_factory=lambda: ["inactive", "churned"])


@dataclass
class OffersSchema:
    offers: list[OfferSchema] = field(default_factory=list)


@dataclass
class BenchmarkSchema:
    scenario: ScenarioSchema = field(default_factory=ScenarioSchema)
    offers: OffersSchema = field(default_factory=OffersSchema)
    agent: dict[str, Any] = field(default_factory=dict)  # name -> {_target_, kwargs}
    seeds: list[int] = field(default_factory=lambda: [1, 2, 3])
    every_days: int = 7
    attribution_days: int = 28
    progress: bool = True
    tune: Optional[dict[str, Any]] = None  # noqa: UP045  (OmegaConf needs Optional)


def register() -> None:
    ConfigStore.instance().store(name="benchmark_schema", node=BenchmarkSchema)
