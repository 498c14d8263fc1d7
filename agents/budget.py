"""A spend limit per period, shared by the budget-aware agents (the bandits, the uplift policy).

Each send is charged at face value (:mod:`sim.face_value`). Agents score offers net of a
Lagrangian ``price`` on their charge: the price rises when a period spends past its target
share of the budget and falls when it spends less (dual ascent on the budget constraint).
A hard cap keeps every period within its budget: once the next send would exceed it, the
rest of the batch gets "nothing". A period is one decision day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.offers import Catalogue
from sim.scenario import Scenario


@dataclass(kw_only=True)
class Budget:
    """A spend limit per period, enforced with a Lagrangian price and a hard cap."""

    per_period: float = float("inf")
    costs: list[float] = field(default_factory=list)  # per action (action 0 costs 0)
    step: float = 0.05  # how fast the price moves, per unit of relative over-spend
    target: float = 0.9  # the share of each period's budget the price steers spend towards
    price: float = 0.0
    spent: float = 0.0

    def __post_init__(self) -> None:
        self._day: float | None = None  # the last decision day (not a saved field)

    @classmethod
    def at_face_value(cls, per_period: float, scenario: Scenario, catalogue: Catalogue) -> Budget:
        """A budget charging each action of ``catalogue`` its face value in ``scenario``."""
        from sim.face_value import face_values
        from sim.messaging import OfferTable

        charges = face_values(scenario, OfferTable.build(scenario, catalogue))
        return cls(per_period=per_period, costs=[0.0, *(float(c) for c in charges)])

    def on_day(self, day: float) -> None:
        """A decision on ``day``: a new decision day closes the period."""
        if self._day is not None and day != self._day:
            self.new_period()
        self._day = day

    def new_period(self) -> None:
        """Close a period: raise the price if spend passed the target share of the budget,
        lower it (not below 0) if it fell short."""
        if np.isfinite(self.per_period) and self.per_period > 0:
            over = self.spent / self.per_period - self.target
            self.price = max(0.0, self.price + self.step * over)
        self.spent = 0.0

    def action_costs(self, n_actions: int) -> np.ndarray:
        return np.asarray(self.costs, dtype=float) if self.costs else np.zeros(n_actions)

    def enforce(self, actions: np.ndarray, order: np.ndarray, n_actions: int) -> np.ndarray:
        """Keep sends, in ``order``, while the period's budget lasts; the rest get 0."""
        costs = self.action_costs(n_actions)
        out = actions.copy()
        if np.isfinite(self.per_period):
            room = self.per_period - self.spent
            fits = np.cumsum(costs[actions[order]]) <= room + 1e-9
            out[order[~fits]] = 0
        self.spent += float(costs[out].sum())
        return out


def check_budget(value: Any) -> float:
    """``budget_per_period``: a positive number (``inf``: no budget)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(
            f"budget_per_period: {value!r}; allowed: a positive number (inf: no budget)"
        )
    return float(value)
