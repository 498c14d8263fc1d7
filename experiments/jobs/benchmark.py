"""``winback benchmark``: the policy leaderboard.

Every selected agent runs on the scenario for every seed, each run paired with the no-offer
control on common random numbers; the table ranks agents by incremental profit (mean and 95%
confidence interval over seeds), with the full-information reference as the yardstick
(``reference``: each agent's share of its incremental profit). Agents are built
from config nodes (``_target_`` + keyword arguments, as in ``conf/agent/``); a factory that
takes ``scenario`` and ``catalogue`` gets the benchmark's (that is how learned agents train
on the scenario they are ranked on, and how your own policy can size itself).

With a ``baseline`` (one of the agents: the policy a team runs today, e.g. ``playbook``)
every other policy is also compared with it, paired seed by seed on common random numbers:
the difference in incremental profit and in users brought back, with 95% intervals.

Outputs in ``out``: ``tidy.parquet`` (agent x seed x metric), ``leaderboard.csv``,
``summary.json`` (per agent: incremental profit with its CI and its share of the reference's,
paired differences of the best learned agent against every other policy, and of every policy
against the baseline), ``offer_mix.parquet`` and the trained agents in ``agents/``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agents.base import Agent, as_agent
from agents.evaluate import METRICS, evaluate, paired_difference, t_interval
from experiments.config.agents import parameters, resolve_target
from experiments.config.scenario import catalogue_spec, scenario_spec
from experiments.config.schema import ATTRIBUTION_DAYS, SEEDS
from experiments.files import plain, write_json, write_table
from sim.offers import Catalogue
from sim.scenario import Scenario

NAIVE = ("no_offer", "random", "playbook")
"""Names of the naive reference policies (every ``blanket_*`` is naive too)."""
REFERENCES = ("full_information", "pain_point_rule")
"""The yardstick when none is named: the first of these that runs."""
SHORT = {"full_information": "full", "pain_point_rule": "rule"}
"""The references' names in the terminal table's narrow share column."""


@dataclass(frozen=True)
class BenchmarkConfig:
    """The benchmark's typed configuration (what the Hydra config becomes at the boundary)."""

    scenario: Scenario
    catalogue: Catalogue
    agents: dict[str, dict[str, Any]]
    seeds: tuple[int, ...] = SEEDS
    attribution_days: int = ATTRIBUTION_DAYS
    out: Path = Path("outputs/benchmark")
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)  # recorded in summary.json
    baseline: str | None = None  # an agent every other is compared with, paired
    reference: str | None = None  # the yardstick of shares (None: the first of REFERENCES)

    def __post_init__(self) -> None:
        for key in ("baseline", "reference"):
            name = getattr(self, key)
            if name is not None and name not in self.agents:
                raise ValueError(
                    f"{key}: {name!r} is not one of the selected agents; allowed: "
                    f"{', '.join(self.agents)}"
                )

    @property
    def yardstick(self) -> str | None:
        """The agent whose incremental profit the shares are of (None: no reference runs)."""
        if self.reference is not None:
            return self.reference
        return next((name for name in REFERENCES if name in self.agents), None)


# ------------------------------------------------------------------ agents
def build_agent(node: dict[str, Any], scenario: Scenario, catalogue: Catalogue) -> Agent:
    """Instantiate one agent node; factories taking scenario/catalogue get the benchmark's."""
    from hydra.utils import instantiate

    params = parameters(resolve_target("?", node["_target_"]))
    extra = {
        k: v
        for k, v in (("scenario", scenario), ("catalogue", catalogue))
        if k in params and k not in node
    }
    # typed objects go in by a plain call: instantiate would turn them into configs
    return as_agent(instantiate(node, _partial_=True, _convert_="all")(**extra))


