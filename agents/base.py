"""The agent contract: what the evaluation and the benchmark need of an agent.

Observations are the named, normalised feature vectors of ``sim.envs.observation``; masks
say which actions can be sent (column 0, "nothing", always can). Agents never see latent
traits, except the references that say so: the pain-point rule is handed the latent traits,
the full-information reference a look-ahead inside the simulation.

An :class:`Agent` has, beyond ``act``, ``update`` and ``describe``:

* ``online``: it learns from delayed feedback while evaluated (``update`` is then called
  with each decision's attributed profit); default False.
* ``learned``: it was trained, not written as a rule; the benchmark saves learned agents
  and compares the best of them with every other policy; default False.
* ``hidden``: it sees what no real policy can (hidden traits; a look-ahead inside the
  simulation): a reference, kept apart from the policies a company could run; default False.
* ``learning_curve``: (training steps, incremental profit per user) pairs; default none.
* ``diagnostics()``: figures of the agent's own about its latest run, by name (the
  evaluation records them per seed beside the metrics); default none.
* ``fresh()``: the agent for one run (one seed), in the state it was built or trained in:
  online learners start every seed from their trained state; default a deep copy.
* ``save(path)`` / ``load``: ``suffix`` names the file type ``save`` writes ("" when the
  agent cannot be saved, the default).

Our agents subclass :class:`Agent`. An outside object with just ``act``, ``update`` and
``describe`` (:class:`AgentLike`: bring your own policy) gets the defaults through
:func:`as_agent`; it may set ``online = True`` to get feedback.

A factory that a config's ``_target_`` names (an agent class, or a function that builds or
trains one) may declare ``validate(catalogue, **params)`` (:class:`Checked`; see
:func:`checked_by`): value checks that take microseconds, run for every agent before any
is built, so a bad value fails before minutes of training.
"""

from __future__ import annotations

import copy
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

import numpy as np

from sim.lookahead import Gains
from sim.offers import Catalogue


@dataclass
class Context:
    """What an agent may read besides observations."""

    feature_names: list[str]
    offer_names: list[str]
    day: float = 0.0
    latent: dict[str, np.ndarray] = field(default_factory=dict)  # the references' only
    lookahead: Lookahead | None = None  # the full-information reference's only


class Lookahead(Protocol):
    """What-if look-ahead inside the running simulation (``sim.lookahead.expected_gains``
    bound to it): each action's expected incremental profit for ``users`` (sorted ids) given
    their hidden state, from ``reps`` replications with random numbers of their own."""

    def __call__(
        self, users: np.ndarray, mask: np.ndarray, reps: int, days: int | None, key: int
    ) -> Gains: ...


