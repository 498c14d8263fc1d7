"""Plausible worlds around a nominal scenario: the ensemble ``winback stress`` ranks policies in.

A world is the nominal ``Scenario`` and ``Catalogue`` with parts of the response model scaled
by drawn factors (``dataclasses.replace`` on the frozen dataclasses, so every world validates
itself like any scenario). Two sources of doubt:

* **response-model ranges** (:data:`RANGE_KEYS`): each a multiplicative factor drawn
  log-uniformly between ``low`` and ``high`` (``log=False``: uniformly). Log-uniform is the
  default because a factor of 2 and one of 1/2 are equally large errors: the draw is
  symmetric in ratio, and its median is the geometric mean of the bounds (1 for 0.5-2).
* **calibrated-parameter uncertainty** (:class:`ParameterDoubt`): a segment rate fitted by
  ``winback calibrate`` is redrawn from the asymptotic normal of its estimate on the log
  scale (how the fit parameterises rates), as a factor ``exp(sd * z)`` on the scenario's
  value, ``z`` standard normal.

What each range key scales:

===================  ===========================================================================
``lift``             every offer's ``lift``, one independent factor per offer (``lift.<offer>``)
``price_sensitivity`` ``dynamics.price_weight`` and ``price_level_weight`` (one factor): how hard
                     price and a price rise push the price-sensitive out
``deal_shock``       ``dynamics.deal_shock_prob`` (capped at 1)
``fatigue``          ``dynamics.fatigue_per_message``
``unsubscribe``      every channel's ``unsubscribe_prob`` (one factor; capped at 1)
``survey_accuracy``  ``dynamics.survey_accuracy`` (capped at 1)
``release_spacing``  the days between content releases: the slate keeps its order and appeal,
                     every gap scaled by the factor, repeated to the end of the horizon when
                     faster (more releases) and cut at the horizon when slower (fewer)
===================  ===========================================================================

All randomness comes from the ``rng`` passed in; the draws are made in a fixed order (per
world: ranges in :data:`RANGE_KEYS` order, offers in catalogue order, then calibrated
parameters in the given order), so a seed fixes the worlds. Nothing here imports Hydra.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from sim.offers import Catalogue
from sim.scenario import Release, Scenario, Segment

RANGE_KEYS = (
    "lift",
    "price_sensitivity",
    "deal_shock",
    "fatigue",
    "unsubscribe",
    "survey_accuracy",
    "release_spacing",
)
"""The response-model factors a world may scale (see the module docstring)."""
CALIBRATED_FIELDS = (
    "activity_rate",
    "lapse_rate",
    "cancel_rate",
    "return_rate",
    "dormant_cancel_rate",
    "comeback_rate",
)
"""Segment rates whose calibrated uncertainty a world may carry."""


@dataclass(frozen=True)
class Range:
    """A multiplicative factor's range: drawn log-uniformly (``log``) or uniformly in
    ``[low, high]``; ``low == high`` fixes it (1 and 1: the nominal value)."""

    low: float = 1.0
    high: float = 1.0
    log: bool = True

    def check(self, key: str) -> None:
        for end in ("low", "high"):
            value = getattr(self, end)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ValueError(f"{key}.{end}: {value!r}; allowed: a number > 0")
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"{key}.{end}: {value!r}; allowed: a finite factor > 0")
        if self.low > self.high:
            raise ValueError(f"{key}: low {self.low!r} > high {self.high!r}; allowed: low <= high")
        if not isinstance(self.log, bool):
            raise ValueError(f"{key}.log: {self.log!r}; allowed: true or false")

    @property
    def inert(self) -> bool:
        return self.low == 1.0 and self.high == 1.0

    def draw(self, rng: np.random.Generator) -> float:
        """One factor (a draw is made even when fixed, so other keys' draws do not move)."""
        u = float(rng.random())
        if self.low == self.high:
            return float(self.low)
        if self.log:
            return float(math.exp(math.log(self.low) + u * math.log(self.high / self.low)))
        return float(self.low + u * (self.high - self.low))


@dataclass(frozen=True)
class ParameterDoubt:
    """One calibrated segment rate and the standard deviation of its log estimate."""

    segment: str
    field: str
    sd_log: float

    @property
    def key(self) -> str:
        return f"calibrated.{self.segment}.{self.field}"


@dataclass(frozen=True)
class World:
    """One plausible world: its id, the scaled scenario and catalogue, and every factor
    (1.0 where a key was not scaled). World 0 is the nominal one when the ensemble keeps it."""

    id: int
    scenario: Scenario
    catalogue: Catalogue
    factors: Mapping[str, float] = field(default_factory=dict)
    nominal: bool = False


def check_ranges(ranges: Mapping[str, Range], where: str = "ranges") -> None:
    """Every key known and every range valid, before any work."""
    for key, value in ranges.items():
        if key not in RANGE_KEYS:
            raise ValueError(f"{where}.{key}: unknown key; allowed: {', '.join(RANGE_KEYS)}")
        if not isinstance(value, Range):
            raise ValueError(f"{where}.{key}: {value!r}; allowed: a range {{low, high, log}}")
        value.check(f"{where}.{key}")


def check_doubts(scenario: Scenario, doubts: Sequence[ParameterDoubt]) -> None:
    names = scenario.segment_names
    for d in doubts:
        if d.segment not in names:
            raise ValueError(
                f"{d.key}: segment {d.segment!r} is not in scenario {scenario.name!r}; "
                f"allowed: {', '.join(names)} (was the calibration run for this scenario?)"
            )
        if d.field not in CALIBRATED_FIELDS:
            raise ValueError(f"{d.key}: unknown rate; allowed: {', '.join(CALIBRATED_FIELDS)}")
        if not math.isfinite(d.sd_log) or d.sd_log < 0:
            raise ValueError(f"{d.key}.sd_log: {d.sd_log!r}; allowed: a finite number >= 0")


def factor_names(catalogue: Catalogue, doubts: Sequence[ParameterDoubt] = ()) -> list[str]:
    """Every factor a world carries, in draw order."""
    names = [k for k in RANGE_KEYS if k != "lift"]
    names[:0] = [f"lift.{o}" for o in catalogue.names]
    return names + [d.key for d in doubts]


def draw_factors(
    catalogue: Catalogue,
    ranges: Mapping[str, Range],
    rng: np.random.Generator,
    doubts: Sequence[ParameterDoubt] = (),
) -> dict[str, float]:
    """One world's factors; keys without a range are 1 (a draw is still made for each, so
    adding a range leaves the others' draws where they were)."""
    nominal = Range()
    out: dict[str, float] = {}
    for key in RANGE_KEYS:
        r = ranges.get(key, nominal)
        if key == "lift":
            for name in catalogue.names:
                out[f"lift.{name}"] = r.draw(rng)
        else:
            out[key] = r.draw(rng)
    z = rng.standard_normal(len(doubts))
    for d, zi in zip(doubts, z, strict=True):
        out[d.key] = float(math.exp(d.sd_log * zi))
    return out


def draw_worlds(
    scenario: Scenario,
    catalogue: Catalogue,
    ranges: Mapping[str, Range],
    n: int,
    rng: np.random.Generator,
    doubts: Sequence[ParameterDoubt] = (),
    nominal: bool = True,
) -> list[World]:
    """``n`` worlds: with ``nominal``, world 0 is the scenario as given (every factor 1) and
    worlds 1..n-1 are drawn; without, all ``n`` are drawn. World ``i``'s factors come from
    its own stream (``rng`` spawns one per world), so world ``i`` is the same whatever ``n``."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"worlds: {n!r}; allowed: an integer >= 1")
    check_ranges(ranges)
    check_doubts(scenario, doubts)
    streams = rng.spawn(n)
    worlds = []
    for i, stream in enumerate(streams):
        if nominal and i == 0:
            factors = dict.fromkeys(factor_names(catalogue, doubts), 1.0)
        else:
            factors = draw_factors(catalogue, ranges, stream, doubts)
        sc, cat = perturb(scenario, catalogue, factors, doubts)
        worlds.append(World(i, sc, cat, factors, nominal and i == 0))
    return worlds


# ------------------------------------------------------------------ applying factors
def perturb(
    scenario: Scenario,
    catalogue: Catalogue,
    factors: Mapping[str, float],
    doubts: Sequence[ParameterDoubt] = (),
) -> tuple[Scenario, Catalogue]:
    """The scenario and catalogue with ``factors`` applied (missing keys: 1). A factor of 1
    returns the field unchanged, so all-ones gives objects equal to the inputs."""

    def f(key: str) -> float:
        return float(factors.get(key, 1.0))

    offers = tuple(
        replace(o, lift=o.lift * f(f"lift.{o.name}")) if f(f"lift.{o.name}") != 1.0 else o
        for o in catalogue.offers
    )
    dyn = scenario.dynamics
    changes: dict[str, Any] = {}
    if f("price_sensitivity") != 1.0:
        changes["price_weight"] = dyn.price_weight * f("price_sensitivity")
        changes["price_level_weight"] = dyn.price_level_weight * f("price_sensitivity")
    for key, name in (
        ("deal_shock", "deal_shock_prob"),
        ("fatigue", "fatigue_per_message"),
        ("survey_accuracy", "survey_accuracy"),
    ):
        if f(key) != 1.0:
            value = getattr(dyn, name) * f(key)
            changes[name] = min(value, 1.0) if name != "fatigue_per_message" else value
    channels = scenario.channels
    if f("unsubscribe") != 1.0:
        channels = tuple(
            replace(c, unsubscribe_prob=min(1.0, c.unsubscribe_prob * f("unsubscribe")))
            for c in channels
        )
    segments = scenario.segments
    if doubts:
        segments = tuple(_scaled_segment(s, doubts, factors) for s in segments)
    releases = scenario.releases
    if f("release_spacing") != 1.0:
        releases = respaced(scenario.releases, f("release_spacing"), scenario.horizon_days)
    out = replace(
        scenario,
        dynamics=replace(dyn, **changes) if changes else dyn,
        channels=channels,
        segments=segments,
        releases=releases,
    )
    return out, Catalogue(offers) if offers != catalogue.offers else catalogue


def _scaled_segment(
    segment: Segment, doubts: Sequence[ParameterDoubt], factors: Mapping[str, float]
) -> Segment:
    changes = {
        d.field: getattr(segment, d.field) * float(factors.get(d.key, 1.0))
        for d in doubts
        if d.segment == segment.name and float(factors.get(d.key, 1.0)) != 1.0
    }
    return replace(segment, **changes) if changes else segment


def respaced(
    releases: tuple[Release, ...], factor: float, horizon_days: int
) -> tuple[Release, ...]:
    """The release slate with every gap scaled by ``factor`` from the first release on; the
    slate repeats (its cycle scaled too) to fill the horizon when faster, and is cut at the
    horizon when slower. Days are rounded; releases landing on one day all stay."""
    if len(releases) < 2:
        return releases
    ordered = sorted(releases, key=lambda r: r.day)
    first = ordered[0].day
    offsets = [r.day - first for r in ordered]
    gaps = np.diff([r.day for r in ordered])
    cycle = offsets[-1] + float(np.mean(gaps))  # the slate's length plus one typical gap
    out = []
    k = 0
    while True:
        start = first + k * cycle * factor
        if start >= horizon_days:
            break
        for r, off in zip(ordered, offsets, strict=True):
            day = round(start + off * factor)
            if day < horizon_days:
                out.append(replace(r, day=day))
        k += 1
    return tuple(out)
