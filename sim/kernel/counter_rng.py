"""Counter-based random numbers: one independent stream per user, purpose and interval.

A draw is ``mix64(key + n * GOLDEN)`` (SplitMix64's output function on a Weyl sequence),
where ``key`` hashes the run's root seed with the user id and what the numbers are for. No
state is carried between calls, so a user's numbers never depend on which other users are
simulated, in which chunk or thread, or what happened to them: a policy run and its no-offer
control draw the same numbers for every user whose own path has not diverged (common random
numbers per user), and results do not depend on the number of cores.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)
S30, S27, S31, S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53


@njit(cache=True, error_model="numpy", inline="always")
def mix64(z: np.uint64) -> np.uint64:
    z = (z ^ (z >> S30)) * M1
    z = (z ^ (z >> S27)) * M2
    return z ^ (z >> S31)


@njit(cache=True, error_model="numpy", inline="always")
def stream_key(root: np.uint64, a: int, b: int) -> np.uint64:
    """The key of stream (a, b) under ``root``, e.g. (user, interval)."""
    k = mix64(root + np.uint64(a) * GOLDEN)
    return mix64(k ^ (np.uint64(b) * M1 + GOLDEN))


@njit(cache=True, error_model="numpy", inline="always")
def substream(key: np.uint64, purpose: int) -> np.uint64:
    """A stream independent of ``key``'s, for one ``purpose`` (1, 2, ...) of the same draws'
    owner: what one purpose consumes never shifts another's numbers."""
    return mix64(key ^ (np.uint64(purpose) * M2 + GOLDEN))


@njit(cache=True, error_model="numpy", inline="always")
def uniform(key: np.uint64, n: int) -> float:
    """The ``n``-th draw of stream ``key``: uniform on [0, 1), 53 bits."""
    return float(mix64(key + np.uint64(n + 1) * GOLDEN) >> S11) * TO_UNIT


@njit(cache=True, error_model="numpy", inline="always")
def exponential(key: np.uint64, n: int) -> float:
    """Standard exponential from the ``n``-th draw (never infinite)."""
    return -math.log1p(-uniform(key, n))


@njit(cache=True, error_model="numpy", inline="always")
def poisson(key: np.uint64, n: int, lam: float) -> tuple[int, int]:
    """A Poisson(lam) count from stream ``key`` starting at draw ``n``; returns (count, next n).

    Knuth's product of uniforms for lam < 10 (about lam + 1 draws, each a multiply and a
    hash: cheaper than inversion's divisions); Hormann's transformed rejection (PTRS, the
    method numpy uses) above, so the cost stays bounded for busy users.
    """
    if lam <= 0.0:
        return 0, n
    if lam < 10.0:
        floor = math.exp(-lam)
        k = 0
        prod = uniform(key, n)
        n += 1
        while prod > floor:
            k += 1
            prod *= uniform(key, n)
            n += 1
        return k, n
    slam = math.sqrt(lam)
    loglam = math.log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2.0)
    while True:
        u = uniform(key, n) - 0.5
        v = uniform(key, n + 1)
        n += 2
        us = 0.5 - abs(u)
        k = math.floor((2.0 * a / us + b) * u + lam + 0.43)
        if us >= 0.07 and v <= vr:
            return k, n
        if k < 0 or (us < 0.013 and v > us):
            continue
        lhs = math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b)
        if lhs <= -lam + k * loglam - math.lgamma(k + 1.0):
            return k, n


@njit(cache=True, error_model="numpy")
def seed_key(seed: int, purpose: int) -> np.uint64:
    """The root key of a run's streams for one purpose (dynamics, offers), from its seed."""
    return stream_key(mix64(np.uint64(seed) + GOLDEN), purpose, 0)
