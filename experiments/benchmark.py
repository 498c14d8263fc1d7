"""``winback benchmark``: the policy leaderboard.

Every selected agent runs on the scenario for every seed, each run paired with the no-offer
control on common random numbers; the table ranks agents by incremental profit (mean and 95%
confidence interval over seeds), with the oracle as the upper reference. Agents are built
from config nodes (``_target_`` + keyword arguments, as in ``conf/agent/``); a factory that
takes ``scenario`` and ``catalogue`` gets the benchmark's (that is how learned agents train
on the scenario they are ranked on, and how your own policy can size itself).

Outputs in ``out``: ``tidy.parquet`` (agent x seed x metric), ``leaderboard.csv``,
``summary.json`` (per agent: incremental profit with its CI and its share of the oracle's,
paired differences of the best learned agent against every other policy), ``offer_mix.parquet``
and the trained agents in ``agents/``.
"""

from __future__ import annotations

import inspect
import json
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agents.base import Agent, as_agent, check_params
from agents.evaluate import METRICS, evaluate, paired_difference
from experiments.jsonio import strict_json
from sim import presets
from sim.offers import Catalogue, Offer
from sim.scenario import Scenario, Segment, blend_segments
from sim.validation import check_choice, check_int

SCENARIOS = {
    "streaming": presets.streaming,
    "retail": presets.retail,
    "price_shock": presets.price_shock,
    "content_drought": presets.content_drought,
}
NAIVE = ("no_offer", "random", "playbook")
"""Names of the naive reference policies (every ``blanket_*`` is naive too)."""


@dataclass(frozen=True)
class BenchmarkConfig:
    """The benchmark's typed configuration (what the Hydra config becomes at the boundary)."""

    scenario: Scenario
    catalogue: Catalogue
    agents: dict[str, dict[str, Any]]
    seeds: tuple[int, ...] = (1, 2, 3)
    attribution_days: int = 28
    out: Path = Path("outputs/benchmark")
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)  # recorded in summary.json


# ------------------------------------------------------------------ boundary
def scenario_from(node: dict[str, Any]) -> Scenario:
    """``{name, preset, users, days, epoch_days, dynamics, segments}`` -> the preset scenario
    with that population, horizon and decision cadence, the response-model parameters in
    ``dynamics`` replaced
    (``sim.Dynamics``) and, when ``segments`` is given, its segments replaced (each item a
    ``sim.Segment`` by name; unset fields come from the preset's segment of that name, or
    from the preset's segments blended: this is how calibrated scenarios are written)."""
    known = {"name", "preset", "users", "days", "epoch_days", "dynamics", "segments"}
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
    if "epoch_days" in node:
        scenario = replace(scenario, epoch_days=node["epoch_days"])
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


def expand_agents(nodes: dict[str, Any], catalogue: Catalogue) -> dict[str, dict[str, Any]]:
    """Validate agent nodes; ``offer: all`` on a blanket policy becomes one per offer.

    A mapping without ``_target_`` holds parameters for an agent that was not selected (an
    experiment sets them for agents you may have left out): skipped, with a note."""
    out: dict[str, dict[str, Any]] = {}
    for name, node in nodes.items():
        if isinstance(node, dict) and node and "_target_" not in node:
            print(
                f"note: agent.{name} has parameters but is not selected; ignored", file=sys.stderr
            )
            continue
        if not isinstance(node, dict) or "_target_" not in node:
            raise ValueError(
                f"agent.{name}: {node!r}; allowed: a mapping with _target_ (an importable "
                "class or function) and its keyword arguments"
            )
        if node["_target_"].endswith("Blanket") and node.get("offer") == "all":
            for offer in catalogue.names:
                out[f"blanket_{offer}"] = {**node, "offer": offer, "name": f"blanket_{offer}"}
        else:
            out[name] = dict(node)
    for name, node in out.items():  # every agent checked before any is built or trained
        check_agent_node(name, node, catalogue)
    if not out:
        raise ValueError("agent: no agent selected; allowed: at least one of conf/agent/")
    return out


# ------------------------------------------------------------------ agents
def resolve_target(name: str, path: Any) -> Any:
    """The class or function an agent node's ``_target_`` names."""
    from hydra.utils import get_method

    try:
        return get_method(str(path))
    except Exception as err:  # hydra wraps import errors of every kind
        cause = str(err).splitlines()[0]
        raise ValueError(
            f"agent.{name}._target_: {path!r} cannot be imported ({cause}); allowed: an "
            "importable class or function, e.g. agents.reference.Playbook"
        ) from None


