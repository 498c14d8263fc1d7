"""``winback stress``: rank policies across an ensemble of plausible worlds, not one.

The benchmark ranks policies in the nominal world. Before a rollout a team wants to know
which policy still does well when the response model is wrong: each offer's lift, price
sensitivity, deal shocks, fatigue, unsubscribes, survey accuracy and the release cadence
drawn from ranges (``sim.worlds``), and, for a scenario fitted by ``winback calibrate``,
the fitted segment rates drawn from their estimates' uncertainty.

Learned agents are trained once, in the nominal world, and a ``fresh()`` copy of each is
scored in every world (``retrain``: learned agents are trained again in every world). In
each world every policy and the no-offer control share seeds (``agents.evaluate.evaluate``:
common random numbers), so policies are compared on the same simulated customers.

Outputs in ``out``: ``worlds.csv`` (world id, nominal flag and every drawn factor),
``tidy.parquet`` (world x agent x seed x metric), ``robustness.csv`` (per policy, see
:func:`robustness`), ``ranks.csv`` (world x agent -> rank), ``rank_stability.png`` and
``summary.json`` (the recommendation sentence, its rule, the table and the config; written
last: it marks the run done). A shard (``shards > 1``) evaluates every ``shards``-th world
and writes ``worlds.csv``, ``tidy.parquet`` and a ``summary.json`` marked ``part``;
:func:`combine` joins the shards of a sweep folder into the full results.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agents.evaluate import evaluate
from experiments.config.agents import hidden_target
from experiments.config.scenario import catalogue_spec, scenario_spec
from experiments.config.schema import ATTRIBUTION_DAYS, SEEDS
from experiments.files import plain, read_json, write_json, write_table
from experiments.jobs.benchmark import build_agents, provenance
from sim.offers import Catalogue
from sim.scenario import Scenario
from sim.worlds import ParameterDoubt, Range, World, check_ranges, draw_worlds, factor_names

METRIC = "incremental_profit"
RULE = (
    "the robust choice is the policy with the highest 10th percentile of incremental profit "
    "across worlds (ties: the larger share of worlds within {within:.0%} of the best, then the "
    "higher mean); reference policies that see hidden traits are not candidates"
)


@dataclass(frozen=True)
class StressConfig:
    """The stress test's typed configuration (what the Hydra config becomes)."""

    scenario: Scenario
    catalogue: Catalogue
    agents: dict[str, dict[str, Any]]
    ranges: Mapping[str, Range] = field(default_factory=dict)
    worlds: int = 20
    world_seed: int = 0  # draws the worlds (the simulation seeds are ``seeds``)
    nominal: bool = True  # world 0 is the scenario as given; False: all worlds drawn
    retrain: bool = False  # learned agents trained again in every world
    within: float = 0.05  # "within 5% of the best"
    doubts: tuple[ParameterDoubt, ...] = ()  # calibrated rates' uncertainty
    seeds: tuple[int, ...] = SEEDS
    attribution_days: int = ATTRIBUTION_DAYS
    out: Path = Path("outputs/stress")
    progress: bool = True
    shards: int = 1
    shard: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # recorded in summary.json

    def __post_init__(self) -> None:
        if not isinstance(self.worlds, int) or isinstance(self.worlds, bool) or self.worlds < 1:
            raise ValueError(f"worlds: {self.worlds!r}; allowed: an integer >= 1")
        check_ranges(self.ranges)
        if not 0 <= self.within < 1:
            raise ValueError(f"within: {self.within!r}; allowed: a share in [0, 1), e.g. 0.05")
        if not 1 <= self.shards <= self.worlds:
            raise ValueError(f"shards: {self.shards!r}; allowed: 1 to worlds ({self.worlds})")
        if not 0 <= self.shard < self.shards:
            raise ValueError(f"shard: {self.shard!r}; allowed: 0 to shards - 1 ({self.shards - 1})")
        if not self.seeds:
            raise ValueError("seeds: []; allowed: a non-empty list of distinct integers")
        if not self.agents:
            raise ValueError("agent: no agent selected; allowed: at least one of conf/agent/")

    @property
    def candidates(self) -> list[str]:
        """Agents a team could roll out: not the references, which see what no real policy
        can (``Agent.hidden``); those are ranked, never recommended."""
        return [n for n, node in self.agents.items() if not hidden_target(node)]

    def my_worlds(self, worlds: Sequence[World]) -> list[World]:
        return [w for w in worlds if w.id % self.shards == self.shard]


