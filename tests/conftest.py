"""Shared fixtures: small scenarios that run in well under a second."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sim import Scenario, presets


def small_streaming(n_users: int = 2_000, horizon_days: int = 120, **changes) -> Scenario:
    base = presets.streaming(n_users=n_users, horizon_days=horizon_days)
    return replace(base, **{"warmup_days": 28, **changes})


@pytest.fixture
def streaming_small() -> Scenario:
    return small_streaming()


@pytest.fixture
def retail_small() -> Scenario:
    return replace(presets.retail(n_users=2_000, horizon_days=120), warmup_days=28)