def check_agent_node(name: str, node: dict[str, Any], catalogue: Catalogue) -> None:
    """Importable target, known keyword names, and the target's own value checks when it
    declares them (``agents.base.Checked``: ours do; they take microseconds, so a bad value
    fails before any training)."""
    target = resolve_target(name, node["_target_"])
    kwargs = {k: v for k, v in node.items() if not k.startswith("_")}
    try:
        params = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for key in kwargs:
        if key not in params and not takes_any:
            allowed = [p for p in params if p not in ("self", "scenario", "catalogue")]
            raise ValueError(
                f"agent.{name}.{key}: unknown parameter of {node['_target_']}; allowed: "
                + ", ".join(allowed)
            )
    try:
        check_params(target, catalogue, kwargs)
    except ValueError as err:
        raise ValueError(f"agent.{name}.{err}") from None


def build_agent(node: dict[str, Any], scenario: Scenario, catalogue: Catalogue) -> Agent:
    """Instantiate one agent node; factories taking scenario/catalogue get the benchmark's."""
    from hydra.utils import instantiate

    target = resolve_target("?", node["_target_"])
    try:
        params = inspect.signature(target).parameters
    except (TypeError, ValueError):  # builtins have none
        params = {}  # type: ignore[assignment]
    extra = {
        k: v
        for k, v in (("scenario", scenario), ("catalogue", catalogue))
        if k in params and k not in node
    }
    # typed objects go in by a plain call: instantiate would turn them into configs
    return as_agent(instantiate(node, _partial_=True, _convert_="all")(**extra))


def build_agents(cfg: BenchmarkConfig) -> tuple[dict[str, Agent], dict[str, float]]:
    """Every agent, trained where it trains; returns agents and seconds spent building each."""
    agents, seconds = {}, {}
    for name, node in cfg.agents.items():
        start = time.perf_counter()
        if cfg.progress:
            print(f"building {name} ({node['_target_']})", flush=True)
        agents[name] = build_agent(node, cfg.scenario, cfg.catalogue)
        seconds[name] = time.perf_counter() - start
    return agents, seconds


def save_agents(agents: dict[str, Agent], folder: Path) -> None:
    """Every learned agent that can be saved, as ``<name><suffix>``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, agent in agents.items():
        if agent.learned and agent.suffix:
            agent.save(folder / f"{name}{agent.suffix}")


# ------------------------------------------------------------------ run
def run(cfg: BenchmarkConfig) -> dict[str, Any]:
    """Build, evaluate, rank and write everything; returns the JSON summary."""
    cfg.out.mkdir(parents=True, exist_ok=True)
    agents, seconds = build_agents(cfg)
    save_agents(agents, cfg.out / "agents")
    factories = {name: agent.fresh for name, agent in agents.items()}
    tidy, summary, mix, occupancy = evaluate(
        factories,
        cfg.scenario,
        cfg.catalogue,
        list(cfg.seeds),
        cfg.attribution_days,
        progress=cfg.progress,
    )
    board = leaderboard(summary)
    result = _jsonable(summarise_run(cfg, agents, tidy, board))  # as summary.json holds it
    occupancy.to_parquet(cfg.out / "occupancy.parquet", index=False)
    timings = {"build_seconds": {k: round(v, 1) for k, v in seconds.items()}}
    write_json(cfg.out / "timings.json", timings)  # apart: results stay bit-identical
    learning_curves(agents).to_csv(cfg.out / "learning_curves.csv", index=False)
    write(cfg.out, tidy, board, mix, result)  # summary.json last: it marks the run done
    from experiments.report import render

    report = render(cfg.out)
    print(format_leaderboard(board))
    print(f"\nresults: {cfg.out.resolve()}\nreport:  {report.resolve()}")
    return result


def learning_curves(agents: dict[str, Agent]) -> pd.DataFrame:
    """Learned agents' curves: (agent, steps, incremental profit per user)."""
    rows = [
        {"agent": name, "steps": steps, "incremental_profit_per_user": value}
        for name, agent in agents.items()
        for steps, value in agent.learning_curve
    ]
    return pd.DataFrame(rows, columns=["agent", "steps", "incremental_profit_per_user"])


