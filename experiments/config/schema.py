"""Structured configs: the shape and types of ``conf/benchmark.yaml`` and ``conf/run.yaml``,
registered in Hydra's ConfigStore so that a wrong type or an unknown key fails while Hydra
composes the config, with Hydra's own message.

The scenario and offer schemas are derived from the ``sim`` dataclasses (one source of
truth): every field of ``sim.Scenario`` and ``sim.Offer`` is a key, typed as there
(``tuple[X, ...]`` -> a list, ``Mapping`` -> a dict, a nested dataclass -> its own schema).
Scenario keys default to ``None``, which means "the preset's value"; ``users`` and ``days``
stand for ``n_users`` and ``horizon_days``. Value ranges are the dataclasses' own checks.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional  # noqa: UP035  (OmegaConf reads typing forms)

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    MissingMandatoryValue,
    OmegaConfBaseException,
)

from experiments.config.agent_schemas import FAMILIES
from experiments.config.plan import PlanConfig
from sim.offers import Catalogue
from sim.scenario import Scenario, Segment

SEEDS = (1, 2, 3)
ATTRIBUTION_DAYS = 28  # online learners get each decision's profit this many days later
SCENARIO_ALIASES = {"n_users": "users", "horizon_days": "days"}
"""Config key for a ``sim.Scenario`` field where the two differ."""
PARTIAL = (Segment,)
"""Dataclasses whose config items may give only some fields (``name`` picks the base)."""


def config_type(hint: Any) -> Any:
    """The OmegaConf type for a ``sim`` field's type."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return schema_of(hint)  # type: ignore[arg-type]
    if origin is tuple:
        return List[config_type(args[0])]  # type: ignore[misc]  # noqa: UP006
    if origin in (dict, Mapping):
        return Dict[str, config_type(args[1])]  # type: ignore[misc]  # noqa: UP006
    return hint if hint in (int, float, str, bool) else Any


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return field(default=MISSING)
    if dataclasses.is_dataclass(value):
        return field(default_factory=schema_of(type(value)))
    if isinstance(value, (tuple, list, dict)):
        plain = list(value) if isinstance(value, (tuple, list)) else dict(value)
        return field(default_factory=lambda: plain.copy())
    return field(default=value)


@functools.cache
def schema_of(cls: type, optional: bool = False) -> type:
    """A structured-config dataclass with ``cls``'s fields. With ``optional`` (or for the
    ``PARTIAL`` classes, except ``name``) every field may be ``None``: "unchanged"."""
    hints = typing.get_type_hints(cls)
    items = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        kind = config_type(hints[f.name])
        if optional or (cls in PARTIAL and f.name != "name"):
            items.append((f.name, Optional[kind], field(default=None)))  # noqa: UP045
        else:
            items.append((f.name, kind, _default(f)))
    name = f"{cls.__name__}{'Partial' if optional else ''}Schema"
    return importable(dataclasses.make_dataclass(name, items))


def importable(made: type) -> type:
    """``made`` as a name of this module: sweep workers get configs pickled, and a pickle
    names the class by module and name."""
    made.__module__ = __name__
    globals()[made.__name__] = made
    return made


@dataclass
class ScenarioHead:
    preset: str = "streaming"  # the built-in scenario every other key changes
    users: int = 50_000  # the leaderboard's population (the presets' own are larger)
    days: int = 365


def scenario_schema() -> type:
    """``ScenarioHead`` + every other ``sim.Scenario`` field, ``None`` = the preset's."""
    hints = typing.get_type_hints(Scenario)
    items = []
    for f in dataclasses.fields(Scenario):
        if f.name in SCENARIO_ALIASES:
            continue
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):  # a nested record: each of its keys optional
            nested = schema_of(hint, True)
            items.append((f.name, nested, field(default_factory=nested)))
        else:
            items.append((f.name, Optional[config_type(hint)], field(default=None)))  # noqa: UP045
    return importable(dataclasses.make_dataclass("ScenarioSchema", items, bases=(ScenarioHead,)))


