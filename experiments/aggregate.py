"""``winback aggregate``: collect a sweep folder's runs into one table and one plot.

Every run folder below ``folder`` that holds a benchmark ``summary.json`` (a finished
``winback benchmark`` or ``run``) contributes one row per agent: one column per swept
parameter (each override whose value differs between runs, read from the run's
``.hydra/overrides.yaml``), the agent, its incremental profit with the 95% CI, its share of
the oracle's and the other metrics. Folders holding other results (``winback simulate``,
calibration) are passed over with a note; an unreadable ``summary.json`` is an error that
names its path. Writes ``sweep.csv`` and ``sweep.png`` into ``folder``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

METRIC_COLUMNS = ("share_of_oracle", "roi", "offer_spend", "unsubscribes")


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
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(
            f"{path}: unreadable summary ({err}); allowed: a summary.json written by winback "
            "benchmark (delete the run folder to drop it from the sweep)"
        ) from None
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
    numbers as numbers; placed after ``run``."""
    runs = list(dict.fromkeys(table.run))
    keys = sorted({k for s in swept for k in s})
    varying = [k for k in keys if len({s.get(k) for s in swept}) > 1]
    by_run = dict(zip(runs, swept, strict=True))
    for i, key in enumerate(varying):
        values = table.run.map(lambda r, key=key: by_run[r].get(key))
        table = table.drop(columns=[key], errors="ignore")  # e.g. scenario: the group chosen
        table.insert(1 + i, key, _numbers(values))
    table.attrs["swept"] = varying
    return table


def _numbers(values: pd.Series) -> pd.Series:
    converted = pd.to_numeric(values, errors="coerce")
    return converted if converted.notna().sum() == values.notna().sum() else values


def plot(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = list(dict.fromkeys(table.run))
    labels = [_label(table[table.run == r].iloc[0], table.attrs.get("swept", [])) for r in runs]
    agents = list(dict.fromkeys(table.agent))
    fig, ax = plt.subplots(figsize=(max(7, 1.3 * len(runs) + 3), 5.5))
    width = 0.8 / max(1, len(agents))
    for k, agent in enumerate(agents):
        sub = table[table.agent == agent].set_index("run").reindex(runs)
        xs = [i + k * width for i in range(len(runs))]
        err = [sub.incremental_profit - sub.ci_low, sub.ci_high - sub.incremental_profit]
        ax.bar(xs, sub.incremental_profit, width, yerr=err, capsize=2, label=agent)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(runs))], labels, fontsize=8)
    ax.set_ylabel("incremental profit (95% CI)")
    ax.set_title("Sweep: incremental profit by run and agent", wrap=True)
    ax.legend(fontsize=7, ncol=2, loc="best")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()  # room for the labels and the title: nothing clipped
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def _label(row: pd.Series, swept: list[str]) -> str:
    """One line per swept parameter: ``name=value``, the key shortened to its last part."""
    short = [k.rsplit(".", 1)[-1] for k in swept]
    names = short if len(set(short)) == len(short) else swept
    return "\n".join(f"{n}={row[k]}" for n, k in zip(names, swept, strict=True)) or str(row.run)


def aggregate(folder: str | Path) -> pd.DataFrame:
    folder = Path(folder)
    table = collect(folder)
    table.to_csv(folder / "sweep.csv", index=False)
    plot(table, folder / "sweep.png")
    return table
