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

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from experiments.files import exclusive, plain, read_json, strict_json

OWNER = "config.json"
RESULTS = ("summary.json", "tidy.parquet", "leaderboard.csv", "offer_mix.parquet", "report.html")


Compose = Callable[[list[str]], Any]
"""``compose(overrides)``: the composed config, with its ``hydra`` node."""


def sweep_runs(overrides: list[str], params: Mapping[str, Any]) -> list[list[str]]:
    """The override list of every run of a ``--multirun`` over ``overrides``, with the
    config's ``hydra.sweeper.params`` (``params``)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    every = parser.parse_overrides([*(f"{k}={v}" for k, v in params.items()), *overrides])
    return BasicSweeper.split_arguments(every, None)[0]


def check_sweep(
    compose: Compose,
    validate: Callable[[Any], dict[str, Any]],
    overrides: list[str],
    params: Mapping[str, Any],
) -> int:
    """Compose and validate every run of the sweep (``validate`` returns the run's config
    record), and check each run's folder where it is known; returns how many runs."""
    runs = sweep_runs(overrides, params)
    common = set.intersection(*(set(r) for r in runs))  # what every run shares: not swept
    for i, run in enumerate(runs):
        try:
            cfg = compose(run)
            config = validate(cfg)
            folder = job_folder(cfg, i)
            if folder is not None:
                check_folder(folder, config, "hydra.sweep.dir")
        except ValueError as err:
            swept = " ".join(o for o in run if o not in common)
            raise ValueError(
                f"multirun: run {i} of {len(runs)} ({swept or 'no sweep'}) is invalid: {err}; "
                "nothing was run"
            ) from None
    return len(runs)


def job_folder(cfg: Any, number: int) -> Path | None:
    """Run ``number``'s folder when the sweep folder is laid out as Hydra's default."""
    from omegaconf import OmegaConf

    sweep = OmegaConf.to_container(cfg.hydra.sweep, resolve=False)
    if not isinstance(sweep, dict) or sweep.get("subdir") != "${hydra.job.num}":
        return None
    return Path(str(cfg.hydra.sweep.dir)) / str(number)


def owner(folder: Path) -> dict[str, Any] | None:
    """The config whose results ``folder`` holds (None: no results, or none recorded)."""
    if (folder / OWNER).exists():
        return dict(read_json(folder / OWNER, "a run folder's config.json"))
    if (folder / "summary.json").exists():  # a folder from before config.json: its summary
        summary = read_json(folder / "summary.json", "a summary.json written by winback benchmark")
        return dict(summary.get("config") or {})
    return None


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
    """Own ``folder`` for the run: checked, recorded in ``config.json`` and locked. A run
    that fails before any result leaves no owner behind."""
    check_folder(folder, config, key)
    refused = f"{key}: {str(folder)!r} is in use by another run; allowed: another folder"
    with exclusive(folder / OWNER, refused) as handle:
        handle.seek(0)
        handle.truncate()
        handle.write(strict_json(config, indent=2))
        handle.flush()
        try:
            yield
        except BaseException:
            if not any((folder / f).exists() for f in RESULTS):  # no results: no owner
                (folder / OWNER).unlink(missing_ok=True)
            raise
