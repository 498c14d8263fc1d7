"""``winback aggregate``: collect a sweep folder's runs into one table and one plot.

Every run folder below ``folder`` that holds a benchmark ``summary.json`` (a finished
``winback benchmark`` or ``run``) contributes one row per agent: one column per swept
parameter (each override whose value differs between runs, read from the run's
``.hydra/overrides.yaml``), the agent, its incremental profit with the 95% CI, its share of
the reference's and the other metrics. Folders holding other results (``winback simulate``,
calibration) are passed over with a note; an unreadable ``summary.json`` is an error that
names its path. Writes ``sweep.csv`` and ``sweep.png`` into ``folder``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.files import read_json, write_table
from experiments.reporting.plots import plot_sweep

METRIC_COLUMNS = ("share_of_reference", "roi", "offer_spend", "unsubscribes")


def overrides_of(run: Path) -> dict[str, str]:
    """The run's command-line overrides (``hydra.*`` left out) as key -> value."""
    path = run / ".hydra" / "overrides.yaml"
    if not path.exists():
        return {}
    import yaml

    items = yaml.safe_load(path.read_text()) or []
    pairs = (str(i).split("=", 1) for i in items if "=" in str(i))
    return {k.lstrip("+~"): v for k, v in pairs if not k.lstrip("+~").startswith("hydra")}


def read_summary(path: Path) -> dict[str, Any] | None:
    """A benchmark summary, None for another command's, an error for an unreadable file."""
    summary = read_json(path, "a summary.json written by winback benchmark")
    if not isinstance(summary, dict) or not isinstance(summary.get("agents"), dict):
        return None
    return summary


def collect(folder: str | Path) -> pd.DataFrame:
    """One row per (finished run, agent), one column per swept parameter."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"folder: {str(folder)!r} is not a folder; allowed: a sweep folder")
    rows: list[dict[str, Any]] = []
    swept: list[dict[str, str]] = []
    skipped = []
    for summary_file in sorted(folder.rglob("summary.json")):
        run = summary_file.parent
        summary = read_summary(summary_file)
        if summary is None:
            skipped.append(str(run.relative_to(folder)))
            continue
        swept.append(overrides_of(run))
        rows += [_row(run.relative_to(folder), summary, a, d) for a, d in summary["agents"].items()]
    if skipped:
        print(f"note: not benchmark results, left out: {', '.join(skipped)}", file=sys.stderr)
    if not rows:
        raise ValueError(f"folder: {str(folder)!r} holds no finished benchmark run")
    return _with_parameters(pd.DataFrame(rows), swept)


def _row(run: Path, summary: dict[str, Any], agent: str, d: dict[str, Any]) -> dict[str, Any]:
    ip = d["incremental_profit"]
    return {
        "run": str(run),
        "scenario": summary["scenario"],
        "users": summary["users"],
        "agent": agent,
        "incremental_profit": ip["mean"],
        "ci_low": ip["ci_low"],
        "ci_high": ip["ci_high"],
        **{m: d.get(m) for m in METRIC_COLUMNS},
    }


def _with_parameters(table: pd.DataFrame, swept: list[dict[str, str]]) -> pd.DataFrame:
    """One column per override whose value differs between runs (what the sweep swept),
    numbers as numbers, placed after ``run``; named ``KEY (swept)`` where ``KEY`` is already
    a column (``agent=[...]``, ``scenario=...``: the summary's own columns stay)."""
    runs = list(dict.fromkeys(table.run))
    keys = sorted({k for s in swept for k in s})
    varying = [k for k in keys if len({s.get(k) for s in swept}) > 1]
    by_run = dict(zip(runs, swept, strict=True))
    columns = []
    for i, key in enumerate(varying):
        values = table.run.map(lambda r, key=key: by_run[r].get(key))
        column = key if key not in table.columns else f"{key} (swept)"  # e.g. agent, scenario
        table.insert(1 + i, column, _numbers(values))
        columns.append(column)
    table.attrs["swept"] = columns
    return table


def _numbers(values: pd.Series) -> pd.Series:
    converted = pd.to_numeric(values, errors="coerce")
    return converted if converted.notna().sum() == values.notna().sum() else values


def aggregate(folder: str | Path) -> pd.DataFrame:
    folder = Path(folder)
    table = collect(folder)
    write_table(table, folder / "sweep.csv")
    plot_sweep(table, table.attrs["swept"], folder / "sweep.png")
    return table
