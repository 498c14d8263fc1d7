"""Strict JSON for result files: what any parser reads (no NaN or Infinity tokens)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np


def strict_json(value: Any, indent: int | None = None) -> str:
    """JSON any parser reads: numpy numbers as plain ones, NaN and infinities as null."""

    def clean(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if isinstance(v, (np.bool_, bool)):
            return bool(v)
        if isinstance(v, (int, np.integer)):
            return int(v)
        if isinstance(v, (float, np.floating)):
            return float(v) if np.isfinite(v) else None
        return v

    return json.dumps(clean(value), indent=indent, allow_nan=False, default=str)
