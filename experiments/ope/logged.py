"""Logged decisions, in Open Bandit Pipeline's ``bandit_feedback`` layout.

Rules: one round per logged decision: the context the logger saw, the action it took (0:
no offer, k: the catalogue's k-th offer), the probability it had of taking it (``pscore``),
the reward that followed (profit over the attribution window); optionally the logger's whole
distribution over actions (``logging_dist``), which tells the actions it could never take
from those it happened not to. Everything is checked when the object is built, naming the
key, the value and what is allowed: a propensity of 0 or above 1, an action outside the
catalogue, arrays of different lengths, a missing key, a non-finite reward. OBP itself is not
a dependency (its releases need Python < 3.11 or numpy < 2); the layout is its, so logs move
both ways (``from_bandit_feedback``, ``to_bandit_feedback``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REQUIRED = ("n_rounds", "n_actions", "action", "reward", "pscore", "context")
"""The keys a ``bandit_feedback`` dict must hold (``position``, ``action_context`` and
``logging_dist`` are optional)."""


@dataclass(frozen=True, kw_only=True)
class Logged:
    """Logged rounds (see the module doc)."""

    action: np.ndarray  # (n,) int in [0, n_actions)
    reward: np.ndarray  # (n,) float
    pscore: np.ndarray  # (n,) float in (0, 1]: the logger's probability of its action
    context: np.ndarray  # (n, d) float
    n_actions: int
    position: np.ndarray | None = None  # (n,) int: a slate's position (0 here)
    action_context: np.ndarray | None = None  # (n_actions, d_a)
    logging_dist: np.ndarray | None = None  # (n, n_actions): the logger's probabilities
    truth: np.ndarray | None = None  # (n, n_actions): each action's expected reward in the
    # round (NaN: not allowed), which only a simulator knows (``behaviour.log_decisions``)
    allowed: np.ndarray | None = None  # (n, n_actions) bool: what the company could do in
    # the round (reachable, eligible, under the caps), whatever the logger chose to try
    user: np.ndarray | None = None  # (n,): the customer of each round (a company's id)
    day: np.ndarray | None = None  # (n,): the day of each decision
    reactivated: np.ndarray | None = None  # (n,): came back within the window (an event
    # log's rounds: ``events.decisions_from_events``; NaN: not known)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.n_actions, bool) or not isinstance(self.n_actions, (int, np.integer)):
            raise ValueError(f"n_actions: {self.n_actions!r}; allowed: an integer >= 2")
        if self.n_actions < 2:
            raise ValueError(f"n_actions: {self.n_actions}; allowed: an integer >= 2")
        n = _length("action", self.action)
        for key in ("reward", "pscore"):
            if _length(key, getattr(self, key)) != n:
                raise ValueError(
                    f"{key}: {len(getattr(self, key))} rounds; allowed: {n}, as action"
                )
        context = np.asarray(self.context)
        if context.ndim != 2 or context.shape[0] != n:
            raise ValueError(
                f"context: shape {context.shape}; allowed: ({n}, features), one row per round"
            )
        action = np.asarray(self.action)
        if not np.issubdtype(action.dtype, np.integer):
            raise ValueError(f"action: dtype {action.dtype}; allowed: integers")
        outside = (action < 0) | (action >= self.n_actions)
        if outside.any():
            i = int(np.flatnonzero(outside)[0])
            raise ValueError(
                f"action[{i}]: {int(action[i])} is outside the catalogue; allowed: 0 (no offer) "
                f"to {self.n_actions - 1}"
            )
        pscore = np.asarray(self.pscore, dtype=np.float64)
        bad = ~np.isfinite(pscore) | (pscore <= 0) | (pscore > 1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"pscore[{i}]: {float(pscore[i])!r}; allowed: a probability in (0, 1] (the "
                "logger's chance of the action it took: 0 means it could not have taken it)"
            )
        reward = np.asarray(self.reward, dtype=np.float64)
        if not np.isfinite(reward).all():
            i = int(np.flatnonzero(~np.isfinite(reward))[0])
            raise ValueError(f"reward[{i}]: {float(reward[i])!r}; allowed: a finite number")
        if self.logging_dist is not None:
            self._check_logging_dist(n)
        if self.allowed is not None and np.shape(self.allowed) != (n, self.n_actions):
            raise ValueError(
                f"allowed: shape {np.shape(self.allowed)}; allowed: ({n}, {self.n_actions})"
            )
        for key in ("user", "day", "reactivated"):
            if getattr(self, key) is not None and np.shape(getattr(self, key)) != (n,):
                raise ValueError(
                    f"{key}: shape {np.shape(getattr(self, key))}; allowed: ({n},), one per round"
                )
        if self.truth is not None and np.shape(self.truth) != (n, self.n_actions):
            raise ValueError(
                f"truth: shape {np.shape(self.truth)}; allowed: ({n}, {self.n_actions})"
            )

    def _check_logging_dist(self, n: int) -> None:
        dist = np.asarray(self.logging_dist, dtype=np.float64)
        if dist.shape != (n, self.n_actions):
            raise ValueError(f"logging_dist: shape {dist.shape}; allowed: ({n}, {self.n_actions})")
        if (dist < 0).any() or not np.allclose(dist.sum(axis=1), 1.0, atol=1e-6):
            raise ValueError("logging_dist: rows must be probabilities summing to 1; allowed: that")
        taken = dist[np.arange(n), np.asarray(self.action)]
        if not np.allclose(taken, np.asarray(self.pscore), atol=1e-9):
            i = int(np.flatnonzero(~np.isclose(taken, self.pscore, atol=1e-9))[0])
            raise ValueError(
                f"pscore[{i}]: {float(self.pscore[i])!r} but logging_dist gives the action "
                f"{float(taken[i])!r}; "
                "allowed: the same probability in both"
            )

    @property
    def n_rounds(self) -> int:
        return len(self.action)

    @classmethod
    def from_bandit_feedback(cls, feedback: Mapping[str, Any]) -> Logged:
        """OBP's ``bandit_feedback`` dict -> ``Logged`` (every required key checked first)."""
        missing = [k for k in REQUIRED if k not in feedback]
        if missing:
            raise ValueError(
                f"bandit_feedback: missing {', '.join(missing)}; allowed: a dict with "
                f"{', '.join(REQUIRED)} (and optionally position, action_context, logging_dist)"
            )
        n = int(feedback["n_rounds"])
        if len(feedback["action"]) != n:
            raise ValueError(
                f"n_rounds: {n} but action has {len(feedback['action'])}; allowed: the same"
            )
        context = np.asarray(feedback["context"], dtype=np.float64)
        return cls(
            action=np.asarray(feedback["action"]).astype(np.int64),
            reward=np.asarray(feedback["reward"], dtype=np.float64),
            pscore=np.asarray(feedback["pscore"], dtype=np.float64),
            context=context.reshape(n, -1) if context.ndim == 1 else context,
            n_actions=int(feedback["n_actions"]),
            position=_optional(feedback, "position"),
            action_context=_optional(feedback, "action_context"),
            logging_dist=_optional(feedback, "logging_dist"),
            truth=_optional(feedback, "truth"),
            allowed=_optional(feedback, "allowed"),
            user=_optional(feedback, "user"),
            day=_optional(feedback, "day"),
            reactivated=_optional(feedback, "reactivated"),
        )

    def to_bandit_feedback(self) -> dict[str, Any]:
        """OBP's layout (``position`` all 0 when none was logged)."""
        out: dict[str, Any] = {
            "n_rounds": self.n_rounds,
            "n_actions": self.n_actions,
            "action": np.asarray(self.action),
            "position": np.zeros(self.n_rounds, dtype=np.int64)
            if self.position is None
            else np.asarray(self.position),
            "reward": np.asarray(self.reward),
            "pscore": np.asarray(self.pscore),
            "context": np.asarray(self.context),
            "action_context": np.eye(self.n_actions)
            if self.action_context is None
            else np.asarray(self.action_context),
        }
        if self.logging_dist is not None:
            out["logging_dist"] = np.asarray(self.logging_dist)
        ours = (
            "truth",
            "allowed",
            "user",
            "day",
            "reactivated",
        )  # OBP ignores keys it does not know
        for key in ours:
            if getattr(self, key) is not None:
                out[key] = np.asarray(getattr(self, key))
        return out


