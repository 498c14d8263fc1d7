"""The installed package: top-level packages import, configs ship with it, the command runs."""

from __future__ import annotations

import importlib
import shutil
import sys
from importlib import resources
from pathlib import Path

import yaml


def test_top_level_packages_import() -> None:
    for name in ("sim", "agents", "experiments", "conf", "sim.envs"):
        assert importlib.import_module(name).__doc__


def test_configs_ship_inside_the_package() -> None:
    conf = resources.files("conf")
    assert yaml.safe_load((conf / "benchmark.yaml").read_text())["seeds"] == [1, 2, 3, 4, 5]
    assert (conf / "run.yaml").is_file()
    for group in ("scenario", "offers", "agent", "experiment"):
        assert any(p.name.endswith(".yaml") for p in (conf / group).iterdir()), group


def test_console_script_is_installed() -> None:
    beside_python = Path(sys.executable).parent / "winback"
    assert beside_python.exists() or shutil.which("winback") is not None
