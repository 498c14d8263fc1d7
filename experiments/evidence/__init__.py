"""Measurements behind the presets' defaults (README: "Evidence behind the presets'
defaults"): each a module runnable with ``python -m``."""
