"""The scenario and catalogue boundary, both ways, in one place.

Reader: a config node (``conf/scenario/``, ``conf/offers/``, overrides, a plain dict from
Python or a recorded ``scenario_spec``) -> a validated ``sim.Scenario`` / ``sim.Catalogue``.
The node is first checked against the structured schema (``schema.py``: unknown keys and
wrong types), then every key that is set replaces the preset's value; the dataclasses check
the values. ``segments`` items may be partial: unset fields come from the preset's segment
of that name, or from the preset's segments blended (how calibrated scenarios are written).

Writer: a scenario or catalogue -> the same node form, either complete (``summary.json``
records it: reading it back gives an equal scenario) or as the keys that differ from a
preset (``conf/scenario/`` files such as ``winback calibrate`` writes); and where a scenario
of the user's goes (``user_scenario_file``): their config folder, never the package's.
"""

from __future__ import annotations

import dataclasses
import numbers
import re
import typing
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from experiments.config import CONF
from experiments.config.schema import SCENARIO_ALIASES, OffersSchema, ScenarioSchema, checked
from sim.offers import Catalogue
from sim.presets import SCENARIOS
from sim.scenario import Scenario, Segment, blend_segments
from sim.validation import check_choice


# ------------------------------------------------------------------ reader
def scenario_from(node: Mapping[str, Any]) -> Scenario:
    """A scenario node -> the preset scenario with every key that is set replaced."""
    cfg = checked(ScenarioSchema, node, "scenario")
    preset = check_choice("scenario.preset", cfg.pop("preset"), SCENARIOS)
    base = _aliased(
        lambda: SCENARIOS[preset](n_users=cfg.pop("users"), horizon_days=cfg.pop("days"))
    )
    hints = typing.get_type_hints(Scenario)
    changes: dict[str, Any] = {}
    for key, value in cfg.items():
        if dataclasses.is_dataclass(hints[key]):  # dynamics, signals: keys set replace
            given = {k: v for k, v in value.items() if v is not None}
            changes[key] = replace(getattr(base, key), **given)
        elif key == "segments" and value is not None:
            changes[key] = segments_from(value, base)
        elif value is not None:
            changes[key] = build(hints[key], value)
    scenario = _aliased(lambda: replace(base, **changes))
    if scenario.horizon_days < scenario.epoch_days:
        raise ValueError(
            f"scenario.days: {scenario.horizon_days}; allowed: at least one decision epoch "
            f"(scenario.epoch_days = {scenario.epoch_days})"
        )
    return scenario


def segments_from(items: list[dict[str, Any]], base: Scenario) -> tuple[Segment, ...]:
    """Partial segment items (``None`` = unset) -> segments (see the module docstring)."""
    by_name = {s.name: s for s in base.segments}
    out = []
    for item in items:
        given = {k: dict(v) if isinstance(v, dict) else v for k, v in item.items() if v is not None}
        out.append(replace(by_name.get(item["name"], blend_segments(base.segments)), **given))
    return tuple(out)


def catalogue_from(node: Mapping[str, Any]) -> Catalogue:
    """``{offers: [{name, kind, channel, ...}, ...]}`` -> a validated catalogue."""
    cfg = checked(OffersSchema, node, "offers")
    if not cfg["offers"]:
        raise ValueError("offers.offers: []; allowed: a list of at least one offer")
    return build(Catalogue, cfg)


def build(hint: Any, value: Any) -> Any:
    """A checked config value -> the ``sim`` value of type ``hint`` (dataclasses built, and
    so validated, from the inside out; lists -> tuples; mappings -> dicts)."""
    if dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        return hint(**{k: build(hints[k], v) for k, v in value.items()})  # type: ignore[operator]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:
        return tuple(build(args[0], v) for v in value)
    if origin in (dict, Mapping):
        return dict(value)
    return value


def _aliased(make: Any) -> Scenario:
    """``make()``, with errors naming the config keys ``users``/``days``."""
    try:
        return make()  # type: ignore[no-any-return]
    except ValueError as err:
        text = str(err)
        for field_name, key in SCENARIO_ALIASES.items():
            text = text.replace(f"scenario.{field_name}", f"scenario.{key}")
        raise ValueError(text) from None


