"""Per-user accounts, compiled: profit so far from the money components."""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.constants import REVENUE


@njit(cache=True, error_model="numpy", nogil=True)
def profit(money: np.ndarray) -> np.ndarray:
    """Each user's profit (revenue less every cost component) in float64, from the
    component-major float32 ``money`` (components, users) of a population."""
    out = np.empty(money.shape[1])
    for i in range(money.shape[1]):
        total = 0.0
        for c in range(money.shape[0]):
            value = float(money[c, i])
            total += value if c == REVENUE else -value
        out[i] = total
    return out


@njit(cache=True, error_model="numpy")
def out_of_range(values: np.ndarray, lo: int, hi: int) -> bool:
    """True when some value lies outside [lo, hi)."""
    for v in values:  # noqa: SIM110  (a compiled loop; numba has no any() over generators)
        if v < lo or v >= hi:
            return True
    return False
