"""``winback benchmark``, ``run`` and ``tune``: our options (``--help``, ``--trust``,
``--out``) taken off the arguments, every check that comes before Hydra starts
(``config.compose``), then the Hydra app (or the tuning job) with the rest."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

HYDRA_ONLY = ("--hydra-help", "--info", "-i", "--shell-completion", "-sc")
"""Hydra flags that print instead of running: handed to Hydra untouched."""
CONFIG_NAMES = {"benchmark": "benchmark", "run": "run", "stress": "stress"}


def take_option(argv: list[str], flag: str) -> tuple[list[str], list[str]]:
    """``argv`` without ``flag VALUE`` / ``flag=VALUE`` (repeatable), and the values."""
    rest, values, i = [], [], 0
    while i < len(argv):
        arg = argv[i]
        if arg == flag:
            if i + 1 >= len(argv):
                raise ValueError(f"{flag}: no value given; allowed: {flag} VALUE")
            values.append(argv[i + 1])
            i += 2
            continue
        if arg.startswith(f"{flag}="):
            values.append(arg.split("=", 1)[1])
        else:
            rest.append(arg)
        i += 1
    return rest, values


def hydra_arguments(argv: list[str]) -> Any:
    """Hydra's own parse of the arguments; an option it does not know is refused."""
    from hydra._internal.utils import get_args_parser

    args, unknown = get_args_parser().parse_known_args(argv)
    flags = [u for u in unknown if u.startswith("-")]
    if flags:
        raise ValueError(
            f"{flags[0]}: unknown option; allowed: --trust MODULE, --config-dir DIR, "
            "-m/--multirun, --cfg job|hydra|all, --info, --hydra-help, --help, KEY=VALUE"
        )
    return args


def options_only(argv: list[str], overrides: list[str]) -> list[str]:
    """``argv`` without the overrides (Hydra wants its options before them)."""
    left = list(overrides)
    out = []
    for arg in argv:
        if arg in left:
            left.remove(arg)
        else:
            out.append(arg)
    return out


def run_benchmark(argv: list[str], command: str = "benchmark") -> int:
    """``winback benchmark|run|stress [options] [overrides]``: the Hydra app with these
    overrides."""
    from experiments.cli.hydra_help import hydra_help
    from experiments.config.compose import precheck
    from experiments.config.targets import check_module_names

    if any(a in HYDRA_ONLY for a in argv):
        return _hydra_app(argv, command)
    try:
        argv, trust = take_option(argv, "--trust")
        trusted = check_module_names(trust)
        args = hydra_arguments(argv)
        if any(o.split("=", 1)[0].lstrip("+~") == "trust" for o in args.overrides):
            raise ValueError("trust: set as an override; allowed: --trust MODULE")
        if args.help:
            print(hydra_help(command, args.config_dir))
            return 0
        extra = [f"trust=[{','.join(trusted)}]"] if trusted else []
        argv = [*options_only(argv, args.overrides), *args.overrides, *extra]
        config_name = args.config_name or CONFIG_NAMES[command]
        precheck(
            config_name,
            [*args.overrides, *extra],
            args.config_dir,
            args.multirun,
            trusted,
            command,
        )
    except ValueError as err:
        print(f"winback: error: {err}", file=sys.stderr)
        return 2
    return _hydra_app(argv, command)


def _hydra_app(argv: list[str], command: str) -> int:
    from experiments.config.hydra_apps import benchmark_app, run_app, stress_app

    sys.argv = [f"winback {command}", *argv]
    # Ray (the ray_local launcher) listens on loopback only, and reports nothing home
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    apps = {"run": run_app, "stress": stress_app}
    apps.get(command, benchmark_app)()
    return 0


def job_options(argv: list[str]) -> tuple[list[str], Path | None, tuple[str, ...]]:
    """``--out DIR`` (at most once) and ``--trust MODULE`` taken off a job's arguments: the
    overrides left, the folder (None: the job's default) and the trusted modules; any other
    option is refused."""
    from experiments.config.targets import check_module_names

    argv, outs = take_option(argv, "--out")
    argv, trust = take_option(argv, "--trust")
    flags = [a for a in argv if a.startswith("-")]
    if flags or len(outs) > 1:
        raise ValueError(
            f"{(flags or ['--out'])[0]}: unknown option or given twice; allowed: --out DIR "
            "(once), --trust MODULE, --help, KEY=VALUE"
        )
    return argv, Path(outs[0]) if outs else None, check_module_names(trust)


def run_plan(argv: list[str]) -> int:
    """``winback plan [--out DIR] [--trust MODULE] overrides...``: the live test that would
    confirm a policy (``plan.*`` keys; the scenario and agents as for the benchmark)."""
    from experiments.cli.hydra_help import PLAN_HELP

    if "--help" in argv or "-h" in argv:
        print(PLAN_HELP)
        return 0
    try:
        overrides, out, trusted = job_options(argv)
        from experiments.jobs.plan import run_from_overrides

        run_from_overrides(overrides, out, trusted)
    except ValueError as err:
        print(f"winback: error: {err}", file=sys.stderr)
        return 2
    return 0


def run_tune(argv: list[str]) -> int:
    """``winback tune [--out DIR] [--trust MODULE] overrides...``: an Optuna study over the
    benchmark."""
    from experiments.cli.hydra_help import TUNE_HELP

    if "--help" in argv or "-h" in argv:
        print(TUNE_HELP)
        return 0
    try:
        overrides, out, trusted = job_options(argv)
        from experiments.jobs.tune import run_tuning

        run_tuning(overrides, out or Path("outputs/tune"), trusted)
    except ValueError as err:
        print(f"winback: error: {err}", file=sys.stderr)
        return 2
    return 0