def _length(key: str, values: Any) -> int:
    array = np.asarray(values)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{key}: shape {array.shape}; allowed: a non-empty list, one per round")
    return int(array.size)


def _optional(feedback: Mapping[str, Any], key: str) -> np.ndarray | None:
    value = feedback.get(key)
    return None if value is None else np.asarray(value)


def save(logged: Logged, path: Path) -> Path:
    """``bandit_feedback`` as a NumPy archive (``.npz``: every array, names in ``meta``);
    arrays of objects (a company's customer ids as text) are stored as unicode strings, so
    that nothing is pickled."""
    import json

    arrays = {
        k: np.asarray(v).astype(str) if np.asarray(v).dtype == object else v
        for k, v in logged.to_bandit_feedback().items()
    }
    arrays["meta"] = np.array(json.dumps(logged.meta))
    with open(path, "wb") as file:
        np.savez_compressed(file, allow_pickle=False, **arrays)
    return path


def load(path: Path) -> Logged:
    """A ``.npz`` written by :func:`save` (or any archive of ``bandit_feedback``'s keys)."""
    import json

    if not path.exists():
        raise ValueError(f"log: {str(path)!r} does not exist; allowed: a .npz file")
    with np.load(path, allow_pickle=False) as data:
        feedback = {k: data[k] for k in data.files}
    meta = json.loads(str(feedback.pop("meta"))) if "meta" in feedback else {}
    for key in ("n_rounds", "n_actions"):
        if key in feedback:
            feedback[key] = int(feedback[key])
    logged = Logged.from_bandit_feedback(feedback)
    return Logged(**{**logged.__dict__, "meta": meta})
