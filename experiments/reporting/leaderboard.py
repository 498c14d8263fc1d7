"""``winback report``: PNG plots and one self-contained HTML report from a results folder.

Reads what ``winback benchmark`` writes (``summary.json``, ``leaderboard.csv``,
``tidy.parquet``, ``offer_mix.parquet``, ``occupancy.parquet``, ``learning_curves.csv``) and
writes ``plots/*.png`` and ``report.html`` (images embedded, so the file can be mailed).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.files import read_json, write_json, write_text
from experiments.jobs.benchmark import REFERENCES
from experiments.reporting.kit import img, money, page, pyplot, save
from experiments.reporting.rollout import (
    hidden,
    reference_part,
    reference_words,
    rollout,
    section_html,
)

NEEDED = ("summary.json", "leaderboard.csv", "offer_mix.parquet", "occupancy.parquet")
ROI_SHOWN_UP_TO = 20.0
"""An ROI beyond +-20 (the spend under 5% of the profit it is set against) is shown as
"spend near 0": a ratio to almost nothing says nothing about the offer's cost."""

METRIC_HELP = {
    "incremental_profit": "profit minus the no-offer control's profit on the same customers "
    "and random draws (revenue - serving - discount - trial - message - support cost - the "
    "value of the reachability lost when a message makes a customer opt out of a channel)",
    "vs baseline": "a policy's incremental profit (or users brought back) minus the "
    "baseline's, paired seed by seed on the same customers and random draws",
    "extra users back": "users who came back at least once, beyond the control's",
    "share_of_reference": "incremental profit as a share of the reference's (full_information: "
    "at each decision it looks ahead inside the simulation, knowing each customer's hidden "
    "state, and sends the offer expected to pay most; no real policy can)",
    "reactivation_rate": "users who came back at least once / users inactive at some time",
    "cost_per_incremental_reactivation": "offer spend / reactivations beyond the control's",
    "roi": "incremental profit / offer spend (shown as 'spend near 0' beyond +-20: a ratio "
    "to almost nothing)",
    "offer_spend": "discount + trial + message + support cost",
    "unsubscribes": "users who opted out of a channel after a message",
}


def plot_incremental_profit(board: pd.DataFrame, path: Path) -> None:
    plt = pyplot()
    b = board.iloc[::-1]
    fig, ax = plt.subplots(figsize=(9, 0.42 * len(b) + 1.5))
    colors = [
        "#6a3d9a" if a in REFERENCES else "#1f78b4" if m >= 0 else "#e31a1c"
        for a, m in zip(b.agent, b.incremental_profit, strict=True)
    ]
    err = np.vstack(
        [
            b.incremental_profit - b.incremental_profit_ci_low,
            b.incremental_profit_ci_high - b.incremental_profit,
        ]
    )
    ax.barh(b.agent, b.incremental_profit, xerr=err, color=colors, capsize=3)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("incremental profit vs no-offer control (mean, 95% CI over seeds)")
    ax.set_title("Which policy earns most beyond doing nothing")
    ax.grid(axis="x", alpha=0.3)
    save(fig, path)


def plot_occupancy(occ: pd.DataFrame, agents: list[str], path: Path) -> None:
    plt = pyplot()
    mean = occ.groupby(["agent", "day", "state"])["users"].mean().unstack("state")
    total = mean.sum(axis=1)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharex=True)
    for ax, state in zip(axes, ("active", "dormant", "churned"), strict=True):
        for agent in ["control", *agents]:
            if agent in mean.index.get_level_values(0):
                share = (mean.loc[agent, state] / total.loc[agent]).to_numpy()
                days = mean.loc[agent].index.to_numpy()
                style = {"color": "black", "lw": 2} if agent == "control" else {"lw": 1.2}
                ax.plot(days, share, label=agent, **style)
        ax.set_title(f"share {state}")
        ax.set_xlabel("day")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("State occupancy over time (mean over seeds)")
    save(fig, path)


MIX_BY = ("pain_point", "stated_reason", "segment")
"""The offer mix's breakdowns: hidden pain point, exit-survey answer, segment."""