# ------------------------------------------------------------------ worlds and agents
def worlds_of(cfg: StressConfig) -> list[World]:
    """Every world of the ensemble (the same for every shard)."""
    rng = np.random.default_rng(np.random.SeedSequence(cfg.world_seed))
    return draw_worlds(
        cfg.scenario, cfg.catalogue, cfg.ranges, cfg.worlds, rng, cfg.doubts, cfg.nominal
    )


def worlds_table(worlds: Sequence[World], catalogue: Catalogue, cfg: StressConfig) -> pd.DataFrame:
    names = factor_names(catalogue, cfg.doubts)
    rows = [
        {"world": w.id, "nominal": w.nominal, **{k: w.factors[k] for k in names}}
        | {"releases": len(w.scenario.releases)}
        for w in worlds
    ]
    return pd.DataFrame(rows)


def evaluate_worlds(
    cfg: StressConfig, worlds: Sequence[World]
) -> tuple[pd.DataFrame, dict[str, float]]:
    """The tidy results of every agent in every world given (world x agent x seed x metric)."""
    agents, seconds = build_agents(cfg.agents, cfg.scenario, cfg.catalogue, cfg.progress)
    learned = [n for n, a in agents.items() if a.learned]
    frames = []
    for k, world in enumerate(worlds):
        if cfg.progress:
            print(f"world {world.id} ({k + 1} of {len(worlds)}){describe(world)}", flush=True)
        here = dict(agents)
        if cfg.retrain and learned and not world.nominal:
            nodes = {n: cfg.agents[n] for n in learned}
            again, more = build_agents(nodes, world.scenario, world.catalogue, cfg.progress)
            here.update(again)
            for name, s in more.items():
                seconds[name] = seconds.get(name, 0.0) + s
        factories = {name: agent.fresh for name, agent in here.items()}
        tidy = evaluate(
            factories,
            world.scenario,
            world.catalogue,
            list(cfg.seeds),
            cfg.attribution_days,
            progress=cfg.progress,
        ).tidy
        frames.append(tidy.assign(world=world.id))
    tidy = pd.concat(frames, ignore_index=True)
    return tidy[["world", "agent", "seed", "metric", "value"]], seconds


def describe(world: World) -> str:
    if world.nominal:
        return ": nominal"
    moved = {k: v for k, v in world.factors.items() if v != 1.0}
    if not moved:
        return ""
    return ": " + ", ".join(f"{k} x{v:.2f}" for k, v in moved.items())


# ------------------------------------------------------------------ the table
def world_means(tidy: pd.DataFrame, metric: str = METRIC) -> pd.DataFrame:
    """world x agent -> the metric's mean over seeds."""
    rows = tidy[tidy.metric == metric]
    return rows.groupby(["world", "agent"])["value"].mean().unstack("agent")


def ranks(tidy: pd.DataFrame, metric: str = METRIC) -> pd.DataFrame:
    """world x agent -> rank by the metric's seed mean (1 = best; ties share the best rank)."""
    return world_means(tidy, metric).rank(axis=1, ascending=False, method="min").astype(int)


