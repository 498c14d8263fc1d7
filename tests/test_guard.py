"""Run folders belong to one config (refused otherwise, locked while a run works there) and
a multirun is validated whole before its first run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from experiments.config.compose import compose
from experiments.config.guard import check_folder, check_sweep, hold, sweep_runs
from experiments.config.hydra_apps import benchmark_config


def composer(overrides: list[str]):
    return compose("benchmark", overrides, multirun=True)


def validate(cfg) -> dict:
    return benchmark_config(cfg, Path("unused"), notes=False).extra["config"]


def test_sweep_runs_expand_the_command_line_and_the_config_params() -> None:
    overrides = ["experiment=sweep_budget", "scenario=streaming,price_shock"]
    runs = sweep_runs(overrides, composer(overrides).hydra.sweeper.params)
    assert len(runs) == 3 * 2 * 2
    first = [o for o in runs[0] if o.startswith(("agent.", "scenario.dynamics"))]
    assert first == [
        "agent.thompson.budget_per_period=50",
        "scenario.dynamics.deal_shock_prob=0.2",
    ]


def test_one_invalid_combination_refuses_the_whole_sweep() -> None:
    overrides = ["agent=[no_offer]", "scenario.users=100,-5,200"]
    with pytest.raises(ValueError, match=r"multirun: run 1 of 3 \(scenario.users=-5\) is invalid"):
        check_sweep(composer, validate, overrides, {})
    assert check_sweep(composer, validate, ["agent=[no_offer]", "scenario.users=100,200"], {}) == 2


def test_a_folder_with_another_configs_results_is_refused(tmp_path) -> None:
    config = {"seeds": [1, 2], "budget": math.inf}
    with hold(tmp_path, config):
        (tmp_path / "summary.json").write_text(json.dumps({"config": config}))
    check_folder(tmp_path, {"seeds": [1, 2], "budget": math.inf})  # the same: may run again
    with pytest.raises(ValueError, match="holds the results of another config"):
        check_folder(tmp_path, {"seeds": [1, 3], "budget": math.inf})
    stale = tmp_path / "stale"
    stale.mkdir()
    (stale / "tidy.parquet").write_bytes(b"results of who knows which config")
    with pytest.raises(ValueError, match=r"another config \(tidy.parquet\)"):
        check_folder(stale, config)


def test_a_folder_in_use_by_another_run_is_refused(tmp_path) -> None:
    refused = pytest.raises(ValueError, match="in use by another run")
    with hold(tmp_path, {"seeds": [1]}), refused, hold(tmp_path, {"seeds": [1]}):
        pass
