"""Golden outputs: a small fixed-seed run must reproduce the checked-in summary.

Counts must match exactly and money to 1e-6 relative. After an intended change to the model,
regenerate with ``UPDATE_GOLDEN=1 pytest tests/test_golden.py`` and say why in the commit.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from sim import Simulation, incremental, presets
from tests.conftest import every_28_days, small_streaming

GOLDEN = Path(__file__).parent / "golden" / "streaming_seed7.json"
COUNTS = (
    "messages_sent",
    "opened",
    "unsubscribes",
    "refused",
    "reactivations",
    "reactivated_users",
    "inactive_pool",
    "support_contacts",
    "users",
)


def summary() -> dict:
    scenario = small_streaming(n_users=2_000, horizon_days=120)
    catalogue = presets.streaming_offers()
    control = Simulation(scenario, catalogue, seed=7).run()
    treated = Simulation(scenario, catalogue, seed=7, policy=every_28_days(1)).run()
    occ = control.occupancy.sum(axis=2)
    return {
        "control": control.kpis,
        "discount_30_to_all_inactive": treated.kpis,
        "incremental": incremental(treated, control),
        "control_occupancy": {str(d): occ[d].tolist() for d in (0, 30, 60, 90, 120)},
    }


def _clean(obj):
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, float) and math.isnan(obj):
        return None
    return obj


def test_fixed_seed_reproduces_the_golden_summary() -> None:
    got = _clean(summary())
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    want = json.loads(GOLDEN.read_text())
    assert got["control_occupancy"] == want["control_occupancy"]
    for run in ("control", "discount_30_to_all_inactive", "incremental"):
        assert got[run].keys() == want[run].keys()
        for key, value in want[run].items():
            if value is None or key in COUNTS:
                assert got[run][key] == value, (run, key)
            else:
                assert got[run][key] == pytest.approx(value, rel=1e-6, abs=1e-9), (run, key)
