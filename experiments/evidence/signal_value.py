"""What the behavioural signals are worth to each policy, read from finished sweeps::

    winback benchmark -m experiment=signal_value                # 6 runs, 27 min on 2 cores
    python -m experiments.evidence.signal_value outputs/sweeps/signal_value
    python -m experiments.evidence.signal_value outputs/sweeps/signal_value SEED_1 SEED_2

The sweep (conf/experiment/signal_value.yaml) runs the same benchmark with the signals as
they are (``scenario.signals={}``), with every family pure noise (the "before") and with each
family made pure noise in turn, training the learned agents afresh in each. Only the signals
differ between runs, so for each agent and seed the difference from the run with all signals
is what the silenced families were worth (``winback aggregate --against``: mean and paired
95% t-interval over evaluation seeds).

That interval holds the evaluation's noise, not the training's: each run trains each learned
agent once, and a different feature set sends a training (MaskablePPO's above all) down
another path. Further sweeps of the same settings with the agents' training seeds changed
(``SEED_1 SEED_2``: e.g. ``agent.uplift.seed=1 agent.maskable_ppo.seed=1 ...``) are
training replicates: with them, :func:`across` averages each difference over replicates and
seeds, with an interval that holds both (:func:`crossed_interval`).

Writes ``signal_value.csv`` into each folder, one row per run and agent: its incremental
profit, its share of the sweep's reference (``reference``: full information when it ran,
else the pain-point rule), what the run's silenced families were worth to it (``worth``:
its incremental profit with all signals minus in this run, with the interval) and, per
latent pain point, the share of that pain point's sends that were the offer made for it
(``reason_targeting.MATCHED``) and the share of the other pain points' sends that were that
same offer (``matched_<pain>_elsewhere``);
with replicates also ``signal_value_replicates.csv`` into the first, once every folder has
been checked to be a replicate of the first (same world, evaluation seeds and signal
settings; not the same folder twice). Prints the best learned agent's share
per run, the ablation and the offer mix by pain point.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import stdtrit

from agents.evaluate import t_interval
from experiments.evidence.reason_targeting import matched_shares
from experiments.files import read_json, read_table, write_table
from experiments.jobs.aggregate import aggregate, collect, differences, paired

KEY = "scenario.signals"
ALL_SIGNALS = f"{KEY}={{}}"
"""The run the others are compared with: every family at the scenario's own strength."""


def signal_value(folder: Path, write: bool = True) -> pd.DataFrame:
    """One row per run and agent (see the module docstring); ``write``: also
    ``signal_value.csv`` (and the aggregate's files) into ``folder``."""
    runs = collect(folder)
    if KEY not in runs.attrs["swept"]:
        raise ValueError(f"{folder}: the runs do not differ in {KEY}; allowed: a signal sweep")
    worth = {
        (str(r["run"]), str(r["agent"])): (-r["run_minus_against"], -r["ci_high"], -r["ci_low"])
        for r in paired(folder, runs, ALL_SIGNALS).to_dict("records")
    }
    rows = []
    for key, part in runs.groupby("run", sort=False):
        run = str(key)
        summary = read_json(folder / run / "summary.json", "a benchmark summary.json")
        mix = read_table(folder / run / "offer_mix.parquet", "a benchmark offer_mix.parquet")
        shares = matched_shares(mix)
        for r in part.itertuples():
            value, low, high = worth.get((run, str(r.agent)), (None, None, None))
            rows.append(
                {
                    "run": run,
                    "signals": part[KEY].iloc[0],
                    "agent": r.agent,
                    "learned": bool(summary["agents"][r.agent].get("learned", False)),
                    "incremental_profit": r.incremental_profit,
                    "ci_low": r.ci_low,
                    "ci_high": r.ci_high,
                    "reference": summary.get("reference"),
                    "share_of_reference": r.share_of_reference,
                    "worth": value,
                    "worth_ci_low": low,
                    "worth_ci_high": high,
                    **{
                        f"matched_{c}": shares.at[r.agent, c] if r.agent in shares.index else None
                        for c in shares.columns
                    },
                }
            )
    table = pd.DataFrame(rows)
    if write:
        written(folder, table)
    return table


def written(folder: Path, table: pd.DataFrame) -> None:
    """``table`` as ``signal_value.csv`` in ``folder``, beside the aggregate's files."""
    aggregate(folder, against=ALL_SIGNALS)
    write_table(table, folder / "signal_value.csv")


def crossed_interval(long: pd.DataFrame, value: str = "worth") -> dict[str, float]:
    """Mean and 95% interval of ``value`` crossed by training replicate (``replicate``)
    and evaluation seed (``seed``): the replicates share their evaluation seeds, so the
    mean's variance is the replicates' (training noise) over their number plus the seeds'
    (evaluation noise) over theirs; estimated by the variance of the replicate means over R
    plus that of the seed means over S (which counts the interaction twice: conservative),
    with min(R, S) - 1 degrees of freedom. One replicate: the paired t-interval."""
    replicates = long.groupby("replicate")[value].mean()
    seeds = long.groupby("seed")[value].mean()
    if len(replicates) < 2:
        return t_interval(long[value].to_numpy(dtype=float))
    mean = float(long[value].mean())
    variance = replicates.var(ddof=1) / len(replicates) + seeds.var(ddof=1) / len(seeds)
    df = min(len(replicates), len(seeds)) - 1
    half = float(stdtrit(df, 0.975) * np.sqrt(variance)) if df > 0 else float("nan")
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "n": len(long)}


