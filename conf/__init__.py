"""Hydra configuration tree, shipped inside the package so an installed ``winback`` finds it
(``importlib.resources.files("conf")``)."""