@runtime_checkable
class AgentLike(Protocol):
    """The least an object needs to be evaluated: what an outside policy brings."""

    def act(self, obs: np.ndarray, mask: np.ndarray, ctx: Context) -> np.ndarray:
        """Actions (0 = nothing, k = offer k-1) for a batch of observations."""
        ...

    def update(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        """Learn from feedback (a no-op for fixed policies)."""
        ...

    def describe(self) -> dict[str, Any]:
        """Name and parameters, for result tables."""
        ...


class Agent(ABC):
    """Base of every agent: the contract above, with its defaults."""

    name: str = "agent"
    online: bool = False
    learned: ClassVar[bool] = False
    hidden: ClassVar[bool] = False
    suffix: ClassVar[str] = ""
    learning_curve: Sequence[tuple[int, float]] = ()

    @abstractmethod
    def act(self, obs: np.ndarray, mask: np.ndarray, ctx: Context) -> np.ndarray:
        """Actions (0 = nothing, k = offer k-1) for a batch of observations."""

    def update(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        """Learn from feedback (fixed policies do nothing)."""
        del obs, actions, rewards

    def describe(self) -> dict[str, Any]:
        """Name and parameters, for result tables."""
        return {"name": self.name}

    def diagnostics(self) -> dict[str, float]:
        """The agent's own figures about its latest run (none by default)."""
        return {}

    def fresh(self) -> Agent:
        """The agent for one run, in the state it was built or trained in."""
        return copy.deepcopy(self)

    def save(self, path: str | Path) -> None:
        raise ValueError(f"{self.name}: this agent cannot be saved")


class Adapted(Agent):
    """An outside policy (:class:`AgentLike`) behind the contract, with its defaults."""

    def __init__(self, policy: AgentLike, online: bool = False) -> None:
        self.policy, self.online = policy, online
        self.name = type(policy).__name__

    def act(self, obs: np.ndarray, mask: np.ndarray, ctx: Context) -> np.ndarray:
        return self.policy.act(obs, mask, ctx)

    def update(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        self.policy.update(obs, actions, rewards)

    def describe(self) -> dict[str, Any]:
        return self.policy.describe()

    def fresh(self) -> Agent:
        return Adapted(copy.deepcopy(self.policy), self.online)


def as_agent(obj: Any) -> Agent:
    """``obj`` as an :class:`Agent`: ours as they are; an outside object with ``act``,
    ``update`` and ``describe`` with the defaults (and its own ``online`` flag if it sets
    one); anything else is refused with a ValueError."""
    if isinstance(obj, Agent):
        return obj
    for method in ("act", "update", "describe"):
        if not callable(getattr(obj, method, None)):
            raise ValueError(
                f"agent {type(obj).__module__}.{type(obj).__qualname__}: has no {method}(); "
                "an agent needs act(obs, mask, ctx), update(obs, actions, rewards) and "
                "describe()"
            )
    return Adapted(obj, online=bool(getattr(obj, "online", False)))


@runtime_checkable
class Checked(Protocol):
    """A factory that checks its keyword arguments before it runs (``catalogue``: the
    offers they may name)."""

    def validate(self, catalogue: Catalogue, /, **params: Any) -> None: ...


F = TypeVar("F", bound=Callable[..., Any])


def checked_by(check: Callable[..., None]) -> Callable[[F], F]:
    """Declare ``check(**params)`` as a factory function's ``validate`` (:class:`Checked`)."""

    def declare(factory: F) -> F:
        def validate(catalogue: Catalogue, /, **params: Any) -> None:
            del catalogue  # the factory names no offers
            check(**params)

        factory.validate = validate  # type: ignore[attr-defined]
        return factory

    return declare


def check_params(factory: Any, catalogue: Catalogue, params: dict[str, Any]) -> None:
    """Run the factory's declared value checks, if it declares any (:class:`Checked`)."""
    if isinstance(factory, Checked):
        factory.validate(catalogue, **params)


NOTHING = "nothing"
"""The value of an offer field that sends nothing (e.g. a playbook that contacts only the
customers who named price)."""


@dataclass(kw_only=True)
class FixedPolicy(Agent):
    """Base for agents that do not learn: parameters are the dataclass fields, checked at
    construction, saved and loaded as JSON. ``OFFER_FIELDS`` name fields holding an offer
    of the catalogue, or ``NOTHING``."""

    OFFER_FIELDS: ClassVar[tuple[str, ...]] = ()
    suffix: ClassVar[str] = ".json"
    name: str = "fixed"

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

    @classmethod
    def validate(cls, catalogue: Catalogue, /, **params: Any) -> None:
        """Offers named in ``OFFER_FIELDS`` are in ``catalogue``; the rest is checked by
        constructing the policy (which is cheap)."""
        for key in cls.OFFER_FIELDS:
            if key in params and params[key] not in (*catalogue.names, NOTHING):
                raise ValueError(
                    f"{key}: {params[key]!r}; allowed: an offer of the catalogue: "
                    + ", ".join(catalogue.names)
                    + f", or {NOTHING!r} (send nothing)"
                )
        cls(**params)


def masked_choice(mask: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """``wanted`` where the mask allows it, else 0 (send nothing)."""
    rows = np.arange(mask.shape[0])
    return np.where(mask[rows, wanted], wanted, 0)
