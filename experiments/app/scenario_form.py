"""The scenario knobs a strategist knows, as form fields, and the scenario they make.

Rules: every field is read from what the page holds (text for prices: a strategist types
"17.99", and "$17.99" or "17,99" gets a message, not a guess) and checked on its own, so
every bad field shows its message beside it at once, in the CLI's words (key, value, what is
allowed); the scenario is built only when every field is good, and then checked as the CLI
checks it (``sim.Scenario``). Fields left as they came from the base scenario change
nothing: building from the untouched form gives the base scenario back. The ranges below
are the app's (the CLI allows more: up to 50,000,000 users and 3,650 days).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from typing import Any

from sim.presets import release_slate
from sim.scenario import PriceChange, Scenario

USERS = (1_000, 1_000_000)
DAYS = (28, 1_095)
EVERY = (0, 182)  # days between releases; 0: none
QUICK = {"users": 10_000, "days": 182}  # the quick comparison's population and horizon


@dataclass(frozen=True, kw_only=True)
class Field:
    """One knob: its key (as the CLI names it), label, help and range in words."""

    key: str
    label: str
    help: str


FIELDS = {
    "users": Field(
        key="scenario.users",
        label="Customers simulated",
        help=f"{USERS[0]:,} to {USERS[1]:,}; more customers, narrower intervals, slower runs",
    ),
    "days": Field(
        key="scenario.days",
        label="Horizon (days)",
        help=f"{DAYS[0]} to {DAYS[1]:,} days, at least one decision week",
    ),
    "price": Field(
        key="plans.<plan>.monthly_price",
        label="Monthly price",
        help="a number >= 0, e.g. 17.99 (transactional scenarios have one plan at 0)",
    ),
    "price_change": Field(
        key="price_changes",
        label="Scheduled price changes",
        help="day (0 to the horizon's last day), plan, new monthly price >= 0",
    ),
    "release_every": Field(
        key="releases",
        label="A new title every ... days",
        help=f"{EVERY[0]} to {EVERY[1]} days; 0: no releases; blank: keep the scenario's slate",
    ),
    "segment_share": Field(
        key="segments.<segment>.weight",
        label="Share of customers (%)",
        help="each > 0; shares are rescaled to 100%",
    ),
}


@dataclass(frozen=True, kw_only=True)
class Form:
    """What the page holds: numbers and text as typed."""

    users: Any
    days: Any
    prices: dict[str, Any]  # plan -> typed monthly price
    price_changes: list[dict[str, Any]]  # rows {day, plan, monthly_price}
    release_every: Any  # None / "": keep the base's slate
    shares: dict[str, Any]  # segment -> typed share (%)


def form_of(scenario: Scenario, quick: bool = True) -> Form:
    """The form for ``scenario`` (``quick``: at the quick comparison's population and
    horizon)."""
    total = sum(s.weight for s in scenario.segments)
    return Form(
        users=QUICK["users"] if quick else scenario.n_users,
        days=QUICK["days"] if quick else scenario.horizon_days,
        prices={p.name: f"{p.monthly_price:g}" for p in scenario.plans},
        price_changes=[
            {"day": c.day, "plan": c.plan, "monthly_price": c.monthly_price}
            for c in scenario.price_changes
        ],
        release_every=None,
        shares={s.name: round(100 * s.weight / total, 2) for s in scenario.segments},
    )


def number(key: str, value: Any, allowed: str) -> float:
    """A typed number (text or number) or ValueError naming ``key``."""
    blank = value is None or (isinstance(value, str) and not value.strip())
    if blank or (isinstance(value, float) and math.isnan(value)):  # a cleared cell: NaN
        raise ValueError(f"{key}: empty; allowed: {allowed}")
    if isinstance(value, bool):
        raise ValueError(f"{key}: {value!r} is not a number; allowed: {allowed}")
    try:
        out = float(value.strip()) if isinstance(value, str) else float(value)
    except ValueError:
        raise ValueError(f"{key}: {value!r} is not a number; allowed: {allowed}") from None
    if not math.isfinite(out):
        raise ValueError(f"{key}: {value!r} is not a finite number; allowed: {allowed}")
    return out


def whole(key: str, value: Any, low: int, high: int) -> int:
    allowed = f"a whole number from {low:,} to {high:,}"
    out = number(key, value, allowed)
    if out != int(out) or not low <= out <= high:
        raise ValueError(f"{key}: {value!r} is not allowed; allowed: {allowed}")
    return int(out)


def build(base: Scenario, form: Form) -> tuple[Scenario | None, dict[str, str]]:
    """The scenario the form describes, or None and the problems (field id -> message:
    ``users``, ``days``, ``price.<plan>``, ``price_changes``, ``release_every``,
    ``share.<segment>``, ``scenario`` for a cross-field rule)."""
    problems: dict[str, str] = {}

    def field(name: str, read: Any) -> Any:
        try:
            return read()
        except ValueError as err:
            problems[name] = str(err)
            return None

    users = field("users", lambda: whole("scenario.users", form.users, *USERS))
    days = field("days", lambda: whole("scenario.days", form.days, *DAYS))
    prices = {
        plan: field(
            f"price.{plan}",
            lambda p=plan, v=typed: _price(f"plans.{p}.monthly_price", v),
        )
        for plan, typed in form.prices.items()
    }
    changes = field("price_changes", lambda: _changes(form.price_changes, base, days))
    every = field("release_every", lambda: _every(form.release_every))
    shares = {
        seg: field(f"share.{seg}", lambda s=seg, v=typed: _share(s, v))
        for seg, typed in form.shares.items()
    }
    if problems:
        return None, problems
    try:
        return _scenario(base, users, days, prices, changes, every, shares), {}
    except ValueError as err:
        return None, {"scenario": str(err)}


def _price(key: str, value: Any) -> float:
    out = number(key, value, "a number >= 0, e.g. 17.99")
    if out < 0:
        raise ValueError(f"{key}: {value!r} is negative; allowed: a number >= 0, e.g. 17.99")
    return out


def _changes(
    rows: list[dict[str, Any]], base: Scenario, days: int | None
) -> tuple[PriceChange, ...]:
    out = []
    last = (days or base.horizon_days) - 1
    for i, row in enumerate(r for r in rows if any(v not in (None, "") for v in r.values())):
        key = f"price_changes[{i}]"
        day = whole(f"{key}.day", row.get("day"), 0, last)
        plan = row.get("plan")
        if plan not in base.plan_names:
            raise ValueError(f"{key}.plan: {plan!r}; allowed: {', '.join(base.plan_names)}")
        out.append(
            PriceChange(
                day=day,
                plan=plan,
                monthly_price=_price(f"{key}.monthly_price", row.get("monthly_price")),
            )
        )
    return tuple(sorted(out, key=lambda c: c.day))


def _every(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return whole("releases (every)", value, *EVERY)


def _share(segment: str, value: Any) -> float:
    key = f"segments.{segment}.weight"
    out = number(key, value, "a share in % above 0")
    if out <= 0:
        raise ValueError(f"{key}: {value!r}; allowed: a share in % above 0")
    return out


def _scenario(
    base: Scenario,
    users: int,
    days: int,
    prices: dict[str, float],
    changes: tuple[PriceChange, ...],
    every: int | None,
    shares: dict[str, float],
) -> Scenario:
    plans = tuple(replace(p, monthly_price=prices.get(p.name, p.monthly_price)) for p in base.plans)
    total = sum(s.weight for s in base.segments)
    unchanged = all(
        math.isclose(shares.get(s.name, 0.0), round(100 * s.weight / total, 2), abs_tol=1e-9)
        for s in base.segments
    )
    segments = (
        base.segments
        if unchanged
        else tuple(
            replace(s, weight=shares.get(s.name, 100 * s.weight / total)) for s in base.segments
        )
    )
    if every is None:  # the base's slate, cut to the horizon
        releases = tuple(r for r in base.releases if r.day < days)
    else:
        releases = release_slate(base.genres, days, every) if every else ()
    return replace(
        base,
        n_users=users,
        horizon_days=days,
        plans=plans,
        price_changes=changes,
        releases=releases,
        segments=segments,
    )


def cadence(scenario: Scenario) -> str:
    """The scenario's release slate in words."""
    days = sorted({r.day for r in scenario.releases})
    if not days:
        return "no releases"
    if len(days) == 1:
        return f"one release, on day {days[0]}"
    gaps = sorted(b - a for a, b in itertools.pairwise(days))
    return f"a new title about every {gaps[len(gaps) // 2]} days"
