"""Agent config nodes (``conf/agent/``): every node checked before any agent is built or
trained (importable ``_target_``, known keyword names, the target's own ``validate``, offer
names in the catalogue); ``offer: all`` on a blanket policy becomes one node per offer."""

from __future__ import annotations

import inspect
import sys
from typing import Any

from sim.offers import Catalogue


def expand_agents(nodes: dict[str, Any], catalogue: Catalogue) -> dict[str, dict[str, Any]]:
    """Validate agent nodes; ``offer: all`` on a blanket policy becomes one per offer.

    A mapping without ``_target_`` holds parameters for an agent that was not selected (an
    experiment sets them for agents you may have left out): skipped, with a note."""
    out: dict[str, dict[str, Any]] = {}
    for name, node in nodes.items():
        if isinstance(node, dict) and node and "_target_" not in node:
            print(
                f"note: agent.{name} has parameters but is not selected; ignored", file=sys.stderr
            )
            continue
        if not isinstance(node, dict) or "_target_" not in node:
            raise ValueError(
                f"agent.{name}: {node!r}; allowed: a mapping with _target_ (an importable "
                "class or function) and its keyword arguments"
            )
        if node["_target_"].endswith("Blanket") and node.get("offer") == "all":
            for offer in catalogue.names:
                out[f"blanket_{offer}"] = {**node, "offer": offer, "name": f"blanket_{offer}"}
        else:
            target = resolve_target(name, node["_target_"])
            for key in getattr(target, "OFFER_FIELDS", ()):
                if key in node and node[key] not in catalogue.names:
                    raise ValueError(
                        f"agent.{name}.{key}: {node[key]!r}; allowed: an offer of the "
                        "catalogue: " + ", ".join(catalogue.names)
                    )
            out[name] = dict(node)
    for name, node in out.items():  # every agent checked before any is built or trained
        check_agent_node(name, node)
    if not out:
        raise ValueError("agent: no agent selected; allowed: at least one of conf/agent/")
    return out


def resolve_target(name: str, path: Any) -> Any:
    """The class or function an agent node's ``_target_`` names."""
    from hydra.utils import get_method

    try:
        return get_method(str(path))
    except Exception as err:  # hydra wraps import errors of every kind
        cause = str(err).splitlines()[0]
        raise ValueError(
            f"agent.{name}._target_: {path!r} cannot be imported ({cause}); allowed: an "
            "importable class or function, e.g. agents.reference.Playbook"
        ) from None


def check_agent_node(name: str, node: dict[str, Any]) -> None:
    """Importable target, known keyword names, and the target's own ``validate`` (ours have
    one: value checks that take microseconds, so a bad value fails before any training)."""
    target = resolve_target(name, node["_target_"])
    kwargs = {k: v for k, v in node.items() if not k.startswith("_")}
    try:
        params = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for key in kwargs:
        if key not in params and not takes_any:
            allowed = [p for p in params if p not in ("self", "scenario", "catalogue")]
            raise ValueError(
                f"agent.{name}.{key}: unknown parameter of {node['_target_']}; allowed: "
                + ", ".join(allowed)
            )
    validate = getattr(target, "validate", None)
    if callable(validate):
        try:
            validate(**kwargs)
        except ValueError as err:
            raise ValueError(f"agent.{name}.{err}") from None
