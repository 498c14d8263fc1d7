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

from experiments.files import write_table
from experiments.reporting.plots import plot_sweep


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


def aggregate(folder: str | Path) -> pd.DataFrame:
    folder = Path(folder)
    table = collect(folder)
    write_table(table, folder / "sweep.csv")
    plot_sweep(table, folder / "sweep.png")
    return table
