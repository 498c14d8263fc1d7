"""``winback ope-bench``: every off-policy estimator against the simulator's truth, over
replications and log sizes (``experiments.ope.bench``: campaign logs, truth by look-ahead).

Outputs in ``--out``: ``rounds.csv`` (one row per size, replication, target and estimator:
estimate, interval, truth), ``summary.csv`` and ``summary.json`` (per size, target and
estimator: bias, RMSE, relative error, coverage of the truth on the log's customers and of
the population's value, the log's effective sample share) and
``plots/relative_error.png`` and ``plots/coverage.png``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from experiments.files import check_writable, write_json, write_table

LOGGERS = ("uniform", "epsilon_playbook", "vendor", "thompson")


def logger_factory(name: str, catalogue_names: list[str]) -> Any:
    """A fresh logging policy of kind ``name`` (a new one per log: some learn)."""
    from agents.reference import Playbook
    from experiments.ope.behaviour import EpsilonAround, ThompsonLogger, Uniform, VendorTest

    if name == "uniform":
        return Uniform
    if name == "epsilon_playbook":
        return lambda: EpsilonAround(rule=Playbook(), epsilon=0.3)
    if name == "vendor":
        offers = tuple(o for o in ("discount_30", "recommendations", "support_call")
                       if o in catalogue_names)  # fmt: skip
        return lambda: VendorTest(offers=offers)
    if name == "thompson":
        return ThompsonLogger
    raise ValueError(f"--logger: {name!r}; allowed: {', '.join(LOGGERS)}")


def targets_from(names: list[str], catalogue_names: list[str]) -> dict[str, Any]:
    """Target policies by name: nothing, playbook, or blanket_<offer>."""
    from agents.reference import Blanket, NoOffer, Playbook

    out: dict[str, Any] = {}
    for name in names:
        if name == "nothing":
            out[name] = NoOffer()
        elif name == "playbook":
            out[name] = Playbook()
        elif name.startswith("blanket_") and name.removeprefix("blanket_") in catalogue_names:
            out[name] = Blanket(offer=name.removeprefix("blanket_"))
        else:
            allowed = ["nothing", "playbook", *(f"blanket_{o}" for o in catalogue_names)]
            raise ValueError(f"--targets: {name!r}; allowed: {', '.join(allowed)}")
    return out


def run_from_args(args: argparse.Namespace) -> int:
    from experiments.ope.bench import bench, summarise
    from sim import presets
    from sim.validation import check_int

    catalogue = presets.streaming_offers()
    logger = logger_factory(args.logger, catalogue.names)
    targets = targets_from(args.targets.split(","), catalogue.names)
    sizes = [check_int("--users", u, 1000, 10_000_000) for u in args.users]
    check_int("--replications", args.replications, 2, 10_000)
    check_writable(args.out, "--out")
    start = time.perf_counter()
    tables = []
    bar = tqdm(total=len(sizes) * args.replications, desc="logs", unit="log")

    def tick(_: str) -> None:
        bar.update()

    for users in sizes:
        scenario = presets.streaming(n_users=users, horizon_days=args.days)
        table = bench(
            scenario,
            catalogue,
            logger,
            targets,
            seeds=list(range(args.first_seed, args.first_seed + args.replications)),
            truth_reps=args.truth_reps,
            boot=args.boot,
            progress=tick,
            jobs=args.jobs,
        )
        tables.append(table.assign(users=users))
    bar.close()
    rounds = pd.concat(tables, ignore_index=True)
    summary = pd.concat(
        [summarise(t).assign(users=u) for u, t in rounds.groupby("users", sort=True)],
        ignore_index=True,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    write_table(rounds, args.out / "rounds.csv")
    write_table(summary, args.out / "summary.csv")
    meta = {
        "logger": args.logger,
        "targets": list(targets),
        "users": sizes,
        "days": args.days,
        "replications": args.replications,
        "first_seed": args.first_seed,
        "truth_reps": args.truth_reps,
        "boot": args.boot,
        "jobs": args.jobs,
        "seconds": round(time.perf_counter() - start, 1),
    }
    write_json(args.out / "summary.json", {**meta, "summary": summary.to_dict("records")})
    plots(summary, args.out / "plots")
    shown = summary[
        [
            "users",
            "target",
            "estimator",
            "rounds",
            "relative_error",
            "coverage",
            "coverage_population",
        ]
    ]
    print(shown.to_string(index=False, float_format=lambda v: f"{v:,.3f}"))
    print(f"\nresults: {args.out.resolve()}")
    if args.json:
        print(json.dumps(meta))
    return 0


def plots(summary: pd.DataFrame, folder: Path) -> None:
    from experiments.reporting.kit import pyplot, save

    plt = pyplot()
    folder.mkdir(parents=True, exist_ok=True)
    targets = list(dict.fromkeys(summary.target))
    for column, name, label in (
        ("relative_error", "relative_error.png", "mean |estimate - truth| / |truth|"),
        ("coverage", "coverage.png", "95% intervals covering the truth (dashed: population)"),
    ):
        fig, axes = plt.subplots(
            1, len(targets), figsize=(4.2 * len(targets), 3.6), squeeze=False, sharey=True
        )
        for ax, target in zip(axes[0], targets, strict=True):
            part = summary[summary.target == target]
            for k, (estimator, rows) in enumerate(part.groupby("estimator", sort=False)):
                ax.plot(rows.rounds, rows[column], marker="o", label=str(estimator), color=f"C{k}")
                if column == "coverage":  # dashed: of the population's value
                    ax.plot(rows.rounds, rows.coverage_population, ls="--", color=f"C{k}")
            ax.set_xscale("log")
            ax.set_title(target)
            ax.set_xlabel("logged rounds")
            if column == "coverage":
                ax.axhspan(0.90, 0.98, color="green", alpha=0.1)
        axes[0][0].set_ylabel(label)
        axes[0][-1].legend(fontsize=7)
        save(fig, folder / name)
