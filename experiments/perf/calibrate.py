"""``winback perf calibrate``: how long a subscription company's log takes to calibrate, and
its peak memory, with the lifecycle fitted on a sample of each plan's customers (the
default) and, on a smaller log in the same run, on every customer (the reference).

The logs are the simulated company's own (``streaming``, monthly billing, sessions,
cancellations and resubscriptions: ``sim.records``), written to a temporary folder first;
each calibration runs in a fresh child process, so its peak memory is its own.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from experiments.perf.sim import isolated_call

SHARD_USERS = 100_000  # subscribers simulated per process (about 4 GB each, two years)


def write_log(path: Path, users: int, days: int, seed: int) -> dict[str, Any]:
    """The no-offer company's log of ``users`` subscribers over ``days``: simulated in
    shards of ``SHARD_USERS`` (seeds ``seed``, ``seed + 1``, ...; each in its own process,
    its user ids after the previous shard's), joined row group by row group into one
    Parquet file, so that a log larger than memory can be written."""
    import pyarrow.parquet as pq

    sizes = [min(SHARD_USERS, users - first) for first in range(0, users, SHARD_USERS)]
    parts = [path.with_suffix(f".{i}.parquet") for i in range(len(sizes))]
    for i, (part, size) in enumerate(zip(parts, sizes, strict=True)):
        print(f"  shard {i + 1} of {len(parts)}: {size:,} subscribers", flush=True)
        isolated_call(
            write_shard, path=part, users=size, days=days, seed=seed + i, first=i * SHARD_USERS
        )
    schema = pq.read_schema(parts[0]).remove_metadata()
    with pq.ParquetWriter(path, schema) as out:
        for part in parts:
            for batch in pq.ParquetFile(part).iter_batches():
                out.write_batch(batch.cast(schema) if batch.schema != schema else batch)
            part.unlink()
    return {"events": pq.read_metadata(path).num_rows, "megabytes": path.stat().st_size / 1e6}


def write_shard(path: Path, users: int, days: int, seed: int, first: int) -> dict[str, Any]:
    """One shard of :func:`write_log`: ``users`` subscribers, ids from ``first``."""
    from sim import presets
    from sim.records import save, simulated_log

    table = simulated_log(presets.streaming(n_users=users, horizon_days=days), seed)
    table["user_id"] += first
    save(table, path)
    return {"events": len(table)}


def timed_calibration(path: Path, fit_sample: int, seed: int) -> dict[str, Any]:
    """Read and calibrate ``path``: seconds per step, peak memory, the fitted parameters."""
    from sim.calibration.api import calibrate
    from sim.calibration.eventlog import read_event_log

    t0 = time.perf_counter()
    log = read_event_log(path, progress=True)
    t1 = time.perf_counter()
    result = calibrate(log, fit_sample=fit_sample, seed=seed, progress=True)
    t2 = time.perf_counter()
    return {
        "read_seconds": t1 - t0,
        "fit_seconds": result.seconds["fit"],
        "rest_seconds": result.seconds["total"] - result.seconds["fit"],
        "seconds": t2 - t0,
        "events": len(log.events),
        "parameters": result.parameters(),
        "fitted_on": [p.fit.n_customers for p in result.plans],
    }


def agreement(sampled: list[dict[str, Any]], full: list[dict[str, Any]]) -> float:
    """The largest gap between the two fits' estimates, in the full fit's standard errors
    (parameters both identify, with a finite interval)."""
    ref = {r["parameter"]: r for r in full}
    gaps = [
        abs(r["estimate"] - ref[r["parameter"]]["estimate"]) / ref[r["parameter"]]["se"]
        for r in sampled
        if r["parameter"] in ref
        and np.isfinite(ref[r["parameter"]]["se"])
        and ref[r["parameter"]]["se"] > 0
    ]
    return float(max(gaps, default=np.nan))


def perf_calibrate(args: argparse.Namespace) -> dict[str, Any]:
    from sim.calibration.subscriptions import FIT_SAMPLE

    with tempfile.TemporaryDirectory() as tmp:
        big_log = Path(tmp) / "big.parquet"
        small_log = Path(tmp) / "small.parquet"
        print(f"writing the simulated company's log: {args.users:,} subscribers ...", flush=True)
        written = isolated_call(
            write_log, path=big_log, users=args.users, days=args.days, seed=args.seed
        )
        big = isolated_call(timed_calibration, path=big_log, fit_sample=FIT_SAMPLE, seed=args.seed)
        print(
            f"{args.users:,} subscribers x {args.days} days ({big['events']:,} events, "
            f"{written['megabytes']:.0f} MB Parquet): {big['seconds']:.1f} s "
            f"(read {big['read_seconds']:.1f} s, lifecycle fit on {sum(big['fitted_on']):,} "
            f"customers {big['fit_seconds']:.1f} s, the rest {big['rest_seconds']:.1f} s), "
            f"peak RSS {big['peak_rss_mb']:,.0f} MB",
            flush=True,
        )
        n = args.reference_users
        print(f"reference: {n:,} subscribers fitted on every customer (minutes) ...", flush=True)
        isolated_call(write_log, path=small_log, users=n, days=args.days, seed=args.seed)
        full = isolated_call(timed_calibration, path=small_log, fit_sample=0, seed=args.seed)
        sampled = isolated_call(
            timed_calibration, path=small_log, fit_sample=FIT_SAMPLE, seed=args.seed
        )
    ratio = full["fit_seconds"] / sampled["fit_seconds"]
    gap = agreement(sampled["parameters"], full["parameters"])
    print(
        f"same {n:,} subscribers: fit on every customer {full['fit_seconds']:.1f} s, on "
        f"{sum(sampled['fitted_on']):,} of them {sampled['fit_seconds']:.1f} s -> "
        f"{ratio:.1f}x; the largest gap between the two fits' estimates: {gap:.1f} "
        "standard errors of the full fit",
        flush=True,
    )
    return {
        "users": args.users,
        "days": args.days,
        "events": big["events"],
        "seconds": round(big["seconds"], 2),
        "read_seconds": round(big["read_seconds"], 2),
        "fit_seconds": round(big["fit_seconds"], 2),
        "rest_seconds": round(big["rest_seconds"], 2),
        "fitted_on": big["fitted_on"],
        "peak_rss_mb": round(big["peak_rss_mb"], 1),
        "reference_users": n,
        "reference_fit_all_seconds": round(full["fit_seconds"], 2),
        "reference_fit_sample_seconds": round(sampled["fit_seconds"], 2),
        "speedup": round(ratio, 2),
        "largest_gap_se": round(gap, 2),
        "machine": f"{platform.machine()}, {mp.cpu_count()} cores, "
        f"Python {platform.python_version()}",
    }
