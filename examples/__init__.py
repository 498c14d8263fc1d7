"""Worked examples that use the sandbox from outside: ``examples.byop`` is a policy of your
own, ranked next to ours by ``winback benchmark``."""