def leaderboard(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per agent, ranked by mean incremental profit, with CIs and oracle share."""
    wide = summary.pivot(index="agent", columns="metric", values=["mean", "ci_low", "ci_high"])
    board = pd.DataFrame(index=wide.index)
    for m in METRICS:
        board[m] = wide["mean"][m]
        if m == "incremental_profit":
            board[f"{m}_ci_low"] = wide["ci_low"][m]
            board[f"{m}_ci_high"] = wide["ci_high"][m]
    oracle = board["incremental_profit"].get("oracle", np.nan)
    # a share of a loss or of nothing means nothing: NaN then
    board["share_of_oracle"] = board["incremental_profit"] / oracle if oracle > 0 else np.nan
    board["share_of_oracle"] = board["share_of_oracle"] + 0.0  # no -0%
    board = board.sort_values("incremental_profit", ascending=False)
    board.insert(0, "rank", np.arange(1, len(board) + 1))
    return board.reset_index()


def summarise_run(
    cfg: BenchmarkConfig,
    agents: dict[str, Agent],
    tidy: pd.DataFrame,
    board: pd.DataFrame,
) -> dict[str, Any]:
    per_agent = {}
    for row in board.itertuples():
        name = str(row.agent)
        per_agent[name] = {
            "rank": int(row.rank),
            "incremental_profit": {
                "mean": float(row.incremental_profit),
                "ci_low": float(row.incremental_profit_ci_low),
                "ci_high": float(row.incremental_profit_ci_high),
            },
            "share_of_oracle": _num(row.share_of_oracle),
            **{m: _num(getattr(row, m)) for m in METRICS if m != "incremental_profit"},
            "learned": agents[name].learned,
            "params": agents[name].describe(),  # made plain JSON with the whole result
        }
    learned = [n for n in board.agent if per_agent[n]["learned"]]
    best = learned[0] if learned else None
    versus = {}
    if best is not None:
        for other in board.agent:
            if other != best:
                versus[other] = paired_difference(tidy, best, other)
    return {
        "scenario": cfg.scenario.name,
        "users": cfg.scenario.n_users,
        "days": cfg.scenario.horizon_days,
        "seeds": list(cfg.seeds),
        "epoch_days": cfg.scenario.epoch_days,
        "agents": per_agent,
        "best_learned": best,
        "best_learned_vs": versus,
        "provenance": provenance(),
        **cfg.extra,
    }


def provenance() -> dict[str, Any]:
    """Package versions and the git commit (when run from a checkout) behind a result."""
    import platform
    import subprocess
    from importlib import metadata

    versions = {}
    for pkg in ("winback-sandbox", "numpy", "simpy", "gymnasium", "stable-baselines3", "torch"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    here = str(Path(__file__).resolve().parent)

    def git(*args: str) -> str:
        try:
            done = subprocess.run(
                ["git", "-C", here, *args], capture_output=True, text=True, timeout=5, check=False
            )
        except OSError:
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no")) if commit else None
    return {
        "python": platform.python_version(),
        "packages": versions,
        "git_commit": commit or None,
        "git_uncommitted_changes": dirty,
    }


def write(
    out: Path, tidy: pd.DataFrame, board: pd.DataFrame, mix: pd.DataFrame, result: dict[str, Any]
) -> None:
    tidy.to_parquet(out / "tidy.parquet", index=False)
    board.to_csv(out / "leaderboard.csv", index=False)
    mix.to_parquet(out / "offer_mix.parquet", index=False)
    write_json(out / "summary.json", result)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write atomically (a temporary file renamed): never a half-written file."""
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(strict_json(data, indent=2))  # infinities (no budget) and NaN as null
    tmp.replace(path)


def format_leaderboard(board: pd.DataFrame) -> str:
    """The ranked table for the terminal."""
    lines = [
        f"{'#':>2} {'agent':26s} {'incremental profit (95% CI)':>36s} {'of oracle':>9s} "
        f"{'react. rate':>11s} {'cost/react':>10s} {'ROI':>7s} {'spend':>10s} {'unsubs':>7s}"
    ]
    for r in board.itertuples():
        lo, hi = r.incremental_profit_ci_low, r.incremental_profit_ci_high
        ci = f"{r.incremental_profit:+,.0f} "
        ci += f"({lo:+,.0f} to {hi:+,.0f})" if np.isfinite(lo) else "(one seed: no CI)"
        lines.append(
            f"{r.rank:>2} {r.agent!s:26s} {ci:>36s} {_pct(r.share_of_oracle):>9s} "
            f"{r.reactivation_rate:>11.1%} {_fmt(r.cost_per_incremental_reactivation):>10s} "
            f"{_fmt(r.roi, '.2f'):>7s} {r.offer_spend:>10,.0f} {r.unsubscribes:>7,.0f}"
        )
    return "\n".join(lines)


def _fmt(value: float, spec: str = ",.2f") -> str:
    return "-" if value is None or not np.isfinite(value) else format(value, spec)


def _pct(value: float) -> str:
    return "-" if not np.isfinite(value) else f"{value:.0%}"


def _num(value: Any) -> float | None:
    v = float(value)
    return v if np.isfinite(v) else None


def _jsonable(value: Any) -> Any:
    """Plain JSON values (what summary.json holds): no budget -> null, objects as text."""
    return json.loads(strict_json(value))