def robustness(
    tidy: pd.DataFrame,
    within: float = 0.05,
    nominal_world: int | None = 0,
    candidates: Sequence[str] | None = None,
    metric: str = METRIC,
) -> pd.DataFrame:
    """One row per policy, from its incremental profit in each world (mean over seeds):

    ``mean`` and ``p10`` (10th percentile, linear interpolation) across worlds, ``worst``
    (the lowest), ``nominal`` (in ``nominal_world``; NaN without one), ``share_best`` (share
    of worlds where it is the best: ties all count), ``share_within`` (share where it is at
    least the best minus ``within`` x |best|), ``worst_regret`` and ``mean_regret`` (the
    largest and the mean shortfall from each world's best), ``share_losing`` (share of worlds
    where it loses money against doing nothing, i.e. is below 0), ``mean_rank`` and
    ``worst_rank``, ``worlds``; ``candidate`` (may be recommended) and ``robust_rank`` (1 =
    the robust choice by the :data:`RULE`; candidates first). Each world's best is over every
    policy in ``tidy`` (the yardsticks included)."""
    means = world_means(tidy, metric)
    best = means.max(axis=1)
    regret = means.rsub(best, axis=0)
    threshold = best - within * best.abs()
    rank = means.rank(axis=1, ascending=False, method="min")
    table = pd.DataFrame(
        {
            "mean": means.mean(),
            "p10": means.quantile(0.10),
            "worst": means.min(),
            "nominal": means.loc[nominal_world]
            if nominal_world is not None and nominal_world in means.index
            else np.nan,
            "share_best": means.eq(best, axis=0).mean(),
            "share_within": means.ge(threshold, axis=0).mean(),
            "worst_regret": regret.max(),
            "mean_regret": regret.mean(),
            "share_losing": means.lt(0).mean(),
            "mean_rank": rank.mean(),
            "worst_rank": rank.max().astype(int),
            "worlds": means.notna().sum().astype(int),
        }
    )
    table.index.name = "agent"
    names = list(table.index) if candidates is None else list(candidates)
    table["candidate"] = [a in names for a in table.index]
    table = table.sort_values(
        ["candidate", "p10", "share_within", "mean"], ascending=[False, False, False, False]
    )
    table.insert(0, "robust_rank", np.arange(1, len(table) + 1))
    return table.reset_index()


# ------------------------------------------------------------------ the words
def recommendation(table: pd.DataFrame, within: float = 0.05) -> str:
    """The robust choice in plain words, driven by :func:`robustness`'s table."""
    cands = table[table.candidate]
    if cands.empty:
        return "No candidate policy was run (only reference policies): nothing to recommend."
    pick = cands.iloc[0]
    n = int(pick.worlds)
    k = round(pick.share_within * n)
    first = (
        f"Across {n} plausible world{'s' if n != 1 else ''}, `{pick.agent}` is best or within "
        f"{within:.0%} of the best in {k} ({pick.share_within:.0%}); "
        + (
            "no policy beats it in any world"
            if pick.worst_regret <= 0
            else f"its worst case is {pick.worst_regret:,.0f} below that world's best"
        )
        + f", and its 10th percentile across worlds is {pick.p10:,.0f} incremental profit."
    )
    if pick.agent == "no_offer" or (pick.p10 <= 0 and pick.mean <= 0):
        first += " No policy's 10th percentile beats sending nothing: do not roll one out yet."
    sentences = [first]
    if table.nominal.notna().any():
        winner = cands.loc[cands.nominal.idxmax()]
        if winner.agent != pick.agent:
            losing = round(winner.share_losing * n)
            w_k = round(winner.share_within * n)
            tail = f" and loses money in {losing} of {n}" if losing else ""
            sentences.append(
                f"`{winner.agent}` wins the nominal world but is within {within:.0%} of the best "
                f"in only {w_k} of {n}{tail}; its worst case is {winner.worst_regret:,.0f} below "
                "the best."
            )
    losers = [str(a) for a in cands.agent[cands.share_losing >= 0.5] if a != pick.agent]
    if losers:
        sentences.append(
            f"Loses money in at least half the worlds: {', '.join(f'`{a}`' for a in losers)}."
        )
    return " ".join(sentences)


