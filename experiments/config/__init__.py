"""The config boundary: structured schemas and Hydra apps, the reader from configs to
``sim.Scenario``/``sim.Catalogue`` and agent nodes, and the writer back to YAML."""
