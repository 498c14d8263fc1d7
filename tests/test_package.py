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
    config = resources.files("conf") / "config.yaml"
    assert config.is_file()
    assert yaml.safe_load(config.read_text())["scenario"] == "streaming"


def test_console_script_is_installed() -> None:
    beside_python = Path(sys.executable).parent / "winback"
    assert beside_python.exists() or shutil.which("winback") is not None
