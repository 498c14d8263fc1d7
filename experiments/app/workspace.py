"""The app's view of the config folders the CLI reads: the package's ``conf/`` and the
user's own (``--config-dir``, default ``my_conf``).

Rules: a scenario or catalogue is loaded exactly as ``winback benchmark scenario=NAME
offers=NAME`` composes it (same search path, same checks, same one-line errors); the
user's files are listed after the built-in ones, a user's file of a built-in name is not
listed (the CLI would read the user's; the app names the clash instead of guessing); what
the app saves goes to the user's folder only (``user_config_file``: never the package's),
and an agent of the user's (``agent/*.yaml`` with its ``_target_``) runs only if its module
is trusted, as on the command line (``--trust MODULE``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from experiments.config import CONF
from experiments.config.scenario import (
    builtin_names,
    catalogue_from,
    catalogue_spec,
    scenario_from,
    scenario_yaml,
    user_config_file,
)
from experiments.files import write_text
from sim.offers import Catalogue
from sim.scenario import Scenario

REPLACE = "tick 'Replace a file of that name'"
"""How the app's user overwrites a file of theirs (the CLI's --force)."""


@dataclass(frozen=True, kw_only=True)
class Choice:
    """A scenario, catalogue or agent a config folder offers: its name and whose it is."""

    name: str
    source: str  # "built-in" or "yours"

    @property
    def label(self) -> str:
        return self.name if self.source == "built-in" else f"{self.name} (yours)"


def choices(group: str, config_dir: Path) -> list[Choice]:
    """The names of ``group`` (``scenario``, ``offers``, ``agent``): built-in first, then
    the user's (a user's file named like a built-in is left out: see the module doc)."""
    builtin = sorted(builtin_names(group)) if group != "agent" else agent_names(CONF)
    mine = sorted(p.stem for p in (config_dir / group).glob("*.yaml"))
    return [Choice(name=n, source="built-in") for n in builtin] + [
        Choice(name=n, source="yours") for n in mine if n not in builtin
    ]


def agent_names(folder: Path) -> list[str]:
    return sorted(p.stem for p in (folder / "agent").glob("*.yaml"))


def compose_group(group: str, name: str, config_dir: Path) -> dict[str, Any]:
    """The composed ``group`` node (``scenario`` or ``offers``) for ``group=name``, as the
    CLI composes it; ValueError with the CLI's one-line message when it does not load."""
    from omegaconf import OmegaConf

    from experiments.config.compose import check_yaml, compose, config_folders

    folder = str(config_dir) if config_dir.is_dir() else None
    check_yaml(config_folders([], folder))
    cfg = compose("benchmark", [f"{group}={name}", "agent=[no_offer]"], folder)
    node = OmegaConf.to_container(cfg[group], resolve=True)
    return {str(k): v for k, v in node.items()} if isinstance(node, dict) else {}


def load_scenario(name: str, config_dir: Path) -> tuple[Scenario, str]:
    """The scenario ``name`` and its preset (what a saved copy records differences from)."""
    node = compose_group("scenario", name, config_dir)
    return scenario_from(node), str(node.get("preset") or "streaming")


def load_offers(name: str, config_dir: Path) -> Catalogue:
    return catalogue_from(compose_group("offers", name, config_dir))


def save_offers(catalogue: Catalogue, name: str, config_dir: Path, overwrite: bool) -> Path:
    """``config_dir/offers/NAME.yaml`` (``winback benchmark --config-dir DIR offers=NAME``)."""
    target = user_config_file("offers", name, config_dir, overwrite, "save as", REPLACE)
    target.parent.mkdir(parents=True, exist_ok=True)
    head = (
        f"# Saved by winback app. Use: winback benchmark --config-dir {config_dir} offers={name}\n"
    )
    return write_text(target, head + yaml.safe_dump(catalogue_spec(catalogue), sort_keys=False))


def save_scenario(
    scenario: Scenario, preset: str, name: str, config_dir: Path, overwrite: bool
) -> Path:
    """``config_dir/scenario/NAME.yaml``: the keys that differ from ``preset``."""
    target = user_config_file("scenario", name, config_dir, overwrite, "save as", REPLACE)
    target.parent.mkdir(parents=True, exist_ok=True)
    named = replace(scenario, name=name)
    comment = [
        "Saved by winback app.",
        f"Use: winback benchmark --config-dir {config_dir} scenario={name}",
    ]
    return write_text(target, scenario_yaml(named, preset, comment))


def user_agents(config_dir: Path) -> dict[str, str]:
    """The user's own agents: file name -> the ``_target_`` it names (files without one,
    or that do not parse, are left out: the run's checks name them)."""
    out = {}
    for path in sorted((config_dir / "agent").glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError:
            continue
        node = data.get(path.stem) if isinstance(data, dict) else None
        if isinstance(node, dict) and isinstance(node.get("_target_"), str):
            out[path.stem] = node["_target_"]
    return out
