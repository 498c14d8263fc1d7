"""Sweeps: --multirun with the joblib launcher gives the same result files as serial runs, a
sweep killed half-way and restarted re-runs only unfinished runs, and the aggregator collects
a sweep folder into one table and plot."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pandas as pd
import pytest

BASE = [
    "agent=[no_offer,playbook,pain_point_rule,random]",
    "scenario.users=600",
    "scenario.days=35",
    "seeds=[1,2]",
    "progress=false",
]
RESULTS = ("tidy.parquet", "leaderboard.csv", "summary.json", "offer_mix.parquet")


def winback(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "HYDRA_FULL_ERROR": "1"}
    cmd = [sys.executable, "-m", "experiments.cli", *args]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)


def finish(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=600)
    text = out.decode()
    assert proc.returncode == 0, text
    return text


def test_joblib_sweep_equals_serial_runs_bit_for_bit(tmp_path) -> None:
    sweep = ["scenario=streaming,price_shock", "agent.random.seed=0,5"]
    finish(winback("benchmark", "-m", *BASE, *sweep, f"hydra.sweep.dir={tmp_path / 'serial'}"))
    finish(
        winback(
            "benchmark", "-m", *BASE, *sweep, f"hydra.sweep.dir={tmp_path / 'joblib'}",
            "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
        )
    )  # fmt: skip
    for job in range(4):
        for name in RESULTS:
            a = (tmp_path / "serial" / str(job) / name).read_bytes()
            b = (tmp_path / "joblib" / str(job) / name).read_bytes()
            assert a == b, f"job {job}: {name} differs between serial and joblib"


def test_killed_sweep_resumes_without_rerunning_finished_runs(tmp_path) -> None:
    sweep_dir = tmp_path / "sweep"
    args = ["benchmark", "-m", *BASE, "agent.random.seed=0,1,2,3", f"hydra.sweep.dir={sweep_dir}"]
    proc = winback(*args)
    first = sweep_dir / "0" / "summary.json"
    deadline = time.time() + 300
    while not (sweep_dir / "0" / "report.html").exists() and time.time() < deadline:
        time.sleep(0.2)
    proc.kill()  # half-way: run 0 finished (summary and report), later runs not
    proc.communicate()
    assert first.exists()
    stamp = first.stat().st_mtime_ns
    unfinished = [j for j in range(4) if not (sweep_dir / str(j) / "report.html").exists()]
    assert unfinished, "the sweep finished before it could be killed"
    text = finish(winback(*args))
    assert first.stat().st_mtime_ns == stamp  # not re-run
    assert text.count("already finished, skipped") == 4 - len(unfinished)
    for j in range(4):
        assert (sweep_dir / str(j) / "summary.json").exists()

    from experiments.jobs.aggregate import aggregate

    table, _ = aggregate(sweep_dir)
    assert len(table) == 4 * 4  # runs x agents
    assert sorted(set(table["agent.random.seed"])) == [0, 1, 2, 3]  # one column per swept key
    assert (sweep_dir / "sweep.png").stat().st_size > 5000
    assert pd.read_csv(sweep_dir / "sweep.csv").shape[0] == 16


@pytest.mark.slow
def test_ray_launcher_equals_serial_bit_for_bit(tmp_path) -> None:
    pytest.importorskip("hydra_plugins.hydra_ray_launcher", reason="pip install -e '.[ray]'")
    sweep = ["scenario=streaming,price_shock"]
    finish(winback("benchmark", "-m", *BASE, *sweep, f"hydra.sweep.dir={tmp_path / 'serial'}"))
    finish(
        winback(
            "benchmark", "-m", *BASE, *sweep, f"hydra.sweep.dir={tmp_path / 'ray'}",
            "hydra/launcher=ray_local",
        )
    )  # fmt: skip
    for job in range(2):
        for name in RESULTS:
            a = (tmp_path / "serial" / str(job) / name).read_bytes()
            b = (tmp_path / "ray" / str(job) / name).read_bytes()
            assert a == b, f"job {job}: {name} differs between serial and Ray"
