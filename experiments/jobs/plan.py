"""``winback plan``: the live A/B test that would confirm a policy, planned from the simulator.

The test the plan is for: from its start, a customer enters the test the first campaign epoch
they are seen as inactive or churned (the trigger of most win-back programmes), is assigned
to an arm at random (half each), and is measured over ``follow_days`` from then; the
policy acts on its arm's customers from their entry on, the other arm gets the comparison
(doing nothing, or today's policy). Customers enter during
``[start, horizon - follow_days]``, where ``start`` leaves ``pre_days`` of history before
(the CUPED covariate: the same metric over the ``pre_days`` before entry).

From one simulated population, both arms' outcomes of every customer are known (the policy's
run and the comparison's share their random numbers, and a customer's history is the same in
both until they enter: the policy touches nobody before), so the plan reads off the effect,
each arm's spread and the pre-period covariate, and statsmodels turns them into the test's
size (``TTestIndPower``: a two-sided two-sample t-test on the mean per customer; for the
reactivation share, ``NormalIndPower`` on Cohen's h), the detectable effect at a given
size, the duration at the simulated flow of entrants, the holdout's cost and the guardrails
(opt-outs, discount spend). ``validate`` then runs the planned test that many times on fresh
simulated customers (each test draws its customers at random from a fresh simulated
population of at least 20 tests' worth, arms at random) and
counts how often it finds the effect (power) and, with both arms doing the same, how often
it finds one that is not there (the false-positive rate).

Limits, said in the output: learners that adapt online see all the simulated customers, not
one arm; customers are independent (no budget shared between arms).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agents.evaluate import AgentPolicy
from experiments.config.plan import NOTHING, PlanConfig, plan_config
from experiments.files import write_json, write_table
from sim.constants import DISCOUNT_COST
from sim.observe import observed_status
from sim.offers import Catalogue
from sim.scenario import Scenario
from sim.simulation import Decision, Simulation, user_profit

Policy = Callable[[Simulation, int], Decision | None]


# ------------------------------------------------------------------ who enters, what they do
@dataclass(frozen=True)
class Window:
    """The test's calendar on a scenario: entry epochs and each entrant's windows (days)."""

    start: int  # first entry epoch (after ``pre_days`` of history)
    last: int  # last entry epoch (``follow_days`` before the horizon)
    follow_days: int
    pre_days: int
    epoch_days: int

    @classmethod
    def of(cls, scenario: Scenario, cfg: PlanConfig) -> Window:
        e = scenario.epoch_days
        for key in ("follow_days", "pre_days"):
            value = getattr(cfg, key)
            if value % e:
                raise ValueError(
                    f"plan.{key}: {value}; allowed: a multiple of scenario.epoch_days={e}"
                )
        start, last = cfg.pre_days, scenario.horizon_days - cfg.follow_days
        if last < start:
            raise ValueError(
                f"plan.follow_days: {cfg.follow_days} with plan.pre_days {cfg.pre_days} leaves "
                f"no entry day in scenario.days={scenario.horizon_days}; allowed: pre_days + "
                "follow_days < scenario.days"
            )
        return cls(start, last, cfg.follow_days, cfg.pre_days, e)


class Enrolment:
    """A simulation's policy that runs the test: at each epoch within the window it enters
    the customers seen lapsed who have not entered yet (at the first epoch, every one seen
    lapsed then; a customer active then enters at the first later epoch they are seen
    lapsed, whatever they were before the test), keeps what each entrant's outcome needs,
    and lets ``inner`` (the arm's policy; None: do nothing) act on entrants only."""

    def __init__(self, n: int, window: Window, inner: Policy | None) -> None:
        self.w, self.inner = window, inner
        self.entered = np.full(n, -1, dtype=np.int32)
        ring = window.pre_days // window.epoch_days + 1
        self.ring = np.zeros((ring, n))  # profit at the last epochs, for the pre-period
        names = ("profit", "react", "unsubs", "discount")
        self.start = {k: np.zeros(n) for k in (*names, "pre")}
        self.end = {k: np.full(n, np.nan) for k in names}

    def __call__(self, sim: Simulation, day: int) -> Decision | None:
        self.keep(sim, day)
        if self.inner is None:
            return None
        decision = self.inner(sim, day)
        if decision is None:
            return None
        users, offers = decision
        inside = (self.entered[users] >= 0) & (self.entered[users] <= day)
        return (users[inside], offers[inside]) if inside.any() else None

    def values(self, sim: Simulation) -> dict[str, np.ndarray]:
        pop = sim.pop
        return {
            "profit": user_profit(sim, np.arange(pop.n)),
            "react": pop.reactivations.astype(np.float64),
            "unsubs": pop.unsubscribed.astype(np.float64),
            "discount": pop.money[DISCOUNT_COST].astype(np.float64),
        }

    def keep(self, sim: Simulation, day: int) -> None:
        now = self.values(sim)
        w = self.w
        slot = (day // w.epoch_days) % self.ring.shape[0]
        ends = self.entered == day - w.follow_days
        ends &= self.entered >= 0
        for k, v in now.items():
            self.end[k][ends] = v[ends]
        lapsed = observed_status(sim.pop, slice(None), day, sim.scenario) > 0
        if w.start <= day <= w.last:
            new = lapsed & (self.entered < 0)
            before = self.ring[(slot - w.pre_days // w.epoch_days) % self.ring.shape[0]]
            self.entered[new] = day
            for k, v in now.items():
                self.start[k][new] = v[new]
            self.start["pre"][new] = now["profit"][new] - before[new]
        self.ring[slot] = now["profit"]

    def finish(self, sim: Simulation) -> None:
        """The horizon: the last entrants' windows close."""
        now = self.values(sim)
        ends = (self.entered >= 0) & (
            self.entered == sim.scenario.horizon_days - self.w.follow_days
        )
        for k, v in now.items():
            self.end[k][ends] = v[ends]


@dataclass(frozen=True)
class Outcomes:
    """Each entrant's outcomes in both arms (the policy's ``a``, the comparison's ``b``)."""

    entered: np.ndarray  # entry day per entrant
    profit: tuple[np.ndarray, np.ndarray]  # profit over the follow window
    back: tuple[np.ndarray, np.ndarray]  # 1 if they came back within it
    unsubs: tuple[np.ndarray, np.ndarray]
    discount: tuple[np.ndarray, np.ndarray]
    pre: np.ndarray  # the pre-period's profit (the same in both arms: before entry)

    def metric(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        return self.profit if name == "profit" else self.back


def simulate_outcomes(
    scenario: Scenario,
    catalogue: Catalogue,
    arms: tuple[Callable[[], Any] | None, Callable[[], Any] | None],
    window: Window,
    seed: int,
) -> Outcomes:
    """Run the test's two arms on every customer of ``scenario`` (same seed: common random
    numbers); ``arms``: agent factories of the policy and the comparison (None: nothing)."""
    runs = []
    for make in arms:
        inner = None if make is None else AgentPolicy(make(), scenario, catalogue, 28)
        rec = Enrolment(scenario.n_users, window, inner)
        sim = Simulation(scenario, catalogue, seed=seed, policy=rec)
        sim.run()
        rec.finish(sim)
        runs.append(rec)
    a, b = runs
    if arms[0] is not None and not sum(parts[0].size for parts in a.inner.sends):  # type: ignore[union-attr]
        raise ValueError(
            "plan.policy: it sent no offer to any of the customers who entered the test; "
            "allowed: a policy that acts on lapsed customers"
        )
    if not np.array_equal(a.entered, b.entered):  # the policy acted before entry
        raise ValueError(
            "plan.policy: the arms' customers differ at entry (a policy acted on someone "
            "before they entered the test); allowed: policies that act on lapsed customers"
        )
    who = np.flatnonzero(a.entered >= 0)

    def pair(k: str) -> tuple[np.ndarray, np.ndarray]:
        return tuple(r.end[k][who] - r.start[k][who] for r in (a, b))  # type: ignore[return-value]

    react = pair("react")
    return Outcomes(
        entered=a.entered[who],
        profit=pair("profit"),
        back=((react[0] > 0).astype(float), (react[1] > 0).astype(float)),
        unsubs=pair("unsubs"),
        discount=pair("discount"),
        pre=a.start["pre"][who],
    )


# ------------------------------------------------------------------ the plan
def cuped(y: tuple[np.ndarray, np.ndarray], x: np.ndarray) -> tuple[tuple[np.ndarray, ...], float]:
    """Both arms' outcomes less ``theta x (x - mean x)`` (CUPED, Deng et al. 2013: ``theta``
    the slope of the outcome on the pre-period covariate within arms, pooled), and the share
    of the arms' variance it removes."""
    xc = x - x.mean()
    den = 2 * float(xc @ xc)
    if den == 0:
        return y, 0.0
    theta = sum(float((arm - arm.mean()) @ xc) for arm in y) / den
    adjusted = tuple(arm - theta * xc for arm in y)
    removed = 1 - sum(a.var() for a in adjusted) / sum(arm.var() for arm in y)
    return adjusted, float(removed)


def size_per_arm(effect: float, sd: float, alpha: float, power: float) -> float:
    """Customers per arm for a two-sided two-sample t-test to find ``effect`` with
    ``power`` at ``alpha`` (statsmodels ``TTestIndPower``; ``sd``: the arms' pooled)."""
    from statsmodels.stats.power import TTestIndPower

    if effect == 0 or sd == 0:
        return math.inf
    es = abs(effect) / sd
    return float(TTestIndPower().solve_power(effect_size=es, alpha=alpha, power=power, ratio=1))


def detectable(n: int, sd: float, alpha: float, power: float) -> float:
    """The effect a test of ``n`` per arm finds with ``power`` at ``alpha``."""
    from statsmodels.stats.power import TTestIndPower

    es = TTestIndPower().solve_power(nobs1=n, alpha=alpha, power=power, ratio=1)
    return float(es) * sd


def power_at(n: int, effect: float, sd: float, alpha: float) -> float:
    """The power of a test of ``n`` per arm against ``effect`` (statsmodels)."""
    from statsmodels.stats.power import TTestIndPower

    if sd == 0:
        return 1.0 if effect else alpha
    es = abs(effect) / sd
    return float(TTestIndPower().power(effect_size=es, nobs1=n, alpha=alpha, ratio=1))


def pooled_sd(y: tuple[np.ndarray, ...]) -> float:
    return float(math.sqrt((y[0].var(ddof=1) + y[1].var(ddof=1)) / 2))


def paired(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Mean of ``a - b`` per customer with its 95% interval (the simulation's own noise)."""
    d = a - b
    half = 1.96 * d.std(ddof=1) / math.sqrt(d.size)
    return {
        "mean": float(d.mean()),
        "ci_low": float(d.mean() - half),
        "ci_high": float(d.mean() + half),
    }


def make_plan(out: Outcomes, cfg: PlanConfig, window: Window, users: int) -> dict[str, Any]:
    """The numbers of the plan (see the module's docstring)."""
    y = out.metric(cfg.metric)
    effect = paired(*y)
    sd = pooled_sd(y)
    n = size_per_arm(effect["mean"], sd, cfg.alpha, cfg.power)
    if effect["ci_low"] * effect["ci_high"] > 0:  # the simulation's own uncertainty about n
        edges = [size_per_arm(effect[k], sd, cfg.alpha, cfg.power) for k in ("ci_high", "ci_low")]
        n_range = [_whole(min(edges)), _whole(max(edges))]
    else:
        n_range = [
            _whole(
                min(
                    size_per_arm(effect[k], sd, cfg.alpha, cfg.power) for k in ("ci_low", "ci_high")
                )
            ),
            None,
        ]
    adjusted, rho2 = cuped(y, out.pre)
    n_cuped = size_per_arm(effect["mean"], pooled_sd(adjusted), cfg.alpha, cfg.power)
    counts = pd.Series(out.entered).value_counts().sort_index()
    stock = int(counts.iloc[0]) if len(counts) else 0
    flow = float(counts.iloc[1:].median()) if len(counts) > 1 else 0.0
    per_week = flow * 7 / window.epoch_days
    profit_effect = paired(*out.profit)
    plan: dict[str, Any] = {
        "metric": cfg.metric,
        "alpha": cfg.alpha,
        "power": cfg.power,
        "entrants": int(out.entered.size),
        "simulated_customers": users,
        "effect": effect,
        "arm_means": [float(y[0].mean()), float(y[1].mean())],
        "pooled_sd": sd,
        "per_arm": _whole(n),
        "per_arm_range": n_range,
        "cuped_variance_removed": rho2,
        "per_arm_with_cuped": _whole(n_cuped),
        "entrants_at_start": stock,
        "entrants_per_week": per_week,
        "weeks_to_enrol": _weeks(2 * n, stock, per_week),
        "weeks_to_enrol_with_cuped": _weeks(2 * n_cuped, stock, per_week),
        "follow_days": window.follow_days,
        "holdout_cost": None if not math.isfinite(n) else math.ceil(n) * profit_effect["mean"],
        "profit_effect": profit_effect,
        "guardrails": {
            "unsubscribes_per_1000": {k: v * 1000 for k, v in paired(*out.unsubs).items()},
            "discount_spend_per_customer": paired(*out.discount),
        },
    }
    if cfg.size is not None:
        plan["detectable_at_size"] = {
            "size": cfg.size,
            "effect": detectable(cfg.size, sd, cfg.alpha, cfg.power),
        }
    if cfg.mde is not None:
        plan["per_arm_for_mde"] = {
            "mde": cfg.mde,
            "per_arm": _whole(size_per_arm(cfg.mde, sd, cfg.alpha, cfg.power)),
        }
    return plan


def _enrolment(weeks: float | None) -> str:
    if weeks is None or weeks > 104:
        return "more than two years of entrants at this flow (is scenario.users your base?)"
    return "every entrant needed at the start" if weeks == 0 else f"{weeks:.1f} weeks to enrol"


def _whole(n: float) -> int | None:
    return None if not math.isfinite(n) else math.ceil(n)


def _weeks(needed: float, stock: int, per_week: float) -> float | None:
    """Weeks until ``needed`` customers have entered (the stock at once, then the flow)."""
    if not math.isfinite(needed):
        return None
    if needed <= stock:
        return 0.0
    return None if per_week <= 0 else (needed - stock) / per_week


# ------------------------------------------------------------------ the plan, tried
POOL_PER_TEST = 20  # a validation pool holds at least this many tests' customers
MAX_POOL_USERS = 1_000_000  # the largest population simulated for a validation


def replicate(
    y: tuple[np.ndarray, np.ndarray], n: int, tests: int, alpha: float, rng: np.random.Generator
) -> dict[str, Any]:
    """Run the planned test ``tests`` times: each draws ``2 n`` customers at random from the
    pool (the first ``n`` in the policy's arm), and Welch's two-sided t-test says whether it
    found a difference; and as many A/A tests (both arms the comparison: no true effect).
    Returns the share of each that rejected at ``alpha``."""
    from scipy.stats import ttest_ind

    picks = np.stack([rng.choice(y[0].size, 2 * n, replace=False) for _ in range(tests)])
    first, second = picks[:, :n], picks[:, n:]
    real = ttest_ind(y[0][first], y[1][second], axis=1, equal_var=False).pvalue
    null = ttest_ind(y[1][first], y[1][second], axis=1, equal_var=False).pvalue
    return {
        "tests": tests,
        "pool": int(y[0].size),
        "power": float(np.mean(real < alpha)),
        "false_positive_rate": float(np.mean(null < alpha)),
    }


def validation_users(n: int, entrants: int, users: int) -> int:
    """Customers to simulate so that the pool holds ``POOL_PER_TEST`` tests of ``2 n``
    (refused beyond ``MAX_POOL_USERS``: the plan needs too many customers to try)."""
    need = math.ceil(POOL_PER_TEST * 2 * n * users / max(entrants, 1))
    if need > MAX_POOL_USERS:
        raise ValueError(
            f"plan.validate: a test of 2 x {n:,} customers needs a pool of {need:,} simulated "
            f"customers; allowed: plans of at most {MAX_POOL_USERS:,} (a larger effect, the "
            "reactivation metric, or plan.validate=0)"
        )
    return max(need, users)


def run_from_overrides(
    overrides: list[str], out: Path | None, trusted: tuple[str, ...] = ()
) -> dict[str, Any]:
    """``winback plan``: compose the benchmark config with ``overrides``, check the plan node
    and the agents it names (before any simulation), build them, plan and print."""
    from experiments.jobs.benchmark import build_agent

    cfg, bench, out = checked_plan(overrides, out, trusted)
    arms = tuple(
        None
        if name == NOTHING
        else build_agent(bench.agents[name], bench.scenario, bench.catalogue).fresh
        for name in (cfg.policy, cfg.against)
    )
    result = run(cfg, bench.scenario, bench.catalogue, arms, out)  # type: ignore[arg-type]
    result["policy"], result["against"] = cfg.policy, cfg.against
    write_json(out / "plan.json", result)
    print("\n".join(summary_lines(result)))
    print(f"\nplan: {(out / 'plan.json').resolve()}")
    return result


def checked_plan(
    overrides: list[str], out: Path | None, trusted: tuple[str, ...] = ()
) -> tuple[PlanConfig, Any, Path]:
    """Every check of ``winback plan`` before any work: the plan node, the benchmark config,
    the arms (selected agents, not references), the calendar and the output folder."""
    import time

    from experiments.config.agents import hidden_target
    from experiments.config.compose import compose
    from experiments.config.hydra_apps import benchmark_config
    from experiments.files import check_writable

    base = compose("benchmark", overrides)
    raw = base.get("plan")
    from omegaconf import OmegaConf

    cfg = plan_config(None if raw is None else OmegaConf.to_container(raw, resolve=True))  # type: ignore[arg-type]
    out = out or Path("outputs/plan") / time.strftime("%Y-%m-%d_%H-%M-%S")
    bench = benchmark_config(base, out, trusted, notes=False)
    names = list(bench.agents)
    for key, name in (("plan.policy", cfg.policy), ("plan.against", cfg.against)):
        if name not in names and not (key == "plan.against" and name == NOTHING):
            raise ValueError(f"{key}: {name!r}; allowed: {NOTHING}, {', '.join(names)}")
        if name in names and hidden_target(bench.agents[name]):
            runnable = [n for n in names if not hidden_target(bench.agents[n])]
            raise ValueError(
                f"{key}: {name!r} sees what no real policy can (a reference: hidden traits or a "
                f"look-ahead inside the simulation), so no live test can run it; allowed: "
                f"{', '.join(runnable)}"
            )
    Window.of(bench.scenario, cfg)  # the calendar fits, before any work
    check_writable(out, "--out")
    return cfg, bench, out


def summary_lines(p: dict[str, Any]) -> list[str]:
    """The plan in plain words."""
    unit = "per customer" if p["metric"] == "profit" else "points of the share back"
    scale = 1.0 if p["metric"] == "profit" else 100.0
    e = p["effect"]
    lines = [
        f"{p['policy']} against {p['against']}: {p['entrants']:,} of {p['simulated_customers']:,} "
        f"simulated customers entered the test ({p['entrants_at_start']:,} at its start, then "
        f"about {p['entrants_per_week']:,.0f} a week), each followed {p['follow_days']} days.",
        f"Effect on {p['metric']}: {scale * e['mean']:+,.3f} {unit} (simulation's 95% CI "
        f"{scale * e['ci_low']:+,.3f} to {scale * e['ci_high']:+,.3f}).",
    ]
    if p["per_arm"] is None:
        lines.append("No effect to detect: no test size.")
        return lines
    weeks = p["weeks_to_enrol"]
    low, high = p["per_arm_range"]
    spread = f" ({low:,} to {high:,} over the effect's interval)" if high else ""
    lines.append(
        f"To find it with {p['power']:.0%} power at alpha {p['alpha']}: {p['per_arm']:,} "
        f"customers per arm{spread}; "
        + _enrolment(weeks)
        + f", then {p['follow_days']} days of follow-up."
    )
    lines.append(
        f"With CUPED (profit over the days before entry as covariate, removing "
        f"{p['cuped_variance_removed']:.0%} of the variance): {p['per_arm_with_cuped']:,} per arm."
    )
    if p["holdout_cost"] is not None:
        per = p["profit_effect"]["mean"]
        lines.append(
            f"The comparison arm forgoes {per:+,.2f} profit per customer: "
            f"{p['holdout_cost']:+,.0f} over the test."
            if per >= 0
            else f"In this window the policy loses {-per:,.2f} profit per customer: the "
            f"comparison arm saves {-p['holdout_cost']:,.0f} over the test."
        )
    g = p["guardrails"]
    lines.append(
        f"Guardrails: opt-outs {g['unsubscribes_per_1000']['mean']:+,.1f} per 1,000 customers, "
        f"discount spend {g['discount_spend_per_customer']['mean']:+,.2f} per customer."
    )
    if "detectable_at_size" in p:
        d = p["detectable_at_size"]
        lines.append(f"At {d['size']:,} per arm the test finds {scale * d['effect']:,.3f} {unit}.")
    if "per_arm_for_mde" in p:
        m = p["per_arm_for_mde"]
        lines.append(
            f"To find {m['mde']} ({'per customer' if scale == 1 else 'of the share'}): "
            f"{m['per_arm']:,} per arm."
        )
    if "validation" in p:
        v = p["validation"]
        lines.append(
            f"Tried {v['tests']:,} times on fresh simulated customers: found the effect in "
            f"{v['power']:.1%} (planned {p['power']:.0%}; {v['power_at_its_effect']:.1%} at "
            f"those customers' own effect, {scale * v['effect']:+,.3f}); with no effect, a "
            f"false alarm in {v['false_positive_rate']:.1%} (alpha {p['alpha']:.0%})."
        )
    return lines


def run(
    cfg: PlanConfig,
    scenario: Scenario,
    catalogue: Catalogue,
    arms: tuple[Callable[[], Any] | None, Callable[[], Any] | None],
    out: Path,
) -> dict[str, Any]:
    """Plan the test, validate it if asked, write ``plan.json`` and ``outcomes.parquet``."""
    window = Window.of(scenario, cfg)
    outcomes = simulate_outcomes(scenario, catalogue, arms, window, cfg.seed)
    result = make_plan(outcomes, cfg, window, scenario.n_users)
    if cfg.validate:
        n = result["per_arm"]
        if n is None:
            raise ValueError("plan.validate: the simulated effect is 0; no test size to try")
        users = validation_users(n, outcomes.entered.size, scenario.n_users)
        pool = simulate_outcomes(
            replace(scenario, n_users=users), catalogue, arms, window, cfg.seed + 1
        )  # fresh customers: not those the plan was made from
        rng = np.random.default_rng(cfg.seed)
        y = pool.metric(cfg.metric)
        result["validation"] = replicate(y, n, cfg.validate, cfg.alpha, rng)
        pool_effect = paired(*y)["mean"]  # what the test met: the fresh customers' effect
        result["validation"]["effect"] = pool_effect
        result["validation"]["power_at_its_effect"] = power_at(
            n, pool_effect, pooled_sd(y), cfg.alpha
        )
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "plan.json", result)
    y = outcomes.metric(cfg.metric)
    table = pd.DataFrame(
        {"entered": outcomes.entered, "policy": y[0], "comparison": y[1], "pre": outcomes.pre}
    )
    write_table(table, out / "outcomes.parquet")
    return result
