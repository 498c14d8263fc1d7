"""Entry points: the ``winback`` command, benchmarks and (later) Hydra experiments."""