def build_agents(
    nodes: dict[str, dict[str, Any]],
    scenario: Scenario,
    catalogue: Catalogue,
    progress: bool = True,
) -> tuple[dict[str, Agent], dict[str, float]]:
    """Every agent node built (trained where it trains) on ``scenario``; returns the agents
    and the seconds spent building each."""
    agents, seconds = {}, {}
    for name, node in nodes.items():
        start = time.perf_counter()
        if progress:
            print(f"building {name} ({node['_target_']}) in {scenario.name}", flush=True)
        agents[name] = build_agent(node, scenario, catalogue)
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
    agents, seconds = build_agents(cfg.agents, cfg.scenario, cfg.catalogue, cfg.progress)
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
    board = leaderboard(summary, tidy, cfg.baseline, cfg.yardstick)
    result = plain(summarise_run(cfg, agents, tidy, board))  # as summary.json holds it
    write_table(occupancy, cfg.out / "occupancy.parquet")
    timings = {"build_seconds": {k: round(v, 1) for k, v in seconds.items()}}
    write_json(cfg.out / "timings.json", timings)  # apart: results stay bit-identical
    write_table(learning_curves(agents), cfg.out / "learning_curves.csv")
    write(cfg.out, tidy, board, mix, result)  # summary.json last: it marks the run done
    from experiments.reporting.leaderboard import render

    report = render(cfg.out)
    print(format_leaderboard(board, cfg.baseline, cfg.yardstick))
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


def leaderboard(
    summary: pd.DataFrame,
    tidy: pd.DataFrame | None = None,
    baseline: str | None = None,
    reference: str | None = None,
) -> pd.DataFrame:
    """One row per agent, ranked by mean incremental profit, with CIs and the share of the
    ``reference``'s incremental profit (NaN without one, or when the reference's own gain is
    within noise); with a ``baseline``, each agent's paired difference from it
    (:data:`VERSUS`: mean and 95% interval of incremental profit and of users brought back;
    the baseline's own row NaN)."""
    wide = summary.pivot(index="agent", columns="metric", values=["mean", "ci_low", "ci_high"])
    board = pd.DataFrame(index=wide.index)
    for m in METRICS:
        board[m] = wide["mean"][m]
        if m == "incremental_profit":
            board[f"{m}_ci_low"] = wide["ci_low"][m]
            board[f"{m}_ci_high"] = wide["ci_high"][m]
    yardstick = board["incremental_profit"].get(reference, np.nan)
    low = board["incremental_profit_ci_low"].get(reference, np.nan)
    if np.isfinite(low) and low <= 0:  # the reference's own gain is within noise
        yardstick = np.nan
    # a share of a loss or of nothing means nothing: NaN then
    board["share_of_reference"] = (
        board["incremental_profit"] / yardstick if yardstick > 0 else np.nan
    )
    board["share_of_reference"] = board["share_of_reference"] + 0.0  # no -0%
    if baseline is not None and tidy is not None:
        for metric, column in VERSUS.items():
            for agent in board.index:
                d = versus(tidy, agent, baseline, metric)
                for key in ("mean", "ci_low", "ci_high"):
                    board.loc[agent, column + ("" if key == "mean" else f"_{key}")] = d[key]
    board = board.sort_values("incremental_profit", ascending=False)
    board.insert(0, "rank", np.arange(1, len(board) + 1))
    return board.reset_index()


VERSUS = {
    "incremental_profit": "vs_baseline",
    "incremental_reactivated_users": "vs_baseline_back",
}
"""The paired comparisons with a baseline: metric -> leaderboard column (with ``_ci_low`` and
``_ci_high``)."""


