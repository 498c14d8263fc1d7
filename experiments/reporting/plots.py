"""The sweep, tune and regret plots (PNG), on the reporting kit."""

from __future__ import annotations

import zlib
from pathlib import Path

import pandas as pd

from experiments.reporting.kit import pyplot, save


def plot_sweep(table: pd.DataFrame, swept: list[str], path: Path) -> None:
    """Incremental profit (95% CI) per run and agent; each run labelled by its values of the
    ``swept`` parameters, one per line (short names where they are unique)."""
    ylabel, title = "incremental profit (95% CI)", "Sweep: incremental profit by run and agent"
    _run_bars(table, swept, "incremental_profit", ylabel, title, path)


def plot_paired(table: pd.DataFrame, swept: list[str], against: str, path: Path) -> None:
    """Each run's difference from the run ``against`` picks, per agent (paired 95% CI)."""
    ylabel = (
        f"this run's incremental profit minus the run {against}\n(same agent, same seeds; 95% CI)"
    )
    title = f"Each run minus the run {against} (agents that never differ left out)"
    moving = table.groupby("agent").run_minus_against.transform(lambda v: v.abs().max() > 0)
    _run_bars(table[moving], swept, "run_minus_against", ylabel, title, path)


def _run_bars(
    table: pd.DataFrame, swept: list[str], value: str, ylabel: str, title: str, path: Path
) -> None:
    """Bars of ``value`` (with ``ci_low``/``ci_high``) per run and agent."""
    plt = pyplot()
    runs = list(dict.fromkeys(table.run))
    short = [k.rsplit(".", 1)[-1] for k in swept]
    names = short if len(set(short)) == len(short) else swept
    first = table.drop_duplicates("run").set_index("run")
    labels = [
        "\n".join(_wrapped(f"{n}={first.at[r, k]!s}") for n, k in zip(names, swept, strict=True))
        or r
        for r in runs
    ]
    agents = list(dict.fromkeys(table.agent))
    fig, ax = plt.subplots(figsize=(max(7, 1.4 * len(runs) + 4), 6))
    width = 0.8 / max(1, len(agents))
    palette = plt.get_cmap("tab20").colors
    for k, agent in enumerate(agents):
        sub = table[table.agent == agent].set_index("run").reindex(runs)
        xs = [i + k * width for i in range(len(runs))]
        mid, low, high = (sub[c].to_numpy(dtype=float) for c in (value, "ci_low", "ci_high"))
        colour = palette[zlib.crc32(agent.encode()) % len(palette)]  # an agent's, in every plot
        ax.bar(xs, mid, width, yerr=[mid - low, high - mid], capsize=2, label=agent, color=colour)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(runs))], labels, fontsize=7)
    ax.set_ylabel(ylabel)
    ax.set_title(title, wrap=True)
    if agents:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="y", alpha=0.3)
    save(fig, path)


def _wrapped(label: str) -> str:
    """A long run label broken after its commas (``{price:0,content:0,...}``)."""
    return label.replace(",", ",\n") if len(label) > 18 else label


def plot_tune_history(table: pd.DataFrame, path: Path) -> None:
    plt = pyplot()
    done = table[table.state == "COMPLETE"].sort_values("number")
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(done.number, done.value, "o", label="trial")
    ax.plot(done.number, done.value.cummax(), "-", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("incremental profit")
    ax.set_title("Optuna study")
    ax.legend()
    ax.grid(alpha=0.3)
    save(fig, path)


def plot_regret(frame: pd.DataFrame, path: Path, attribution_days: int) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    for name in frame.columns:
        ax.plot(frame.index + 1, frame[name], label=name)
    ax.set_xlabel("newly inactive users seen")
    ax.set_ylabel("cumulative regret vs best fixed per-context policy ($)")
    ax.set_title(f"Bandit regret on WinBackBandit-v0 ({attribution_days}-day attribution window)")
    ax.legend()
    ax.grid(alpha=0.3)
    save(fig, path, dpi=120)
