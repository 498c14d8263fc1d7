"""Outcomes of a run: time series, per-user totals and KPIs; incremental vs a control."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.constants import MONEY, RETENTION_DAYS, STATES
from sim.ledger import COUNTERS, Ledger
from sim.population import Population
from sim.scenario import Scenario

OFFER_SPEND = ("discount_cost", "trial_cost", "message_cost", "support_cost")


@dataclass
class SimulationResult:
    """Everything a run produced. Arrays are per user in population order."""

    scenario: str
    seed: int
    horizon_days: int
    segments: list[str]
    occupancy: np.ndarray  # (days + 1, states, segments) users
    weekly_money: np.ndarray  # (weeks, money components, segments)
    weekly_counters: np.ndarray  # (weeks, counters, segments)
    user_money: np.ndarray  # (users, money components)
    user_segment: np.ndarray
    user_pain: np.ndarray
    user_state: np.ndarray
    reactivations: np.ndarray
    kpis: dict[str, float] = field(default_factory=dict)


def _kpis(pop: Population, ledger: Ledger) -> dict[str, float]:
    money = pop.money.astype(np.float64).sum(axis=1)
    k: dict[str, float] = {name: float(money[i]) for i, name in enumerate(MONEY)}
    k["offer_spend"] = sum(k[name] for name in OFFER_SPEND)
    k["profit"] = k["revenue"] - sum(k[name] for name in MONEY[1:])
    counters = ledger.counters.sum(axis=(0, 2))
    for i, name in enumerate(COUNTERS):
        k[name] = float(counters[i])
    k["messages_sent"] = k.pop("sent")
    k["unsubscribes"] = k.pop("unsubscribed")
    k["users"] = float(pop.n)
    pool = int(pop.ever_inactive.sum())
    won = int((pop.reactivations > 0).sum())
    k["inactive_pool"] = float(pool)
    k["reactivated_users"] = float(won)
    k["reactivation_rate"] = won / pool if pool else float("nan")
    k["cost_per_reactivation"] = k["offer_spend"] / won if won else float("nan")
    for lag in RETENTION_DAYS:
        flags = getattr(pop, f"retained{lag}")
        seen = flags >= 0
        k[f"retention_{lag}d"] = float(flags[seen].mean()) if seen.any() else float("nan")
    final = np.bincount(pop.state, minlength=len(STATES)) / pop.n
    for s, name in enumerate(STATES):
        k[f"final_share_{name}"] = float(final[s])
    return k


def build_result(
    scenario: Scenario, seed: int, pop: Population, ledger: Ledger, day: float
) -> SimulationResult:
    return SimulationResult(
        scenario=scenario.name,
        seed=seed,
        horizon_days=int(day),
        segments=scenario.segment_names,
        occupancy=ledger.occupancy(),
        weekly_money=ledger.money.copy(),
        weekly_counters=ledger.counters.copy(),
        user_money=pop.money.T.copy(),
        user_segment=pop.segment.copy(),
        user_pain=pop.pain.copy(),
        user_state=pop.state.copy(),
        reactivations=pop.reactivations.copy(),
        kpis=_kpis(pop, ledger),
    )


def incremental(policy: SimulationResult, control: SimulationResult) -> dict[str, float]:
    """Policy minus control on common random numbers (same scenario and seed)."""
    if (policy.scenario, policy.seed) != (control.scenario, control.seed):
        raise ValueError(
            "incremental: policy and control must share scenario and seed; got "
            f"{(policy.scenario, policy.seed)} and {(control.scenario, control.seed)}"
        )
    p, c = policy.kpis, control.kpis
    out = {f"incremental_{k}": p[k] - c[k] for k in ("profit", "revenue", "reactivated_users")}
    spend = p["offer_spend"] - c["offer_spend"]
    extra = out["incremental_reactivated_users"]
    out["incremental_offer_spend"] = spend
    out["cost_per_incremental_reactivation"] = spend / extra if extra > 0 else float("nan")
    out["roi"] = out["incremental_profit"] / spend if spend > 0 else float("nan")
    return out
