"""The ``plan`` node of a config (``winback plan``; see ``experiments.jobs.plan``) -> a typed
``PlanConfig``, every value checked before any simulation::

    plan:
      policy: playbook       # the policy the live test would roll out (an agent's name)
      against: no_offer      # its comparison arm: doing nothing, or another agent (today's)
      metric: profit         # profit per enrolled customer, or reactivation (share back)
      power: 0.8
      alpha: 0.05
      mde: null              # an effect to size for (money per customer, or points of share)
      size: null             # customers per arm to give the detectable effect for
      follow_days: 56        # each customer's outcome window after entering the test
      pre_days: 28           # the pre-period of the CUPED covariate (the same metric before)
      validate: 0            # simulated runs of the planned test (>= 500 to judge it)
      seed: 1
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from sim.validation import check_choice, check_int, check_positive

METRICS = ("profit", "reactivation")
NOTHING = "no_offer"  # the comparison arm that gets nothing


@dataclass(frozen=True, kw_only=True)
class PlanConfig:
    """A live test to plan: ``policy`` against ``against`` on ``metric``; every field checked
    when built, naming the key, the value and what is allowed."""

    policy: str = "playbook"
    against: str = "no_offer"
    metric: str = "profit"
    power: float = 0.8
    alpha: float = 0.05
    mde: float | None = None
    size: int | None = None
    follow_days: int = 56
    pre_days: int = 28
    validate: int = 0
    seed: int = 1

    def __post_init__(self) -> None:
        if self.policy == NOTHING:
            raise ValueError(
                f"plan.policy: {NOTHING!r} never sends an offer; allowed: a policy that acts "
                "(an agent's name, e.g. playbook)"
            )
        if self.policy == self.against:
            raise ValueError(
                f"plan.against: {self.against!r} is the policy itself; allowed: another agent "
                "or no_offer"
            )
        check_choice("plan.metric", self.metric, METRICS)
        for key in ("power", "alpha"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
                raise ValueError(f"plan.{key}: {value!r}; allowed: a number in (0, 1)")
        if self.mde is not None:
            check_positive("plan.mde", self.mde)
        if self.size is not None:
            check_int("plan.size", self.size, 2)
        check_int("plan.follow_days", self.follow_days, 1, 3650)
        check_int("plan.pre_days", self.pre_days, 0, 3650)
        check_int("plan.validate", self.validate, 0, 100_000)
        check_int("plan.seed", self.seed, 0)


def plan_config(node: dict[str, Any] | None) -> PlanConfig:
    """The ``plan`` node (missing: the defaults) -> a ``PlanConfig``."""
    node = dict(node or {})
    known = {f.name for f in fields(PlanConfig)}
    for key in node:
        if key not in known:
            raise ValueError(f"plan.{key}: unknown key; allowed: {', '.join(sorted(known))}")
    return PlanConfig(**node)
