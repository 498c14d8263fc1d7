"""Bring your own policy: a worked example of an outside rule engine ranked like our agents.

Any importable class (or function returning an object) with ``act(obs, mask, ctx)``,
``update(obs, actions, rewards)`` and ``describe()`` can be benchmarked; no base class needed.
Select it from the command line, with its parameters, and name its module with ``--trust``
(a config may only point at code you name)::

    winback benchmark --trust examples.byop +agent.rules._target_=examples.byop.RecencyRules \
        +agent.rules.quiet_days=42

or put the same lines in ``agent/rules.yaml`` of your config folder (``--config-dir``). A
class kept in your own code works the same way once Python can import it (for a module
``my_rules.py`` in the current folder:
``PYTHONPATH=. winback benchmark --trust my_rules +agent.mine._target_=my_rules.MyPolicy``).
"""

from __future__ import annotations

from typing import Any

import numpy as np


class RecencyRules:
    """A typical in-house rule engine: users quiet for ``quiet_days`` or more get
    recommendations; churned users who said "price" get a discount; nobody else gets
    anything. It reads observable features only, by name."""

    def __init__(
        self,
        quiet_days: float = 56.0,
        offer: str = "recommendations",
        price_offer: str = "discount_30",
        name: str = "recency_rules",
    ) -> None:
        self.quiet_days, self.offer, self.price_offer, self.name = (
            quiet_days,
            offer,
            price_offer,
            name,
        )

    def act(self, obs: np.ndarray, mask: np.ndarray, ctx: Any) -> np.ndarray:
        col = {n: i for i, n in enumerate(ctx.feature_names)}
        quiet = obs[:, col["recency"]] * 365.0 >= self.quiet_days
        wanted = np.where(quiet, 1 + ctx.offer_names.index(self.offer), 0)
        said_price = obs[:, col["survey_price"]] > 0.5
        churned = obs[:, col["status_churned"]] > 0.5
        if self.price_offer in ctx.offer_names:
            wanted[said_price & churned] = 1 + ctx.offer_names.index(self.price_offer)
        rows = np.arange(obs.shape[0])
        return np.where(mask[rows, wanted], wanted, 0)  # never ask for a refused send

    def update(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        del obs, actions, rewards  # a fixed rule engine does not learn

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "quiet_days": self.quiet_days,
            "offer": self.offer,
            "price_offer": self.price_offer,
        }
