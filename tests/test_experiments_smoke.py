"""Every experiment config of ``conf/experiment/`` runs end to end at a tiny size (slow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CONF = Path(__file__).parents[1] / "conf" / "experiment"
EXPERIMENTS = sorted(p.stem for p in CONF.glob("*.yaml"))
TINY = {
    "quick": [
        "scenario.users=800",
        "scenario.days=28",
        "agent.thompson.pretrain_users=512",
        "agent.linucb.pretrain_users=512",
        "agent.maskable_ppo.total_timesteps=2048",
        "agent.maskable_ppo.num_envs=8",
        "agent.maskable_ppo.eval_every=1024",
        "agent.maskable_ppo.eval_users=50",
    ],
    "retail": [
        "'agent=[no_offer,playbook,pain_point_rule,blanket]'",
        "scenario.users=800",
        "scenario.days=28",
    ],
    "cdnow": [
        "'agent=[no_offer,playbook,pain_point_rule,blanket]'",
        "scenario.users=800",
        "scenario.days=28",
    ],
    "signal_value": [
        "scenario.users=600",
        "scenario.days=28",
        "seeds=[1,2]",
        "agent.thompson.pretrain_users=512",
        "agent.thompson_scored.pretrain_users=512",
        "agent.thompson_scored.reason_train_users=2000",
        "agent.playbook_scored.train_users=2000",
        "agent.linucb.pretrain_users=512",
        "agent.uplift.users=1024",
        "agent.full_information.reps=2",
        "agent.maskable_ppo.total_timesteps=2048",
        "agent.maskable_ppo.num_envs=8",
        "agent.maskable_ppo.eval_every=1024",
        "agent.maskable_ppo.eval_users=50",
        "hydra.launcher.n_jobs=1",
    ],
    "sweep_budget": [
        "scenario.users=600",
        "scenario.days=28",
        "seeds=[1]",
        "agent.thompson.pretrain_users=512",
    ],
}


def winback(args: list[str], tmp: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "experiments.cli", *[a.strip("'") for a in args]]
    env = {**os.environ, "HYDRA_FULL_ERROR": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env, cwd=tmp)


@pytest.mark.slow
@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_runs_end_to_end(name, tmp_path) -> None:
    if name.startswith("tune_"):
        args = ["tune", "--out", str(tmp_path / "tune"), f"experiment={name}"]
        args += ["scenario.users=500", "scenario.days=28", "tune.trials=2"]
        args += [f"tune.storage=sqlite:///{tmp_path / 'study.db'}"]
        args += ["agent.thompson.pretrain_users=512", "tune.space.pretrain_users.high=2048"]
        done = winback(args, tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        assert json.loads((tmp_path / "tune" / "best.json").read_text())["trials"] == 2
        return
    sweep = "sweeper:" in (CONF / f"{name}.yaml").read_text()
    args = ["benchmark", *(["-m"] if sweep else []), f"experiment={name}", *TINY[name]]
    args.append(f"hydra.{'sweep' if sweep else 'run'}.dir={tmp_path / 'out'}")
    done = winback(args, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    summaries = list((tmp_path / "out").rglob("summary.json"))
    assert len(summaries) == (6 if sweep else 1)
    for s in summaries:
        assert (s.parent / "report.html").exists()
    if name == "signal_value":  # the evidence read from the sweep
        from experiments.evidence.signal_value import signal_value

        table = signal_value(tmp_path / "out")
        assert table.signals.nunique() == 6
        assert table.vs_all_signals.notna().sum() == 5 * table.agent.nunique()
