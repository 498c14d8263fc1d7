"""Guards around a run's folder and a sweep's combinations, checked before any work.

The rules:

* A ``--multirun`` is checked whole before its first run: every combination of the command
  line's sweeps and the config's ``hydra.sweeper.params`` (expanded as Hydra's basic sweeper
  does) is composed and validated; one invalid combination refuses the sweep, so no launcher
  starts runs that a later failure would abandon.
* A results folder belongs to one config. ``config.json`` (the resolved config, written
  when a run starts) says which; a folder that holds another config's results is refused,
  never overwritten, and while a run works in its folder it holds a lock on that file, so a
  second run into the same folder is refused too. The same config may run again there:
  that is how an interrupted sweep resumes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

OWNER = "config.json"
RESULTS = ("summary.json", "tidy.parquet", "leaderboard.csv", "offer_mix.parquet", "report.html")


Compose = Callable[[list[str], bool], Any]
"""``compose(overrides, with_hydra)``: the composed config (with its ``hydra`` node or not)."""


def sweep_runs(compose: Compose, overrides: list[str]) -> list[list[str]]:
    """The override list of every run of a ``--multirun`` over ``overrides``."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    parsed = parser.parse_overrides(overrides)
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    params = compose(fixed, True).hydra.sweeper.get("params") or {}
    every = parser.parse_overrides([*(f"{k}={v}" for k, v in params.items()), *overrides])
    return BasicSweeper.split_arguments(every, None)[0]


def check_sweep(compose: Compose, validate: Callable[[Any], None], overrides: list[str]) -> int:
    """Compose and validate every run of the sweep; returns how many there are."""
    runs = sweep_runs(compose, overrides)
    for i, run in enumerate(runs):
        try:
            validate(compose(run, False))
        except ValueError as err:
            swept = " ".join(o for o in run if o not in overrides)
            raise ValueError(
                f"multirun: run {i} of {len(runs)} ({swept or 'no sweep'}) is invalid: {err}; "
                "nothing was run"
            ) from None
    return len(runs)


def owner(folder: Path) -> dict[str, Any] | None:
    """The config whose results ``folder`` holds (None: no results, or none recorded)."""
    path = folder / OWNER
    if path.exists():
        try:
            return dict(json.loads(path.read_text()))
        except (OSError, ValueError) as err:
            raise ValueError(
                f"{path}: unreadable ({err}); allowed: a run folder's config.json"
            ) from None
    summary = folder / "summary.json"
    if summary.exists():  # a folder from before config.json: its summary says
        try:
            return dict(json.loads(summary.read_text()).get("config") or {})
        except (OSError, ValueError) as err:
            raise ValueError(
                f"{summary}: unreadable ({err}); allowed: a benchmark summary"
            ) from None
    return None


def plain(config: dict[str, Any]) -> dict[str, Any]:
    """The config as its JSON record holds it (no budget: null), for comparisons."""
    from experiments.jsonio import strict_json

    return dict(json.loads(strict_json(config)))


def check_folder(folder: Path, config: dict[str, Any], key: str = "hydra.run.dir") -> None:
    """Refuse a folder that holds results of another config."""
    held = owner(folder)
    stale = [f for f in RESULTS if (folder / f).exists()]
    if (held is not None and held != plain(config)) or (held is None and stale):
        raise ValueError(
            f"{key}: {str(folder)!r} holds the results of another config "
            f"({', '.join(stale) or OWNER}); allowed: a new folder, or delete that one first"
        )


@contextmanager
def hold(folder: Path, config: dict[str, Any], key: str = "hydra.run.dir") -> Iterator[None]:
    """Own ``folder`` for the run: checked, recorded in ``config.json`` and locked."""
    import fcntl

    check_folder(folder, config, key)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / OWNER).open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(
                f"{key}: {str(folder)!r} is in use by another run; allowed: another folder"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(plain(config), indent=2, sort_keys=True))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
