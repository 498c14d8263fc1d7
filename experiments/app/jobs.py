"""Long-running work for the app: a ``winback`` command run in a process of its own.

The rules:

* A job is one ``winback`` command (``winback <argv>``, shown as :attr:`Job.command` so it
  can be copied to a terminal) started by one browser session, in a folder of its own:
  ``<root>/<session>/<YYYY-mm-dd_HH-MM-SS>-<kind>`` (:func:`new_folder`). For a benchmark
  that folder is its results folder too. A session sees only its own jobs
  (:func:`jobs_of`), and a folder holds one job: a second start there is refused.
* The job runs in a detached runner (``python -m experiments.app.jobs FOLDER``), the leader
  of its own process group, which runs ``python -m experiments.cli <argv>`` and waits for
  it. The page never waits: it asks :func:`status` when it likes, from any session of the
  same browser tab after a reload, or from an app started again (:func:`load`).
* Everything a job is lives in its folder, each file written whole or not at all:

  - ``job.json``: the :class:`Job` (what, who, when, the runner's pid);
  - ``app.log``: the command's stdout and stderr, as a terminal would show them;
  - ``job.exit``: the command's exit code, written by the runner when it ends;
  - ``job.cancelled``: written by :func:`cancel` before it stops the process group.

* The states: ``running`` (no exit code yet, the runner alive), ``finished`` (exit code 0),
  ``failed`` (any other exit code), ``cancelled`` (``job.cancelled`` exists, whatever the
  exit code) and ``lost`` (the runner is gone and left no exit code: killed, or the
  machine restarted).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import BinaryIO

from experiments.files import write_json, write_text

KINDS = (
    "compare",
    "benchmark",
    "sweep",
    "stress",
    "plan",
    "calibrate",
    "report",
    "ope",
    "ope-log",
    "score",
)
JOB, LOG, EXIT, CANCELLED = "job.json", "app.log", "job.exit", "job.cancelled"
SESSION = re.compile(r"[A-Za-z0-9_-]{6,64}")
TAIL_BYTES = 64 * 1024  # the part of a log read for the status: logs can be long
TAIL_LINES = 30
KILL_AFTER = 3.0  # seconds between SIGTERM and SIGKILL on cancel

_RUNNERS: dict[int, subprocess.Popen[bytes]] = {}  # runners this process started (to reap)


@dataclass(frozen=True, kw_only=True)
class Job:
    """One ``winback`` command run for one session; ``job.json`` in ``folder``."""

    folder: Path  # the run's folder (for a benchmark: its results folder, hydra.run.dir)
    kind: str  # one of KINDS
    session: str  # the browser session that started it
    argv: tuple[str, ...]  # the winback arguments
    started: str  # ISO time
    pid: int  # the runner process (leader of its own process group); 0 before it is spawned

    @property
    def command(self) -> str:
        """The equivalent command line, copy-pasteable."""
        return "winback " + shlex.join(self.argv)


@dataclass(frozen=True, kw_only=True)
class Status:
    """Where a job is, read from its folder."""

    state: str  # "running", "finished", "failed", "cancelled" or "lost"
    returncode: int | None
    fraction: float | None  # progress 0..1 when the log shows one
    step: str  # what it is doing now (or last did), in words
    log_tail: str  # the log's last lines, tqdm's redraws collapsed to their last state
    error: str | None  # for a failed (or lost) job: what went wrong


# ------------------------------------------------------------------ checks
def check_session(session: str) -> str:
    """A session id as a folder name can hold it: letters, digits, ``_`` and ``-``."""
    if not isinstance(session, str) or not SESSION.fullmatch(session):
        raise ValueError(
            f"session: {session!r} is not allowed; allowed: 6 to 64 characters among "
            "A-Z, a-z, 0-9, '_' and '-'"
        )
    return session


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind: {kind!r} is not allowed; allowed: one of {', '.join(KINDS)}")
    return kind


def check_argv(argv: Sequence[str]) -> tuple[str, ...]:
    """The winback arguments as a tuple of strings (a single string is refused: it would
    be run as one argument per character)."""
    if isinstance(argv, str) or not argv or not all(isinstance(a, str) for a in argv):
        raise ValueError(
            f"argv: {argv!r} is not allowed; allowed: a non-empty sequence of strings, "
            "e.g. ('benchmark', 'scenario=streaming')"
        )
    return tuple(argv)


# ------------------------------------------------------------------ folders
def _now() -> datetime:
    return datetime.now().astimezone()


def new_folder(root: Path, session: str, kind: str) -> Path:
    """``root/<session>/<YYYY-mm-dd_HH-MM-SS>-<kind>``, with ``-2``, ``-3``, ... when that
    exists already. Not created (:func:`start` does)."""
    base = Path(root) / check_session(session) / f"{_now():%Y-%m-%d_%H-%M-%S}-{check_kind(kind)}"
    folder, n = base, 1
    while folder.exists():
        n += 1
        folder = base.with_name(f"{base.name}-{n}")
    return folder


def jobs_of(root: Path, session: str) -> list[Job]:
    """This session's jobs under ``root``, newest first."""
    found = (load(p.parent) for p in (Path(root) / check_session(session)).glob(f"*/{JOB}"))
    mine = [job for job in found if job is not None and job.session == session]
    return sorted(mine, key=newest, reverse=True)


