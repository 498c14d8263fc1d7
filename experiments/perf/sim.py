"""``winback perf sim``: engine throughput and memory, and the speed-up over the naive
per-user reference, measured in one run.

Each measurement runs in a fresh child process so its peak memory is its own.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import platform
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def weekly_campaign(sim: Any, day: int) -> tuple[np.ndarray, np.ndarray]:
    """The benchmark's campaign: every week, 2% of users, drawn among those the company
    sees as inactive or cancelled, get one offer drawn from the catalogue."""
    from sim.observe import observed_status

    status = observed_status(sim.pop, slice(None), day, sim.scenario)
    inactive = np.flatnonzero(status > 0)
    k = min(inactive.size, sim.pop.n // 50)
    users = np.sort(sim.policy_rng.choice(inactive, size=k, replace=False))
    return users, sim.policy_rng.integers(0, len(sim.catalogue), size=k)


def _peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 1024 / 1024


def _fast(users: int, days: int, seed: int, campaign: bool) -> dict[str, float]:
    from sim import Simulation, presets

    base_rss = _peak_rss_mb()
    scenario = presets.streaming(n_users=users, horizon_days=days)
    t0 = time.perf_counter()
    sim = Simulation(
        scenario,
        presets.streaming_offers(),
        seed=seed,
        policy=weekly_campaign if campaign else None,
    )
    t1 = time.perf_counter()
    result = sim.run()
    t2 = time.perf_counter()
    return {
        "seconds": t2 - t0,
        "sample_seconds": t1 - t0,
        "simulate_seconds": t2 - t1,
        "rss_before_mb": base_rss,
        "messages_sent": result.kpis["messages_sent"],
        "bytes_per_user": sim.pop.nbytes() / users,
    }


def _reference(users: int, days: int, seed: int) -> dict[str, float]:
    from sim import presets
    from sim.naive import NaiveSimulation

    scenario = presets.streaming(n_users=users, horizon_days=days)
    t0 = time.perf_counter()
    NaiveSimulation(scenario, seed=seed).run()
    return {"seconds": time.perf_counter() - t0}


def _child(fn: Callable[..., dict[str, Any]], kwargs: dict, queue: Any) -> None:
    queue.put({**fn(**kwargs), "peak_rss_mb": _peak_rss_mb()})


def isolated_call(fn: Callable[..., dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    """``fn(**kwargs)`` (a module-level function) in a fresh process, with that process's
    peak memory added as ``peak_rss_mb``."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, kwargs, queue))
    proc.start()
    out = queue.get()
    proc.join()
    return out


def perf_sim(args: argparse.Namespace) -> dict[str, Any]:
    big = isolated_call(_fast, users=args.users, days=args.days, seed=args.seed, campaign=True)
    user_days = args.users * args.days
    print(
        f"fast engine, streaming, {args.users:,} users x {args.days} days, weekly campaign "
        f"({big['messages_sent']:,.0f} messages): {big['seconds']:.2f} s "
        f"(population {big['sample_seconds']:.2f} s + simulation {big['simulate_seconds']:.2f} s)"
        f", {user_days / big['seconds'] / 1e6:.1f} M user-days/s, "
        f"peak RSS {big['peak_rss_mb']:.0f} MB "
        f"(interpreter and imports {big['rss_before_mb']:.0f} MB); population arrays "
        f"{big['bytes_per_user']:.0f} bytes per user",
        flush=True,
    )
    n, d = args.reference_users, args.reference_days
    print(
        f"naive per-user SimPy reference, {n:,} users x {d} days (this takes minutes) ...",
        flush=True,
    )
    ref = isolated_call(_reference, users=n, days=d, seed=args.seed)
    fast = isolated_call(_fast, users=n, days=d, seed=args.seed, campaign=False)
    ratio = ref["seconds"] / fast["seconds"]
    print(
        f"same {n:,} users, no campaign: reference {ref['seconds']:.1f} s "
        f"({n * d / ref['seconds'] / 1e6:.2f} M user-days/s), fast engine "
        f"{fast['seconds']:.2f} s -> speed-up {ratio:.0f}x",
        flush=True,
    )
    return {
        "users": args.users,
        "days": args.days,
        "wall_seconds": round(big["seconds"], 3),
        "population_seconds": round(big["sample_seconds"], 3),
        "simulation_seconds": round(big["simulate_seconds"], 3),
        "user_days_per_second": round(user_days / big["seconds"]),
        "peak_rss_mb": round(big["peak_rss_mb"], 1),
        "bytes_per_user": round(big["bytes_per_user"], 1),
        "messages_sent": big["messages_sent"],
        "reference_users": n,
        "reference_days": d,
        "reference_seconds": round(ref["seconds"], 3),
        "fast_seconds_same_users": round(fast["seconds"], 3),
        "speedup": round(ratio, 1),
        "machine": f"{platform.machine()}, {mp.cpu_count()} cores, "
        f"Python {platform.python_version()}",
    }
