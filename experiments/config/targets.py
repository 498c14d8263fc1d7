"""Which ``_target_`` a config may name: configs are shared, so they must not run code of
their choosing (``pandas.read_pickle`` on a crafted file runs a shell command).

Allowed: the project's own agent factories and classes (``agent_schemas.FAMILIES``), Hydra's
own launchers and sweepers under ``hydra:``, and anything inside a module the user names
explicitly on the command line (``--trust MODULE``: ``--trust examples.byop`` allows
``examples.byop.RecencyRules``). Checked on the composed config before anything is imported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from experiments.config.agent_schemas import FAMILIES

OWN_TARGETS = tuple(sorted(target for target, _ in FAMILIES.values()))
HYDRA_TARGETS = ("hydra._internal.core_plugins.", "hydra_plugins.")
"""Prefixes of the launchers and sweepers Hydra itself (or a plugin) provides."""
HYDRA_OWN = "Hydra's own launchers and sweepers (hydra._internal.core_plugins.*, hydra_plugins.*)"
MODULE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def check_module_names(modules: Iterable[str]) -> tuple[str, ...]:
    """``--trust`` values: dotted module names."""
    out = tuple(modules)
    for m in out:
        if not MODULE.fullmatch(m):
            raise ValueError(f"--trust: {m!r}; allowed: a module name such as examples.byop")
    return out


def allowed(target: Any, trusted: Iterable[str], hydra_node: bool = False) -> bool:
    if not isinstance(target, str):
        return False
    if target in OWN_TARGETS or any(target.startswith(f"{m}.") for m in trusted):
        return True
    return hydra_node and target.startswith(HYDRA_TARGETS)


def check_targets(node: Any, trusted: Iterable[str], where: str = "") -> None:
    """Every ``_target_`` in ``node`` (at any depth) is allowed; else one line naming the
    key, the value and what is allowed."""
    if isinstance(node, Mapping):
        items = [(f"{where}.{k}" if where else str(k), k, v) for k, v in node.items()]
    elif isinstance(node, (list, tuple)):
        items = [(f"{where}[{i}]", i, v) for i, v in enumerate(node)]
    else:
        return
    trusted = tuple(trusted)
    for path, key, value in items:
        hydra_node = path.startswith("hydra.")
        if key == "_target_" and not allowed(value, trusted, hydra_node):
            own = HYDRA_OWN if hydra_node else f"the project's agents ({', '.join(OWN_TARGETS)})"
            raise ValueError(
                f"{path}: {value!r} is not allowed; allowed: {own} or a module you trust on "
                "the command line (--trust MODULE)"
            )
        check_targets(value, trusted, path)
