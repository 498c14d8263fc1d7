"""The app's jobs: a winback command run in a detached process, its state read back from its
folder (after a reload too), cancelled as a whole process group, one session's jobs never
shown to another; progress read from the log's tqdm bars."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from experiments.app import jobs
from experiments.app.jobs import Job, Status

SIMULATE = ("simulate", "--users", "2000", "--days", "60", "--json")
SESSION, OTHER = "session-a1", "session-b2"


def wait(job: Job, timeout: float = 90.0) -> Status:
    """The job's status once it is no longer running."""
    deadline = time.monotonic() + timeout
    while (state := jobs.status(job)).state == "running":
        if time.monotonic() > deadline:
            jobs.cancel(job)
            pytest.fail(f"{job.command} still running after {timeout} s:\n{state.log_tail}")
        time.sleep(0.1)
    return state


def group_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_a_job_that_finishes_and_reads_the_same_after_a_reload(tmp_path: Path) -> None:
    folder = jobs.new_folder(tmp_path, SESSION, "compare")
    job = jobs.start("compare", SIMULATE, folder, SESSION)
    assert job.pid > 0 and job.folder == folder.resolve()
    assert job.command == "winback simulate --users 2000 --days 60 --json"
    done = wait(job)
    assert (done.state, done.returncode, done.error) == ("finished", 0, None)
    log = (folder / "app.log").read_text()
    assert log.startswith("$ winback simulate --users 2000") and '"incremental_profit"' in log
    assert (folder / "job.exit").read_text().strip() == "0"
    assert done.step.startswith("streaming x2,000") and done.fraction == 1.0

    again = jobs.load(folder)  # a new session, or the app started again
    assert again == job and again is not job
    assert jobs.status(again) == done
    jobs.cancel(again)  # an ended job is left as it is
    assert jobs.status(again).state == "finished"
    assert not (folder / "job.cancelled").exists()


def test_a_job_that_fails_says_why(tmp_path: Path) -> None:
    folder = jobs.new_folder(tmp_path, SESSION, "benchmark")
    job = jobs.start("benchmark", ("benchmark", "scenario.users=-5"), folder, SESSION)
    done = wait(job)
    assert done.state == "failed" and done.returncode not in (0, None)
    assert done.error is not None
    assert done.error.startswith("winback: error: scenario.users: -5 is not allowed")


def test_cancel_stops_the_whole_process_group(tmp_path: Path) -> None:
    folder = jobs.new_folder(tmp_path, SESSION, "compare")
    long = ("simulate", "--users", "200000", "--days", "365", "--json")  # > 20 s when run
    job = jobs.start("compare", long, folder, SESSION)
    time.sleep(1.0)
    assert jobs.status(job).state == "running"
    began = time.monotonic()
    jobs.cancel(job)
    assert time.monotonic() - began < 5
    assert group_gone(job.pid, timeout=5)
    state = jobs.status(job)
    assert state.state == "cancelled"
    assert jobs.status(jobs.load(folder) or job).state == "cancelled"  # after a reload too


def test_cancel_kills_a_group_that_ignores_sigterm(tmp_path: Path) -> None:
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    runner = subprocess.Popen([sys.executable, "-c", stubborn], start_new_session=True)
    jobs._RUNNERS[runner.pid] = runner  # as start() keeps it: reaped once it ends
    started = datetime.now().astimezone().isoformat()
    job = Job(folder=tmp_path, kind="plan", session=SESSION, argv=("plan",), started=started, pid=0)
    job = replace(job, pid=runner.pid)
    time.sleep(0.5)  # its SIGTERM handler is in place
    began = time.monotonic()
    jobs.cancel(job)
    assert jobs.KILL_AFTER <= time.monotonic() - began < jobs.KILL_AFTER + 2
    assert group_gone(job.pid, timeout=1) and runner.returncode == -signal.SIGKILL
    assert jobs.status(job).state == "cancelled"


def test_a_runner_gone_without_an_exit_code_is_lost(tmp_path: Path) -> None:
    folder = tmp_path / SESSION / "x"
    folder.mkdir(parents=True)
    started = datetime.now().astimezone().isoformat()
    job = Job(folder=folder, kind="plan", session=SESSION, argv=("plan",), started=started, pid=0)
    jobs.save(replace(job, pid=2**22 + 12345))  # beyond any pid: its runner is gone
    state = jobs.status(jobs.load(folder) or job)
    assert state.state == "lost" and state.returncode is None and state.error


