"""Plots and self-contained HTML reports, on one kit (``reporting.kit``)."""
