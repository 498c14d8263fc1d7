"""The config composed before Hydra's app starts, so that what Hydra would report with a
traceback (or only once a run had started) is one line and exit code 2 instead: malformed
YAML in a config folder, an output folder that cannot be created, a config that does not
compose (an unknown key, a wrong type, a missing option), and a ``_target_`` that is not
allowed (``targets.py``: checked here also under ``hydra:``, whose launcher, sweeper and
callbacks Hydra itself imports before any run).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from experiments.config import CONF, schema
from experiments.config.targets import check_targets
from experiments.files import check_writable

RENAMED = {"every_days": "scenario.epoch_days"}
"""Keys that moved: old key -> new key (named in the error)."""


@contextmanager
def hydra_for(config_dir: str | None) -> Iterator[Any]:
    """Hydra with the search path ``winback`` uses (``conf/`` and ``--config-dir``)."""
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_automatic_config_search_path
    from hydra.core.config_search_path import SearchPathQuery
    from hydra.core.global_hydra import GlobalHydra

    from experiments.config.stress import register

    register()  # schema.register() and conf/stress.yaml's schema
    search_path = create_automatic_config_search_path(None, None, "pkg://conf")
    if config_dir is not None:
        search_path.prepend(
            "command-line", f"file://{os.path.abspath(config_dir)}", SearchPathQuery("schema")
        )
    GlobalHydra.instance().clear()
    try:
        yield Hydra.create_main_hydra2(task_name="winback", config_search_path=search_path)
    finally:
        GlobalHydra.instance().clear()


def compose(
    config_name: str, overrides: list[str], config_dir: str | None = None, multirun: bool = False
) -> Any:
    """The composed config (with ``hydra:``; a sweep's first combination), or ValueError
    with Hydra's complaint in one line."""
    with composer(config_name, config_dir, multirun) as compose_one:
        return compose_one(overrides)


@contextmanager
def composer(
    config_name: str, config_dir: str | None = None, multirun: bool = False
) -> Iterator[Callable[[list[str]], Any]]:
    """One Hydra for many compositions (a sweep's combinations): ``compose(overrides)``."""
    from hydra.errors import HydraException
    from hydra.types import RunMode
    from omegaconf.errors import OmegaConfBaseException

    mode = RunMode.MULTIRUN if multirun else RunMode.RUN

    def compose_one(overrides: list[str]) -> Any:
        try:
            return hydra.compose_config(config_name, overrides, run_mode=mode)
        except (HydraException, OmegaConfBaseException) as err:
            raise ValueError(one_line(err)) from None
        except AssertionError:  # Hydra asserts when an override reaches into an empty node
            keys = ", ".join(o.split("=", 1)[0] for o in overrides if "." in o.split("=", 1)[0])
            raise ValueError(
                f"overrides: cannot set a key inside an empty node ({keys}); allowed: pick "
                "the node first (e.g. experiment=tune_thompson for tune.*) or add it with +"
            ) from None

    try:
        with hydra_for(config_dir) as hydra:
            yield compose_one
    except (HydraException, OmegaConfBaseException) as err:
        raise ValueError(one_line(err)) from None


def one_line(err: BaseException) -> str:
    """A Hydra or OmegaConf error as one line: the key and what is wrong."""
    from omegaconf.errors import OmegaConfBaseException

    cause = err.__cause__ if err.__cause__ is not None else err
    if not isinstance(cause, OmegaConfBaseException):  # a config file's: further down
        deeper = cause.__cause__ or cause.__context__
        if isinstance(deeper, OmegaConfBaseException):
            where = re.match(r"In '([^']+)'", str(err))
            text = schema.problem(deeper)
            return f"{text} (in {where.group(1)}.yaml)" if where else text
    if isinstance(cause, OmegaConfBaseException):
        text = schema.problem(cause)
        key = text.split(":", 1)[0]
        return f"{text} ({key} is now {RENAMED[key]})" if key in RENAMED else text
    lines = []
    for line in str(err).splitlines():
        if line.startswith(("Config search path", "See https://")):
            break
        if line.strip():
            lines.append(line.strip())
    if len(lines) > 2 and lines[1].endswith(":"):  # a heading and its items
        return f"{lines[0]}; {lines[1]} {', '.join(lines[2:])}"
    return "; ".join(lines)


def precheck(
    config_name: str,
    overrides: list[str],
    config_dir: str | None = None,
    multirun: bool = False,
    trusted: Iterable[str] = (),
    command: str = "benchmark",
) -> Any:
    """Every check above, in that order, then the run's own checks (``command``'s: the
    benchmark's, or with ``stress`` the stress test's) (for a sweep: of every
    combination, ``guard.check_sweep``) and that its folder, where the command line names
    it, holds no other config's results (``guard``); returns the composed config."""
    check_yaml(config_folders(overrides, config_dir))
    check_output_dirs(overrides)
    with composer(config_name, config_dir, multirun) as compose_one:  # one Hydra for all
        cfg = compose_one(overrides)
        trusted = tuple(trusted)
        check_trust(cfg, trusted)
        from experiments.config.guard import check_folder, check_sweep
        from experiments.config.hydra_apps import benchmark_config
        from experiments.config.stress import stress_config

        typed = stress_config if command == "stress" else benchmark_config

        def record(composed: Any) -> dict[str, Any]:  # the run's own checks; its config
            return typed(composed, Path("."), trusted, notes=False).extra["config"]

        if multirun:  # every combination, before Hydra starts the first
            check_sweep(compose_one, record, overrides, cfg.hydra.sweeper.get("params") or {})
            return cfg
    config = record(cfg)  # here, before Hydra creates the run's folder
    for o in overrides:
        key, _, value = o.partition("=")
        if key == "hydra.run.dir" and value:
            check_folder(Path(value), config)
    return cfg


def check_trust(cfg: Any, trusted: tuple[str, ...]) -> None:
    """``trust`` only from the command line, and every ``_target_`` allowed."""
    from omegaconf import OmegaConf

    if tuple(cfg.get("trust") or ()) != trusted:
        raise ValueError(
            f"trust: {list(cfg.trust)} set in a config file; allowed: --trust MODULE on the "
            "command line only (a shared config cannot trust code for you)"
        )
    check_targets(OmegaConf.to_container(cfg, resolve=False), trusted)


def config_folders(overrides: list[str], config_dir: str | None) -> list[Path]:
    """``conf/``, ``--config-dir`` and the folders of ``hydra.searchpath=[...]``."""
    if config_dir is not None and not Path(config_dir).is_dir():
        raise ValueError(f"--config-dir: {config_dir!r} is not a folder; allowed: a folder")
    folders = [CONF, *([Path(config_dir)] if config_dir else [])]
    for o in overrides:
        if o.startswith("hydra.searchpath="):
            inner = o.split("=", 1)[1].strip("[]")
            folders += [Path(x.strip().removeprefix("file://")) for x in inner.split(",") if x]
    return folders


def check_yaml(folders: list[Path]) -> None:
    """Every YAML file in ``folders`` parses (Hydra would show a traceback)."""
    import yaml

    for folder in folders:
        for path in sorted(folder.rglob("*.yaml")) if folder.is_dir() else []:
            try:
                yaml.safe_load(path.read_text())
            except yaml.YAMLError as err:
                mark = getattr(err, "problem_mark", None)
                where = f", line {mark.line + 1}" if mark else ""
                problem = getattr(err, "problem", None) or str(err).splitlines()[0]
                raise ValueError(
                    f"{path}: malformed YAML{where}: {problem}; allowed: valid YAML"
                ) from None


def check_output_dirs(overrides: list[str]) -> None:
    """``hydra.run.dir`` / ``hydra.sweep.dir`` can be created (nothing is created here)."""
    for o in overrides:
        key, _, value = o.partition("=")
        if key in ("hydra.run.dir", "hydra.sweep.dir") and value:
            check_writable(Path(value), key)
