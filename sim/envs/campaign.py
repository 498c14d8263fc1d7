"""``WinBackCampaign-v0``: a weekly win-back campaign over a population, under a budget."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from sim import presets
from sim.calendar import freshness_at
from sim.constants import PAIN_POINTS
from sim.face_value import face_values
from sim.messaging import OK, OfferTable
from sim.observe import observed_status
from sim.offers import Catalogue
from sim.scenario import Scenario
from sim.simulation import Simulation
from sim.validation import check_int, check_nonnegative

STATUSES = ("inactive", "churned")
REASONS = (*PAIN_POINTS[:4], "unknown")  # exit-survey answer; "unknown" = none given
LOOKAHEAD_WEEKS = 4


def group_names() -> list[str]:
    return [f"{s}/{r}" for s in STATUSES for r in REASONS]


class WinBackCampaign(gym.Env):
    """Run a win-back campaign: each week, choose one offer (or none) per customer group.

    ## Description
    A population (default 100,000 users) lives through ``horizon_weeks`` weeks of the full
    simulator. Each week the agent picks, for each observable group of users (observed
    status inactive / churned x exit-survey reason price, content, discovery, technical,
    unknown: 10 groups), one offer of the catalogue or nothing. Every eligible, reachable,
    uncapped user of a group gets the group's offer, in random order, while the week's
    budget lasts; the rest are refused for budget, and ``info`` says how many. A paired
    no-offer run with the same seed makes the reward incremental.

    ## Action Space
    ``MultiDiscrete([1 + n_offers] * 10)``: per group, 0 = nothing or ``k`` = offer k-1.

    ## Observation Space
    ``Box(0, 1)``: per group, its share of users, mean recency / 365, mean sessions over 4
    weeks / 56, and share reachable by email, push, SMS; per genre, freshness now and the
    appeal released in each of the next 4 weeks (the announced release calendar, / 3);
    the budget share left over the horizon; the week / horizon.

    ## Rewards
    The week's profit of the whole population minus the paired no-offer run's, per 1,000
    users (incremental profit: revenue - every cost, on common random numbers).

    ## Starting State
    Day 0 of the scenario: its population drawn from the segments (with a seed drawn from
    ``np_random``) and warmed up for ``scenario.warmup_days`` without offers, so users start
    active, inactive or churned as the dynamics left them; the paired no-offer copy is the
    same users on the same seed; the whole budget is unspent.

    ## Episode End
    Truncated after ``horizon_weeks``. ``info``: spend, sent, refused for budget, refused
    for other reasons, and the week's incremental profit in currency.

    ## Arguments
    ``scenario`` (default ``presets.streaming(n_users=100_000)``), ``catalogue``,
    ``weekly_budget=5000.0`` (currency, charged at face value: send cost + discount or
    trial value at the average list price + support cost), ``horizon_weeks=52``,
    ``seed=0``.

    ## Version History
    * v0: first version. Since (dynamics and rewards unchanged, so still v0): the groups
      of observed status churned are named ``churned/<reason>`` (were ``cancelled/...``);
      ``gym.make`` applies ``max_episode_steps=52`` (the default horizon: pass
      ``max_episode_steps`` with another ``horizon_weeks``).
    """

    def __init__(
        self,
        scenario: Scenario | None = None,
        catalogue: Catalogue | None = None,
        weekly_budget: float = 5000.0,
        horizon_weeks: int = 52,
        seed: int = 0,
    ) -> None:
        self.scenario = scenario if scenario is not None else presets.streaming(n_users=100_000)
        self.catalogue = catalogue if catalogue is not None else presets.streaming_offers()
        self.weekly_budget = check_nonnegative("weekly_budget", weekly_budget)
        self.horizon_weeks = check_int("horizon_weeks", horizon_weeks, 1, 520)
        if 7 * horizon_weeks > self.scenario.horizon_days:
            raise ValueError(
                f"horizon_weeks: {horizon_weeks} weeks exceed the scenario's "
                f"{self.scenario.horizon_days} days"
            )
        self.base_seed = seed
        self.table = OfferTable.build(self.scenario, self.catalogue)
        self.charge = face_values(self.scenario, self.table)
        n_groups, n_genres = len(group_names()), len(self.scenario.genres)
        self.action_space = spaces.MultiDiscrete([1 + len(self.catalogue)] * n_groups)
        size = 6 * n_groups + n_genres * (1 + LOOKAHEAD_WEEKS) + 2
        self.observation_space = spaces.Box(0.0, 1.0, (size,), dtype=np.float32)
        self.sim: Simulation | None = None
        self.control: Simulation | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        run_seed = int(self.np_random.integers(2**62)) ^ self.base_seed
        self.sim = Simulation(self.scenario, self.catalogue, seed=run_seed)
        self.control = Simulation(self.scenario, self.catalogue, seed=run_seed)
        self.sim.run_until(0)
        self.control.run_until(0)
        self.week, self.spent = 0, 0.0
        return self._observe(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        sim, control = self._sims()
        choice = np.asarray(action, dtype=np.int64).reshape(-1)
        if (
            choice.shape != self.action_space.shape
            or choice.min() < 0
            or (choice.max() > len(self.catalogue))
        ):
            raise ValueError(f"action: {choice.tolist()}; expected {self.action_space}")
        before = _profit(sim) - _profit(control)
        info = self._send(sim, choice)
        day = 7 * (self.week + 1)
        sim.run_until(day)
        control.run_until(day)
        gain = _profit(sim) - _profit(control) - before
        self.week += 1
        info["incremental_profit"] = gain
        reward = gain / sim.pop.n * 1000.0
        return self._observe(), float(reward), False, self.week >= self.horizon_weeks, info

    # ---------------------------------------------------------------- helpers
    def _sims(self) -> tuple[Simulation, Simulation]:
        if self.sim is None or self.control is None:
            raise ValueError("reset: call reset() before step()")
        return self.sim, self.control

    def _groups(self, sim: Simulation) -> np.ndarray:
        """Group of every user (-1: active, not targeted)."""
        status = observed_status(sim.pop, slice(None), sim.day, sim.scenario).astype(np.int64)
        reason = np.where(sim.pop.survey >= 0, np.minimum(sim.pop.survey, 4), 4)
        group = (status - 1) * len(REASONS) + reason
        return np.where(status > 0, group, -1)

    def _send(self, sim: Simulation, choice: np.ndarray) -> dict[str, Any]:
        group = self._groups(sim)
        offer = np.where(group >= 0, choice[np.maximum(group, 0)] - 1, -1)
        users = np.flatnonzero(offer >= 0)
        order = self.np_random.permutation(users.size)
        users = users[order]
        offers = offer[users]
        ok = _would_send(sim, users, offers, self.table)
        users, offers = users[ok], offers[ok]
        cumulative = np.cumsum(self.charge[offers])
        affordable = cumulative <= self.weekly_budget
        refused_other = int((~ok).sum())
        d = sim.offer(users[affordable], offers[affordable])
        spend = float(cumulative[affordable][-1]) if affordable.any() else 0.0
        self.spent += spend
        return {
            "spend": spend,
            "sent": int(d.sent.sum()),
            "refused_budget": int((~affordable).sum()),
            "refused_other": refused_other,
        }

    def _observe(self) -> np.ndarray:
        sim = self.sim
        if sim is None:
            raise ValueError("reset: call reset() before observing")
        feats = sim.observe()
        group = self._groups(sim)
        cols = []
        for g in range(len(group_names())):
            mine = group == g
            share = mine.mean()
            if mine.any():
                rec = np.minimum(feats["days_since_activity"][mine] / 365.0, 1).mean()
                ses = np.minimum(feats["sessions_4w"][mine] / 56.0, 1).mean()
                reach = [feats[f"reachable_{c}"][mine].mean() for c in ("email", "push", "sms")]
            else:
                rec, ses, reach = 0.0, 0.0, [0.0, 0.0, 0.0]
            cols += [share, rec, ses, *reach]
        cols += list(np.minimum(freshness_at(sim.scenario, sim.day) / 3.0, 1.0))
        cols += list(self._upcoming(sim.day))
        total = self.weekly_budget * self.horizon_weeks
        cols.append(1.0 - min(self.spent / total, 1.0) if total > 0 else 0.0)
        cols.append(self.week / self.horizon_weeks)
        return np.clip(np.array(cols, dtype=np.float32), 0.0, 1.0)

    def _upcoming(self, day: float) -> np.ndarray:
        """Announced appeal per genre released in each of the next weeks (/3, capped)."""
        out = np.zeros((LOOKAHEAD_WEEKS, len(self.scenario.genres)))
        for r in self.scenario.releases:
            ahead = (r.day - day) // 7
            if 0 <= ahead < LOOKAHEAD_WEEKS and r.day > day:
                out[int(ahead), self.scenario.genres.index(r.genre)] += r.appeal
        return np.minimum(out / 3.0, 1.0).T.reshape(-1)


def _profit(sim: Simulation) -> float:
    money = sim.pop.money.astype(np.float64).sum(axis=1)
    return float(money[0] - money[1:].sum())


def _would_send(
    sim: Simulation, users: np.ndarray, offers: np.ndarray, table: OfferTable
) -> np.ndarray:
    from sim.messaging import refusals

    return refusals(sim.pop, users, offers, sim.day, sim.scenario, table) == OK
