"""Shared fixtures: small scenarios that run in well under a second."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from hypothesis import settings

from sim import Scenario, presets

# CI runs the property tests on a fixed set of examples (reproducible); locally they explore.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


def small_streaming(n_users: int = 2_000, horizon_days: int = 120, **changes) -> Scenario:
    base = presets.streaming(n_users=n_users, horizon_days=horizon_days)
    return replace(base, **{"warmup_days": 28, **changes})


@pytest.fixture
def streaming_small() -> Scenario:
    return small_streaming()


@pytest.fixture
def retail_small() -> Scenario:
    return replace(presets.retail(n_users=2_000, horizon_days=120), warmup_days=28)
