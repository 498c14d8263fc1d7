"""``winback aggregate``: collect a sweep folder's runs into one table and one plot.

Every run folder below ``folder`` that holds a ``summary.json`` (a finished benchmark run)
contributes one row per agent: the run's overrides (from ``.hydra/overrides.yaml``), the
agent, its incremental profit with the 95% CI, share of the oracle's and the other metrics.
Writes ``sweep.csv`` and ``sweep.png`` into ``folder``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd


def _overrides(run: Path) -> str:
    path = run / ".hydra" / "overrides.yaml"
    if not path.exists():
        return ""
    import yaml

    items = yaml.safe_load(path.read_text()) or []
    return " ".join(str(i) for i in items if not str(i).startswith("hydra"))


def collect(folder: str | Path) -> pd.DataFrame:
    """One row per (finished run, agent)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"folder: {str(folder)!r} is not a folder; allowed: a sweep folder")
    rows: list[dict[str, Any]] = []
    for summary_file in sorted(folder.rglob("summary.json")):
        run = summary_file.parent
        summary = json.loads(summary_file.read_text())
        for agent, d in summary["agents"].items():
            ip = d["incremental_profit"]
            rows.append(
                {
                    "run": str(run.relative_to(folder)),
                    "overrides": _overrides(run),
                    "scenario": summary["scenario"],
                    "users": summary["users"],
                    "agent": agent,
                    "incremental_profit": ip["mean"],
                    "ci_low": ip["ci_low"],
                    "ci_high": ip["ci_high"],
                    "share_of_oracle": d["share_of_oracle"],
                    "roi": d["roi"],
                    "offer_spend": d["offer_spend"],
                    "unsubscribes": d["unsubscribes"],
                }
            )
    if not rows:
        raise ValueError(f"folder: {str(folder)!r} holds no finished run (no summary.json)")
    table = pd.DataFrame(rows)
    table.insert(2, "varies", varying(table.overrides))
    return table


def varying(overrides: pd.Series) -> pd.Series:
    """Each run's overrides that differ between runs (what the sweep swept)."""
    tokens = overrides.str.split()
    common = set.intersection(*(set(t) for t in tokens)) if len(tokens) else set()
    return tokens.map(lambda t: " ".join(x for x in t if x not in common))


def plot(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = list(dict.fromkeys(table.run))
    labels = [table[table.run == r].varies.iloc[0] or r for r in runs]
    agents = list(dict.fromkeys(table.agent))
    fig, ax = plt.subplots(figsize=(max(7, 1.3 * len(runs) + 3), 4.8))
    width = 0.8 / max(1, len(agents))
    for k, agent in enumerate(agents):
        sub = table[table.agent == agent].set_index("run").reindex(runs)
        xs = [i + k * width for i in range(len(runs))]
        err = [sub.incremental_profit - sub.ci_low, sub.ci_high - sub.incremental_profit]
        ax.bar(xs, sub.incremental_profit, width, yerr=err, capsize=2, label=agent)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(runs))], labels, rotation=20, ha="right")
    ax.set_ylabel("incremental profit (95% CI)")
    ax.set_title("Sweep: incremental profit by run and agent")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def aggregate(folder: str | Path) -> pd.DataFrame:
    folder = Path(folder)
    table = collect(folder)
    table.to_csv(folder / "sweep.csv", index=False)
    plot(table, folder / "sweep.png")
    return table