def setting_of(folder: Path) -> dict[str, Any]:
    """What a replicate must share with the others: the world (scenario, customers, days),
    the evaluation seeds and the signal settings run."""
    runs = collect(folder)
    out: dict[str, Any] = {}
    for run in dict.fromkeys(runs.run):
        summary = read_json(folder / run / "summary.json", "a benchmark summary.json")
        world = {k: summary.get(k) for k in ("scenario", "users", "days", "seeds")}
        if out and world != out["world"]:
            raise ValueError(f"{folder}: its runs differ in {world} against {out['world']}")
        out["world"] = world
    out["signals"] = sorted(str(v) for v in dict.fromkeys(runs[KEY])) if KEY in runs else []
    return out


def check_replicates(folders: list[Path]) -> None:
    """Every folder a replicate of the first (:func:`setting_of`), none given twice."""
    seen = [f.resolve() for f in folders]
    twice = [str(f) for f, r in zip(folders, seen, strict=True) if seen.count(r) > 1]
    if twice:
        raise ValueError(f"folders: {twice[0]} is given twice; allowed: each replicate once")
    first = setting_of(folders[0])
    for folder in folders[1:]:
        other = setting_of(folder)
        for key in ("world", "signals"):
            if other[key] != first[key]:
                raise ValueError(
                    f"{folder}: {key} {other[key]} is not the first folder's {first[key]}; "
                    "allowed: replicates of one sweep (the same world, evaluation seeds and "
                    "signal settings, only the training seeds changed)"
                )


def across(folders: list[Path]) -> pd.DataFrame:
    """The runs of several signal sweeps, each a training replicate (the learned agents
    trained with another seed; the same world, signal settings and evaluation seeds,
    checked first): per signal setting and agent, its mean incremental profit and what the
    silenced families were worth to it averaged over replicates and seeds, with
    :func:`crossed_interval` (training and evaluation noise both in it), and the share of
    the reference (the full-information reference earns the same in every run, so one run
    of it serves all)."""
    check_replicates(folders)
    tables, longs = [], []
    for k, folder in enumerate(folders):
        tables.append(signal_value(folder, write=False).assign(replicate=k))
        long = differences(folder, collect(folder), ALL_SIGNALS)
        longs.append(long.assign(replicate=k, worth=-long.difference))
    kept = ["signals", "agent", "learned", "incremental_profit", "reference", "replicate"]
    every = pd.concat([t[kept] for t in tables], ignore_index=True)
    long = pd.concat(longs, ignore_index=True)
    name = every.reference.dropna().iloc[0] if every.reference.notna().any() else None
    reference = every[every.agent == name].incremental_profit
    if reference.nunique() > 1 and name == "full_information":
        raise ValueError(
            f"full_information: earned {sorted(reference.unique())} across the runs; "
            "allowed: one figure (it reads the hidden state, not the signals)"
        )
    yardstick = float(reference[every.signals == "{}"].mean()) if len(reference) else np.nan
    rows = []
    for (signals, agent), part in every.groupby(["signals", "agent"], sort=False):
        pairs = long[(long[KEY] == signals) & (long.agent == agent)]
        ci = crossed_interval(pairs) if len(pairs) else {}
        profit = float(part.incremental_profit.mean())
        rows.append(
            {
                "signals": signals,
                "agent": agent,
                "learned": bool(part.learned.iloc[0]),
                "replicates": len(part),
                "incremental_profit": profit,
                "reference": name,
                "share_of_reference": profit / yardstick,
                "worth": ci.get("mean", np.nan),
                "worth_ci_low": ci.get("ci_low", np.nan),
                "worth_ci_high": ci.get("ci_high", np.nan),
            }
        )
    for folder, table in zip(folders, tables, strict=True):  # all checked: now the files
        written(folder, table.drop(columns="replicate"))
    return pd.DataFrame(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "folders",
        type=Path,
        nargs="+",
        help="sweep folders (hydra.sweep.dir); more than one: training replicates",
    )
    folders = parser.parse_args().folders
    try:
        combined = across(folders) if len(folders) > 1 else None
        table = (
            signal_value(folders[0])
            if combined is None
            else pd.read_csv(folders[0] / "signal_value.csv")
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    pd.set_option("display.width", 200)
    pd.set_option("display.float_format", "{:,.2f}".format)
    reference = table.reference.dropna().iloc[0] if table.reference.notna().any() else "?"
    worth = "worth: incremental profit with all signals minus in this run (95% interval)"
    if combined is not None:
        write_table(combined, folders[0] / "signal_value_replicates.csv")
        print(f"over {len(folders)} training replicates ({worth}):")
        print(combined.to_string(index=False))
        print(f"table: {folders[0] / 'signal_value_replicates.csv'}\n")
    learned = table[table.learned]
    best = learned.loc[learned.groupby("run", sort=False).incremental_profit.idxmax()]
    print(f"{folders[0]}: the best learned agent per run, its share of {reference}:")
    print(best[["signals", "agent", "incremental_profit", "share_of_reference"]].to_string())
    print(f"\nwhat each run's silenced families were worth to each agent ({worth}):")
    cols = ["signals", "agent", "worth", "worth_ci_low", "worth_ci_high"]
    print(table[cols].dropna().to_string(index=False))
    print("\nshare of each latent pain point's sends that were its own offer (elsewhere:")
    print("the share of the other pain points' sends that were that same offer):")
    matched = [c for c in table.columns if c.startswith("matched_")]
    print(table[["signals", "agent", *matched]].to_string())
    print(f"table: {folders[0] / 'signal_value.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
