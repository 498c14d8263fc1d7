"""Agent config nodes (``conf/agent/``) -> checked keyword nodes, every one before any agent
is built or trained.

In order: every ``_target_`` is allowed (``targets.py``, before anything is imported); a
node of the project's own agents matches its family's schema (``agent_schemas.py``: also
what a ``+agent.x.key=...`` override slipped past Hydra's check); keys left ``None`` are
dropped (the target's default applies); a node of your own has keyword names the target
accepts; offer names are in the catalogue (the one cross-field rule); and the target's own
``validate`` checks the values. ``offer: all`` on a blanket policy becomes one node per
offer. A mapping without ``_target_`` holds parameters for an agent that was not selected
(an experiment sets them for agents you may have left out): skipped, with a note.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from agents.base import FixedPolicy, check_params
from experiments.config.agent_schemas import FAMILIES
from experiments.config.schema import checked
from experiments.config.targets import check_targets
from sim.offers import Catalogue

SCHEMA_OF = {target: schema for target, schema in FAMILIES.values()}
BLANKET = FAMILIES["blanket"][0]
PASSED = ("self", "scenario", "catalogue")
"""Parameters no config sets: the benchmark passes its scenario and catalogue itself."""


def expand_agents(
    nodes: dict[str, Any], catalogue: Catalogue, trusted: Iterable[str] = (), notes: bool = True
) -> dict[str, dict[str, Any]]:
    """The selected agent nodes, checked (see the module docstring)."""
    selected = {}
    for name, node in nodes.items():
        if isinstance(node, dict) and node and "_target_" not in node:
            if notes:
                print(
                    f"note: agent.{name} has parameters but is not selected; ignored",
                    file=sys.stderr,
                )
        elif not isinstance(node, dict) or "_target_" not in node:
            raise ValueError(
                f"agent.{name}: {node!r}; allowed: a mapping with _target_ (an importable "
                "class or function) and its keyword arguments"
            )
        else:
            selected[name] = node
    if not selected:
        raise ValueError("agent: no agent selected; allowed: at least one of conf/agent/")
    check_targets(selected, trusted, "agent")  # before any import
    out: dict[str, dict[str, Any]] = {}
    for name, node in selected.items():
        node = typed(name, node)
        if node["_target_"] == BLANKET and node.get("offer") == "all":
            for offer in catalogue.names:
                out[f"blanket_{offer}"] = {**node, "offer": offer, "name": f"blanket_{offer}"}
        else:
            out[name] = node
    for name, node in out.items():
        check_agent_node(name, node, catalogue)
    return out


def typed(name: str, node: dict[str, Any]) -> dict[str, Any]:
    """A node of the project's own agents checked against its schema; ``None`` keys out."""
    schema = SCHEMA_OF.get(node["_target_"])
    if schema is not None:
        node = checked(schema, node, f"agent.{name}")
    return {k: v for k, v in node.items() if v is not None}


def check_agent_node(name: str, node: dict[str, Any], catalogue: Catalogue) -> None:
    """Keyword names (a node of your own), offer names (given or default), and ``validate``
    (ours have one: checks that take microseconds, so a bad value fails before training)."""
    target = resolve_target(name, node["_target_"])
    kwargs = {k: v for k, v in node.items() if not k.startswith("_")}
    if node["_target_"] not in SCHEMA_OF:
        check_keywords(name, node["_target_"], target, kwargs)
    if isinstance(target, type):  # a class: what it builds must be an agent
        missing = [
            m for m in ("act", "update", "describe") if not callable(getattr(target, m, None))
        ]
        if missing:
            raise ValueError(
                f"agent.{name}._target_: {node['_target_']!r} has no {missing[0]}(); allowed: "
                "a class with act(obs, mask, ctx), update(obs, actions, rewards) and describe()"
            )
    given = dict(kwargs)
    if isinstance(target, type) and issubclass(target, FixedPolicy):  # its default offers too
        params = parameters(target)
        given = {k: p.default for k, p in params.items() if p.default is not p.empty} | kwargs
    try:  # the target's own declared checks (agents.base.Checked)
        check_params(target, catalogue, given)
    except ValueError as err:
        key = str(err).split(":", 1)[0]
        how = "" if key in kwargs or key not in given else " (its default; set it in the config)"
        raise ValueError(f"agent.{name}.{err}{how}") from None


def check_keywords(name: str, path: str, target: Any, kwargs: dict[str, Any]) -> None:
    """Every required parameter of ``target`` is given, and every keyword is one of its
    parameters (unless it takes ``**kwargs``)."""
    params = parameters(target)
    missing = [
        k
        for k, p in params.items()
        if p.default is p.empty
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and k not in kwargs
        and k not in PASSED
    ]
    if missing:
        raise ValueError(
            f"agent.{name}.{missing[0]}: missing; allowed: a value for every required "
            f"parameter of {path} ({', '.join(missing)})"
        )
    if not params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    for key in kwargs:
        if key not in params:
            allowed = [p for p in params if p not in PASSED]
            raise ValueError(
                f"agent.{name}.{key}: unknown parameter of {path}; allowed: " + ", ".join(allowed)
            )


def parameters(target: Any) -> Mapping[str, inspect.Parameter]:
    """``target``'s parameters (none known for builtins)."""
    try:
        return inspect.signature(target).parameters
    except (TypeError, ValueError):
        return {}


def hidden_target(node: dict[str, Any]) -> bool:
    """Whether an agent node's target sees what no real policy can (``Agent.hidden``: the
    references), read from the class without building the agent."""
    return bool(getattr(resolve_target("?", node["_target_"]), "hidden", False))


def resolve_target(name: str, path: str) -> Any:
    """The class or function ``path`` names (an allowed target: ``targets.py``). An error
    inside the module is reported with its cause."""
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module = ".".join(parts[:cut])
        try:
            obj: Any = importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name is not None and module.startswith(err.name):
                continue  # not a module: a shorter prefix may be
            return _unimportable(name, path, err)
        except Exception as err:  # an error inside the module: say which
            return _unimportable(name, path, err)
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError as err:
            return _unimportable(name, path, err)
        return obj
    return _unimportable(name, path, ModuleNotFoundError(f"no module named {parts[0]!r}"))


def _unimportable(name: str, path: str, err: BaseException) -> Any:
    raise ValueError(
        f"agent.{name}._target_: {path!r} cannot be imported ({type(err).__name__}: {err}); "
        "allowed: an importable class or function, e.g. agents.reference.Playbook"
    ) from None
