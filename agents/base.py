"""One small interface for every agent: act on a batch, learn online, save, load, describe.

Observations are the named, normalised feature vectors of ``sim.envs.observation``; masks
say which actions can be sent (column 0, "nothing", always can). Agents never see latent
traits, except the oracle, which is handed them explicitly as the upper reference.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass
class Context:
    """What an agent may read besides observations."""

    feature_names: list[str]
    offer_names: list[str]
    day: float = 0.0
    latent: dict[str, np.ndarray] = field(default_factory=dict)  # only for the oracle


@runtime_checkable
class Agent(Protocol):
    name: str

    def act(self, obs: np.ndarray, mask: np.ndarray, ctx: Context) -> np.ndarray:
        """Actions (0 = nothing, k = offer k-1) for a batch of observations."""
        ...

    def update(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        """Learn from feedback (no-op for fixed policies)."""
        ...

    def describe(self) -> dict[str, Any]:
        """Name and parameters, for result tables."""
        ...


@dataclass(kw_only=True)
class FixedPolicy:
    """Base for agents that do not learn: ``update`` does nothing; parameters are the
    dataclass fields, saved and loaded as JSON."""

    name: str = "fixed"

    def update(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        del obs, actions, rewards

    def describe(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"class": type(self).__name__, **self.describe()}))

    @classmethod
    def load(cls, path: str | Path) -> FixedPolicy:
        data = json.loads(Path(path).read_text())
        if data.pop("class") != cls.__name__:
            raise ValueError(f"{path}: saved by another agent class; expected {cls.__name__}")
        return cls(**data)


def masked_choice(mask: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """``wanted`` where the mask allows it, else 0 (send nothing)."""
    rows = np.arange(mask.shape[0])
    return np.where(mask[rows, wanted], wanted, 0)
