"""The config boundary: structured schemas and Hydra apps, the reader from configs to
``sim.Scenario``/``sim.Catalogue`` and agent nodes, and the writer back to YAML."""

from pathlib import Path

import conf

CONF = Path(conf.__file__).parent
"""The package's config folder (``conf/``), in a checkout or installed."""