ScenarioSchema = scenario_schema()
OffersSchema = schema_of(Catalogue)
PlanSchema = schema_of(PlanConfig)


@dataclass
class BenchmarkSchema:
    scenario: ScenarioSchema = field(default_factory=ScenarioSchema)  # type: ignore[valid-type]
    offers: OffersSchema = field(default_factory=OffersSchema)  # type: ignore[valid-type]
    agent: Dict[str, Any] = field(default_factory=dict)  # noqa: UP006  (name -> node)
    seeds: List[int] = field(default_factory=lambda: list(SEEDS))  # noqa: UP006
    attribution_days: int = ATTRIBUTION_DAYS
    baseline: Optional[str] = None  # noqa: UP045  (an agent every other is compared with)
    reference: Optional[str] = None  # noqa: UP045  (shares' yardstick; None: full_information)
    progress: bool = True
    trust: List[str] = field(default_factory=list)  # noqa: UP006  (--trust MODULE)
    tune: Optional[Dict[str, Any]] = None  # noqa: UP006, UP045  (read by winback tune)
    plan: PlanSchema = field(default_factory=PlanSchema)  # type: ignore[valid-type]  (winback plan)


def register() -> None:
    """The schemas into Hydra's ConfigStore: ``benchmark_schema`` (the root) and one
    ``agent_schema/<family>`` per agent family (``conf/agent/*.yaml`` name theirs)."""
    store = ConfigStore.instance()
    store.store(name="benchmark_schema", node=BenchmarkSchema)
    for family, (_, schema) in FAMILIES.items():
        store.store(group="agent_schema", name=family, node=schema)


def checked(schema: type, data: Any, where: str) -> Any:
    """``data`` merged into ``schema`` and back to plain data: an unknown key, a wrong type
    or a missing required value fails with one line naming the key (a ``+key=...``
    override gets past Hydra's own check; this one it does not)."""
    for key, item_schema in _record_lists(schema).items():  # items first: keys with index
        items = data.get(key) if isinstance(data, Mapping) else None
        for i, item in enumerate(items if isinstance(items, (list, tuple)) else ()):
            if isinstance(item, Mapping):
                checked(item_schema, item, f"{where}.{key}[{i}]")
    try:
        node = OmegaConf.merge(OmegaConf.structured(schema), data)
        return OmegaConf.to_container(node, resolve=True, throw_on_missing=True)
    except OmegaConfBaseException as err:
        raise ValueError(problem(err, where)) from None


def _record_lists(schema: type) -> dict[str, type]:
    """The fields of ``schema`` that hold lists of records: name -> the record's schema."""
    out = {}
    for name, hint in typing.get_type_hints(schema).items():
        args = typing.get_args(hint)
        inner = args[0] if type(None) in args else hint  # Optional[X] -> X
        if typing.get_origin(inner) is list and dataclasses.is_dataclass(typing.get_args(inner)[0]):
            out[name] = typing.get_args(inner)[0]
    return out


def problem(err: OmegaConfBaseException, where: str = "") -> str:
    """An OmegaConf error in one line: ``key: what is wrong; allowed: ...``."""
    key = ".".join(k for k in (where, str(getattr(err, "full_key", "") or "")) if k)
    key = key.replace(".[", "[")
    message = (getattr(err, "msg", None) or str(err)).splitlines()[0]
    if isinstance(err, MissingMandatoryValue):
        return f"{key}: missing; allowed: a value"
    owner = getattr(err, "object_type", None)
    unknown = isinstance(err, (ConfigKeyError, ConfigAttributeError))
    if unknown and dataclasses.is_dataclass(owner):
        names = [f.name for f in dataclasses.fields(owner)]
        close = difflib.get_close_matches(key.rsplit(".", 1)[-1], names, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return f"{key}: unknown key{hint}; allowed: {', '.join(names)}"
    return f"{key}: {message}"