def test_sessions_never_see_each_others_jobs_and_folders_never_collide(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    second = datetime(2030, 1, 2, 3, 4, 5).astimezone()
    monkeypatch.setattr(jobs, "_now", lambda: second)  # every folder made in the same second
    help_ = ("simulate", "--help")
    mine = [jobs.start("sweep", help_, jobs.new_folder(tmp_path, SESSION, "sweep"), SESSION)]
    mine.append(jobs.start("sweep", help_, jobs.new_folder(tmp_path, SESSION, "sweep"), SESSION))
    theirs = jobs.start("sweep", help_, jobs.new_folder(tmp_path, OTHER, "sweep"), OTHER)
    names = [j.folder.name for j in mine]
    assert names == ["2030-01-02_03-04-05-sweep", "2030-01-02_03-04-05-sweep-2"]
    assert theirs.folder.parent.name == OTHER
    assert jobs.new_folder(tmp_path, SESSION, "sweep").name == "2030-01-02_03-04-05-sweep-3"

    assert jobs.jobs_of(tmp_path, SESSION) == mine[::-1]  # newest first
    assert jobs.jobs_of(tmp_path, OTHER) == [theirs]
    assert jobs.jobs_of(tmp_path, "session-c3") == []
    with pytest.raises(ValueError, match=r"folder: .* holds a job already"):
        jobs.start("sweep", help_, mine[0].folder, SESSION)  # a folder is one job's
    for job in [*mine, theirs]:
        assert wait(job).state == "finished"


@pytest.mark.parametrize("session", ["../../etc", "abc", "a/b/c/d/e", "x" * 65, "séance", ""])
def test_a_bad_session_id_is_refused(tmp_path: Path, session: str) -> None:
    for call in (
        lambda: jobs.check_session(session),
        lambda: jobs.jobs_of(tmp_path, session),
        lambda: jobs.new_folder(tmp_path, session, "plan"),
        lambda: jobs.start("plan", ("plan",), tmp_path / "f", session),
    ):
        with pytest.raises(ValueError, match=r"^session: .* allowed: 6 to 64 characters"):
            call()
    assert not (tmp_path / "f").exists()


def test_bad_kind_and_argv_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^kind: 'nap' is not allowed; allowed: one of"):
        jobs.new_folder(tmp_path, SESSION, "nap")
    with pytest.raises(ValueError, match=r"^argv: 'simulate --json' is not allowed"):
        jobs.start("compare", "simulate --json", tmp_path / "f", SESSION)
    with pytest.raises(ValueError, match=r"^argv: \(\) is not allowed"):
        jobs.start("compare", (), tmp_path / "f", SESSION)


def test_load_of_a_folder_without_a_readable_job_is_none(tmp_path: Path) -> None:
    assert jobs.load(tmp_path) is None
    assert jobs.load(tmp_path / "missing") is None
    (tmp_path / "job.json").write_text('{"kind": "plan"')
    assert jobs.load(tmp_path) is None
    (tmp_path / "job.json").write_text('{"kind": "plan"}')
    assert jobs.load(tmp_path) is None


BARS = (
    "building uplift (agents.train_uplift) in streaming\n"
    "simulating every offer for 20,000 users:   0%|          | 0/10 [00:00<?, ?it/s]"
    "\rsimulating every offer for 20,000 users:  60%|██████    | 6/10 [00:03<00:02,  2.0it/s]"
)
EVALUATING = (
    "\revaluating:   0%|          | 0/15 [00:00<?, ?run/s]"
    "\revaluating:  40%|████      | 6/15 [00:01<00:02,  4.98run/s, seed 1: uplift]"
    "\revaluating:  47%|████▋     | 7/15 [00:01<00:01,  4.98run/s, seed 2: pain_point_rule]"
)


def test_progress_from_tqdm_redraws_in_the_log() -> None:
    lines = jobs.collapse(BARS)
    assert lines[-1].startswith("simulating every offer for 20,000 users:  60%")
    assert jobs.progress(lines) == (0.6, "building uplift: simulating every offer for 20,000 users")

    lines = jobs.collapse(BARS + "\n" + EVALUATING + "\n")
    assert len(lines) == 3 and "\r" not in "".join(lines)
    fraction, step = jobs.progress(lines)
    assert fraction == pytest.approx(7 / 15)
    assert step == "evaluating: seed 2: pain_point_rule"

    fraction, step = jobs.progress(
        jobs.collapse("pretraining thompson: 100%|██████████| 10/10 [x]")
    )
    assert (fraction, step) == (1.0, "pretraining thompson")
    scaled = "training ppo:  25%|██▌       | 12.5k/50.0k [00:10<00:30, 1.2kstep/s]"
    assert jobs.progress(jobs.collapse(scaled)) == (0.25, "training ppo")
    assert jobs.progress(jobs.collapse("loading...\nno bar here\n")) == (None, "")


def test_progress_of_a_stress_test_counts_worlds() -> None:
    log = "world 3 (3 of 20): demand x1.10\n"
    assert jobs.progress(jobs.collapse(log)) == (0.15, "world 3 of 20")
    fraction, step = jobs.progress(jobs.collapse(log + EVALUATING))
    assert fraction == 0.15  # the bars after a world line are that world's
    assert step == "world 3 of 20: evaluating: seed 2: pain_point_rule"


def test_progress_of_winback_ope_names_its_steps() -> None:
    log = (
        "log: 885 decisions (npz) from log.npz\n"
        "building playbook (agents.reference.Playbook) in streaming\n"
        "fitting the reward model (cross-fitted gradient boosting)\n"
    )
    assert jobs.progress(jobs.collapse(log)) == (None, "fitting the reward model")
    later = log + "simulating playbook on streaming (--predict)\n"
    assert jobs.progress(jobs.collapse(later)) == (None, "simulating playbook on streaming")
    made = "logging uniform's decisions for 1,500 customers, 84 days\n"
    assert jobs.progress(jobs.collapse(made)) == (None, "logging uniform's decisions")


def test_status_reads_only_the_end_of_a_long_log(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("".join(f"line {i}\n" for i in range(100_000)) + EVALUATING)
    tail = jobs.read_tail(log)
    assert len(tail.encode()) <= jobs.TAIL_BYTES and tail.startswith("line ")
    lines = jobs.collapse(tail)
    assert lines[-2] == "line 99999" and jobs.progress(lines)[0] == pytest.approx(7 / 15)
