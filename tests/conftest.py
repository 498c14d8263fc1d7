"""Shared fixtures: small scenarios that run in well under a second."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import settings

from sim import Scenario, Simulation, presets
from sim.observe import observed_status
from sim.simulation import Decision

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


def every_28_days(offer: int) -> Callable[[Simulation, int], Decision | None]:
    """The golden outputs' campaign: ``offer`` to every user seen as inactive or churned on
    days 0, 28, 56, ... while the scenario's calendar keeps its weekly epochs (a schedule
    of its own, as a team's campaign calendar would be)."""

    def policy(sim: Simulation, day: int) -> Decision | None:
        if day % 28:
            return None
        users = np.flatnonzero(observed_status(sim.pop, slice(None), day, sim.scenario) > 0)
        return users, np.full(users.size, offer)

    return policy


def button(at: Any, label: str) -> Any:
    """The button of a Streamlit ``AppTest`` with this label."""
    return next(b for b in at.button if b.label == label)


def wait(job: Any, seconds: float = 120) -> Any:
    """The status of an app job (``experiments.app.jobs``) once it stops running."""
    from experiments.app import jobs

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        status = jobs.status(job)
        if status.state != "running":
            return status
        time.sleep(0.3)
    raise TimeoutError(job.folder)