def plot_offer_mix(mix: pd.DataFrame, agents: list[str], by: str, path: Path) -> None:
    plt = pyplot()
    shown = [a for a in agents if a in set(mix.agent)]
    if not shown:
        return
    fig, axes = plt.subplots(1, len(shown), figsize=(4.2 * len(shown), 3.8), squeeze=False)
    seeds = max(1, mix.seed.nunique())
    for ax, agent in zip(axes[0], shown, strict=True):
        table = mix[mix.agent == agent].pivot_table(
            index="offer", columns=by, values="sends", aggfunc="sum", fill_value=0
        )
        ax.imshow(table.to_numpy() / seeds, aspect="auto", cmap="Blues")
        ax.set_xticks(range(table.shape[1]), table.columns, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(table.shape[0]), table.index, fontsize=8)
        for (i, j), v in np.ndenumerate(table.to_numpy() / seeds):
            ax.text(j, i, f"{v:,.0f}", ha="center", va="center", fontsize=7)
        ax.set_title(agent)
    fig.suptitle(f"Who gets what: sends per run by offer and {by.replace('_', ' ')}")
    save(fig, path)


def plot_learning_curves(curves: pd.DataFrame, path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for agent, c in curves.groupby("agent"):
        ax.plot(c.steps, c.incremental_profit_per_user, marker=".", label=str(agent))
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("training steps (RL: user-weeks; bandits: users)")
    ax.set_ylabel("incremental profit per user (held-out users)")
    ax.set_title("Learning curves")
    ax.legend()
    ax.grid(alpha=0.3)
    save(fig, path)


def make_plots(folder: Path, summary: dict[str, Any], board: pd.DataFrame) -> dict[str, Path]:
    plots = folder / "plots"
    plots.mkdir(exist_ok=True)
    focus = focus_agents(summary, board)
    out = {"incremental_profit": plots / "incremental_profit.png"}
    plot_incremental_profit(board, out["incremental_profit"])
    out["occupancy"] = plots / "occupancy.png"
    plot_occupancy(pd.read_parquet(folder / "occupancy.parquet"), focus, out["occupancy"])
    mix = pd.read_parquet(folder / "offer_mix.parquet")
    for by in MIX_BY:
        path = plots / f"offer_mix_by_{by}.png"
        plot_offer_mix(mix, focus, by, path)
        if path.exists():
            out[f"offer_mix_by_{by}"] = path
    curves_file = folder / "learning_curves.csv"
    if curves_file.exists():
        curves = pd.read_csv(curves_file)
        if len(curves):
            out["learning_curves"] = plots / "learning_curves.png"
            plot_learning_curves(curves, out["learning_curves"])
    return out


def focus_agents(summary: dict[str, Any], board: pd.DataFrame) -> list[str]:
    """The reference, the best learned agent, the baseline (or the playbook) and the best
    policy a company could run that does not learn."""
    names = list(board.agent)
    fixed = [a for a in names if not summary["agents"][a]["learned"] and not hidden(summary, a)]
    picks = [
        summary.get("reference"),
        summary.get("best_learned"),
        summary.get("baseline") or "playbook",
        fixed[0] if fixed else None,
    ]
    out: list[str] = []
    for p in picks:
        if p and p in names and p not in out:
            out.append(p)
    return out


def roi_text(roi: float, spend: float) -> str:
    """The ROI as the tables show it: "-" without spend, "spend near 0" beyond
    :data:`ROI_SHOWN_UP_TO`."""
    if not np.isfinite(roi) or spend <= 0:
        return "-"
    if abs(roi) > ROI_SHOWN_UP_TO:
        return "spend near 0"
    return f"{roi:.2f}"


# ------------------------------------------------------------------ html
def findings(summary: dict[str, Any], board: pd.DataFrame) -> list[str]:
    """Plain-language sentences a strategist can act on."""
    agents = summary["agents"]
    out = []
    top = board.iloc[0]
    if top.incremental_profit > 0:
        out.append(
            f"<b>{html.escape(str(top.agent))}</b> earned the most: "
            f"{money(top.incremental_profit)} beyond doing nothing (95% CI "
            f"{money(top.incremental_profit_ci_low)} to {money(top.incremental_profit_ci_high)})."
        )
    else:
        out.append("<b>No policy earned more than doing nothing</b> in this run.")
    if top.incremental_profit > 0 and top.incremental_profit_ci_low <= 0:
        out.append(
            "<b>Caution:</b> not even the top policy is clearly better than doing nothing (its "
            "95% interval includes zero): the differences here are within noise. Run more "
            "seeds (<code>seeds=[1,2,3,4,5]</code>) or more customers "
            "(<code>scenario.users=...</code>) before acting on this ranking."
        )
    if reference_part(summary).get("shares"):
        out.append(html.escape(reference_words(reference_part(summary))))
    best = summary.get("best_learned")
    if best:
        beaten = [
            o
            for o, d in summary["best_learned_vs"].items()
            if (d["ci_low"] or 0) > 0 and not agents[o]["learned"] and not hidden(summary, o)
        ]
        better = [
            a
            for a in board.agent
            if not agents[a]["learned"]
            and not hidden(summary, a)
            and agents[a]["incremental_profit"]["mean"] > agents[best]["incremental_profit"]["mean"]
        ]
        if better:
            out.append(
                "But these policies, which do not learn, earned more than it on average: "
                + ", ".join(html.escape(b) for b in better)
                + " (train it longer: see the full benchmark)."
            )
        if beaten:
            out.append(
                f"It beats {len(beaten)} policies that do not learn, with 95% paired "
                "intervals above zero: " + ", ".join(html.escape(b) for b in beaten) + "."
            )
    out += against_baseline(summary)
    losers = [
        a
        for a in board.agent
        if (agents[a]["incremental_profit"]["ci_high"] or 0) < 0 and not hidden(summary, a)
    ]
    if losers:
        out.append(
            "These policies <b>lose money</b> against doing nothing (whole CI below zero): "
            + ", ".join(html.escape(a) for a in losers)
            + "."
        )
    return out


def against_baseline(summary: dict[str, Any]) -> list[str]:
    """What the run says about the baseline (the policy a team runs today), by name."""
    base = summary.get("baseline")
    if not base:
        return []
    diffs = summary["versus_baseline"]
    profit = {a: d["incremental_profit"] for a, d in diffs.items()}

    def listed(names: list[str]) -> str:
        return ", ".join(
            f"{html.escape(a)} ({money(profit[a]['mean'])}, 95% CI "
            f"{money(profit[a]['ci_low'])} to {money(profit[a]['ci_high'])})"
            for a in sorted(names, key=lambda a: -profit[a]["mean"])
        )

    better = [a for a, d in profit.items() if (d["ci_low"] or 0) > 0]
    worse = [a for a, d in profit.items() if d["ci_high"] is not None and d["ci_high"] < 0]
    unclear = [a for a in profit if a not in better and a not in worse]
    name = f"<b>{html.escape(base)}</b>"
    out = [
        f"Against {name}, the baseline: "
        + (
            f"these earn more, with 95% paired intervals above zero: {listed(better)}."
            if better
            else "no policy earns clearly more."
        )
    ]
    if worse:
        out.append(f"These earn less than {name} (intervals below zero): {listed(worse)}.")
    if unclear:
        out.append(
            f"These cannot be told apart from {name} at this size (more seeds or customers "
            f"would tell): {', '.join(html.escape(a) for a in unclear)}."
        )
    return out


def leaderboard_html(
    board: pd.DataFrame, baseline: str | None = None, reference: str | None = None
) -> str:
    versus = f"<th>vs {html.escape(baseline)}</th><th>95% CI</th>" if baseline else ""
    of = f"of {html.escape(reference)}" if reference else "of reference"
    head = (
        "<tr><th>#</th><th>policy</th><th>incremental profit</th><th>95% CI</th>"
        f"{versus}<th>{of}</th><th>extra users back</th><th>reactivation rate</th>"
        "<th>cost per incr. reactivation</th><th>ROI</th><th>offer spend</th>"
        "<th>unsubscribes</th></tr>"
    )
    rows = []
    for r in board.itertuples():
        cls = ' class="reference"' if r.agent in REFERENCES else ""
        share = "-" if not np.isfinite(r.share_of_reference) else f"{r.share_of_reference:.0%}"
        cpr = r.cost_per_incremental_reactivation
        paired = ""
        if baseline:
            paired = (
                "<td>baseline</td><td></td>"
                if r.agent == baseline
                else f"<td>{money(r.vs_baseline)}</td><td>{money(r.vs_baseline_ci_low)} to "
                f"{money(r.vs_baseline_ci_high)}</td>"
            )
        rows.append(
            f"<tr{cls}><td>{r.rank}</td><td>{html.escape(str(r.agent))}</td>"
            f"<td>{money(r.incremental_profit)}</td>"
            f"<td>{money(r.incremental_profit_ci_low)} to "
            f"{money(r.incremental_profit_ci_high)}</td>{paired}<td>{share}</td>"
            f"<td>{r.incremental_reactivated_users:+,.0f}</td>"
            f"<td>{r.reactivation_rate:.1%}</td>"
            f"<td>{'-' if not np.isfinite(cpr) else f'{cpr:,.2f}'}</td>"
            f"<td>{roi_text(r.roi, r.offer_spend)}</td>"
            f"<td>{r.offer_spend:,.0f}</td><td>{r.unsubscribes:,.0f}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def render(
    folder: str | Path, stress: str | Path | None = None, plan: str | Path | None = None
) -> Path:
    """Write plots, ``rollout.json`` and ``report.html`` into ``folder``; returns the report's
    path. ``stress`` and ``plan``: the ``winback stress`` and ``winback plan`` folders of the
    "Before you roll out" section (default: ``stress/`` and ``plan/`` in ``folder`` if they
    hold results)."""
    folder = Path(folder)
    missing = [f for f in NEEDED if not (folder / f).exists()]
    if missing:
        raise ValueError(
            f"results folder: {str(folder)!r} lacks {', '.join(missing)}; allowed: a folder "
            "written by winback benchmark"
        )
    before = rollout(
        folder, None if stress is None else Path(stress), None if plan is None else Path(plan)
    )  # every folder checked before anything is written
    summary = read_json(folder / "summary.json", "a summary.json written by winback benchmark")
    board = pd.read_csv(folder / "leaderboard.csv")
    plots = make_plots(folder, summary, board)
    write_json(folder / "rollout.json", before)
    epoch = summary.get("epoch_days", summary.get("every_days"))  # the name until 2026-12
    body = [
        "<h1>Win-back policy leaderboard</h1>",
        f"<p>Scenario <b>{html.escape(str(summary['scenario']))}</b>: "
        f"{summary['users']:,} simulated customers over {summary['days']} days, "
        f"{len(summary['seeds'])} seeds (each policy paired with the no-offer control on the "
        f"same customers and random draws); decisions every {epoch} days.</p>",
        "<h2>What we found</h2>",
        *[f'<div class="finding">{f}</div>' for f in findings(summary, board)],
        *section_html(before),
        "<h2>Leaderboard</h2>",
        leaderboard_html(board, summary.get("baseline"), summary.get("reference")),
        img(plots["incremental_profit"]),
        "<h2>Customers over time</h2>",
        "<p>Share of customers active, dormant (no sessions lately) and churned (cancelled), "
        "for the control (black) and the policies in focus.</p>",
        img(plots["occupancy"]),
        "<h2>Who gets what</h2>",
        "<p>Offers sent per run, by the customers' hidden pain point (which the pain-point rule "
        "reads and other policies must infer), by the reason they stated in the exit survey "
        "(what a company knows: most never answer) and by segment.</p>",
        *[img(plots[f"offer_mix_by_{by}"]) for by in MIX_BY if f"offer_mix_by_{by}" in plots],
    ]
    if "learning_curves" in plots:
        body += [
            "<h2>Learning curves</h2>",
            "<p>Incremental profit per user of the learned policies on held-out users, as "
            "training went on.</p>",
            img(plots["learning_curves"]),
        ]
    body += [
        "<h2>Definitions</h2><dl>",
        *[f"<dt>{k.replace('_', ' ')}</dt><dd>{v}</dd>" for k, v in METRIC_HELP.items()],
        "</dl>",
        "<h2>Policies and parameters</h2><ul>",
        *[
            f"<li><b>{html.escape(a)}</b>: <code>{html.escape(json.dumps(d['params']))}</code>"
            f"{' (learned)' if d['learned'] else ''}</li>"
            for a, d in summary["agents"].items()
        ],
        "</ul>",
    ]
    title = f"Win-back leaderboard: {summary['scenario']}"
    return write_text(folder / "report.html", page(title, body))