# ------------------------------------------------------------------ writer
def scenario_spec(scenario: Scenario, preset: str | None = None) -> dict[str, Any]:
    """``scenario`` as a scenario node: every field, or with ``preset`` only the fields
    that differ from that preset at the same population and horizon."""
    node = to_config(scenario)
    head = {"name": node.pop("name")}
    if preset is not None:
        head["preset"] = preset
    for field_name, key in SCENARIO_ALIASES.items():
        head[key] = node.pop(field_name)
    if preset is not None:
        base = to_config(SCENARIOS[preset](scenario.n_users, scenario.horizon_days))
        node = {k: v for k, v in node.items() if v != base[k]}
    return {**head, **node}


def scenario_yaml(scenario: Scenario, preset: str, comment: list[str]) -> str:
    """A ``conf/scenario/`` file: ``comment`` lines, then the keys that differ from
    ``preset``."""
    head = "".join(f"# {line}\n" for line in comment)
    return head + yaml.safe_dump(scenario_spec(scenario, preset), sort_keys=False)


def catalogue_spec(catalogue: Catalogue) -> dict[str, Any]:
    """``catalogue`` as an offers node (``conf/offers/`` form)."""
    return to_config(catalogue)  # type: ignore[no-any-return]


def to_config(value: Any) -> Any:
    """A ``sim`` value as plain YAML/JSON data: dataclasses as mappings of their fields,
    tuples as lists, numpy numbers as Python ones."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_config(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init
        }
    if isinstance(value, Mapping):
        return {str(k): to_config(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [to_config(v) for v in value]
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return value


USER_CONF = Path("my_conf")
"""The user's config folder by default (relative to the working directory): what
``winback benchmark --config-dir my_conf`` reads."""


def builtin_names(group: str) -> set[str]:
    """The built-in names of a config group: the package's ``conf/<group>/*.yaml`` (for
    ``scenario`` also the presets')."""
    files = {p.stem for p in (CONF / group).glob("*.yaml")}
    return files | set(SCENARIOS) if group == "scenario" else files


def builtin_scenarios() -> set[str]:
    """The presets' names and the package's ``conf/scenario/*.yaml``."""
    return builtin_names("scenario")


def user_scenario_file(name: str, config_dir: Path = USER_CONF, force: bool = False) -> Path:
    """Where ``--save-scenario NAME`` writes: ``config_dir/scenario/NAME.yaml`` (see
    :func:`user_config_file`)."""
    return user_config_file("scenario", name, config_dir, force, "--save-scenario")


def user_config_file(
    group: str,
    name: str,
    config_dir: Path = USER_CONF,
    force: bool = False,
    key: str = "name",
    replace: str = "--force",
) -> Path:
    """Where a scenario or catalogue of the user's goes: ``config_dir/<group>/NAME.yaml``.
    Refused (errors name ``key``): a name that is not an identifier, a built-in name of
    the group (even with ``force``: it would hide the built-in), a ``config_dir`` inside the
    package's own ``conf/``, and an existing file unless ``force`` (``replace``: how the
    user says so, in the messages)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(
            f"{key}: {name!r}; allowed: letters, digits and _, not starting with a digit"
        )
    builtin = builtin_names(group)
    if name in builtin:
        raise ValueError(
            f"{key}: {name!r} is a built-in {group} name (also with {replace}); allowed: "
            f"a name other than {', '.join(sorted(builtin))}"
        )
    folder, package = config_dir.resolve(), CONF.resolve()
    if folder == package or package in folder.parents:
        raise ValueError(
            f"--config-dir: {str(config_dir)!r} is the package's own config folder; allowed: "
            f"a folder of yours (default {USER_CONF}), passed to winback benchmark --config-dir"
        )
    target = config_dir / group / f"{name}.yaml"
    if target.exists() and not force:
        raise ValueError(f"{key}: {str(target)!r} exists; allowed: a new name, or {replace}")
    return target