# ------------------------------------------------------------------ the plot
def plot_ranks(rank: pd.DataFrame, order: Sequence[str], nominal: bool, path: Path) -> None:
    """Each policy's rank in each world as an annotated heat map, policies in robust order."""
    from experiments.reporting.kit import pyplot, save

    plt = pyplot()
    grid = rank[list(order)].T  # agents x worlds
    n_agents, n_worlds = grid.shape
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * n_worlds + 3.5), max(3, 0.42 * n_agents + 1.6)))
    image = ax.imshow(grid.to_numpy(), cmap="RdYlGn_r", aspect="auto", vmin=1, vmax=n_agents)
    for i in range(n_agents):
        for j in range(n_worlds):
            ax.text(j, i, str(grid.iat[i, j]), ha="center", va="center", fontsize=7)
    labels = [f"{w}*" if nominal and w == 0 else str(w) for w in grid.columns]
    ax.set_xticks(range(n_worlds), labels, fontsize=8)
    ax.set_yticks(range(n_agents), list(grid.index), fontsize=8)
    ax.set_xlabel("world" + (" (* = nominal)" if nominal else ""))
    ax.set_title("Rank of each policy in each world (1 = most incremental profit)")
    fig.colorbar(image, ax=ax, label="rank", fraction=0.03)
    save(fig, path)


# ------------------------------------------------------------------ run
def run(cfg: StressConfig) -> dict[str, Any]:
    """Draw the worlds, train, evaluate everywhere, rank and write; returns the summary."""
    cfg.out.mkdir(parents=True, exist_ok=True)
    worlds = worlds_of(cfg)
    mine = cfg.my_worlds(worlds)
    table_of_worlds = worlds_table(worlds, cfg.catalogue, cfg)
    start = time.perf_counter()
    tidy, seconds = evaluate_worlds(cfg, mine)
    timings = {
        "build_seconds": {k: round(v, 1) for k, v in seconds.items()},
        "seconds": round(time.perf_counter() - start, 1),
    }
    write_json(cfg.out / "timings.json", timings)  # apart: results stay bit-identical
    write_table(
        table_of_worlds[table_of_worlds.world.isin([w.id for w in mine])], cfg.out / "worlds.csv"
    )
    write_table(tidy, cfg.out / "tidy.parquet")
    if cfg.shards > 1:
        head = header(cfg) | {"part": {"shard": cfg.shard, "shards": cfg.shards}}
        write_json(cfg.out / "summary.json", head)
        print(f"shard {cfg.shard} of {cfg.shards} done: {cfg.out.resolve()}")
        return plain(head)  # type: ignore[no-any-return]
    return finish(cfg.out, tidy, header(cfg), cfg.within, cfg.nominal, cfg.candidates)


def header(cfg: StressConfig) -> dict[str, Any]:
    """What summary.json records of the config."""
    return {
        "scenario": cfg.scenario.name,
        "users": cfg.scenario.n_users,
        "days": cfg.scenario.horizon_days,
        "seeds": list(cfg.seeds),
        "worlds": cfg.worlds,
        "world_seed": cfg.world_seed,
        "nominal_world": cfg.nominal,
        "retrain": cfg.retrain,
        "within": cfg.within,
        "ranges": {k: {"low": r.low, "high": r.high, "log": r.log} for k, r in cfg.ranges.items()},
        "calibrated_doubts": [
            {"segment": d.segment, "field": d.field, "sd_log": d.sd_log} for d in cfg.doubts
        ],
        "candidates": cfg.candidates,
        "provenance": provenance(),
        "scenario_spec": scenario_spec(cfg.scenario),
        "catalogue_spec": catalogue_spec(cfg.catalogue),
        **cfg.extra,
    }


