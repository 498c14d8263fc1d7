"""An offer's effect in business terms (extra returns within 28 days per 1,000 sent it), paired
on the same simulated customers with and without it, and the lift that gives a wanted
effect."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from experiments.evidence import offer_effect
from experiments.evidence.offer_effect import Effect, effects, lift_for
from sim import presets
from sim.calibration.campaigns import BACK, campaign_draws
from sim.calibration.eventlog import SIMULATED, validate_events
from sim.observe import ACTIVE_SEEN, observed_status
from sim.offers import Catalogue, Offer
from sim.records import event_log
from sim.scenario import Scenario
from sim.simulation import Simulation


def quick(n_users: int = 2_000, **dynamics: Any) -> Scenario:
    """Streaming, one day past the window (the quick horizon), a short warm-up."""
    base = presets.streaming(n_users=n_users, horizon_days=offer_effect.DAYS)
    return replace(base, warmup_days=28, dynamics=replace(base.dynamics, **dynamics))


def with_lift(catalogue: Catalogue, offer: str, lift: float) -> Catalogue:
    return replace(
        catalogue,
        offers=tuple(replace(o, lift=lift) if o.name == offer else o for o in catalogue.offers),
    )


def test_the_same_seed_gives_the_same_effects_and_every_offer_its_own_audience() -> None:
    """One seed in, identical effects out; another seed, other customers. Each offer is
    measured on the lapsed customers who can be sent it: the SMS discount on fewer than the
    email one (fewer are reachable by SMS); the reminder says its lift does nothing. Named
    offers come back in the order asked, each with the figure it has among all the offers
    (an offer's figure depends on no other offer)."""
    scenario, catalogue = quick(), presets.streaming_offers()
    first = effects(scenario, catalogue, users=2_000, seed=4)
    assert first == effects(scenario, catalogue, users=2_000, seed=4)
    assert [e.offer for e in first] == catalogue.names
    assert first != effects(scenario, catalogue, users=2_000, seed=5)
    by = {e.offer: e for e in first}
    for e in first:
        assert e.reached > 0 and e.low <= e.per_1000 <= e.high, e
        assert e.lift == catalogue.offers[catalogue.index(e.offer)].lift
    assert by["discount_50_sms"].reached < by["discount_30"].reached / 1.5
    assert not by["reminder_email"].moves_with_lift
    assert all(e.moves_with_lift for e in first if e.offer != "reminder_email")
    named = effects(scenario, catalogue, ["support_call", "discount_50_sms"], users=2_000, seed=4)
    assert named == [by["support_call"], by["discount_50_sms"]]


def test_a_higher_lift_gives_a_larger_effect_on_the_same_customers() -> None:
    """Metamorphic: the same customers (one seed), a discount's lift raised step by step
    from 0.01 to 8: its effect rises at every step, below lift 0.3 too (no longer flat
    there), and the intervals are a few per 1,000 wide (paired: 20,000 users)."""
    scenario, catalogue, lifts = quick(20_000), presets.streaming_offers(), (0.01, 0.1, 0.3, 2, 8)
    seen = [
        effects(scenario, with_lift(catalogue, "discount_30", lift), ["discount_30"], users=20_000)[
            0
        ]
        for lift in lifts
    ]
    assert [e.lift for e in seen] == list(lifts)
    assert all(a.per_1000 < b.per_1000 for a, b in itertools.pairwise(seen)), seen
    assert seen[-1].per_1000 > seen[0].per_1000 + 20
    assert len({e.reached for e in seen}) == 1  # the same customers sent it
    assert all(e.high - e.low < 12 for e in seen), seen


def test_an_offer_at_lift_zero_without_the_message_nudge_has_no_effect() -> None:
    """With dynamics.nudge_lift 0 an opened message does nothing by itself; at lift 0 a
    free trial then does nothing to whether a cancelled customer comes back (the free days
    only change what they pay), so its interval covers 0 (paired, every customer's
    difference is 0 here). A discount also acts through the price while it runs (a cheaper
    price pulls back the price-sensitive, whatever the lift): without the price response
    too (dynamics.price_weight 0) its interval covers 0."""
    catalogue = with_lift(
        with_lift(presets.streaming_offers(), "free_trial_30", 0.0), "discount_30", 0.0
    )
    for scenario, offer in (
        (quick(20_000, nudge_lift=0.0), "free_trial_30"),
        (quick(20_000, nudge_lift=0.0, price_weight=0.0), "discount_30"),
    ):
        (e,) = effects(scenario, catalogue, [offer], users=20_000)
        assert e.reached > 2_000 and e.lift == 0.0
        assert e.low <= 0.0 <= e.high, e
        assert e.high - e.low < 5, e


def test_the_paired_effect_is_the_two_runs_per_customer_outcomes_by_hand() -> None:
    """By hand on 1,000 customers: the run to day 0, the customers then seen lapsed copied
    and carried on twice with the copies' seed, once with nothing sent and once with the
    discount sent to those the mask allows; each run's event log read as a logged campaign
    is (campaign_draws: the control's customers as a holdout, the treated as sent), per
    customer came back with minus without: its mean x 1,000 and its t interval are the
    effect's. The customers the offer was not sent to have the same comebacks in both runs."""
    scenario, catalogue, seed, offer = quick(1_000), presets.streaming_offers(), 3, "discount_30"
    sim = Simulation(scenario, catalogue, seed=seed)
    sim.run_until(0)
    lapsed = np.flatnonzero(observed_status(sim.pop, slice(None), 0, scenario) != ACTIVE_SEEN)
    k = catalogue.index(offer)
    who = np.flatnonzero(sim.mask(lapsed)[:, 1 + k])
    copies_seed = sim.streams.lookahead_seed(0)
    control = sim.fork(copies_seed, lapsed, record=True)
    treated = sim.fork(copies_seed, lapsed, record=True)
    delivery = treated.offer(who, np.full(who.size, k))
    sent = delivery.users[delivery.sent]
    assert sent.size > 100
    back: dict[str, np.ndarray] = {}
    others: dict[str, pd.DataFrame] = {}  # the BACK rows of those not sent it
    for arm, run in (("holdout", control), ("treatment", treated)):
        run.run_until(offer_effect.WINDOW + 1)
        drawn = pd.DataFrame(
            {
                "user": sent,
                "day": 0.0,
                "offer": offer if arm == "treatment" else "",
                "arm": arm,
                "propensity": 1.0,
                "campaign": "paired",
            }
        )
        log = validate_events(event_log(run, assignments=drawn), "hand", limits=SIMULATED)
        draws = campaign_draws(log, offer_effect.WINDOW).set_index("user_id")
        back[arm] = draws.back.reindex([str(u) for u in sent]).to_numpy(dtype=float)
        rows = log.events[log.events.event_type.isin(BACK)]
        rows = rows[~rows.user_id.isin([str(u) for u in sent])][["user_id", "day", "event_type"]]
        others[arm] = rows.astype(str).reset_index(drop=True)
    diff = back["treatment"] - back["holdout"]
    half = stats.t.ppf(0.975, diff.size - 1) * diff.std(ddof=1) / math.sqrt(diff.size)
    (got,) = effects(scenario, catalogue, [offer], users=1_000, seed=seed)
    assert got.reached == sent.size
    assert got.per_1000 == pytest.approx(1000 * diff.mean(), abs=1e-9)
    assert (got.low, got.high) == pytest.approx(
        (1000 * (diff.mean() - half), 1000 * (diff.mean() + half))
    )
    assert got.per_1000 != 0.0  # the offer changes someone's return
    assert len(others["holdout"]) > 10
    pd.testing.assert_frame_equal(others["holdout"], others["treatment"])


def test_lift_for_round_trip() -> None:
    """The SMS discount's effect at lift 3, asked for: the effect at the lift found is the
    one asked for (the same customers, the same step), the lift found is within -5% to
    +0.75% of 3 (the effect moves in steps: the bisection, whose last bracket is 0.75% wide,
    may end in the step's lowest lifts; here 2.99), and effects() on the catalogue with the
    lift found gives the same figure."""
    scenario, catalogue, offer = quick(20_000), presets.streaming_offers(), "discount_50_sms"
    at_3 = effects(scenario, with_lift(catalogue, offer, 3.0), [offer], users=20_000)[0]
    found = lift_for(scenario, catalogue, offer, at_3.per_1000, users=20_000)
    assert isinstance(found, Effect) and found.offer == offer and found.moves_with_lift
    assert found.per_1000 == pytest.approx(at_3.per_1000, abs=1e-9)
    assert 0.95 <= found.lift / 3.0 <= 1.0076, found.lift
    again = effects(scenario, with_lift(catalogue, offer, found.lift), users=20_000)
    assert {e.offer: e for e in again}[offer] == found


def test_a_reminder_reports_that_its_lift_does_nothing_and_cannot_be_set_by_effect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A reminder acts through the message (dynamics.nudge_lift), not its lift: lift_for
    refuses it before simulating anything."""
    _no_simulation(monkeypatch)
    with pytest.raises(ValueError, match=r"offers\.reminder_email\.effect: 10;.*nudge_lift"):
        lift_for(quick(), presets.streaming_offers(), "reminder_email", 10.0)


def test_an_effect_out_of_reach_of_the_lift_range_is_refused_naming_the_range() -> None:
    """No lift in the search box gives 900 extra returns per 1,000 sent (most never open
    the message): refused, with the effects at the box's ends."""
    reach = r"offers\.support_call\.effect: 900 per 1,000 is out of reach; allowed: -?\d+\.\d to "
    with pytest.raises(ValueError, match=reach + r"\d+\.\d \(the effects at lifts 0\.01 and 20"):
        lift_for(quick(1_000), presets.streaming_offers(), "support_call", 900.0, users=1_000)


def test_an_offer_no_lapsed_customer_may_get_is_unmeasured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An offer for active customers only: sent to no one (nan, nobody sent it), the others
    are measured; lift_for refuses it before simulating."""
    catalogue = presets.streaming_offers()
    upsell = Offer("upsell", "discount", "email", discount=0.1, eligible=("active",))
    catalogue = replace(catalogue, offers=(*catalogue.offers, upsell))
    got = effects(quick(1_000), catalogue, ["upsell", "discount_30"], users=1_000)
    assert got[0].reached == 0 and math.isnan(got[0].per_1000) and got[1].reached > 0
    _no_simulation(monkeypatch)
    with pytest.raises(ValueError, match=r"offers\.upsell\.effect: 5; 'upsell' is for active"):
        lift_for(quick(1_000), catalogue, "upsell", 5.0, users=1_000)


def test_an_offer_no_one_can_be_reached_for_is_unmeasured() -> None:
    """No customer reachable by SMS: the SMS offers are sent to no one (nan, nobody sent
    it), the email offers are measured; lift_for refuses an SMS offer, after simulating."""
    base = quick(1_000)
    scenario = replace(
        base, segments=tuple(replace(s, reach={**s.reach, "sms": 0.0}) for s in base.segments)
    )
    catalogue = presets.streaming_offers()
    got = effects(scenario, catalogue, ["discount_50_sms", "discount_30"], users=1_000)
    assert got[0].reached == 0 and math.isnan(got[0].per_1000) and got[1].reached > 0
    with pytest.raises(ValueError, match=r"no customer seen lapsed could be sent 'discount_50"):
        lift_for(scenario, catalogue, "discount_50_sms", 5.0, users=1_000)


def _fake_effect(monkeypatch: pytest.MonkeyPatch, per_1000: Callable[[float], float]) -> None:
    """The runs replaced: an offer's effect is ``per_1000(lift)``, +-10, 500 reached."""

    def measure(start, control, name, window):  # type: ignore[no-untyped-def]
        offer = start.offers[start.index(name)]  # start: the catalogue (below)
        effect = per_1000(offer.lift)
        return Effect(
            offer=name,
            lift=offer.lift,
            per_1000=effect,
            low=effect - 10,
            high=effect + 10,
            reached=500,
            moves_with_lift=True,
        )

    monkeypatch.setattr(offer_effect, "_day_zero", lambda s, catalogue, seed: catalogue)
    monkeypatch.setattr(offer_effect, "_control", lambda start, window: None)
    monkeypatch.setattr(offer_effect, "_measure", measure)


def test_lift_for_finds_a_smooth_effects_lift_and_refuses_a_flat_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stand-in effect of 100 + 20 log(lift) per 1,000: 130 is met at lift e^1.5 (within
    the bisection's last bracket, 0.75%); an effect that ignores the lift is refused, naming
    the effects at the range's ends."""
    _fake_effect(monkeypatch, lambda lift: 100.0 + 20.0 * math.log(lift))
    found = lift_for(quick(), presets.streaming_offers(), "support_call", 130.0)
    assert found.lift == pytest.approx(math.exp(1.5), rel=0.0075)
    assert found.per_1000 == pytest.approx(130.0, abs=0.2) and found.reached == 500
    _fake_effect(monkeypatch, lambda lift: 30.0)
    with pytest.raises(ValueError, match=r"support_call\.effect: 30; 'support_call'.s effect "
                       r"does not move with its lift in this scenario \(30\.0 per 1,000 at lift "
                       r"0\.01 and 30\.0 at 20\)"):  # fmt: skip
        lift_for(quick(), presets.streaming_offers(), "support_call", 30.0)


def _no_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("simulated before validating")

    monkeypatch.setattr(offer_effect, "Simulation", refuse)


EFFECT = r"^offers\.discount_30\.effect: "


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda s, c: effects(s, c, ["nope"]),
            r"^offer: 'nope' is unknown; allowed: reminder_email, discount_30, ",
        ),
        (lambda s, c: lift_for(s, c, "nope", 5.0), r"^offer: 'nope' is unknown; allowed: "),
        (lambda s, c: effects(s, c, "discount_30"), r"^offers: 'discount_30'; allowed: a list"),
        (lambda s, c: effects(s, c, []), r"^offers: \[\]; allowed: one or more of "),
        (lambda s, c: effects(s, c, ["discount_30"] * 2), r"^offers: .*; allowed: distinct"),
        (lambda s, c: effects(s, c, users=999), r"^users: 999; allowed: an integer from 1,000"),
        (lambda s, c: lift_for(s, c, "discount_30", 5.0, users=999), r"^users: 999; allowed"),
        (
            lambda s, c: effects(s, c, users=2_000.0),  # type: ignore[arg-type]
            r"^users: 2000\.0; allowed: an integer",
        ),
        (lambda s, c: effects(s, c, users=True), r"^users: True; allowed: an integer"),
        (lambda s, c: effects(s, c, window=0), r"^window: 0; allowed: an integer .* 1 to 365"),
        (lambda s, c: effects(s, c, window=366), r"^window: 366; allowed: an integer"),
        (lambda s, c: lift_for(s, c, "discount_30", 5.0, window=0), r"^window: 0; allowed"),
        (
            lambda s, c: effects(s, c, window=29),
            r"^window: 29; allowed: fewer days than the scenario's horizon \(29\)",
        ),
        (lambda s, c: effects(s, c, seed=-1), r"^seed: -1 is not allowed"),
        (lambda s, c: lift_for(s, c, "discount_30", 5.0, seed=-1), r"^seed: -1 is not allowed"),
        (lambda s, c: lift_for(s, c, "discount_30", math.nan), EFFECT + "nan; allowed: a finite"),
        (lambda s, c: lift_for(s, c, "discount_30", -math.inf), EFFECT + "-inf; allowed: a fin"),
        (lambda s, c: lift_for(s, c, "discount_30", 1001.0), EFFECT + r"1001\.0; .* -1000 to 1000"),
        (
            lambda s, c: lift_for(s, c, "discount_30", "10"),  # type: ignore[arg-type]
            EFFECT + "'10'; allowed: a number",
        ),
        (lambda s, c: lift_for(s, c, "discount_30", True), EFFECT + "True; allowed: a number"),
    ],
)
def test_bad_input_is_refused_by_name_before_any_simulation(
    monkeypatch: pytest.MonkeyPatch, call: Callable[[Scenario, Catalogue], object], message: str
) -> None:
    _no_simulation(monkeypatch)
    with pytest.raises(ValueError, match=message):
        call(quick(), presets.streaming_offers())
