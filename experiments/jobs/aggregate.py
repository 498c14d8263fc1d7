"""``winback aggregate``: collect a sweep folder's runs into one table and one plot.

Every run folder below ``folder`` that holds a benchmark ``summary.json`` (a finished
``winback benchmark`` or ``run``) contributes one row per agent: one column per swept
parameter (each override whose value differs between runs, read from the run's
``.hydra/overrides.yaml``), the agent, its incremental profit with the 95% CI, its share of
the reference's and the other metrics. Folders holding other results (``winback simulate``,
calibration) are passed over with a note; an unreadable ``summary.json`` is an error that
names its path. Writes ``sweep.csv`` and ``sweep.png`` into ``folder``.

With ``against`` (``KEY=VALUE``, one swept override) every agent of every other run is
also compared with the same agent in the run that override picks, seed by seed on the
seeds both ran (``tidy.parquet``): the runs of one sweep share their seeds, so a sweep over
one setting gives that setting's effect on each agent's incremental profit with a paired 95%
t-interval, far narrower than the two runs' own intervals. Writes ``paired.csv`` and
``paired.png``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd

from agents.evaluate import t_interval
from experiments.files import read_json, read_table, write_table
from experiments.reporting.plots import plot_paired, plot_sweep

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


def base_run(table: pd.DataFrame, against: str) -> str:
    """The one run whose swept override ``KEY=VALUE`` is ``against`` (an error naming the
    key, the value and the allowed values otherwise)."""
    key, sep, value = against.partition("=")
    swept = table.attrs["swept"]
    column = key if key in swept else f"{key} (swept)"
    if not sep:
        raise ValueError(
            f"--against: {against!r} has no '='; allowed: KEY=VALUE of a swept key, e.g. "
            f"{swept[0] if swept else 'scenario.signals'}=..."
        )
    if column not in swept:
        raise ValueError(
            f"--against: {key!r} is not a swept key (its value is the same in every run); "
            f"allowed keys: {', '.join(swept) or 'none (nothing differs between the runs)'}"
        )
    runs = table.drop_duplicates("run")
    matches = runs.run[[_same(v, value) for v in runs[column]]].tolist()
    if len(matches) != 1:
        allowed = ", ".join(dict.fromkeys(runs[column].astype(str)))
        found = "no run" if not matches else f"{len(matches)} runs"
        raise ValueError(f"--against: {key}={value!r} picks {found}; allowed: {allowed}")
    return str(matches[0])


def _same(swept: Any, given: str) -> bool:
    """Whether a run's swept value is the value given as text, both read as Hydra reads an
    override (``1`` picks ``1.0``; ``{a:0,b:1}`` picks ``{b:1, a:0}``)."""
    if isinstance(swept, (int, float)):
        try:
            return float(given) == float(swept)
        except ValueError:
            return False
    return bool(_parsed(str(swept)) == _parsed(given))


def _parsed(text: str) -> Any:
    """``text`` as the value of a Hydra override (itself where Hydra cannot read it)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        return OverridesParser.create().parse_override(f"key={text}").value()
    except Exception:  # any parser complaint: compare the text as it is
        return text


def differences(folder: str | Path, table: pd.DataFrame, against: str) -> pd.DataFrame:
    """Per (other run, agent in both, seed both ran): the run's incremental profit minus
    the base run's (``run``, the swept columns, ``agent``, ``seed``, ``difference``)."""
    folder = Path(folder)
    base = base_run(table, against)
    profit = {
        run: read_table(folder / run / "tidy.parquet", "a benchmark run's tidy.parquet")
        .query("metric == 'incremental_profit'")
        .pivot(index="seed", columns="agent", values="value")
        for run in dict.fromkeys(table.run)
    }
    swept = table.attrs["swept"]
    first = table.drop_duplicates("run").set_index("run")
    parts = []
    for run, runs_profit in profit.items():
        if run == base:
            continue
        for agent in (a for a in runs_profit.columns if a in profit[base].columns):
            difference = (runs_profit[agent] - profit[base][agent]).dropna()
            parts.append(
                pd.DataFrame({"run": run, **{k: first.at[run, k] for k in swept}, "agent": agent,
                              "seed": difference.index, "difference": difference.to_numpy()})
            )  # fmt: skip
    if not parts:
        raise ValueError(f"--against: {against!r} has no other run sharing an agent with it")
    return pd.concat(parts, ignore_index=True)


def paired(folder: str | Path, table: pd.DataFrame, against: str) -> pd.DataFrame:
    """Per (other run, agent in both): the run's incremental profit minus the base run's
    (``run_minus_against``), mean and 95% t-interval over the seeds both ran."""
    long = differences(folder, table, against)
    swept = table.attrs["swept"]
    rows = []
    for (run, agent), part in long.groupby(["run", "agent"], sort=False):
        ci = t_interval(part.difference.to_numpy(dtype=float))
        rows.append(
            {"run": run, **{k: part[k].iloc[0] for k in swept}, "agent": agent}
            | {"run_minus_against": ci["mean"], "ci_low": ci["ci_low"], "ci_high": ci["ci_high"]}
            | {"seeds": ci["n"], "against": against}
        )
    out = pd.DataFrame(rows)
    out.attrs["swept"] = swept
    return out


def aggregate(
    folder: str | Path, against: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Writes ``sweep.csv`` and ``sweep.png`` (and with ``against`` ``paired.csv`` and
    ``paired.png``, checked before anything is written); returns the sweep table and the
    paired one (None without ``against``)."""
    folder = Path(folder)
    table = collect(folder)
    pairs = paired(folder, table, against) if against is not None else None
    write_table(table, folder / "sweep.csv")
    plot_sweep(table, table.attrs["swept"], folder / "sweep.png")
    if pairs is not None and against is not None:
        write_table(pairs, folder / "paired.csv")
        plot_paired(pairs, pairs.attrs["swept"], against, folder / "paired.png")
    return table, pairs
