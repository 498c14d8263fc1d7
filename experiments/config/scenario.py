"""The scenario and catalogue boundary: config nodes (``conf/scenario/``, ``conf/offers/``)
-> validated ``sim.Scenario`` and ``sim.Catalogue`` (the reader), and a scenario -> a
``conf/scenario/`` YAML file (the writer, used by ``winback calibrate``)."""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from sim.offers import Catalogue, Offer
from sim.presets import PRESET_OFFERS, SCENARIOS
from sim.scenario import Scenario, Segment, blend_segments
from sim.validation import check_choice, check_int

if TYPE_CHECKING:
    from sim.calibration import Calibration


def scenario_from(node: dict[str, Any]) -> Scenario:
    """``{name, preset, users, days, dynamics, segments}`` -> the preset scenario with that
    population and horizon, the response-model parameters in ``dynamics`` replaced
    (``sim.Dynamics``) and, when ``segments`` is given, its segments replaced (each item a
    ``sim.Segment`` by name; unset fields come from the preset's segment of that name, or
    from the preset's segments blended: this is how calibrated scenarios are written)."""
    known = {"name", "preset", "users", "days", "dynamics", "segments"}
    for key in node:
        if key not in known:
            raise ValueError(f"scenario.{key}: unknown key; allowed: {', '.join(sorted(known))}")
    preset = check_choice("scenario.preset", node.get("preset", "streaming"), SCENARIOS)
    users = check_int("scenario.users", node.get("users", 50_000), 1, 50_000_000)
    days = check_int("scenario.days", node.get("days", 365), 7, 3650)
    scenario = SCENARIOS[preset](n_users=users, horizon_days=days)
    changes = node.get("dynamics") or {}
    allowed = sorted(scenario.dynamics.__dataclass_fields__)
    for key, value in changes.items():
        if key not in allowed:
            raise ValueError(f"scenario.dynamics.{key}: unknown key; allowed: {', '.join(allowed)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"scenario.dynamics.{key}: {value!r}; allowed: a number")
    scenario = replace(scenario, dynamics=replace(scenario.dynamics, **changes))
    if node.get("name"):
        scenario = replace(scenario, name=str(node["name"]))
    if node.get("segments"):
        scenario = replace(scenario, segments=segments_from(node["segments"], scenario))
    return scenario


SEGMENT_MAPPINGS = ("pain_mix", "initial_state", "plan_mix", "reach", "responsiveness")


def segments_from(items: Any, scenario: Scenario) -> tuple[Segment, ...]:
    """``scenario.segments`` items -> validated ``sim.Segment`` objects (see above)."""
    if not isinstance(items, list):
        raise ValueError(
            f"scenario.segments: {items!r}; allowed: a list of segments (name, weight, rates)"
        )
    fields = sorted(Segment.__dataclass_fields__)
    by_name = {s.name: s for s in scenario.segments}
    out = []
    for i, item in enumerate(items):
        key = f"scenario.segments[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ValueError(f"{key}: {item!r}; allowed: a mapping with a 'name' and fields")
        for field_name, value in item.items():
            if field_name not in fields:
                raise ValueError(f"{key}.{field_name}: unknown key; allowed: {', '.join(fields)}")
            mapping = field_name in SEGMENT_MAPPINGS
            if field_name != "name" and (mapping != isinstance(value, dict)):
                kind = "a mapping of names to numbers" if mapping else "a number"
                raise ValueError(f"{key}.{field_name}: {value!r}; allowed: {kind}")
            if (
                not mapping
                and field_name != "name"
                and (isinstance(value, bool) or not isinstance(value, (int, float)))
            ):
                raise ValueError(f"{key}.{field_name}: {value!r}; allowed: a number")
        base = by_name.get(item["name"], blend_segments(scenario.segments))
        args = {k: dict(v) if isinstance(v, dict) else v for k, v in item.items()}
        out.append(replace(base, **args))
    if len({s.name for s in out}) != len(out):
        raise ValueError(f"scenario.segments: duplicate names in {[s.name for s in out]}")
    return tuple(out)


def catalogue_from(node: dict[str, Any]) -> Catalogue:
    """``{offers: [{name, kind, channel, ...}, ...]}`` -> a validated catalogue."""
    offers = node.get("offers")
    if not isinstance(offers, list) or not offers:
        raise ValueError(f"offers.offers: {offers!r}; allowed: a non-empty list of offers")
    fields = set(Offer.__dataclass_fields__)
    built = []
    for i, item in enumerate(offers):
        if not isinstance(item, dict):
            raise ValueError(f"offers.offers[{i}]: {item!r}; allowed: a mapping of offer fields")
        for key in item:
            if key not in fields:
                raise ValueError(
                    f"offers.offers[{i}].{key}: unknown key; allowed: {', '.join(sorted(fields))}"
                )
        args = dict(item)
        if "eligible" in args:
            args["eligible"] = tuple(args["eligible"])
        built.append(Offer(**args))
    return Catalogue(offers=tuple(built))


# ------------------------------------------------------------------ writer
def scenario_node(result: Calibration, base: str, name: str) -> dict[str, Any]:
    """The calibrated scenario as a ``conf/scenario/`` mapping (``scenario_from`` form)."""
    sc = result.scenario
    segments = [{k: _tidy(v) for k, v in asdict(seg).items()} for seg in sc.segments]
    return {
        "name": name,
        "preset": base,
        "users": sc.n_users,
        "days": sc.horizon_days,
        "segments": segments,
    }


def _tidy(value: Any) -> Any:
    """Rates to 6 significant digits; mixes (which must sum to 1) exact."""
    if isinstance(value, dict):
        return {k: float(v) for k, v in value.items()}
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value


def scenario_yaml(result: Calibration, base: str, name: str = "calibrated") -> str:
    s = result.summary()
    head = [
        f"# Calibrated by `winback calibrate` from {Path(result.log.path).name or 'an event log'}",
        f"# ({s['customers']:,} customers, {s['calibration_period'][0]} to "
        f"{s['calibration_period'][1]}; {result.lifecycle.model.k} class(es)).",
        "# Lifecycle rates (per day), class weights, activity heterogeneity, state mix and",
        f"# basket value are fitted; pain points, channels and responses are the '{base}'",
        "# preset's. Use it: copy to conf/scenario/NAME.yaml, then",
        f"#   winback benchmark scenario=NAME offers={PRESET_OFFERS[base]}",
    ]
    body = yaml.safe_dump(scenario_node(result, base, name), sort_keys=False)
    return "\n".join(head) + "\n" + body
