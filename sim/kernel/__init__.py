"""Compiled per-user kernels (numba): the simulator's hot paths over the population arrays.

The population stays a struct of numpy arrays; each kernel loops over users in compiled
code, so one user costs what one user should (the single per-user environment) and a
million users cost no temporaries (the batched environments and the simulator). Every
environment and every simulation runs these same kernels.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable
from typing import Any


def arrays_of(names: Iterable[str], *sources: Any) -> tuple[Any, ...]:
    """The field ``name`` of the first of ``sources`` (dataclass instances) that has it, for
    each of ``names`` in order: the plain tuple of arrays a kernel takes (and names again
    inside). Read from the instances' ``__dict__``: a simulation's set-up makes several."""
    fields: dict[str, Any] = {}
    for source in reversed(sources):
        fields.update(vars(source))
    return tuple(map(fields.__getitem__, names))


def named_tuple(name: str, fields: tuple[str, ...], module: str) -> Any:
    """The named-tuple type ``name`` of module ``module`` with ``fields``: how a kernel names
    the plain tuple of arrays it is handed."""
    return namedtuple(name, fields, module=module)
