"""The composition root: the ``winback`` command, the config boundary and the jobs.

``cli/`` parses arguments and dispatches; ``config/`` turns configs into the typed objects
of ``sim/`` and ``agents/`` (and scenarios back into YAML); ``jobs/`` holds the work each
command does; ``reporting/`` draws plots and writes HTML; ``perf/`` measures speed.
"""