def finish(
    out: Path,
    tidy: pd.DataFrame,
    head: dict[str, Any],
    within: float,
    nominal: bool,
    candidates: Sequence[str],
) -> dict[str, Any]:
    """The table, the words, the plot and summary.json from a whole ensemble's tidy results."""
    table = robustness(tidy, within, 0 if nominal else None, candidates)
    rank = ranks(tidy)
    words = recommendation(table, within)
    write_table(table, out / "robustness.csv")
    write_table(rank.reset_index(), out / "ranks.csv")
    plot_ranks(rank, list(table.agent), nominal, out / "rank_stability.png")
    pick = table[table.candidate]
    result = plain(
        head
        | {
            "recommendation": words,
            "robust_choice": str(pick.agent.iloc[0]) if not pick.empty else None,
            "rule": RULE.format(within=within),
            "robustness": table.to_dict(orient="records"),
        }
    )
    write_json(out / "summary.json", result)  # last: it marks the run done
    print(format_table(table, within))
    print(f"\n{words}\n\nresults: {out.resolve()}")
    return result  # type: ignore[no-any-return]


def format_table(table: pd.DataFrame, within: float = 0.05) -> str:
    """The robustness table for the terminal."""
    lines = [
        f"{'#':>2} {'policy':26s} {'mean':>10s} {'p10':>10s} {'worst':>10s} {'nominal':>10s}"
        f" {'best':>5s} {f'<={within:.0%}':>5s} {'worst regret':>12s} {'losing':>6s}"
        f" {'mean rank':>9s}"
    ]
    for r in table.itertuples():
        name = str(r.agent) + ("" if r.candidate else " (ref)")
        nominal = "-" if not np.isfinite(r.nominal) else f"{r.nominal:,.0f}"
        lines.append(
            f"{r.robust_rank:>2} {name:26s} {r.mean:>10,.0f} {r.p10:>10,.0f} {r.worst:>10,.0f}"
            f" {nominal:>10s} {r.share_best:>5.0%} {r.share_within:>5.0%}"
            f" {r.worst_regret:>12,.0f} {r.share_losing:>6.0%} {r.mean_rank:>9.1f}"
        )
    return "\n".join(lines)


# ------------------------------------------------------------------ shards
def combine(folder: Path, out: Path | None = None) -> dict[str, Any]:
    """Join the shards of a ``--multirun`` over ``shard`` (every ``summary.json`` marked
    ``part`` below ``folder``) into the full results, written into ``out`` (default
    ``folder``). The shards must be of one config and cover every world once."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"folder: {str(folder)!r} is not a folder; allowed: a sweep folder")
    parts = []
    for path in sorted(folder.rglob("summary.json")):
        summary = read_json(path, "a summary.json written by winback stress")
        if isinstance(summary, dict) and "part" in summary:
            parts.append((path.parent, summary))
    if not parts:
        raise ValueError(
            f"folder: {str(folder)!r} holds no stress shards; allowed: the hydra.sweep.dir of "
            "winback stress -m shards=N shard=0,...,N-1"
        )
    head = {k: v for k, v in parts[0][1].items() if k not in ("part", "config", "provenance")}
    for where, summary in parts[1:]:
        other = {k: v for k, v in summary.items() if k not in ("part", "config", "provenance")}
        if other != head:
            raise ValueError(f"{where}: a shard of another stress config; allowed: one config")
    shards = int(parts[0][1]["part"]["shards"])
    got = sorted(int(s["part"]["shard"]) for _, s in parts)
    if got != list(range(shards)):
        raise ValueError(
            f"folder: shards {got} found; allowed: every shard 0 to {shards - 1} once "
            "(run the missing ones into the same hydra.sweep.dir)"
        )
    tidy = pd.concat([pd.read_parquet(p / "tidy.parquet") for p, _ in parts], ignore_index=True)
    tidy = tidy.sort_values(["world"], kind="stable").reset_index(drop=True)
    table = pd.concat(
        [pd.read_csv(p / "worlds.csv", float_precision="round_trip") for p, _ in parts],
        ignore_index=True,
    )
    out = folder if out is None else Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_table(table.sort_values("world").reset_index(drop=True), out / "worlds.csv")
    write_table(tidy, out / "tidy.parquet")
    head = parts[0][1] | {"combined_from": [str(p.relative_to(folder)) for p, _ in parts]}
    head.pop("part")
    return finish(
        out,
        tidy,
        head,
        float(head["within"]),
        bool(head["nominal_world"]),
        list(head["candidates"]),
    )
