"""Compiled per-user kernels (numba): the simulator's hot paths over the population arrays.

The population stays a struct of numpy arrays; each kernel loops over users in compiled
code, so one user costs what one user should (the single per-user environment) and a
million users cost no temporaries (the batched environments and the simulator). Every
environment and every simulation runs these same kernels.
"""