def versus(tidy: pd.DataFrame, agent: str, baseline: str, metric: str) -> dict[str, float]:
    """``agent - baseline`` paired over seeds (NaN for the baseline itself)."""
    if agent == baseline:
        return {"mean": float("nan"), "ci_low": float("nan"), "ci_high": float("nan")}
    return paired_difference(tidy, agent, baseline, metric)


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
            "share_of_reference": _num(row.share_of_reference),
            **{m: _num(getattr(row, m)) for m in METRICS if m != "incremental_profit"},
            "learned": agents[name].learned,
            "hidden": agents[name].hidden,
            "diagnostics": diagnostics(tidy, name),
            "params": agents[name].describe(),  # made plain JSON with the whole result
        }
    learned = [n for n in board.agent if per_agent[n]["learned"]]
    best = learned[0] if learned else None
    best_vs = {}
    if best is not None:
        for other in board.agent:
            if other != best:
                best_vs[other] = paired_difference(tidy, best, other)
    against = {}
    if cfg.baseline is not None:
        for other in board.agent:
            if other != cfg.baseline:
                against[other] = {m: versus(tidy, other, cfg.baseline, m) for m in VERSUS}
    return {
        "scenario": cfg.scenario.name,
        "users": cfg.scenario.n_users,
        "days": cfg.scenario.horizon_days,
        "seeds": list(cfg.seeds),
        "epoch_days": cfg.scenario.epoch_days,
        "agents": per_agent,
        "best_learned": best,
        "best_learned_vs": best_vs,
        "baseline": cfg.baseline,
        "versus_baseline": against,
        "reference": cfg.yardstick,
        "provenance": provenance(),
        "scenario_spec": scenario_spec(cfg.scenario),  # read back: an equal Scenario
        "catalogue_spec": catalogue_spec(cfg.catalogue),
        **cfg.extra,
    }


def diagnostics(tidy: pd.DataFrame, agent: str) -> dict[str, dict[str, float]]:
    """The agent's own figures (``Agent.diagnostics``): mean and 95% interval over seeds."""
    own = tidy[(tidy.agent == agent) & ~tidy.metric.isin(METRICS)]
    return {
        str(m): t_interval(group["value"].to_numpy(dtype=float))
        for m, group in own.groupby("metric", sort=True)
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
    write_table(tidy, out / "tidy.parquet")
    write_table(board, out / "leaderboard.csv")
    write_table(mix, out / "offer_mix.parquet")
    write_json(out / "summary.json", result)


def format_leaderboard(
    board: pd.DataFrame, baseline: str | None = None, reference: str | None = None
) -> str:
    """The ranked table for the terminal; with a ``baseline``, each policy's paired
    difference from it."""
    from experiments.reporting.leaderboard import roi_text

    against = f"vs {baseline} (95% CI)" if baseline else ""
    share = "of " + SHORT.get(reference or "", "ref")
    lines = [
        f"{'#':>2} {'agent':26s} {'incremental profit (95% CI)':>36s}"
        + (f" {against:>34s}" if baseline else "")
        + f" {share:>9s} {'extra back':>10s} {'cost/extra':>10s} {'spend':>10s}"
        f" {'ROI':>12s} {'unsubs':>7s}"
    ]
    for r in board.itertuples():
        ci = f"{r.incremental_profit:+,.0f} " + _interval(
            r.incremental_profit_ci_low, r.incremental_profit_ci_high
        )
        line = f"{r.rank:>2} {r.agent!s:26s} {ci:>36s}"
        if baseline:
            diff = "baseline"
            if r.agent != baseline:
                low, high = r.vs_baseline_ci_low, r.vs_baseline_ci_high
                diff = f"{r.vs_baseline:+,.0f} " + _interval(low, high)
            line += f" {diff:>34s}"
        line += (
            f" {_pct(r.share_of_reference):>9s} {r.incremental_reactivated_users:>+10,.0f}"
            f" {_fmt(r.cost_per_incremental_reactivation):>10s} {r.offer_spend:>10,.0f}"
            f" {roi_text(r.roi, r.offer_spend):>12s}"
            f" {r.unsubscribes:>7,.0f}"
        )
        lines.append(line)
    return "\n".join(lines)


def _interval(low: float, high: float) -> str:
    return f"({low:+,.0f} to {high:+,.0f})" if np.isfinite(low) else "(one seed: no CI)"


def _fmt(value: float, spec: str = ",.2f") -> str:
    return "-" if value is None or not np.isfinite(value) else format(value, spec)


def _pct(value: float) -> str:
    return "-" if not np.isfinite(value) else f"{value:.0%}"


def _num(value: Any) -> float | None:
    v = float(value)
    return v if np.isfinite(v) else None
