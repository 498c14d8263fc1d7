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

Writes ``signal_value.csv`` into the first folder, one row per run and agent: its
incremental profit, its share of the full-information reference, its difference from the
run with all signals (with the interval) and, per latent pain point, the share of that pain
point's sends that were the offer made for it (``reason_targeting.MATCHED``) and the share
of the other pain points' sends that were that same offer (``matched_<pain>_elsewhere``);
with replicates also ``signal_value_replicates.csv``. Prints the best learned agent's share
per run, the ablation and the offer mix by pain point.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import stdtrit

from agents.evaluate import t_interval
from experiments.evidence.reason_targeting import matched_shares
from experiments.files import read_json, read_table, write_table
from experiments.jobs.aggregate import aggregate, collect, differences

KEY = "scenario.signals"
ALL_SIGNALS = f"{KEY}={{}}"
"""The run the others are compared with: every family at the scenario's own strength."""


def signal_value(folder: Path) -> pd.DataFrame:
    """One row per run and agent (see the module docstring)."""
    if KEY not in collect(folder).attrs["swept"]:
        raise ValueError(f"{folder}: the runs do not differ in {KEY}; allowed: a signal sweep")
    sweep, pairs = aggregate(folder, against=ALL_SIGNALS)
    nothing = (None, None, None)
    by_run: dict[tuple[str, str], tuple[Any, Any, Any]] = {
        (str(r.run), str(r.agent)): (r.difference, r.ci_low, r.ci_high)
        for r in (pairs.itertuples() if pairs is not None else ())
    }
    rows = []
    for key, part in sweep.groupby("run", sort=False):
        run = str(key)
        summary = read_json(folder / run / "summary.json", "a benchmark summary.json")
        mix = read_table(folder / run / "offer_mix.parquet", "a benchmark offer_mix.parquet")
        shares = matched_shares(mix)
        for r in part.itertuples():
            difference, low, high = by_run.get((run, str(r.agent)), nothing)
            rows.append(
                {
                    "run": run,
                    "signals": part[KEY].iloc[0],
                    "agent": r.agent,
                    "learned": bool(summary["agents"][r.agent].get("learned", False)),
                    "incremental_profit": r.incremental_profit,
                    "ci_low": r.ci_low,
                    "ci_high": r.ci_high,
                    "share_of_reference": r.share_of_reference,
                    "vs_all_signals": difference,
                    "vs_all_signals_ci_low": low,
                    "vs_all_signals_ci_high": high,
                    **{
                        f"matched_{c}": shares.at[r.agent, c] if r.agent in shares.index else None
                        for c in shares.columns
                    },
                }
            )
    table = pd.DataFrame(rows)
    write_table(table, folder / "signal_value.csv")
    return table


def crossed_interval(long: pd.DataFrame) -> dict[str, float]:
    """Mean and 95% interval of differences crossed by training replicate (``replicate``)
    and evaluation seed (``seed``): the replicates share their evaluation seeds, so the
    mean's variance is the replicates' (training noise) over their number plus the seeds'
    (evaluation noise) over theirs; estimated by the variance of the replicate means over R
    plus that of the seed means over S (which counts the interaction twice: conservative),
    with min(R, S) - 1 degrees of freedom. One replicate: the paired t-interval."""
    replicates = long.groupby("replicate").difference.mean()
    seeds = long.groupby("seed").difference.mean()
    if len(replicates) < 2:
        return t_interval(long.difference.to_numpy(dtype=float))
    mean = float(long.difference.mean())
    variance = replicates.var(ddof=1) / len(replicates) + seeds.var(ddof=1) / len(seeds)
    df = min(len(replicates), len(seeds)) - 1
    half = float(stdtrit(df, 0.975) * np.sqrt(variance)) if df > 0 else float("nan")
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "n": len(long)}


def across(folders: list[Path]) -> pd.DataFrame:
    """The runs of several signal sweeps, each a training replicate (the learned agents
    trained with another seed; the same signal settings and evaluation seeds): per signal
    setting and agent, its mean incremental profit and its difference from all signals
    averaged over replicates and seeds, with :func:`crossed_interval` (training and
    evaluation noise both in it), and the share of the reference (the full-information
    reference earns the same in every run, so one run of it serves all)."""
    tables, longs = [], []
    for k, folder in enumerate(folders):
        kept = ["signals", "agent", "learned", "incremental_profit"]
        tables.append(signal_value(folder)[kept].assign(replicate=k))
        runs = collect(folder)
        longs.append(differences(folder, runs, ALL_SIGNALS).assign(replicate=k))
    every = pd.concat(tables, ignore_index=True)
    long = pd.concat(longs, ignore_index=True)
    reference = every[every.agent == "full_information"].incremental_profit
    if reference.nunique() > 1:
        raise ValueError(
            f"full_information: earned {sorted(reference.unique())} across the runs; "
            "allowed: one figure (it reads the hidden state, not the signals)"
        )
    yardstick = float(reference.iloc[0]) if len(reference) else float("nan")
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
                "share_of_reference": profit / yardstick,
                "vs_all_signals": ci.get("mean", float("nan")),
                "vs_all_signals_ci_low": ci.get("ci_low", float("nan")),
                "vs_all_signals_ci_high": ci.get("ci_high", float("nan")),
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "folders",
        type=Path,
        nargs="+",
        help="sweep folders (hydra.sweep.dir); more than one: training replicates",
    )
    folders = parser.parse_args().folders
    if len(folders) > 1:
        combined = across(folders)
        write_table(combined, folders[0] / "signal_value_replicates.csv")
        with pd.option_context("display.width", 200, "display.float_format", "{:,.2f}".format):
            print(f"over {len(folders)} training replicates:")
            print(combined.to_string(index=False))
        print(f"table: {folders[0] / 'signal_value_replicates.csv'}\n")
    table = pd.read_csv(folders[0] / "signal_value.csv") if len(folders) > 1 else None
    if table is None:
        table = signal_value(folders[0])
    learned = table[table.learned]
    best = learned.loc[learned.groupby("run", sort=False).incremental_profit.idxmax()]
    with pd.option_context("display.width", 200, "display.float_format", "{:,.2f}".format):
        print(
            f"{folders[0]}: best learned agent per run (share of the full-information reference):"
        )
        print(best[["signals", "agent", "incremental_profit", "share_of_reference"]].to_string())
        print("\neach agent against the run with all signals (same seeds):")
        cols = [
            "signals",
            "agent",
            "vs_all_signals",
            "vs_all_signals_ci_low",
            "vs_all_signals_ci_high",
        ]
        print(table[cols].dropna().to_string(index=False))
        print("\nshare of each latent pain point's sends that were its own offer (elsewhere:")
        print("the share of the other pain points' sends that were that same offer):")
        matched = [c for c in table.columns if c.startswith("matched_")]
        print(table[["signals", "agent", *matched]].to_string())
    print(f"table: {folders[0] / 'signal_value.csv'}")


if __name__ == "__main__":
    main()
