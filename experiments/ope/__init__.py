"""Off-policy evaluation: a policy's value estimated from logged decisions (``logged.py``:
the rounds, in Open Bandit Pipeline's layout; ``behaviour.py``: logging policies with known
propensities and the simulator's log of their decisions; ``estimators.py``: DM, IPS, SNIPS,
DR, SNDR, switch-DR with bootstrap intervals and weight diagnostics; ``events.py``: a
company's own event log as the decisions table and ``Logged``)."""