def newest(job: Job) -> tuple[float, str]:
    """Sort key: when the job started (a same-second folder's suffix breaks ties)."""
    return datetime.fromisoformat(job.started).timestamp(), job.folder.name


# ------------------------------------------------------------------ start, load, cancel
def start(
    kind: str, argv: Sequence[str], folder: Path, session: str, cwd: Path | None = None
) -> Job:
    """Record the job in ``folder`` (created; one holding a job already is refused) and
    start its runner, detached; returns at once."""
    job = Job(
        folder=Path(folder).resolve(),
        kind=check_kind(kind),
        session=check_session(session),
        argv=check_argv(argv),
        started=_now().isoformat(timespec="milliseconds"),
        pid=0,
    )
    if cwd is not None and not Path(cwd).is_dir():
        raise ValueError(f"cwd: {str(cwd)!r} is not a folder; allowed: an existing folder")
    claim(job.folder)
    save(job)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        runner = subprocess.Popen(
            [sys.executable, "-m", "experiments.app.jobs", str(job.folder)],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=cwd,
            env=env,
        )
    except OSError as err:  # recorded as a failed job, then raised
        with (job.folder / LOG).open("a") as log:
            log.write(f"winback app: error: the runner could not start: {err}\n")
        write_text(job.folder / EXIT, "127\n")
        raise
    _RUNNERS[runner.pid] = runner
    job = replace(job, pid=runner.pid)
    save(job)
    return job


def claim(folder: Path) -> None:
    """Make ``folder`` and take it for one job: ``job.json`` created exclusively."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        (folder / JOB).open("x").close()
    except FileExistsError:
        raise ValueError(
            f"folder: {str(folder)!r} holds a job already; allowed: a new folder (new_folder)"
        ) from None


def save(job: Job) -> None:
    record = {**asdict(job), "folder": str(job.folder), "argv": list(job.argv)}
    write_json(job.folder / JOB, record)


def load(folder: Path) -> Job | None:
    """The job recorded in ``folder``; None when there is none (or it is unreadable)."""
    folder = Path(folder).resolve()
    try:
        record = json.loads((folder / JOB).read_text(encoding="utf-8"))
        job = Job(
            folder=folder,
            kind=str(record["kind"]),
            session=str(record["session"]),
            argv=tuple(str(a) for a in record["argv"]),
            started=str(record["started"]),
            pid=int(record["pid"]),
        )
        datetime.fromisoformat(job.started)
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return job


def cancel(job: Job) -> None:
    """Stop a job: ``job.cancelled`` first, then SIGTERM to its whole process group and
    SIGKILL after a few seconds if any of it is still alive. A job that has ended already
    is left as it is."""
    if (job.folder / EXIT).exists():
        return
    write_text(job.folder / CANCELLED, f"{_now().isoformat(timespec='seconds')}\n")
    if job.pid <= 0:  # not spawned yet: the runner sees job.cancelled and runs nothing
        return
    if not _signal_group(job.pid, signal.SIGTERM):
        return
    deadline = time.monotonic() + KILL_AFTER
    while time.monotonic() < deadline:
        if not _group_alive(job.pid):
            return
        time.sleep(0.05)
    _signal_group(job.pid, signal.SIGKILL)
    while _group_alive(job.pid) and time.monotonic() < deadline + KILL_AFTER:
        time.sleep(0.05)


def _signal_group(pid: int, sig: int) -> bool:
    """Send ``sig`` to the process group ``pid`` leads; False when the group is gone."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # not ours (a reused pid): leave it alone
        return False
    return True


