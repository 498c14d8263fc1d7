"""Speed measurements printed as ratios measured in one run:
``winback perf sim|env|sweep|stress|calibrate``."""
