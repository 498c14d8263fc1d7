"""Parameter checks that raise ``ValueError`` naming the key, the value and what is allowed.

Every typed object of ``sim/`` validates itself at construction with these helpers, so bad
input fails before any simulation work starts. Never ``assert`` for validation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_probability(key: str, value: Any) -> float:
    """A probability in [0, 1]."""
    if not _is_number(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{key}: {value!r} is not a probability; allowed: a number in [0, 1]")
    return float(value)


def check_nonnegative(key: str, value: Any) -> float:
    """A cost, rate or amount: a finite number >= 0."""
    if not _is_number(value) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{key}: {value!r} is not allowed; expected a finite number >= 0")
    return float(value)


def check_positive(key: str, value: Any) -> float:
    """A strictly positive finite number (a rate scale, a half-life)."""
    if not _is_number(value) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{key}: {value!r} is not allowed; expected a finite number > 0")
    return float(value)


def check_int(key: str, value: Any, low: int, high: int | None = None) -> int:
    """An integer in [low, high] (high open-ended when None)."""
    ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high):
        upper = "" if high is None else f" and <= {high}"
        raise ValueError(f"{key}: {value!r} is not allowed; expected an integer >= {low}{upper}")
    return int(value)


def check_choice(key: str, value: Any, allowed: Iterable[str]) -> str:
    """One of a fixed set of names."""
    options = list(allowed)
    if value not in options:
        raise ValueError(f"{key}: {value!r} is unknown; allowed: {', '.join(map(str, options))}")
    return str(value)


def check_day(key: str, value: Any, horizon_days: int) -> int:
    """A day inside the horizon [0, horizon_days)."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < horizon_days:
        raise ValueError(
            f"{key}: {value!r} is outside the horizon; allowed: an integer day in "
            f"[0, {horizon_days - 1}]"
        )
    return int(value)


def check_distribution(key: str, mix: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """A mapping of known names to probabilities that sum to 1 (within 1e-6)."""
    options = list(allowed)
    if not mix:
        raise ValueError(f"{key}: empty; expected probabilities over {', '.join(options)}")
    for name, p in mix.items():
        check_choice(f"{key} key", name, options)
        check_probability(f"{key}.{name}", p)
    total = float(sum(mix.values()))
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"{key}: probabilities sum to {total:.6g}; they must sum to 1")