def _group_alive(pid: int) -> bool:
    _reap(pid)
    try:
        os.killpg(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _reap(pid: int) -> bool:
    """Reap the runner if this process started it and it has ended; True when it has."""
    runner = _RUNNERS.get(pid)
    if runner is None or runner.poll() is None:
        return False
    del _RUNNERS[pid]
    return True


def _alive(job: Job) -> bool:
    """The job's runner is still running (a pid reused by another process does not count)."""
    if job.pid <= 0:
        return True  # being spawned: the pid is written next
    if _reap(job.pid):
        return False
    cmdline = Path(f"/proc/{job.pid}/cmdline")
    if Path("/proc/self").exists():
        try:
            parts = cmdline.read_bytes().split(b"\0")
        except OSError:
            return False
        return b"experiments.app.jobs" in parts and os.fsencode(job.folder) in parts
    try:
        os.kill(job.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ------------------------------------------------------------------ status
def status(job: Job) -> Status:
    """The job's state, progress and log, read from its folder."""
    lines = collapse(read_tail(job.folder / LOG))
    fraction, step = progress(lines)
    _reap(job.pid)
    returncode = read_exit(job.folder)
    if (job.folder / CANCELLED).exists():
        state = "cancelled"
    elif returncode is None and _alive(job):
        state = "running"
    else:
        returncode = read_exit(job.folder)  # it may have ended since the first look
        state = "lost" if returncode is None else ("finished" if returncode == 0 else "failed")
    if not step:
        step = "starting" if state == "running" else state
    return Status(
        state=state,
        returncode=returncode,
        fraction=fraction,
        step=step,
        log_tail="\n".join(lines[-TAIL_LINES:]),
        error=error_of(state, lines),
    )


def read_exit(folder: Path) -> int | None:
    try:
        return int((folder / EXIT).read_text().strip())
    except (OSError, ValueError):
        return None


def read_tail(path: Path, size: int = TAIL_BYTES) -> str:
    """The last ``size`` bytes of a text file, from its first whole line; "" if missing."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            end = handle.tell()
            handle.seek(max(0, end - size))
            data = handle.read()
    except OSError:
        return ""
    if end > size:  # cut in the middle of a line: drop its end
        data = data.partition(b"\n")[2]
    return data.decode("utf-8", errors="replace")


def collapse(text: str) -> list[str]:
    """The log as a terminal shows it: of each line's carriage-return redraws, the last
    one with any text (a bar cleared by spaces shows what came after it)."""
    lines = []
    for line in text.split("\n"):
        drawn = [part.rstrip() for part in line.split("\r") if part.strip()]
        lines.append(drawn[-1] if drawn else "")
    while lines and not lines[-1]:
        lines.pop()
    return lines


def error_of(state: str, lines: Sequence[str]) -> str | None:
    """A failed job's error: its last ``winback: error:`` line, else its last line."""
    if state == "lost":
        return "the job's process is gone and left no exit code (killed, or the machine stopped)"
    if state != "failed":
        return None
    errors = [line for line in lines if line.startswith("winback: error:")]
    shown = [line for line in lines if line.strip()]
    return (errors or shown or ["no output"])[-1].strip()


# ------------------------------------------------------------------ progress
BAR = re.compile(
    r"^(?:(?P<desc>.*?):\s+)?(?P<pct>\d{1,3})%\|[^|]*\|\s*"
    r"(?P<n>\d+(?:\.\d+)?[kMGTPEZY]?)/(?P<total>\d+(?:\.\d+)?[kMGTPEZY]?)\s*\[(?P<meta>[^\]]*)\]"
)
WORLD = re.compile(r"^world (?P<id>\S+) \((?P<i>\d+) of (?P<n>\d+)\)")
BUILDING = re.compile(r"^building (?P<name>\S+) \(")
STEP = re.compile(
    r"^(?:fitting the reward model|simulating \S+ on \S+ \(--predict\)|logging \S+ decisions)"
)
"""``winback ope`` and ``ope-log``'s steps without a bar (shown as the step)."""
SCORE_STEPS = (
    (re.compile(r"^simulating [\d,]+ customers to score"), 0.15, None),
    (re.compile(r"^simulating [\d,]+ customers to learn from"), 0.25, None),
    (re.compile(r"^log: [\d,]+ customers"), 0.6, "scoring your log's customers"),
    (re.compile(r"^fitting the scores"), 0.35, None),
    (re.compile(r"^measuring the scores"), 0.55, None),
)
"""``winback score``'s steps: how far along each starts, and its words (None: the line's)."""
SCALE = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18, "Z": 1e21}


@dataclass(frozen=True)
class Bar:
    """One tqdm bar's state as drawn."""

    desc: str
    n: float
    total: float
    postfix: str

    @property
    def fraction(self) -> float | None:
        return min(1.0, max(0.0, self.n / self.total)) if self.total > 0 else None

    @property
    def words(self) -> str:
        what = self.desc or "working"
        return f"{what}: {self.postfix}" if self.postfix else what


def parse_bar(line: str) -> Bar | None:
    """A tqdm line (``desc:  47%|████▋     | 7/15 [00:01<00:01,  4.98run/s, postfix]``)."""
    match = BAR.match(line)
    if match is None:
        return None
    meta = match["meta"].split(",", 2)  # elapsed<remaining, rate, postfix
    return Bar(
        desc=(match["desc"] or "").strip(),
        n=number(match["n"]),
        total=number(match["total"]),
        postfix=meta[2].strip() if len(meta) > 2 else "",
    )


def number(text: str) -> float:
    """A tqdm count, scaled ones too (``12.3k``)."""
    unit = text[-1] if text[-1] in SCALE else ""
    return float(text[: len(text) - len(unit)]) * SCALE[unit]


def progress(lines: Sequence[str]) -> tuple[float | None, str]:
    """The fraction done and the step, in words, from a collapsed log.

    The fraction is the last bar's ``N/M`` (``evaluating``: the whole evaluation), but a
    stress test's ``world K (i of n)`` lines give it across worlds, as ``i/n``, and the
    bars after one are that world's. The step names the world and the agent being built
    when they apply: ``world 3 of 20: building uplift: simulating every offer ...``."""
    world: str | None = None
    world_fraction: float | None = None
    building: str | None = None
    bar: Bar | None = None
    step_fraction: float | None = None
    for line in lines:
        if found := WORLD.match(line):
            i, n = int(found["i"]), int(found["n"])
            world, world_fraction = f"world {i} of {n}", (min(1.0, i / n) if n > 0 else None)
            building, bar = None, None
        elif found := BUILDING.match(line):
            building, bar = f"building {found['name']}", None
        elif STEP.match(line):
            building, bar = line.split(" (")[0].split(" for ")[0], None
        elif (found_step := score_step(line)) is not None:
            step_fraction, building = found_step
            bar = None
        elif (drawn := parse_bar(line)) is not None:
            bar = drawn
            if bar.desc == "evaluating":
                building = None
    parts = [p for p in (world, building, bar.words if bar else None) if p]
    fraction = world_fraction if world is not None else (bar.fraction if bar else step_fraction)
    return fraction, ": ".join(parts)


def score_step(line: str) -> tuple[float, str] | None:
    """A ``winback score`` step (``SCORE_STEPS``): how far along, and its words."""
    for pattern, fraction, words in SCORE_STEPS:
        if pattern.match(line):
            return fraction, words or line.split(" (")[0]
    return None


# ------------------------------------------------------------------ the runner
def run(job: Job) -> int:
    """Run the job's command, its output appended to ``app.log``; write ``job.exit``."""
    with (job.folder / LOG).open("ab") as log:
        log.write(f"$ {job.command}\n".encode())
        log.flush()
        cancelled = (job.folder / CANCELLED).exists()  # before it started: nothing runs
        returncode = -signal.SIGTERM if cancelled else _run_child(job, log)
    write_text(job.folder / EXIT, f"{returncode}\n")
    return returncode


def _run_child(job: Job, log: BinaryIO) -> int:
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "experiments.cli", *job.argv],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    except OSError as err:
        log.write(f"winback app: error: the command could not start: {err}\n".encode())
        return 127

    def forward(signum: int, frame: FrameType | None) -> None:
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    return child.wait()


def main(args: Sequence[str]) -> int:
    """``python -m experiments.app.jobs FOLDER``: run the job recorded in FOLDER."""
    if len(args) != 1:
        print("usage: python -m experiments.app.jobs FOLDER", file=sys.stderr)
        return 2
    job = load(Path(args[0]))
    if job is None:
        print(f"winback app: error: {args[0]!r} holds no readable {JOB}", file=sys.stderr)
        return 2
    return run(job)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
