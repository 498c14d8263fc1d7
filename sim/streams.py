"""Independent, reproducible random streams from one seed (no global random state).

Every stream is keyed by what it is for and where it is used, so two runs with the same seed
draw the same numbers for the same purpose even when their policies differ: that is what
makes a policy run and its no-offer control a paired comparison on common random numbers.
"""

from __future__ import annotations

import numpy as np

POPULATION, DYNAMICS, OFFERS, POLICY, RECORDING, LOOKAHEAD = range(6)


class Streams:
    """Factory of ``numpy.random.Generator`` objects derived from one root seed."""

    def __init__(self, seed: int) -> None:
        if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed: {seed!r} is not allowed; expected an integer >= 0")
        self.seed = int(seed)

    def _make(self, *key: int) -> np.random.Generator:
        return np.random.Generator(
            np.random.SFC64(np.random.SeedSequence(self.seed, spawn_key=key))
        )

    def population(self) -> np.random.Generator:
        return self._make(POPULATION)

    def kernel_roots(self) -> tuple[np.uint64, np.uint64]:
        """Root keys of the compiled kernels' per-user counter-based streams
        (``sim.kernel.counter_rng``): (dynamics, offers)."""
        from sim.kernel.counter_rng import seed_key

        return np.uint64(seed_key(self.seed, DYNAMICS)), np.uint64(seed_key(self.seed, OFFERS))

    def policy(self) -> np.random.Generator:
        return self._make(POLICY)

    def recording_root(self) -> np.uint64:
        """Root key of the streams only a recorded run draws from (``sim.recording``): the
        other streams, and so every result, are the same with and without recording."""
        from sim.kernel.counter_rng import seed_key

        return np.uint64(seed_key(self.seed, RECORDING))

    def lookahead_seed(self, *key: int) -> int:
        """The seed of a look-ahead replication keyed by ``key`` (``sim.lookahead``): a
        stream of its own, so a replication never draws the run's own numbers."""
        words = np.random.SeedSequence(self.seed, spawn_key=(LOOKAHEAD, *key)).generate_state(2)
        return (int(words[0]) << 31) ^ int(words[1])
