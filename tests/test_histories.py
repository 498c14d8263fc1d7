"""Encoded histories in groups of customers: encoding a plan's customers group by group and
joining them, or splitting an encoding into groups and joining them back, gives the
encoding made at once (fixed seed)."""

from __future__ import annotations

import numpy as np
import pytest

from sim import presets
from sim.calibration import histories, validate_events
from sim.calibration.eventlog import SIMULATED
from sim.calibration.histories import Histories, encode, join, split
from sim.calibration.spells import subscription_spells
from sim.calibration.subscriptions import censor, coded, plain, session_days
from sim.records import simulated_log


@pytest.fixture(scope="module")
def plan_inputs():
    """One plan's spells and session days from a simulated streaming log (400 customers
    over a year, sessions)."""
    raw = simulated_log(presets.streaming(n_users=400, horizon_days=365), 3)
    log = validate_events(raw, "simulated", limits=SIMULATED)
    spells = censor(coded(plain(subscription_spells(log), ("plan", "billing", "reason"))), log.end)
    sessions = session_days(log, log.end)
    users = spells.user_id[spells.plan == spells.plan.iloc[0]].unique()
    seen = sessions[sessions.user_id.isin(users)]
    return spells[spells.user_id.isin(users)], seen, log.window_start, log.end


def same(a: Histories, b: Histories) -> None:
    for name, value in vars(a).items():
        other = getattr(b, name)
        if isinstance(value, np.ndarray):
            assert value.dtype == other.dtype, name
            np.testing.assert_array_equal(value, other, err_msg=name)
        else:
            assert value == other, name


def test_encoding_in_groups_is_encoding_at_once(plan_inputs, monkeypatch) -> None:
    once = encode(*plan_inputs)
    monkeypatch.setattr(histories, "ENCODE_DAYS", 500)
    grouped = encode(*plan_inputs)
    assert once.sessions and once.order_kind.size > 5 * 500  # several groups
    assert once.lapsed_spell.size > 0  # customers cancelled at the start, no history
    same(grouped, once)


@pytest.mark.parametrize("days", [1, 300, 10**9])
def test_split_then_join_is_the_encoding(plan_inputs, days) -> None:
    h = encode(*plan_inputs)
    parts = list(split(h, days))
    assert sum(p.n for p in parts) == h.n and (len(parts) == 1) == (days == 10**9)
    same(join(parts), h)
